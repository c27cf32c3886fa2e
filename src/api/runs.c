/*
 * Exports that run (export-api.md §13, docs/running.md):
 * POST /v1/exports/{_id}/invoke, POST /v1/exports/preview,
 * POST /v1/connections/{_id}/export and /export/pages.
 *
 * The handler checks the request, reads the export, its connection (its
 * secrets opened) and the delta state, and builds the run; then it
 * suspends the request and queues the run on a worker (run/pool.c). The
 * worker makes the requests and writes the answer; the request resumes
 * on a server thread only to send it.
 */
#include <microhttpd.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "crypto/crypto.h"
#include "http/response.h"
#include "http/server.h"
#include "model/connection.h"
#include "util/isotime.h"
#include "util/json.h"
#include "util/log.h"
#include "util/xmalloc.h"

#define DELTA_KEY	"lastExportDateTime"	/* the export's state key */
#define PAGED_AAD	"exportd/pagedExportState/v1"
#define RUNS_ALL_ROWS	1000	/* rows per FETCH of an RDBMS run of all pages */
#define STREAM_AHEAD	262144	/* bytes a streamed run may be ahead of its
				   reader before it waits */

enum job_kind { JOB_INVOKE, JOB_PREVIEW, JOB_EXPORT, JOB_PAGES };

/*
 * The answer of a run of all pages, streamed while the run goes on: the
 * worker appends each page's records, the content reader sends them. The
 * worker waits while it is STREAM_AHEAD bytes ahead (so memory is one
 * page and that much), the reader pauses the connection while there is
 * nothing to send. Shared by the two, freed by the last to let go.
 */
struct run_stream {
	pthread_mutex_t	 lock;
	pthread_cond_t	 drained;
	struct buf	 out;		/* written, not yet sent from off */
	size_t		 off;
	uint64_t	 sent;		/* for the access log */
	bool		 done;		/* the worker wrote the end */
	bool		 paused;	/* the reader paused the connection */
	bool		 gone;		/* the response is freed */
	bool		 aborted;	/* shutdown: cut the answer */
	int		 refs;
	struct request	*req;		/* while !gone */
};

struct run_job {
	struct request		*req;
	enum job_kind		 kind;
	struct run		*run;
	bool			 all;
	int64_t			 first;		/* records of a first page */
	/* /export/pages */
	const unsigned char	*key;
	char			 account[OID_HEXLEN + 1];
	char			 conn_id[OID_HEXLEN + 1];
	unsigned char		 export_hash[CRYPTO_SHA256LEN];
	int64_t			 page_index;
	int64_t			 page_size;
	char			 what[48];	/* for the log: kind and id */
	struct run_stream	*stream;	/* an all run, streamed */
	bool			 queue_full;	/* no worker took it */
	/* in flight (live), and who still holds it: the worker, and a
	 * suspended request until it completes */
	struct run_job		*next, *prev;
	int			 refs;
	bool			 abandoned;	/* shutdown: replied 503 */
	/* the answer, written by the worker */
	unsigned		 status;
	char			*reply;
	size_t			 reply_len;
};

/* The runs in flight, for runs_abandon. */
static pthread_mutex_t	 live_lock = PTHREAD_MUTEX_INITIALIZER;
static struct run_job	*live;

static void
job_destroy(struct run_job *job)
{
	run_free(job->run);
	free(job->reply);
	free(job);
}

/* Let go of a job; the last holder frees it. */
static void
job_release(void *p)
{
	struct run_job	*job = p;
	bool		 last;

	pthread_mutex_lock(&live_lock);
	last = --job->refs == 0;
	pthread_mutex_unlock(&live_lock);
	if (last)
		job_destroy(job);
}

static void
live_add(struct run_job *job)
{
	pthread_mutex_lock(&live_lock);
	job->next = live;
	if (live != NULL)
		live->prev = job;
	live = job;
	pthread_mutex_unlock(&live_lock);
}

