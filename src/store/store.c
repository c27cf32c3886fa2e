/* The store core: driver selection, each thread's connection, reads and
 * lists, accounts and tokens. Every rule is written here once; drivers
 * only run statements (store/driver.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/core.h"
#include "util/isotime.h"
#include "util/limits.h"
#include "util/log.h"
#include "util/xmalloc.h"

static const struct store_driver *const drivers[] = {
	&store_sqlite_driver,
	&store_postgres_driver,
};

static bool
url_is(const char *url, const char *scheme)
{
	return scheme != NULL && strncmp(url, scheme, strlen(scheme)) == 0;
}

struct store *
store_open(const char *url, unsigned flags)
{
	const struct store_driver	*drv = NULL;
	struct store			*s;
	size_t				 i;

	for (i = 0; i < sizeof(drivers) / sizeof(drivers[0]); i++)
		if (url_is(url, drivers[i]->scheme) ||
		    url_is(url, drivers[i]->scheme2))
			drv = drivers[i];
	if (drv == NULL) {
		log_error("store: unsupported database URL scheme (want "
		    "sqlite:PATH or postgresql://...)");
		return NULL;
	}
	s = xcalloc(1, sizeof(*s));
	s->drv = drv;
	if ((s->engine = drv->open(url, flags)) == NULL) {
		free(s);
		return NULL;
	}
	pthread_key_create(&s->key, NULL);
	pthread_mutex_init(&s->reg_lock, NULL);
	store_stmts_build(s);
	return s;
}

void
store_close(struct store *s)
{
	struct store_conn_slot	*sl, *n;

	if (s == NULL)
		return;
	store_drain(s);
	store_restore_abort(s);
	for (sl = s->conns; sl != NULL; sl = n) {
		n = sl->next;
		s->drv->conn_close(sl->c);
		free(sl);
	}
	s->drv->close(s->engine);
	store_stmts_free(s);
	pthread_key_delete(s->key);
	pthread_mutex_destroy(&s->reg_lock);
	free(s);
}

const char *
store_name(const struct store *s)
{
	return s->drv->name;
}

const char *
store_status_str(enum store_status st)
{
	switch (st) {
	case STORE_OK:		return "ok";
	case STORE_NOT_FOUND:	return "not found";
	case STORE_REJECTED:	return "rejected";
	case STORE_CONFLICT:	return "conflict";
	case STORE_UNAVAILABLE:	return "unavailable";
	case STORE_FULL:	return "full";
	case STORE_IN_USE:	return "in use";
	case STORE_ERROR:	return "error";
	}
	return "?";
}

/* The transaction this thread is writing in, if any. */
static __thread struct store		*tx_store;
static __thread struct store_conn	*tx_conn;

void
store_tx_enter(struct store *s, struct store_conn *c)
{
	tx_store = s;
	tx_conn = c;
}

void
store_tx_leave(void)
{
	tx_store = NULL;
	tx_conn = NULL;
}

/* This thread's connection, opened on first use, ready for a statement;
 * NULL when the database cannot be reached now. Inside a write's
 * transaction it is that transaction's connection, untouched: getting it
 * ready would roll the transaction back. */
struct store_conn *
store_conn(struct store *s)
{
	struct store_conn_slot	*sl;
	struct store_conn	*c;

	if (tx_store == s)
		return tx_conn;
	if ((c = pthread_getspecific(s->key)) == NULL) {
		if ((c = s->drv->conn_open(s->engine)) == NULL)
			return NULL;
		sl = xcalloc(1, sizeof(*sl));
		sl->c = c;
		pthread_mutex_lock(&s->reg_lock);
		sl->next = s->conns;
		s->conns = sl;
		pthread_mutex_unlock(&s->reg_lock);
		pthread_setspecific(s->key, c);
	}
	return s->drv->conn_ready(c) ? c : NULL;
}

enum store_status
store_run(struct store *s, struct store_conn *c, int id,
    const struct store_params *pa, store_rows_cb cb, void *arg,
    int64_t *changes)
{
	return s->drv->run(c, store_stmt(s, id), pa != NULL ? pa->v : NULL,
	    pa != NULL ? pa->n : 0, cb, arg, changes);
}

