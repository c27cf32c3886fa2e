/* /v1/connections: list, get, create, replace, patch, delete and
 * dependencies (export-api.md §9). The shared machinery is resource.c;
 * what is a connection's own is here: its rendering, its secrets, and
 * the exports that use it. */
#include <microhttpd.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "http/response.h"
#include "model/connection.h"
#include "model/export.h"
#include "model/patch.h"
#include "model/secrets.h"
#include "run/ping.h"
#include "util/limits.h"
#include "util/isotime.h"
#include "util/json.h"
#include "util/xmalloc.h"

const struct api_kind api_connections_kind = {
	.res = STORE_CONNECTIONS,
	.what = "Connection",
	.noun = "connection",
	.path = "/v1/connections",
	.filters = {
		[CONNECTION_TYPE] = "type",
		[CONNECTION_INTEGRATION_ID] = "_integrationId",
		[CONNECTION_NAME] = "name",
	},
};

static char *
dup_field(const json_t *doc, const char *key)
{
	const char	*s = json_string_value(json_object_get(doc, key));

	return s != NULL ? xstrdup(s) : NULL;
}

/* Fill next from a finished document: body, sealed secrets, columns. */
static void
row_fill(struct store_row *next, const json_t *doc,
    const struct connection_meta *m, unsigned char *sealed,
    size_t sealed_len)
{
	next->body = connection_render(doc, m, &next->body_len);
	next->secrets = sealed;
	next->secrets_len = sealed_len;
	next->col[CONNECTION_TYPE] = dup_field(doc, "type");
	next->col[CONNECTION_INTEGRATION_ID] = dup_field(doc,
	    "_integrationId");
	next->col[CONNECTION_NAME] = dup_field(doc, "name");
}

/* Inside a write: its audit entry; -1 (with a 500) if it cannot be
 * made. */
static int
audit(struct store_write *w, const char *event, const struct store_row *cur,
    const struct store_row *next, const json_t *sb, const json_t *sa)
{
	struct request	*req = w->arg;

	if (api_audit(w, "connection", event, cur, next, sb, sa) == 0)
		return 0;
	return api_internal_error(req, req->state);
}

/* Seal secrets for (account, id) and fill next from doc (its secrets
 * taken) with the meta's times completed. */
static void
row_seal_fill(const unsigned char key[CRYPTO_KEYLEN], const char *account,
    const char *id, const json_t *doc, const json_t *secrets,
    struct connection_meta *m, struct store_row *next)
{
	unsigned char	*sealed;
	size_t		 sealed_len;

	sealed = secrets_seal(key, account, id, secrets, &sealed_len);
	m->id = id;
	m->modified_by = account;
	m->modified_ms = isotime_now_ms();
	if (m->created_ms == 0)
		m->created_ms = m->modified_ms;	/* a create */
	row_fill(next, doc, m, sealed, sealed_len);
}

int
connections_doc_check(json_t *doc, struct errors *errs)
{
	connection_normalise(doc);
	return connection_validate(doc, errs);
}

void
connections_row_create(const unsigned char key[CRYPTO_KEYLEN],
    const char *account, const char *id, const json_t *checked,
    struct store_row *next)
{
	struct connection_meta	 m;
	json_t			*doc, *secrets;

	doc = json_deep_copy(checked);
	secrets = connection_secrets_take(doc, NULL);
	memset(&m, 0, sizeof(m));
	m.offline = -1;
	row_seal_fill(key, account, id, doc, secrets, &m, next);
	json_decref(secrets);
	json_decref(doc);
}

/* The document of a write, its secrets taken (stored: the current ones,
 * or NULL), sealed for the row, rendered into next, audited (cur: the row
 * before, NULL for a create); -1 (errors added) when a required secret
 * sent as "******" has nothing stored to keep. */
static int
row_seal(struct request *req, struct store_write *w, const json_t *client,
    const json_t *stored, const struct store_row *cur,
    struct connection_meta *m, struct store_row *next)
{
	struct api_wstate	*x = req->state;
	json_t			*doc, *secrets;
	int			 rc;