/* Called with live_lock held. */
static void
live_del(struct run_job *job)
{
	if (job->prev != NULL)
		job->prev->next = job->next;
	else if (live == job)
		live = job->next;
	if (job->next != NULL)
		job->next->prev = job->prev;
	job->next = job->prev = NULL;
}

/* ---- a streamed answer ---- */

static void
stream_release(struct run_stream *st)
{
	bool	 last;

	pthread_mutex_lock(&st->lock);
	last = --st->refs == 0;
	pthread_mutex_unlock(&st->lock);
	if (!last)
		return;
	pthread_mutex_destroy(&st->lock);
	pthread_cond_destroy(&st->drained);
	buf_free(&st->out);
	free(st);
}

/* The response is gone (sent, or the client left): stop the worker. */
static void
stream_gone(void *cls)
{
	struct run_stream	*st = cls;

	pthread_mutex_lock(&st->lock);
	st->gone = true;
	st->req = NULL;
	pthread_cond_broadcast(&st->drained);
	pthread_mutex_unlock(&st->lock);
	stream_release(st);
}

/* libmicrohttpd's content reader (a server thread): never waits. */
static ssize_t
stream_read(void *cls, uint64_t pos, char *dst, size_t max)
{
	struct run_stream	*st = cls;
	size_t			 n;
	ssize_t			 rc;

	pthread_mutex_lock(&st->lock);
	n = st->out.len - st->off;
	if (n > max)
		n = max;
	if (st->aborted)
		rc = MHD_CONTENT_READER_END_WITH_ERROR;
	else if (n > 0) {
		memcpy(dst, st->out.data + st->off, n);
		st->off += n;
		if (st->off == st->out.len) {
			buf_reset(&st->out);
			st->off = 0;
		}
		st->sent = pos + n;
		pthread_cond_broadcast(&st->drained);
		rc = (ssize_t)n;
	} else if (st->done)
		rc = MHD_CONTENT_READER_END_OF_STREAM;
	else {
		/* under the lock, so the worker's wake cannot be missed */
		st->paused = true;
		request_stream_pause(st->req);
		rc = 0;
	}
	pthread_mutex_unlock(&st->lock);
	return rc;
}

/* Hand b's bytes to the reader; wait while it is far behind. false if
 * the response is gone (the run should stop). */
static bool
stream_put(struct run_stream *st, struct buf *b, bool done)
{
	bool	 alive;

	pthread_mutex_lock(&st->lock);
	while (!st->gone && !st->aborted &&
	    st->out.len - st->off > STREAM_AHEAD)
		pthread_cond_wait(&st->drained, &st->lock);
	if (!st->gone && !st->aborted) {
		buf_add(&st->out, b->data, b->len);
		st->done = done;
		if (st->paused) {
			st->paused = false;
			request_stream_wake(st->req);
		}
	}
	alive = !st->gone && !st->aborted;
	pthread_mutex_unlock(&st->lock);
	buf_reset(b);
	return alive;
}

/* ---- reading what a run needs ---- */

/* Put a secret map ({"http.auth.token.token": ...}) back into doc. */
static void
secrets_put(json_t *doc, const json_t *secrets)
{
	const char	*path;
	json_t		*v;

	json_object_foreach((json_t *)secrets, path, v)
		json_path_set_new(doc, path, json_deep_copy(v));
}

/* The connection id of the account, its document with its secrets in
 * place in *doc and the secrets in *secrets; -1 after replying (404 for
 * the path's connection, 422 on field for one a document names). */