void
store_row_free(struct store_row *r)
{
	int	i;

	if (r == NULL)
		return;
	free(r->body);
	free(r->secrets);
	for (i = 0; i < STORE_MAX_COLS; i++)
		free(r->col[i]);
	memset(r, 0, sizeof(*r));
}

void
token_rows_free(struct token_row *rows, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		free(rows[i].account_name);
	free(rows);
}

char *
store_val_text(const struct store_val *v, bool copy)
{
	if (v->type == SV_NULL)
		return NULL;
	return copy ? xstrndup(v->p, v->len) : (char *)v->p;
}

/* Copy an id value into a fixed buffer; -1 if it is not one. */
int
store_val_id(const struct store_val *v, char out[OID_HEXLEN + 1])
{
	if (v->type != SV_TEXT || v->len != OID_HEXLEN) {
		log_error("store: a row has a malformed id");
		return -1;
	}
	memcpy(out, v->p, OID_HEXLEN);
	out[OID_HEXLEN] = '\0';
	return 0;
}

int
store_row_from(struct store_row *r, const struct store_val *v, int ncols,
    enum store_res res, bool copy)
{
	const struct store_kind	*k = &store_kinds[res];
	int			 i;

	memset(r, 0, sizeof(*r));
	if (ncols < ROW_FIXED + k->ncols || v[3].type == SV_NULL)
		return -1;
	r->seq = v[0].i;
	r->rev = v[1].i;
	if (store_val_id(&v[2], r->account) == -1)
		return -1;
	r->body = store_val_text(&v[3], copy);
	r->body_len = v[3].len;
	if (v[4].type != SV_NULL) {
		r->secrets_len = v[4].len;
		if (copy) {
			r->secrets = xmalloc(v[4].len > 0 ? v[4].len : 1);
			memcpy(r->secrets, v[4].p, v[4].len);
		} else
			r->secrets = (unsigned char *)(v[4].p != NULL ?
			    v[4].p : "");
	}
	for (i = 0; i < k->ncols; i++)
		r->col[i] = store_val_text(&v[ROW_FIXED + i], copy);
	return 0;
}

void
store_row_params(struct store_params *pa, const char *id,
    const char *account, const struct store_row *r, enum store_res res)
{
	int	i;

	memset(pa, 0, sizeof(*pa));
	sp_text(pa, id);
	sp_text(pa, account);
	sp_bytes(pa, r->body != NULL ? r->body : "", r->body_len, false);
	sp_bytes(pa, r->secrets, r->secrets_len, true);
	for (i = 0; i < store_kinds[res].ncols; i++)
		sp_text(pa, r->col[i]);
}

/* ---- reads ---- */

/* A read, tried again once if the connection was lost before anything
 * reached the caller. */
typedef enum store_status (*read_fn)(struct store *, struct store_conn *,
    void *arg, bool *delivered);

static enum store_status
read_retry(struct store *s, read_fn fn, void *arg)
{
	struct store_conn	*c;
	enum store_status	 ret;
	bool			 delivered = false;
	int			 try;

	for (try = 0;; try++) {
		if ((c = store_conn(s)) == NULL)
			return STORE_UNAVAILABLE;
		ret = fn(s, c, arg, &delivered);
		if (ret != STORE_UNAVAILABLE || delivered || try > 0 ||
		    !s->drv->conn_lost(c))
			return ret;
	}
}

struct get {
	enum store_res		 res;
	int			 op;
	const char		*account, *id;
	struct store_row	*out;
	bool			 found;
};

static int
get_row(void *arg, const struct store_val *v, int n)
{
	struct get	*g = arg;

	if (store_row_from(g->out, v, n, g->res, true) == -1)
		return -1;
	g->found = true;
	return 1;
}

/* Read one row (of the account unless it is NULL) on a connection. */
static enum store_status
row_get(struct store *s, struct store_conn *c, struct get *g)
{
	struct store_params	pa;
	enum store_status	ret;

	memset(g->out, 0, sizeof(*g->out));
	memset(&pa, 0, sizeof(pa));
	sp_text(&pa, g->id);
	if (g->account != NULL)
		sp_text(&pa, g->account);
	g->found = false;
	ret = s->drv->run(c, store_kstmt(s, g->res, g->op), pa.v, pa.n,
	    get_row, g, NULL);
	if (ret != STORE_OK) {
		store_row_free(g->out);
		return ret;
	}
	if (!g->found)
		return STORE_NOT_FOUND;
	snprintf(g->out->id, sizeof(g->out->id), "%s", g->id);
	return STORE_OK;
}

