/* libmicrohttpd glue. Every request passes the same checks in the same
 * order: limits, route, auth, media type, handler; then one access-log
 * line. A handler with a write in flight suspends its request until the
 * application resumes it, so a server thread never blocks on a disk
 * sync. The application (api/) is an opaque pointer and a table of hooks. */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "auth/token.h"
#include "http/cors.h"
#include "http/gate.h"
#include "http/head.h"
#include "http/metrics.h"
#include "http/response.h"
#include "http/router.h"
#include "http/server.h"
#include "http/tls.h"
#include "util/limits.h"
#include "util/isotime.h"
#include "util/log.h"
#include "util/oid.h"
#include "util/xmalloc.h"

#define LOG_PATH_MAX 400	/* path bytes in an access-log line */
#define DISCARD_MAX (64ULL * 1024 * 1024)	/* bytes read to drop a body */

const char *
request_header(struct request *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

struct query_find {
	const char	*name;
	const char	*value;
	bool		 found;
};

static enum MHD_Result
query_match(void *cls, enum MHD_ValueKind kind, const char *key,
    const char *value)
{
	struct query_find	*q = cls;

	(void)kind;

	if (strcmp(key, q->name) != 0)
		return MHD_YES;
	q->value = value != NULL ? value : "";
	q->found = true;
	return MHD_NO;
}

/* Query parameter names are case-sensitive (libmicrohttpd's own lookup
 * is not): "Name=" is not the name filter. */
const char *
request_query(struct request *req, const char *name)
{
	struct query_find	q = { name, NULL, false };

	MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND,
	    query_match, &q);
	return q.found ? q.value : NULL;
}

/* A Host value that can go into a URL as it is: a name, an IPv4 or a
 * bracketed IPv6 address, and an optional port. Anything else (quotes,
 * spaces, slashes, '@', '>') could bend a Link header or a signed URL. */
static bool
host_ok(const char *h)
{
	size_t	n = strlen(h);

	if (n == 0 || n > 255)
		return false;
	return strspn(h, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789.-_:[]") == n;
}

char *
request_origin(struct request *req)
{
	const char	*host, *proto;

	if (req->target == TARGET_ABSOLUTE)
		return xasprintf("%s://%.*s", req->target_https ? "https" :
		    "http", (int)(req->target_prefix - req->target_auth),
		    req->uri + req->target_auth);
	host = request_header(req, MHD_HTTP_HEADER_HOST);
	proto = request_header(req, "X-Forwarded-Proto");
	return xasprintf("%s://%s", req->srv->tls != NULL || (proto != NULL &&
	    strcasecmp(proto, "https") == 0) ? "https" : "http",
	    host != NULL && host_ok(host) ? host : "localhost");
}

char *
request_base(struct request *req)
{
	size_t	n;

	if (req->srv->public_url == NULL)
		return request_origin(req);
	n = strlen(req->srv->public_url);
	while (n > 0 && req->srv->public_url[n - 1] == '/')
		n--;
	return xstrndup(req->srv->public_url, n);
}

char *
request_url(struct request *req)
{
	char	*base, *url;

	base = request_base(req);
	url = xasprintf("%s%s", base, req->uri + req->target_prefix);
	free(base);
	return url;
}

char *
request_location(struct request *req, const char *path)
{
	char	*base, *url;

	if (req->srv->public_url == NULL && req->target != TARGET_ABSOLUTE)
		return xstrdup(path);
	base = request_base(req);
	url = xasprintf("%s%s", base, path);
	free(base);
	return url;
}

/* libmicrohttpd lets any thread resume a connection. */
void
request_resume(struct request *req)
{
	__atomic_store_n(&req->resumed, 1, __ATOMIC_RELEASE);
	MHD_resume_connection(req->conn);
}

void
request_stream_pause(struct request *req)
{
	MHD_suspend_connection(req->conn);
}

void
request_stream_wake(struct request *req)
{
	MHD_resume_connection(req->conn);
}

void
request_suspend(struct request *req, void (*cont)(struct request *))
{
	req->resume = cont;
	req->suspended = true;
	req->resumed = 0;
	MHD_suspend_connection(req->conn);
}

/* Copy the path, dropping one trailing slash ("/v1/exports/"); the
 * empty path of an absolute target ("http://host") is "/". */
static char *
path_normalize(const char *url)
{
	size_t	len = strlen(url);

	if (len == 0)
		return xstrdup("/");
	if (len > 1 && url[len - 1] == '/')
		len--;
	return xstrndup(url, len);
}

/* Called by libmicrohttpd with the raw URI before anything else: the
 * request begins here, so its length is known before it is parsed. */
static void *
on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
	struct request	*req;

	(void)cls;
	(void)conn;

	req = xcalloc(1, sizeof(*req));
	req->uri_len = strlen(uri);
	req->uri = xstrdup(uri);
	req->start_us = isotime_mono_us();
	return req;
}

