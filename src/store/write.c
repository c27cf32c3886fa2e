/* The write path of the store core: queues, writer threads and group
 * commit. Concurrent writes are applied in one transaction, each in its
 * own savepoint, and acknowledged together after the one COMMIT that holds
 * them (docs/internals/write-path.md). A COMMIT whose answer is lost with
 * the connection is resolved by asking the database what became of the
 * transaction, where the driver can. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/core.h"
#include "util/isotime.h"
#include "util/limits.h"
#include "util/log.h"
#include "util/metrics.h"
#include "util/xmalloc.h"

#define CREATE_ATTEMPTS	16

/* A finished change: result is the row as now stored. */
static void
write_result(struct store_write *w, struct store_row *next, int64_t seq,
    int64_t rev)
{
	snprintf(next->id, sizeof(next->id), "%s", w->id);
	snprintf(next->account, sizeof(next->account), "%s", w->account);
	next->seq = seq;
	next->rev = rev;
	w->result = *next;
	memset(next, 0, sizeof(*next));
}

/* The first column of a RETURNING row. */
struct returned {
	int64_t	v;
	bool	found;
};

static int
returned_row(void *arg, const struct store_val *v, int n)
{
	struct returned	*r = arg;

	(void)n;

	r->v = v[0].i;
	r->found = true;
	return 1;
}

/* Read the row the write names (w->ref_id), share-locked, for mutate. */
static enum store_status
ref_read(struct store *s, struct store_conn *c, struct store_write *w)
{
	enum store_status	ret;

	store_row_free(&w->ref);
	w->ref_found = false;
	if (w->ref_id[0] == '\0')
		return STORE_OK;
	ret = store_row_read(s, c, w->ref_res, K_GET_SHARE, w->account,
	    w->ref_id, &w->ref);
	if (ret == STORE_NOT_FOUND)
		return STORE_OK;
	w->ref_found = ret == STORE_OK;
	return ret;
}

/* Insert a new row; mutate may run again with fresh ids while its keys
 * are taken. Creates of one account take turns from mutate to INSERT
 * where the driver says so, so that seq order is createdAt order. */
static enum store_status
apply_create(struct store *s, struct store_conn *c, struct store_write *w)
{
	const struct store_driver	*drv = s->drv;
	struct store_row		 src, next;
	const struct store_row		*cur = NULL;
	struct store_params		 pa;
	struct returned			 seq;
	enum store_status		 ret;

	memset(&src, 0, sizeof(src));
	if (w->source_id[0] != '\0') {
		if ((ret = store_row_read(s, c, w->res, K_GET_SHARE,
		    w->account, w->source_id, &src)) != STORE_OK)
			return ret;
		cur = &src;
	}
	if ((ret = ref_read(s, c, w)) != STORE_OK)
		goto out;
	for (w->attempts = 0; w->attempts < CREATE_ATTEMPTS; w->attempts++) {
		if (drv->create_lock != NULL &&
		    (ret = drv->create_lock(c, w->account)) != STORE_OK)
			goto out;
		memset(&next, 0, sizeof(next));
		if (w->mutate(w, cur, &next) < 0)
			ret = STORE_REJECTED;
		else {
			store_row_params(&pa, w->id, w->account, &next, w->res);
			seq.found = false;
			ret = drv->run(c, store_kstmt(s, w->res, K_INSERT),
			    pa.v, pa.n, returned_row, &seq, NULL);
		}
		/* A failed statement ends a PostgreSQL transaction: go back
		 * to the write's savepoint before anything else runs. */
		if (ret != STORE_OK && ret != STORE_REJECTED)
			store_run(s, c, S_ROLLBACK_TO, NULL, NULL, NULL, NULL);
		if (drv->create_unlock != NULL)
			drv->create_unlock(c, w->account);
		if (ret == STORE_OK && seq.found) {
			write_result(w, &next, seq.v, 1);
			goto out;
		}
		store_row_free(&next);
		if (ret != STORE_OK && ret != STORE_CONFLICT)
			goto out;
		/* An id or unique key was taken: ask for fresh ones. */
	}
	ret = STORE_CONFLICT;
out:
	store_row_free(&src);
	return ret;
}