enum store_status
store_row_read(struct store *s, struct store_conn *c, enum store_res res,
    int op, const char *account, const char *id, struct store_row *out)
{
	struct get	g = { .res = res, .op = op, .account = account,
	    .id = id, .out = out };

	return row_get(s, c, &g);
}

static enum store_status
get_read(struct store *s, struct store_conn *c, void *arg, bool *delivered)
{
	(void)delivered;

	return row_get(s, c, arg);
}

enum store_status
store_get(struct store *s, enum store_res res, const char *account,
    const char *id, struct store_row *out)
{
	struct get	g = { .res = res, .op = K_GET, .account = account,
	    .id = id, .out = out };

	return read_retry(s, get_read, &g);
}

enum store_status
store_get_any(struct store *s, enum store_res res, const char *id,
    struct store_row *out)
{
	struct get	g = { .res = res, .op = K_GET_ANY, .id = id,
	    .out = out };

	return read_retry(s, get_read, &g);
}

/* Whether a list filter can match no row: a column lists do not filter
 * on, or bytes that are not UTF-8 (stored columns are). */
static bool
filter_void(enum store_res res, const struct store_filter *f)
{
	const struct store_kind	*k = &store_kinds[res];
	int			 i;

	for (i = 0; i < k->ncols; i++)
		if (f->eq[i] != NULL && ((k->filters & (1u << i)) == 0 ||
		    !store_utf8_valid(f->eq[i], strlen(f->eq[i]))))
			return true;
	return false;
}

/* The filter's values as parameters; returns the mask of the columns. */
static unsigned
filter_params(struct store_params *pa, enum store_res res,
    const struct store_filter *f)
{
	unsigned	mask = 0;
	int		i;

	for (i = 0; i < store_kinds[res].ncols; i++) {
		if (f->eq[i] == NULL)
			continue;
		mask |= 1u << i;
		sp_text(pa, f->eq[i]);
	}
	return mask;
}

/* A page being streamed to a list or inbox callback. */
struct page {
	enum store_res	 res;
	const char	*account, *id;
	const struct store_filter *f;
	int64_t		 after, skip, limit, n, *last_seq;
	store_row_cb	 row_cb;
	store_inbox_cb	 inbox_cb;
	void		*arg;
	bool		*more, *delivered, failed;
};

/* One more row for a page: false past its limit (then more rows remain),
 * else the row counts and has reached the caller. */
static bool
page_step(struct page *p)
{
	if (p->n == p->limit) {
		*p->more = true;
		return false;
	}
	p->n++;
	*p->delivered = true;
	return true;
}

static int
page_row(void *arg, const struct store_val *v, int n)
{
	struct page	*p = arg;

	(void)n;

	if (!page_step(p))
		return 1;
	if (p->row_cb(p->arg, v[0].i, v[1].p, v[1].len) == -1) {
		p->failed = true;
		return -1;
	}
	*p->last_seq = v[0].i;
	return 0;
}

static enum store_status
list_read(struct store *s, struct store_conn *c, void *arg, bool *delivered)
{
	struct page		*p = arg;
	struct store_params	 pa;
	enum store_status	 ret;
	unsigned		 mask;
	bool			 in_tx;

	p->delivered = delivered;
	p->n = 0;
	memset(&pa, 0, sizeof(pa));
	sp_text(&pa, p->account);
	sp_int(&pa, p->after);
	sp_int(&pa, p->limit + 1);
	sp_int(&pa, p->skip);
	mask = filter_params(&pa, p->res, p->f);
	in_tx = s->drv->page_fence != NULL &&
	    s->drv->page_fence(c, p->account);
	if (!in_tx && s->drv->page_fence != NULL && s->drv->conn_lost(c))
		return STORE_UNAVAILABLE;
	ret = s->drv->run(c, store_kstmt(s, p->res, K_LIST + (int)mask), pa.v,
	    pa.n, page_row, p, NULL);
	if (ret == STORE_OK && p->failed)
		ret = STORE_ERROR;
	if (!in_tx)
		return ret;
	if (ret != STORE_OK)
		s->drv->rollback(c);
	else if (s->drv->commit(c) != STORE_OK && *delivered)
		ret = STORE_ERROR;
	return ret;
}

