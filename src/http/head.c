/* Checks of a request head as it arrives on the socket, before
 * libmicrohttpd parses it: pure functions over bytes, for the gate. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "http/head.h"
#include "util/limits.h"

/* Where the head ends (just past its empty line), or 0 if it has not
 * all arrived. */
size_t
head_end(const char *p, size_t n)
{
	size_t	i;

	for (i = 0; i + 1 < n; i++) {
		if (p[i] != '\n')
			continue;
		if (p[i + 1] == '\n')
			return i + 2;
		if (p[i + 1] == '\r' && i + 2 < n && p[i + 2] == '\n')
			return i + 3;
	}
	return 0;
}

bool
head_start_ok(const char *p, size_t n)
{
	size_t	i = 0, m;

	while (i < n && (p[i] == '\r' || p[i] == '\n'))
		i++;
	for (m = i; m < n && p[m] != ' '; m++)
		;
	if (m == n)	/* the method is still arriving */
		return m == i || head_name_ok(p + i, m - i);
	return head_name_ok(p + i, m - i);
}

/* Check a Content-Length value (trimmed): digits only, no more than 18. */
static int
content_length_check(const char *v, size_t n, char *msg, size_t msgsz)
{
	size_t	i;

	if (n == 0 || strspn(v, "0123456789") < n) {
		snprintf(msg, msgsz, "Content-Length must be a decimal number "
		    "of bytes");
		return 400;
	}
	for (i = 0; i + 1 < n && v[i] == '0'; i++)
		;
	if (n - i > 18) {
		snprintf(msg, msgsz, "The request body is larger than this "
		    "server accepts");
		return 413;
	}
	return 0;
}

/* The first chunk's size line, if it came with the head: a size past
 * what libmicrohttpd reads as absurd (16 hex digits) would leave the
 * request waiting for bytes that never come. 413 past any body this
 * server takes, else 0. */
static int
chunk_check(const char *p, size_t n, char *msg, size_t msgsz)
{
	size_t	 i;
	uint64_t size = 0;

	for (i = 0; i < n && i < 32 && strchr("0123456789abcdefABCDEF",
	    p[i]) != NULL && p[i] != '\0'; i++) {
		if (size > (uint64_t)LIMIT_BODY_MAX)
			break;
		size = size * 16 + (uint64_t)(p[i] <= '9' ? p[i] - '0' :
		    (p[i] | 0x20) - 'a' + 10);
	}
	if (size <= (uint64_t)LIMIT_BODY_MAX)
		return 0;
	snprintf(msg, msgsz, "A chunk of the body is larger than any body "
	    "this server accepts (%d bytes)", LIMIT_BODY_MAX);
	return 413;
}

bool
head_name_ok(const char *s, size_t n)
{
	static const char	tchar[] = "!#$%&'*+-.^_`|~0123456789"
	    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
	size_t			i;

	for (i = 0; i < n; i++)
		if (s[i] == '\0' || strchr(tchar, s[i]) == NULL)
			return false;
	return n > 0;
}

