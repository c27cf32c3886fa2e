/*
 * One page of a run: send the prepared request (again once after an
 * auth refresh), judge the answer, take its records within the caps, and
 * find the next request by the paging method and the stop rules
 * (docs/running.md).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "run/internal.h"
#include "run/link.h"
#include "util/json.h"
#include "util/xmalloc.h"

/* A value at a path as a string (numbers too), or NULL; caller frees. */
static char *
value_text(const json_t *v)
{
	char	 buf[64];

	if (json_is_string(v))
		return xstrdup(json_string_value(v));
	if (json_is_integer(v)) {
		snprintf(buf, sizeof buf, "%lld",
		    (long long)json_integer_value(v));
		return xstrdup(buf);
	}
	if (json_is_real(v)) {
		snprintf(buf, sizeof buf, "%.17g", json_real_value(v));
		return xstrdup(buf);
	}
	return NULL;
}

/* A whole number at a path of doc (a number or a numeric string); -1. */
static int64_t
value_count(const json_t *doc, const char *path)
{
	const json_t	*v = path != NULL ? json_path_get(doc, path) : NULL;
	char		*end;
	long long	 n;

	if (json_is_integer(v))
		return json_integer_value(v);
	if (json_is_real(v))
		return (int64_t)json_real_value(v);
	if (json_is_string(v)) {
		n = strtoll(json_string_value(v), &end, 10);
		if (end != json_string_value(v) && *end == '\0')
			return n;
	}
	return -1;
}

/* The target of the first Link header entry with rel, or NULL; caller
 * frees. */
static char *
link_find(const struct fetch_response *resp, const char *rel)
{
	char	*t;
	size_t	 i;

	for (i = 0; i < resp->nheaders; i++)
		if (strcasecmp(resp->headers[i].name, "Link") == 0 &&
		    (t = link_next(resp->headers[i].value, rel)) != NULL)
			return t;
	return NULL;
}

/* previous_page for the paging templates of page 2+. */
static void
run_previous(struct run *r, const struct fetch_response *resp,
    const json_t *doc, const json_t *recs)
{
	json_t	*h = json_object(), *prev;
	char	*k;
	size_t	 i, j;

	for (i = 0; i < resp->nheaders; i++) {
		k = xstrdup(resp->headers[i].name);
		for (j = 0; k[j] != '\0'; j++)
			k[j] = (char)tolower((unsigned char)k[j]);
		json_object_set_new(h, k, json_string(resp->headers[i].value));
		free(k);
	}
	prev = json_pack("{s:O, s:O, s:o}", "full_response",
	    doc != NULL ? doc : json_null(), "last_record",
	    json_array_size(recs) > 0 ? json_array_get(recs,
	    json_array_size(recs) - 1) : json_null(), "headers", h);
	json_object_set_new(r->ctx, "previous_page", prev);
}

/* The stop rules every method shares: 1 if this page is the last. */
static int
run_last_page(struct run *r, const json_t *doc, size_t n)
{
	const char	*lp = run_str(r->http, "paging.lastPagePath");
	const char	*mp = run_str(r->http, "paging.maxPagePath");
	const char	*mc = run_str(r->http, "paging.maxCountPath");
	const json_t	*v;
	int64_t		 max;

	if (n == 0 || r->paging == NULL)
		return 1;
	if (lp != NULL && (v = json_path_get(doc, lp)) != NULL &&
	    run_value_in(v, json_path_get(r->http, "paging.lastPageValues"),
	    false))
		return 1;
	if (strcmp(r->paging, "page") != 0 && strcmp(r->paging, "skip") != 0)
		return 0;
	if (mp != NULL && (max = value_count(doc, mp)) >= 0)
		return r->pages >= max;
	if (mc != NULL && (max = value_count(doc, mc)) >= 0)
		return r->records >= max;
	return 0;
}