static enum MHD_Result
header_size(void *cls, enum MHD_ValueKind kind, const char *key,
    const char *value)
{
	size_t	*total = cls;

	(void)kind;

	*total += strlen(key) + (value != NULL ? strlen(value) : 0) + 4;
	return MHD_YES;
}

/* Request ids: a random start per thread, then splitmix64 steps;
 * unique and cheap (they need not be secret). */
void
request_id_new(char id[17])
{
	static _Thread_local uint64_t	 idstate;
	static const char		 hex[] = "0123456789abcdef";
	uint64_t			 z;
	int				 i;

	if (idstate == 0)
		crypto_random(&idstate, sizeof(idstate));
	z = (idstate += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	z ^= z >> 31;
	for (i = 0; i < 16; i++)
		id[i] = hex[(z >> (60 - 4 * i)) & 15];
	id[16] = '\0';
}

/* Fill in a request begun by on_uri. */
static struct request *
request_start(struct server *srv, struct request *req,
    struct MHD_Connection *conn, const char *url, const char *method)
{
	if (req == NULL)
		req = on_uri(srv, url, conn);
	req->started = true;
	req->srv = srv;
	req->conn = conn;
	req->method_str = method;
	req->method = router_method(method);
	/* An absolute target routes by its path: the scheme and authority
	 * hold no '%', so they are as long decoded (url) as received. */
	req->target = head_target(req->uri, &req->target_prefix,
	    &req->target_auth, &req->target_https, NULL, 0);
	req->path = path_normalize(req->target == TARGET_ABSOLUTE &&
	    strlen(url) >= req->target_prefix ? url + req->target_prefix :
	    url);
	req->route_result = router_match(srv->routes, srv->nroutes, req->path,
	    req->method, &req->route, req->params, &req->nparams,
	    &req->allowed);
	request_id_new(req->id);
	buf_init(&req->body, req->route_result == ROUTER_OK &&
	    (req->route->flags & ROUTE_LISTENER) ? srv->listener_max_body :
	    srv->max_body);
	return req;
}

static void
request_free(struct request *req)
{
	if (req->free_state != NULL)
		req->free_state(req->state);
	if (req->app_free != NULL)
		req->app_free(req->app);
	router_params_free(req->params, req->nparams);
	buf_free(&req->body);
	if (req->resp != NULL)
		MHD_destroy_response(req->resp);
	free(req->path);
	free(req->uri);
	free(req);
}

/* Bearer token to account; 0 on success, else a 401 is set. */
static int
request_auth(struct request *req)
{
	struct server		*srv = req->srv;
	const char		*tok;
	unsigned char		 hash[CRYPTO_SHA256LEN];
	size_t			 len;
	int			 rc;

	if (token_from_header(request_header(req,
	    MHD_HTTP_HEADER_AUTHORIZATION), &tok, &len) == -1) {
		reply_error(req, 401, "unauthorized", NULL,
		    "A valid bearer token is required "
		    "(Authorization: Bearer <token>)");
		return -1;
	}
	token_hash(tok, len, hash);
	memcpy(&req->token_key, hash, sizeof(req->token_key));
	rc = srv->hooks->token_account(srv->app, hash, req->account);
	crypto_wipe(hash, sizeof(hash));
	if (rc == 0)
		return 0;
	if (rc == 1)
		reply_error(req, 401, "unauthorized", NULL,
		    "The bearer token is not valid");
	else {
		reply_error(req, 503, "unavailable", NULL,
		    "The store is unavailable; retry shortly");
		reply_header(req, MHD_HTTP_HEADER_RETRY_AFTER, "1");
	}
	return -1;
}

/* One request from the token's bucket; 0, or -1 after a 429. */
static int
request_rate_limit(struct request *req)
{
	long	wait;

	if ((wait = ratelimit_take(&req->srv->rl, req->token_key)) == 0)
		return 0;
	reply_rate_limited(req, wait);
	return -1;
}

/* A body must be JSON: Content-Type absent or application/json with any
 * parameters. */
static int
media_type_ok(const char *ct)
{
	size_t	n;

	if (ct == NULL)
		return 1;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	n = strcspn(ct, "; \t");
	return n == strlen("application/json") &&
	    strncasecmp(ct, "application/json", n) == 0;
}

/* Past routing: auth, rate limit, media type, then the handler. */
static void
request_run(struct request *req)
{
	if ((req->route->flags & ROUTE_PUBLIC) == 0) {
		if (request_auth(req) == -1 || request_rate_limit(req) == -1)
			return;
	}
	/* API bodies are JSON; webhook deliveries are whatever the sender
	 * sends, and the export's settings decide how to read them. */
	if (req->body.len > 0 && (req->method & (M_POST | M_PUT | M_PATCH)) &&
	    (req->route->flags & ROUTE_LISTENER) == 0 && !media_type_ok(request_header(req,
	    MHD_HTTP_HEADER_CONTENT_TYPE))) {
		reply_error(req, 415, "unsupported_media_type", NULL,
		    "Request bodies must be JSON (Content-Type: "
		    "application/json)");
		return;
	}
	req->route->handler(req);
}

/* A CORS preflight (OPTIONS with Origin and Access-Control-Request-Method)
 * of a path that exists, methods its methods: answered 204 before any
 * token is asked for, since browsers send none. An allowed origin is
 * granted the path's methods and the request headers clients use
 * (request_queue adds Access-Control-Allow-Origin); any other gets the
 * 204 without a grant, which the browser reads as a refusal. True if
 * answered. */
static bool
request_preflight(struct request *req, const char *methods)
{
	if (req->method != M_OPTIONS || req->srv->cors.n == 0 ||
	    request_header(req, "Origin") == NULL ||
	    request_header(req, "Access-Control-Request-Method") == NULL)
		return false;
	reply_empty(req, 204);
	reply_header(req, MHD_HTTP_HEADER_ALLOW, methods);
	if (cors_allow(&req->srv->cors, request_header(req, "Origin")) ==
	    NULL)
		return true;
	reply_header(req, "Access-Control-Allow-Methods", methods);
	reply_header(req, "Access-Control-Allow-Headers", CORS_ALLOW_HEADERS);
	reply_header(req, "Access-Control-Max-Age", CORS_MAX_AGE);
	return true;
}

/* The fixed sequence of checks, then the handler. */
static void
request_dispatch(struct request *req)
{
	char		 allow[96];

	if (req->target == TARGET_ASTERISK) {
		/* OPTIONS *: what the server as a whole serves */
		router_allow(req->srv->methods, allow, sizeof(allow));
		reply_empty(req, 204);
		reply_header(req, MHD_HTTP_HEADER_ALLOW, allow);
		return;
	}
	if (req->body_too_large) {
		reply_error(req, 413, "payload_too_large", NULL,
		    "The request body is larger than %zu bytes",
		    req->body.cap);
		return;
	}
	switch (req->route_result) {
	case ROUTER_NOT_FOUND:
		reply_error(req, 404, "not_found", NULL,
		    "No such resource: %s", "the path matches no endpoint");
		return;
	case ROUTER_BAD_METHOD:
		router_allow(req->allowed, allow, sizeof(allow));
		if (request_preflight(req, allow))
			return;
		reply_error(req, 405, "method_not_allowed", NULL,
		    "Method %s is not allowed here; allowed: %s",
		    req->method == M_OTHER ? "used" : req->method_str, allow);
		reply_header(req, MHD_HTTP_HEADER_ALLOW, allow);
		return;
	case ROUTER_OK:
		break;
	}
	request_run(req);
}

/* With CORS on, every answer varies by Origin; one to an allowed origin
 * says so and exposes the headers clients read (cors.h). */
static void
request_cors(struct request *req)
{
	const char	*allow;

	if (req->srv->cors.n == 0)
		return;
	MHD_add_response_header(req->resp, MHD_HTTP_HEADER_VARY, "Origin");
	if ((allow = cors_allow(&req->srv->cors, request_header(req,
	    "Origin"))) == NULL)
		return;
	MHD_add_response_header(req->resp, "Access-Control-Allow-Origin",
	    allow);
	MHD_add_response_header(req->resp, "Access-Control-Expose-Headers",
	    CORS_EXPOSE_HEADERS);
}

/* Queue what the handler built; a handler that built nothing is a bug. */
static enum MHD_Result
request_queue(struct request *req)
{
	if (req->resp == NULL)
		reply_error(req, 500, "internal_error", NULL,
		    "Internal error");
	if (req->body_too_large || req->must_close ||
	    atomic_load_explicit(&req->srv->draining, memory_order_acquire))
		MHD_add_response_header(req->resp,
		    MHD_HTTP_HEADER_CONNECTION, "close");
	request_cors(req);
	req->queued = true;
	return MHD_queue_response(req->conn, req->status, req->resp);
}

/* Content-Length over the cap. Most clients send the whole body before
 * they read a response, and a reply sent earlier reaches them as a reset
 * connection; so a body up to DISCARD_MAX is read and dropped and the 413
 * comes after it. A client that waits for "100 Continue", or a body past
 * DISCARD_MAX, gets the 413 at once. Returns 0 (fits), 1 (read and
 * drop), or 2 (answer now). */
static int
request_too_large(struct request *req)
{
	const char	*cl, *expect;
	char		*end;
	unsigned long long n;

	cl = request_header(req, MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (cl == NULL)
		return 0;
	n = strtoull(cl, &end, 10);
	if (end == cl || n <= req->body.cap)
		return 0;
	expect = request_header(req, MHD_HTTP_HEADER_EXPECT);
	if ((expect != NULL && strcasecmp(expect, "100-continue") == 0) ||
	    n > DISCARD_MAX)
		return 2;
	return 1;
}

struct head_facts {
	int		 hosts;		/* Host headers */
	int		 tes;		/* Transfer-Encoding headers */
	const char	*te;
	int		 cls;		/* Content-Length headers */
	const char	*cl;
	bool		 cl_differ;	/* two Content-Lengths that differ */
	bool		 bad_name;	/* a header name that is not a token */
};

static enum MHD_Result
head_fact(void *cls, enum MHD_ValueKind kind, const char *key,
    const char *value)
{
	struct head_facts	*f = cls;

	(void)kind;
	if (value == NULL)
		value = "";
	if (!head_name_ok(key, strlen(key)))
		f->bad_name = true;
	else if (strcasecmp(key, MHD_HTTP_HEADER_HOST) == 0)
		f->hosts++;
	else if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0) {
		f->tes++;
		f->te = value;
	} else if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0) {
		if (f->cls++ > 0 && strcmp(f->cl, value) != 0)
			f->cl_differ = true;
		f->cl = value;
	}
	return MHD_YES;
}