static int
connection_load(struct request *req, const char *id, const char *field,
    json_t **doc, json_t **secrets, int64_t *rev)
{
	struct store_row	 row;
	enum store_status	 st;
	int			 bad;

	*doc = *secrets = NULL;
	st = store_get(api_store(req), STORE_CONNECTIONS, req->account, id,
	    &row);
	if (st == STORE_NOT_FOUND && field != NULL) {
		reply_error(req, 422, "invalid_field", field, "%s names no "
		    "connection of this account", field);
		return -1;
	}
	if (st != STORE_OK) {
		api_store_failure(req, st, "Connection");
		return -1;
	}
	*doc = json_loadb(row.body, row.body_len, 0, NULL);
	*secrets = api_secrets_open(req->srv, &row, &bad);
	*rev = row.rev;
	store_row_free(&row);
	if (*doc == NULL || bad) {
		json_decref(*doc);
		json_decref(*secrets);
		*doc = *secrets = NULL;
		reply_error(req, 500, "internal_error", NULL, "Internal error "
		    "(request %s)", req->id);
		return -1;
	}
	if (*secrets == NULL)
		*secrets = json_object();
	secrets_put(*doc, *secrets);
	return 0;
}

/* The export's delta cutoff kept in its state, or NULL (caller frees). */
static char *
delta_state(struct request *req, const char *export_id)
{
	char	*v = NULL, *out = NULL;
	size_t	 len;
	json_t	*j;

	if (store_state_get(api_store(req), req->account, export_id,
	    DELTA_KEY, &v, &len) != STORE_OK)
		return NULL;
	if ((j = json_loadb(v, len, JSON_DECODE_ANY, NULL)) != NULL &&
	    json_is_string(j))
		out = xstrdup(json_string_value(j));
	json_decref(j);
	free(v);
	return out;
}

/* The optional members of a run's body; -1 after replying 422. */
static int
body_check(struct request *req, const json_t *body)
{
	const json_t	*v, *pd = json_object_get(body, "postData");
	const char	*bad = NULL;

	if ((v = json_object_get(body, "all")) != NULL && !json_is_boolean(v))
		bad = "all";
	else if (pd != NULL && !json_is_object(pd))
		bad = "postData";
	else if ((v = json_object_get(pd, "lastExportDateTime")) != NULL &&
	    !json_is_string(v))
		bad = "postData.lastExportDateTime";
	else if ((v = json_object_get(pd, "currentExportDateTime")) != NULL &&
	    !json_is_string(v))
		bad = "postData.currentExportDateTime";
	else if ((v = json_object_get(body, "data")) != NULL &&
	    !json_is_object(v) && !json_is_array(v))
		bad = "data";
	else if ((v = json_object_get(body, "settings")) != NULL &&
	    !json_is_object(v))
		bad = "settings";
	if (bad == NULL)
		return 0;
	reply_error(req, 422, "invalid_field", bad, "%s has the wrong type",
	    bad);
	return -1;
}

/* The input record of a lookup: data, or its first element. */
static const json_t *
body_record(const json_t *body)
{
	const json_t	*d = json_object_get(body, "data");

	return json_is_array(d) ? json_array_get(d, 0) : d;
}

/*
 * Build the run of export (through the connection conn_id) for the
 * request: the export's adaptor checked, the connection read, the run
 * made. NULL after replying.
 */
static struct run *
run_build(struct request *req, const json_t *exp, const char *conn_id,
    const char *conn_field, const json_t *body, const char *state_last,
    const json_t *cursor, bool stages, int rows)
{
	struct api_context	*ctx = api_context(req);
	struct run_input	 in;
	struct run		*run = NULL;
	json_t			*conn = NULL, *secrets = NULL;
	const char		*adaptor, *type;
	char			 why[256];
	int64_t			 rev = 0;

	if (connection_load(req, conn_id, conn_field, &conn, &secrets, &rev)
	    == -1)
		return NULL;
	type = json_string_value(json_object_get(conn, "type"));
	if ((adaptor = json_string_value(json_object_get(exp,
	    "adaptorType"))) == NULL)
		adaptor = connection_adaptor(type != NULL ? type : "",
		    json_object_get(exp, "rest") != NULL);
	if (!run_supported(adaptor, type, why, sizeof why)) {
		reply_error(req, 422, "invalid_type", "adaptorType", "%s", why);
		goto out;
	}
	memset(&in, 0, sizeof in);
	in.export = exp;
	in.connection = conn;
	in.secrets = secrets;
	in.connection_id = conn_id;
	in.connection_rev = rev;
	in.settings = json_object_get(body, "settings");
	in.record = body_record(body);
	in.post_data = json_object_get(body, "postData");
	in.state_last = state_last;
	in.cursor = cursor;
	in.stages = stages;
	in.now_ms = isotime_now_ms();
	in.limits = ctx->run_limits;
	in.egress = ctx->egress;
	in.rdbms_rows = rows;
	if ((run = run_new(&in, why, sizeof why)) == NULL)
		reply_error(req, 422, "invalid_field", NULL, "The export cannot "
		    "run: %s", why);
out:
	json_decref(conn);
	json_decref(secrets);
	return run;
}

