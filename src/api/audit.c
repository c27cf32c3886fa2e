/* The audit log (export-api.md §10): the entry each write adds in its own
 * transaction (api_audit), the pages of GET /v1/audit and of a resource's
 * /audit, and the background pruning of old entries.
 * docs/internals/audit.md explains the design. */
#include <inttypes.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/api.h"
#include "http/response.h"
#include "model/audit.h"
#include "util/buf.h"
#include "util/isotime.h"
#include "util/log.h"
#include "util/xmalloc.h"

#define AUDIT_NAMES		64	/* account names kept */
#define AUDIT_PRUNE_BATCH	1000	/* entries one prune write deletes */
#define AUDIT_PRUNE_EVERY_S	3600
#define DAY_MS			(86400 * (int64_t)1000)

/* Accounts are never renamed: their names are kept once read. */
static struct {
	pthread_mutex_t	 lock;
	char		 id[AUDIT_NAMES][OID_HEXLEN + 1];
	char		*name[AUDIT_NAMES];
} names = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* The account's name (caller frees), read on the write's own connection
 * the first time; NULL if it cannot be read. */
static char *
account_name(struct store *st, const char *account)
{
	unsigned	 h = 0;
	char		*name = NULL;
	const char	*p;

	for (p = account; *p != '\0'; p++)
		h = h * 31 + (unsigned char)*p;
	h %= AUDIT_NAMES;
	pthread_mutex_lock(&names.lock);
	if (names.name[h] != NULL && strcmp(names.id[h], account) == 0)
		name = xstrdup(names.name[h]);
	pthread_mutex_unlock(&names.lock);
	if (name != NULL || store_account_name(st, account, &name) !=
	    STORE_OK)
		return name;
	pthread_mutex_lock(&names.lock);
	free(names.name[h]);
	names.name[h] = xstrdup(name);
	snprintf(names.id[h], sizeof(names.id[h]), "%s", account);
	pthread_mutex_unlock(&names.lock);
	return name;
}

static json_t *
row_doc(const struct store_row *r)
{
	return r != NULL ? json_loadb(r->body, r->body_len, JSON_ALLOW_NUL,
	    NULL) : NULL;
}

int
api_audit(struct store_write *w, const char *resource_type,
    const char *event, const struct store_row *cur,
    const struct store_row *next, const json_t *secrets_before,
    const json_t *secrets_after)
{
	struct api_write	*aw = (struct api_write *)w;
	struct request		*req = w->arg;
	struct audit_meta	 m;
	json_t			*before = NULL, *after = NULL, *changes;
	char			*name;
	size_t			 len;

	if ((name = account_name(api_store(req), w->account)) == NULL)
		return -1;
	if (strcmp(event, "update") == 0) {
		before = row_doc(cur);
		after = row_doc(next);
		changes = audit_changes(before, after, secrets_before,
		    secrets_after);
	} else
		changes = json_array();
	oid_new(aw->audit_id);
	memset(&m, 0, sizeof(m));
	m.id = aw->audit_id;
	m.resource_type = resource_type;
	m.resource_id = w->id;
	m.source = "api";
	m.event = event;
	m.time_ms = isotime_now_ms();
	m.user_id = w->account;
	m.user_name = name;
	free(aw->audit_body);
	aw->audit_body = audit_render(&m, changes, &len);
	memset(&aw->audit, 0, sizeof(aw->audit));
	aw->audit.side = STORE_SIDE_AUDIT;
	store_val_set(&aw->audit.v[0], aw->audit_id, OID_HEXLEN, false);
	store_val_set(&aw->audit.v[1], w->account, strlen(w->account), false);
	store_val_set(&aw->audit.v[2], resource_type, strlen(resource_type),
	    false);
	store_val_set(&aw->audit.v[3], w->id, strlen(w->id), false);
	store_val_set(&aw->audit.v[4], "api", 3, false);
	store_val_set(&aw->audit.v[5], event, strlen(event), false);
	aw->audit.v[6].type = SV_INT;
	aw->audit.v[6].i = m.time_ms;
	store_val_set(&aw->audit.v[7], aw->audit_body, len, false);
	w->side = &aw->audit;
	w->nside = 1;
	json_decref(before);
	json_decref(after);
	free(name);
	return 0;
}

/* ---- GET /v1/audit, GET /v1/<kind>/{id}/audit ---- */

/* The values the query parameters may take (integratorio-surface.md
 * §1.2): others are 400, these match what exportd records or nothing. */
static const char *const resource_types[] = {
	"accesstoken", "agent", "api", "asynchelper", "connection",
	"ediprofile", "environment", "export", "filedefinition", "flow",
	"iclient", "import", "integration", "lookupcache", "notification",
	"revision", "script", "ssoclient", "stack", "user", NULL,
};
static const char *const sources[] = {
	"api", "connector", "script", "sso", "stack", "system", "ui", NULL,
};
static const char *const actions[] = {
	"create", "delete", "purge", "restore", "signin", "signout", "update",
	"view", NULL,
};

