/* Outbound requests (run/fetch.c) against real servers on 127.0.0.1:
 * the tests' HTTP server (testserver.c) and, for TLS, openssl s_server
 * with a certificate made here. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "run/fetch.h"
#include "testserver.h"

static struct testserver	 srv;
static struct egress		*policy;
static struct fetch_client	*client;
static struct fetch_response	 resp;

/* Caps small enough for tests to reach them quickly. */
static void
test_limits(struct fetch_limits *l)
{
	fetch_limits_default(l);
	l->connect_timeout_ms = 2000;
	l->timeout_ms = 1000;
	l->max_response = 1024 * 1024;
	l->backoff_ms = 10;
	l->max_retry_after_ms = 5000;
}

/* A client under a policy of these entries (and loopback if asked). */
static void
client_with(const char *const *allow, int loopback)
{
	struct fetch_limits	 lim;
	char			*cause = NULL;

	test_limits(&lim);
	fetch_client_free(client);
	egress_free(policy);
	policy = egress_new(allow, loopback, &cause);
	cr_assert_not_null(policy, "%s", cause ? cause : "?");
	client = fetch_client_new(policy, &lim);
	cr_assert_not_null(client);
}

static void
setup(void)
{
	cr_assert_eq(testserver_start(&srv), 0);
	client_with(NULL, 1);
}

static void
teardown(void)
{
	fetch_response_free(&resp);
	fetch_client_free(client);
	client = NULL;
	egress_free(policy);
	policy = NULL;
	testserver_stop(&srv);
}

TestSuite(fetch, .init = setup, .fini = teardown, .timeout = 60);

/* GET http://HOST:PORT/PATH with these headers into resp. */
static int
get_with(const char *host, const char *path, const struct fetch_header *h,
    size_t nh)
{
	struct fetch_request	 req = { 0 };
	char			 url[256];

	snprintf(url, sizeof(url), "http://%s:%d%s", host, srv.port, path);
	req.url = url;
	req.headers = h;
	req.nheaders = nh;
	fetch_response_free(&resp);
	return fetch_do(client, &req, &resp);
}

static int
get(const char *path)
{
	return get_with("127.0.0.1", path, NULL, 0);
}

static void
assert_error(int rc, enum fetch_error want)
{
	cr_assert_eq(rc, -1, "answered %ld", resp.status);
	cr_assert_eq(resp.error, want, "%s: %s, want %s",
	    fetch_error_code(resp.error), resp.message,
	    fetch_error_code(want));
	cr_assert_neq(resp.message[0], '\0');
}

Test(fetch, success)
{
	char	url[64];
	size_t	i, n = 0;

	cr_assert_eq(get("/ok"), 0, "%s", resp.message);
	cr_assert_eq(resp.status, 200);
	cr_assert_eq(resp.error, FETCH_OK);
	cr_assert_eq(resp.body_len, 5);
	cr_assert_str_eq(resp.body, "hello");
	cr_assert_str_eq(fetch_response_header(&resp, "content-type"),
	    "text/plain");
	for (i = 0; i < resp.nheaders; i++)
		if (strcmp(resp.headers[i].name, "X-Multi") == 0)
			cr_assert_str_eq(resp.headers[i].value,
			    n++ == 0 ? "a" : "b");
	cr_assert_eq(n, 2, "a header sent twice is kept twice");
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/ok", srv.port);
	cr_assert_str_eq(resp.url, url);
	cr_assert_str_eq(resp.ip, "127.0.0.1");
	cr_assert_eq(resp.redirects, 0);
	cr_assert_eq(resp.retries, 0);
	cr_assert_gt(resp.t.total_us, 0);
	cr_assert_geq(resp.t.elapsed_us, resp.t.total_us);
	cr_assert_eq(testserver_hits(&srv, "/ok"), 1);
}

Test(fetch, client_error_is_an_answer)
{
	cr_assert_eq(get("/status/401"), 0);
	cr_assert_eq(resp.status, 401);
	cr_assert_str_eq(resp.body, "status");
	cr_assert_eq(resp.retries, 0, "a 4xx is not retried");
	cr_assert_eq(testserver_hits(&srv, "/status/401"), 1);
}

