/* A connection's ping: http and rest (legacy fields) through run/fetch.c,
 * an http connection's oauth and cookie logins through the run engine's
 * (run/auth.c), rdbms postgresql through run/rdbms.c (docs/ping.md). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "crypto/crypto.h"
#include "run/ping.h"
#include "run/rdbms.h"
#include "run/run.h"
#include "template/template.h"
#include "util/buf.h"
#include "util/isotime.h"
#include "util/json.h"
#include "util/xmalloc.h"

#define PING_EXCERPT	200	/* bytes of a failed answer's body shown */
#define PING_HEADERS	64	/* request headers sent, the connection's
				   and the ping's own */

/* An http or rest connection's ping, its fields in one shape. */
struct ping_http {
	const char	*base, *rel, *method, *body, *media;
	const char	*auth, *user, *pass, *token, *location, *header_name;
	const char	*scheme, *param;
	const char	*success_path, *fail_path, *error_path;
	const json_t	*success_values, *fail_values, *headers;
	int		 any_of_array, insecure;
	int		 login;		/* oauth or cookie: the run engine's */
};

/* What one ping builds, freed together. */
struct ping_req {
	struct fetch_header	 h[PING_HEADERS];
	size_t			 nh;
	char			*owned[PING_HEADERS + 8];
	size_t			 nowned;
	json_t			*hide;	/* strings no message may show */
};

static const char *
str(const json_t *obj, const char *path)
{
	return json_string_value(json_path_get(obj, path));
}

static const char *
or(const char *s, const char *def)
{
	return s != NULL ? s : def;
}

/* The ping fields of an http connection. */
static void
http_fields(const json_t *h, struct ping_http *p)
{
	p->base = str(h, "baseURI");
	p->media = str(h, "mediaType");
	p->headers = json_object_get(h, "headers");
	p->insecure = json_is_true(json_object_get(h, "disableStrictSSL"));
	p->rel = str(h, "ping.relativeURI");
	p->method = str(h, "ping.method");
	p->body = str(h, "ping.body");
	p->success_path = str(h, "ping.successPath");
	p->success_values = json_path_get(h, "ping.successValues");
	p->fail_path = str(h, "ping.failPath");
	p->fail_values = json_path_get(h, "ping.failValues");
	p->error_path = str(h, "ping.errorPath");
	p->any_of_array = json_is_true(json_path_get(h,
	    "ping.allowArrayforSuccessPath"));
	p->auth = str(h, "auth.type");
	p->user = str(h, "auth.basic.username");
	p->pass = str(h, "auth.basic.password");
	p->token = str(h, "auth.token.token");
	p->location = str(h, "auth.token.location");
	p->header_name = str(h, "auth.token.headerName");
	p->scheme = str(h, "auth.token.scheme");
	p->param = str(h, "auth.token.paramName");
	p->login = p->auth != NULL && (strcmp(p->auth, "oauth") == 0 ||
	    strcmp(p->auth, "cookie") == 0);
}

/* The legacy rest block's names for the same fields. */
static void
rest_fields(const json_t *r, struct ping_http *p)
{
	p->base = str(r, "baseURI");
	p->media = str(r, "mediaType");
	p->headers = json_object_get(r, "headers");
	p->rel = str(r, "pingRelativeURI");
	p->method = str(r, "pingMethod");
	p->body = str(r, "pingBody");
	p->success_path = str(r, "pingSuccessPath");
	p->success_values = json_object_get(r, "pingSuccessValues");
	p->fail_path = str(r, "pingFailurePath");
	p->fail_values = json_object_get(r, "pingFailureValues");
	p->auth = str(r, "authType");
	p->user = str(r, "basicAuth.username");
	p->pass = str(r, "basicAuth.password");
	p->token = str(r, "bearerToken");
	p->location = str(r, "tokenLocation");
	p->header_name = str(r, "authHeader");
	p->scheme = str(r, "authScheme");
	p->param = str(r, "tokenParam");
}

static char *
keep(struct ping_req *r, char *s)
{
	r->owned[r->nowned++] = s;
	return s;
}

static void
header_add(struct ping_req *r, const char *name, const char *value,
    unsigned flags)
{
	if (r->nh < PING_HEADERS) {
		r->h[r->nh].name = name;
		r->h[r->nh].value = value;
		r->h[r->nh].flags = flags;
		r->nh++;
	}
}

