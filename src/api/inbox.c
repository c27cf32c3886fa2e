/* The durable inbox of a webhook export (an exportd extension):
 * GET /v1/exports/{id}/inbox?after=CURSOR&limit=N reads records in arrival
 * order; POST /v1/exports/{id}/inbox/ack {"cursor": C} deletes every
 * record up to C. docs/webhooks.md describes both. */
#include <inttypes.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/page.h"
#include "http/response.h"
#include "http/server.h"
#include "util/isotime.h"
#include "util/json.h"
#include "util/number.h"
#include "util/xmalloc.h"

#define INBOX_PAGE_DEFAULT	100
#define INBOX_PAGE_MAX		1000
#define INBOX_CURSOR_LEN	20	/* digits of INT64_MAX, and a NUL */

/* An inbox page's own state. */
struct inbox_src {
	char	 id[OID_HEXLEN + 1];
};

/* One entry: the values the server knows go through the JSON renderer;
 * the stored headers object and record are copied as they are. */
static int
inbox_row(void *arg, int64_t seq, int64_t received_ms, const char *request_id,
    const char *headers, const char *record, size_t record_len)
{
	struct page	*p = arg;
	struct buf	*b = &p->out;
	char		 ts[ISOTIME_LEN + 1], num[INBOX_CURSOR_LEN + 1];

	if (page_row_begin(p, seq) == -1)
		return -1;
	isotime_format(received_ms, ts);
	snprintf(num, sizeof(num), "%" PRId64, seq);
	buf_adds(b, "{\"cursor\":");
	json_render_text(b, num, strlen(num));
	buf_adds(b, ",\"receivedAt\":");
	json_render_text(b, ts, strlen(ts));
	buf_adds(b, ",\"requestId\":");
	json_render_text(b, request_id, strlen(request_id));
	buf_adds(b, ",\"headers\":");
	buf_adds(b, headers);
	buf_adds(b, ",\"record\":");
	buf_add(b, record, record_len);
	buf_addc(b, '}');
	return page_row_end(p);
}

static enum store_status
inbox_read(struct page *p, int64_t after, int64_t skip, int64_t n, bool *more)
{
	struct inbox_src	*s = p->arg;

	(void)skip;

	return store_inbox_list(p->st, s->id, after, n, inbox_row, p, more);
}

static enum store_status
inbox_bound(struct page *p, int64_t after, int64_t n, int64_t *last,
    int64_t *rows, bool *more)
{
	struct inbox_src	*s = p->arg;

	return store_inbox_bound(p->st, s->id, after, n, last, rows, more);
}

/* The cursor to read on from: the last entry served, else where the
 * page started (null at the start of the inbox). */
static void
inbox_close(struct page *p, struct buf *b)
{
	json_t	*cursor = NULL;
	char	 num[INBOX_CURSOR_LEN + 1];
	int64_t	 at = p->rows > 0 ? p->last : p->after;

	if (at > 0) {
		snprintf(num, sizeof(num), "%" PRId64, at);
		cursor = json_string(num);
	}
	buf_adds(b, "],\"cursor\":");
	json_render(b, cursor != NULL ? cursor : json_null());
	buf_adds(b, ",\"more\":");
	json_render(b, json_boolean(p->more));
	buf_addc(b, '}');
	json_decref(cursor);
}

static const struct page_ops inbox_page_ops = {
	inbox_read, inbox_bound, inbox_close, free,
};

/* A cursor or page size from the query: absent (def), or a strict
 * decimal whole number. */
static int
query_cursor(struct request *req, const char *name, int64_t def,
    int64_t *out)
{
	const char	*v = request_query(req, name);

	*out = def;
	return v == NULL ? 0 : number_parse(v, strlen(v), out);
}

/* The export of this account, for the inbox routes; replies 404. */
static int
inbox_export(struct request *req, char id[OID_HEXLEN + 1])
{
	struct store		*st = api_store(req);
	struct store_row	 row;
	enum store_status	 rc;

	if (oid_normalize(req->params[0], strlen(req->params[0]), id) == -1) {
		reply_error(req, 404, "not_found", NULL, "Export not found");
		return -1;
	}
	if ((rc = store_get(st, STORE_EXPORTS, req->account, id, &row)) !=
	    STORE_OK) {
		api_store_failure(req, rc, "Export");
		return -1;
	}
	store_row_free(&row);
	return 0;
}

void
inbox_get(struct request *req)
{
	struct store		*st = api_store(req);
	struct inbox_src	*src;
	struct page		*p;
	enum store_status	 rc;
	char			 id[OID_HEXLEN + 1];
	int64_t			 after, limit;

	if (inbox_export(req, id) == -1)
		return;
	if (query_cursor(req, "after", 0, &after) == -1) {
		reply_error(req, 400, "invalid_query_params", "after",
		    "after must be a cursor from this inbox");
		return;
	}
	if (query_cursor(req, "limit", INBOX_PAGE_DEFAULT, &limit) == -1 ||
	    limit < 1) {
		reply_error(req, 400, "invalid_query_params", "limit",
		    "limit must be a whole number from 1 to %d",
		    INBOX_PAGE_MAX);
		return;
	}
	if (limit > INBOX_PAGE_MAX)
		limit = INBOX_PAGE_MAX;
	src = xmalloc(sizeof(*src));
	memcpy(src->id, id, sizeof(src->id));
	p = page_new(st, &inbox_page_ops, src, "{\"records\":[", after, limit);
	if ((rc = page_start(p, 0)) != STORE_OK) {
		page_free(p);
		api_store_failure(req, rc, "Export");
		return;
	}
	page_reply(req, p);
}

static void
ack_done(struct request *req)
{
	struct store_write	*w = api_write_get(req);
	json_t			*o;
	char			*body;
	size_t			 len;

	if (w->status != STORE_OK) {
		api_store_failure(req, w->status, "Export");
		return;
	}
	o = json_pack("{sI}", "deleted", (json_int_t)w->affected);
	body = json_render_new(o, &len);
	json_decref(o);
	reply_json(req, 200, body, len);
}

void
inbox_ack(struct request *req)
{
	struct store_write	*w;
	json_t			*b, *c;
	char			 id[OID_HEXLEN + 1];
	int64_t			 upto = -1;
	bool			 missing;

	if (inbox_export(req, id) == -1 || (b = api_body_object(req)) == NULL)
		return;
	/* the cursor as the page gave it (a string), or as a number */
	c = json_object_get(b, "cursor");
	missing = c == NULL;
	if (json_is_integer(c))
		upto = json_integer_value(c);
	else if (json_is_string(c) && number_parse(json_string_value(c),
	    json_string_length(c), &upto) == -1)
		upto = -1;
	json_decref(b);
	if (missing) {
		reply_error(req, 422, "missing_required_field", "cursor",
		    "cursor is required");
		return;
	}
	if (upto < 0) {
		reply_error(req, 422, "invalid_field", "cursor",
		    "cursor must be a cursor from this inbox");
		return;
	}
	w = api_write_get(req);
	w->kind = STORE_INBOX_ACK;
	memcpy(w->id, id, sizeof(id));
	w->inbox_upto = upto;
	api_write_submit(req, ack_done);
}