Test(fetch, method_headers_and_body)
{
	static const struct fetch_header h[] = {
		{ "Content-Type", "application/json", 0 },
		{ "X-Empty", "", 0 },
	};
	struct fetch_request	 req = { 0 };
	char			 url[64], *last;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/echo", srv.port);
	req.method = "PATCH";
	req.url = url;
	req.headers = h;
	req.nheaders = 2;
	req.body = "{\"a\":1}";
	req.body_len = 7;
	cr_assert_eq(fetch_do(client, &req, &resp), 0, "%s", resp.message);
	last = testserver_last(&srv);
	cr_assert(strncmp(last, "PATCH /echo ", 12) == 0, "%s", last);
	cr_assert_not_null(strstr(last, "\r\nContent-Type: application/json"
	    "\r\n"));
	cr_assert_not_null(strstr(last, "\r\nX-Empty:"));
	cr_assert_not_null(strstr(last, "\r\nUser-Agent: exportd/"));
	cr_assert_null(strstr(last, "Expect:"));
	cr_assert(strcmp(last + strlen(last) - 7, "{\"a\":1}") == 0, "%s",
	    last);
	free(last);
}

Test(fetch, slow_answer_times_out)
{
	char	origin[64];

	assert_error(get("/slow?token=s3cr3t"), FETCH_TIMEOUT);
	cr_assert_eq(resp.retries, 0, "a request that timed out once it "
	    "was sent is not sent again");
	snprintf(origin, sizeof(origin), "http://127.0.0.1:%d", srv.port);
	cr_assert_not_null(strstr(resp.message, origin), "%s", resp.message);
	cr_assert_null(strstr(resp.message, "/slow"), "%s", resp.message);
	cr_assert_null(strstr(resp.message, "s3cr3t"), "%s", resp.message);
}

Test(fetch, refused_port_is_retried)
{
	struct fetch_request	req = { 0 };
	char			url[64];

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/",
	    testserver_free_port());
	req.url = url;
	assert_error(fetch_do(client, &req, &resp), FETCH_REFUSED);
	cr_assert_eq(resp.retries, 2);
	cr_assert_eq(resp.status, 0);
}

Test(fetch, oversize_body)
{
	assert_error(get("/big"), FETCH_TOO_LARGE);
	cr_assert_not_null(strstr(resp.message, "1048576"), "%s",
	    resp.message);
	cr_assert_eq(resp.body_len, 0);
	/* without a Content-Length it is cut as it arrives */
	assert_error(get("/big-stream"), FETCH_TOO_LARGE);
	cr_assert_eq(resp.retries, 0);
}

Test(fetch, oversize_headers)
{
	assert_error(get("/fat-headers"), FETCH_TOO_LARGE);
	cr_assert_not_null(strstr(resp.message, "headers"), "%s",
	    resp.message);
}

/* Fetches from several threads at once, a client each, one policy. */
static void *
fetch_thread(void *arg)
{
	struct fetch_limits	 lim;
	struct fetch_client	*own;
	struct fetch_request	 req = { 0 };
	struct fetch_response	 r;
	char			 url[64];
	int			 i;
	long			 ok = 0;

	(void)arg;
	test_limits(&lim);
	own = fetch_client_new(policy, &lim);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/ok", srv.port);
	req.url = url;
	for (i = 0; i < 10; i++) {
		if (fetch_do(own, &req, &r) == 0 && r.status == 200 &&
		    strcmp(r.body, "hello") == 0)
			ok++;
		fetch_response_free(&r);
	}
	fetch_client_free(own);
	return (void *)ok;
}

Test(fetch, threads_share_a_policy)
{
	pthread_t	t[4];
	void		*ok;
	int		 i;

	for (i = 0; i < 4; i++)
		cr_assert_eq(pthread_create(&t[i], NULL, fetch_thread, NULL), 0);
	for (i = 0; i < 4; i++) {
		pthread_join(t[i], &ok);
		cr_assert_eq((long)ok, 10);
	}
	cr_assert_eq(testserver_hits(&srv, "/ok"), 40);
}

Test(fetch, redirects_same_origin_keep_credentials)
{
	static const struct fetch_header h[] = {
		{ "Authorization", "Bearer t0ken", 0 },
	};
	char	*last;

	cr_assert_eq(get_with("127.0.0.1", "/redirect/3", h, 1), 0, "%s",
	    resp.message);
	cr_assert_eq(resp.status, 200);
	cr_assert_eq(resp.redirects, 4);
	cr_assert_not_null(strstr(resp.url, "/echo"));
	last = testserver_last(&srv);
	cr_assert(strncmp(last, "GET /echo ", 10) == 0, "%s", last);
	cr_assert_not_null(strstr(last, "Authorization: Bearer t0ken"));
	free(last);
}

