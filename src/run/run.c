/*
 * The run of an HTTP export: its context, the first request, and the loop
 * of one page per call (send, parse, take the records, find the next
 * request by the paging method). Request building and auth are in
 * request.c and auth.c, reading answers in reply.c. Rules:
 * docs/running.md.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "run/internal.h"
#include "template/template.h"
#include "util/isotime.h"
#include "util/json.h"
#include "util/limits.h"
#include "util/xmalloc.h"

static const char *const paging_methods[] = {
	"page", "skip", "token", "url", "linkheader", "relativeuri", "body",
};

/* Legacy rest.pagingMethod values and the http ones they are. */
static const struct {
	const char	*rest;
	const char	*http;
} rest_paging[] = {
	{ "pageargument", "page" }, { "skipargument", "skip" },
	{ "token", "token" }, { "nextpageurl", "url" },
	{ "linkheader", "linkheader" }, { "relativeuri", "relativeuri" },
	{ "postbody", "body" },
};

const char *
run_str(const json_t *v, const char *path)
{
	return json_string_value(json_path_get(v, path));
}

void
run_error(struct run *r, const char *code, const char *source, long status,
    const char *fmt, ...)
{
	va_list	 ap;
	char	 msg[RUN_MAX_MESSAGE + 64], *masked;
	json_t	*e;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	masked = run_mask(r, msg);
	e = json_pack("{s:s, s:s, s:s}", "code", code, "message", masked,
	    "source", source);
	free(masked);
	if (e == NULL)
		return;
	if (status > 0)
		json_object_set_new(e, "statusCode", json_integer(status));
	json_array_append_new(r->errors, e);
}

json_t *
run_jtext(const char *s)
{
	json_t	*v = json_string(s != NULL ? s : "");

	return v != NULL ? v : json_string("");
}

void
run_secret(struct run *r, const char *s)
{
	size_t	 i;
	json_t	*v;

	if (s == NULL || strlen(s) < RUN_MIN_SECRET)
		return;
	json_array_foreach(r->secrets, i, v)
		if (strcmp(json_string_value(v), s) == 0)
			return;
	json_array_append_new(r->secrets, json_string(s));
}

char *
run_mask(const struct run *r, const char *s)
{
	struct buf	 b;
	const char	*p, *sec, *hit, *best;
	size_t		 i, bestlen;
	json_t		*v;

	if (s == NULL)
		return NULL;
	buf_init(&b, 0);
	for (p = s; *p != '\0';) {
		best = NULL;
		bestlen = 0;
		json_array_foreach(r->secrets, i, v) {
			sec = json_string_value(v);
			if ((hit = strstr(p, sec)) != NULL && (best == NULL ||
			    hit < best || (hit == best &&
			    strlen(sec) > bestlen))) {
				best = hit;
				bestlen = strlen(sec);
			}
		}
		if (best == NULL) {
			buf_adds(&b, p);
			break;
		}
		buf_add(&b, p, (size_t)(best - p));
		buf_adds(&b, "******");
		p = best + bestlen;
	}
	buf_addc(&b, '\0');
	return buf_steal(&b, NULL);
}

char *
run_render(struct run *r, const char *text, const char *field)
{
	struct template_error	 err;
	struct template_options	 opt = { 0 };
	size_t			 len;
	char			*out;

	opt.has_now = true;
	opt.now_ms = r->now_ms;
	out = template_render_text(text, strlen(text), r->ctx, &opt, &len,
	    &err);
	if (out == NULL)
		run_error(r, "template_error", "resource", 0,
		    "%s: line %u, column %u: %s", field, err.line, err.column,
		    err.message);
	return out;
}

