/* The SQL both engines speak alike, and the resource declarations it is
 * built from. Parameters are written $1, $2, ...; a driver pastes in its
 * dialect's words (struct store_dialect). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/core.h"
#include "util/buf.h"
#include "util/xmalloc.h"

const struct store_kind store_kinds[STORE_NRES] = {
	[STORE_EXPORTS] = {
		.table = "exports",
		.cols = { "api_identifier", "adaptor_type", "type",
		    "connection_id", "integration_id", "name" },
		.ncols = EXPORT_NCOLS,
		.unique = 1u << EXPORT_APIID,
		.filters = (1u << EXPORT_ADAPTOR_TYPE) | (1u << EXPORT_TYPE) |
		    (1u << EXPORT_CONNECTION_ID) |
		    (1u << EXPORT_INTEGRATION_ID) | (1u << EXPORT_NAME),
		.drop = { S_INBOX_DELETE_ALL, S_INBOX_COUNT_DELETE, S_STATE_DROP,
		    -1 },
	},
	[STORE_CONNECTIONS] = {
		.table = "connections",
		.cols = { "type", "integration_id", "name" },
		.ncols = CONNECTION_NCOLS,
		.filters = (1u << CONNECTION_TYPE) |
		    (1u << CONNECTION_INTEGRATION_ID) | (1u << CONNECTION_NAME),
		.drop = { -1 },
		/* an export's connection_id */
		.used = true,
		.used_by = STORE_EXPORTS,
		.used_col = EXPORT_CONNECTION_ID,
	},
};

const struct store_side_kind store_sides[STORE_NSIDES] = {
	[STORE_SIDE_INBOX] = {
		.table = "inbox",
		.cols = { "export_id", "received_ms", "request_id", "headers",
		    "record" },
		.ncols = 5,
	},
	/* one entry per write of a resource (docs/internals/audit.md) */
	[STORE_SIDE_AUDIT] = {
		.table = "audit",
		.cols = { "id", "account_id", "resource_type", "resource_id",
		    "source", "event", "time_ms", "body" },
		.ncols = 8,
	},
};

/* The tables in the order a restore empties them (side rows first). */
static const char *const clear_order[] = {
	"state", "audit", "inbox_counts", "inbox", "exports", "connections",
	"tokens",
	"accounts",
};