/* How the body is framed, and where it goes, must be unambiguous: the
 * bytes after a request must never be read as another one. So on every
 * request (the gate checked a connection's first head for what
 * libmicrohttpd answers badly): a method and header names that are
 * tokens (with a space before ':', libmicrohttpd ignores a
 * Content-Length); one Host
 * on HTTP/1.1; not both Transfer-Encoding and Content-Length; no
 * transfer coding but chunked; no two different Content-Lengths; no
 * encoded NUL in the target. 0, or -1 with the error set. */
static int
request_framing(struct request *req, const char *version)
{
	struct head_facts	f;

	memset(&f, 0, sizeof(f));
	MHD_get_connection_values(req->conn, MHD_HEADER_KIND, head_fact, &f);
	if (!head_name_ok(req->method_str, strlen(req->method_str)))
		reply_error(req, 400, "bad_request", NULL, "The method holds "
		    "a character a method may not have");
	else if (f.bad_name)
		reply_error(req, 400, "bad_request", NULL, "A header name "
		    "holds a space or a character a name may not have");
	else if (strcmp(version, MHD_HTTP_VERSION_1_1) == 0 && f.hosts != 1)
		reply_error(req, 400, "bad_request", NULL, "%s",
		    f.hosts == 0 ? "An HTTP/1.1 request needs a Host header" :
		    "Host is given more than once");
	else if (f.tes > 0 && f.cls > 0)
		reply_error(req, 400, "bad_request", NULL, "A request may "
		    "not have both Transfer-Encoding and Content-Length");
	else if (f.tes > 1 || (f.tes == 1 && strcasecmp(f.te, "chunked") != 0))
		reply_error(req, 501, "not_implemented", NULL,
		    "Transfer-Encoding \"%.40s\" is not supported (only "
		    "chunked)", f.te);
	else if (f.cl_differ)
		reply_error(req, 400, "bad_request", NULL, "Content-Length is "
		    "given twice with different values");
	else if (strstr(req->uri, "%00") != NULL)
		reply_error(req, 400, "bad_request", NULL, "The URL holds an "
		    "encoded NUL (%%00)");
	else
		return 0;
	return -1;
}

