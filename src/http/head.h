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

#endif