/* A field rendered as a handlebars template over {"connection": doc}
 * (custom auth writes {{{connection.http.encrypted.key}}} in them).
 * NULL with *message set when it does not render. */
static char *
render(const char *text, const json_t *ctx, const char *what,
    char **message)
{
	struct template_error	 e;
	char			*out;
	size_t			 len;

	out = template_render_text(text, strlen(text), ctx, NULL, &len, &e);
	if (out == NULL)
		*message = xasprintf("%s does not render: %s (line %u, column "
		    "%u)", what, e.message, e.line, e.column);
	return out;
}

/* The connection's auth on the request: basic, token in a header or the
 * URL; custom and none add nothing of their own. -1 with *message for
 * an auth type a ping does not do. */
static int
auth_add(struct ping_req *r, const struct ping_http *p, struct buf *url,
    char **message)
{
	const char	*a = or(p->auth, "custom");
	char		*pair, *b64, *scheme;

	if (strcmp(a, "basic") == 0) {
		pair = xasprintf("%s:%s", or(p->user, ""), or(p->pass, ""));
		b64 = crypto_base64(pair, strlen(pair));
		crypto_wipe(pair, strlen(pair));
		free(pair);
		header_add(r, "Authorization", keep(r, xasprintf("Basic %s",
		    b64)), FETCH_SECRET);
		json_array_append_new(r->hide, json_string(b64));
		free(b64);
	} else if (strcmp(a, "token") == 0 && p->token != NULL) {
		json_array_append_new(r->hide, json_string(p->token));
		if (strcmp(or(p->location, "header"), "url") == 0) {
			buf_printf(url, "%s%s=%s", strchr(url->data, '?') ?
			    "&" : "?", or(p->param, "access_token"),
			    keep(r, run_url_encode(p->token)));
		} else if (strcmp(or(p->location, "header"), "header") == 0) {
			/* a scheme of spaces is "none" */
			scheme = xstrdup(or(p->scheme, "Bearer"));
			while (*scheme != '\0' && isspace((unsigned char)
			    scheme[strlen(scheme) - 1]))
				scheme[strlen(scheme) - 1] = '\0';
			header_add(r, or(p->header_name, "Authorization"),
			    keep(r, *scheme != '\0' ? xasprintf("%s %s",
			    scheme, p->token) : xstrdup(p->token)),
			    FETCH_SECRET);
			free(scheme);
		} else {
			*message = xstrdup("a ping does not send a token in "
			    "the body (auth.token.location body)");
			return -1;
		}
	} else if (strcmp(a, "custom") != 0 && strcmp(a, "token") != 0) {
		*message = xasprintf("a ping does not do %s auth (it does "
		    "basic, token, custom, and oauth and cookie on http "
		    "connections)", a);
		return -1;
	}
	return 0;
}

/* oauth and cookie: the run engine logs in now (run/auth.c) and its
 * token or cookie goes on the ping, and in the cache the connection's
 * runs share. A failed login is the ping's failure. */
static enum ping_result
auth_login(struct ping_req *r, const struct run_input *in,
    struct fetch_client *fc, struct buf *url, char **message)
{
	struct run_signed	 s;
	enum run_auth_result	 rc;
	const json_t		*v;
	size_t			 i;

	rc = run_auth_sign(in, fc, url->data, &s);
	json_array_foreach(s.masks, i, v)
		json_array_append(r->hide, (json_t *)v);
	if (rc == RUN_AUTH_OK) {
		crypto_wipe(url->data, url->len);
		buf_reset(url);
		buf_adds(url, s.url);
		if (s.name != NULL) {
			header_add(r, keep(r, s.name), keep(r, s.value),
			    FETCH_SECRET);
			s.name = s.value = NULL;
		}
	} else
		*message = rc == RUN_AUTH_FAILED ? xasprintf("auth_failed: %s",
		    s.why) : xstrdup(s.why);
	run_signed_free(&s);
	return rc == RUN_AUTH_OK ? PING_OK : rc == RUN_AUTH_FAILED ?
	    PING_FAILED : PING_UNSUPPORTED;
}

/* A value as the ping's values lists hold it: a string, or the JSON text
 * of a number, a boolean or null. */
