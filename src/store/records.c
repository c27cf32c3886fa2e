/* Dump and restore in the store core: every table as records (struct
 * store_rec), in one snapshot out and one transaction in. The record
 * mapping is written here once for every driver. */
#include <stdlib.h>
#include <string.h>

#include "store/core.h"
#include "util/log.h"

/* The statement that reads each kind of record, in dump order. */
static int
dump_stmt(struct store *s, enum store_rec_kind kind)
{
	switch (kind) {
	case STORE_REC_ACCOUNT:		return S_DUMP_ACCOUNTS;
	case STORE_REC_TOKEN:		return S_DUMP_TOKENS;
	case STORE_REC_EXPORT:
		return store_kstmt(s, STORE_EXPORTS, K_DUMP)->id;
	case STORE_REC_INBOX:		return S_DUMP_INBOX;
	case STORE_REC_INBOX_COUNT:	return S_DUMP_INBOX_COUNTS;
	case STORE_REC_AUDIT:		return S_DUMP_AUDIT;
	case STORE_REC_STATE:		return S_DUMP_STATE;
	case STORE_REC_CONNECTION:
		return store_kstmt(s, STORE_CONNECTIONS, K_DUMP)->id;
	default:			return -1;
	}
}

/* An audit entry: seq, id, account, type, resource, source, event, time,
 * body. */
static int
rec_fill_audit(struct store_rec *r, const struct store_val *v)
{
	r->seq = v[0].i;
	r->resource_type = store_val_text(&v[3], false);
	r->resource_id = store_val_text(&v[4], false);
	r->source = store_val_text(&v[5], false);
	r->event = store_val_text(&v[6], false);
	r->received_ms = v[7].i;
	r->record = store_val_text(&v[8], false);
	r->record_len = v[8].len;
	if (r->resource_type == NULL || r->resource_id == NULL ||
	    r->source == NULL || r->event == NULL || r->record == NULL) {
		log_error("store: dump: audit seq %lld is malformed",
		    (long long)r->seq);
		return -1;
	}
	return store_val_id(&v[1], r->id) == -1 ||
	    store_val_id(&v[2], r->account) == -1 ? -1 : 0;
}

/* Fill a record from a row of its dump statement; -1 if malformed. */
static int
rec_fill(struct store_rec *r, const struct store_val *v, int n)
{
	struct store_row	*e = &r->row;

	switch (r->kind) {
	case STORE_REC_ACCOUNT:
		r->name = store_val_text(&v[1], false);
		r->created_ms = v[2].i;
		return r->name != NULL ? store_val_id(&v[0], r->id) : -1;
	case STORE_REC_TOKEN:
		if (v[2].type != SV_BLOB || v[2].len != sizeof(r->hash)) {
			log_error("store: dump: a token has a malformed hash");
			return -1;
		}
		memcpy(r->hash, v[2].p, sizeof(r->hash));
		r->created_ms = v[3].i;
		r->revoked = v[4].type != SV_NULL;
		r->revoked_ms = r->revoked ? v[4].i : 0;
		return store_val_id(&v[0], r->id) == -1 ||
		    store_val_id(&v[1], r->account) == -1 ? -1 : 0;
	case STORE_REC_EXPORT:
		if (store_row_from(e, v, n - 1, STORE_EXPORTS, false) == -1 ||
		    e->col[EXPORT_APIID] == NULL ||
		    strlen(e->col[EXPORT_APIID]) > STORE_APIID_LEN) {
			log_error("store: dump: export seq %lld is malformed",
			    (long long)v[0].i);
			return -1;
		}
		return store_val_id(&v[n - 1], e->id);
	case STORE_REC_CONNECTION:
		if (store_row_from(e, v, n - 1, STORE_CONNECTIONS, false) ==
		    -1) {
			log_error("store: dump: connection seq %lld is "
			    "malformed", (long long)v[0].i);
			return -1;
		}
		return store_val_id(&v[n - 1], e->id);
	case STORE_REC_INBOX:
		r->seq = v[0].i;
		r->received_ms = v[2].i;
		r->request_id = store_val_text(&v[3], false);
		r->headers = store_val_text(&v[4], false);
		r->record = store_val_text(&v[5], false);
		r->record_len = v[5].len;
		if (r->request_id == NULL || r->headers == NULL ||
		    r->record == NULL)
			return -1;
		return store_val_id(&v[1], r->id);
	case STORE_REC_INBOX_COUNT:
		r->n = v[1].i;
		return store_val_id(&v[0], r->id);
	case STORE_REC_AUDIT:
		return rec_fill_audit(r, v);
	case STORE_REC_STATE:
		r->resource_id = store_val_text(&v[1], false);
		r->event = store_val_text(&v[2], false);
		r->record = store_val_text(&v[3], false);
		r->record_len = v[3].len;
		if (r->resource_id == NULL || r->event == NULL ||
		    r->record == NULL)
			return -1;
		return store_val_id(&v[0], r->account);
	default:
		return -1;
	}
}