/* ---- the worker's side ---- */

/* The pagedExportState's signature (hex into out) over its fields, the
 * account, the connection and the export it pages. */
static void
paged_sign(const struct run_job *job, int64_t index, int64_t size, bool done,
    int64_t issued, const char *cursor, char out[2 * CRYPTO_SHA256LEN + 1])
{
	unsigned char	 mac[64], sub[64];
	struct buf	 b;
	char		*hex;

	crypto_hmac(CRYPTO_SHA256, job->key, CRYPTO_KEYLEN, PAGED_AAD,
	    strlen(PAGED_AAD), sub);
	buf_init(&b, 0);
	buf_printf(&b, "%s\n%s\n%s\n", PAGED_AAD, job->account, job->conn_id);
	buf_add(&b, job->export_hash, sizeof job->export_hash);
	buf_printf(&b, "\n%lld\n%lld\n%d\n%lld\n%s", (long long)index,
	    (long long)size, done ? 1 : 0, (long long)issued, cursor);
	crypto_hmac(CRYPTO_SHA256, sub, CRYPTO_SHA256LEN, b.data, b.len, mac);
	hex = crypto_hex(mac, CRYPTO_SHA256LEN);
	memcpy(out, hex, 2 * CRYPTO_SHA256LEN + 1);
	free(hex);
	crypto_wipe(sub, sizeof sub);
	buf_free(&b);
}

/* The additional data that binds a sealed cursor to its account and
 * connection. */
static void
paged_aad(const struct run_job *job, char *out, size_t outsz)
{
	snprintf(out, outsz, "%s:%s:%s", PAGED_AAD, job->account,
	    job->conn_id);
}

/* The next pagedExportState, rendered into b. */
static void
paged_state(struct run_job *job, struct buf *b)
{
	json_t		*cur = run_cursor(job->run), *st;
	char		*plain, *hex, aad[160], sig[2 * CRYPTO_SHA256LEN + 1];
	unsigned char	*sealed;
	size_t		 len, slen;
	int64_t		 issued = isotime_now_ms() / 1000;
	bool		 done = run_done(job->run);

	plain = json_dumps(cur, JSON_COMPACT);
	len = strlen(plain);
	paged_aad(job, aad, sizeof aad);
	sealed = crypto_seal(job->key, aad, strlen(aad), plain, len, &slen);
	crypto_wipe(plain, len);
	free(plain);
	hex = crypto_hex(sealed, slen);
	free(sealed);
	paged_sign(job, job->page_index, job->page_size, done, issued, hex,
	    sig);
	st = json_pack("{s:I, s:I, s:b, s:I, s:s, s:s}", "pageIndex",
	    (json_int_t)job->page_index, "pageSize",
	    (json_int_t)job->page_size, "done", done, "issuedAt",
	    (json_int_t)issued, "cursor", hex, "sig", sig);
	json_render(b, st);
	json_decref(st);
	json_decref(cur);
	free(hex);
}

/* The worker is done with job: out of the live list; a suspended
 * request gets the answer in b (if it was not abandoned meanwhile) and
 * resumes. */