/* The parameters of an update of the columns in which next differs
 * from cur, and its statement. */
static int
changed_columns(struct store_params *pa, const struct store_write *w,
    const struct store_row *cur, const struct store_row *next)
{
	const char	*a, *b;
	unsigned	 mask = 0;
	int		 i;

	memset(pa, 0, sizeof(*pa));
	sp_text(pa, w->id);
	sp_text(pa, w->account);
	sp_bytes(pa, next->body != NULL ? next->body : "", next->body_len,
	    false);
	sp_bytes(pa, next->secrets, next->secrets_len, true);
	for (i = 0; i < store_kinds[w->res].ncols; i++) {
		a = cur->col[i];
		b = next->col[i];
		if (a == NULL ? b == NULL : b != NULL && strcmp(a, b) == 0)
			continue;
		mask |= 1u << i;
		sp_text(pa, b);
	}
	return K_UPDATE + (int)mask;
}

/* Delete a row and its side rows, unless rows of another kind name it. */
static enum store_status
apply_delete(struct store *s, struct store_conn *c, struct store_write *w,
    const struct store_row *cur)
{
	const struct store_kind	*k = &store_kinds[w->res];
	struct store_params	 pa;
	enum store_status	 ret;
	int64_t			 users = 0;
	int			 i;

	if (w->mutate != NULL && w->mutate(w, cur, NULL) < 0)
		return STORE_REJECTED;
	memset(&pa, 0, sizeof(pa));
	sp_text(&pa, w->id);
	sp_text(&pa, w->account);
	/* the row is locked: a write naming it waits for this one */
	if (k->used) {
		if ((ret = s->drv->run(c, store_kstmt(s, w->res, K_USERS),
		    pa.v, pa.n, store_first_int, &users, NULL)) != STORE_OK)
			return ret;
		if (users > 0) {
			w->affected = users;
			return STORE_IN_USE;
		}
	}
	if ((ret = s->drv->run(c, store_kstmt(s, w->res, K_DELETE), pa.v,
	    pa.n, NULL, NULL, NULL)) != STORE_OK)
		return ret;
	pa.n = 1;
	for (i = 0; k->drop[i] >= 0 && ret == STORE_OK; i++)
		ret = store_run(s, c, k->drop[i], &pa, NULL, NULL, NULL);
	return ret;
}

/* Replace or delete a row, holding it locked from the read to COMMIT. */
static enum store_status
apply_change(struct store *s, struct store_conn *c, struct store_write *w)
{
	struct store_row	 cur, next;
	struct store_params	 pa;
	struct returned		 rev = { 0, false };
	enum store_status	 ret;
	int			 op;

	if ((ret = store_row_read(s, c, w->res, K_GET_LOCK, w->account, w->id,
	    &cur)) != STORE_OK)
		return ret;
	memset(&next, 0, sizeof(next));
	if (w->kind == STORE_DELETE) {
		ret = apply_delete(s, c, w, &cur);
		goto out;
	}
	if ((ret = ref_read(s, c, w)) != STORE_OK)
		goto out;
	if (w->mutate(w, &cur, &next) < 0) {
		ret = STORE_REJECTED;
		goto out;
	}
	/* Most replaces keep every indexed column: then only the row
	 * changes, and no index is rewritten; a rename rewrites only the
	 * name's index. */
	op = changed_columns(&pa, w, &cur, &next);
	if ((ret = s->drv->run(c, store_kstmt(s, w->res, op), pa.v, pa.n,
	    returned_row, &rev, NULL)) != STORE_OK)
		goto out;
	if (!rev.found) {
		ret = STORE_NOT_FOUND;
		goto out;
	}
	write_result(w, &next, cur.seq, rev.v);
out:
	store_row_free(&next);
	store_row_free(&cur);
	return ret;
}

