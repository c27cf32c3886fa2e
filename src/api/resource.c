/* What the resource handlers (exports.c, connections.c) share beyond
 * common.c: a write's state carried into its mutate step, If-Match inside
 * the write, and the generic get, delete and list of a resource kind. */
#include <stddef.h>
#include <stdio.h>
#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/page.h"
#include "http/response.h"
#include "model/patch.h"
#include "model/project.h"
#include "util/isotime.h"
#include "util/xmalloc.h"

static void
api_wstate_free(void *p)
{
	struct api_wstate	*x = p;

	if (x == NULL)
		return;
	json_decref(x->doc);
	json_decref(x->block);
	json_decref(x->connection_map);
	json_decref(x->ops);
	free(x->clone_name);
	free(x->if_match);
	free(x->reply);
	if (x->extra_free != NULL)
		x->extra_free(x->extra);
	free(x);
}

struct api_wstate *
api_wstate_new(struct request *req, const struct api_kind *kind)
{
	struct api_wstate	*x;
	const char		*im;

	/* the error list is large and filled only on failure: not zeroed */
	x = xmalloc(sizeof(*x));
	memset(x, 0, offsetof(struct api_wstate, errs));
	errors_init(&x->errs);
	x->kind = kind;
	if ((im = request_header(req, MHD_HTTP_HEADER_IF_MATCH)) != NULL)
		x->if_match = xstrdup(im);
	req->state = x;
	req->free_state = api_wstate_free;
	return x;
}

int
api_precondition(struct api_wstate *x, const struct store_row *cur)
{
	if (x->if_match == NULL || api_etag_matches(x->if_match, cur->id,
	    cur->rev, false))
		return 0;
	errors_add(&x->errs, 412, "conflict", NULL,
	    "The %s has changed since it was read (If-Match does not "
	    "match the current ETag)", x->kind->noun);
	return -1;
}

int
api_internal_error(struct request *req, struct api_wstate *x)
{
	errors_add(&x->errs, 500, "internal_error", NULL,
	    "Internal error (request %s)", req->id);
	return -1;
}

/* ---- GET one ---- */