static const char *const global_sql[S_CLEAR] = {
	[S_TOKEN_ACCOUNT] =
	    "SELECT account_id FROM tokens WHERE hash = $1"
	    " AND revoked_ms IS NULL",
	[S_ACCOUNT_FIND] = "SELECT id FROM accounts WHERE name = $1",
	[S_ACCOUNT_INSERT] =
	    "INSERT INTO accounts (id, name, created_ms) VALUES ($1, $2, $3)"
	    " ON CONFLICT DO NOTHING RETURNING id",
	[S_TOKEN_INSERT] =
	    "INSERT INTO tokens (id, account_id, hash, created_ms)"
	    " VALUES ($1, $2, $3, $4)",
	[S_TOKEN_LIST] =
	    "SELECT t.id, t.account_id, a.name, t.created_ms, t.revoked_ms"
	    " FROM tokens t JOIN accounts a ON a.id = t.account_id"
	    " ORDER BY t.created_ms, t.id%C",
	[S_TOKEN_REVOKE] =
	    "UPDATE tokens SET revoked_ms = $2 WHERE id = $1"
	    " AND revoked_ms IS NULL",
	/* Records waiting in every inbox: one row per export, not a scan
	 * of the records. */
	[S_INBOX_TOTAL] =
	    "SELECT CAST(coalesce(sum(n), 0) AS BIGINT) FROM inbox_counts",
	/* A read of the database itself, for readiness. */
	[S_READY] = "SELECT count(*) FROM (SELECT 1 FROM accounts LIMIT 1) a",
	[S_TOKEN_COUNT] =
	    "SELECT count(*) FROM tokens WHERE revoked_ms IS NULL",
	/* Inbox writes keep the export from being deleted under them. */
	[S_INBOX_EXPORT] =
	    "SELECT 1 FROM exports WHERE id = $1 AND account_id = $2%K",
	/* Count the entries in, unless that passes the cap ($3): no row
	 * back means full. The count row's lock makes appends to one inbox
	 * take turns until COMMIT, so seq order is commit order there. */
	[S_INBOX_RESERVE] =
	    "INSERT INTO inbox_counts AS c (export_id, n) VALUES ($1, $2)"
	    " ON CONFLICT (export_id) DO UPDATE SET n = c.n + excluded.n"
	    " WHERE c.n + excluded.n <= $3 RETURNING n",
	[S_INBOX_COUNT_ADD] =
	    "INSERT INTO inbox_counts AS c (export_id, n) VALUES ($1, $2)"
	    " ON CONFLICT (export_id) DO UPDATE SET n = c.n + excluded.n",
	[S_INBOX_DELETE_UPTO] =
	    "DELETE FROM inbox WHERE export_id = $1 AND seq <= $2",
	[S_INBOX_DELETE_ALL] = "DELETE FROM inbox WHERE export_id = $1",
	[S_INBOX_COUNT_DELETE] =
	    "DELETE FROM inbox_counts WHERE export_id = $1",
	[S_INBOX_LIST] =
	    "SELECT seq, received_ms, request_id, headers, record FROM inbox"
	    " WHERE export_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
	/* The listener's cheap look before it makes a delivery's records. */
	[S_INBOX_COUNT] =
	    "SELECT n FROM inbox_counts WHERE export_id = $1",
	[S_INBOX_BOUND] =
	    "SELECT seq FROM inbox WHERE export_id = $1 AND seq > $2"
	    " ORDER BY seq LIMIT $3 OFFSET $4",
	/* Each write of a batch runs in a savepoint, so that one failing
	 * write leaves the others. */
	[S_SAVEPOINT] = "SAVEPOINT w",
	[S_RELEASE] = "RELEASE w",
	[S_ROLLBACK_TO] = "ROLLBACK TO w",
	[S_CENSUS] =
	    "SELECT (SELECT count(*) FROM accounts),"
	    " (SELECT count(*) FROM tokens), (SELECT count(*) FROM exports),"
	    " (SELECT count(*) FROM inbox), (SELECT count(*) FROM inbox_counts),"
	    " (SELECT count(*) FROM audit), (SELECT count(*) FROM state),"
	    " (SELECT count(*) FROM connections),"
	    " (SELECT coalesce(max(seq), 0) FROM exports),"
	    " (SELECT coalesce(max(seq), 0) FROM inbox),"
	    " (SELECT coalesce(max(seq), 0) FROM audit),"
	    " (SELECT coalesce(max(seq), 0) FROM connections)",
	[S_IS_EMPTY] =
	    "SELECT CASE WHEN EXISTS (SELECT 1 FROM accounts)"
	    " OR EXISTS (SELECT 1 FROM tokens) OR EXISTS (SELECT 1 FROM exports)"
	    " OR EXISTS (SELECT 1 FROM inbox)"
	    " OR EXISTS (SELECT 1 FROM inbox_counts)"
	    " OR EXISTS (SELECT 1 FROM audit) OR EXISTS (SELECT 1 FROM state)"
	    " OR EXISTS (SELECT 1 FROM connections) THEN 0 ELSE 1 END",
	[S_DUMP_ACCOUNTS] =
	    "SELECT id, name, created_ms FROM accounts ORDER BY id%C",
	[S_DUMP_TOKENS] =
	    "SELECT id, account_id, hash, created_ms, revoked_ms FROM tokens"
	    " ORDER BY id%C",
	[S_DUMP_INBOX] =
	    "SELECT seq, export_id, received_ms, request_id, headers, record"
	    " FROM inbox ORDER BY seq",
	[S_DUMP_INBOX_COUNTS] =
	    "SELECT export_id, n FROM inbox_counts ORDER BY export_id%C",
	[S_RESTORE_ACCOUNT] =
	    "INSERT INTO accounts (id, name, created_ms) VALUES ($1, $2, $3)",
	[S_RESTORE_TOKEN] =
	    "INSERT INTO tokens (id, account_id, hash, created_ms, revoked_ms)"
	    " VALUES ($1, $2, $3, $4, $5)",
	[S_RESTORE_INBOX] =
	    "INSERT INTO inbox (seq, export_id, received_ms, request_id,"
	    " headers, record)%S VALUES ($1, $2, $3, $4, $5, $6)",
	[S_RESTORE_INBOX_COUNT] =
	    "INSERT INTO inbox_counts (export_id, n) VALUES ($1, $2)",
	[S_ACCOUNT_NAME] = "SELECT name FROM accounts WHERE id = $1",
	/* Newest first; a NULL filter matches any value. */
	[S_AUDIT_LIST] =
	    "SELECT seq, body FROM audit WHERE account_id = $1 AND seq < $2"
	    " AND (CAST($3 AS TEXT) IS NULL OR resource_type = $3)"
	    " AND (CAST($4 AS TEXT) IS NULL OR resource_id = $4)"
	    " AND (CAST($5 AS TEXT) IS NULL OR source = $5)"
	    " AND (CAST($6 AS TEXT) IS NULL OR event = $6)"
	    " AND time_ms >= $7 AND time_ms <= $8"
	    " ORDER BY seq DESC LIMIT $9",
	/* A short batch of the oldest, so that writes never wait long. */
	[S_AUDIT_PRUNE] =
	    "DELETE FROM audit WHERE seq IN (SELECT seq FROM audit"
	    " WHERE time_ms < $1 ORDER BY time_ms LIMIT $2)",
	[S_DUMP_AUDIT] =
	    "SELECT seq, id, account_id, resource_type, resource_id, source,"
	    " event, time_ms, body FROM audit ORDER BY seq",
	[S_RESTORE_AUDIT] =
	    "INSERT INTO audit (seq, id, account_id, resource_type,"
	    " resource_id, source, event, time_ms, body)%S"
	    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
	[S_STATE_GET] =
	    "SELECT value FROM state WHERE account_id = $1 AND scope = $2"
	    " AND key_name = $3",
	[S_STATE_KEYS] =
	    "SELECT key_name FROM state WHERE account_id = $1 AND scope = $2"
	    " ORDER BY key_name%C",
	/* No row back from the insert: the key exists, update it. */
	[S_STATE_INSERT] =
	    "INSERT INTO state (account_id, scope, key_name, value)"
	    " VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
	[S_STATE_UPDATE] =
	    "UPDATE state SET value = $4 WHERE account_id = $1 AND scope = $2"
	    " AND key_name = $3",
	[S_STATE_DELETE] =
	    "DELETE FROM state WHERE account_id = $1 AND scope = $2"
	    " AND key_name = $3",
	[S_STATE_CLEAR] =
	    "DELETE FROM state WHERE account_id = $1 AND scope = $2",
	[S_STATE_DROP] = "DELETE FROM state WHERE scope = $1",
	[S_DUMP_STATE] =
	    "SELECT account_id, scope, key_name, value FROM state"
	    " ORDER BY account_id%C, scope%C, key_name%C",
	[S_RESTORE_STATE] =
	    "INSERT INTO state (account_id, scope, key_name, value)"
	    " VALUES ($1, $2, $3, $4)",
};