Test(fetch, redirect_to_another_host_drops_credentials)
{
	static const struct fetch_header h[] = {
		{ "Authorization", "Bearer t0ken", 0 },
		{ "X-Api-Key", "k3y", FETCH_SECRET },
		{ "Cookie", "session=c00kie", 0 },
		{ "X-Trace", "visible", 0 },
	};
	char	url[64], *last;

	cr_assert_eq(get_with("127.0.0.1", "/cross", h, 4), 0, "%s",
	    resp.message);
	snprintf(url, sizeof(url), "http://localhost:%d/echo", srv.port);
	cr_assert_str_eq(resp.url, url);
	cr_assert_eq(resp.redirects, 1);
	last = testserver_last(&srv);
	cr_assert_null(strstr(last, "t0ken"), "%s", last);
	cr_assert_null(strstr(last, "k3y"), "%s", last);
	cr_assert_null(strstr(last, "c00kie"), "%s", last);
	cr_assert_not_null(strstr(last, "X-Trace: visible"), "%s", last);
	free(last);
}

Test(fetch, too_many_redirects)
{
	assert_error(get("/loop"), FETCH_TOO_MANY_REDIRECTS);
	cr_assert_eq(testserver_hits(&srv, "/loop"), 6, "the first request "
	    "and five redirects");
	cr_assert_eq(resp.redirects, 5);
}

Test(fetch, redirect_to_a_denied_address)
{
	assert_error(get("/to-metadata"), FETCH_EGRESS_DENIED);
	cr_assert_not_null(strstr(resp.message, "169.254.169.254"), "%s",
	    resp.message);
	cr_assert_not_null(strstr(resp.message, "link-local"), "%s",
	    resp.message);
	cr_assert_null(strstr(resp.message, "meta-data"), "%s", resp.message);
	cr_assert_eq(resp.retries, 0);
}

Test(fetch, see_other_turns_post_into_get)
{
	struct fetch_request	 req = { 0 };
	char			 url[64], *last;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/303", srv.port);
	req.method = "POST";
	req.url = url;
	req.body = "payload";
	req.body_len = 7;
	cr_assert_eq(fetch_do(client, &req, &resp), 0, "%s", resp.message);
	last = testserver_last(&srv);
	cr_assert(strncmp(last, "GET /echo ", 10) == 0, "%s", last);
	cr_assert_null(strstr(last, "payload"));
	free(last);
	/* 307 keeps the method and the body */
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/307", srv.port);
	fetch_response_free(&resp);
	cr_assert_eq(fetch_do(client, &req, &resp), 0, "%s", resp.message);
	last = testserver_last(&srv);
	cr_assert(strncmp(last, "POST /echo ", 11) == 0, "%s", last);
	cr_assert_not_null(strstr(last, "payload"));
	free(last);
}

Test(fetch, too_many_requests_waits_for_retry_after)
{
	cr_assert_eq(get("/429"), 0, "%s", resp.message);
	cr_assert_eq(resp.status, 200);
	cr_assert_eq(resp.retries, 1);
	cr_assert_geq(resp.t.elapsed_us, 900000, "waited %lld us",
	    (long long)resp.t.elapsed_us);
	cr_assert_eq(testserver_hits(&srv, "/429"), 2);
}

Test(fetch, retry_after_as_a_date)
{
	cr_assert_eq(get("/429-date"), 0, "%s", resp.message);
	cr_assert_eq(resp.status, 200);
	cr_assert_eq(resp.retries, 1);
	cr_assert_geq(resp.t.elapsed_us, 900000);
}

Test(fetch, retry_after_beyond_the_cap_is_not_waited_for)
{
	cr_assert_eq(get("/429-long"), 0);
	cr_assert_eq(resp.status, 429);
	cr_assert_eq(resp.retries, 0);
	cr_assert_str_eq(fetch_response_header(&resp, "Retry-After"), "3600");
	cr_assert_lt(resp.t.elapsed_us, 2000000);
}

