/* The public webhook listener: POST|PUT /v1/exports/{id}[/{token}]/data,
 * and GET for subscription challenges. No bearer token: the export's own
 * verification decides. Accepted records are committed to the export's
 * inbox before the sender gets its 2xx. */
#include <sys/socket.h>

#include <netinet/in.h>

#include <ctype.h>
#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/api.h"
#include "crypto/crypto.h"
#include "http/response.h"
#include "http/server.h"
#include "model/export.h"
#include "util/isotime.h"
#include "util/json.h"
#include "util/log.h"
#include "util/xmalloc.h"
#include "webhook/parse.h"
#include "webhook/response.h"
#include "webhook/verify.h"

#define INBOX_HEADERS_MAX	32
#define INBOX_HEADER_LEN	1024

/* What a delivery carries into its write and out to its response. */
struct delivery {
	json_t			*webhook;	/* block with secrets */
	json_t			*doc;		/* parsed body */
	struct inbox_entry	*entries;
	size_t			 nentries;
	size_t			 entries_cap;
	char			*headers;	/* JSON text kept with records */
	char			*url;
	struct webhook_request	 wr;
};

static void
delivery_free(void *p)
{
	struct delivery	*d = p;
	size_t		 i;

	if (d == NULL)
		return;
	for (i = 0; i < d->nentries; i++)
		free((char *)d->entries[i].record);
	free(d->entries);
	json_decref(d->doc);
	if (d->webhook != NULL) {
		/* secrets were put in this copy only */
		json_decref(d->webhook);
	}
	free(d->headers);
	free(d->url);
	free(d);
}

static const char *
wr_header(void *arg, const char *name)
{
	return request_header(arg, name);
}

static const char *
wr_query(void *arg, const char *name)
{
	return request_query(arg, name);
}

/* Headers never kept with records: credentials and transport. */
static int
header_private(const char *k, const json_t *webhook)
{
	static const char *const drop[] = {
		"authorization", "proxy-authorization", "cookie", "host",
		"content-length", "connection", "transfer-encoding", "expect",
		"accept-encoding", "keep-alive", "te", "upgrade",
	};
	static const char *const secretish[] = {
		"signature", "hmac", "token", "secret", "auth", "key",
		"password", "webhook",
	};
	const char	*h;
	size_t		 i;

	for (i = 0; i < sizeof(drop) / sizeof(drop[0]); i++)
		if (strcasecmp(k, drop[i]) == 0)
			return 1;
	for (i = 0; i < sizeof(secretish) / sizeof(secretish[0]); i++)
		if (strcasestr(k, secretish[i]) != NULL)
			return 1;
	if ((h = json_string_value(json_object_get(webhook, "header"))) !=
	    NULL && strcasecmp(h, k) == 0)
		return 1;
	if ((h = json_string_value(json_object_get(webhook,
	    "tokenHeaderName"))) != NULL && strcasecmp(h, k) == 0)
		return 1;
	return 0;
}

struct header_walk {
	json_t		*out;
	const json_t	*webhook;
};

static enum MHD_Result
header_keep(void *cls, enum MHD_ValueKind kind, const char *key,
    const char *value)
{
	struct header_walk	*hw = cls;
	char			 name[128];
	size_t			 i;

	(void)kind;

	if (value == NULL || json_object_size(hw->out) >= INBOX_HEADERS_MAX ||
	    strlen(key) >= sizeof(name) || strlen(value) > INBOX_HEADER_LEN ||
	    header_private(key, hw->webhook))
		return MHD_YES;
	for (i = 0; key[i] != '\0'; i++)
		name[i] = (char)tolower((unsigned char)key[i]);
	name[i] = '\0';
	/* header values are bytes: keep only what is valid text */
	json_object_set_new(hw->out, name, json_string(value));
	return MHD_YES;
}

/* The headers that matter for a consumer, as JSON text. */
static char *
headers_kept(struct request *req, const json_t *webhook)
{
	struct header_walk	 hw;
	char			*s;

	hw.out = json_object();
	hw.webhook = webhook;
	MHD_get_connection_values(req->conn, MHD_HEADER_KIND, header_keep, &hw);
	s = json_render_new(hw.out, NULL);
	json_decref(hw.out);
	return s;
}