/* The legacy rest block of an export as the http block it stands for. */
static json_t *
http_from_rest(const json_t *rest)
{
	json_t		*h = json_object(), *p = json_object(), *v;
	const char	*pm;
	size_t		 i;

	if ((v = json_object_get(rest, "relativeURI")) != NULL)
		json_object_set(h, "relativeURI", v);
	if ((v = json_object_get(rest, "method")) != NULL)
		json_object_set(h, "method", v);
	if ((v = json_object_get(rest, "headers")) != NULL)
		json_object_set(h, "headers", v);
	if ((v = json_object_get(rest, "postBody")) != NULL)
		json_object_set(h, "body", v);
	if ((v = json_object_get(rest, "resourcePath")) != NULL)
		json_object_set_new(h, "response",
		    json_pack("{s:O}", "resourcePath", v));
	if ((pm = json_string_value(json_object_get(rest, "pagingMethod")))
	    != NULL)
		for (i = 0; i < sizeof rest_paging / sizeof rest_paging[0]; i++)
			if (strcasecmp(pm, rest_paging[i].rest) == 0)
				json_object_set_new(p, "method",
				    json_string(rest_paging[i].http));
	if ((v = json_object_get(rest, "nextPagePath")) != NULL)
		json_object_set(p, "path", v);
	if ((v = json_object_get(rest, "nextPageRelativeURI")) != NULL)
		json_object_set(p, "relativeURI", v);
	if ((v = json_object_get(rest, "maxPagePath")) != NULL)
		json_object_set(p, "maxPagePath", v);
	if ((v = json_object_get(rest, "maxCountPath")) != NULL)
		json_object_set(p, "maxCountPath", v);
	if ((v = json_object_get(rest, "pageArgument")) != NULL)
		json_object_set(p, "pageArgument", v);
	json_object_set_new(h, "paging", p);
	return h;
}

/* A legacy rest connection block as the http block it stands for. */
static json_t *
conn_from_rest(const json_t *rest)
{
	json_t		*h = json_object(), *a = json_object(), *v;
	const char	*t = run_str(rest, "authType");

	if ((v = json_object_get(rest, "baseURI")) != NULL)
		json_object_set(h, "baseURI", v);
	if ((v = json_object_get(rest, "mediaType")) != NULL)
		json_object_set(h, "mediaType", v);
	if ((v = json_object_get(rest, "headers")) != NULL)
		json_object_set(h, "headers", v);
	if ((v = json_object_get(rest, "concurrencyLevel")) != NULL)
		json_object_set(h, "concurrencyLevel", v);
	json_object_set_new(a, "type", json_string(t != NULL ? t : "custom"));
	if ((v = json_object_get(rest, "basicAuth")) != NULL)
		json_object_set(a, "basic", v);
	if ((v = json_object_get(rest, "bearerToken")) != NULL)
		json_object_set_new(a, "token", json_pack("{s:O, s:s}",
		    "token", v, "location", run_str(rest, "tokenLocation") ?
		    run_str(rest, "tokenLocation") : "header"));
	json_object_set_new(h, "auth", a);
	return h;
}

/* The cutoff as templates see it: minus lagOffset ms, in dateFormat. */
static char *
delta_format(const json_t *exp, const char *iso, int64_t now_ms)
{
	json_t			*delta = json_object_get(exp, "delta"), *c;
	const char		*fmt = run_str(delta, "dateFormat");
	json_int_t		 lag;
	int64_t			 ms;
	char			 buf[ISOTIME_LEN + 1], *out;
	struct template_error	 err;
	struct template_options	 opt = { 0 };
	size_t			 len;

	if (iso == NULL || *iso == '\0')
		return xstrdup("");
	lag = json_integer_value(json_object_get(delta, "lagOffset"));
	if (lag != 0 && isotime_parse(iso, &ms) == 0 &&
	    isotime_format(ms - lag, buf) == 0)
		iso = buf;
	if (fmt == NULL)
		return xstrdup(iso);
	opt.has_now = true;
	opt.now_ms = now_ms;
	c = json_pack("{s:s, s:s}", "f", fmt, "d", iso);
	out = template_render_text("{{{dateFormat f d}}}", 20, c, &opt, &len,
	    &err);
	json_decref(c);
	return out != NULL ? out : xstrdup(iso);
}

/* lastExportDateTime and currentExportDateTime of this run. */
static void
run_times(struct run *r, const struct run_input *in)
{
	const char	*last, *cur, *type = run_str(in->export, "type");
	char		 now[ISOTIME_LEN + 1], *l, *c;
	bool		 delta = type != NULL && strcmp(type, "delta") == 0;

	last = run_str(in->post_data, "lastExportDateTime");
	if (last == NULL && delta)
		last = in->state_last != NULL ? in->state_last :
		    run_str(in->export, "delta.startDate");
	cur = run_str(in->post_data, "currentExportDateTime");
	isotime_format(in->now_ms, now);
	if (cur == NULL)
		cur = now;
	snprintf(r->current, sizeof r->current, "%s", cur);
	l = delta ? delta_format(in->export, last, in->now_ms) :
	    xstrdup(last != NULL ? last : "");
	c = delta && run_str(in->export, "delta.dateFormat") != NULL ?
	    delta_format(in->export, cur, in->now_ms) : xstrdup(cur);
	json_object_set_new(r->ctx, "lastExportDateTime", json_string(l));
	json_object_set_new(r->ctx, "currentExportDateTime", json_string(c));
	free(l);
	free(c);
}