static void
job_end(struct run_job *job, struct buf *b)
{
	bool	 wake = false;

	pthread_mutex_lock(&live_lock);
	live_del(job);
	if (job->stream == NULL && !job->abandoned) {
		if (b != NULL)
			job->reply = buf_steal(b, &job->reply_len);
		wake = true;
	}
	pthread_mutex_unlock(&live_lock);
	if (b != NULL)
		buf_free(b);
	if (job->stream != NULL) {
		stream_release(job->stream);
		job->stream = NULL;
	}
	if (wake)
		request_resume(job->req);
	job_release(job);
}

void
runs_abandon(void *app)
{
	struct run_job		*job;
	struct run_stream	*st;

	(void)app;
	pthread_mutex_lock(&live_lock);
	for (job = live; job != NULL; job = job->next) {
		if ((st = job->stream) != NULL) {
			pthread_mutex_lock(&st->lock);
			st->aborted = true;
			pthread_cond_broadcast(&st->drained);
			if (st->paused && !st->gone) {
				st->paused = false;
				request_stream_wake(st->req);
			}
			pthread_mutex_unlock(&st->lock);
		} else if (!job->abandoned) {
			__atomic_store_n(&job->abandoned, true,
			    __ATOMIC_RELEASE);
			request_resume(job->req);
		}
	}
	pthread_mutex_unlock(&live_lock);
}

/* Run the job's pages and write its answer (on a worker). */
static void
job_run(void *arg, struct fetch_client *fc)
{
	struct run_job	*job = arg;
	struct buf	 b;
	json_t		*recs, *rec;
	int64_t		 n = 0, i, started = isotime_mono_us();
	size_t		 k;
	int		 rc;

	if (fc == NULL && job->stream != NULL) {
		/* the stream's 200 is out: say it in errors */
		buf_init(&b, 0);
		buf_adds(&b, "{\"data\":[],\"errors\":[{\"code\":\"unavailable\","
		    "\"message\":\"no outbound HTTP client could be set up\","
		    "\"source\":\"exportd\"}]}");
		stream_put(job->stream, &b, true);
		buf_free(&b);
		job_end(job, NULL);
		return;
	}
	if (fc == NULL) {
		job->status = 503;
		job_end(job, NULL);
		return;
	}
	buf_init(&b, 0);
	buf_adds(&b, "{\"data\":[");
	do {
		rc = run_next(job->run, fc, &recs);
		json_array_foreach(recs, k, rec) {
			if (job->first > 0 && n >= job->first)
				break;
			if (n++ > 0)
				buf_addc(&b, ',');
			json_render(&b, rec);
		}
		json_decref(recs);
		if (job->stream != NULL && !stream_put(job->stream, &b, false))
			break;
	} while (rc == 0 && job->all &&
	    !__atomic_load_n(&job->abandoned, __ATOMIC_ACQUIRE));
	buf_adds(&b, "]");
	if (job->kind == JOB_EXPORT || job->kind == JOB_PAGES) {
		buf_adds(&b, ",\"dataURIs\":[");
		for (i = 0; i < n; i++)
			buf_adds(&b, i > 0 ? ",null" : "null");
		buf_adds(&b, "]");
	}
	buf_adds(&b, ",\"errors\":");
	json_render(&b, run_errors(job->run));
	if (job->kind == JOB_PREVIEW) {
		buf_adds(&b, ",\"stages\":");
		json_render(&b, run_stages(job->run));
	}
	if (job->kind == JOB_PAGES) {
		buf_adds(&b, ",\"pagedExportState\":");
		paged_state(job, &b);
	}
	buf_addc(&b, '}');
	if (job->stream != NULL) {
		stream_put(job->stream, &b, true);
		buf_free(&b);
		log_info("run: %s: %lld page%s, %lld record%s, %zu error%s, "
		    "%lld ms (streamed)", job->what,
		    (long long)run_pages(job->run),
		    run_pages(job->run) == 1 ? "" : "s", (long long)n,
		    n == 1 ? "" : "s", json_array_size(run_errors(job->run)),
		    json_array_size(run_errors(job->run)) == 1 ? "" : "s",
		    (long long)((isotime_mono_us() - started) / 1000));
		job_end(job, NULL);
		return;
	}
	log_info("run: %s: %lld page%s, %lld record%s, %zu error%s, %lld ms",
	    job->what, (long long)run_pages(job->run),
	    run_pages(job->run) == 1 ? "" : "s", (long long)n, n == 1 ? "" : "s",
	    json_array_size(run_errors(job->run)),
	    json_array_size(run_errors(job->run)) == 1 ? "" : "s",
	    (long long)((isotime_mono_us() - started) / 1000));
	job->status = 200;
	job_end(job, &b);
}