void
api_get(struct request *req, const struct api_kind *kind)
{
	struct store_row	 row;
	enum store_status	 rc;
	const char		*cond;
	char			 id[OID_HEXLEN + 1];

	if (api_path_id(req, kind->what, id) == -1)
		return;
	rc = store_get(api_store(req), kind->res, req->account, id, &row);
	if (rc != STORE_OK) {
		api_store_failure(req, rc, kind->what);
		return;
	}
	/* conditional GET (RFC 9110 §13.2.2 order) */
	if ((cond = request_header(req, MHD_HTTP_HEADER_IF_MATCH)) != NULL &&
	    !api_etag_matches(cond, row.id, row.rev, false)) {
		reply_error(req, 412, "conflict", NULL, "The %s has changed "
		    "(If-Match does not match the current ETag)", kind->noun);
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

unsigned char *
api_secrets_copy(const struct store_row *cur)
{
	unsigned char	*sealed;

	if (cur->secrets == NULL)
		return NULL;
	sealed = xmalloc(cur->secrets_len);
	memcpy(sealed, cur->secrets, cur->secrets_len);
	return sealed;
}

/* Submit the request's write of kind wk on the row id. */
static void
submit_on(struct request *req, const struct api_kind *kind,
    enum store_write_kind wk, const char *id,
    int (*mutate)(struct store_write *, const struct store_row *,
    struct store_row *), void (*done)(struct request *))
{
	struct store_write	*w;

	w = api_write_get(req);
	w->kind = wk;
	w->res = kind->res;
	snprintf(w->id, sizeof(w->id), "%s", id);
	w->mutate = mutate;
	api_write_submit(req, done);
}

/* ---- DELETE ---- */

static int
delete_mutate(struct store_write *w, const struct store_row *cur,
    struct store_row *next)
{
	struct request		*req = w->arg;
	struct api_wstate	*x = req->state;

	(void)next;

	if (api_precondition(x, cur) == -1)
		return -1;
	if (api_audit(w, x->kind->noun, "delete", cur, NULL, NULL, NULL) ==
	    -1) {
		api_internal_error(req, x);
		return -1;
	}
	return 0;
}

static void
delete_done(struct request *req)
{
	struct api_wstate	*x = req->state;

	if (api_write_failed(req, &x->errs, x->kind->what))
		return;
	reply_empty(req, 204);
}

void
api_delete(struct request *req, const struct api_kind *kind)
{
	char			 id[OID_HEXLEN + 1];

	if (api_path_id(req, kind->what, id) == -1)
		return;
	api_wstate_new(req, kind);
	submit_on(req, kind, STORE_DELETE, id, delete_mutate, delete_done);
}

/* ---- PATCH ---- */

static void
patch_done(struct request *req)
{
	struct store_write	*w = api_write_get(req);

	if (api_write_failed(req, &((struct api_wstate *)req->state)->errs,
	    ((struct api_wstate *)req->state)->kind->what))
		return;
	reply_empty(req, 204);
	api_reply_etag(req, w->result.id, w->result.rev);
}

/* Check a PATCH body against a kind's paths and submit its write. */
void
api_patch_submit(struct request *req, const struct api_kind *kind,
    const struct patch_path *paths,
    int (*mutate)(struct store_write *, const struct store_row *,
    struct store_row *))
{
	struct api_wstate	*x;
	json_t			*ops;
	char			 id[OID_HEXLEN + 1];

	if (api_path_id(req, kind->what, id) == -1)
		return;
	if ((ops = api_body_json(req)) == NULL)
		return;
	if (!patch_shape_ok(ops)) {
		json_decref(ops);
		reply_error(req, 400, "invalid_json", NULL, "The body must be "
		    "a JSON array of JSON Patch operations");
		return;
	}
	x = api_wstate_new(req, kind);
	x->ops = ops;
	if (patch_check(ops, paths, isotime_now_ms(), &x->errs) == -1) {
		reply_errors(req, &x->errs);
		return;
	}
	submit_on(req, kind, STORE_UPDATE, id, mutate, patch_done);
}

/* ---- GET a list ---- */

/* A list page's own state: what each chunk read needs again. */
struct list_src {
	const struct api_kind	*kind;
	char			 account[OID_HEXLEN + 1];
	struct store_filter	 f;
	struct projection	 proj;
};

static void
list_src_free(void *arg)
{
	struct list_src	*s = arg;
	size_t		 i;

	for (i = 0; i < STORE_MAX_COLS; i++)
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

	return store_list(p->st, s->kind->res, s->account, &s->f, after,
	    skip, n, list_row, p, more, &last);
}

static enum store_status
list_bound(struct page *p, int64_t after, int64_t n, int64_t *last,
    int64_t *rows, bool *more)
{
	struct list_src	*s = p->arg;

	return store_bound(p->st, s->kind->res, s->account, &s->f, after, n,
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

/* The query parameters a next page's link carries over: the filters,
 * include and exclude. */
static size_t
list_link_params(const struct api_kind *kind, const char **out)
{
	size_t	n = 0;
	int	i;

	for (i = 0; i < STORE_MAX_COLS; i++)
		if (kind->filters[i] != NULL)
			out[n++] = kind->filters[i];
	out[n++] = "include";
	out[n++] = "exclude";
	return n;
}

void
api_list(struct request *req, const struct api_kind *kind)
{
	struct list_src		*src;
	struct page		*p;
	enum store_status	 rc;
	struct errors		 errs;
	const char		*v, *params[STORE_MAX_COLS + 2];
	int64_t			 limit, skip, after, last;
	bool			 more;
	char			*link;
	int			 i;

	src = xcalloc(1, sizeof(*src));
	src->kind = kind;
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
	for (i = 0; i < STORE_MAX_COLS; i++)
		if (kind->filters[i] != NULL &&
		    (v = request_query(req, kind->filters[i])) != NULL)
			src->f.eq[i] = xstrdup(v);
	p = page_new(api_store(req), &list_page_ops, src, "[", after, limit);
	if ((rc = page_start(p, skip)) != STORE_OK) {
		page_free(p);
		api_store_failure(req, rc, kind->what);
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
		link = api_next_link(req, kind->path, params,
		    list_link_params(kind, params), limit, last);
		reply_header(req, MHD_HTTP_HEADER_LINK, link);
		free(link);
	}
}