static int
value_in(const json_t *v, const json_t *values)
{
	const json_t	*w;
	char		*text;
	size_t		 i;
	int		 hit = 0;

	if (v == NULL)
		return 0;
	text = json_is_string(v) ? xstrdup(json_string_value(v)) :
	    json_render_new(v, NULL);
	if (!json_is_array(values) || json_array_size(values) == 0)
		/* no list: any value but false, null and "" */
		hit = !json_is_false(v) && !json_is_null(v) && *text != '\0';
	json_array_foreach(values, i, w)
		if (json_is_string(w) && strcmp(json_string_value(w), text) == 0)
			hit = 1;
	free(text);
	return hit;
}

static int
path_in(const json_t *doc, const char *path, const json_t *values,
    int any_of_array)
{
	const json_t	*v = json_path_get(doc, path), *e;
	size_t		 i;

	if (any_of_array && json_is_array(v)) {
		json_array_foreach(v, i, e)
			if (value_in(e, values))
				return 1;
		return 0;
	}
	return value_in(v, values);
}

/* Replace every string of hide in s by "******" (a new string). */
static char *
scrub(char *s, const json_t *hide)
{
	const json_t	*v;
	const char	*h, *p, *hit;
	struct buf	 b;
	size_t		 i;

	json_array_foreach(hide, i, v) {
		h = json_string_value(v);
		if (h == NULL || *h == '\0' || strstr(s, h) == NULL)
			continue;
		buf_init(&b, strlen(s) + 8);
		for (p = s; (hit = strstr(p, h)) != NULL; p = hit + strlen(h)) {
			buf_add(&b, p, (size_t)(hit - p));
			buf_adds(&b, "******");
		}
		buf_adds(&b, p);
		buf_addc(&b, '\0');
		free(s);
		s = buf_steal(&b, NULL);
	}
	return s;
}

/* Why an answer is a failure, or NULL when it is a success. */
static char *
judge(const struct ping_http *p, const struct fetch_response *resp,
    const char *origin)
{
	struct json_parse_error	 e;
	json_t			*doc;
	const json_t		*said = NULL;
	char			*why = NULL, *what;
	int			 ok = resp->status >= 200 && resp->status < 300;

	doc = json_parse_any(resp->body, resp->body_len, 64, &e);
	if (ok && p->success_path != NULL)
		ok = doc != NULL && path_in(doc, p->success_path,
		    p->success_values, p->any_of_array);
	if (ok && p->fail_path != NULL)
		ok = !(doc != NULL && path_in(doc, p->fail_path,
		    p->fail_values, 0));
	if (!ok) {
		if (p->error_path != NULL && doc != NULL)
			said = json_path_get(doc, p->error_path);
		what = said != NULL ? (json_is_string(said) ?
		    xstrdup(json_string_value(said)) :
		    json_render_new(said, NULL)) :
		    xstrndup(resp->body, resp->body_len > PING_EXCERPT ?
		    PING_EXCERPT : resp->body_len);
		why = xasprintf("%s answered %ld%s%s", origin, resp->status,
		    *what != '\0' ? ": " : "", what);
		free(what);
	}
	json_decref(doc);
	return why;
}