/* Back on a server thread: send what the worker wrote. */
static void
job_done(struct request *req)
{
	struct run_job	*job = req->state;

	if (job->abandoned) {
		reply_error(req, 503, "unavailable", NULL, "The server is "
		    "shutting down; run the export again");
		reply_header(req, MHD_HTTP_HEADER_RETRY_AFTER, "1");
		return;
	}
	if (job->queue_full) {
		reply_error(req, 503, "unavailable", NULL, "Too many exports "
		    "are running; retry shortly");
		reply_header(req, MHD_HTTP_HEADER_RETRY_AFTER, "1");
		return;
	}
	if (job->status != 200 || job->reply == NULL) {
		reply_error(req, 503, "unavailable", NULL, "Exports cannot run "
		    "now (no outbound HTTP client); retry shortly");
		reply_header(req, MHD_HTTP_HEADER_RETRY_AFTER, "1");
		return;
	}
	reply_json(req, 200, job->reply, job->reply_len);
	job->reply = NULL;
}

/* A run of all pages: its answer streams while it runs. The worker owns
 * the job (the request may end first: the client left). */
static void
job_stream(struct request *req, struct run_job *job)
{
	struct run_stream	*st = xcalloc(1, sizeof *st);

	pthread_mutex_init(&st->lock, NULL);
	pthread_cond_init(&st->drained, NULL);
	buf_init(&st->out, 0);
	st->refs = 2;
	st->req = req;
	job->stream = st;
	live_add(job);
	if (run_pool_submit(api_context(req)->runs, job_run, job) == -1) {
		pthread_mutex_lock(&live_lock);
		live_del(job);
		pthread_mutex_unlock(&live_lock);
		job->stream = NULL;
		stream_release(st);
		stream_release(st);
		job_release(job);
		reply_error(req, 503, "unavailable", NULL, "Too many exports "
		    "are running; retry shortly");
		reply_header(req, MHD_HTTP_HEADER_RETRY_AFTER, "1");
		return;
	}
	reply_json_stream(req, 200, stream_read, st, stream_gone, &st->sent);
}

/* Hand the run to a worker and suspend the request (takes run). */
static void
job_submit(struct request *req, struct run_job *job)
{
	if (job->all) {
		job_stream(req, job);
		return;
	}
	job->req = req;
	job->refs = 2;		/* the request's and the worker's */
	req->state = job;
	req->free_state = job_release;
	request_suspend(req, job_done);
	live_add(job);
	if (run_pool_submit(api_context(req)->runs, job_run, job) == -1) {
		pthread_mutex_lock(&live_lock);
		live_del(job);
		pthread_mutex_unlock(&live_lock);
		job->refs = 1;
		job->queue_full = true;
		request_resume(req);
	}
}

static struct run_job *
job_new(enum job_kind kind, struct run *run)
{
	struct run_job	*job = xcalloc(1, sizeof *job);

	job->kind = kind;
	job->run = run;
	job->refs = 1;
	return job;
}

/* Records of a first page: pageSize (20 when unset). */
static int64_t
first_page(const json_t *exp)
{
	json_int_t	 n = json_integer_value(json_object_get(exp, "pageSize"));

	return n > 0 ? n : LIMIT_RUN_PAGE_SIZE;
}

/* ---- the handlers ---- */