/* Append a template, pasting the dialect's words for %C (byte order),
 * %K (key share lock), %U (update lock), %H (share lock), %S (keep seq). */
static void
sql_paste(struct buf *b, const struct store_dialect *d, const char *tmpl)
{
	const char	*p;

	for (p = tmpl; *p != '\0'; p++) {
		if (*p != '%') {
			buf_add(b, p, 1);
			continue;
		}
		switch (*++p) {
		case 'C': buf_adds(b, d->collate_c); break;
		case 'K': buf_adds(b, d->for_key_share); break;
		case 'U': buf_adds(b, d->for_update); break;
		case 'H': buf_adds(b, d->for_share); break;
		case 'S': buf_adds(b, d->keep_seq); break;
		default: buf_add(b, p - 1, 2); break;
		}
	}
}

/* ", c1, c2, ..." */
static void
sql_cols(struct buf *b, const struct store_kind *k)
{
	int	i;

	for (i = 0; i < k->ncols; i++)
		buf_printf(b, ", %s", k->cols[i]);
}

/* ", $first, $first+1, ..." for the text columns. */
static void
sql_col_params(struct buf *b, const struct store_kind *k, int first)
{
	int	i;

	for (i = 0; i < k->ncols; i++)
		buf_printf(b, ", $%d", first + i);
}

