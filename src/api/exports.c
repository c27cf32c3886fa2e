/* /v1/exports: list, get, create, replace, delete, distributed, clone.
 * Writes prepare what they can on the request thread, then finish inside
 * the store's write transaction (mutate callbacks), where they see the
 * current row: If-Match, secret merge and rendering happen there. */
#include <stddef.h>
#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/api.h"
#include "api/page.h"
#include "crypto/crypto.h"
#include "http/response.h"
#include "model/connection.h"
#include "model/export.h"
#include "model/patch.h"
#include "model/project.h"
#include "model/secrets.h"
#include "util/isotime.h"
#include "util/json.h"
#include "util/xmalloc.h"

const struct api_kind api_exports_kind = {
	.res = STORE_EXPORTS,
	.what = "Export",
	.noun = "export",
	.path = "/v1/exports",
	.filters = {
		[EXPORT_ADAPTOR_TYPE] = "adaptorType",
		[EXPORT_TYPE] = "type",
		[EXPORT_CONNECTION_ID] = "_connectionId",
		[EXPORT_INTEGRATION_ID] = "_integrationId",
		[EXPORT_NAME] = "name",
	},
};

/* The request's write state, for exports. */
#define xstate api_wstate

static struct xstate *
xstate_new(struct request *req)
{
	return api_wstate_new(req, &api_exports_kind);
}