int
head_check(const char *p, size_t end, size_t n, char *msg, size_t msgsz)
{
	const char	*line, *eol, *colon, *v, *cl = NULL;
	size_t		 vlen, cllen = 0, name;
	int		 status;
	bool		 chunked = false;

	line = (const char *)memchr(p, '\n', end) + 1;
	for (; line < p + end; line = eol + 1) {
		eol = memchr(line, '\n', (size_t)(p + end - line));
		if (eol == line || (eol == line + 1 && *line == '\r'))
			break;
		colon = memchr(line, ':', (size_t)(eol - line));
		name = colon != NULL ? (size_t)(colon - line) : 0;
		if (!head_name_ok(line, name)) {
			snprintf(msg, msgsz, "A header line is not \"Name: "
			    "value\" (folded lines and spaces before ':' are "
			    "not accepted)");
			return 400;
		}
		for (v = colon + 1; v < eol && (*v == ' ' || *v == '\t'); v++)
			;
		for (vlen = (size_t)(eol - v); vlen > 0 && (v[vlen - 1] ==
		    '\r' || v[vlen - 1] == ' ' || v[vlen - 1] == '\t'); vlen--)
			;
		if (name == 17 && strncasecmp(line, "Transfer-Encoding", 17) ==
		    0 && memmem(v, vlen, "chunked", 7) != NULL)
			chunked = true;
		if (name != 14 || strncasecmp(line, "Content-Length", 14) != 0)
			continue;
		if ((status = content_length_check(v, vlen, msg, msgsz)) != 0)
			return status;
		if (cl != NULL && (vlen != cllen || memcmp(v, cl, vlen) != 0)) {
			snprintf(msg, msgsz, "Content-Length is given twice "
			    "with different values");
			return 400;
		}
		cl = v;
		cllen = vlen;
	}
	return chunked ? chunk_check(p + end, n - end, msg, msgsz) : 0;
}

/* A host and an optional port: a name or IPv4 address, or a bracketed
 * IPv6 address; no userinfo, no percent-encoding. The port, when the
 * ':' is there, is 1 to 5 digits, at most 65535. n bytes of a. */
static bool
authority_ok(const char *a, size_t n, bool need_port)
{
	static const char	name[] = "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_~";
	const char		*end = a + n, *p;
	unsigned long		 port = 0;

	if (n == 0 || n > LIMIT_AUTHORITY)
		return false;
	if (*a == '[') {
		for (p = a + 1; p < end && *p != '\0' &&
		    strchr("0123456789abcdefABCDEF:.", *p) != NULL; p++)
			;
		if (p == a + 1 || p == end || *p != ']')
			return false;
		p++;
	} else {
		for (p = a; p < end && *p != '\0' && strchr(name, *p) != NULL;
		    p++)
			;
		if (p == a)
			return false;
	}
	if (p == end)
		return !need_port;
	if (*p++ != ':' || p == end || end - p > 5)
		return false;
	for (; p < end; p++) {
		if (*p < '0' || *p > '9')
			return false;
		port = port * 10 + (unsigned long)(*p - '0');
	}
	return port <= 65535;
}

enum head_target
head_target(const char *t, size_t *prefix, size_t *auth, bool *https,
    char *msg, size_t msgsz)
{
	size_t	s, a, n;

	*prefix = *auth = 0;
	*https = false;
	if (t[0] == '/')
		return TARGET_ORIGIN;
	if (strcmp(t, "*") == 0)
		return TARGET_ASTERISK;
	s = strspn(t, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789+-.");
	if (s > 0 && strncmp(t + s, "://", 3) == 0) {
		if (!(s == 4 && strncasecmp(t, "http", 4) == 0) &&
		    !(s == 5 && strncasecmp(t, "https", 5) == 0)) {
			snprintf(msg, msgsz, "The request target's scheme must "
			    "be http or https");
			return TARGET_BAD;
		}
		a = s + 3;
		n = strcspn(t + a, "/?#");
		if (memchr(t + a, '@', n) != NULL) {
			snprintf(msg, msgsz, "The request target may not hold "
			    "a user name or password (user@host)");
			return TARGET_BAD;
		}
		if (!authority_ok(t + a, n, false)) {
			snprintf(msg, msgsz, "The request target's host is %s",
			    n == 0 ? "empty" : "not a host name or address "
			    "with an optional port");
			return TARGET_BAD;
		}
		*prefix = a + n;
		*auth = a;
		*https = s == 5;
		return TARGET_ABSOLUTE;
	}
	if (authority_ok(t, strlen(t), true))
		return TARGET_AUTHORITY;
	snprintf(msg, msgsz, "The request target must be a path (/v1/...) or "
	    "an absolute http or https URL");
	return TARGET_BAD;
}