struct dump {
	enum store_rec_kind	 kind;
	store_rec_cb		 cb;
	void			*arg;
};

static int
dump_row(void *arg, const struct store_val *v, int n)
{
	struct dump		*d = arg;
	struct store_rec	 r;

	memset(&r, 0, sizeof(r));
	r.kind = d->kind;
	return rec_fill(&r, v, n) == -1 || d->cb(d->arg, &r) == -1 ? -1 : 0;
}

/* Row counts of every table and the highest seq of the sequenced ones. */
static int
census_row(void *arg, const struct store_val *v, int n)
{
	struct store_census	*census = arg;
	int			 i;

	(void)n;

	for (i = 0; i < STORE_REC_NKINDS; i++)
		census->rows[i] = v[i].i;
	census->export_seq = v[STORE_REC_NKINDS].i;
	census->inbox_seq = v[STORE_REC_NKINDS + 1].i;
	census->audit_seq = v[STORE_REC_NKINDS + 2].i;
	census->connection_seq = v[STORE_REC_NKINDS + 3].i;
	return 1;
}

/* The census, with the sequences' high-water marks where they are past
 * every row's seq (rows deleted at the end). */
static enum store_status
census_read(struct store *s, struct store_conn *c,
    struct store_census *census)
{
	enum store_status	ret;
	int64_t			hi;

	memset(census, 0, sizeof(*census));
	if ((ret = store_run(s, c, S_CENSUS, NULL, census_row, census,
	    NULL)) != STORE_OK)
		return ret;
	if ((ret = s->drv->seq_high(c, "exports", &hi)) != STORE_OK)
		return ret;
	if (hi > census->export_seq)
		census->export_seq = hi;
	if ((ret = s->drv->seq_high(c, "inbox", &hi)) != STORE_OK)
		return ret;
	if (hi > census->inbox_seq)
		census->inbox_seq = hi;
	if ((ret = s->drv->seq_high(c, "audit", &hi)) != STORE_OK)
		return ret;
	if (hi > census->audit_seq)
		census->audit_seq = hi;
	if ((ret = s->drv->seq_high(c, "connections", &hi)) != STORE_OK)
		return ret;
	if (hi > census->connection_seq)
		census->connection_seq = hi;
	return STORE_OK;
}

enum store_status
store_dump(struct store *s, store_census_cb ccb, store_rec_cb rcb, void *arg)
{
	struct store_census	 census;
	struct store_conn	*c;
	struct dump		 d = { .cb = rcb, .arg = arg };
	enum store_status	 ret;

	if ((c = store_conn(s)) == NULL)
		return STORE_UNAVAILABLE;
	if ((ret = s->drv->begin(c, TX_SNAPSHOT)) != STORE_OK)
		return ret;
	if ((ret = census_read(s, c, &census)) != STORE_OK)
		goto out;
	if (ccb(arg, &census) == -1) {
		ret = STORE_ERROR;
		goto out;
	}
	for (d.kind = 0; d.kind < STORE_REC_NKINDS; d.kind++)
		if ((ret = store_run(s, c, dump_stmt(s, d.kind), NULL,
		    dump_row, &d, NULL)) != STORE_OK)
			goto out;
	ret = s->drv->commit(c);
out:
	if (ret != STORE_OK)
		s->drv->rollback(c);
	return ret;
}

void
store_restore_abort(struct store *s)
{
	if (s->restoring == NULL)
		return;
	s->drv->rollback(s->restoring);
	s->restoring = NULL;
}

/* Begin the restore's transaction, holding off other writers, and check
 * or empty every table. */
enum store_status
store_restore_begin(struct store *s, bool replace)
{
	struct store_conn	*c;
	enum store_status	 ret;
	int64_t			 empty = 0;
	int			 i;

	if (s->restoring != NULL)
		return STORE_ERROR;
	if ((c = store_conn(s)) == NULL)
		return STORE_UNAVAILABLE;
	if ((ret = s->drv->begin(c, TX_WRITE)) != STORE_OK)
		return ret;
	s->restoring = c;
	if (s->drv->lock_all != NULL && (ret = s->drv->lock_all(c)) !=
	    STORE_OK)
		goto fail;
	if ((ret = store_run(s, c, S_IS_EMPTY, NULL, store_first_int, &empty,
	    NULL)) != STORE_OK)
		goto fail;
	if (empty != 1 && !replace) {
		ret = STORE_CONFLICT;
		goto fail;
	}
	for (i = S_CLEAR; empty != 1 && i < S_SIDE_INSERT; i++)
		if ((ret = store_run(s, c, i, NULL, NULL, NULL, NULL)) !=
		    STORE_OK)
			goto fail;
	return STORE_OK;
fail:
	store_restore_abort(s);
	return ret;
}