/* Every string in v (the connection's opened secrets) is masked. */
static void
run_secrets_walk(struct run *r, const json_t *v, int depth)
{
	const char	*k;
	json_t		*m;
	size_t		 i;

	if (depth > LIMIT_JSON_DEPTH)
		return;
	if (json_is_string(v))
		run_secret(r, json_string_value(v));
	else if (json_is_object(v)) {
		json_object_foreach((json_t *)v, k, m)
			run_secrets_walk(r, m, depth + 1);
	} else if (json_is_array(v))
		json_array_foreach(v, i, m)
			run_secrets_walk(r, m, depth + 1);
}

/* Put the paging counters where templates read them. */
static void
run_counters(struct run *r)
{
	json_t	*exp = json_object_get(r->ctx, "export");

	json_path_set_new(exp, "http.paging.page", json_integer(r->page));
	json_path_set_new(exp, "http.paging.skip", json_integer(r->skip));
	json_path_set_new(exp, "http.paging.token",
	    json_string(r->token != NULL ? r->token : ""));
}

/* baseURI and a rendered relative URI as one URL (caller frees). */
static char *
run_url(struct run *r, const char *rel)
{
	const char	*tb = run_str(r->conn, "baseURI");
	char		*base, *url;
	size_t		 n;

	if (strncasecmp(rel, "http://", 7) == 0 ||
	    strncasecmp(rel, "https://", 8) == 0)
		return xstrdup(rel);
	if ((base = run_render(r, tb != NULL ? tb : "", "baseURI")) == NULL)
		return NULL;
	n = strlen(base);
	while (n > 0 && base[n - 1] == '/')
		base[--n] = '\0';
	url = xmalloc(n + strlen(rel) + 2);
	snprintf(url, n + strlen(rel) + 2, "%s%s%s", base,
	    *rel == '/' || *rel == '\0' || *rel == '?' ? "" : "/", rel);
	free(base);
	return url;
}

/* Render the request after the counters moved: relativeURI and body from
 * the paging templates for page 2+ where the method has them. 0, or -1
 * with an error added. */
int
run_prepare(struct run *r, bool later)
{
	const char	*uri = run_str(r->http, "relativeURI");
	const char	*body = run_str(r->http, "body");
	const char	*uf = "http.relativeURI", *bf = "http.body";
	char		*rel, *url, *b = NULL;

	if (later && r->paging != NULL && strcmp(r->paging,
	    "relativeuri") == 0 && run_str(r->http, "paging.relativeURI")) {
		uri = run_str(r->http, "paging.relativeURI");
		uf = "http.paging.relativeURI";
	}
	if (later && r->paging != NULL && strcmp(r->paging, "body") == 0 &&
	    run_str(r->http, "paging.body") != NULL) {
		body = run_str(r->http, "paging.body");
		bf = "http.paging.body";
	}
	run_counters(r);
	if ((rel = run_render(r, uri != NULL ? uri : "", uf)) == NULL)
		return -1;
	url = run_url(r, rel);
	free(rel);
	if (url == NULL)
		return -1;
	if (body != NULL && (b = run_render(r, body, bf)) == NULL) {
		free(url);
		return -1;
	}
	free(r->next_url);
	free(r->next_body);
	r->next_url = url;
	r->next_body = b;
	return 0;
}

/* Restore counters and the next request from a cursor (run_cursor). */
static void
run_resume(struct run *r, const json_t *c)
{
	const char	*t = run_str(c, "token"), *b = run_str(c, "body");

	r->page = json_integer_value(json_object_get(c, "page"));
	r->skip = json_integer_value(json_object_get(c, "skip"));
	r->pages = json_integer_value(json_object_get(c, "pages"));
	r->records = json_integer_value(json_object_get(c, "records"));
	r->token = t != NULL ? xstrdup(t) : NULL;
	r->next_url = xstrdup(run_str(c, "url") ? run_str(c, "url") : "");
	r->next_body = b != NULL ? xstrdup(b) : NULL;
	r->done = json_is_true(json_object_get(c, "done"));
	run_counters(r);
}