/* Query parameters the next page's link carries over. */
static const char *const audit_params[] = {
	"resourceType", "_resourceId", "_byUserId", "source", "action",
	"from", "to",
};

/* A query parameter that must be one of a list, if present. */
static const char *
query_enum(struct request *req, struct errors *errs, const char *name,
    const char *const *values)
{
	const char	*v = request_query(req, name);
	size_t		 i;

	if (v == NULL)
		return NULL;
	for (i = 0; values[i] != NULL; i++)
		if (strcmp(v, values[i]) == 0)
			return v;
	errors_add(errs, 400, "invalid_query_params", name,
	    "%s is not one of the values it takes", name);
	return NULL;
}

/* A query parameter that must be an ObjectId, if present. */
static const char *
query_id(struct request *req, struct errors *errs, const char *name)
{
	const char	*v = request_query(req, name);

	if (v == NULL || oid_valid(v, strlen(v)))
		return v;
	errors_add(errs, 400, "invalid_query_params", name,
	    "%s must be a 24-character hex ObjectId", name);
	return NULL;
}

static void
query_time(struct request *req, struct errors *errs, const char *name,
    int64_t *ms)
{
	const char	*v = request_query(req, name);

	if (v != NULL && isotime_parse(v, ms) == -1)
		errors_add(errs, 400, "invalid_query_params", name,
		    "%s must be an ISO 8601 date-time such as "
		    "2026-01-31T12:00:00.000Z", name);
}

/* The filter of a page from its query; -1 with errors added. *none is set
 * when the filter can match nothing (another user's entries). */
static int
audit_filter(struct request *req, struct errors *errs,
    struct store_audit_filter *f, bool *none)
{
	const char	*by;

	memset(f, 0, sizeof(*f));
	f->from_ms = INT64_MIN;
	f->to_ms = INT64_MAX;
	f->resource_type = query_enum(req, errs, "resourceType",
	    resource_types);
	f->resource_id = query_id(req, errs, "_resourceId");
	f->source = query_enum(req, errs, "source", sources);
	f->event = query_enum(req, errs, "action", actions);
	by = query_id(req, errs, "_byUserId");
	query_time(req, errs, "from", &f->from_ms);
	query_time(req, errs, "to", &f->to_ms);
	if (errs->n == 0 && f->from_ms > f->to_ms)
		errors_add(errs, 400, "invalid_query_params", "from",
		    "from must not be after to");
	/* every entry is made by the account's own user */
	*none = by != NULL && strcasecmp(by, req->account) != 0;
	return errs->n > 0 ? -1 : 0;
}

/* Entries go out as stored; the page stops early past a byte budget, and
 * its Link goes on from there. */
struct audit_out {
	struct buf	 b;
	int64_t		 rows;
};

static int
audit_row(void *arg, int64_t seq, const char *body, size_t len)
{
	struct audit_out	*o = arg;

	(void)seq;

	buf_addc(&o->b, o->rows++ == 0 ? '[' : ',');
	buf_add(&o->b, body, len);
	return o->b.len >= LIMIT_PAGE_BUFFER ? 1 : 0;
}

static int
audit_any(void *arg, int64_t seq, const char *body, size_t len)
{
	(void)arg;
	(void)seq;
	(void)body;
	(void)len;

	return 0;
}

/* STORE_OK if the account has an entry of f's resource, whatever the
 * query asks, else STORE_NOT_FOUND. */
static enum store_status
audit_known(struct request *req, const struct store_audit_filter *f)
{
	struct store_audit_filter	 any;
	enum store_status		 rc;
	int64_t				 last;
	bool				 more;

	memset(&any, 0, sizeof(any));
	any.resource_type = f->resource_type;
	any.resource_id = f->resource_id;
	any.from_ms = INT64_MIN;
	any.to_ms = INT64_MAX;
	rc = store_audit_list(api_store(req), req->account, &any, 0, 1,
	    audit_any, NULL, &more, &last);
	return rc == STORE_OK && last == 0 ? STORE_NOT_FOUND : rc;
}

/* Answer one page of entries matching the query and f's fixed part. */
static void
audit_reply(struct request *req, const char *path,
    struct store_audit_filter *f, bool none)
{
	struct audit_out	 o;
	struct errors		 errs;
	enum store_status	 rc;
	int64_t			 limit, after, last;
	bool			 more;
	char			*link;

	errors_init(&errs);
	api_query_number(req, &errs, "limit", LIMIT_PAGE_DEFAULT, 1, &limit);
	api_query_number(req, &errs, "after", 0, 1, &after);
	if (errs.n > 0) {
		reply_errors(req, &errs);
		return;
	}
	if (limit > LIMIT_PAGE_MAX)
		limit = LIMIT_PAGE_MAX;
	memset(&o, 0, sizeof(o));
	buf_init(&o.b, 0);
	if (none)
		rc = STORE_OK, more = false, last = 0;
	else
		rc = store_audit_list(api_store(req), req->account, f, after,
		    limit, audit_row, &o, &more, &last);
	if (rc != STORE_OK) {
		buf_free(&o.b);
		api_store_failure(req, rc, "Audit entry");
		return;
	}
	if (o.rows == 0) {
		buf_free(&o.b);
		reply_empty(req, 204);
		return;
	}
	buf_addc(&o.b, ']');
	reply_json(req, 200, o.b.data, o.b.len);
	if (more) {
		link = api_next_link(req, path, audit_params,
		    sizeof(audit_params) / sizeof(audit_params[0]), limit,
		    last);
		reply_header(req, MHD_HTTP_HEADER_LINK, link);
		free(link);
	}
}