	doc = json_deep_copy(client);
	secrets = connection_secrets_take(doc, stored);
	if (connection_validate(doc, &x->errs) == -1) {
		json_decref(secrets);
		json_decref(doc);
		return -1;
	}
	row_seal_fill(api_context(req)->key, w->account, w->id, doc, secrets,
	    m, next);
	rc = audit(w, cur != NULL ? "update" : "create", cur, next, stored,
	    secrets);
	json_decref(secrets);
	json_decref(doc);
	return rc;
}

static void
write_done(struct request *req, unsigned status)
{
	struct api_wstate	*x = req->state;
	char			 path[64], *loc;

	if (api_write_failed(req, &x->errs, "Connection"))
		return;
	api_reply_row(req, status);
	if (status == 201) {
		snprintf(path, sizeof(path), "/v1/connections/%s",
		    api_write_get(req)->result.id);
		loc = request_location(req, path);
		reply_header(req, MHD_HTTP_HEADER_LOCATION, loc);
		free(loc);
	}
}

static void
create_done(struct request *req)
{
	write_done(req, 201);
}

static void
replace_done(struct request *req)
{
	write_done(req, 200);
}

void
connections_list(struct request *req)
{
	api_list(req, &api_connections_kind);
}

void
connections_get(struct request *req)
{
	api_get(req, &api_connections_kind);
}

void
connections_delete(struct request *req)
{
	api_delete(req, &api_connections_kind);
}

/* ---- POST /v1/connections ---- */

static int
create_mutate(struct store_write *w, const struct store_row *cur,
    struct store_row *next)
{
	struct request		*req = w->arg;
	struct api_wstate	*x = req->state;
	struct connection_meta	 m;

	(void)cur;

	if (w->attempts > 0)
		oid_new(w->id);
	memset(&m, 0, sizeof(m));
	m.offline = -1;
	return row_seal(req, w, x->doc, NULL, NULL, &m, next);
}

void
connections_create(struct request *req)
{
	struct store_write	*w;
	struct api_wstate	*x;
	json_t			*doc;

	if ((doc = api_body_object(req)) == NULL)
		return;
	x = api_wstate_new(req, &api_connections_kind);
	x->doc = doc;
	if (connections_doc_check(doc, &x->errs) == -1) {
		reply_errors(req, &x->errs);
		return;
	}
	w = api_write_get(req);
	w->kind = STORE_CREATE;
	w->res = STORE_CONNECTIONS;
	oid_new(w->id);
	w->mutate = create_mutate;
	api_write_submit(req, create_done);
}

/* ---- PUT /v1/connections/{id} ---- */

static int
replace_mutate(struct store_write *w, const struct store_row *cur,
    struct store_row *next)
{
	struct request		*req = w->arg;
	struct api_wstate	*x = req->state;
	struct connection_meta	 m;
	json_t			*old, *stored = NULL;
	int			 bad, rc = -1;

	if (api_precondition(x, cur) == -1)
		return -1;
	if ((old = json_loadb(cur->body, cur->body_len, JSON_ALLOW_NUL,
	    NULL)) == NULL || connection_meta_read(old, &m) == -1) {
		api_internal_error(req, x);
		goto out;
	}
	stored = api_secrets_open(req->srv, cur, &bad);
	if (bad) {
		api_internal_error(req, x);
		goto out;
	}
	rc = row_seal(req, w, x->doc, stored, cur, &m, next);
out:
	json_decref(stored);
	json_decref(old);
	return rc;
}

