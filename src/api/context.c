/* The application behind the HTTP server: what the handlers share for the
 * server's life, the hook the server calls (token lookup), and a
 * request's write. The HTTP layer carries all of it as opaque
 * pointers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "http/server.h"
#include "util/isotime.h"
#include "util/xmalloc.h"

void
api_context_init(struct api_context *ctx, struct store *st,
    const unsigned char key[CRYPTO_KEYLEN], const struct api_options *o)
{
	memset(ctx, 0, sizeof(*ctx));
	ctx->store = st;
	memcpy(ctx->key, key, CRYPTO_KEYLEN);
	ctx->inbox_cap = o->inbox_cap;
	ctx->listener_max_records = o->listener_max_records;
	ctx->listener_max_stored = o->listener_max_stored;
	ratelimit_init(&ctx->listener_rl, o->listener_burst,
	    o->listener_per_second, NULL, NULL);
	ratelimit_init(&ctx->listener_failed_rl, o->listener_failed_burst,
	    o->listener_failed_per_second, NULL, NULL);
	if (o->metrics_token != NULL && o->metrics_token[0] != '\0')
		ctx->metrics_token = xstrdup(o->metrics_token);
	ctx->started_ms = isotime_now_ms();
	ctx->audit_retention_days = o->audit_retention_days;
	ctx->egress = o->egress;
	ctx->fetch_limits = o->fetch_limits;
	ctx->run_limits = o->run_limits;
	if (ctx->run_limits.max_pages <= 0)
		ctx->run_limits.max_pages = LIMIT_RUN_PAGES;
	if (ctx->run_limits.max_records <= 0)
		ctx->run_limits.max_records = LIMIT_RUN_RECORDS;
	ctx->runs = run_pool_new(o->run_workers > 0 ? o->run_workers :
	    LIMIT_RUN_WORKERS, LIMIT_RUN_QUEUE, o->egress, &o->fetch_limits);
	audit_pruner_start(ctx);
}

void
api_context_free(struct api_context *ctx)
{
	audit_pruner_stop(ctx);
	run_pool_free(ctx->runs);
	ratelimit_free(&ctx->listener_rl);
	ratelimit_free(&ctx->listener_failed_rl);
	crypto_wipe(ctx->key, sizeof(ctx->key));
	if (ctx->metrics_token != NULL) {
		crypto_wipe(ctx->metrics_token, strlen(ctx->metrics_token));
		free(ctx->metrics_token);
	}
}

struct api_context *
api_context(const struct request *req)
{
	return req->srv->app;
}

struct store *
api_store(const struct request *req)
{
	return api_context(req)->store;
}

static int
hook_token_account(void *app, const unsigned char hash[CRYPTO_SHA256LEN],
    char account[OID_HEXLEN + 1])
{
	struct store	*st = ((struct api_context *)app)->store;

	switch (store_token_account(st, hash, account)) {
	case STORE_OK:
		return 0;
	case STORE_NOT_FOUND:
		return 1;
	default:
		return -1;
	}
}

const struct server_hooks api_hooks = {
	.token_account = hook_token_account,
	.abandon = runs_abandon,
};

/* The request's write and what it stored, at the request's end. */
static void
write_free(void *p)
{
	struct api_write	*aw = p;

	store_row_free(&aw->w.result);
	store_row_free(&aw->w.ref);
	free(aw->audit_body);
	free(aw);
}

struct store_write *
api_write_get(struct request *req)
{
	struct api_write	*aw;

	if (req->app == NULL) {
		aw = xcalloc(1, sizeof(*aw));
		req->app = aw;
		req->app_free = write_free;
	}
	return &((struct api_write *)req->app)->w;
}

/* Runs on a store thread once the write is durable or has failed. */
static void
write_done(struct store_write *w)
{
	request_resume(w->arg);
}

void
api_write_submit(struct request *req, void (*cont)(struct request *))
{
	struct store		*st = api_store(req);
	struct store_write	*w = api_write_get(req);

	w->arg = req;
	w->done = write_done;
	snprintf(w->account, sizeof(w->account), "%s", req->account);
	/* suspended first: done may run before submit returns */
	request_suspend(req, cont);
	store_write_submit(st, w);
}