void
audit_list(struct request *req)
{
	struct store_audit_filter	 f;
	struct errors			 errs;
	bool				 none;

	errors_init(&errs);
	if (audit_filter(req, &errs, &f, &none) == -1) {
		reply_errors(req, &errs);
		return;
	}
	audit_reply(req, "/v1/audit", &f, none);
}

void
audit_resource_list(struct request *req, enum store_res res,
    const char *resource_type, const char *what)
{
	struct store_audit_filter	 f;
	struct store_row		 row;
	struct errors			 errs;
	enum store_status		 rc;
	bool				 none;
	char				 id[OID_HEXLEN + 1], path[96];

	if (api_path_id(req, what, id) == -1)
		return;
	errors_init(&errs);
	if (audit_filter(req, &errs, &f, &none) == -1) {
		reply_errors(req, &errs);
		return;
	}
	/* the path decides the resource */
	f.resource_type = resource_type;
	f.resource_id = id;
	/* a deleted resource's entries stay readable; an id the account
	 * never had is 404 */
	rc = store_get(api_store(req), res, req->account, id, &row);
	if (rc == STORE_OK)
		store_row_free(&row);
	else if (rc == STORE_NOT_FOUND)
		rc = audit_known(req, &f);
	if (rc != STORE_OK) {
		api_store_failure(req, rc, what);
		return;
	}
	snprintf(path, sizeof(path), "/v1/%ss/%s/audit", resource_type, id);
	audit_reply(req, path, &f, none);
}

/* ---- pruning ---- */

struct audit_pruner {
	struct api_context	*ctx;
	pthread_t		 thread;
	pthread_mutex_t		 lock;
	pthread_cond_t		 cond;
	bool			 stopping;
	bool			 done;	/* the write in flight finished */
	struct store_write	 w;
};

static void
prune_done(struct store_write *w)
{
	struct audit_pruner	*p = w->arg;

	pthread_mutex_lock(&p->lock);
	p->done = true;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

/* One batch through the write queue, so that it commits with the writes
 * around it and holds the writer only briefly: entries deleted, or -1. */
static int64_t
prune_batch(struct audit_pruner *p, int64_t before_ms)
{
	memset(&p->w, 0, sizeof(p->w));
	p->w.kind = STORE_AUDIT_PRUNE;
	p->w.prune_before_ms = before_ms;
	p->w.prune_limit = AUDIT_PRUNE_BATCH;
	p->w.done = prune_done;
	p->w.arg = p;
	p->done = false;
	store_write_submit(p->ctx->store, &p->w);
	pthread_mutex_lock(&p->lock);
	while (!p->done)
		pthread_cond_wait(&p->cond, &p->lock);
	pthread_mutex_unlock(&p->lock);
	return p->w.status == STORE_OK ? p->w.affected : -1;
}

static void *
pruner_main(void *arg)
{
	struct audit_pruner	*p = arg;
	struct timespec		 until;
	int64_t			 before, n, total;

	for (;;) {
		before = isotime_now_ms() - p->ctx->audit_retention_days *
		    DAY_MS;
		total = 0;
		while (!p->stopping && (n = prune_batch(p, before)) > 0)
			total += n;
		if (total > 0)
			log_info("audit: pruned %" PRId64 " entries older than "
			    "%ld days", total, p->ctx->audit_retention_days);
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += AUDIT_PRUNE_EVERY_S;
		pthread_mutex_lock(&p->lock);
		while (!p->stopping && pthread_cond_timedwait(&p->cond,
		    &p->lock, &until) == 0)
			;
		if (p->stopping) {
			pthread_mutex_unlock(&p->lock);
			return NULL;
		}
		pthread_mutex_unlock(&p->lock);
	}
}

void
audit_pruner_start(struct api_context *ctx)
{
	struct audit_pruner	*p;

	if (ctx->audit_retention_days <= 0)
		return;
	p = xcalloc(1, sizeof(*p));
	p->ctx = ctx;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	if (pthread_create(&p->thread, NULL, pruner_main, p) != 0) {
		log_error("audit: cannot start the pruning thread");
		free(p);
		return;
	}
	ctx->pruner = p;
}

void
audit_pruner_stop(struct api_context *ctx)
{
	struct audit_pruner	*p = ctx->pruner;

	if (p == NULL)
		return;
	pthread_mutex_lock(&p->lock);
	p->stopping = true;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	pthread_join(p->thread, NULL);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->cond);
	free(p);
	ctx->pruner = NULL;
}