/* The request target (RFC 9112 section 3.2): a path; an absolute http or
 * https URL, as clients behind a forward proxy send (HTTP_PROXY); or '*'
 * for OPTIONS. exportd is no proxy: CONNECT (and its host:port target)
 * is refused, and the connection closed after. 0, or -1 with the error
 * set. */
static int
request_target_check(struct request *req)
{
	char	msg[128], allow[96];
	size_t	prefix, auth;
	bool	https;

	if (strcmp(req->method_str, "CONNECT") == 0) {
		router_allow(req->srv->methods, allow, sizeof(allow));
		reply_error(req, 405, "method_not_allowed", NULL, "This server "
		    "is not a proxy: CONNECT is not served (send requests to "
		    "it directly, or through an HTTP proxy as absolute URLs)");
		reply_header(req, MHD_HTTP_HEADER_ALLOW, allow);
		return -1;
	}
	switch (req->target) {
	case TARGET_ORIGIN:
	case TARGET_ABSOLUTE:
		return 0;
	case TARGET_ASTERISK:
		if (req->method == M_OPTIONS)
			return 0;
		reply_error(req, 400, "bad_request", NULL, "The request "
		    "target * is only for OPTIONS");
		return -1;
	case TARGET_AUTHORITY:
		reply_error(req, 400, "bad_request", NULL, "A host:port "
		    "request target is only for CONNECT, which this server "
		    "does not serve");
		return -1;
	case TARGET_BAD:
		break;
	}
	(void)head_target(req->uri, &prefix, &auth, &https, msg, sizeof(msg));
	reply_error(req, 400, "bad_request", NULL, "%s", msg);
	return -1;
}

