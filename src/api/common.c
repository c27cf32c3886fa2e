/* What every resource handler shares: the request body as a JSON object,
 * the id in the path, ETags and If-Match, the reply to a store status or
 * a finished write, a row's secrets, list query parameters, projection
 * and the next page's link. */
#include <ctype.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "http/response.h"
#include "http/server.h"
#include "model/secrets.h"
#include "util/json.h"
#include "util/limits.h"
#include "util/log.h"
#include "util/number.h"
#include "util/xmalloc.h"

/* Count values and check the size caps of a parsed document. */
static int
json_caps(const json_t *v, size_t *nodes, char *why, size_t whysz)
{
	const char	*k;
	json_t		*e;
	size_t		 i;

	if (++*nodes > LIMIT_JSON_NODES) {
		snprintf(why, whysz, "the document has more than %d values",
		    LIMIT_JSON_NODES);
		return -1;
	}
	if (json_is_string(v) && json_string_length(v) > LIMIT_STRING) {
		snprintf(why, whysz, "a string is longer than %d bytes",
		    LIMIT_STRING);
		return -1;
	}
	if (json_is_object(v)) {
		if (json_object_size(v) > LIMIT_KEYS) {
			snprintf(why, whysz, "an object has more than %d keys",
			    LIMIT_KEYS);
			return -1;
		}
		json_object_foreach((json_t *)v, k, e)
			if (json_caps(e, nodes, why, whysz) == -1)
				return -1;
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, e)
			if (json_caps(e, nodes, why, whysz) == -1)
				return -1;
	}
	return 0;
}

int
api_object_caps(const json_t *v, char *why, size_t whysz)
{
	size_t	nodes = 0;

	return json_caps(v, &nodes, why, whysz);
}

/* Bytes as a request body is read: a byte order mark skipped, strict
 * JSON (an object if want_object), the caps. NULL with why set. */
static json_t *
json_body_parse(const char *data, size_t len, bool want_object, char *why,
    size_t whysz)
{
	struct json_parse_error	 err;
	json_t			*v;
	char			 cap[96];

	/* a UTF-8 byte order mark (some .NET and PowerShell clients send
	 * one) is ignored, as RFC 8259 allows */
	if (len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0) {
		data += 3;
		len -= 3;
	}
	if ((v = (want_object ? json_parse : json_parse_any)(data, len,
	    LIMIT_JSON_DEPTH, &err)) == NULL) {
		snprintf(why, whysz, "%s: %s (line %d, column %d)",
		    err.unstorable ? "cannot be stored" : "is not valid JSON",
		    err.text, err.line, err.column);
		return NULL;
	}
	if (want_object && !json_is_object(v)) {
		json_decref(v);
		snprintf(why, whysz, "must be a JSON object");
		return NULL;
	}
	if (api_object_caps(v, cap, sizeof(cap)) == -1) {
		json_decref(v);
		snprintf(why, whysz, "is over a limit: %s", cap);
		return NULL;
	}
	return v;
}

json_t *
api_object_parse(const char *data, size_t len, char *why, size_t whysz)
{
	return json_body_parse(data, len, true, why, whysz);
}

/* The request body as JSON (an object if want_object), or NULL after
 * replying 400. */
static json_t *
body_parse(struct request *req, bool want_object)
{
	json_t	*v;
	char	 why[256];

	if (req->body.len == 0 || (req->body.len == 3 &&
	    memcmp(req->body.data, "\xEF\xBB\xBF", 3) == 0)) {
		reply_error(req, 400, "invalid_json", NULL,
		    "A JSON %s is required as the request body",
		    want_object ? "object" : "value");
		return NULL;
	}
	if ((v = json_body_parse(req->body.data, req->body.len, want_object,
	    why, sizeof(why))) == NULL)
		reply_error(req, 400, "invalid_json", NULL, "The body %s", why);
	return v;
}

json_t *
api_body_object(struct request *req)
{
	return body_parse(req, true);
}

json_t *
api_body_json(struct request *req)
{
	return body_parse(req, false);
}

void
api_store_failure(struct request *req, enum store_status st,
    const char *what)
{
	switch (st) {
	case STORE_NOT_FOUND:
		reply_error(req, 404, "not_found", NULL, "%s not found", what);
		break;
	case STORE_UNAVAILABLE:
		reply_error(req, 503, "unavailable", NULL,
		    "The store is unavailable; retry shortly");
		reply_header(req, MHD_HTTP_HEADER_RETRY_AFTER, "1");
		break;
	case STORE_FULL:
		reply_error(req, 503, "unavailable", NULL,
		    "The export's inbox is full; retry after its records "
		    "are consumed");
		reply_header(req, MHD_HTTP_HEADER_RETRY_AFTER, "5");
		break;
	default:
		reply_error(req, 500, "internal_error", NULL,
		    "Internal error (request %s)", req->id);
		break;
	}
}

int
api_path_id(struct request *req, const char *what, char id[OID_HEXLEN + 1])
{
	const char	*p = req->params[0];

	if (p == NULL || oid_normalize(p, strlen(p), id) == -1) {
		reply_error(req, 404, "not_found", NULL, "%s not found", what);
		return -1;
	}
	return 0;
}