/* Send a webhook_response built by the webhook modules. */
static void
reply_webhook(struct request *req, struct webhook_response *wresp)
{
	struct MHD_Response	*r;
	size_t			 i;

	if (wresp->body != NULL) {
		reply_json(req, (unsigned)wresp->status, wresp->body,
		    wresp->bodylen);
		wresp->body = NULL;
		/* the export says what the body is */
		MHD_del_response_header(req->resp,
		    MHD_HTTP_HEADER_CONTENT_TYPE,
		    "application/json; charset=utf-8");
	} else
		reply_empty(req, (unsigned)wresp->status);
	r = req->resp;
	for (i = 0; i < wresp->nheaders; i++) {
		if (strcasecmp(wresp->headers[i].name, "Content-Length") == 0 ||
		    strcasecmp(wresp->headers[i].name, "Transfer-Encoding") ==
		    0 || strcasecmp(wresp->headers[i].name, "Connection") == 0)
			continue;
		MHD_add_response_header(r, wresp->headers[i].name,
		    wresp->headers[i].value);
	}
	webhook_response_free(wresp);
}

static void
listener_done(struct request *req)
{
	struct delivery		*d = req->state;
	struct store_write	*w = api_write_get(req);
	struct webhook_response	 wresp;

	if (w->status != STORE_OK) {
		if (w->status == STORE_NOT_FOUND)
			reply_error(req, 404, "not_found", NULL,
			    "Export not found");
		else
			api_store_failure(req, w->status, "Export");
		return;
	}
	memset(&wresp, 0, sizeof(wresp));
	webhook_response_success(d->webhook, &d->wr, d->doc, &wresp);
	reply_webhook(req, &wresp);
}

/* The stored export's webhook block with its secrets put back. */
static json_t *
webhook_block(struct request *req, const struct store_row *row,
    const json_t *body)
{
	json_t		*wh, *secrets, *v;
	const char	*path;
	int		 bad;

	wh = json_deep_copy(json_object_get(body, "webhook"));
	if (!json_is_object(wh)) {
		json_decref(wh);
		wh = json_object();
	}
	secrets = api_secrets_open(req->srv, row, &bad);
	if (bad) {
		json_decref(wh);
		return NULL;
	}
	json_object_foreach(secrets, path, v)
		if (strncmp(path, "webhook.", 8) == 0)
			json_object_set(wh, path + 8, v);
	json_decref(secrets);
	return wh;
}

/* webhook_parse_render's callback: keep one rendered record. */
static void
entry_add(void *arg, char *text, size_t len)
{
	struct delivery	*d = arg;

	if (d->nentries == d->entries_cap) {
		d->entries_cap = d->entries_cap == 0 ? 16 : d->entries_cap * 2;
		d->entries = xrealloc(d->entries, d->entries_cap *
		    sizeof(*d->entries));
	}
	d->entries[d->nentries].record = text;
	d->entries[d->nentries].record_len = len;
	d->nentries++;
}

/* Answer a parse status other than WEBHOOK_PARSE_OK. */
static void
reply_parse_error(struct request *req, int status, const char *msg)
{
	if (status == WEBHOOK_PARSE_TOO_LARGE)
		reply_error(req, 413, "payload_too_large", NULL, "%s", msg);
	else if (status == WEBHOOK_PARSE_UNSUPPORTED)
		reply_error(req, 415, "unsupported_media_type", NULL, "%s",
		    msg);
	else
		reply_error(req, 400, "invalid_json", NULL, "%s", msg);
}

/* Whether n more records fit the export's inbox, by a cheap read of its
 * count; 0, or -1 after the 503 the write would give. The write checks
 * again inside its transaction: this only spares the rendering. */
static int
inbox_room(struct request *req, const char *id, size_t n)
{
	int64_t	count;

	if (store_inbox_count(api_store(req), id, &count) != STORE_OK ||
	    count + (int64_t)n <= api_context(req)->inbox_cap)
		return 0;
	api_store_failure(req, STORE_FULL, "Export");
	return -1;
}