json_t *
run_cursor(const struct run *r)
{
	json_t	*c;

	c = json_pack("{s:I, s:I, s:I, s:I, s:b, s:s}", "page",
	    (json_int_t)r->page, "skip", (json_int_t)r->skip, "pages",
	    (json_int_t)r->pages, "records", (json_int_t)r->records, "done",
	    r->done, "current", r->current);
	if (r->token != NULL)
		json_object_set_new(c, "token", json_string(r->token));
	if (r->next_url != NULL)
		json_object_set_new(c, "url", json_string(r->next_url));
	if (r->next_body != NULL)
		json_object_set_new(c, "body", json_string(r->next_body));
	json_object_set(c, "last", json_object_get(r->ctx,
	    "lastExportDateTime"));
	return c;
}

int
run_supported(const char *adaptor, const char *conn_type, char *why,
    size_t whysz)
{
	if (adaptor != NULL && (strcmp(adaptor, "HTTPExport") == 0 ||
	    strcmp(adaptor, "RESTExport") == 0) && conn_type != NULL &&
	    (strcmp(conn_type, "http") == 0 || strcmp(conn_type, "rest") == 0))
		return 1;
	if (adaptor != NULL && strcmp(adaptor, "RDBMSExport") == 0 &&
	    conn_type != NULL && strcmp(conn_type, "rdbms") == 0)
		return 1;
	snprintf(why, whysz, "running %s exports is not supported",
	    adaptor != NULL ? adaptor : "these");
	return 0;
}

/* Check what the engine cannot do before anything is sent. */
static int
run_check(struct run *r, const json_t *exp, char *why, size_t whysz)
{
	const char	*m = run_str(r->http, "method");
	size_t		 i;

	r->paging = run_str(r->http, "paging.method");
	for (i = 0; r->paging != NULL && i < sizeof paging_methods /
	    sizeof paging_methods[0]; i++)
		if (strcmp(r->paging, paging_methods[i]) == 0)
			break;
	if (r->paging != NULL && i == sizeof paging_methods /
	    sizeof paging_methods[0]) {
		snprintf(why, whysz, "http.paging.method must be one of page, "
		    "skip, token, url, linkheader, relativeuri, body");
		return -1;
	}
	if (m != NULL && strcmp(m, "GET") != 0 && strcmp(m, "POST") != 0 &&
	    strcmp(m, "PUT") != 0 && strcmp(m, "PATCH") != 0 &&
	    strcmp(m, "DELETE") != 0) {
		snprintf(why, whysz, "http.method must be one of GET, POST, "
		    "PUT, PATCH, DELETE");
		return -1;
	}
	if (run_auth_check(r->conn, why, whysz) == -1)
		return -1;
	if (run_str(exp, "type") != NULL &&
	    strcmp(run_str(exp, "type"), "test") == 0) {
		r->test_limit = json_integer_value(json_path_get(exp,
		    "test.limit"));
		if (r->test_limit <= 0)
			r->test_limit = 1;
	}
	return 0;
}

static struct run *run_sql_new(struct run *, const struct run_input *, char *,
		    size_t);

/* What a run and a request signed outside one (run_auth_sign) start
 * from: the connection's block, its secrets to mask, the caches' key and
 * the templates' context. */
struct run *
run_base_new(const struct run_input *in)
{
	struct run	*r = xcalloc(1, sizeof *r);
	const json_t	*c = json_object_get(in->connection, "http");
	json_t		*lvl;

	if (c != NULL)
		r->conn = json_deep_copy(c);
	else if ((c = json_object_get(in->connection, "rest")) != NULL)
		r->conn = conn_from_rest(c);
	else
		r->conn = json_object();
	r->errors = json_array();
	r->stages = json_array();
	r->secrets = json_array();
	r->lim = in->limits;
	r->now_ms = in->now_ms;
	r->want_stages = in->stages;
	snprintf(r->conn_id, sizeof r->conn_id, "%s",
	    in->connection_id != NULL ? in->connection_id : "");
	snprintf(r->conn_key, sizeof r->conn_key, "%s/%lld", r->conn_id,
	    (long long)in->connection_rev);
	if ((lvl = json_object_get(in->connection, "concurrencyLevel")) ==
	    NULL)
		lvl = json_object_get(r->conn, "concurrencyLevel");
	r->concurrency = (int)json_integer_value(lvl);
	run_secrets_walk(r, in->secrets, 0);
	r->ctx = json_object();
	json_object_set_new(r->ctx, "export", in->export != NULL ?
	    json_deep_copy(in->export) : json_object());
	json_object_set(r->ctx, "connection", (json_t *)in->connection);
	json_object_set_new(r->ctx, "settings", in->settings != NULL ?
	    json_incref((json_t *)in->settings) : json_object());
	json_object_set_new(r->ctx, "record", in->record != NULL ?
	    json_incref((json_t *)in->record) : json_object());
	return r;
}