enum store_status
store_list(struct store *s, enum store_res res, const char *account,
    const struct store_filter *f, int64_t after, int64_t skip,
    int64_t limit, store_row_cb cb, void *arg, bool *more, int64_t *last_seq)
{
	struct page		 p = { .res = res, .account = account, .f = f,
	    .after = after, .skip = skip, .limit = limit, .row_cb = cb,
	    .arg = arg, .more = more, .last_seq = last_seq };

	*more = false;
	*last_seq = 0;
	if (filter_void(res, f))
		return STORE_OK;
	return read_retry(s, list_read, &p);
}

static int
inbox_row(void *arg, const struct store_val *v, int n)
{
	struct page	*p = arg;

	(void)n;

	if (!page_step(p))
		return 1;
	if (p->inbox_cb(p->arg, v[0].i, v[1].i, v[2].p, v[3].p, v[4].p,
	    v[4].len) == -1) {
		p->failed = true;
		return -1;
	}
	return 0;
}

static enum store_status
inbox_read(struct store *s, struct store_conn *c, void *arg, bool *delivered)
{
	struct page		*p = arg;
	struct store_params	 pa;
	enum store_status	 ret;

	p->delivered = delivered;
	p->n = 0;
	memset(&pa, 0, sizeof(pa));
	sp_text(&pa, p->id);
	sp_int(&pa, p->after);
	sp_int(&pa, p->limit + 1);
	ret = store_run(s, c, S_INBOX_LIST, &pa, inbox_row, p, NULL);
	return ret == STORE_OK && p->failed ? STORE_ERROR : ret;
}

enum store_status
store_inbox_list(struct store *s, const char *export_id, int64_t after,
    int64_t limit, store_inbox_cb cb, void *arg, bool *more)
{
	struct page	p = { .id = export_id, .after = after, .limit = limit,
	    .inbox_cb = cb, .arg = arg, .more = more };

	*more = false;
	return read_retry(s, inbox_read, &p);
}

/* The end of a page: see store_bound. */
struct bound {
	enum store_res		 res;
	const char		*account, *id;
	const struct store_filter *f;
	int64_t			 after, want;	/* the page: want rows */
	int64_t			 limit, n, last;	/* one statement's */
	bool			 more;
};

static int
bound_row(void *arg, const struct store_val *v, int n)
{
	struct bound	*b = arg;

	(void)n;

	if (b->n == b->limit) {
		b->more = true;
		return 1;
	}
	b->last = v[0].i;
	b->n++;
	return 0;
}

/* Seqs from skip rows past after, at most limit of them and whether one
 * follows; a list's bound under its page fence, as a page read is. */
static enum store_status
bound_run(struct store *s, struct store_conn *c, struct bound *b,
    int64_t skip, int64_t limit)
{
	struct store_params	 pa;
	enum store_status	 ret;
	unsigned		 mask;
	bool			 in_tx = false;

	b->n = 0;
	b->limit = limit;
	b->last = b->after;
	b->more = false;
	memset(&pa, 0, sizeof(pa));
	sp_text(&pa, b->id != NULL ? b->id : b->account);
	sp_int(&pa, b->after);
	sp_int(&pa, limit + 1);
	sp_int(&pa, skip);
	if (b->id != NULL)
		return store_run(s, c, S_INBOX_BOUND, &pa, bound_row, b, NULL);
	mask = filter_params(&pa, b->res, b->f);
	if (s->drv->page_fence != NULL) {
		in_tx = s->drv->page_fence(c, b->account);
		if (!in_tx && s->drv->conn_lost(c))
			return STORE_UNAVAILABLE;
	}
	ret = s->drv->run(c, store_kstmt(s, b->res, K_BOUND + (int)mask),
	    pa.v, pa.n, bound_row, b, NULL);
	if (!in_tx)
		return ret;
	if (ret != STORE_OK)
		s->drv->rollback(c);
	else
		ret = s->drv->commit(c);
	return ret;
}

