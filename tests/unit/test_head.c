/* Unit tests for http/head: where a raw request head ends, and the
 * checks the gate makes before libmicrohttpd reads it. */

#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include "http/head.h"
#include "util/limits.h"

/* head_check over a whole string whose head ends where head_end says. */
static int
check(const char *s, char *msg)
{
	size_t	n = strlen(s), end = head_end(s, n);

	cr_assert_neq(end, 0, "no end of head in %s", s);
	return head_check(s, end, n, msg, 256);
}

Test(head, end)
{
	cr_assert_eq(head_end("GET / HTTP/1.1\r\nHost: x\r\n\r\nBODY", 31), 27);
	cr_assert_eq(head_end("GET / HTTP/1.1\nHost: x\n\nBODY", 28), 24);
	cr_assert_eq(head_end("GET / HTTP/1.1\r\nHost: x\r\n", 25), 0);
	cr_assert_eq(head_end("GET / HTTP/1.1\r\nHost: x\r\n\r", 26), 0);
	cr_assert_eq(head_end("", 0), 0);
}

Test(head, fine)
{
	char	msg[256];

	cr_assert_eq(check("GET / HTTP/1.1\r\nHost: x\r\n\r\n", msg), 0);
	cr_assert_eq(check("POST / HTTP/1.1\r\ncontent-length:  12 \r\n"
	    "Content-Length: 12\r\n\r\n", msg), 0);
	cr_assert_eq(check("POST / HTTP/1.1\r\nContent-Length: "
	    "000000000000000000001\r\n\r\n", msg), 0);
	cr_assert_eq(check("POST / HTTP/1.1\r\nContent-Length: "
	    "999999999999999999\r\n\r\n", msg), 0);
	cr_assert_eq(check("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
	    "\r\n4000000\r\n", msg), 0);	/* 64 MiB: the largest body */
	cr_assert_eq(check("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
	    "\r\nfff", msg), 0);		/* the rest comes later */
}

Test(head, content_length)
{
	static const char *const bad[] = { "abc", "-1", "+5", "1 2", "",
	    "5,5", "0x10", "1.0" };
	char	 msg[256], head[128];
	size_t	 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(head, sizeof(head), "POST / HTTP/1.1\r\n"
		    "Content-Length: %s\r\n\r\n", bad[i]);
		cr_assert_eq(check(head, msg), 400, "%s", bad[i]);
		cr_assert_str_eq(msg, "Content-Length must be a decimal number "
		    "of bytes");
	}
	cr_assert_eq(check("POST / HTTP/1.1\r\nContent-Length: "
	    "1000000000000000000\r\n\r\n", msg), 413);
	cr_assert_eq(check("POST / HTTP/1.1\r\nContent-Length: 2\r\n"
	    "Content-Length: 3\r\n\r\n", msg), 400);
	cr_assert_str_eq(msg, "Content-Length is given twice with different "
	    "values");
}

Test(head, header_lines)
{
	char	msg[256];

	cr_assert_eq(check("GET / HTTP/1.1\r\nContent-Length : 5\r\n\r\n",
	    msg), 400);
	cr_assert_eq(check("GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n", msg), 400);
	cr_assert_eq(check("GET / HTTP/1.1\r\nNoColon\r\n\r\n", msg), 400);
	cr_assert_eq(check("GET / HTTP/1.1\r\n: v\r\n\r\n", msg), 400);
	cr_assert_eq(check("GET / HTTP/1.1\r\nX(y): v\r\n\r\n", msg), 400);
	cr_assert(head_name_ok("X-Custom_1.a~", 13));
	cr_assert(!head_name_ok("", 0));
	cr_assert(!head_name_ok("a\0b", 3));
}

Test(head, chunk_size)
{
	char	msg[256];

	cr_assert_eq(check("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
	    "\r\n4000001\r\n", msg), 413);
	cr_assert_eq(check("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
	    "\r\nffffffffffffffffffffffffffffffffffffffff\r\n", msg), 413);
	/* a size the head does not announce as chunked is not read */
	cr_assert_eq(check("POST / HTTP/1.1\r\n\r\nffffffffffffffff\r\n", msg),
	    0);
}

Test(head, start)
{
	cr_assert(head_start_ok("", 0));
	cr_assert(head_start_ok("GE", 2));
	cr_assert(head_start_ok("GET / HTTP/1.1\r\n", 16));
	cr_assert(head_start_ok("\r\nGET /", 7));
	cr_assert(!head_start_ok("\x16\x03\x01\x02\x00", 5));	/* TLS hello */
	cr_assert(!head_start_ok(" GET /", 6));
	cr_assert(!head_start_ok("G\x01", 2));
}

/* head_target: the form of a target, and where an absolute one's path
 * begins. */
static enum head_target
target(const char *t, size_t *prefix, size_t *auth, bool *https, char *msg)
{
	msg[0] = '\0';
	return head_target(t, prefix, auth, https, msg, 256);
}

Test(head, target_forms)
{
	char	msg[256];
	size_t	prefix, auth;
	bool	https;

	cr_assert_eq(target("/v1/exports?limit=1", &prefix, &auth, &https,
	    msg), TARGET_ORIGIN);
	cr_assert_eq(prefix, 0);
	cr_assert_eq(target("*", &prefix, &auth, &https, msg),
	    TARGET_ASTERISK);
	cr_assert_eq(target("api.integrator.io:443", &prefix, &auth, &https,
	    msg), TARGET_AUTHORITY);
	cr_assert_eq(target("https://api.integrator.io/v1/exports?a=b",
	    &prefix, &auth, &https, msg), TARGET_ABSOLUTE);
	cr_assert_eq(prefix, strlen("https://api.integrator.io"));
	cr_assert_eq(auth, strlen("https://"));
	cr_assert(https);
	cr_assert_eq(target("HTTP://[::1]:8080?x", &prefix, &auth, &https,
	    msg), TARGET_ABSOLUTE);
	cr_assert_eq(prefix, strlen("HTTP://[::1]:8080"));
	cr_assert(!https);
	cr_assert_eq(target("http://10.0.0.1", &prefix, &auth, &https, msg),
	    TARGET_ABSOLUTE);
	cr_assert_eq(prefix, strlen("http://10.0.0.1"));
}

Test(head, target_bad)
{
	static const struct { const char *t, *why; } bad[] = {
		{ "ftp://x/v1", "scheme" }, { "httpx://x/v1", "scheme" },
		{ "http://u:p@x/v1", "user name" }, { "http://@x/", "user" },
		{ "http:///v1", "empty" }, { "http://x:/v1", "host" },
		{ "http://x:65536/", "host" }, { "http://x:123456/", "host" },
		{ "http://[::1/v1", "host" }, { "http://[]/", "host" },
		{ "http://a%2eb/", "host" }, { "http://a b/", "host" },
		{ "http://x:8a/", "host" }, { "v1/exports", "path" },
		{ "", "path" }, { "host", "path" }, { "mailto:x", "path" },
	};
	char	msg[256];
	size_t	prefix, auth, i;
	bool	https;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(target(bad[i].t, &prefix, &auth, &https, msg),
		    TARGET_BAD, "%s", bad[i].t);
		cr_assert(strstr(msg, bad[i].why) != NULL, "%s: %s", bad[i].t,
		    msg);
	}
}