/* The checks of a request's head, before its body: size, framing, then
 * the target. 0, or -1 with the error set. */
static int
request_head_check(struct request *req, const char *version)
{
	size_t	hsize = 0;

	MHD_get_connection_values(req->conn, MHD_HEADER_KIND, header_size,
	    &hsize);
	if (req->uri_len > LIMIT_URL) {
		reply_error(req, 414, "invalid_query_params", NULL,
		    "The URL is longer than %d bytes", LIMIT_URL);
		return -1;
	}
	if (hsize > LIMIT_HEADERS) {
		reply_error(req, 431, "headers_too_large", NULL,
		    "The request headers are larger than %d bytes",
		    LIMIT_HEADERS);
		return -1;
	}
	if (request_framing(req, version) == -1)
		return -1;
	return request_target_check(req);
}

/* The whole request is in: from here on, no deadline cuts it. */
static void
request_received(struct request *req)
{
	req->dispatched = true;
	gate_phase(req->conn, GATE_BUSY);
}

/* Set before answering libmicrohttpd MHD_NO on purpose: its "internal
 * error" log line that follows, on this thread, is not one. */
static _Thread_local bool mhd_quiet;

/* A chunked body past the cap has no known end, so reading it to the
 * end to answer after it could take forever: as much again as the cap
 * is read and dropped (a body a little too large gets its 413 after it,
 * as clients that send before they read expect), then no more.
 * libmicrohttpd 0.9.75 takes no response in the middle of a body: the
 * 413 is written on the socket here (through TLS on a TLS connection),
 * then the connection is closed. */
static void
request_chunked_too_large(struct request *req)
{
	const union MHD_ConnectionInfo	*ci;
	char				*resp;
	size_t				 len;

	request_received(req);
	req->queued = true;
	req->status = 413;
	resp = reply_raw_error_new(413, "payload_too_large", req->id, 0, &len,
	    "The request body is larger than %zu bytes", req->body.cap);
	req->resp_bytes = len;
	tls_conn_send(req->conn, resp, len);
	ci = MHD_get_connection_info(req->conn,
	    MHD_CONNECTION_INFO_CONNECTION_FD);
	if (ci != NULL)
		shutdown(ci->connect_fd, SHUT_WR);
	free(resp);
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **con_cls)
{
	struct server	*srv = cls;
	struct request	*req = *con_cls;
	size_t		 n;

	(void)version;

	if (req == NULL || !req->started) {
		req = request_start(srv, req, conn, url, method);
		*con_cls = req;
		atomic_fetch_add(&srv->inflight, 1);
		gate_phase(conn, GATE_BODY);
		if (request_head_check(req, version) == -1) {
			request_received(req);
			req->must_close = true;
			return request_queue(req);
		}
		switch (request_too_large(req)) {
		case 2:
			req->body_too_large = true;
			request_received(req);
			request_dispatch(req);
			return request_queue(req);
		case 1:
			req->body_too_large = true;
			break;
		}
		return MHD_YES;
	}
	if (*upload_data_size != 0) {
		if (req->queued)
			return MHD_NO;
		n = *upload_data_size;
		*upload_data_size = 0;
		req->has_body = true;
		if (!req->body_too_large &&
		    buf_add(&req->body, upload_data, n) == 0)
			return MHD_YES;
		req->body_too_large = true;
		if (request_header(req, MHD_HTTP_HEADER_CONTENT_LENGTH) !=
		    NULL || (req->dropped += n) <= req->body.cap)
			return MHD_YES;
		request_chunked_too_large(req);
		mhd_quiet = true;
		return MHD_NO;
	}
	if (req->queued)
		return MHD_YES;
	if (!req->dispatched) {
		request_received(req);
		request_dispatch(req);
	} else if (req->suspended) {
		if (!__atomic_load_n(&req->resumed, __ATOMIC_ACQUIRE))
			return MHD_YES;
		req->suspended = false;
		req->resume(req);
	}
	if (req->suspended)
		return MHD_YES;
	return request_queue(req);
}