/* First the row that would end the page and the one after it (two rows
 * stepped, however long the page); only a page short of rows has the
 * seqs that remain counted. */
static enum store_status
bound_read(struct store *s, struct store_conn *c, void *arg, bool *delivered)
{
	struct bound		*b = arg;
	enum store_status	 ret;

	(void)delivered;

	if (b->want > 0) {
		if ((ret = bound_run(s, c, b, b->want - 1, 1)) != STORE_OK)
			return ret;
		if (b->n == 1) {
			b->n = b->want;
			return STORE_OK;
		}
	}
	return bound_run(s, c, b, 0, b->want);
}

static enum store_status
bound_answer(struct store *s, struct bound *b, int64_t *last_seq,
    int64_t *rows, bool *more)
{
	enum store_status	ret;

	if ((ret = read_retry(s, bound_read, b)) != STORE_OK)
		return ret;
	*last_seq = b->last;
	*rows = b->n;
	*more = b->more;
	return STORE_OK;
}

enum store_status
store_bound(struct store *s, enum store_res res, const char *account,
    const struct store_filter *f, int64_t after, int64_t limit,
    int64_t *last_seq, int64_t *rows, bool *more)
{
	struct bound	b = { .res = res, .account = account, .f = f,
	    .after = after, .want = limit };

	*last_seq = after;
	*rows = 0;
	*more = false;
	if (filter_void(res, f))
		return STORE_OK;
	return bound_answer(s, &b, last_seq, rows, more);
}

enum store_status
store_inbox_bound(struct store *s, const char *export_id, int64_t after,
    int64_t limit, int64_t *last_seq, int64_t *rows, bool *more)
{
	struct bound	b = { .id = export_id, .after = after, .want = limit };

	return bound_answer(s, &b, last_seq, rows, more);
}

/* ---- accounts and tokens ---- */

/* The first column of the first row, as an id. */
static int
first_id(void *arg, const struct store_val *v, int n)
{
	(void)n;

	return store_val_id(&v[0], arg) == -1 ? -1 : 1;
}

/* Run a lookup of one id: STORE_OK with out filled, or STORE_NOT_FOUND. */
static enum store_status
id_lookup(struct store *s, struct store_conn *c, int id,
    const struct store_params *pa, char out[OID_HEXLEN + 1])
{
	enum store_status	ret;

	out[0] = '\0';
	if ((ret = store_run(s, c, id, pa, first_id, out, NULL)) != STORE_OK)
		return ret;
	return out[0] != '\0' ? STORE_OK : STORE_NOT_FOUND;
}

/* A thread's cache of tokens seen valid, trusted while the driver's
 * token epoch stays the same, and at most LIMIT_TOKEN_CACHE_MS. Only
 * valid tokens are kept: a new token works at once. */
struct token_cached {
	unsigned char	 hash[32];
	char		 account[OID_HEXLEN + 1];
	int64_t		 until_us;
};

static __thread struct {
	const struct store	*s;
	uint64_t		 epoch;
	struct token_cached	 e[LIMIT_TOKEN_CACHE];
} token_cache;

/* The cache entry a hash maps to, emptied if it is no longer trusted. */
static struct token_cached *
token_slot(const struct store *s, const unsigned char hash[32], uint64_t epoch)
{
	if (token_cache.s != s || token_cache.epoch != epoch) {
		memset(&token_cache, 0, sizeof(token_cache));
		token_cache.s = s;
		token_cache.epoch = epoch;
	}
	/* the hash is SHA-256: its first bytes spread evenly */
	return &token_cache.e[(hash[0] | hash[1] << 8) % LIMIT_TOKEN_CACHE];
}

struct token_lookup {
	const unsigned char	*hash;
	char			*account;
};

static enum store_status
token_read(struct store *s, struct store_conn *c, void *arg, bool *delivered)
{
	struct token_lookup	*t = arg;
	struct store_params	 pa;

	(void)delivered;

	memset(&pa, 0, sizeof(pa));
	sp_bytes(&pa, t->hash, 32, true);
	return id_lookup(s, c, S_TOKEN_ACCOUNT, &pa, t->account);
}