/* Insert one restored row as it was, seq included. */
enum store_status
store_restore_row(struct store *s, const struct store_rec *r)
{
	const struct store_row	*e = &r->row;
	struct store_params	 pa;
	enum store_res		 res;
	int			 id;

	if (s->restoring == NULL)
		return STORE_ERROR;
	memset(&pa, 0, sizeof(pa));
	switch (r->kind) {
	case STORE_REC_ACCOUNT:
		id = S_RESTORE_ACCOUNT;
		sp_text(&pa, r->id);
		sp_text(&pa, r->name);
		sp_int(&pa, r->created_ms);
		break;
	case STORE_REC_TOKEN:
		id = S_RESTORE_TOKEN;
		sp_text(&pa, r->id);
		sp_text(&pa, r->account);
		sp_bytes(&pa, r->hash, sizeof(r->hash), true);
		sp_int(&pa, r->created_ms);
		if (r->revoked)
			sp_int(&pa, r->revoked_ms);
		else
			sp_text(&pa, NULL);
		break;
	case STORE_REC_EXPORT:
	case STORE_REC_CONNECTION:
		res = r->kind == STORE_REC_EXPORT ? STORE_EXPORTS :
		    STORE_CONNECTIONS;
		id = store_kstmt(s, res, K_RESTORE)->id;
		store_row_params(&pa, e->id, e->account, e, res);
		/* K_RESTORE: id, account, rev, body, secrets, cols, seq */
		memmove(&pa.v[3], &pa.v[2], (size_t)(pa.n - 2) *
		    sizeof(pa.v[0]));
		pa.n++;
		pa.v[2].type = SV_INT;
		pa.v[2].i = e->rev;
		sp_int(&pa, e->seq);
		break;
	case STORE_REC_INBOX:
		id = S_RESTORE_INBOX;
		sp_int(&pa, r->seq);
		sp_text(&pa, r->id);
		sp_int(&pa, r->received_ms);
		sp_text(&pa, r->request_id);
		sp_text(&pa, r->headers);
		sp_bytes(&pa, r->record, r->record_len, false);
		break;
	case STORE_REC_INBOX_COUNT:
		id = S_RESTORE_INBOX_COUNT;
		sp_text(&pa, r->id);
		sp_int(&pa, r->n);
		break;
	case STORE_REC_AUDIT:
		id = S_RESTORE_AUDIT;
		sp_int(&pa, r->seq);
		sp_text(&pa, r->id);
		sp_text(&pa, r->account);
		sp_text(&pa, r->resource_type);
		sp_text(&pa, r->resource_id);
		sp_text(&pa, r->source);
		sp_text(&pa, r->event);
		sp_int(&pa, r->received_ms);
		sp_bytes(&pa, r->record, r->record_len, false);
		break;
	case STORE_REC_STATE:
		id = S_RESTORE_STATE;
		sp_text(&pa, r->account);
		sp_text(&pa, r->resource_id);
		sp_text(&pa, r->event);
		sp_bytes(&pa, r->record, r->record_len, false);
		break;
	default:
		return STORE_ERROR;
	}
	return store_run(s, s->restoring, id, &pa, NULL, NULL, NULL);
}

/* Move the sequences past the census's and every restored row's, then
 * COMMIT. */
enum store_status
store_restore_commit(struct store *s, const struct store_census *census)
{
	struct store_conn	*c = s->restoring;
	struct store_census	 now;
	enum store_status	 ret;

	if (c == NULL)
		return STORE_ERROR;
	memset(&now, 0, sizeof(now));
	if ((ret = store_run(s, c, S_CENSUS, NULL, census_row, &now,
	    NULL)) != STORE_OK)
		goto out;
	if ((ret = s->drv->seq_set(c, "exports", census->export_seq >
	    now.export_seq ? census->export_seq : now.export_seq)) !=
	    STORE_OK ||
	    (ret = s->drv->seq_set(c, "inbox", census->inbox_seq >
	    now.inbox_seq ? census->inbox_seq : now.inbox_seq)) != STORE_OK ||
	    (ret = s->drv->seq_set(c, "audit", census->audit_seq >
	    now.audit_seq ? census->audit_seq : now.audit_seq)) != STORE_OK ||
	    (ret = s->drv->seq_set(c, "connections", census->connection_seq >
	    now.connection_seq ? census->connection_seq :
	    now.connection_seq)) != STORE_OK)
		goto out;
	ret = s->drv->commit(c);
	if (ret == STORE_OK) {
		s->restoring = NULL;
		s->drv->token_changed(c);	/* tokens were replaced */
	}
out:
	store_restore_abort(s);
	return ret;
}
