/* /v1/exports: list, get, create, replace, delete, distributed, clone.
 * Writes prepare what they can on the request thread, then finish inside
 * the store's write transaction (mutate callbacks), where they see the
 * current row: If-Match, secret merge and rendering happen there. */
#include <stddef.h>
#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/page.h"
#include "crypto/crypto.h"
#include "http/response.h"
#include "model/export.h"
#include "model/project.h"
#include "model/secrets.h"
#include "util/isotime.h"
#include "util/json.h"
#include "util/xmalloc.h"

/* What a write carries from the request thread into its mutate call. */
struct xstate {
	json_t		*doc;		/* client document, normalised */
	json_t		*block;		/* distributed configuration */
	char		*clone_name;
	json_t		*connection_map;
	char		*if_match;	/* header copy, or NULL */
	char		*reply;		/* distributed: the stored block */
	size_t		 reply_len;
	struct errors	 errs;		/* why mutate refused; last: large */
};

static void
xstate_free(void *p)
{
	struct xstate	*x = p;

	if (x == NULL)
		return;
	json_decref(x->doc);
	json_decref(x->block);
	json_decref(x->connection_map);
	free(x->clone_name);
	free(x->if_match);
	free(x->reply);
	free(x);
}

static struct xstate *
xstate_new(struct request *req)
{
	struct xstate	*x;
	const char	*im;

	/* the error list is large and filled only on failure: not zeroed */
	x = xmalloc(sizeof(*x));
	memset(x, 0, offsetof(struct xstate, errs));
	errors_init(&x->errs);
	if ((im = request_header(req, MHD_HTTP_HEADER_IF_MATCH)) != NULL)
		x->if_match = xstrdup(im);
	req->state = x;
	req->free_state = xstate_free;
	return x;
}

/* Inside a write: refuse with 412 unless If-Match allows this revision. */
static int
precondition(struct xstate *x, const struct store_row *cur)
{
	if (x->if_match == NULL || api_etag_matches(x->if_match, cur->id, cur->rev, false))
		return 0;
	errors_add(&x->errs, 412, "conflict", NULL,
	    "The export has changed since it was read (If-Match does not "
	    "match the current ETag)");
	return -1;
}

static char *
dup_field(const json_t *doc, const char *key)
{
	const char	*s = json_string_value(json_object_get(doc, key));

	return s != NULL ? xstrdup(s) : NULL;
}

/* Fill next from a finished document: body, sealed secrets, columns. */
static void
row_fill(struct store_row *next, const json_t *doc,
    const struct export_meta *m, unsigned char *sealed, size_t sealed_len)
{
	next->body = export_render(doc, m, &next->body_len);
	next->secrets = sealed;
	next->secrets_len = sealed_len;
	next->col[EXPORT_APIID] = xstrdup(m->api_identifier);
	next->col[EXPORT_ADAPTOR_TYPE] = dup_field(doc, "adaptorType");
	next->col[EXPORT_TYPE] = dup_field(doc, "type");
	next->col[EXPORT_CONNECTION_ID] = dup_field(doc, "_connectionId");
	next->col[EXPORT_INTEGRATION_ID] = dup_field(doc, "_integrationId");
	next->col[EXPORT_NAME] = dup_field(doc, "name");
}

static void
api_identifier_new(char out[STORE_APIID_LEN + 1])
{
	char	hex[11];

	crypto_random_hex(hex, 5);
	snprintf(out, STORE_APIID_LEN + 1, "e%s", hex);
}

/* Normalise and check a client document for create or replace. */
int
exports_doc_check(json_t *doc, const char *stored_adaptor,
    struct errors *errs)
{
	json_t		*at;

	export_normalise(doc, stored_adaptor);
	at = json_object_get(doc, "adaptorType");
	if (stored_adaptor != NULL && (!json_is_string(at) ||
	    strcmp(json_string_value(at), stored_adaptor) != 0))
		errors_add(errs, 422, "immutable_field", "adaptorType",
		    "adaptorType cannot be changed (it is %s)",
		    stored_adaptor);
	export_validate(doc, errs);
	return errs->n > 0 ? -1 : 0;
}