enum store_status
store_token_account(struct store *s, const unsigned char hash[32],
    char account[OID_HEXLEN + 1])
{
	struct token_lookup	 t = { .hash = hash, .account = account };
	struct token_cached	*e;
	enum store_status	 ret;
	int64_t			 now = isotime_mono_us();

	/* the connection first: it takes in news of revocations */
	if (store_conn(s) == NULL)
		return STORE_UNAVAILABLE;
	e = token_slot(s, hash, s->drv->token_epoch(s->engine));
	if (e->until_us > now && memcmp(e->hash, hash, 32) == 0) {
		memcpy(account, e->account, OID_HEXLEN + 1);
		return STORE_OK;
	}
	if ((ret = read_retry(s, token_read, &t)) == STORE_OK) {
		memcpy(e->hash, hash, 32);
		memcpy(e->account, account, OID_HEXLEN + 1);
		e->until_us = now + LIMIT_TOKEN_CACHE_MS * 1000;
	}
	return ret;
}

enum store_status
store_account_ensure(struct store *s, const char *name,
    char account[OID_HEXLEN + 1])
{
	struct store_conn	*c;
	struct store_params	 pa;
	enum store_status	 ret;
	char			 id[OID_HEXLEN + 1];

	if (!store_utf8_valid(name, strlen(name))) {
		log_error("store: account names must be UTF-8");
		return STORE_ERROR;
	}
	if ((c = store_conn(s)) == NULL)
		return STORE_UNAVAILABLE;
	memset(&pa, 0, sizeof(pa));
	sp_text(&pa, name);
	if ((ret = id_lookup(s, c, S_ACCOUNT_FIND, &pa, account)) !=
	    STORE_NOT_FOUND)
		return ret;
	/* Insert; if a concurrent caller won, its row is the answer. */
	oid_new(id);
	memset(&pa, 0, sizeof(pa));
	sp_text(&pa, id);
	sp_text(&pa, name);
	sp_int(&pa, isotime_now_ms());
	if ((ret = id_lookup(s, c, S_ACCOUNT_INSERT, &pa, account)) !=
	    STORE_NOT_FOUND)
		return ret;
	memset(&pa, 0, sizeof(pa));
	sp_text(&pa, name);
	ret = id_lookup(s, c, S_ACCOUNT_FIND, &pa, account);
	return ret == STORE_NOT_FOUND ? STORE_ERROR : ret;
}

enum store_status
store_token_insert(struct store *s, const char *account,
    const unsigned char hash[32], char id[OID_HEXLEN + 1])
{
	struct store_conn	*c;
	struct store_params	 pa;

	oid_new(id);
	if ((c = store_conn(s)) == NULL)
		return STORE_UNAVAILABLE;
	memset(&pa, 0, sizeof(pa));
	sp_text(&pa, id);
	sp_text(&pa, account);
	sp_bytes(&pa, hash, 32, true);
	sp_int(&pa, isotime_now_ms());
	return store_run(s, c, S_TOKEN_INSERT, &pa, NULL, NULL, NULL);
}

struct token_rows {
	struct token_row	*r;
	size_t			 n;
};

static int
token_list_row(void *arg, const struct store_val *v, int n)
{
	struct token_rows	*t = arg;
	struct token_row	*r;

	(void)n;

	t->r = xrealloc(t->r, (t->n + 1) * sizeof(*t->r));
	r = &t->r[t->n++];
	memset(r, 0, sizeof(*r));
	if (store_val_id(&v[0], r->id) == -1 || store_val_id(&v[1], r->account) == -1)
		return -1;
	r->account_name = store_val_text(&v[2], true);
	r->created_ms = v[3].i;
	r->revoked_ms = v[4].type == SV_NULL ? 0 : v[4].i;
	return 0;
}

enum store_status
store_token_list(struct store *s, struct token_row **rows, size_t *n)
{
	struct store_conn	*c;
	struct token_rows	 t = { NULL, 0 };
	enum store_status	 ret;

	*rows = NULL;
	*n = 0;
	if ((c = store_conn(s)) == NULL)
		return STORE_UNAVAILABLE;
	ret = store_run(s, c, S_TOKEN_LIST, NULL, token_list_row, &t, NULL);
	if (ret != STORE_OK) {
		token_rows_free(t.r, t.n);
		return ret;
	}
	*rows = t.r;
	*n = t.n;
	return STORE_OK;
}

