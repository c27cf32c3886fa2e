/* A request head as raw bytes: where it ends, and the checks the gate
 * makes before libmicrohttpd reads it (see gate.h). */
#ifndef EXPORTD_HEAD_H
#define EXPORTD_HEAD_H

#include <stdbool.h>
#include <stddef.h>

/* Where the head in p (n bytes) ends, just past its empty line (CRLF or
 * bare LF lines); 0 if it has not all arrived. */
size_t	head_end(const char *p, size_t n);
/* A header name or a method (n bytes): RFC 9110 token characters only,
 * at least one. */
bool	head_name_ok(const char *, size_t n);
/* Could p (n bytes so far) begin a request: empty lines, then a method of
 * token characters (so far)? False for a TLS hello or other binary. */
bool	head_start_ok(const char *p, size_t n);
/* Check a complete head, p[0..end), and what follows it up to n: no
 * folded header line, every Content-Length 1 to 18 decimal digits and
 * all the same, a first chunk no larger than LIMIT_BODY_MAX. 0 if fine,
 * else the status to answer (400 or 413) with a message in msg. */
int	head_check(const char *p, size_t end, size_t n, char *msg,
	    size_t msgsz);

/* The four forms of a request target (RFC 9112 section 3.2). */
enum head_target {
	TARGET_ORIGIN,		/* /v1/exports?limit=1 */
	TARGET_ABSOLUTE,	/* http(s)://authority/v1/exports, via a proxy */
	TARGET_AUTHORITY,	/* host:port, for CONNECT */
	TARGET_ASTERISK,	/* *, for OPTIONS */
	TARGET_BAD,
};

/* Classify the target t as received. For TARGET_ABSOLUTE, *prefix is the
 * length of its "scheme://authority" (the path and query follow it),
 * *auth where the authority begins and *https whether the scheme is
 * https; the scheme is http or https, and the authority a host (a name,
 * IPv4, or bracketed IPv6) with an optional port, no userinfo. For
 * TARGET_BAD, msg says why. */
enum head_target head_target(const char *t, size_t *prefix, size_t *auth,
	    bool *https, char *msg, size_t msgsz);

#endif