/* The strong validator of a stored revision: id and revision. */
static void
etag_format(const char *id, int64_t rev, char *out, size_t outsz)
{
	snprintf(out, outsz, "\"%s-%" PRId64 "\"", id, rev);
}

void
api_reply_etag(struct request *req, const char *id, int64_t rev)
{
	char	etag[64];

	etag_format(id, rev, etag, sizeof(etag));
	reply_header(req, MHD_HTTP_HEADER_ETAG, etag);
}

int
api_etag_matches(const char *h, const char *id, int64_t rev, bool weak)
{
	char		 want[64];
	const char	*p = h, *q;
	size_t		 wl;

	etag_format(id, rev, want, sizeof(want));
	wl = strlen(want);
	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (*p == '\0')
			return 0;
		if (*p == '*')
			return 1;
		if (strncmp(p, "W/", 2) == 0) {
			p += 2;
			if (*p != '"' || (q = strchr(p + 1, '"')) == NULL)
				return 0;
			if (weak && (size_t)(q + 1 - p) == wl &&
			    memcmp(p, want, wl) == 0)
				return 1;
			p = q + 1;
			continue;
		}
		if (*p != '"' || (q = strchr(p + 1, '"')) == NULL)
			return 0;
		if ((size_t)(q + 1 - p) == wl && memcmp(p, want, wl) == 0)
			return 1;
		p = q + 1;
	}
}

json_t *
api_secrets_open(const struct server *srv, const struct store_row *r,
    int *bad)
{
	const struct api_context	*ctx = srv->app;
	json_t				*m;

	*bad = 0;
	if (secrets_open(ctx->key, r->account, r->id, r->secrets,
	    r->secrets_len, &m) == 0)
		return m;
	log_error("document %s: its secrets cannot be decrypted with this "
	    "secret key", r->id);
	*bad = 1;
	return NULL;
}

int
api_write_failed(struct request *req, const struct errors *errs,
    const char *what)
{
	struct store_write	*w = api_write_get(req);

	if (w->status == STORE_OK)
		return 0;
	if (w->status == STORE_REJECTED && errs->n > 0)
		reply_errors(req, errs);
	else if (w->status == STORE_IN_USE)
		reply_error(req, 409, "conflict", NULL, "The %s is used by "
		    "%lld export%s: change or delete %s first", what,
		    (long long)w->affected, w->affected == 1 ? "" : "s",
		    w->affected == 1 ? "it" : "them");
	else
		api_store_failure(req, w->status, what);
	return 1;
}

void
api_reply_row(struct request *req, unsigned status)
{
	struct store_row	*r = &api_write_get(req)->result;

	reply_json(req, status, r->body, r->body_len);
	r->body = NULL;
	api_reply_etag(req, r->id, r->rev);
}

int
api_query_number(struct request *req, struct errors *errs, const char *name,
    int64_t def, int64_t min, int64_t *out)
{
	const char	*v = request_query(req, name);
	int64_t		 n;

	*out = def;
	if (v == NULL)
		return 0;
	if (number_parse(v, strlen(v), &n) == -1 || n < min) {
		errors_add(errs, 400, "invalid_query_params", name,
		    "%s must be a whole number of at least %lld", name,
		    (long long)min);
		return -1;
	}
	*out = n;
	return 0;
}

int
api_projection_parse(struct request *req, struct projection *proj,
    struct errors *errs)
{
	char	err[160];

	if (project_parse(proj, request_query(req, "include"),
	    request_query(req, "exclude"), err, sizeof(err)) == 0)
		return 0;
	errors_add(errs, 400, "invalid_query_params", NULL, "%s", err);
	return -1;
}

/* Percent-encode a query value (RFC 3986 unreserved kept). */
static void
query_encode(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *s != '\0'; s++) {
		if (isalnum((unsigned char)*s) || strchr("-._~", *s) != NULL)
			buf_addc(b, *s);
		else {
			buf_addc(b, '%');
			buf_addc(b, hex[(unsigned char)*s >> 4]);
			buf_addc(b, hex[(unsigned char)*s & 15]);
		}
	}
}

char *
api_next_link(struct request *req, const char *path,
    const char *const *params, size_t nparams, int64_t limit,
    int64_t last_seq)
{
	const char	*v;
	char		*base;
	struct buf	 b;
	size_t		 i;

	buf_init(&b, 0);
	buf_adds(&b, "<");
	base = request_base(req);
	buf_adds(&b, base);
	free(base);
	buf_printf(&b, "%s?limit=%" PRId64, path, limit);
	for (i = 0; i < nparams; i++) {
		if ((v = request_query(req, params[i])) == NULL)
			continue;
		buf_printf(&b, "&%s=", params[i]);
		query_encode(&b, v);
	}
	buf_printf(&b, "&after=%" PRId64 ">; rel=\"next\"", last_seq);
	return buf_steal(&b, NULL);
}