/* Inside a write: its audit entry; -1 (with a 500) if it cannot be
 * made. */
static int
audit(struct store_write *w, const char *event, const struct store_row *cur,
    const struct store_row *next, const json_t *sb, const json_t *sa)
{
	struct request	*req = w->arg;
	struct xstate	*x = req->state;

	if (api_audit(w, "export", event, cur, next, sb, sa) == 0)
		return 0;
	errors_add(&x->errs, 500, "internal_error", NULL,
	    "Internal error (request %s)", req->id);
	return -1;
}

/* Reply after a write: the row, 404/412/422 from mutate, or failure. */
static int
write_failed(struct request *req, struct xstate *x)
{
	return api_write_failed(req, &x->errs, "Export");
}

/* ---- GET /v1/exports/{id} ---- */

void
exports_get(struct request *req)
{
	struct store		*st = api_store(req);
	struct store_row	 row;
	enum store_status	 rc;
	const char		*cond;
	char			 id[OID_HEXLEN + 1];

	if (api_path_id(req, "Export", id) == -1)
		return;
	rc = store_get(st, STORE_EXPORTS, req->account, id, &row);
	if (rc != STORE_OK) {
		api_store_failure(req, rc, "Export");
		return;
	}
	/* conditional GET (RFC 9110 §13.2.2 order) */
	if ((cond = request_header(req, MHD_HTTP_HEADER_IF_MATCH)) != NULL &&
	    !api_etag_matches(cond, row.id, row.rev, false)) {
		reply_error(req, 412, "conflict", NULL, "The export has changed "
		    "(If-Match does not match the current ETag)");
		goto out;
	}
	if ((cond = request_header(req, MHD_HTTP_HEADER_IF_NONE_MATCH)) !=
	    NULL && api_etag_matches(cond, row.id, row.rev, true)) {
		reply_empty(req, 304);
		api_reply_etag(req, row.id, row.rev);
		goto out;
	}
	reply_json(req, 200, row.body, row.body_len);
	row.body = NULL;
	api_reply_etag(req, row.id, row.rev);
out:
	store_row_free(&row);
}

/* ---- POST /v1/exports ---- */

/* Finish a new export's row: seal its secrets for the new id, give it an
 * api identifier and its timestamps, render it. */
static void
row_new(const unsigned char key[CRYPTO_KEYLEN], const char *account,
    const char *id, const json_t *doc, const json_t *secrets,
    const char *source_id, struct store_row *next)
{
	struct export_meta	 m;
	char			 apiid[STORE_APIID_LEN + 1];
	unsigned char		*sealed;
	size_t			 sealed_len;

	sealed = secrets_seal(key, account, id, secrets, &sealed_len);
	api_identifier_new(apiid);
	memset(&m, 0, sizeof(m));
	m.id = id;
	m.api_identifier = apiid;
	m.source_id = source_id;
	m.created_ms = m.modified_ms = isotime_now_ms();
	row_fill(next, doc, &m, sealed, sealed_len);
}

void
exports_row_create(const unsigned char key[CRYPTO_KEYLEN],
    const char *account, const char *id, const json_t *checked,
    struct store_row *next)
{
	json_t	*doc, *secrets;

	doc = json_deep_copy(checked);
	secrets = export_secrets_take(doc, NULL);
	row_new(key, account, id, doc, secrets, NULL, next);
	json_decref(secrets);
	json_decref(doc);
}

static int
create_mutate(struct store_write *w, const struct store_row *cur,
    struct store_row *next)
{
	struct request	*req = w->arg;
	struct xstate	*x = req->state;

	(void)cur;

	if (w->attempts > 0)
		oid_new(w->id);	/* the id itself may have been taken */
	exports_row_create(api_context(req)->key, w->account, w->id, x->doc,
	    next);
	return audit(w, "create", NULL, next, NULL, NULL);
}