static int
precondition(struct xstate *x, const struct store_row *cur)
{
	return api_precondition(x, cur);
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

/* The 422 of an export naming no suitable connection of the account. */
static void
invalid_ref(struct errors *errs)
{
	errors_add(errs, 422, "invalid_ref", "_connectionId",
	    "Invalid reference: _connectionId");
}

/* The connection a document names, if its _connectionId is an id: 1 and
 * its type in type (freed by the caller), 0 if there is none, -1 after a
 * store failure (errs filled). */
static int
connection_type_get(struct request *req, const char *cid, char **type,
    struct errors *errs)
{
	struct store_row	row;
	enum store_status	rc;
	char			id[OID_HEXLEN + 1];

	*type = NULL;
	if (oid_normalize(cid, strlen(cid), id) == -1)
		return 0;
	rc = store_get(api_store(req), STORE_CONNECTIONS, req->account, id,
	    &row);
	if (rc == STORE_NOT_FOUND)
		return 0;
	if (rc != STORE_OK) {
		errors_add(errs, rc == STORE_UNAVAILABLE ? 503 : 500,
		    rc == STORE_UNAVAILABLE ? "unavailable" : "internal_error",
		    NULL, "The store is unavailable; retry shortly");
		return -1;
	}
	*type = row.col[CONNECTION_TYPE];
	row.col[CONNECTION_TYPE] = NULL;
	store_row_free(&row);
	return 1;
}

static bool
adaptor_known(const json_t *at)
{
	size_t	i;

	for (i = 0; json_is_string(at) && i < EXPORT_NADAPTORS; i++)
		if (strcmp(json_string_value(at), export_adaptor_types[i]) == 0)
			return true;
	return false;
}

const char *
exports_doc_connection(const json_t *doc)
{
	json_t	*c = json_object_get(doc, "_connectionId");

	return json_is_string(c) && oid_valid(json_string_value(c),
	    json_string_length(c)) ? json_string_value(c) : NULL;
}

/* Normalise and check a client document for create or replace, its
 * connection aside (doc_prepare looks at that). */
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

/* exports_doc_check, with the connection the document names: an absent
 * adaptorType is derived from it, and it must exist in the account and
 * suit the adaptorType. Looked at here, and again inside the write. */
static int
doc_prepare(struct request *req, json_t *doc, const char *stored_adaptor,
    struct errors *errs)
{
	const char	*cid;
	char		*ctype = NULL;
	int		 rc;

	export_normalise(doc, stored_adaptor);
	if ((cid = exports_doc_connection(doc)) != NULL &&
	    connection_type_get(req, cid, &ctype, errs) == -1)
		return -1;
	rc = exports_doc_check_ref(doc, stored_adaptor, ctype, errs);
	free(ctype);
	return rc;
}

int
exports_doc_check_ref(json_t *doc, const char *stored_adaptor,
    const char *ctype, struct errors *errs)
{
	const char	*cid = exports_doc_connection(doc), *derived;
	json_t		*at;

	if (json_object_get(doc, "adaptorType") == NULL && ctype != NULL &&
	    (derived = connection_adaptor(ctype, json_is_object(
	    json_object_get(doc, "rest")))) != NULL)
		json_object_set_new(doc, "adaptorType", json_string(derived));
	exports_doc_check(doc, stored_adaptor, errs);
	at = json_object_get(doc, "adaptorType");
	if (cid != NULL && (ctype == NULL || (adaptor_known(at) &&
	    export_infer_adaptor(doc) == NULL && !connection_suits(ctype,
	    json_string_value(at)))))
		invalid_ref(errs);
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

/* Inside a write: the connection the write names (w->ref) exists and
 * suits the export's adaptorType; else refuse with invalid_ref. */
static int
ref_check(struct store_write *w, struct xstate *x, const char *adaptor)
{
	if (w->ref_id[0] == '\0')
		return 0;
	if (w->ref_found && (adaptor == NULL ||
	    strcmp(adaptor, "SimpleExport") == 0 ||
	    connection_suits(w->ref.col[CONNECTION_TYPE], adaptor)))
		return 0;
	invalid_ref(&x->errs);
	return -1;
}

/* Name the document's connection as the write's reference. */
static void
ref_name(struct store_write *w, const char *cid)
{
	if (cid == NULL)
		return;
	w->ref_res = STORE_CONNECTIONS;
	/* ids are lowercase in the store */
	if (oid_normalize(cid, strlen(cid), w->ref_id) == -1)
		w->ref_id[0] = '\0';
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
	api_get(req, &api_exports_kind);
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

	if (ref_check(w, x, json_string_value(json_object_get(x->doc,
	    "adaptorType"))) == -1)
		return -1;
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
	if (doc_prepare(req, doc, NULL, &x->errs) == -1) {
		reply_errors(req, &x->errs);
		return;
	}
	w = api_write_get(req);
	w->kind = STORE_CREATE;
	oid_new(w->id);
	ref_name(w, exports_doc_connection(doc));
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

	if (precondition(x, cur) == -1 || ref_check(w, x,
	    cur->col[EXPORT_ADAPTOR_TYPE]) == -1)
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
	if (doc_prepare(req, doc, row.col[EXPORT_ADAPTOR_TYPE], &x->errs) ==
	    -1) {
		store_row_free(&row);
		reply_errors(req, &x->errs);
		return;
	}
	store_row_free(&row);
	w = api_write_get(req);
	w->kind = STORE_UPDATE;
	memcpy(w->id, id, sizeof(id));
	ref_name(w, exports_doc_connection(doc));
	w->mutate = replace_mutate;
	api_write_submit(req, replace_done);
}

/* ---- DELETE /v1/exports/{id} ---- */

void
exports_delete(struct request *req)
{
	api_delete(req, &api_exports_kind);
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
	row_fill(next, doc, &m, api_secrets_copy(cur), cur->secrets_len);
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
	mapped = conn != NULL && x->connection_map != NULL ?
	    json_object_get(x->connection_map, conn) : NULL;
	/* the target read before the write must still be the one */
	if (strcasecmp(mapped != NULL ? json_string_value(mapped) : "",
	    w->ref_id) != 0) {
		errors_add(&x->errs, 409, "conflict", NULL, "The export "
		    "changed while it was cloned; try again");
		json_decref(doc);
		json_decref(stored);
		return -1;
	}
	if (ref_check(w, x, cur->col[EXPORT_ADAPTOR_TYPE]) == -1) {
		json_decref(doc);
		json_decref(stored);
		return -1;
	}
	if (mapped != NULL)
		json_object_set_new(doc, "_connectionId",
		    json_string(w->ref_id));
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

/* The connection a clone's connectionMap gives the copy, named as the
 * write's reference; -1 after replying when the source cannot be read. */
static int
clone_target(struct request *req, struct store_write *w, const char *id)
{
	struct store_row	 row;
	enum store_status	 rc;
	const char		*conn;
	json_t			*mapped;

	rc = store_get(api_store(req), STORE_EXPORTS, req->account, id, &row);
	if (rc != STORE_OK) {
		api_store_failure(req, rc, "Export");
		return -1;
	}
	conn = row.col[EXPORT_CONNECTION_ID];
	if (conn != NULL && (mapped = json_object_get(((struct xstate *)
	    req->state)->connection_map, conn)) != NULL)
		ref_name(w, json_string_value(mapped));
	store_row_free(&row);
	return 0;
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
	if (x->connection_map != NULL && clone_target(req, w, id) == -1)
		return;
	w->kind = STORE_CREATE;
	oid_new(w->id);
	memcpy(w->source_id, id, sizeof(id));
	w->mutate = clone_mutate;
	api_write_submit(req, create_done);
}

/* ---- GET /v1/exports ---- */

void
exports_list(struct request *req)
{
	api_list(req, &api_exports_kind);
}

/* ---- PATCH /v1/exports/{id} ---- */

/* A stored export with the operations applied: every rule checked
 * again, secrets carried over sealed as they are. */
static int
patch_mutate(struct store_write *w, const struct store_row *cur,
    struct store_row *next)
{
	struct request		*req = w->arg;
	struct xstate		*x = req->state;
	struct export_meta	 m;
	json_t			*body, *doc = NULL;
	char			*debug = NULL;
	int			 rc = -1;

	if (precondition(x, cur) == -1)
		return -1;
	if ((body = json_loadb(cur->body, cur->body_len, JSON_ALLOW_NUL,
	    NULL)) == NULL || export_meta_read(body, &m) == -1) {
		api_internal_error(req, x);
		goto out;
	}
	doc = patch_document(body, export_strip_readonly, "debugUntil",
	    m.debug_until, x->ops, export_patch_paths, &debug);
	if (export_validate(doc, &x->errs) == -1)
		goto out;
	m.id = w->id;
	m.debug_until = debug;
	m.modified_ms = isotime_now_ms();
	row_fill(next, doc, &m, api_secrets_copy(cur), cur->secrets_len);
	rc = audit(w, "update", cur, next, NULL, NULL);
out:
	free(debug);
	json_decref(doc);
	json_decref(body);
	return rc;
}

void
exports_patch(struct request *req)
{
	api_patch_submit(req, &api_exports_kind, export_patch_paths,
	    patch_mutate);
}

/* ---- GET /v1/exports/{id}/dependencies ---- */

void
exports_dependencies(struct request *req)
{
	struct store_row	 row, conn;
	enum store_status	 rc;
	json_t			*out, *doc = NULL, *list, *e;
	char			 id[OID_HEXLEN + 1], *body;
	const char		*cid;
	size_t			 len;

	if (api_path_id(req, "Export", id) == -1)
		return;
	rc = store_get(api_store(req), STORE_EXPORTS, req->account, id, &row);
	if (rc != STORE_OK) {
		api_store_failure(req, rc, "Export");
		return;
	}
	out = json_object();
	cid = row.col[EXPORT_CONNECTION_ID];
	/* a connection named before connections existed is no dependency */
	if (cid != NULL && (rc = store_get(api_store(req), STORE_CONNECTIONS,
	    req->account, cid, &conn)) == STORE_OK) {
		e = json_object();
		json_object_set_new(e, "id", json_string(conn.id));
		json_object_set_new(e, "name", json_string(
		    conn.col[CONNECTION_NAME] != NULL ?
		    conn.col[CONNECTION_NAME] : ""));
		list = json_array();
		json_array_append_new(list, e);
		json_object_set_new(out, "connections", list);
		store_row_free(&conn);
	} else if (cid != NULL && rc != STORE_NOT_FOUND) {
		api_store_failure(req, rc, "Export");
		goto out;
	}
	body = json_render_new(out, &len);
	reply_json(req, 200, body, len);
out:
	json_decref(out);
	json_decref(doc);
	store_row_free(&row);
}

/* ---- PUT /v1/exports/{id}/replaceConnection ---- */

static int
swap_mutate(struct store_write *w, const struct store_row *cur,
    struct store_row *next)
{
	struct request		*req = w->arg;
	struct xstate		*x = req->state;
	struct export_meta	 m;
	json_t			*body, *doc = NULL;
	int			 rc = -1;

	if (precondition(x, cur) == -1)
		return -1;
	if (cur->col[EXPORT_ADAPTOR_TYPE] == NULL ||
	    strcmp(cur->col[EXPORT_ADAPTOR_TYPE], "WebhookExport") == 0 ||
	    strcmp(cur->col[EXPORT_ADAPTOR_TYPE], "SimpleExport") == 0) {
		errors_add(&x->errs, 422, "invalid_type", "adaptorType",
		    "A %s has no connection to replace",
		    cur->col[EXPORT_ADAPTOR_TYPE]);
		return -1;
	}
	if (ref_check(w, x, cur->col[EXPORT_ADAPTOR_TYPE]) == -1)
		return -1;
	if ((body = json_loadb(cur->body, cur->body_len, JSON_ALLOW_NUL,
	    NULL)) == NULL || export_meta_read(body, &m) == -1) {
		api_internal_error(req, x);
		goto out;
	}
	doc = json_deep_copy(body);
	export_strip_readonly(doc);
	json_object_set_new(doc, "_connectionId", json_string(w->ref_id));
	m.id = w->id;
	m.modified_ms = isotime_now_ms();
	row_fill(next, doc, &m, api_secrets_copy(cur), cur->secrets_len);
	rc = audit(w, "update", cur, next, NULL, NULL);
out:
	json_decref(doc);
	json_decref(body);
	return rc;
}

void
exports_replace_connection(struct request *req)
{
	struct store_write	*w;
	struct xstate		*x;
	json_t			*opts, *v;
	char			 id[OID_HEXLEN + 1];

	if (api_path_id(req, "Export", id) == -1)
		return;
	if ((opts = api_body_object(req)) == NULL)
		return;
	x = xstate_new(req);
	x->doc = opts;
	v = json_object_get(opts, "_newConnectionId");
	if (v == NULL || json_is_null(v)) {
		errors_add(&x->errs, 422, "missing_required_field",
		    "_newConnectionId", "_newConnectionId is required");
	} else if (!json_is_string(v) || !oid_valid(json_string_value(v),
	    json_string_length(v)))
		errors_add(&x->errs, 422, "invalid_ref", "_newConnectionId",
		    "Invalid reference: _newConnectionId");
	if (x->errs.n > 0) {
		reply_errors(req, &x->errs);
		return;
	}
	w = api_write_get(req);
	w->kind = STORE_UPDATE;
	memcpy(w->id, id, sizeof(id));
	ref_name(w, json_string_value(v));
	w->mutate = swap_mutate;
	api_write_submit(req, replace_done);
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
