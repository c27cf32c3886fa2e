/* GET /metrics: Prometheus text exposition (format 0.0.4). Open, or
 * with --metrics-token only to "Authorization: Bearer TOKEN". Requests
 * by route come from the HTTP layer, the store's figures from its core;
 * nothing here scans a table, and the inbox depth is counted at most
 * every METRICS_INBOX_RECOUNT_MS (docs/operations.md). */
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "auth/token.h"
#include "http/metrics.h"
#include "http/response.h"
#include "http/server.h"
#include "util/metrics.h"

#define METRICS_TYPE	"text/plain; version=0.0.4; charset=utf-8"

/* Whether the request carries the metrics token. Both sides are hashed
 * first, so the comparison takes the same time whatever their lengths. */
static bool
metrics_authorized(struct request *req, const char *want)
{
	unsigned char	 a[CRYPTO_SHA256LEN], b[CRYPTO_SHA256LEN];
	const char	*tok;
	size_t		 len;
	bool		 ok;

	if (token_from_header(request_header(req, "Authorization"), &tok,
	    &len) == -1)
		return false;
	crypto_sha256(tok, len, a);
	crypto_sha256(want, strlen(want), b);
	ok = crypto_equal(a, sizeof(a), b, sizeof(b));
	crypto_wipe(a, sizeof(a));
	crypto_wipe(b, sizeof(b));
	return ok;
}

static int
inbox_count(void *arg, int64_t *n)
{
	return store_inbox_total(arg, n) == STORE_OK ? 0 : -1;
}

/* The process and the store: build, start time, group commits, errors,
 * reconnects, inbox depth. */
static void
metrics_store_render(struct api_context *ctx, struct buf *b)
{
	int64_t	depth;

	metrics_family(b, "exportd_build_info", "gauge",
	    "The version of exportd and the store it serves from");
	buf_printf(b, "exportd_build_info{version=\"%s\",store=\"%s\"} 1\n",
	    EXPORTD_VERSION, store_name(ctx->store));
	metrics_family(b, "process_start_time_seconds", "gauge",
	    "Start time of the process since the Unix epoch, in seconds");
	buf_printf(b, "process_start_time_seconds %lld.%03lld\n",
	    (long long)(ctx->started_ms / 1000),
	    (long long)(ctx->started_ms % 1000));
	metrics_family(b, "exportd_store_batch_writes", "histogram",
	    "Writes committed together in one transaction (group commit)");
	metrics_hist_render(b, "exportd_store_batch_writes", "",
	    &metrics_store.batch_writes, &metrics_batch);
	metrics_family(b, "exportd_store_commit_seconds", "histogram",
	    "Time of a committed batch, from BEGIN to the end of COMMIT");
	metrics_hist_render(b, "exportd_store_commit_seconds", "",
	    &metrics_store.commit_us, &metrics_latency);
	metrics_family(b, "exportd_store_errors_total", "counter",
	    "Store statements that failed (unavailable or in error; a "
	    "unique key taken is not counted)");
	buf_printf(b, "exportd_store_errors_total %llu\n", (unsigned long long)
	    atomic_load(&metrics_store.errors));
	metrics_family(b, "exportd_store_reconnects_total", "counter",
	    "Database connections made again after they were lost");
	buf_printf(b, "exportd_store_reconnects_total %llu\n",
	    (unsigned long long)atomic_load(&metrics_store.reconnects));
	if ((depth = metrics_inbox_depth(inbox_count, ctx->store)) < 0)
		return;
	metrics_family(b, "exportd_inbox_records", "gauge",
	    "Webhook records waiting in every export's inbox");
	buf_printf(b, "exportd_inbox_records %lld\n", (long long)depth);
}

void
metrics_get(struct request *req)
{
	struct api_context	*ctx = api_context(req);
	struct buf		 b;
	char			*body;
	size_t			 len;

	if (ctx->metrics_token != NULL &&
	    !metrics_authorized(req, ctx->metrics_token)) {
		reply_error(req, 401, "unauthorized", NULL, "The metrics "
		    "token is required (Authorization: Bearer <token>)");
		return;
	}
	buf_init(&b, 0);
	metrics_store_render(ctx, &b);
	http_metrics_render(req->srv, &b);
	body = buf_steal(&b, &len);
	reply_text(req, 200, METRICS_TYPE, body, len);
}