/* Is seg (n bytes) a fixed word of some route's pattern ("v1",
 * "exports", "data", ...)? */
static bool
route_word(const struct server *srv, const char *seg, size_t n)
{
	const char	*p, *e;
	size_t		 i;

	for (i = 0; i < srv->nroutes; i++) {
		for (p = srv->routes[i].pattern; *p != '\0'; p = e) {
			while (*p == '/')
				p++;
			e = p + strcspn(p, "/");
			if (*p != ':' && (size_t)(e - p) == n &&
			    memcmp(p, seg, n) == 0)
				return true;
		}
	}
	return false;
}

/* The path for the log. A URL token (/v1/exports/{id}/{token}/data) may
 * come in any length and shape (a wrong place, '//', '%2F' in it): so
 * every segment that is neither a fixed word of the API nor an export id
 * in its place (/v1/exports/{id}) is logged as "***". Long paths are cut
 * after redaction; the logger escapes what is left. Returns its length
 * in red (at least LOG_PATH_MAX + 4 bytes, not NUL-terminated). */
static size_t
path_redact(const struct server *srv, const char *path, char *red)
{
	const char	*seg, *e, *word;
	size_t		 n, len = 0;
	bool		 exports = strncmp(path, "/v1/exports/", 12) == 0;
	int		 i;

	for (i = 0, seg = path; *seg != '\0'; i++, seg = e) {
		if (*seg == '/')
			seg++;
		e = seg + strcspn(seg, "/");
		n = (size_t)(e - seg);
		word = seg;
		if (n > 0 && !route_word(srv, seg, n) &&
		    !(exports && i == 2 && oid_valid(seg, n))) {
			word = "***";
			n = 3;
		}
		if (len + 1 + n > LOG_PATH_MAX) {
			memcpy(red + len, "...", 3);
			len += 3;
			break;
		}
		red[len++] = '/';
		memcpy(red + len, word, n);
		len += n;
	}
	return len;
}

/* The client's address as text into out, or "-". */
static void
remote_addr(struct MHD_Connection *conn, char *out, size_t outsz)
{
	const union MHD_ConnectionInfo	*ci;
	const struct sockaddr		*sa;

	snprintf(out, outsz, "-");
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci == NULL || (sa = ci->client_addr) == NULL)
		return;
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr,
		    out, (socklen_t)outsz);
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6,
		    &((const struct sockaddr_in6 *)sa)->sin6_addr, out,
		    (socklen_t)outsz);
}

/* The request's access-log line. */
static void
request_log(struct server *srv, struct request *req, bool completed)
{
	struct log_access	 a;
	char			 red[LOG_PATH_MAX + 4], remote[INET6_ADDRSTRLEN];

	remote_addr(req->conn, remote, sizeof(remote));
	memset(&a, 0, sizeof(a));
	a.method = req->method_str;
	a.method_len = strnlen(req->method_str, 16);
	a.path = red;
	a.path_len = path_redact(srv, req->path, red);
	a.status = req->queued ? req->status : 0;
	a.bytes = req->resp_sent != NULL ? (size_t)*req->resp_sent :
	    req->resp_bytes;
	a.us = isotime_mono_us() - req->start_us;
	a.remote = remote;
	a.id = req->id;
	a.route = req->route_result == ROUTER_OK ? req->route->pattern :
	    "unmatched";
	a.completed = completed;
	log_access(&a);
}

/* The access-log line, then the request's memory. */
static void
on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct server	*srv = cls;
	struct request	*req = *con_cls;

	(void)conn;

	if (req == NULL)
		return;
	gate_phase(conn, GATE_HEADERS);
	if (!req->started) {
		/* refused by libmicrohttpd itself (malformed, too big) */
		request_free(req);
		*con_cls = NULL;
		return;
	}
	if (req->queued)
		http_metrics_request(srv->metrics, req->route_result ==
		    ROUTER_OK ? (size_t)(req->route - srv->routes) :
		    HTTP_SLOT_UNMATCHED(srv->nroutes), req->method,
		    req->status, isotime_mono_us() - req->start_us);
	if (log_threshold >= LOG_INFO)
		request_log(srv, req,
		    toe == MHD_REQUEST_TERMINATED_COMPLETED_OK);
	request_free(req);
	*con_cls = NULL;
	atomic_fetch_sub(&srv->inflight, 1);
}