static void
create_done(struct request *req)
{
	char	path[64], *loc;

	if (write_failed(req, req->state))
		return;
	api_reply_row(req, 201);
	snprintf(path, sizeof(path), "/v1/exports/%s",
	    api_write_get(req)->result.id);
	loc = request_location(req, path);
	reply_header(req, MHD_HTTP_HEADER_LOCATION, loc);
	free(loc);
}

void
exports_create(struct request *req)
{
	struct store_write	*w;
	struct xstate		*x;
	json_t			*doc;

	if ((doc = api_body_object(req)) == NULL)
		return;
	x = xstate_new(req);
	x->doc = doc;
	if (exports_doc_check(doc, NULL, &x->errs) == -1) {
		reply_errors(req, &x->errs);
		return;
	}
	w = api_write_get(req);
	w->kind = STORE_CREATE;
	oid_new(w->id);
	w->mutate = create_mutate;
	api_write_submit(req, create_done);
}

/* ---- PUT /v1/exports/{id} ---- */

static int
replace_mutate(struct store_write *w, const struct store_row *cur,
    struct store_row *next)
{
	struct request		*req = w->arg;
	struct xstate		*x = req->state;
	struct export_meta	 m;
	json_t			*doc = NULL, *stored = NULL, *secrets, *old;
	unsigned char		*sealed;
	size_t			 sealed_len;
	int			 bad, rc = -1;

	if (precondition(x, cur) == -1)
		return -1;
	if ((old = json_loadb(cur->body, cur->body_len, JSON_ALLOW_NUL, NULL)) == NULL ||
	    export_meta_read(old, &m) == -1) {
		errors_add(&x->errs, 500, "internal_error", NULL,
		    "Internal error (request %s)", req->id);
		goto out;
	}
	stored = api_secrets_open(req->srv, cur, &bad);
	if (bad) {
		errors_add(&x->errs, 500, "internal_error", NULL,
		    "Internal error (request %s)", req->id);
		goto out;
	}
	doc = json_deep_copy(x->doc);
	secrets = export_secrets_take(doc, stored);
	sealed = secrets_seal(api_context(req)->key, w->account, w->id, secrets,
	    &sealed_len);
	m.id = w->id;
	m.modified_ms = isotime_now_ms();
	row_fill(next, doc, &m, sealed, sealed_len);
	rc = audit(w, "update", cur, next, stored, secrets);
	json_decref(secrets);
out:
	json_decref(doc);
	json_decref(stored);
	json_decref(old);
	return rc;
}

static void
replace_done(struct request *req)
{
	if (write_failed(req, req->state))
		return;
	api_reply_row(req, 200);
}

void
exports_replace(struct request *req)
{
	struct store		*st = api_store(req);
	struct store_write	*w;
	struct store_row	 row;
	struct xstate		*x;
	enum store_status	 rc;
	json_t			*doc;
	char			 id[OID_HEXLEN + 1];

	if (api_path_id(req, "Export", id) == -1)
		return;
	/* adaptorType never changes, so this read can decide it. */
	if ((rc = store_get(st, STORE_EXPORTS, req->account, id, &row)) !=
	    STORE_OK) {
		api_store_failure(req, rc, "Export");
		return;
	}
	if ((doc = api_body_object(req)) == NULL) {
		store_row_free(&row);
		return;
	}
	x = xstate_new(req);
	x->doc = doc;
	if (exports_doc_check(doc, row.col[EXPORT_ADAPTOR_TYPE],
	    &x->errs) == -1) {
		store_row_free(&row);
		reply_errors(req, &x->errs);
		return;
	}
	store_row_free(&row);
	w = api_write_get(req);
	w->kind = STORE_UPDATE;
	memcpy(w->id, id, sizeof(id));
	w->mutate = replace_mutate;
	api_write_submit(req, replace_done);
}

/* ---- DELETE /v1/exports/{id} ---- */

static int
delete_mutate(struct store_write *w, const struct store_row *cur,
    struct store_row *next)
{
	struct request	*req = w->arg;

	(void)next;