enum store_status
store_side_insert(struct store *s, struct store_conn *c,
    const struct store_side_row *row)
{
	return s->drv->run(c, store_stmt(s, S_SIDE_INSERT + (int)row->side),
	    row->v, store_sides[row->side].ncols, NULL, NULL, NULL);
}

/* Append entries to an export's inbox, within its cap, or take the
 * entries up to a seq out of it. */
static enum store_status
apply_inbox(struct store *s, struct store_conn *c, struct store_write *w)
{
	struct store_side_row	 row;
	struct store_params	 pa;
	struct returned		 r = { 0, false };
	enum store_status	 ret;
	int64_t			 n = 0;
	size_t			 i;

	w->affected = 0;
	memset(&pa, 0, sizeof(pa));
	sp_text(&pa, w->id);
	sp_text(&pa, w->account);
	if ((ret = store_run(s, c, S_INBOX_EXPORT, &pa, returned_row, &r,
	    NULL)) != STORE_OK)
		return ret;
	if (!r.found)
		return STORE_NOT_FOUND;
	memset(&pa, 0, sizeof(pa));
	sp_text(&pa, w->id);
	if (w->kind == STORE_INBOX_ACK) {
		sp_int(&pa, w->inbox_upto);
		if ((ret = store_run(s, c, S_INBOX_DELETE_UPTO, &pa, NULL,
		    NULL, &n)) != STORE_OK)
			return ret;
		pa.n = 1;
		sp_int(&pa, -n);
		ret = store_run(s, c, S_INBOX_COUNT_ADD, &pa, NULL, NULL, NULL);
		w->affected = n;
		return ret;
	}
	if ((int64_t)w->nentries > w->inbox_cap)
		return STORE_FULL;
	sp_int(&pa, (int64_t)w->nentries);
	sp_int(&pa, w->inbox_cap);
	r.found = false;
	if ((ret = store_run(s, c, S_INBOX_RESERVE, &pa, returned_row, &r,
	    NULL)) != STORE_OK)
		return ret;
	if (!r.found)
		return STORE_FULL;
	memset(&row, 0, sizeof(row));
	row.side = STORE_SIDE_INBOX;
	store_val_set(&row.v[0], w->id, strlen(w->id), false);
	row.v[1].type = SV_INT;
	row.v[1].i = w->received_ms;
	store_val_set(&row.v[2], w->request_id, strlen(w->request_id), false);
	store_val_set(&row.v[3], w->headers, strlen(w->headers), false);
	for (i = 0; i < w->nentries; i++) {
		store_val_set(&row.v[4], w->entries[i].record,
		    w->entries[i].record_len, false);
		if ((ret = store_side_insert(s, c, &row)) != STORE_OK)
			return ret;
	}
	w->affected = (int64_t)w->nentries;
	return STORE_OK;
}

/* Set or delete state values of the account, or of one of its rows
 * (kept from being deleted until COMMIT). */
static enum store_status
apply_state(struct store *s, struct store_conn *c, struct store_write *w)
{
	struct store_row	 row;
	struct store_params	 pa;
	enum store_status	 ret;
	int64_t			 n = 0;

	w->affected = 0;
	if (w->id[0] != '\0') {
		if ((ret = store_row_read(s, c, w->res, K_GET_SHARE, w->account,
		    w->id, &row)) != STORE_OK)
			return ret;
		store_row_free(&row);
	}
	memset(&pa, 0, sizeof(pa));
	sp_text(&pa, w->account);
	sp_text(&pa, w->id);
	if (w->kind == STORE_STATE_DELETE && w->state_key == NULL) {
		ret = store_run(s, c, S_STATE_CLEAR, &pa, NULL, NULL, &n);
		w->affected = n;
		return ret;
	}
	sp_text(&pa, w->state_key);
	if (w->kind == STORE_STATE_DELETE) {
		ret = store_run(s, c, S_STATE_DELETE, &pa, NULL, NULL, &n);
		w->affected = n;
		return ret == STORE_OK && n == 0 ? STORE_NOT_FOUND : ret;
	}
	sp_bytes(&pa, w->state_value, w->state_value_len, false);
	if ((ret = store_run(s, c, S_STATE_INSERT, &pa, NULL, NULL, &n)) !=
	    STORE_OK || n == 1) {
		w->affected = n;
		return ret;
	}
	return store_run(s, c, S_STATE_UPDATE, &pa, NULL, NULL, NULL);
}

