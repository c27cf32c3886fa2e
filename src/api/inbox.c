/* The durable inbox of a webhook export (an exportd extension):
 * GET /v1/exports/{id}/inbox?after=CURSOR&limit=N reads records in arrival
 * order; POST /v1/exports/{id}/inbox/ack {"cursor": C} deletes every
 * record up to C. docs/webhooks.md describes both. */
#include <errno.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "http/response.h"
#include "http/server.h"
#include "util/isotime.h"
#include "util/json.h"
#include "util/xmalloc.h"

#define INBOX_PAGE_DEFAULT	100
#define INBOX_PAGE_MAX		1000

struct inbox_page {
	struct buf	 out;
	int64_t		 n;
	int64_t		 last;
};

static int
inbox_add(void *arg, int64_t seq, int64_t received_ms, const char *request_id,
    const char *headers, const char *record, size_t record_len)
{
	struct inbox_page	*p = arg;
	char			 ts[ISOTIME_LEN + 1];

	isotime_format(received_ms, ts);
	buf_printf(&p->out, "%s{\"cursor\":\"%" PRId64 "\",\"receivedAt\":"
	    "\"%s\",\"requestId\":\"%s\",\"headers\":%s,\"record\":",
	    p->n++ > 0 ? "," : "", seq, ts, request_id, headers);
	buf_add(&p->out, record, record_len);
	buf_addc(&p->out, '}');
	p->last = seq;
	return 0;
}

/* A cursor: the decimal sequence number of an entry, or absent (0). */
static int
cursor_parse(const char *s, int64_t *out)
{
	char		*end;
	long long	 n;

	*out = 0;
	if (s == NULL || *s == '\0')
		return s == NULL ? 0 : -1;
	errno = 0;
	n = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || n < 0 || s[0] == '-' || s[0] == '+')
		return -1;
	*out = n;
	return 0;
}

/* The export of this account, for the inbox routes; replies 404. */
static int
inbox_export(struct request *req, char id[OID_HEXLEN + 1])
{
	struct store		*st = req->srv->store;
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
	struct store		*st = req->srv->store;
	struct inbox_page	 p;
	enum store_status	 rc;
	const char		*lim = request_query(req, "limit");
	char			 id[OID_HEXLEN + 1], *body;
	int64_t			 after, limit = INBOX_PAGE_DEFAULT;
	bool			 more;
	size_t			 len;

	if (inbox_export(req, id) == -1)
		return;
	if (cursor_parse(request_query(req, "after"), &after) == -1) {
		reply_error(req, 400, "invalid_query_params", "after",
		    "after must be a cursor from this inbox");
		return;
	}
	if (lim != NULL && (cursor_parse(lim, &limit) == -1 || limit < 1)) {
		reply_error(req, 400, "invalid_query_params", "limit",
		    "limit must be a whole number from 1 to %d",
		    INBOX_PAGE_MAX);
		return;
	}
	if (limit > INBOX_PAGE_MAX)
		limit = INBOX_PAGE_MAX;
	memset(&p, 0, sizeof(p));
	buf_init(&p.out, 0);
	buf_adds(&p.out, "{\"records\":[");
	rc = store_inbox_list(st, id, after, limit, inbox_add, &p, &more);
	if (rc != STORE_OK) {
		buf_free(&p.out);
		api_store_failure(req, rc, "Export");
		return;
	}
	if (p.n > 0)
		buf_printf(&p.out, "],\"cursor\":\"%" PRId64 "\",\"more\":%s}",
		    p.last, more ? "true" : "false");
	else
		buf_printf(&p.out, "],\"cursor\":%s%s%s,\"more\":false}",
		    after > 0 ? "\"" : "", after > 0 ?
		    request_query(req, "after") : "null", after > 0 ? "\"" : "");
	body = buf_steal(&p.out, &len);
	reply_json(req, 200, body, len);
}

static void
ack_done(struct request *req)
{
	char	*body;

	if (req->write.status != STORE_OK) {
		api_store_failure(req, req->write.status, "Export");
		return;
	}
	body = xasprintf("{\"deleted\":%" PRId64 "}", req->write.affected);
	reply_json(req, 200, body, strlen(body));
}

void
inbox_ack(struct request *req)
{
	json_t		*b, *c;
	char		 id[OID_HEXLEN + 1], num[32];
	int64_t		 upto;

	if (inbox_export(req, id) == -1 || (b = api_body_object(req)) == NULL)
		return;
	c = json_object_get(b, "cursor");
	if (json_is_integer(c))
		snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT,
		    json_integer_value(c));
	else
		snprintf(num, sizeof(num), "%s", json_is_string(c) &&
		    json_string_length(c) < 30 ? json_string_value(c) : "x");
	json_decref(b);
	if (c == NULL) {
		reply_error(req, 422, "missing_required_field", "cursor",
		    "cursor is required");
		return;
	}
	if (cursor_parse(num, &upto) == -1) {
		reply_error(req, 422, "invalid_field", "cursor",
		    "cursor must be a cursor from this inbox");
		return;
	}
	req->write.kind = STORE_INBOX_ACK;
	memcpy(req->write.id, id, sizeof(id));
	req->write.inbox_upto = upto;
	request_write(req, ack_done);
}