/* Find the next request after a page of n records; r->done if none. */
static void
run_advance(struct run *r, const struct fetch_response *resp,
    const json_t *doc, const json_t *recs)
{
	const char	*path, *loc, *rel;
	char		*next = NULL, *prev_url, *prev_body;
	size_t		 n = json_array_size(recs);

	if (run_last_page(r, doc, n)) {
		r->done = true;
		return;
	}
	prev_url = r->next_url;
	prev_body = r->next_body;
	r->next_url = NULL;
	r->next_body = NULL;
	if (strcmp(r->paging, "page") == 0 || strcmp(r->paging, "skip") == 0) {
		if (strcmp(r->paging, "page") == 0)
			r->page++;
		else
			r->skip += (int64_t)n;
		if (run_prepare(r, false) == -1)
			r->done = true;
	} else if (strcmp(r->paging, "token") == 0) {
		path = run_str(r->http, r->pages > 1 &&
		    run_str(r->http, "paging.pathAfterFirstRequest") ?
		    "paging.pathAfterFirstRequest" : "paging.path");
		loc = run_str(r->http, "paging.pathLocation");
		if (path == NULL)
			next = NULL;
		else if (loc != NULL && strcmp(loc, "header") == 0)
			next = fetch_response_header(resp, path) ?
			    xstrdup(fetch_response_header(resp, path)) : NULL;
		else
			next = value_text(json_path_get(doc, path));
		if (next == NULL || *next == '\0')
			r->done = true;
		else {
			free(r->token);
			r->token = next;
			next = NULL;
			if (run_prepare(r, false) == -1)
				r->done = true;
		}
	} else if (strcmp(r->paging, "url") == 0 ||
	    strcmp(r->paging, "linkheader") == 0) {
		if (strcmp(r->paging, "url") == 0)
			next = (path = run_str(r->http, "paging.path")) ?
			    value_text(json_path_get(doc, path)) : NULL;
		else
			next = link_find(resp, (rel = run_str(r->http,
			    "paging.linkHeaderRelation")) ? rel : "next");
		if (next == NULL || *next == '\0')
			r->done = true;
		else if (run_prepare(r, false) == 0) {
			free(r->next_url);
			r->next_url = link_resolve(prev_url, next);
		} else
			r->done = true;
	} else {
		run_previous(r, resp, doc, recs);
		if (run_prepare(r, true) == -1)
			r->done = true;
	}
	free(next);
	/* the same request again would return the same page for ever */
	if (!r->done && r->next_url != NULL && prev_url != NULL &&
	    strcmp(r->next_url, prev_url) == 0 &&
	    ((r->next_body == NULL && prev_body == NULL) ||
	    (r->next_body != NULL && prev_body != NULL &&
	    strcmp(r->next_body, prev_body) == 0)))
		r->done = true;
	if (r->done && r->next_url == NULL) {
		r->next_url = prev_url;
		r->next_body = prev_body;
		return;
	}
	free(prev_url);
	free(prev_body);
}

/* Send the prepared request: the answer in resp and its body parsed in
 * *doc (NULL if it did not parse); once more after the auth failed and a
 * new token or cookie may help. -1 with an error added. */
static int
run_send(struct run *r, struct fetch_client *fc, struct fetch_response *resp,
    json_t **doc)
{
	struct run_req		 q;
	struct fetch_request	 fr;
	int			 tries, rc;
	bool			 ok;

	for (tries = 0;; tries++) {
		memset(&q, 0, sizeof q);
		memset(resp, 0, sizeof *resp);
		*doc = NULL;
		if (run_req_build(r, fc, &q) == -1) {
			run_req_free(&q);
			return -1;
		}
		if (r->want_stages)
			json_array_append_new(r->stages, json_pack("{s:s, s:[o]}",
			    "name", "request", "data", run_req_stage(r, &q)));
		memset(&fr, 0, sizeof fr);
		fr.method = q.method;
		fr.url = q.url;
		fr.headers = q.h;
		fr.nheaders = q.nh;
		fr.body = q.body;
		fr.body_len = q.body != NULL ? strlen(q.body) : 0;
		fr.insecure = json_is_true(json_object_get(r->conn,
		    "disableStrictSSL"));
		if (run_slot_take(r->conn_key, r->concurrency, 60000) == -1) {
			run_req_free(&q);
			run_error(r, "concurrency", "connection", 0, "no request "
			    "slot of the connection freed up within 60 s "
			    "(concurrencyLevel %d)", r->concurrency);
			return -1;
		}
		rc = fetch_do(fc, &fr, resp);
		run_slot_give(r->conn_key, r->concurrency);
		run_req_free(&q);
		if (rc == -1) {
			run_error(r, fetch_error_code(resp->error), "connection",
			    resp->error == FETCH_EGRESS_DENIED ? 422 : 0, "%s",
			    resp->message);
			return -1;
		}
		ok = resp->status >= 200 && resp->status < 300;
		*doc = run_reply_parse(r, resp, ok);
		if (tries > 0 || !run_auth_failed(r, resp->status, *doc) ||
		    !run_auth_forget(r))
			return 0;
		json_decref(*doc);
		fetch_response_free(resp);
	}
}