/* Delete a batch of the oldest audit entries past their retention. */
static enum store_status
apply_prune(struct store *s, struct store_conn *c, struct store_write *w)
{
	struct store_params	 pa;

	w->affected = 0;
	memset(&pa, 0, sizeof(pa));
	sp_int(&pa, w->prune_before_ms);
	sp_int(&pa, w->prune_limit);
	return store_run(s, c, S_AUDIT_PRUNE, &pa, NULL, NULL, &w->affected);
}

/* Apply one write inside the open batch transaction, in its own
 * savepoint so that a failure undoes only this write. */
static void
apply_one(struct store *s, struct store_conn *c, struct store_write *w)
{
	size_t	i;

	memset(&w->result, 0, sizeof(w->result));
	if ((w->status = store_run(s, c, S_SAVEPOINT, NULL, NULL, NULL,
	    NULL)) != STORE_OK)
		return;
	if (w->kind == STORE_CREATE)
		w->status = apply_create(s, c, w);
	else if (w->kind == STORE_INBOX_APPEND || w->kind == STORE_INBOX_ACK)
		w->status = apply_inbox(s, c, w);
	else if (w->kind == STORE_STATE_PUT || w->kind == STORE_STATE_DELETE)
		w->status = apply_state(s, c, w);
	else if (w->kind == STORE_AUDIT_PRUNE)
		w->status = apply_prune(s, c, w);
	else
		w->status = apply_change(s, c, w);
	for (i = 0; w->status == STORE_OK && i < w->nside; i++)
		if ((w->status = store_side_insert(s, c, &w->side[i])) !=
		    STORE_OK)
			store_row_free(&w->result);
	if (w->status != STORE_OK)
		store_run(s, c, S_ROLLBACK_TO, NULL, NULL, NULL, NULL);
	store_run(s, c, S_RELEASE, NULL, NULL, NULL, NULL);
	store_row_free(&w->ref);	/* mutate has seen it */
}

/* The writes of a batch that had succeeded now fail with st. */
static void
batch_fail(struct store_write *batch, enum store_status st, bool all)
{
	struct store_write	*w;

	for (w = batch; w != NULL; w = w->next_in_queue) {
		if (w->status == STORE_OK)
			store_row_free(&w->result);
		if (w->status == STORE_OK || all)
			w->status = st;
	}
}

/* A batch committed: its size and time, and what it did to the inboxes
 * (an export deleted takes its inbox with it, uncounted: the inbox depth
 * is counted again). */
static void
batch_committed(const struct store_write *batch, int64_t t0)
{
	const struct store_write	*w;
	int				 n = 0;

	for (w = batch; w != NULL; w = w->next_in_queue, n++) {
		if (w->status != STORE_OK)
			continue;
		if (w->kind == STORE_INBOX_APPEND)
			metrics_inbox_add(w->affected);
		else if (w->kind == STORE_INBOX_ACK)
			metrics_inbox_add(-w->affected);
		else if (w->kind == STORE_DELETE)
			metrics_inbox_dirty();
	}
	metrics_store_batch(n, isotime_mono_us() - t0);
}

/* What a batch asks for after it ran. */
enum batch_next {
	BATCH_DONE,
	BATCH_ALL_AGAIN,	/* the connection was lost before COMMIT:
				   nothing was done */
	BATCH_CREATES_AGAIN,	/* the COMMIT is known not to have happened */
};