static enum ping_result
ping_http(const struct run_input *in, const struct ping_http *p,
    const struct fetch_limits *limits, struct ping_req *r, char **message)
{
	struct fetch_request	 req = { 0 };
	struct fetch_response	 resp;
	struct fetch_client	*client;
	struct fetch_limits	 lim = *limits;
	const json_t		*hv;
	json_t			*ctx = json_pack("{s:O}", "connection",
				    in->connection);
	struct buf		 url;
	char			*s, origin[300];
	size_t			 i;
	enum ping_result	 rc = PING_FAILED;

	buf_init(&url, 8192);
	/* a ping says how the remote is now: no retries, not even of the
	 * login */
	lim.retries = 0;
	if ((client = fetch_client_new(in->egress, &lim)) == NULL) {
		*message = xstrdup("outbound requests cannot be made");
		goto out;
	}
	if ((s = render(or(p->base, ""), ctx, "baseURI", message)) == NULL)
		goto out;
	buf_adds(&url, s);
	free(s);
	if (p->rel != NULL && *p->rel != '\0') {
		if ((s = render(p->rel, ctx, "the ping's relativeURI",
		    message)) == NULL)
			goto out;
		if (*s != '/' && (url.len == 0 || url.data[url.len - 1] != '/'))
			buf_addc(&url, '/');
		buf_adds(&url, s);
		free(s);
	}
	buf_addc(&url, '\0');
	url.len--;
	json_array_foreach(p->headers, i, hv) {
		if (!json_is_string(json_object_get(hv, "name")) ||
		    !json_is_string(json_object_get(hv, "value")))
			continue;
		if (r->nh == PING_HEADERS - 2)
			break;
		if ((s = render(str(hv, "value"), ctx, "a header's value",
		    message)) == NULL)
			goto out;
		header_add(r, str(hv, "name"), keep(r, s), FETCH_SECRET);
	}
	if (p->login) {
		if ((rc = auth_login(r, in, client, &url, message)) != PING_OK)
			goto out;
		rc = PING_FAILED;
	} else if (auth_add(r, p, &url, message) == -1) {
		rc = PING_UNSUPPORTED;
		goto out;
	}
	buf_addc(&url, '\0');
	req.method = or(p->method, "GET");
	req.url = url.data;
	if (p->body != NULL && strcmp(req.method, "GET") != 0 &&
	    strcmp(req.method, "HEAD") != 0) {
		if ((s = render(p->body, ctx, "the ping's body", message)) ==
		    NULL)
			goto out;
		req.body = keep(r, s);
		req.body_len = strlen(s);
		header_add(r, "Content-Type", run_content_type(p->media), 0);
	}
	req.headers = r->h;
	req.nheaders = r->nh;
	req.insecure = p->insecure;
	fetch_url_origin(req.url, origin, sizeof(origin));
	if (fetch_do(client, &req, &resp) == -1)
		*message = xasprintf("%s: %s", fetch_error_code(resp.error),
		    resp.message);
	else if ((*message = judge(p, &resp, origin)) == NULL)
		rc = PING_OK;
	fetch_response_free(&resp);
out:
	fetch_client_free(client);
	json_decref(ctx);
	crypto_wipe(url.data, url.len);
	buf_free(&url);
	return rc;
}

/* SELECT 1, its failure said as "<code>: <message>" as an HTTP one is. */
static enum ping_result
rdbms_ping_said(const json_t *conn, const struct egress *policy,
    char **message)
{
	char	*err = NULL;

	if (rdbms_ping(conn, policy, &err) == 0)
		return PING_OK;
	*message = xasprintf("%s: %s", rdbms_error_code(), err);
	free(err);
	return PING_FAILED;
}

enum ping_result
ping_connection(const json_t *conn, const json_t *secrets, const char *id,
    int64_t rev, const struct egress *policy,
    const struct fetch_limits *limits, char **message)
{
	const char		*type = str(conn, "type"), *k;
	struct ping_http	 p;
	struct ping_req		 r;
	struct run_input	 in;
	const json_t		*v;
	enum ping_result	 rc = PING_UNSUPPORTED;
	size_t			 i;

	*message = NULL;
	memset(&p, 0, sizeof(p));
	memset(&r, 0, sizeof(r));
	memset(&in, 0, sizeof(in));
	in.connection = conn;
	in.secrets = secrets;
	in.connection_id = id;
	in.connection_rev = rev;
	in.egress = policy;
	in.now_ms = isotime_now_ms();
	r.hide = json_array();
	json_object_foreach((json_t *)secrets, k, v)
		if (json_is_string(v))
			json_array_append(r.hide, (json_t *)v);
	if (type != NULL && strcmp(type, "rdbms") == 0 &&
	    strcmp(or(str(conn, "rdbms.type"), ""), "postgresql") == 0) {
		rc = rdbms_ping_said(conn, policy, message);
	} else if (type != NULL && (strcmp(type, "http") == 0 ||
	    strcmp(type, "rest") == 0)) {
		if (strcmp(type, "http") == 0)
			http_fields(json_object_get(conn, "http"), &p);
		else
			rest_fields(json_object_get(conn, "rest"), &p);
		rc = ping_http(&in, &p, limits, &r, message);
	} else if (type != NULL && strcmp(type, "rdbms") == 0) {
		*message = xasprintf("pinging rdbms connections of type %s is "
		    "not supported (only postgresql)",
		    or(str(conn, "rdbms.type"), "(none)"));
	} else {
		*message = xasprintf("pinging %s connections is not supported "
		    "(only http, rest and rdbms postgresql)",
		    or(type, "(untyped)"));
	}
	if (*message != NULL)
		*message = scrub(*message, r.hide);
	for (i = 0; i < r.nowned; i++) {
		crypto_wipe(r.owned[i], strlen(r.owned[i]));
		free(r.owned[i]);
	}
	json_decref(r.hide);
	return rc;
}