static void __attribute__((format(printf, 2, 0)))
on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char	msg[512];
	size_t	n;

	(void)cls;

	if (mhd_quiet) {
		mhd_quiet = false;
		return;
	}
	if (log_threshold < LOG_WARN)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n > 0 && msg[n - 1] == '\n')
		msg[--n] = '\0';
	log_msg(LOG_WARN, "http: %s", msg);
}

/* libmicrohttpd's connection events: the gate's, and a TLS connection
 * that closes lets go of the certificate its handshake used. */
static void
on_connection(void *cls, struct MHD_Connection *conn, void **ctx,
    enum MHD_ConnectionNotificationCode code)
{
	struct server	*srv = cls;

	gate_notify(srv->gate, conn, ctx, code);
	if (code == MHD_CONNECTION_NOTIFY_CLOSED && srv->tls != NULL)
		tls_conn_closed(conn);
}

/* HOST:PORT or [V6]:PORT into a socket address. */
static int
listen_parse(const char *listen, struct sockaddr_storage *ss, socklen_t *sl)
{
	struct addrinfo	 hints, *res = NULL;
	char		*host, *port;
	int		 rc;

	host = xstrdup(listen);
	if ((port = strrchr(host, ':')) == NULL) {
		log_error("--listen wants HOST:PORT, not \"%s\"", listen);
		free(host);
		return -1;
	}
	*port++ = '\0';
	if (host[0] == '[' && host[strlen(host) - 1] == ']') {
		memmove(host, host + 1, strlen(host));
		host[strlen(host) - 1] = '\0';
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	rc = getaddrinfo(host[0] != '\0' ? host : NULL, port, &hints, &res);
	if (rc != 0) {
		log_error("--listen %s: %s", listen, gai_strerror(rc));
		free(host);
		return -1;
	}
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*sl = res->ai_addrlen;
	freeaddrinfo(res);
	free(host);
	return 0;
}

int
server_listen_check(const char *listen)
{
	struct sockaddr_storage	 ss;
	socklen_t		 sl;

	return listen_parse(listen, &ss, &sl);
}

/* The listen socket. SO_REUSEADDR only lets a restart bind past old
 * connections in TIME_WAIT; SO_REUSEPORT, which lets a second process
 * take half of the connections, is set only when asked for. */
static int
listen_open(const char *addr, bool reuse_port)
{
	struct sockaddr_storage	 ss;
	socklen_t		 sl;
	int			 fd, one = 1;

	if (listen_parse(addr, &ss, &sl) == -1)
		return -1;
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
	    0);
	if (fd == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1 ||
	    (reuse_port && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one,
	    sizeof(one)) == -1) ||
	    bind(fd, (struct sockaddr *)&ss, sl) == -1 ||
	    listen(fd, LIMIT_LISTEN_BACKLOG) == -1) {
		log_error("cannot listen on %s: %s%s", addr, strerror(errno),
		    errno == EADDRINUSE && !reuse_port ? " (another server "
		    "runs there; --reuse-port shares a port on purpose)" : "");
		if (fd != -1)
			close(fd);
		return -1;
	}
	return fd;
}

/* Free what server_start made, whatever it got to (a failed start, or a
 * stop once the drain is over). */
static void
server_teardown(struct server *srv)
{
	if (srv->daemon != NULL)
		MHD_stop_daemon(srv->daemon);
	srv->daemon = NULL;
	gate_free(srv->gate);
	srv->gate = NULL;
	tls_free(srv->tls);
	srv->tls = NULL;
	free(srv->public_url);
	srv->public_url = NULL;
	cors_free(&srv->cors);
	ratelimit_free(&srv->rl);
	http_metrics_free(srv->metrics);
	srv->metrics = NULL;
}