static char *
sql_take(struct buf *b)
{
	return buf_steal(b, NULL);
}

/* The text of a resource statement. */
static char *
kind_sql(const struct store_kind *k, const struct store_dialect *d, int op)
{
	struct buf	b;
	int		i, n;

	buf_init(&b, 0);
	if (op <= K_GET_ANY) {
		buf_printf(&b, "SELECT seq, rev, account_id, body, secrets");
		sql_cols(&b, k);
		buf_printf(&b, " FROM %s WHERE id = $1", k->table);
		if (op != K_GET_ANY)
			buf_printf(&b, " AND account_id = $2");
		if (op == K_GET_LOCK)
			sql_paste(&b, d, "%U");
		else if (op == K_GET_SHARE)
			sql_paste(&b, d, "%H");
	} else if (op == K_INSERT) {
		buf_printf(&b, "INSERT INTO %s (id, account_id, rev, body, "
		    "secrets", k->table);
		sql_cols(&b, k);
		buf_printf(&b, ") VALUES ($1, $2, 1, $3, $4");
		sql_col_params(&b, k, 5);
		buf_printf(&b, ") ON CONFLICT DO NOTHING RETURNING seq");
	} else if (op >= K_UPDATE && op < K_LIST) {
		/* only the columns that change: an index whose columns are
		 * not set is not touched */
		buf_printf(&b, "UPDATE %s SET rev = rev + 1, body = $3, "
		    "secrets = $4", k->table);
		for (i = 0, n = 5; i < k->ncols; i++)
			if ((op - K_UPDATE) & (1 << i))
				buf_printf(&b, ", %s = $%d", k->cols[i], n++);
		buf_printf(&b, " WHERE id = $1 AND account_id = $2"
		    " RETURNING rev");
	} else if (op == K_DELETE) {
		buf_printf(&b, "DELETE FROM %s WHERE id = $1 AND account_id = "
		    "$2", k->table);
	} else if (op == K_DUMP) {
		buf_printf(&b, "SELECT seq, rev, account_id, body, secrets");
		sql_cols(&b, k);
		buf_printf(&b, ", id FROM %s ORDER BY seq", k->table);
	} else if (op == K_RESTORE) {
		buf_printf(&b, "INSERT INTO %s (id, account_id, rev, body, "
		    "secrets", k->table);
		sql_cols(&b, k);
		buf_printf(&b, ", seq)");
		sql_paste(&b, d, "%S");
		buf_printf(&b, " VALUES ($1, $2, $3, $4, $5");
		sql_col_params(&b, k, 6);
		buf_printf(&b, ", $%d)", 6 + k->ncols);
	} else if (op == K_USERS) {
		buf_printf(&b, "SELECT count(*) FROM %s WHERE account_id = $2"
		    " AND %s = $1", store_kinds[k->used_by].table,
		    store_kinds[k->used_by].cols[k->used_col]);
	} else {
		/* $1 account, $2 after, $3 limit, $4 skip, then filters;
		 * a bound (K_BOUND) selects the seqs only */
		buf_printf(&b, "SELECT seq%s FROM %s WHERE account_id = $1"
		    " AND seq > $2", op >= K_BOUND ? "" : ", body", k->table);
		for (i = 0, n = 5; i < k->ncols; i++)
			if ((op - (op >= K_BOUND ? K_BOUND : K_LIST)) &
			    (1 << i))
				buf_printf(&b, " AND %s = $%d", k->cols[i],
				    n++);
		buf_printf(&b, " ORDER BY seq LIMIT $3 OFFSET $4");
	}
	return sql_take(&b);
}