/* A COMMIT lost its answer with the connection. Committed: every write
 * stands. Not committed: the creates run again (nothing of them was
 * done, and their ids are fresh), the others answer "retry later".
 * Unknown: all of them answer "retry later". */
static enum batch_next
batch_in_doubt(struct store *s, struct store_conn *c,
    struct store_write *batch, int64_t xid, int64_t t0)
{
	struct store_write	*w;
	enum store_outcome	 o = TX_UNKNOWN;
	enum batch_next		 next = BATCH_DONE;

	if (xid != 0 && s->drv->tx_outcome != NULL)
		o = s->drv->tx_outcome(c, xid);
	log_warn("store: connection lost during COMMIT: %s",
	    o == TX_COMMITTED ? "it committed" : o == TX_ABORTED ?
	    "it did not commit" : "cannot tell if it committed");
	if (o == TX_COMMITTED) {
		batch_committed(batch, t0);
		return BATCH_DONE;
	}
	for (w = batch; w != NULL; w = w->next_in_queue) {
		if (w->status != STORE_OK)
			continue;
		store_row_free(&w->result);
		if (o == TX_ABORTED && w->kind == STORE_CREATE)
			next = BATCH_CREATES_AGAIN;
		else
			w->status = STORE_UNAVAILABLE;
	}
	return next;
}

/* Run a batch in one transaction. */
static enum batch_next
batch_run(struct store *s, struct store_write *batch)
{
	const struct store_driver	*drv = s->drv;
	struct store_conn		*c;
	struct store_write		*w;
	enum store_status		 st;
	int64_t				 xid = 0, t0 = isotime_mono_us();

	if ((c = store_conn(s)) == NULL) {
		batch_fail(batch, STORE_UNAVAILABLE, true);
		return BATCH_DONE;
	}
	if ((st = drv->begin(c, TX_WRITE)) != STORE_OK ||
	    (drv->tx_id != NULL && (st = drv->tx_id(c, &xid)) != STORE_OK)) {
		drv->rollback(c);
		batch_fail(batch, st, true);
		return drv->conn_lost(c) ? BATCH_ALL_AGAIN : BATCH_DONE;
	}
	store_tx_enter(s, c);
	for (w = batch; w != NULL; w = w->next_in_queue) {
		apply_one(s, c, w);
		if (drv->conn_lost(c)) {
			store_tx_leave();
			batch_fail(batch, STORE_UNAVAILABLE, true);
			return BATCH_ALL_AGAIN;
		}
	}
	store_tx_leave();
	if ((st = drv->commit(c)) == STORE_OK) {
		batch_committed(batch, t0);
		return BATCH_DONE;
	}
	if (drv->conn_lost(c))
		return batch_in_doubt(s, c, batch, xid, t0);
	drv->rollback(c);
	batch_fail(batch, st == STORE_NOT_FOUND ? STORE_ERROR : st, false);
	return BATCH_DONE;
}

/* Complete the writes of a list. */
static void
batch_done(struct store_write *w)
{
	struct store_write	*n;

	for (; w != NULL; w = n) {
		n = w->next_in_queue;
		w->next_in_queue = NULL;
		w->done(w);
	}
}

/* Commit a batch, then complete each write. When batch_run says it is
 * safe, the writes concerned run once more in a new transaction. */
void
store_commit_batch(struct store *s, struct store_write *batch)
{
	struct store_write	*w, *n, *redo = NULL, **tail = &redo;
	enum batch_next		 next;

	if ((next = batch_run(s, batch)) == BATCH_DONE) {
		batch_done(batch);
		return;
	}
	for (w = batch; w != NULL; w = n) {
		n = w->next_in_queue;
		w->next_in_queue = NULL;
		if (next == BATCH_ALL_AGAIN || (w->status == STORE_OK &&
		    w->kind == STORE_CREATE)) {
			*tail = w;
			tail = &w->next_in_queue;
		} else
			w->done(w);
	}
	if (batch_run(s, redo) != BATCH_DONE)
		batch_fail(redo, STORE_UNAVAILABLE, true);
	batch_done(redo);
}