	if (precondition(req->state, cur) == -1)
		return -1;
	return audit(w, "delete", cur, NULL, NULL, NULL);
}

static void
delete_done(struct request *req)
{
	if (write_failed(req, req->state))
		return;
	reply_empty(req, 204);
}

void
exports_delete(struct request *req)
{
	struct store_write	*w;
	char			 id[OID_HEXLEN + 1];

	if (api_path_id(req, "Export", id) == -1)
		return;
	xstate_new(req);
	w = api_write_get(req);
	w->kind = STORE_DELETE;
	memcpy(w->id, id, sizeof(id));
	w->mutate = delete_mutate;
	api_write_submit(req, delete_done);
}

/* ---- /v1/exports/{id}/distributed ---- */

/* The inline block path of a distributed export, or NULL (with a 422
 * added) when the export has none. */
static const char *
distributed_path(const json_t *doc, struct errors *errs)
{
	const char	*t = json_string_value(json_object_get(doc, "type"));
	const char	*a = json_string_value(json_object_get(doc,
			    "adaptorType"));

	if (t != NULL && strcmp(t, "distributed") == 0 && a != NULL) {
		if (strcmp(a, "NetSuiteExport") == 0)
			return "netsuite.distributed";
		if (strcmp(a, "SalesforceExport") == 0)
			return "salesforce.distributed";
	}
	errors_add(errs, 422, "invalid_type", "type",
	    "Only exports with type distributed and adaptorType "
	    "NetSuiteExport or SalesforceExport have a distributed "
	    "configuration");
	return NULL;
}

void
exports_distributed_get(struct request *req)
{
	struct store		*st = api_store(req);
	struct store_row	 row;
	struct errors		 errs;
	enum store_status	 rc;
	const char		*path;
	json_t			*doc, *block;
	char			 id[OID_HEXLEN + 1], *body;
	size_t			 len;

	if (api_path_id(req, "Export", id) == -1)
		return;
	if ((rc = store_get(st, STORE_EXPORTS, req->account, id, &row)) !=
	    STORE_OK) {
		api_store_failure(req, rc, "Export");
		return;
	}
	errors_init(&errs);
	doc = json_loadb(row.body, row.body_len, JSON_ALLOW_NUL, NULL);
	if (doc == NULL) {
		api_store_failure(req, STORE_ERROR, "Export");
		goto out;
	}
	if ((path = distributed_path(doc, &errs)) == NULL) {
		reply_errors(req, &errs);
		goto out;
	}
	block = json_path_get(doc, path);
	if (block != NULL)
		body = json_render_new(block, &len);
	else
		body = xstrdup("{}"), len = 2;
	reply_json(req, 200, body, len);
	api_reply_etag(req, row.id, row.rev);
out:
	json_decref(doc);
	store_row_free(&row);
}

static int
distributed_mutate(struct store_write *w, const struct store_row *cur,
    struct store_row *next)
{
	struct request		*req = w->arg;
	struct xstate		*x = req->state;
	struct export_meta	 m;
	const char		*path;
	json_t			*doc, *body;
	unsigned char		*sealed = NULL;
	int			 rc = -1;

	if (precondition(x, cur) == -1)
		return -1;
	if ((body = json_loadb(cur->body, cur->body_len, JSON_ALLOW_NUL, NULL)) == NULL ||
	    export_meta_read(body, &m) == -1) {
		json_decref(body);
		errors_add(&x->errs, 500, "internal_error", NULL,
		    "Internal error (request %s)", req->id);
		return -1;
	}
	doc = json_deep_copy(body);
	if ((path = distributed_path(doc, &x->errs)) == NULL)
		goto out;
	export_strip_readonly(doc);
	json_path_set_new(doc, path, json_incref(x->block));
	m.id = w->id;
	m.modified_ms = isotime_now_ms();
	if (cur->secrets != NULL) {
		sealed = xmalloc(cur->secrets_len);
		memcpy(sealed, cur->secrets, cur->secrets_len);
	}
	row_fill(next, doc, &m, sealed, cur->secrets_len);
	x->reply = json_render_new(x->block, &x->reply_len);
	rc = audit(w, "update", cur, next, NULL, NULL);
out:
	json_decref(doc);
	json_decref(body);
	return rc;
}