struct run *
run_new(const struct run_input *in, char *why, size_t whysz)
{
	struct run	*r = run_base_new(in);
	const json_t	*h;

	if ((h = json_object_get(in->export, "http")) != NULL)
		r->http = json_deep_copy(h);
	else if ((h = json_object_get(in->export, "rest")) != NULL)
		r->http = http_from_rest(h);
	else
		r->http = json_object();
	if (json_object_get(in->export, "rdbms") != NULL ||
	    json_object_get(in->connection, "rdbms") != NULL)
		return run_sql_new(r, in, why, whysz);
	if (run_check(r, in->export, why, whysz) == -1)
		goto fail;
	run_times(r, in);
	if (in->cursor != NULL) {
		json_object_set(r->ctx, "lastExportDateTime",
		    json_object_get(in->cursor, "last"));
		snprintf(r->current, sizeof r->current, "%s",
		    run_str(in->cursor, "current") ? run_str(in->cursor,
		    "current") : r->current);
		run_resume(r, in->cursor);
		return r;
	}
	r->page = json_integer_value(json_path_get(r->http, "paging.page"));
	r->skip = json_integer_value(json_path_get(r->http, "paging.skip"));
	if (run_str(r->http, "paging.token") != NULL)
		r->token = xstrdup(run_str(r->http, "paging.token"));
	if (run_prepare(r, false) == -1) {
		snprintf(why, whysz, "%s", json_string_value(json_object_get(
		    json_array_get(r->errors, 0), "message")));
		goto fail;
	}
	return r;
fail:
	run_free(r);
	return NULL;
}

/* An RDBMSExport's run: its query rendered now, sent by run_next. */
static struct run *
run_sql_new(struct run *r, const struct run_input *in, char *why,
    size_t whysz)
{
	const char	*q = run_str(in->export, "rdbms.query");
	const char	*t = run_str(in->connection, "rdbms.type");

	r->rdbms = true;
	if (t == NULL || strcmp(t, "postgresql") != 0) {
		snprintf(why, whysz, "running RDBMSExport exports on a %s "
		    "connection is not supported (postgresql is)",
		    t != NULL ? t : "non-rdbms");
		goto fail;
	}
	if (q == NULL || *q == '\0') {
		snprintf(why, whysz, "rdbms.query is required");
		goto fail;
	}
	run_times(r, in);
	if (in->cursor != NULL) {
		json_object_set(r->ctx, "lastExportDateTime",
		    json_object_get(in->cursor, "last"));
		run_resume(r, in->cursor);
		r->db_skip = r->records;
	}
	if ((r->sql = run_render(r, q, "rdbms.query")) == NULL) {
		snprintf(why, whysz, "%s", json_string_value(json_object_get(
		    json_array_get(r->errors, 0), "message")));
		goto fail;
	}
	if (run_str(in->export, "type") != NULL &&
	    strcmp(run_str(in->export, "type"), "test") == 0) {
		r->test_limit = json_integer_value(json_path_get(in->export,
		    "test.limit"));
		if (r->test_limit <= 0)
			r->test_limit = 1;
	}
	r->db_conn_ref = json_incref((json_t *)in->connection);
	r->db_conn = r->db_conn_ref;
	r->egress = in->egress;
	r->db_rows = in->rdbms_rows > 0 ? in->rdbms_rows : LIMIT_RUN_PAGE_SIZE;
	return r;
fail:
	run_free(r);
	return NULL;
}

void
run_free(struct run *r)
{
	if (r == NULL)
		return;
	run_sql_free(r);
	json_decref(r->db_conn_ref);
	free(r->sql);
	json_decref(r->http);
	json_decref(r->conn);
	json_decref(r->ctx);
	json_decref(r->errors);
	json_decref(r->stages);
	json_decref(r->secrets);
	free(r->token);
	free(r->next_url);
	free(r->next_body);
	free(r);
}

bool
run_done(const struct run *r)
{
	return r->done;
}

const json_t *
run_errors(const struct run *r)
{
	return r->errors;
}

const json_t *
run_stages(const struct run *r)
{
	return r->stages;
}

int64_t
run_pages(const struct run *r)
{
	return r->pages;
}

const char *
run_current(const struct run *r)
{
	return r->current;
}