enum store_status
store_token_revoke(struct store *s, const char *id)
{
	struct store_conn	*c;
	struct store_params	 pa;
	enum store_status	 ret;
	int64_t			 changed = 0;

	if (!store_utf8_valid(id, strlen(id)))
		return STORE_NOT_FOUND;
	if ((c = store_conn(s)) == NULL)
		return STORE_UNAVAILABLE;
	memset(&pa, 0, sizeof(pa));
	sp_text(&pa, id);
	sp_int(&pa, isotime_now_ms());
	if ((ret = store_run(s, c, S_TOKEN_REVOKE, &pa, NULL, NULL,
	    &changed)) != STORE_OK)
		return ret;
	if (changed != 1)
		return STORE_NOT_FOUND;
	s->drv->token_changed(c);
	return STORE_OK;
}

int
store_first_int(void *arg, const struct store_val *v, int n)
{
	(void)n;

	*(int64_t *)arg = v[0].i;
	return 1;
}

enum store_status
store_token_count(struct store *s, int64_t *n)
{
	struct store_conn	*c;

	*n = 0;
	if ((c = store_conn(s)) == NULL)
		return STORE_UNAVAILABLE;
	return store_run(s, c, S_TOKEN_COUNT, NULL, store_first_int, n, NULL);
}

enum store_status
store_inbox_count(struct store *s, const char *export_id, int64_t *n)
{
	struct store_conn	*c;
	struct store_params	 pa;

	*n = 0;
	if ((c = store_conn(s)) == NULL)
		return STORE_UNAVAILABLE;
	memset(&pa, 0, sizeof(pa));
	sp_text(&pa, export_id);
	return store_run(s, c, S_INBOX_COUNT, &pa, store_first_int, n, NULL);
}

/* One statement whose first column is a number, as a read. */
struct first_int {
	int	 id;
	int64_t	*out;
};

static enum store_status
first_int_read(struct store *s, struct store_conn *c, void *arg,
    bool *delivered)
{
	struct first_int	*f = arg;

	(void)delivered;
	return store_run(s, c, f->id, NULL, store_first_int, f->out, NULL);
}

enum store_status
store_inbox_total(struct store *s, int64_t *n)
{
	struct first_int	f = { S_INBOX_TOTAL, n };

	*n = 0;
	return read_retry(s, first_int_read, &f);
}

enum store_status
store_ready(struct store *s)
{
	int64_t			n = 0;
	struct first_int	f = { S_READY, &n };

	return read_retry(s, first_int_read, &f);
}

enum store_status
store_is_empty(struct store *s, bool *empty)
{
	struct store_conn	*c;
	enum store_status	 ret;
	int64_t			 v = 0;

	*empty = false;
	if ((c = store_conn(s)) == NULL)
		return STORE_UNAVAILABLE;
	ret = store_run(s, c, S_IS_EMPTY, NULL, store_first_int, &v, NULL);
	*empty = v == 1;
	return ret;
}

/* Strict UTF-8: no overlongs, surrogates or code points past U+10FFFF. */
bool
store_utf8_valid(const char *str, size_t len)
{
	const unsigned char	*s = (const unsigned char *)str;
	const unsigned char	*end = s + len;
	unsigned char		 lo, hi;
	int			 n, i;

	while (s < end) {
		if (*s < 0x80) {
			if (*s == 0)
				return false;
			s++;
			continue;
		}
		lo = 0x80;
		hi = 0xbf;
		if (*s >= 0xc2 && *s <= 0xdf)
			n = 1;
		else if (*s >= 0xe0 && *s <= 0xef) {
			n = 2;
			if (*s == 0xe0)
				lo = 0xa0;
			else if (*s == 0xed)
				hi = 0x9f;
		} else if (*s >= 0xf0 && *s <= 0xf4) {
			n = 3;
			if (*s == 0xf0)
				lo = 0x90;
			else if (*s == 0xf4)
				hi = 0x8f;
		} else
			return false;
		if (end - s <= n || s[1] < lo || s[1] > hi)
			return false;
		for (i = 2; i <= n; i++)
			if (s[i] < 0x80 || s[i] > 0xbf)
				return false;
		s += n + 1;
	}
	return true;
}