static void
distributed_done(struct request *req)
{
	struct xstate		*x = req->state;
	struct store_write	*w = api_write_get(req);

	if (write_failed(req, x))
		return;
	reply_json(req, 200, x->reply, x->reply_len);
	x->reply = NULL;
	api_reply_etag(req, w->result.id, w->result.rev);
}

void
exports_distributed_put(struct request *req)
{
	struct store		*st = api_store(req);
	struct store_write	*w;
	struct store_row	 row;
	struct xstate		*x;
	enum store_status	 rc;
	json_t			*block;
	const char		*path;
	char			 id[OID_HEXLEN + 1];

	if (api_path_id(req, "Export", id) == -1)
		return;
	if ((rc = store_get(st, STORE_EXPORTS, req->account, id, &row)) !=
	    STORE_OK) {
		api_store_failure(req, rc, "Export");
		return;
	}
	x = xstate_new(req);
	/* type and adaptorType as read decide the block; the write checks
	 * type again in case it changed since. */
	x->doc = json_object();
	if (row.col[EXPORT_TYPE] != NULL)
		json_object_set_new(x->doc, "type", json_string(row.col[EXPORT_TYPE]));
	if (row.col[EXPORT_ADAPTOR_TYPE] != NULL)
		json_object_set_new(x->doc, "adaptorType",
		    json_string(row.col[EXPORT_ADAPTOR_TYPE]));
	store_row_free(&row);
	if ((path = distributed_path(x->doc, &x->errs)) == NULL) {
		reply_errors(req, &x->errs);
		return;
	}
	if ((block = api_body_object(req)) == NULL)
		return;
	x->block = block;
	export_strip_nulls(block);
	if (export_validate_distributed(json_string_value(json_object_get(
	    x->doc, "adaptorType")), block, &x->errs) == -1) {
		reply_errors(req, &x->errs);
		return;
	}
	w = api_write_get(req);
	w->kind = STORE_UPDATE;
	memcpy(w->id, id, sizeof(id));
	w->mutate = distributed_mutate;
	api_write_submit(req, distributed_done);
}

/* ---- POST /v1/exports/{id}/clone ---- */

/* "Clone - " + name, cut to the name limit on a character boundary. */
static char *
clone_default_name(const char *name)
{
	char	*s = xasprintf("Clone - %s", name != NULL ? name : "");
	size_t	 n = 0, i;

	for (i = 0; s[i] != '\0'; i++) {
		if (((unsigned char)s[i] & 0xc0) != 0x80 && n++ == LIMIT_NAME) {
			s[i] = '\0';
			break;
		}
	}
	return s;
}

static int
clone_mutate(struct store_write *w, const struct store_row *cur,
    struct store_row *next)
{
	struct request		*req = w->arg;
	struct xstate		*x = req->state;
	char			*name;
	const char		*conn;
	json_t			*doc, *stored, *mapped;
	int			 bad;

	/* If-Match applies to the source the copy is made from */
	if (w->attempts == 0 && precondition(x, cur) == -1)
		return -1;
	if (w->attempts > 0)
		oid_new(w->id);
	if ((doc = json_loadb(cur->body, cur->body_len, JSON_ALLOW_NUL,
	    NULL)) == NULL) {
		errors_add(&x->errs, 500, "internal_error", NULL,
		    "Internal error (request %s)", req->id);
		return -1;
	}
	stored = api_secrets_open(req->srv, cur, &bad);
	if (bad) {
		json_decref(doc);
		errors_add(&x->errs, 500, "internal_error", NULL,
		    "Internal error (request %s)", req->id);
		return -1;
	}
	export_strip_readonly(doc);
	name = x->clone_name != NULL ? xstrdup(x->clone_name) :
	    clone_default_name(json_string_value(json_object_get(doc,
	    "name")));
	json_object_set_new(doc, "name", json_string(name));
	free(name);
	conn = json_string_value(json_object_get(doc, "_connectionId"));
	if (conn != NULL && x->connection_map != NULL &&
	    (mapped = json_object_get(x->connection_map, conn)) != NULL)
		json_object_set(doc, "_connectionId", mapped);
	row_new(api_context(req)->key, w->account, w->id, doc, stored,
	    cur->id, next);
	json_decref(stored);
	json_decref(doc);
	return audit(w, "create", NULL, next, NULL, NULL);
}