void
connections_replace(struct request *req)
{
	struct store_write	*w;
	struct store_row	 row;
	struct api_wstate	*x;
	enum store_status	 rc;
	const char		*t;
	json_t			*doc;
	char			 id[OID_HEXLEN + 1];

	if (api_path_id(req, "Connection", id) == -1)
		return;
	/* the type never changes (exports rely on it): this read decides */
	if ((rc = store_get(api_store(req), STORE_CONNECTIONS, req->account,
	    id, &row)) != STORE_OK) {
		api_store_failure(req, rc, "Connection");
		return;
	}
	if ((doc = api_body_object(req)) == NULL) {
		store_row_free(&row);
		return;
	}
	x = api_wstate_new(req, &api_connections_kind);
	x->doc = doc;
	connection_normalise(doc);
	t = json_string_value(json_object_get(doc, "type"));
	if (t == NULL && row.col[CONNECTION_TYPE] != NULL)
		json_object_set_new(doc, "type",
		    json_string(row.col[CONNECTION_TYPE]));
	else if (t != NULL && row.col[CONNECTION_TYPE] != NULL &&
	    strcmp(t, row.col[CONNECTION_TYPE]) != 0)
		errors_add(&x->errs, 422, "immutable_field", "type",
		    "type cannot be changed (it is %s)",
		    row.col[CONNECTION_TYPE]);
	store_row_free(&row);
	connection_validate(doc, &x->errs);
	if (x->errs.n > 0) {
		reply_errors(req, &x->errs);
		return;
	}
	w = api_write_get(req);
	w->kind = STORE_UPDATE;
	w->res = STORE_CONNECTIONS;
	memcpy(w->id, id, sizeof(id));
	w->mutate = replace_mutate;
	api_write_submit(req, replace_done);
}

/* ---- PATCH /v1/connections/{id} ---- */

static int
patch_mutate(struct store_write *w, const struct store_row *cur,
    struct store_row *next)
{
	struct request		*req = w->arg;
	struct api_wstate	*x = req->state;
	struct connection_meta	 m;
	json_t			*body, *doc = NULL;
	char			*debug = NULL;
	int			 rc = -1;