/* ---- queues and writer threads ---- */

static void *
writer_main(void *arg)
{
	struct store_writer	*wr = arg;
	struct store_write	*batch, *tail;
	int			 n;

	for (;;) {
		pthread_mutex_lock(&wr->lock);
		while (wr->head == NULL && !wr->stopping)
			pthread_cond_wait(&wr->cond, &wr->lock);
		if (wr->head == NULL) {
			pthread_mutex_unlock(&wr->lock);
			break;
		}
		batch = tail = wr->head;
		for (n = 1; n < LIMIT_WRITE_BATCH && tail->next_in_queue != NULL;
		    n++)
			tail = tail->next_in_queue;
		wr->head = tail->next_in_queue;
		if (wr->head == NULL)
			wr->tail = NULL;
		tail->next_in_queue = NULL;
		pthread_mutex_unlock(&wr->lock);
		store_commit_batch(wr->s, batch);
	}
	return NULL;
}

int
store_start(struct store *s)
{
	struct store_writer	*wr;
	int			 i;

	if (s->writers != NULL)
		return 0;
	/* nwriters counts the threads running: drain joins those */
	s->writers = xcalloc((size_t)s->drv->writers, sizeof(*s->writers));
	for (i = 0; i < s->drv->writers; i++) {
		wr = &s->writers[i];
		wr->s = s;
		pthread_mutex_init(&wr->lock, NULL);
		pthread_cond_init(&wr->cond, NULL);
		if (pthread_create(&wr->thread, NULL, writer_main, wr) != 0) {
			log_error("store: cannot start a writer thread");
			return -1;
		}
		wr->running = true;
		s->nwriters = i + 1;
	}
	return 0;
}

/* Finish every queued write, then stop the writers. */
void
store_drain(struct store *s)
{
	struct store_writer	*wr;
	int			 i;

	for (i = 0; i < s->nwriters; i++) {
		wr = &s->writers[i];
		pthread_mutex_lock(&wr->lock);
		wr->stopping = true;
		pthread_cond_signal(&wr->cond);
		pthread_mutex_unlock(&wr->lock);
	}
	for (i = 0; i < s->nwriters; i++) {
		wr = &s->writers[i];
		if (wr->running)
			pthread_join(wr->thread, NULL);
		pthread_mutex_destroy(&wr->lock);
		pthread_cond_destroy(&wr->cond);
	}
	free(s->writers);
	s->writers = NULL;
	s->nwriters = 0;
}

/* Writes to one row always go to the same writer, so that two writers
 * never wait for each other's row locks. */
static struct store_writer *
writer_for(struct store *s, const struct store_write *w)
{
	const char	*key = w->source_id[0] != '\0' ? w->source_id : w->id;
	unsigned	 h = 2166136261u;

	for (; *key != '\0'; key++)
		h = (h ^ (unsigned char)*key) * 16777619u;
	return &s->writers[h % (unsigned)s->nwriters];
}

void
store_write_submit(struct store *s, struct store_write *w)
{
	struct store_writer	*wr;

	w->next_in_queue = NULL;
	w->attempts = 0;
	memset(&w->result, 0, sizeof(w->result));
	if (s->nwriters == 0) {
		/* No writers (command-line use): commit this write alone. */
		store_commit_batch(s, w);
		return;
	}
	wr = writer_for(s, w);
	pthread_mutex_lock(&wr->lock);
	if (wr->stopping) {
		pthread_mutex_unlock(&wr->lock);
		w->status = STORE_UNAVAILABLE;
		w->done(w);
		return;
	}
	if (wr->tail != NULL)
		wr->tail->next_in_queue = w;
	else
		wr->head = w;
	wr->tail = w;
	pthread_cond_signal(&wr->cond);
	pthread_mutex_unlock(&wr->lock);
}