/* The INSERT of a side row. */
static char *
side_sql(const struct store_side_kind *k)
{
	struct buf	b;
	int		i;

	buf_init(&b, 0);
	buf_printf(&b, "INSERT INTO %s (%s", k->table, k->cols[0]);
	for (i = 1; i < k->ncols; i++)
		buf_printf(&b, ", %s", k->cols[i]);
	buf_printf(&b, ") VALUES ($1");
	for (i = 1; i < k->ncols; i++)
		buf_printf(&b, ", $%d", i + 1);
	buf_printf(&b, ")");
	return sql_take(&b);
}

void
store_stmts_build(struct store *s)
{
	const struct store_dialect	*d = s->drv->dialect;
	const struct store_kind		*k;
	struct buf			 b;
	int				 i, r, op;

	for (i = 0; i < S_CLEAR; i++) {
		buf_init(&b, 0);
		sql_paste(&b, d, global_sql[i]);
		s->stmts[i].sql = sql_take(&b);
	}
	for (i = 0; i < S_SIDE_INSERT - S_CLEAR; i++) {
		buf_init(&b, 0);
		buf_printf(&b, "DELETE FROM %s", clear_order[i]);
		s->stmts[S_CLEAR + i].sql = sql_take(&b);
	}
	for (i = 0; i < STORE_NSIDES; i++)
		s->stmts[S_SIDE_INSERT + i].sql = side_sql(&store_sides[i]);
	for (r = 0; r < STORE_NRES; r++) {
		k = &store_kinds[r];
		for (op = 0; op < K_NSTMTS; op++) {
			if (op >= K_LIST && ((unsigned)(op - (op >= K_BOUND ?
			    K_BOUND : K_LIST)) & ~k->filters) != 0)
				continue;
			if (op >= K_UPDATE && op < K_LIST &&
			    (op - K_UPDATE) >> k->ncols != 0)
				continue;
			if (op == K_USERS && !k->used)
				continue;
			s->stmts[S_NGLOBAL + r * K_NSTMTS + op].sql =
			    kind_sql(k, d, op);
		}
	}
	for (i = 0; i < STORE_NSTMTS; i++)
		s->stmts[i].id = i;
}

void
store_stmts_free(struct store *s)
{
	int	i;

	for (i = 0; i < STORE_NSTMTS; i++) {
		free((char *)s->stmts[i].sql);
		s->stmts[i].sql = NULL;
	}
}

const struct store_stmt *
store_stmt(const struct store *s, int id)
{
	return &s->stmts[id];
}

const struct store_stmt *
store_kstmt(const struct store *s, enum store_res res, int k)
{
	return &s->stmts[S_NGLOBAL + (int)res * K_NSTMTS + k];
}

/* A borrowed text or blob value (NULL: SQL NULL). */
void
store_val_set(struct store_val *v, const void *p, size_t len, bool blob)
{
	v->type = p == NULL ? SV_NULL : blob ? SV_BLOB : SV_TEXT;
	v->p = p;
	v->len = len;
}

void
sp_bytes(struct store_params *pa, const void *p, size_t len, bool blob)
{
	store_val_set(&pa->v[pa->n++], p, len, blob);
}

/* A text parameter; NULL sends SQL NULL. */
void
sp_text(struct store_params *pa, const char *s)
{
	sp_bytes(pa, s, s != NULL ? strlen(s) : 0, false);
}

void
sp_int(struct store_params *pa, int64_t x)
{
	struct store_val	*v = &pa->v[pa->n++];

	v->type = SV_INT;
	v->i = x;
}