Test(fetch, server_errors_are_retried)
{
	cr_assert_eq(get("/503x2"), 0);
	cr_assert_eq(resp.status, 200);
	cr_assert_eq(resp.retries, 2);
	cr_assert_eq(testserver_hits(&srv, "/503x2"), 3);
	/* and given up after the retries */
	cr_assert_eq(get("/status/500"), 0);
	cr_assert_eq(resp.status, 500);
	cr_assert_eq(resp.retries, 2);
	cr_assert_eq(testserver_hits(&srv, "/status/500"), 3);
}

Test(fetch, closed_without_answer)
{
	assert_error(get("/reset"), FETCH_CONNECTION);
	cr_assert_eq(testserver_hits(&srv, "/reset"), 3);
}

Test(fetch, loopback_denied_by_default)
{
	static const struct fetch_header h[] = {
		{ "Authorization", "Bearer t0ken", 0 },
	};

	client_with(NULL, 0);
	assert_error(get_with("127.0.0.1", "/ok", h, 1), FETCH_EGRESS_DENIED);
	cr_assert_not_null(strstr(resp.message, "loopback"), "%s",
	    resp.message);
	assert_error(get_with("localhost", "/ok", h, 1), FETCH_EGRESS_DENIED);
	assert_error(get_with("[::ffff:127.0.0.1]", "/ok", h, 1),
	    FETCH_EGRESS_DENIED);
	assert_error(get_with("2130706433", "/ok", h, 1), FETCH_EGRESS_DENIED);
	cr_assert_eq(resp.retries, 0, "a denial is not retried");
	cr_assert_eq(atomic_load(&srv.connections), 0, "nothing reached the "
	    "server");
}

Test(fetch, allowed_by_cidr_or_name)
{
	static const char *const cidr[] = { "127.0.0.1/32", NULL };
	static const char *const name[] = { "localhost", NULL };

	client_with(cidr, 0);
	cr_assert_eq(get("/ok"), 0, "%s", resp.message);
	client_with(name, 0);
	cr_assert_eq(get_with("localhost", "/ok", NULL, 0), 0, "%s",
	    resp.message);
	/* the name, not the address behind it */
	assert_error(get("/ok"), FETCH_EGRESS_DENIED);
	cr_assert_eq(testserver_hits(&srv, "/ok"), 2);
}

Test(fetch, messages_hold_no_credentials)
{
	struct fetch_request	req = { 0 };
	char			url[128];

	client_with(NULL, 0);
	snprintf(url, sizeof(url), "http://us3r:pa55@127.0.0.1:%d/p4th?"
	    "token=s3cr3t#fr4g", srv.port);
	req.url = url;
	assert_error(fetch_do(client, &req, &resp), FETCH_EGRESS_DENIED);
	cr_assert_null(strstr(resp.message, "us3r"), "%s", resp.message);
	cr_assert_null(strstr(resp.message, "pa55"), "%s", resp.message);
	cr_assert_null(strstr(resp.message, "p4th"), "%s", resp.message);
	cr_assert_null(strstr(resp.message, "s3cr3t"), "%s", resp.message);
	cr_assert_null(strstr(resp.message, "fr4g"), "%s", resp.message);
}

Test(fetch, what_cannot_be_sent)
{
	static const struct fetch_header crlf[] = {
		{ "X-Bad", "a\r\nX-Injected: 1", 0 },
	};
	static const struct fetch_header name[] = {
		{ "X Bad", "a", 0 },
	};
	struct fetch_request	req = { 0 };

	assert_error(get_with("127.0.0.1", "/ok", crlf, 1), FETCH_BAD_REQUEST);
	assert_error(get_with("127.0.0.1", "/ok", name, 1), FETCH_BAD_REQUEST);
	fetch_response_free(&resp);
	req.url = "ftp://127.0.0.1/x";
	assert_error(fetch_do(client, &req, &resp), FETCH_BAD_URL);
	fetch_response_free(&resp);
	req.url = "/relative";
	assert_error(fetch_do(client, &req, &resp), FETCH_BAD_URL);
	fetch_response_free(&resp);
	req.url = "http://127.0.0.1/";
	req.method = "GET /x HTTP/1.1\r\n";
	assert_error(fetch_do(client, &req, &resp), FETCH_BAD_REQUEST);
	cr_assert_eq(atomic_load(&srv.connections), 0);
}

