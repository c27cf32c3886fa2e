/*
 * Reading an answer of a run: its body parsed by the media type the
 * export names (successMediaType, errorMediaType, the connection's, or
 * the answer's Content-Type) with the webhook parsers, its records at
 * response.resourcePath, and whether a 2xx is a failure after all
 * (successPath, failPath; errorPath names the message).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "run/internal.h"
#include "util/json.h"
#include "util/xmalloc.h"
#include "webhook/parse.h"

static const char *
reply_header(void *arg, const char *name)
{
	return fetch_response_header(arg, name);
}

json_t *
run_reply_parse(struct run *r, const struct fetch_response *resp,
    bool success)
{
	struct webhook_request	 wr;
	const char		*m;
	json_t			*media, *doc = NULL;
	char			 why[WEBHOOK_WHYLEN];
	int			 rc;

	m = run_str(r->http, success ? "successMediaType" : "errorMediaType");
	if (m == NULL && !success)
		m = run_str(r->http, "successMediaType");
	if (m == NULL)
		m = run_str(r->conn, success ? "successMediaType" :
		    "errorMediaType");
	memset(&wr, 0, sizeof wr);
	wr.method = "GET";
	wr.url = resp->url;
	wr.body = resp->body;
	wr.bodylen = resp->body_len;
	wr.header = reply_header;
	wr.arg = (void *)resp;
	media = m != NULL ? json_pack("{s:s}", "requestMediaType", m) :
	    json_object();
	rc = webhook_parse_body(media, &wr, &doc, why, sizeof why);
	json_decref(media);
	if (rc == WEBHOOK_PARSE_UNSUPPORTED && resp->body_len > 0) {
		/* an answer of another type reads as plain text */
		media = json_pack("{s:s}", "requestMediaType", "plaintext");
		rc = webhook_parse_body(media, &wr, &doc, why, sizeof why);
		json_decref(media);
	}
	if (rc != WEBHOOK_PARSE_OK) {
		if (success)
			run_error(r, "parse_error", "application",
			    resp->status, "the answer could not be parsed: %s",
			    why);
		return NULL;
	}
	return doc != NULL ? doc : json_null();
}

json_t *
run_reply_records(const struct run *r, const json_t *doc)
{
	const char	*path = NULL;
	const json_t	*v;
	json_t		*out;

	if (r->pages > 1)
		path = run_str(r->http, "paging.resourcePath");
	if (path == NULL)
		path = run_str(r->http, "response.resourcePath");
	v = path != NULL && *path != '\0' ? webhook_path_get(doc, path) : doc;
	if (json_is_array(v))
		return json_copy((json_t *)v);
	out = json_array();
	if (v != NULL && !json_is_null(v))
		json_array_append(out, (json_t *)v);
	return out;
}

/* A value as integrator.io compares it with a list of strings. */
static bool
value_match(const json_t *v, const json_t *values)
{
	char		 buf[64];
	const char	*s;
	json_t		*w;
	size_t		 i;

	if (json_is_string(v))
		s = json_string_value(v);
	else if (json_is_true(v))
		s = "true";
	else if (json_is_false(v))
		s = "false";
	else if (json_is_null(v))
		s = "null";
	else if (json_is_integer(v)) {
		snprintf(buf, sizeof buf, "%lld",
		    (long long)json_integer_value(v));
		s = buf;
	} else if (json_is_real(v)) {
		snprintf(buf, sizeof buf, "%.17g", json_real_value(v));
		s = buf;
	} else
		return false;
	json_array_foreach(values, i, w)
		if (json_is_string(w) && strcmp(json_string_value(w), s) == 0)
			return true;
	return false;
}

bool
run_value_in(const json_t *v, const json_t *values, bool any_elem)
{
	json_t	*e;
	size_t	 i;

	if (any_elem && json_is_array(v)) {
		json_array_foreach(v, i, e)
			if (value_match(e, values))
				return true;
		return false;
	}
	return value_match(v, values);
}

char *
run_reply_message(const struct run *r, const struct fetch_response *resp,
    const json_t *doc)
{
	const char	*ep = run_str(r->http, "response.errorPath");
	const json_t	*v;
	char		*s, *t;
	size_t		 n;

	if (ep == NULL)
		ep = run_str(r->http, "errorPath");
	if (ep != NULL && doc != NULL && (v = webhook_path_get(doc, ep)) !=
	    NULL) {
		s = json_is_string(v) ? xstrdup(json_string_value(v)) :
		    json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
		if (s != NULL && strlen(s) > RUN_MAX_MESSAGE)
			s[RUN_MAX_MESSAGE] = '\0';
		return s != NULL ? s : xstrdup("");
	}
	n = resp->body_len < RUN_MAX_MESSAGE ? resp->body_len :
	    RUN_MAX_MESSAGE;
	t = xstrndup(resp->body != NULL ? resp->body : "", n);
	s = xmalloc(n + 64);
	snprintf(s, n + 64, "HTTP %ld%s%s", resp->status, n > 0 ? ": " : "",
	    t);
	free(t);
	return s;
}

int
run_reply_check(struct run *r, const struct fetch_response *resp,
    const json_t *doc)
{
	const char	*sp = run_str(r->http, "response.successPath");
	const char	*fp = run_str(r->http, "response.failPath");
	const json_t	*v;
	bool		 bad = false;
	char		*msg;

	if (sp == NULL)
		sp = run_str(r->http, "successPath");
	if (fp == NULL)
		fp = run_str(r->http, "failPath");
	if (sp != NULL) {
		v = webhook_path_get(doc, sp);
		bad = v == NULL || !run_value_in(v, json_path_get(r->http,
		    json_path_get(r->http, "response.successValues") ?
		    "response.successValues" : "successValues"),
		    json_is_true(json_path_get(r->http,
		    "response.allowArrayforSuccessPath")));
	}
	if (!bad && fp != NULL && (v = webhook_path_get(doc, fp)) != NULL) {
		const json_t *fv = json_path_get(r->http,
		    "response.failValues");

		if (fv == NULL)
			fv = json_path_get(r->http, "failValues");
		/* without failValues, any value at failPath is a failure */
		bad = fv == NULL ? !json_is_null(v) && !json_is_false(v) :
		    run_value_in(v, fv, false);
	}
	if (!bad)
		return 0;
	msg = run_reply_message(r, resp, doc);
	run_error(r, "application_error", "application", resp->status, "%s",
	    msg);
	free(msg);
	return -1;
}