/* Check the clone options: name and connectionMap. */
static int
clone_options(struct xstate *x, json_t *opts)
{
	json_t		*name, *map, *v;
	const char	*k;
	char		 field[160];
	size_t		 n;

	if ((name = json_object_get(opts, "name")) != NULL &&
	    !json_is_null(name)) {
		n = json_is_string(name) ? json_utf8_length(
		    json_string_value(name), json_string_length(name)) : 0;
		if (!json_is_string(name) || n == 0 || n > LIMIT_NAME)
			errors_add(&x->errs, 422, "invalid_field", "name",
			    "name must be a non-empty string of at most %d "
			    "characters", LIMIT_NAME);
		else
			x->clone_name = xstrdup(json_string_value(name));
	}
	if ((map = json_object_get(opts, "connectionMap")) != NULL &&
	    !json_is_null(map)) {
		if (!json_is_object(map))
			errors_add(&x->errs, 422, "invalid_field",
			    "connectionMap", "connectionMap must be an object "
			    "of old to new _connectionId");
		else {
			json_object_foreach(map, k, v) {
				if (json_is_string(v) && oid_valid(
				    json_string_value(v), json_string_length(v)))
					continue;
				snprintf(field, sizeof(field),
				    "connectionMap.%s", k);
				errors_add(&x->errs, 422, "invalid_field",
				    field, "connectionMap values must be "
				    "24-character hex ObjectIds");
			}
			x->connection_map = json_incref(map);
		}
	}
	return x->errs.n > 0 ? -1 : 0;
}

void
exports_clone(struct request *req)
{
	struct store_write	*w;
	struct xstate		*x;
	json_t			*opts = NULL;
	char			 id[OID_HEXLEN + 1];

	if (api_path_id(req, "Export", id) == -1)
		return;
	if (req->body.len > 0 && (opts = api_body_object(req)) == NULL)
		return;
	x = xstate_new(req);
	if (opts != NULL && clone_options(x, opts) == -1) {
		json_decref(opts);
		reply_errors(req, &x->errs);
		return;
	}
	json_decref(opts);
	w = api_write_get(req);
	w->kind = STORE_CREATE;
	oid_new(w->id);
	memcpy(w->source_id, id, sizeof(id));
	w->mutate = clone_mutate;
	api_write_submit(req, create_done);
}

/* ---- GET /v1/exports ---- */

/* A list page's own state: what each chunk read needs again. */
struct list_src {
	char			 account[OID_HEXLEN + 1];
	struct store_filter	 f;
	struct projection	 proj;
};

static void
list_src_free(void *arg)
{
	struct list_src	*s = arg;
	size_t		 i;

	for (i = 0; i < sizeof(s->f.eq) / sizeof(s->f.eq[0]); i++)
		free((char *)s->f.eq[i]);
	project_free(&s->proj);
	free(s);
}

/* Stored bytes go out as they are; only a projection parses them. */
static int
list_row(void *arg, int64_t seq, const char *body, size_t len)
{
	struct page	*p = arg;
	struct list_src	*s = p->arg;
	char		*t;
	size_t		 n;

	if (page_row_begin(p, seq) == -1)
		return -1;
	if (s->proj.mode == PROJECT_NONE)
		buf_add(&p->out, body, len);
	else if ((t = project_apply(&s->proj, body, len, &n)) != NULL) {
		buf_add(&p->out, t, n);
		free(t);
	} else {
		p->failed = true;
		return -1;
	}
	return page_row_end(p);
}