void
exports_invoke(struct request *req)
{
	struct store_row	 row;
	enum store_status	 st;
	json_t			*body = NULL, *exp = NULL;
	const char		*cid, *adaptor, *type;
	char			 id[OID_HEXLEN + 1], *last = NULL;
	struct run		*run;
	struct run_job		*job;
	bool			 all;

	if (api_path_id(req, "Export", id) == -1)
		return;
	if (req->body.len > 0 && (body = api_body_object(req)) == NULL)
		return;
	if (body_check(req, body) == -1)
		goto out;
	if ((st = store_get(api_store(req), STORE_EXPORTS, req->account, id,
	    &row)) != STORE_OK) {
		api_store_failure(req, st, "Export");
		goto out;
	}
	exp = json_loadb(row.body, row.body_len, 0, NULL);
	store_row_free(&row);
	adaptor = json_string_value(json_object_get(exp, "adaptorType"));
	if ((cid = json_string_value(json_object_get(exp, "_connectionId"))) ==
	    NULL || adaptor == NULL || (strcmp(adaptor, "HTTPExport") != 0 &&
	    strcmp(adaptor, "RESTExport") != 0 &&
	    strcmp(adaptor, "RDBMSExport") != 0)) {
		reply_error(req, 422, "invalid_type", "adaptorType", "running "
		    "%s exports is not supported", adaptor != NULL ? adaptor :
		    "these");
		goto out;
	}
	type = json_string_value(json_object_get(exp, "type"));
	if (type != NULL && strcmp(type, "delta") == 0)
		last = delta_state(req, id);
	all = json_is_true(json_object_get(body, "all"));
	if ((run = run_build(req, exp, cid, "_connectionId", body, last, NULL,
	    false, all ? RUNS_ALL_ROWS : (int)first_page(exp))) == NULL)
		goto out;
	job = job_new(JOB_INVOKE, run);
	job->all = all;
	snprintf(job->what, sizeof job->what, "invoke of export %s", id);
	job->first = job->all ? 0 : first_page(exp);
	job_submit(req, job);
out:
	free(last);
	json_decref(exp);
	json_decref(body);
}

/* The _connectionId a document names, checked; NULL after replying. */
static const char *
doc_connection(struct request *req, const json_t *doc, const char *field)
{
	const char	*cid = json_string_value(json_object_get(doc,
			    "_connectionId"));

	if (cid == NULL || !oid_valid(cid, strlen(cid))) {
		reply_error(req, 422, "invalid_field", field, "%s must be the "
		    "_id of a connection", field);
		return NULL;
	}
	return cid;
}

void
exports_preview(struct request *req)
{
	json_t		*body, *exp;
	const char	*cid;
	struct run	*run;
	struct run_job	*job;

	if ((body = api_body_object(req)) == NULL)
		return;
	if (body_check(req, body) == -1 ||
	    (cid = doc_connection(req, body, "_connectionId")) == NULL)
		goto out;
	exp = json_deep_copy(body);
	json_object_del(exp, "postData");
	run = run_build(req, exp, cid, "_connectionId", body, NULL, NULL,
	    true, (int)first_page(body));
	json_decref(exp);
	if (run == NULL)
		goto out;
	job = job_new(JOB_PREVIEW, run);
	snprintf(job->what, sizeof job->what, "preview");
	job->first = first_page(body);
	job_submit(req, job);
out:
	json_decref(body);
}

/* Check a pagedExportState against the job (signature, age) and give
 * its cursor; NULL after replying 422. */