int
server_start(struct server *srv, const struct server_options *o)
{
	struct gate_options		 go;
	struct sockaddr_storage		 ss;
	socklen_t			 sl = sizeof(ss);
	unsigned			 flags;
	long				 ncpu;
	unsigned			 threads = o->threads;
	size_t				 i;
	int				 fd;
	gnutls_certificate_retrieve_function2 *retrieve = tls_retrieve;
	struct MHD_OptionItem		 tlso[] = {
		{ MHD_OPTION_HTTPS_CERT_CALLBACK, 0, (void *)retrieve },
		{ MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)TLS_PRIORITIES },
		{ MHD_OPTION_END, 0, NULL },
	};

	srv->tls = o->tls;
	if ((fd = listen_open(o->listen, o->reuse_port)) == -1)
		goto fail;
	if (threads == 0) {
		ncpu = sysconf(_SC_NPROCESSORS_ONLN);
		threads = ncpu > 0 ? (unsigned)ncpu : 1;
	}
	memset(&go, 0, sizeof(go));
	go.max_connections = o->max_connections;
	go.max_per_ip = o->max_per_ip;
	go.header_timeout = o->header_timeout;
	go.body_timeout = o->body_timeout;
	go.idle_timeout = o->timeout;
	srv->metrics = http_metrics_new(srv->nroutes);
	go.metrics = srv->metrics;
	go.nroutes = srv->nroutes;
	go.tls = srv->tls != NULL;
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
		srv->port = ntohs(ss.ss_family == AF_INET6 ?
		    ((struct sockaddr_in6 *)&ss)->sin6_port :
		    ((struct sockaddr_in *)&ss)->sin_port);
	if ((srv->gate = gate_new(fd, &go)) == NULL)
		goto fail;
	srv->max_body = o->max_body;
	for (srv->methods = 0, i = 0; i < srv->nroutes; i++)
		srv->methods |= srv->routes[i].methods;
	srv->listener_max_body = o->listener_max_body;
	srv->drain_timeout = o->drain_timeout;
	ratelimit_init(&srv->rl, o->rate_burst, o->rate_per_second, NULL,
	    NULL);
	srv->public_url = o->public_url != NULL && o->public_url[0] != '\0' ?
	    xstrdup(o->public_url) : NULL;
	cors_init(&srv->cors, o->cors_origins);
	/* The gate accepts and holds the caps; libmicrohttpd's own cap is
	 * per worker thread (connections are spread by descriptor), so it
	 * is set high enough never to be the one that refuses. */
	flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO |
	    MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG | MHD_USE_TURBO |
	    MHD_USE_NO_LISTEN_SOCKET | MHD_USE_ITC;
	if (srv->tls != NULL) {
		flags |= MHD_USE_TLS;
		tls_install(srv->tls);
	}
	srv->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, srv,
	    MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, srv,
	    MHD_OPTION_THREAD_POOL_SIZE, threads,
	    MHD_OPTION_CONNECTION_LIMIT, (o->max_connections + 16) * threads,
	    MHD_OPTION_CONNECTION_TIMEOUT, o->timeout,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)LIMIT_CONN_MEMORY,
	    MHD_OPTION_URI_LOG_CALLBACK, on_uri, srv,
	    MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
	    MHD_OPTION_NOTIFY_CONNECTION, on_connection, srv,
	    MHD_OPTION_ARRAY, srv->tls != NULL ? tlso : tlso + 2,
	    MHD_OPTION_END);
	if (srv->daemon == NULL) {
		log_error("cannot start the HTTP server on %s", o->listen);
		goto fail;
	}
	if (gate_start(srv->gate, srv->daemon) == -1)
		goto fail;
	return 0;
fail:
	server_teardown(srv);
	return -1;
}

int
server_reload(struct server *srv)
{
	if (srv->tls == NULL) {
		log_info("SIGHUP: nothing to reload; still serving");
		return 0;
	}
	return tls_reload(srv->tls);
}

void
server_stop(struct server *srv)
{
	struct timespec	ts = { 0, 10 * 1000 * 1000 };
	unsigned	i;

	if (srv->daemon == NULL)
		return;
	/* No new connections; heads and bodies still arriving are cut.
	 * Requests already received are answered, within the deadline. */
	atomic_store(&srv->draining, 1);
	gate_drain(srv->gate);
	for (i = 0; i < srv->drain_timeout * 100 &&
	    (atomic_load(&srv->inflight) > 0 || gate_arrived(srv->gate) > 0);
	    i++)
		nanosleep(&ts, NULL);
	if (atomic_load(&srv->inflight) > 0)
		log_warn("shutdown: %ld requests still in flight after %u s",
		    (long)atomic_load(&srv->inflight), srv->drain_timeout);
	if (atomic_load(&srv->inflight) > 0 && srv->hooks != NULL &&
	    srv->hooks->abandon != NULL) {
		srv->hooks->abandon(srv->app);
		for (i = 0; i < 100 && atomic_load(&srv->inflight) > 0; i++)
			nanosleep(&ts, NULL);
	}
	server_teardown(srv);
}