	if (api_precondition(x, cur) == -1)
		return -1;
	if ((body = json_loadb(cur->body, cur->body_len, JSON_ALLOW_NUL,
	    NULL)) == NULL || connection_meta_read(body, &m) == -1) {
		api_internal_error(req, x);
		goto out;
	}
	doc = patch_document(body, connection_strip_readonly, "debugDate",
	    m.debug_date, x->ops, connection_patch_paths, &debug);
	if (connection_validate(doc, &x->errs) == -1)
		goto out;
	m.id = w->id;
	m.debug_date = debug;
	m.modified_by = w->account;
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
connections_patch(struct request *req)
{
	api_patch_submit(req, &api_connections_kind, connection_patch_paths,
	    patch_mutate);
}

/* ---- GET /v1/connections/{id}/dependencies ---- */

/* Each export using the connection, as {"id", "name"}. */
static int
dependency_row(void *arg, int64_t seq, const char *body, size_t len)
{
	json_t	*list = arg, *doc, *e;

	(void)seq;

	if ((doc = json_loadb(body, len, JSON_ALLOW_NUL, NULL)) == NULL)
		return -1;
	e = json_object();
	json_object_set(e, "id", json_object_get(doc, "_id"));
	json_object_set(e, "name", json_object_get(doc, "name"));
	json_array_append_new(list, e);
	json_decref(doc);
	return 0;
}

void
connections_dependencies(struct request *req)
{
	struct store		*st = api_store(req);
	struct store_filter	 f;
	struct store_row	 row;
	enum store_status	 rc;
	json_t			*out, *list;
	int64_t			 after = 0;
	bool			 more = true;
	char			 id[OID_HEXLEN + 1], *body;
	size_t			 len;

	if (api_path_id(req, "Connection", id) == -1)
		return;
	if ((rc = store_get(st, STORE_CONNECTIONS, req->account, id, &row)) !=
	    STORE_OK) {
		api_store_failure(req, rc, "Connection");
		return;
	}
	store_row_free(&row);
	memset(&f, 0, sizeof(f));
	f.eq[EXPORT_CONNECTION_ID] = id;
	list = json_array();
	while (more && (rc = store_list(st, STORE_EXPORTS, req->account, &f,
	    after, 0, LIMIT_PAGE_MAX, dependency_row, list, &more, &after)) ==
	    STORE_OK)
		;
	if (rc != STORE_OK) {
		json_decref(list);
		api_store_failure(req, rc, "Connection");
		return;
	}
	out = json_object();
	if (json_array_size(list) > 0)
		json_object_set(out, "exports", list);
	json_decref(list);
	body = json_render_new(out, &len);
	json_decref(out);
	reply_json(req, 200, body, len);
}

/* ---- GET /v1/connections/{id}/audit ---- */

void
connections_audit(struct request *req)
{
	audit_resource_list(req, STORE_CONNECTIONS, "connection",
	    "Connection");
}

/* ---- GET|POST /v1/connections/{id}/ping, POST /v1/connections/ping ---- */

/* A ping on its own thread, and what it found. */
struct ping_job {
	struct request		*req;
	json_t			*doc;		/* secrets in plain text */
	json_t			*secrets;	/* their map */
	const struct egress	*egress;
	struct fetch_limits	 limits;
	enum ping_result	 rc;
	char			*message;
	int			 saved;
	int64_t			 rev;		/* saved: the revision pinged */
	int			 offline;	/* before: -1 never pinged */
};

static int pings_in_flight;

static void
ping_job_free(void *p)
{
	struct ping_job	*job = p;

	json_decref(job->doc);
	json_decref(job->secrets);
	free(job->message);
	free(job);
}

/* 200 {"code":200}, or 422 ping_failed / invalid_type with the message. */
static void
ping_reply(struct request *req, const struct ping_job *job)
{
	struct errors	errs;

	if (job->rc == PING_OK) {
		reply_json_static(req, 200, "{\"code\":200}", 12);
		return;
	}
	errors_init(&errs);
	errors_add(&errs, 422, job->rc == PING_FAILED ? "ping_failed" :
	    "invalid_type", NULL, "%s", job->message);
	reply_errors(req, &errs);
}

static void
ping_written(struct request *req)
{
	struct api_wstate	*x = req->state;

	if (api_write_failed(req, &x->errs, "Connection"))
		return;
	ping_reply(req, x->extra);
}

/* Inside the write: the stored connection with offline set as the ping
 * found it; lastModified stays (the document did not change). */
static int
offline_mutate(struct store_write *w, const struct store_row *cur,
    struct store_row *next)
{
	struct request		*req = w->arg;
	struct api_wstate	*x = req->state;
	struct ping_job		*job = x->extra;
	struct connection_meta	 m;
	json_t			*body, *doc = NULL;
	int			 rc = -1;