static json_t *
paged_open(struct request *req, struct run_job *job, const json_t *st)
{
	const json_t	*idx = json_object_get(st, "pageIndex");
	const json_t	*size = json_object_get(st, "pageSize");
	const json_t	*done = json_object_get(st, "done");
	const json_t	*iss = json_object_get(st, "issuedAt");
	const char	*cur = json_string_value(json_object_get(st, "cursor"));
	const char	*sig = json_string_value(json_object_get(st, "sig"));
	char		 want[2 * CRYPTO_SHA256LEN + 1], aad[160];
	unsigned char	*env = NULL, *plain = NULL;
	size_t		 envlen, len;
	int64_t		 now = isotime_now_ms() / 1000;
	json_t		*c = NULL;

	if (!json_is_integer(idx) || !json_is_integer(size) ||
	    !json_is_boolean(done) || !json_is_integer(iss) || cur == NULL ||
	    sig == NULL)
		goto bad;
	paged_sign(job, json_integer_value(idx), json_integer_value(size),
	    json_is_true(done), json_integer_value(iss), cur, want);
	if (!crypto_equal(want, strlen(want), sig, strlen(sig)))
		goto bad;
	if (json_integer_value(iss) > now + 60 || now -
	    json_integer_value(iss) > LIMIT_PAGED_STATE_S) {
		reply_error(req, 422, "invalid_field", "pagedExportState",
		    "pagedExportState has expired (it is good for %d s); "
		    "start again without it", LIMIT_PAGED_STATE_S);
		return NULL;
	}
	envlen = strlen(cur) / 2;
	env = xmalloc(envlen + 1);
	if (crypto_unhex(cur, strlen(cur), env, envlen + 1) != (int)envlen)
		goto bad;
	paged_aad(job, aad, sizeof aad);
	if ((plain = crypto_open(job->key, aad, strlen(aad), env, envlen,
	    &len)) == NULL)
		goto bad;
	c = json_loadb((char *)plain, len, 0, NULL);
	crypto_wipe(plain, len);
	free(plain);
	free(env);
	job->page_index = json_integer_value(idx);
	if (c == NULL)
		goto bad;
	return c;
bad:
	free(env);
	reply_error(req, 422, "invalid_field", "pagedExportState",
	    "pagedExportState is not one this server issued for this "
	    "export and connection; send it back exactly as received");
	return NULL;
}

/* POST /v1/connections/{_id}/export[/pages]. */
static void
connections_run(struct request *req, enum job_kind kind)
{
	json_t		*body, *exp, *cursor = NULL;
	const json_t	*st;
	struct run	*run;
	struct run_job	*job;
	char		 id[OID_HEXLEN + 1], *text;

	if (api_path_id(req, "Connection", id) == -1 ||
	    (body = api_body_object(req)) == NULL)
		return;
	exp = json_object_get(body, "export");
	if (!json_is_object(exp)) {
		reply_error(req, 422, "invalid_field", "export", "export must "
		    "be an export document (an object)");
		goto out;
	}
	if (body_check(req, body) == -1)
		goto out;
	job = job_new(kind, NULL);
	snprintf(job->what, sizeof job->what, "%s of connection %s",
	    kind == JOB_PAGES ? "page" : "export", id);
	job->key = api_context(req)->key;
	snprintf(job->account, sizeof job->account, "%s", req->account);
	snprintf(job->conn_id, sizeof job->conn_id, "%s", id);
	text = json_dumps(exp, JSON_COMPACT | JSON_SORT_KEYS);
	crypto_sha256(text, strlen(text), job->export_hash);
	free(text);
	job->page_size = first_page(exp);
	st = json_object_get(body, "pagedExportState");
	if (kind == JOB_PAGES && st != NULL && (cursor = paged_open(req, job,
	    st)) == NULL) {
		job_release(job);
		goto out;
	}
	if ((run = run_build(req, exp, id, NULL, body, NULL, cursor,
	    false, kind == JOB_EXPORT ? RUNS_ALL_ROWS :
	    (int)job->page_size)) == NULL) {
		job_release(job);
		goto out;
	}
	job->run = run;
	job->all = kind == JOB_EXPORT;
	job->page_index++;
	job_submit(req, job);
out:
	json_decref(cursor);
	json_decref(body);
}

void
connections_export(struct request *req)
{
	connections_run(req, JOB_EXPORT);
}

void
connections_export_pages(struct request *req)
{
	connections_run(req, JOB_PAGES);
}