static enum store_status
list_read(struct page *p, int64_t after, int64_t skip, int64_t n, bool *more)
{
	struct list_src	*s = p->arg;
	int64_t		 last;

	return store_list(p->st, STORE_EXPORTS, s->account, &s->f, after,
	    skip, n, list_row, p, more, &last);
}

static enum store_status
list_bound(struct page *p, int64_t after, int64_t n, int64_t *last,
    int64_t *rows, bool *more)
{
	struct list_src	*s = p->arg;

	return store_bound(p->st, STORE_EXPORTS, s->account, &s->f, after, n,
	    last, rows, more);
}

static void
list_close(struct page *p, struct buf *b)
{
	(void)p;

	buf_addc(b, ']');
}

static const struct page_ops list_page_ops = {
	list_read, list_bound, list_close, list_src_free,
};

static char *
query_dup(struct request *req, const char *name)
{
	const char	*v = request_query(req, name);

	return v != NULL ? xstrdup(v) : NULL;
}

/* Query parameters the next page's link carries over. */
static const char *const filter_params[] = {
	"adaptorType", "type", "_connectionId", "_integrationId", "name",
	"include", "exclude",
};

void
exports_list(struct request *req)
{
	struct store		*st = api_store(req);
	struct list_src		*src;
	struct page		*p;
	enum store_status	 rc;
	struct errors		 errs;
	int64_t			 limit, skip, after, last;
	bool			 more;
	char			*link;

	src = xcalloc(1, sizeof(*src));
	/* every bad parameter is reported at once */
	errors_init(&errs);
	api_query_number(req, &errs, "limit", LIMIT_PAGE_DEFAULT, 1, &limit);
	api_query_number(req, &errs, "skip", 0, 0, &skip);
	api_query_number(req, &errs, "after", 0, 0, &after);
	api_projection_parse(req, &src->proj, &errs);
	if (errs.n > 0) {
		list_src_free(src);
		reply_errors(req, &errs);
		return;
	}
	if (limit > LIMIT_PAGE_MAX)
		limit = LIMIT_PAGE_MAX;
	memcpy(src->account, req->account, sizeof(src->account));
	src->f.eq[EXPORT_ADAPTOR_TYPE] = query_dup(req, "adaptorType");
	src->f.eq[EXPORT_TYPE] = query_dup(req, "type");
	src->f.eq[EXPORT_CONNECTION_ID] = query_dup(req, "_connectionId");
	src->f.eq[EXPORT_INTEGRATION_ID] = query_dup(req, "_integrationId");
	src->f.eq[EXPORT_NAME] = query_dup(req, "name");
	p = page_new(st, &list_page_ops, src, "[", after, limit);
	if ((rc = page_start(p, skip)) != STORE_OK) {
		page_free(p);
		api_store_failure(req, rc, "Export");
		return;
	}
	if (p->done && p->rows == 0) {
		page_free(p);
		reply_empty(req, 204);
		return;
	}
	more = p->more;
	last = p->streaming ? p->bound : p->last;
	page_reply(req, p);
	if (more) {
		link = api_next_link(req, "/v1/exports", filter_params,
		    sizeof(filter_params) / sizeof(filter_params[0]), limit,
		    last);
		reply_header(req, MHD_HTTP_HEADER_LINK, link);
		free(link);
	}
}

/* ---- /v1/exports/{id}/audit and /state ---- */

void
exports_audit(struct request *req)
{
	audit_resource_list(req, STORE_EXPORTS, "export", "Export");
}

void
exports_state_keys(struct request *req)
{
	state_keys(req, STORE_EXPORTS, "Export");
}

void
exports_state_get(struct request *req)
{
	state_get(req, STORE_EXPORTS, "Export");
}

void
exports_state_put(struct request *req)
{
	state_put(req, STORE_EXPORTS, "Export");
}

void
exports_state_delete(struct request *req)
{
	state_delete(req, STORE_EXPORTS, "Export");
}