Test(fetch_retry_after, parse)
{
	/* Wed, 21 Oct 2015 07:28:00 GMT is 1445412480 */
	int64_t	now = 1445412480000LL - 5000;

	cr_assert_eq(fetch_retry_after_parse("5", now), 5000);
	cr_assert_eq(fetch_retry_after_parse(" 7 ", now), 7000);
	cr_assert_eq(fetch_retry_after_parse("0", now), 0);
	cr_assert_eq(fetch_retry_after_parse("Wed, 21 Oct 2015 07:28:00 GMT",
	    now), 5000);
	cr_assert_eq(fetch_retry_after_parse("Wed, 21 Oct 2015 07:28:00 GMT",
	    now + 60000), 0, "a date past is no wait");
	cr_assert_eq(fetch_retry_after_parse("-1", now), -1);
	cr_assert_eq(fetch_retry_after_parse("5s", now), -1);
	cr_assert_eq(fetch_retry_after_parse("soon", now), -1);
	cr_assert_eq(fetch_retry_after_parse("", now), -1);
	cr_assert_eq(fetch_retry_after_parse("99999999999999", now), -1);
}

Test(fetch_origin, redacted)
{
	char	o[128];

	fetch_url_origin("https://u:p@api.example.com/v1/x?key=k#f", o,
	    sizeof(o));
	cr_assert_str_eq(o, "https://api.example.com");
	fetch_url_origin("http://[::1]:8080/x", o, sizeof(o));
	cr_assert_str_eq(o, "http://[::1]:8080");
	fetch_url_origin("not a url", o, sizeof(o));
	cr_assert_str_eq(o, "(invalid URL)");
}

/* openssl s_server on 127.0.0.1 with a self-signed certificate for
 * localhost made in dir; its pid, and its port in *port. */
static pid_t
tls_server_start(const char *dir, int *port)
{
	char	 cmd[1024], cert[256], key[256], line[256], *colon;
	int	 p[2];
	pid_t	 pid;
	FILE	*out;

	snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
	snprintf(key, sizeof(key), "%s/key.pem", dir);
	snprintf(cmd, sizeof(cmd), "openssl req -x509 -newkey ec -pkeyopt "
	    "ec_paramgen_curve:P-256 -nodes -subj /CN=localhost -days 1 "
	    "-keyout %s -out %s 2>/dev/null", key, cert);
	cr_assert_eq(system(cmd), 0, "openssl could not make a certificate");
	cr_assert_eq(pipe(p), 0);
	if ((pid = fork()) == 0) {
		dup2(p[1], 1);
		dup2(open("/dev/null", O_WRONLY), 2);
		close(p[0]);
		close(p[1]);
		execlp("openssl", "openssl", "s_server", "-accept",
		    "127.0.0.1:0", "-cert", cert, "-key", key, "-www",
		    (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	out = fdopen(p[0], "r");
	*port = 0;
	while (*port == 0 && fgets(line, sizeof(line), out) != NULL)
		if (strncmp(line, "ACCEPT", 6) == 0 &&
		    (colon = strrchr(line, ':')) != NULL)
			*port = atoi(colon + 1);
	fclose(out);
	cr_assert_gt(*port, 0, "openssl s_server did not start");
	return pid;
}

Test(fetch, tls_verified_unless_disabled)
{
	struct fetch_request	 req = { 0 };
	char			 dir[] = "/tmp/exportd-fetch-XXXXXX", url[64];
	char			 cmd[128];
	int			 port;
	pid_t			 pid;

	cr_assert_not_null(mkdtemp(dir));
	pid = tls_server_start(dir, &port);
	snprintf(url, sizeof(url), "https://localhost:%d/", port);
	req.url = url;
	assert_error(fetch_do(client, &req, &resp), FETCH_TLS);
	cr_assert_not_null(strstr(resp.message, "self-signed"), "%s",
	    resp.message);
	cr_assert_eq(resp.retries, 0);
	fetch_response_free(&resp);
	req.insecure = 1;	/* disableStrictSSL */
	cr_assert_eq(fetch_do(client, &req, &resp), 0, "%s", resp.message);
	cr_assert_eq(resp.status, 200);
	cr_assert_gt(resp.t.tls_us, 0);
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}