	if ((body = json_loadb(cur->body, cur->body_len, JSON_ALLOW_NUL,
	    NULL)) == NULL || connection_meta_read(body, &m) == -1) {
		api_internal_error(req, x);
		goto out;
	}
	doc = json_deep_copy(body);
	connection_strip_readonly(doc);
	m.offline = job->rc != PING_OK;
	row_fill(next, doc, &m, api_secrets_copy(cur), cur->secrets_len);
	rc = audit(w, "update", cur, next, NULL, NULL);
out:
	json_decref(doc);
	json_decref(body);
	return rc;
}

/* Back on a server thread: a saved connection whose offline changes is
 * written (and audited), then the answer. */
static void
ping_done(struct request *req)
{
	struct api_wstate	*x = req->state;
	struct ping_job		*job = x->extra;
	struct store_write	*w;
	int			 offline = job->rc != PING_OK;

	__atomic_sub_fetch(&pings_in_flight, 1, __ATOMIC_SEQ_CST);
	if (!job->saved || job->rc == PING_UNSUPPORTED ||
	    job->offline == offline) {
		ping_reply(req, job);
		return;
	}
	w = api_write_get(req);
	w->kind = STORE_UPDATE;
	w->res = STORE_CONNECTIONS;
	memcpy(w->id, json_string_value(json_object_get(job->doc, "_id")),
	    OID_HEXLEN + 1);
	w->mutate = offline_mutate;
	api_write_submit(req, ping_written);
}

static void *
ping_thread(void *arg)
{
	struct ping_job	*job = arg;

	job->rc = ping_connection(job->doc, job->secrets, job->saved ?
	    json_string_value(json_object_get(job->doc, "_id")) : NULL,
	    job->rev, job->egress, &job->limits, &job->message);
	request_resume(job->req);
	return NULL;
}

/* Ping doc (takes ownership of doc and secrets) on a thread of its own:
 * the server's threads never wait for a remote. rev: a saved
 * connection's revision, 0 for an unsaved one. */
static void
ping_start(struct request *req, json_t *doc, json_t *secrets, int saved,
    int64_t rev, int offline)
{
	struct api_context	*ctx = api_context(req);
	struct api_wstate	*x = api_wstate_new(req, &api_connections_kind);
	struct ping_job		*job = xcalloc(1, sizeof(*job));
	pthread_attr_t		 attr;
	pthread_t		 t;
	int			 started;

	job->req = req;
	job->doc = doc;
	job->secrets = secrets;
	job->egress = ctx->egress;
	job->limits = ctx->fetch_limits;
	job->saved = saved;
	job->rev = rev;
	job->offline = offline;
	x->extra = job;
	x->extra_free = ping_job_free;
	if (__atomic_add_fetch(&pings_in_flight, 1, __ATOMIC_SEQ_CST) >
	    LIMIT_PINGS) {
		__atomic_sub_fetch(&pings_in_flight, 1, __ATOMIC_SEQ_CST);
		errors_add(&x->errs, 429, "rate_limited", NULL,
		    "%d pings are in flight; try again", LIMIT_PINGS);
		reply_header(req, "Retry-After", "1");
		reply_errors(req, &x->errs);
		return;
	}
	request_suspend(req, ping_done);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	started = pthread_create(&t, &attr, ping_thread, job) == 0;
	pthread_attr_destroy(&attr);
	if (!started) {
		job->rc = PING_FAILED;
		job->message = xstrdup("no thread for the ping");
		request_resume(req);
	}
}

/* Put each secret of map back at its path in doc. */
static void
secrets_restore(json_t *doc, const json_t *map)
{
	const char	*path;
	json_t		*v;

	json_object_foreach((json_t *)map, path, v)
		json_path_set_new(doc, path, json_incref(v));
}

void
connections_ping(struct request *req)
{
	struct connection_meta	 m;
	struct store_row	 row;
	enum store_status	 rc;
	json_t			*doc, *secrets;
	char			 id[OID_HEXLEN + 1];
	int64_t			 rev;
	int			 bad;

	if (api_path_id(req, "Connection", id) == -1)
		return;
	if ((rc = store_get(api_store(req), STORE_CONNECTIONS, req->account,
	    id, &row)) != STORE_OK) {
		api_store_failure(req, rc, "Connection");
		return;
	}
	doc = json_loadb(row.body, row.body_len, JSON_ALLOW_NUL, NULL);
	secrets = api_secrets_open(req->srv, &row, &bad);
	rev = row.rev;
	store_row_free(&row);
	if (doc == NULL || bad || connection_meta_read(doc, &m) == -1) {
		json_decref(doc);
		json_decref(secrets);
		api_store_failure(req, STORE_ERROR, "Connection");
		return;
	}
	secrets_restore(doc, secrets);
	ping_start(req, doc, secrets, 1, rev, m.offline);
}

void
connections_ping_unsaved(struct request *req)
{
	struct errors	 errs;
	json_t		*doc, *copy, *secrets;

	if ((doc = api_body_object(req)) == NULL)
		return;
	connection_normalise(doc);
	errors_init(&errs);
	if (connection_validate(doc, &errs) == -1) {
		json_decref(doc);
		reply_errors(req, &errs);
		return;
	}
	/* the secrets as they came, to keep out of the answer */
	copy = json_deep_copy(doc);
	secrets = connection_secrets_take(copy, NULL);
	json_decref(copy);
	ping_start(req, doc, secrets, 0, 0, -1);
}