/* The raw stage of an answer (preview). */
static json_t *
run_raw_stage(const struct run *r, const struct fetch_response *resp)
{
	json_t	*h = json_object(), *stage;
	char	*body, *v;
	size_t	 i;

	for (i = 0; i < resp->nheaders; i++) {
		v = run_mask(r, resp->headers[i].value);
		json_object_set_new(h, resp->headers[i].name, run_jtext(v));
		free(v);
	}
	body = run_mask(r, resp->body);
	stage = json_pack("{s:s, s:[{s:I, s:o, s:o}]}", "name", "raw",
	    "data", "statusCode", (json_int_t)resp->status, "headers", h,
	    "body", run_jtext(body));
	free(body);
	return stage;
}

void
run_cap(struct run *r, json_t *recs)
{
	int64_t	 room = r->lim.max_records - r->records;

	if (r->test_limit > 0 && r->test_limit - r->records < room)
		room = r->test_limit - r->records;
	if (room < 0)
		room = 0;
	if ((int64_t)json_array_size(recs) > room) {
		while ((int64_t)json_array_size(recs) > room)
			json_array_remove(recs, json_array_size(recs) - 1);
		if (r->test_limit == 0 || r->test_limit > r->lim.max_records)
			run_error(r, "max_records", "exportd", 0, "the run "
			    "stopped at its cap of %lld records",
			    (long long)r->lim.max_records);
		r->done = true;
	}
	r->records += (int64_t)json_array_size(recs);
	if (r->test_limit > 0 && r->records >= r->test_limit)
		r->done = true;
}

int
run_next(struct run *r, struct fetch_client *fc, json_t **records)
{
	struct fetch_response	 resp;
	json_t			*doc = NULL, *recs = NULL;
	long			 last;
	char			*msg;

	if (r->rdbms)
		return run_sql_next(r, records);
	*records = json_array();
	if (r->done)
		return 1;
	if (r->pages >= r->lim.max_pages) {
		run_error(r, "max_pages", "exportd", 0, "the run stopped at "
		    "its cap of %lld pages", (long long)r->lim.max_pages);
		r->done = true;
		return 1;
	}
	if (run_send(r, fc, &resp, &doc) == -1) {
		r->done = true;
		fetch_response_free(&resp);
		return 1;
	}
	r->pages++;
	if (r->want_stages)
		json_array_append_new(r->stages, run_raw_stage(r, &resp));
	last = (long)json_integer_value(json_path_get(r->http,
	    "paging.lastPageStatusCode"));
	if (resp.status == (last > 0 ? last : 404) && (last > 0 ||
	    r->pages > 1 || r->paging != NULL)) {
		r->done = true;
		goto out;
	}
	if (resp.status < 200 || resp.status >= 300) {
		msg = run_reply_message(r, &resp, doc);
		run_error(r, "http_status", "application", resp.status, "%s",
		    msg);
		free(msg);
		r->done = true;
		goto out;
	}
	if (doc == NULL || run_reply_check(r, &resp, doc) == -1) {
		r->done = true;
		goto out;
	}
	recs = run_reply_records(r, doc);
	run_cap(r, recs);
	if (r->want_stages)
		json_array_append_new(r->stages, json_pack("{s:s, s:O}", "name",
		    "parse", "data", recs));
	if (!r->done)
		run_advance(r, &resp, doc, recs);
	json_decref(*records);
	*records = recs;
out:
	json_decref(doc);
	fetch_response_free(&resp);
	return r->done ? 1 : 0;
}