static void
not_found(struct request *req)
{
	reply_error(req, 404, "not_found", NULL, "Export not found");
}

/* FNV-1a over n bytes, continuing from h. */
static uint64_t
fnv1a(uint64_t h, const void *p, size_t n)
{
	const unsigned char	*b = p;
	size_t			 i;

	for (i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ull;
	return h;
}

/* Rate-limit key of an export: the whole id (its middle bytes are the
 * same for every id one process makes). */
static uint64_t
export_key(const char *id)
{
	return fnv1a(0xcbf29ce484222325ull, id, strlen(id));
}

/* Rate-limit key of the client's address: an IPv4 address, or the /64 of
 * an IPv6 one (one host can use a whole /64); a v4-mapped address is its
 * IPv4 address. */
static uint64_t
client_key(struct request *req)
{
	const union MHD_ConnectionInfo	*ci;
	const struct sockaddr_in6	*s6;
	const struct sockaddr_in	*s4;
	uint64_t			 h = 0xcbf29ce484222325ull;

	ci = MHD_get_connection_info(req->conn,
	    MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci == NULL || ci->client_addr == NULL)
		return h;
	if (ci->client_addr->sa_family == AF_INET) {
		s4 = (const struct sockaddr_in *)(const void *)ci->client_addr;
		return fnv1a(h, &s4->sin_addr, 4);
	}
	if (ci->client_addr->sa_family != AF_INET6)
		return h;
	s6 = (const struct sockaddr_in6 *)(const void *)ci->client_addr;
	if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
		return fnv1a(h, s6->sin6_addr.s6_addr + 12, 4);
	return fnv1a(h ^ 6, s6->sin6_addr.s6_addr, 8);
}

/* One request from key's bucket in rl; 0, or -1 after a 429. */
static int
listener_limited(struct request *req, struct ratelimit *rl, uint64_t key)
{
	long	wait;

	if ((wait = ratelimit_take(rl, key)) == 0)
		return 0;
	reply_rate_limited(req, wait);
	return -1;
}

/* HEAD, then verification, each against its rate limit; 0 when the
 * delivery may go on, else -1 with the answer built. */
static int
listener_admit(struct request *req, struct delivery *d, const char *id)
{
	const char	*why = NULL, *v;

	/* Trello checks a callback URL with an unsigned HEAD: answer it on
	 * every URL of the export, secret or not; verify, parse and store
	 * nothing, whatever body it carries. */
	if (req->method == M_HEAD) {
		if (listener_limited(req, &api_context(req)->listener_failed_rl,
		    client_key(req)) == 0)
			reply_empty(req, 200);
		return -1;
	}
	if (webhook_verify(d->webhook, &d->wr, &why) == 0)
		return listener_limited(req, &api_context(req)->listener_rl,
		    export_key(id));
	log_debug("listener %s: refused (%s), request %s", id,
	    why != NULL ? why : "?", req->id);
	/* strangers spend their own address's bucket, never the export's:
	 * signed deliveries keep getting through */
	if (listener_limited(req, &api_context(req)->listener_failed_rl,
	    client_key(req)) == -1)
		return -1;
	/* every failed check alike, a wrong URL token included (spec: failed
	 * verification answers 401) */
	reply_error(req, 401, "unauthorized", NULL,
	    "The delivery could not be verified");
	/* senders that send Basic credentials only when challenged (as many
	 * HTTP clients do) need to be asked for them */
	if ((v = json_string_value(json_object_get(d->webhook, "verify"))) !=
	    NULL && strcmp(v, "basic") == 0)
		reply_challenge(req,
		    "Basic realm=\"exportd\", charset=\"UTF-8\"");
	return -1;
}

/* The records of d->doc rendered into d->entries, within the delivery's
 * caps and the inbox's room; 0, or -1 with the answer built. */
static int
listener_records(struct request *req, struct delivery *d, const char *id)
{
	struct webhook_caps	 caps;
	char			 msg[WEBHOOK_WHYLEN];
	size_t			 n;
	int			 status;

	caps.records = api_context(req)->listener_max_records;
	caps.bytes = api_context(req)->listener_max_stored;
	status = webhook_parse_count(d->webhook, d->doc, &caps, &n, msg,
	    sizeof(msg));
	/* a full inbox refuses before any record is made; the records are
	 * then rendered one at a time, stopping at the first cap passed */
	if (status == WEBHOOK_PARSE_OK && inbox_room(req, id, n) == -1)
		return -1;
	if (status == WEBHOOK_PARSE_OK)
		status = webhook_parse_render(d->webhook, d->doc, &caps,
		    entry_add, d, msg, sizeof(msg));
	if (status == WEBHOOK_PARSE_OK)
		return 0;
	reply_parse_error(req, status, msg);
	return -1;
}

void
listener_receive(struct request *req)
{
	struct store		*st = api_store(req);
	struct store_write	*w;
	struct store_row	 row;
	struct delivery		*d;
	struct webhook_response	 wresp;
	enum store_status	 rc;
	const char		*t;
	json_t			*body = NULL;
	char			 id[OID_HEXLEN + 1], msg[WEBHOOK_WHYLEN];
	int			 status;

	memset(&row, 0, sizeof(row));
	if (oid_normalize(req->params[0], strlen(req->params[0]), id) == -1) {
		not_found(req);
		return;
	}
	if ((rc = store_get_any(st, STORE_EXPORTS, id, &row)) != STORE_OK) {
		if (rc == STORE_NOT_FOUND)
			not_found(req);
		else
			api_store_failure(req, rc, "Export");
		return;
	}
	body = json_loadb(row.body, row.body_len, JSON_ALLOW_NUL, NULL);
	t = json_string_value(json_object_get(body, "type"));
	if (t == NULL || strcmp(t, "webhook") != 0) {
		not_found(req);
		goto out;
	}
	d = xcalloc(1, sizeof(*d));
	req->state = d;
	req->free_state = delivery_free;
	if ((d->webhook = webhook_block(req, &row, body)) == NULL) {
		api_store_failure(req, STORE_ERROR, "Export");
		goto out;
	}
	d->url = request_url(req);
	d->wr.method = req->method == M_HEAD ? "HEAD" : req->method_str;
	d->wr.url = d->url;
	d->wr.url_token = req->nparams == 2 ? req->params[1] : NULL;
	d->wr.body = req->body.data;
	d->wr.bodylen = req->body.len;
	d->wr.now_ms = isotime_now_ms();
	d->wr.header = wr_header;
	d->wr.query = wr_query;
	d->wr.arg = req;
	if (listener_admit(req, d, id) == -1)
		goto out;
	status = webhook_parse_body(d->webhook, &d->wr, &d->doc, msg,
	    sizeof(msg));
	if (status != WEBHOOK_PARSE_OK) {
		reply_parse_error(req, status, msg);
		goto out;
	}
	/* a credential sent in the body is not kept, as credential headers
	 * are not */
	webhook_path_del_string(d->doc, webhook_verify_body_path(d->webhook));
	memset(&wresp, 0, sizeof(wresp));
	if (webhook_response_challenge(d->webhook, &d->wr, d->doc, &wresp)) {
		reply_webhook(req, &wresp);
		goto out;
	}
	if (req->method == M_GET) {
		reply_error(req, 405, "method_not_allowed", NULL,
		    "Deliveries are POST or PUT; GET answers challenges only");
		reply_header(req, MHD_HTTP_HEADER_ALLOW, "POST, PUT");
		goto out;
	}
	if (listener_records(req, d, id) == -1)
		goto out;
	d->headers = headers_kept(req, d->webhook);
	w = api_write_get(req);
	w->kind = STORE_INBOX_APPEND;
	memcpy(w->id, id, sizeof(id));
	w->entries = d->entries;
	w->nentries = d->nentries;
	w->received_ms = d->wr.now_ms;
	w->request_id = req->id;
	w->headers = d->headers;
	w->inbox_cap = api_context(req)->inbox_cap;
	/* the write runs in the export's own account */
	snprintf(req->account, sizeof(req->account), "%s", row.account);
	api_write_submit(req, listener_done);
out:
	json_decref(body);
	store_row_free(&row);
}
