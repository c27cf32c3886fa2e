/* SQLite back end: WAL, synchronous=FULL, one read connection per thread,
 * and one writer thread that commits concurrent writes together (group
 * commit): a write is acknowledged only after the COMMIT that holds it. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/limits.h"
#include "store/store.h"
#include "util/isotime.h"
#include "util/log.h"
#include "util/xmalloc.h"

#define BUSY_TIMEOUT_MS	10000
#define CREATE_ATTEMPTS	16

/* Numbered migrations: entry i moves the schema from version i to i + 1. */
static const char *const migrations[] = {
	/* 1: accounts, tokens, exports */
	"CREATE TABLE accounts ("
	"  id TEXT PRIMARY KEY,"
	"  name TEXT NOT NULL UNIQUE,"
	"  created_ms INTEGER NOT NULL);"
	"CREATE TABLE tokens ("
	"  id TEXT PRIMARY KEY,"
	"  account_id TEXT NOT NULL REFERENCES accounts(id),"
	"  hash BLOB NOT NULL UNIQUE,"
	"  created_ms INTEGER NOT NULL,"
	"  revoked_ms INTEGER);"
	"CREATE TABLE exports ("
	"  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  id TEXT NOT NULL UNIQUE,"
	"  account_id TEXT NOT NULL,"
	"  api_identifier TEXT NOT NULL UNIQUE,"
	"  rev INTEGER NOT NULL,"
	"  body TEXT NOT NULL,"
	"  secrets BLOB,"
	"  adaptor_type TEXT,"
	"  type TEXT,"
	"  connection_id TEXT,"
	"  integration_id TEXT,"
	"  name TEXT);"
	"CREATE INDEX exports_account_seq ON exports(account_id, seq);",
	/* 2: an index per list filter, each ordered for keyset paging */
	"CREATE INDEX exports_adaptor ON exports(account_id, adaptor_type, seq);"
	"CREATE INDEX exports_type ON exports(account_id, type, seq);"
	"CREATE INDEX exports_connection ON exports(account_id, connection_id,"
	"  seq);"
	"CREATE INDEX exports_integration ON exports(account_id,"
	"  integration_id, seq);"
	"CREATE INDEX exports_name ON exports(account_id, name, seq);",
	/* 3: the durable inbox of webhook exports */
	"CREATE TABLE inbox ("
	"  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  export_id TEXT NOT NULL,"
	"  received_ms INTEGER NOT NULL,"
	"  request_id TEXT NOT NULL,"
	"  headers TEXT NOT NULL,"
	"  record TEXT NOT NULL);"
	"CREATE INDEX inbox_export_seq ON inbox(export_id, seq);"
	"CREATE TABLE inbox_counts ("
	"  export_id TEXT PRIMARY KEY,"
	"  n INTEGER NOT NULL);",
};
#define NMIGRATIONS (sizeof(migrations) / sizeof(migrations[0]))

enum stmt_id {
	Q_EXPORT_GET,
	Q_EXPORT_LIST,
	Q_EXPORT_INSERT,
	Q_EXPORT_UPDATE,
	Q_EXPORT_UPDATE_BODY,
	Q_EXPORT_DELETE,
	Q_TOKEN_ACCOUNT,
	Q_EXPORT_GET_ANY,
	Q_INBOX_LIST,
	Q_INBOX_COUNT,
	Q_INBOX_INSERT,
	Q_INBOX_COUNT_ADD,
	Q_INBOX_DELETE_UPTO,
	Q_INBOX_DELETE_ALL,
	Q_INBOX_COUNT_DELETE,
	Q_BEGIN,
	Q_COMMIT,
	Q_SAVEPOINT,
	Q_RELEASE,
	Q_ROLLBACK_TO,
	Q_READ_BEGIN,
	Q_COUNT
};

static const char *const stmt_sql[Q_COUNT] = {
	[Q_EXPORT_GET] =
	    "SELECT seq, rev, api_identifier, body, secrets, adaptor_type,"
	    " type, connection_id, integration_id, name"
	    " FROM exports WHERE id = ?1 AND account_id = ?2",
	[Q_EXPORT_LIST] =
	    "SELECT seq, body FROM exports WHERE account_id = ?1 AND seq > ?2"
	    " ORDER BY seq LIMIT ?3 OFFSET ?4",
	[Q_EXPORT_INSERT] =
	    "INSERT INTO exports (id, account_id, api_identifier, rev, body,"
	    " secrets, adaptor_type, type, connection_id, integration_id, name)"
	    " VALUES (?1, ?2, ?3, 1, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
	[Q_EXPORT_UPDATE] =
	    "UPDATE exports SET rev = rev + 1, api_identifier = ?3, body = ?4,"
	    " secrets = ?5, adaptor_type = ?6, type = ?7, connection_id = ?8,"
	    " integration_id = ?9, name = ?10"
	    " WHERE id = ?1 AND account_id = ?2",
	[Q_EXPORT_UPDATE_BODY] =
	    "UPDATE exports SET rev = rev + 1, body = ?4, secrets = ?5"
	    " WHERE id = ?1 AND account_id = ?2",
	[Q_EXPORT_DELETE] =
	    "DELETE FROM exports WHERE id = ?1 AND account_id = ?2",
	[Q_TOKEN_ACCOUNT] =
	    "SELECT account_id FROM tokens WHERE hash = ?1"
	    " AND revoked_ms IS NULL",
	[Q_EXPORT_GET_ANY] =
	    "SELECT account_id FROM exports WHERE id = ?1",
	[Q_INBOX_LIST] =
	    "SELECT seq, received_ms, request_id, headers, record FROM inbox"
	    " WHERE export_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
	[Q_INBOX_COUNT] =
	    "SELECT n FROM inbox_counts WHERE export_id = ?1",
	[Q_INBOX_INSERT] =
	    "INSERT INTO inbox (export_id, received_ms, request_id, headers,"
	    " record) VALUES (?1, ?2, ?3, ?4, ?5)",
	[Q_INBOX_COUNT_ADD] =
	    "INSERT INTO inbox_counts (export_id, n) VALUES (?1, ?2)"
	    " ON CONFLICT (export_id) DO UPDATE SET n = n + excluded.n",
	[Q_INBOX_DELETE_UPTO] =
	    "DELETE FROM inbox WHERE export_id = ?1 AND seq <= ?2",
	[Q_INBOX_DELETE_ALL] =
	    "DELETE FROM inbox WHERE export_id = ?1",
	[Q_INBOX_COUNT_DELETE] =
	    "DELETE FROM inbox_counts WHERE export_id = ?1",
	/* transaction control, prepared once: the writer runs them per write */
	[Q_BEGIN] = "BEGIN IMMEDIATE",
	[Q_COMMIT] = "COMMIT",
	[Q_SAVEPOINT] = "SAVEPOINT w",
	[Q_RELEASE] = "RELEASE w",
	[Q_ROLLBACK_TO] = "ROLLBACK TO w",
	/* a request's reads, in one snapshot (COMMIT ends it) */
	[Q_READ_BEGIN] = "BEGIN DEFERRED",
};

/* List filters: column names, in the order of struct store_filter. */
#define NFILTERS 5
static const char *const filter_columns[NFILTERS] = {
	"adaptor_type", "type", "connection_id", "integration_id", "name",
};

/* One connection with its prepared statements; used by one thread. */
struct conn {
	sqlite3		*db;
	sqlite3_stmt	*stmt[Q_COUNT];
	sqlite3_stmt	*list[1 << NFILTERS];	/* by filter mask, on demand */
	struct conn	*next;		/* registry of all connections */
};

struct sq {
	char		*path;
	pthread_key_t	 key;		/* this thread's struct conn */
	pthread_mutex_t	 reg_lock;
	struct conn	*conns;
	struct conn	*admin;		/* opener's connection (CLI, migrations) */

	/* group commit */
	pthread_t	 writer;
	int		 writer_running;
	pthread_mutex_t	 q_lock;
	pthread_cond_t	 q_cond;
	struct store_write *q_head, *q_tail;
	int		 stopping;
	struct conn	*wconn;

	/* restore, on the admin connection */
	sqlite3_stmt	*rst[STORE_REC_NKINDS];
	int		 restoring;
};

static void
sq_log(sqlite3 *db, const char *what)
{
	log_error("sqlite: %s: %s", what, db != NULL ? sqlite3_errmsg(db) :
	    "no connection");
}

static enum store_status
sq_status(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return STORE_UNAVAILABLE;
	case SQLITE_CONSTRAINT:
		return STORE_CONFLICT;
	default:
		return STORE_ERROR;
	}
}

static int
sq_exec(sqlite3 *db, const char *sql)
{
	char	*msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		log_error("sqlite: %s", msg != NULL ? msg : "exec failed");
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

static void
conn_free(struct conn *c)
{
	int	i;

	if (c == NULL)
		return;
	for (i = 0; i < Q_COUNT; i++)
		sqlite3_finalize(c->stmt[i]);
	for (i = 0; i < (1 << NFILTERS); i++)
		sqlite3_finalize(c->list[i]);
	sqlite3_close(c->db);
	free(c);
}

/* Open a connection with the durability settings and prepared statements. */
static struct conn *
conn_open(struct sq *q, int create)
{
	struct conn	*c;
	int		 flags;

	c = xcalloc(1, sizeof(*c));
	flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
	if (create)
		flags |= SQLITE_OPEN_CREATE;
	if (sqlite3_open_v2(q->path, &c->db, flags, NULL) != SQLITE_OK) {
		sq_log(c->db, "open");
		goto fail;
	}
	sqlite3_busy_timeout(c->db, BUSY_TIMEOUT_MS);
	sqlite3_extended_result_codes(c->db, 1);
	if (sq_exec(c->db, "PRAGMA journal_mode=WAL;"
	    "PRAGMA synchronous=FULL;"
	    "PRAGMA foreign_keys=ON;"
	    "PRAGMA secure_delete=ON;") == -1)
		goto fail;
	return c;
fail:
	conn_free(c);
	return NULL;
}

static int
conn_prepare(struct conn *c)
{
	int	i;

	for (i = 0; i < Q_COUNT; i++) {
		if (sqlite3_prepare_v3(c->db, stmt_sql[i], -1,
		    SQLITE_PREPARE_PERSISTENT, &c->stmt[i], NULL) != SQLITE_OK) {
			sq_log(c->db, "prepare");
			return -1;
		}
	}
	return 0;
}

/* This thread's connection, opened on first use. */
static struct conn *
conn_get(struct store *s)
{
	struct sq	*q = s->impl;
	struct conn	*c;

	if ((c = pthread_getspecific(q->key)) != NULL)
		return c;
	if ((c = conn_open(q, 0)) == NULL || conn_prepare(c) == -1) {
		conn_free(c);
		return NULL;
	}
	pthread_mutex_lock(&q->reg_lock);
	c->next = q->conns;
	q->conns = c;
	pthread_mutex_unlock(&q->reg_lock);
	pthread_setspecific(q->key, c);
	return c;
}

/* Bring the schema up to the newest version, in one transaction. */
static int
sq_migrate(sqlite3 *db)
{
	sqlite3_stmt	*st = NULL;
	char		 sql[64];
	int		 version = 0;
	size_t		 i;

	if (sq_exec(db, "BEGIN IMMEDIATE") == -1)
		return -1;
	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) !=
	    SQLITE_OK || sqlite3_step(st) != SQLITE_ROW) {
		sq_log(db, "user_version");
		sqlite3_finalize(st);
		goto fail;
	}
	version = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (version > (int)NMIGRATIONS) {
		log_error("sqlite: database schema version %d is newer than "
		    "this exportd knows (%zu)", version, NMIGRATIONS);
		goto fail;
	}
	for (i = (size_t)version; i < NMIGRATIONS; i++) {
		if (sq_exec(db, migrations[i]) == -1)
			goto fail;
		log_info("sqlite: applied migration %zu", i + 1);
	}
	snprintf(sql, sizeof(sql), "PRAGMA user_version=%zu", NMIGRATIONS);
	if (sq_exec(db, sql) == -1 || sq_exec(db, "COMMIT") == -1)
		goto fail;
	return 0;
fail:
	sq_exec(db, "ROLLBACK");
	return -1;
}

static int
sq_open(struct store *s, const char *url)
{
	struct sq	*q;

	q = xcalloc(1, sizeof(*q));
	q->path = xstrdup(url + strlen("sqlite:"));
	pthread_key_create(&q->key, NULL);
	pthread_mutex_init(&q->reg_lock, NULL);
	pthread_mutex_init(&q->q_lock, NULL);
	pthread_cond_init(&q->q_cond, NULL);
	s->impl = q;
	if ((q->admin = conn_open(q, 1)) == NULL)
		goto fail;
	if (sq_migrate(q->admin->db) == -1 || conn_prepare(q->admin) == -1)
		goto fail;
	/* The opening thread uses the admin connection for its reads. */
	pthread_setspecific(q->key, q->admin);
	return 0;
fail:
	conn_free(q->admin);
	pthread_key_delete(q->key);
	free(q->path);
	free(q);
	s->impl = NULL;
	return -1;
}

static void
sq_close(struct store *s)
{
	struct sq	*q = s->impl;
	struct conn	*c, *n;

	if (q == NULL)
		return;
	if (q->writer_running)
		s->ops->drain(s);
	if (q->restoring)
		s->ops->restore_abort(s);
	for (c = q->conns; c != NULL; c = n) {
		n = c->next;
		conn_free(c);
	}
	conn_free(q->wconn);
	/* Leave the WAL folded into the database on a clean shutdown. */
	sqlite3_wal_checkpoint_v2(q->admin->db, NULL,
	    SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
	conn_free(q->admin);
	pthread_key_delete(q->key);
	pthread_mutex_destroy(&q->reg_lock);
	pthread_mutex_destroy(&q->q_lock);
	pthread_cond_destroy(&q->q_cond);
	free(q->path);
	free(q);
	s->impl = NULL;
}

static char *
col_text(sqlite3_stmt *st, int i)
{
	const unsigned char	*t = sqlite3_column_text(st, i);

	return t != NULL ? xstrndup((const char *)t,
	    (size_t)sqlite3_column_bytes(st, i)) : NULL;
}

/* Read one export row with a connection's statement. */
static enum store_status
row_read(struct conn *c, const char *account, const char *id,
    struct export_row *out)
{
	sqlite3_stmt		*st = c->stmt[Q_EXPORT_GET];
	enum store_status	 ret;
	const void		*blob;
	int			 rc, n;

	memset(out, 0, sizeof(*out));
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, account, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		ret = STORE_NOT_FOUND;
		goto out;
	}
	if (rc != SQLITE_ROW) {
		sq_log(c->db, "export get");
		ret = sq_status(rc);
		goto out;
	}
	snprintf(out->id, sizeof(out->id), "%s", id);
	snprintf(out->account, sizeof(out->account), "%s", account);
	out->seq = sqlite3_column_int64(st, 0);
	out->rev = sqlite3_column_int64(st, 1);
	snprintf(out->api_identifier, sizeof(out->api_identifier), "%s",
	    (const char *)sqlite3_column_text(st, 2));
	out->body = col_text(st, 3);
	out->body_len = (size_t)sqlite3_column_bytes(st, 3);
	if ((blob = sqlite3_column_blob(st, 4)) != NULL) {
		n = sqlite3_column_bytes(st, 4);
		out->secrets = xmalloc((size_t)n);
		memcpy(out->secrets, blob, (size_t)n);
		out->secrets_len = (size_t)n;
	}
	out->adaptor_type = col_text(st, 5);
	out->type = col_text(st, 6);
	out->connection_id = col_text(st, 7);
	out->integration_id = col_text(st, 8);
	out->name = col_text(st, 9);
	ret = STORE_OK;
out:
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return ret;
}

static enum store_status
sq_export_get(struct store *s, const char *account, const char *id,
    struct export_row *out)
{
	struct conn	*c;

	if ((c = conn_get(s)) == NULL)
		return STORE_UNAVAILABLE;
	return row_read(c, account, id, out);
}

static void
bind_opt(sqlite3_stmt *st, int i, const char *v)
{
	if (v != NULL)
		sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

/* The list statement for a set of filters: an equality per filter on
 * indexed columns, so every combination pages by index. */
static sqlite3_stmt *
list_stmt(struct conn *c, unsigned mask)
{
	char	sql[512];
	size_t	len;
	int	i;

	if (mask == 0)
		return c->stmt[Q_EXPORT_LIST];
	if (c->list[mask] != NULL)
		return c->list[mask];
	len = (size_t)snprintf(sql, sizeof(sql), "SELECT seq, body FROM exports"
	    " WHERE account_id = ?1 AND seq > ?2");
	for (i = 0; i < NFILTERS; i++)
		if (mask & (1u << i))
			len += (size_t)snprintf(sql + len, sizeof(sql) - len,
			    " AND %s = ?%d", filter_columns[i], 5 + i);
	snprintf(sql + len, sizeof(sql) - len, " ORDER BY seq LIMIT ?3"
	    " OFFSET ?4");
	if (sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT,
	    &c->list[mask], NULL) != SQLITE_OK) {
		sq_log(c->db, "prepare list");
		return NULL;
	}
	return c->list[mask];
}

static enum store_status
sq_export_list(struct store *s, const char *account,
    const struct store_filter *f, int64_t after, int64_t skip, int64_t limit,
    store_row_cb cb, void *arg, bool *more, int64_t *last_seq)
{
	struct conn		*c;
	sqlite3_stmt		*st;
	enum store_status	 ret = STORE_OK;
	const char		*vals[NFILTERS];
	int64_t			 n = 0, seq;
	unsigned		 mask = 0;
	int			 rc, i;

	*more = false;
	*last_seq = 0;
	if ((c = conn_get(s)) == NULL)
		return STORE_UNAVAILABLE;
	vals[0] = f->adaptor_type;
	vals[1] = f->type;
	vals[2] = f->connection_id;
	vals[3] = f->integration_id;
	vals[4] = f->name;
	for (i = 0; i < NFILTERS; i++)
		if (vals[i] != NULL)
			mask |= 1u << i;
	if ((st = list_stmt(c, mask)) == NULL)
		return STORE_ERROR;
	sqlite3_bind_text(st, 1, account, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, after);
	sqlite3_bind_int64(st, 3, limit + 1);
	sqlite3_bind_int64(st, 4, skip);
	for (i = 0; i < NFILTERS; i++)
		if (vals[i] != NULL)
			sqlite3_bind_text(st, 5 + i, vals[i], -1,
			    SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == limit) {
			*more = true;
			break;
		}
		seq = sqlite3_column_int64(st, 0);
		if (cb(arg, seq, (const char *)sqlite3_column_text(st, 1),
		    (size_t)sqlite3_column_bytes(st, 1)) == -1) {
			ret = STORE_ERROR;
			break;
		}
		*last_seq = seq;
		n++;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		sq_log(c->db, "export list");
		ret = sq_status(rc);
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return ret;
}

/* Bind the writable columns of a row for insert or update. */
static void
bind_row(sqlite3_stmt *st, const struct store_write *w,
    const struct export_row *r)
{
	sqlite3_bind_text(st, 1, w->id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, w->account, -1, SQLITE_STATIC);
	if (w->kind == STORE_CREATE) {
		sqlite3_bind_text(st, 3, r->api_identifier, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 4, r->body, (int)r->body_len,
		    SQLITE_STATIC);
		if (r->secrets != NULL)
			sqlite3_bind_blob(st, 5, r->secrets,
			    (int)r->secrets_len, SQLITE_STATIC);
		bind_opt(st, 6, r->adaptor_type);
		bind_opt(st, 7, r->type);
		bind_opt(st, 8, r->connection_id);
		bind_opt(st, 9, r->integration_id);
		bind_opt(st, 10, r->name);
		return;
	}
	sqlite3_bind_text(st, 3, r->api_identifier, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, r->body, (int)r->body_len, SQLITE_STATIC);
	if (r->secrets != NULL)
		sqlite3_bind_blob(st, 5, r->secrets, (int)r->secrets_len,
		    SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 5);
	bind_opt(st, 6, r->adaptor_type);
	bind_opt(st, 7, r->type);
	bind_opt(st, 8, r->connection_id);
	bind_opt(st, 9, r->integration_id);
	bind_opt(st, 10, r->name);
}

static int
step_done(struct conn *c, sqlite3_stmt *st)
{
	int	rc = sqlite3_step(st);

	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc;
}

/* Finish a successful change: result is the row as now stored. */
static void
write_result(struct store_write *w, struct export_row *next, int64_t seq,
    int64_t rev)
{
	snprintf(next->id, sizeof(next->id), "%s", w->id);
	snprintf(next->account, sizeof(next->account), "%s", w->account);
	next->seq = seq;
	next->rev = rev;
	w->result = *next;
	memset(next, 0, sizeof(*next));
}

/* Add n (negative to remove) to an export's inbox count. */
static int
inbox_count_add(struct conn *c, const char *export_id, int64_t n)
{
	sqlite3_stmt	*st = c->stmt[Q_INBOX_COUNT_ADD];

	sqlite3_bind_text(st, 1, export_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, n);
	return step_done(c, st);
}

/* Delete an export's whole inbox. */
static int
inbox_drop(struct conn *c, const char *export_id)
{
	int	rc;

	sqlite3_bind_text(c->stmt[Q_INBOX_DELETE_ALL], 1, export_id, -1,
	    SQLITE_STATIC);
	if ((rc = step_done(c, c->stmt[Q_INBOX_DELETE_ALL])) != SQLITE_DONE)
		return rc;
	sqlite3_bind_text(c->stmt[Q_INBOX_COUNT_DELETE], 1, export_id, -1,
	    SQLITE_STATIC);
	return step_done(c, c->stmt[Q_INBOX_COUNT_DELETE]);
}

/* Entries in an export's inbox now. */
static int64_t
inbox_count(struct conn *c, const char *export_id)
{
	sqlite3_stmt	*st = c->stmt[Q_INBOX_COUNT];
	int64_t		 n = 0;

	sqlite3_bind_text(st, 1, export_id, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return n;
}

/* Does the export exist for this account? */
static enum store_status
export_exists(struct conn *c, const char *account, const char *id)
{
	struct export_row	row;
	enum store_status	ret;

	ret = row_read(c, account, id, &row);
	export_row_free(&row);
	return ret;
}

static enum store_status
apply_create(struct conn *c, struct store_write *w)
{
	struct export_row	 src, next;
	const struct export_row	*cur = NULL;
	enum store_status	 ret;
	int			 rc, m;

	memset(&src, 0, sizeof(src));
	if (w->source_id[0] != '\0') {
		if ((ret = row_read(c, w->account, w->source_id, &src)) !=
		    STORE_OK)
			return ret;
		cur = &src;
	}
	for (w->attempts = 0; w->attempts < CREATE_ATTEMPTS; w->attempts++) {
		memset(&next, 0, sizeof(next));
		if ((m = w->mutate(w, cur, &next)) < 0) {
			export_row_free(&next);
			ret = STORE_REJECTED;
			goto out;
		}
		bind_row(c->stmt[Q_EXPORT_INSERT], w, &next);
		rc = step_done(c, c->stmt[Q_EXPORT_INSERT]);
		if (rc == SQLITE_DONE) {
			write_result(w, &next,
			    sqlite3_last_insert_rowid(c->db), 1);
			ret = STORE_OK;
			goto out;
		}
		export_row_free(&next);
		if (rc != SQLITE_CONSTRAINT_UNIQUE) {
			sq_log(c->db, "export insert");
			ret = sq_status(rc);
			goto out;
		}
		/* An id or api identifier was taken: ask for fresh ones. */
	}
	ret = STORE_CONFLICT;
out:
	export_row_free(&src);
	return ret;
}

static bool
same_text(const char *a, const char *b)
{
	return a == NULL ? b == NULL : b != NULL && strcmp(a, b) == 0;
}

/* Whether two rows agree on every indexed column but the body. */
static bool
same_columns(const struct export_row *a, const struct export_row *b)
{
	return same_text(a->api_identifier, b->api_identifier) &&
	    same_text(a->adaptor_type, b->adaptor_type) &&
	    same_text(a->type, b->type) &&
	    same_text(a->connection_id, b->connection_id) &&
	    same_text(a->integration_id, b->integration_id) &&
	    same_text(a->name, b->name);
}

static enum store_status
apply_update(struct conn *c, struct store_write *w)
{
	struct export_row	 cur, next;
	enum store_status	 ret;
	sqlite3_stmt		*st;
	int			 rc;

	if ((ret = row_read(c, w->account, w->id, &cur)) != STORE_OK)
		return ret;
	memset(&next, 0, sizeof(next));
	if (w->kind == STORE_DELETE) {
		if (w->mutate != NULL && w->mutate(w, &cur, NULL) < 0) {
			ret = STORE_REJECTED;
			goto out;
		}
		sqlite3_bind_text(c->stmt[Q_EXPORT_DELETE], 1, w->id, -1,
		    SQLITE_STATIC);
		sqlite3_bind_text(c->stmt[Q_EXPORT_DELETE], 2, w->account, -1,
		    SQLITE_STATIC);
		rc = step_done(c, c->stmt[Q_EXPORT_DELETE]);
		if (rc == SQLITE_DONE)
			rc = inbox_drop(c, w->id);
		ret = rc == SQLITE_DONE ? STORE_OK : sq_status(rc);
		goto out;
	}
	if (w->mutate(w, &cur, &next) < 0) {
		ret = STORE_REJECTED;
		goto out;
	}
	/* Most replaces keep every indexed column: then only the row
	 * changes, and no index page is rewritten. */
	st = same_columns(&cur, &next) ? c->stmt[Q_EXPORT_UPDATE_BODY] :
	    c->stmt[Q_EXPORT_UPDATE];
	bind_row(st, w, &next);
	rc = step_done(c, st);
	if (rc != SQLITE_DONE) {
		sq_log(c->db, "export update");
		ret = sq_status(rc);
		goto out;
	}
	write_result(w, &next, cur.seq, cur.rev + 1);
	ret = STORE_OK;
out:
	export_row_free(&next);
	export_row_free(&cur);
	return ret;
}

static enum store_status
apply_inbox(struct conn *c, struct store_write *w)
{
	sqlite3_stmt		*st = c->stmt[Q_INBOX_INSERT];
	enum store_status	 ret;
	size_t			 i;
	int			 rc;

	if ((ret = export_exists(c, w->account, w->id)) != STORE_OK)
		return ret;
	w->affected = 0;
	if (w->kind == STORE_INBOX_ACK) {
		sqlite3_bind_text(c->stmt[Q_INBOX_DELETE_UPTO], 1, w->id, -1,
		    SQLITE_STATIC);
		sqlite3_bind_int64(c->stmt[Q_INBOX_DELETE_UPTO], 2,
		    w->inbox_upto);
		if ((rc = step_done(c, c->stmt[Q_INBOX_DELETE_UPTO])) !=
		    SQLITE_DONE)
			return sq_status(rc);
		w->affected = sqlite3_changes(c->db);
		rc = inbox_count_add(c, w->id, -w->affected);
		return rc == SQLITE_DONE ? STORE_OK : sq_status(rc);
	}
	if (inbox_count(c, w->id) + (int64_t)w->nentries > w->inbox_cap)
		return STORE_FULL;
	for (i = 0; i < w->nentries; i++) {
		sqlite3_bind_text(st, 1, w->id, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, w->received_ms);
		sqlite3_bind_text(st, 3, w->request_id, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 4, w->headers, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 5, w->entries[i].record,
		    (int)w->entries[i].record_len, SQLITE_STATIC);
		if ((rc = step_done(c, st)) != SQLITE_DONE) {
			sq_log(c->db, "inbox insert");
			return sq_status(rc);
		}
	}
	rc = inbox_count_add(c, w->id, (int64_t)w->nentries);
	w->affected = (int64_t)w->nentries;
	return rc == SQLITE_DONE ? STORE_OK : sq_status(rc);
}

/* Run one prepared transaction-control statement. */
static int
tx_step(struct conn *c, enum stmt_id id)
{
	int	rc = sqlite3_step(c->stmt[id]);

	sqlite3_reset(c->stmt[id]);
	if (rc != SQLITE_DONE) {
		sq_log(c->db, sqlite3_sql(c->stmt[id]));
		return -1;
	}
	return 0;
}

/* Apply one write inside the open batch transaction, in its own savepoint
 * so that a failure undoes only this write. */
static void
apply_one(struct conn *c, struct store_write *w)
{
	if (tx_step(c, Q_SAVEPOINT) == -1) {
		w->status = STORE_ERROR;
		return;
	}
	if (w->kind == STORE_CREATE)
		w->status = apply_create(c, w);
	else if (w->kind == STORE_INBOX_APPEND || w->kind == STORE_INBOX_ACK)
		w->status = apply_inbox(c, w);
	else
		w->status = apply_update(c, w);
	if (w->status != STORE_OK)
		tx_step(c, Q_ROLLBACK_TO);
	tx_step(c, Q_RELEASE);
}

/* Commit one batch; on failure every write of it fails. */
static void
commit_batch(struct sq *q, struct store_write *batch)
{
	struct store_write	*w, *n;
	struct conn		*c = q->wconn;
	int			 ok;

	ok = c != NULL && tx_step(c, Q_BEGIN) == 0;
	for (w = batch; w != NULL; w = w->next_in_queue) {
		if (ok)
			apply_one(c, w);
		else
			w->status = STORE_UNAVAILABLE;
	}
	if (ok && tx_step(c, Q_COMMIT) == -1) {
		sq_exec(c->db, "ROLLBACK");
		ok = 0;
		for (w = batch; w != NULL; w = w->next_in_queue) {
			if (w->status == STORE_OK)
				export_row_free(&w->result);
			w->status = STORE_ERROR;
		}
	}
	for (w = batch; w != NULL; w = n) {
		n = w->next_in_queue;
		w->next_in_queue = NULL;
		w->done(w);
	}
}

static void *
writer_main(void *arg)
{
	struct sq		*q = arg;
	struct store_write	*batch, *tail;
	int			 n;

	for (;;) {
		pthread_mutex_lock(&q->q_lock);
		while (q->q_head == NULL && !q->stopping)
			pthread_cond_wait(&q->q_cond, &q->q_lock);
		if (q->q_head == NULL) {
			pthread_mutex_unlock(&q->q_lock);
			break;
		}
		batch = tail = q->q_head;
		for (n = 1; n < LIMIT_WRITE_BATCH && tail->next_in_queue != NULL;
		    n++)
			tail = tail->next_in_queue;
		q->q_head = tail->next_in_queue;
		if (q->q_head == NULL)
			q->q_tail = NULL;
		tail->next_in_queue = NULL;
		pthread_mutex_unlock(&q->q_lock);
		commit_batch(q, batch);
	}
	return NULL;
}

static int
sq_start(struct store *s)
{
	struct sq	*q = s->impl;

	/* Each write of a batch runs in a savepoint, so that one failing
	 * write leaves the others; the savepoint's journal stays in memory
	 * (a batch touches at most a few MiB) instead of a temporary file
	 * written page by page. */
	if ((q->wconn = conn_open(q, 0)) == NULL ||
	    sq_exec(q->wconn->db, "PRAGMA temp_store=MEMORY") == -1 ||
	    conn_prepare(q->wconn) == -1)
		return -1;
	if (pthread_create(&q->writer, NULL, writer_main, q) != 0) {
		log_error("sqlite: cannot start the writer thread");
		return -1;
	}
	q->writer_running = 1;
	return 0;
}

/* Finish every queued write, then stop the writer. */
static void
sq_drain(struct store *s)
{
	struct sq	*q = s->impl;

	if (!q->writer_running)
		return;
	pthread_mutex_lock(&q->q_lock);
	q->stopping = 1;
	pthread_cond_signal(&q->q_cond);
	pthread_mutex_unlock(&q->q_lock);
	pthread_join(q->writer, NULL);
	q->writer_running = 0;
}

static void
sq_write_submit(struct store *s, struct store_write *w)
{
	struct sq	*q = s->impl;

	w->next_in_queue = NULL;
	memset(&w->result, 0, sizeof(w->result));
	if (!q->writer_running) {
		/* No writer (command-line use): commit this write alone. */
		struct conn *saved = q->wconn;

		q->wconn = q->admin;
		commit_batch(q, w);
		q->wconn = saved;
		return;
	}
	pthread_mutex_lock(&q->q_lock);
	if (q->stopping) {
		pthread_mutex_unlock(&q->q_lock);
		w->status = STORE_UNAVAILABLE;
		w->done(w);
		return;
	}
	if (q->q_tail != NULL)
		q->q_tail->next_in_queue = w;
	else
		q->q_head = w;
	q->q_tail = w;
	pthread_cond_signal(&q->q_cond);
	pthread_mutex_unlock(&q->q_lock);
}

static enum store_status
sq_export_get_any(struct store *s, const char *id, struct export_row *out)
{
	struct conn		*c;
	sqlite3_stmt		*st;
	char			 account[OID_HEXLEN + 1];
	int			 rc;

	memset(out, 0, sizeof(*out));
	if ((c = conn_get(s)) == NULL)
		return STORE_UNAVAILABLE;
	st = c->stmt[Q_EXPORT_GET_ANY];
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		snprintf(account, sizeof(account), "%s",
		    (const char *)sqlite3_column_text(st, 0));
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc == SQLITE_DONE)
		return STORE_NOT_FOUND;
	if (rc != SQLITE_ROW) {
		sq_log(c->db, "export get");
		return sq_status(rc);
	}
	return row_read(c, account, id, out);
}

static enum store_status
sq_inbox_list(struct store *s, const char *export_id, int64_t after,
    int64_t limit, store_inbox_cb cb, void *arg, bool *more)
{
	struct conn		*c;
	sqlite3_stmt		*st;
	enum store_status	 ret = STORE_OK;
	int64_t			 n = 0;
	int			 rc;

	*more = false;
	if ((c = conn_get(s)) == NULL)
		return STORE_UNAVAILABLE;
	st = c->stmt[Q_INBOX_LIST];
	sqlite3_bind_text(st, 1, export_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, after);
	sqlite3_bind_int64(st, 3, limit + 1);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n++ == limit) {
			*more = true;
			break;
		}
		if (cb(arg, sqlite3_column_int64(st, 0),
		    sqlite3_column_int64(st, 1),
		    (const char *)sqlite3_column_text(st, 2),
		    (const char *)sqlite3_column_text(st, 3),
		    (const char *)sqlite3_column_text(st, 4),
		    (size_t)sqlite3_column_bytes(st, 4)) == -1) {
			ret = STORE_ERROR;
			break;
		}
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		sq_log(c->db, "inbox list");
		ret = sq_status(rc);
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return ret;
}

static enum store_status
sq_token_account(struct store *s, const unsigned char hash[32],
    char account[OID_HEXLEN + 1])
{
	struct conn		*c;
	sqlite3_stmt		*st;
	enum store_status	 ret;
	int			 rc;

	if ((c = conn_get(s)) == NULL)
		return STORE_UNAVAILABLE;
	st = c->stmt[Q_TOKEN_ACCOUNT];
	sqlite3_bind_blob(st, 1, hash, 32, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		snprintf(account, OID_HEXLEN + 1, "%s",
		    (const char *)sqlite3_column_text(st, 0));
		ret = STORE_OK;
	} else if (rc == SQLITE_DONE)
		ret = STORE_NOT_FOUND;
	else {
		sq_log(c->db, "token lookup");
		ret = sq_status(rc);
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return ret;
}

/* One snapshot for the reads of a request: the token lookup and the
 * handler's reads then take the WAL read lock once, not once each. */
static void
sq_read_begin(struct store *s)
{
	struct conn	*c;

	if ((c = conn_get(s)) == NULL || !sqlite3_get_autocommit(c->db))
		return;
	if (sqlite3_step(c->stmt[Q_READ_BEGIN]) != SQLITE_DONE)
		sq_log(c->db, "begin read");
	sqlite3_reset(c->stmt[Q_READ_BEGIN]);
}

static void
sq_read_end(struct store *s)
{
	struct sq	*q = s->impl;
	struct conn	*c;

	/* a statement error may already have ended the transaction */
	if ((c = pthread_getspecific(q->key)) == NULL ||
	    sqlite3_get_autocommit(c->db))
		return;
	if (sqlite3_step(c->stmt[Q_COMMIT]) != SQLITE_DONE)
		sq_log(c->db, "end read");
	sqlite3_reset(c->stmt[Q_COMMIT]);
}

/* Run one statement on the admin connection with text/blob parameters. */
static int
admin_stmt(struct sq *q, const char *sql, sqlite3_stmt **out)
{
	if (sqlite3_prepare_v2(q->admin->db, sql, -1, out, NULL) !=
	    SQLITE_OK) {
		sq_log(q->admin->db, "prepare");
		return -1;
	}
	return 0;
}

static enum store_status
sq_account_ensure(struct store *s, const char *name,
    char account[OID_HEXLEN + 1])
{
	struct sq		*q = s->impl;
	sqlite3_stmt		*st = NULL;
	enum store_status	 ret = STORE_ERROR;
	char			 id[OID_HEXLEN + 1];
	int			 rc;

	if (sq_exec(q->admin->db, "BEGIN IMMEDIATE") == -1)
		return STORE_UNAVAILABLE;
	if (admin_stmt(q, "SELECT id FROM accounts WHERE name = ?1", &st) == -1)
		goto out;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		snprintf(account, OID_HEXLEN + 1, "%s",
		    (const char *)sqlite3_column_text(st, 0));
		ret = STORE_OK;
		goto out;
	}
	sqlite3_finalize(st);
	st = NULL;
	oid_new(id);
	if (admin_stmt(q, "INSERT INTO accounts (id, name, created_ms)"
	    " VALUES (?1, ?2, ?3)", &st) == -1)
		goto out;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, isotime_now_ms());
	if (sqlite3_step(st) != SQLITE_DONE) {
		sq_log(q->admin->db, "account insert");
		goto out;
	}
	memcpy(account, id, sizeof(id));
	ret = STORE_OK;
out:
	sqlite3_finalize(st);
	if (sq_exec(q->admin->db, ret == STORE_OK ? "COMMIT" : "ROLLBACK") ==
	    -1)
		ret = STORE_ERROR;
	return ret;
}

static enum store_status
sq_token_insert(struct store *s, const char *account,
    const unsigned char hash[32], char id[OID_HEXLEN + 1])
{
	struct sq	*q = s->impl;
	sqlite3_stmt	*st = NULL;
	int		 rc;

	oid_new(id);
	if (admin_stmt(q, "INSERT INTO tokens (id, account_id, hash,"
	    " created_ms) VALUES (?1, ?2, ?3, ?4)", &st) == -1)
		return STORE_ERROR;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, account, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 3, hash, 32, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, isotime_now_ms());
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		sq_log(q->admin->db, "token insert");
		return sq_status(rc);
	}
	return STORE_OK;
}

static enum store_status
sq_token_list(struct store *s, struct token_row **rows, size_t *n)
{
	struct sq	*q = s->impl;
	sqlite3_stmt	*st = NULL;
	struct token_row *r = NULL;
	size_t		 cnt = 0;
	int		 rc;

	*rows = NULL;
	*n = 0;
	if (admin_stmt(q, "SELECT t.id, t.account_id, a.name, t.created_ms,"
	    " t.revoked_ms FROM tokens t JOIN accounts a ON a.id ="
	    " t.account_id ORDER BY t.created_ms, t.id", &st) == -1)
		return STORE_ERROR;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		r = xrealloc(r, (cnt + 1) * sizeof(*r));
		memset(&r[cnt], 0, sizeof(*r));
		snprintf(r[cnt].id, sizeof(r[cnt].id), "%s",
		    (const char *)sqlite3_column_text(st, 0));
		snprintf(r[cnt].account, sizeof(r[cnt].account), "%s",
		    (const char *)sqlite3_column_text(st, 1));
		r[cnt].account_name = col_text(st, 2);
		r[cnt].created_ms = sqlite3_column_int64(st, 3);
		r[cnt].revoked_ms = sqlite3_column_int64(st, 4);
		cnt++;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		token_rows_free(r, cnt);
		return STORE_ERROR;
	}
	*rows = r;
	*n = cnt;
	return STORE_OK;
}

static enum store_status
sq_token_revoke(struct store *s, const char *id)
{
	struct sq	*q = s->impl;
	sqlite3_stmt	*st = NULL;
	int		 rc;

	if (admin_stmt(q, "UPDATE tokens SET revoked_ms = ?2 WHERE id = ?1"
	    " AND revoked_ms IS NULL", &st) == -1)
		return STORE_ERROR;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, isotime_now_ms());
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return STORE_ERROR;
	return sqlite3_changes(q->admin->db) == 1 ? STORE_OK : STORE_NOT_FOUND;
}

static enum store_status
sq_token_count(struct store *s, int64_t *n)
{
	struct sq	*q = s->impl;
	sqlite3_stmt	*st = NULL;
	int		 rc;

	if (admin_stmt(q, "SELECT count(*) FROM tokens WHERE revoked_ms IS"
	    " NULL", &st) == -1)
		return STORE_ERROR;
	rc = sqlite3_step(st);
	*n = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? STORE_OK : STORE_ERROR;
}

/* Census of the store: rows per table and the sequences' high-water
 * marks (AUTOINCREMENT keeps them in sqlite_sequence). */
static const char census_sql[] =
    "SELECT (SELECT count(*) FROM accounts), (SELECT count(*) FROM tokens),"
    " (SELECT count(*) FROM exports), (SELECT count(*) FROM inbox),"
    " (SELECT count(*) FROM inbox_counts),"
    " max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'exports'),"
    " 0), coalesce((SELECT max(seq) FROM exports), 0)),"
    " max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'inbox'),"
    " 0), coalesce((SELECT max(seq) FROM inbox), 0))";

/* Every table in dump order, by kind. */
static const char *const dump_sql[STORE_REC_NKINDS] = {
	[STORE_REC_ACCOUNT] =
	    "SELECT id, name, created_ms FROM accounts ORDER BY id",
	[STORE_REC_TOKEN] =
	    "SELECT id, account_id, hash, created_ms, revoked_ms FROM tokens"
	    " ORDER BY id",
	[STORE_REC_EXPORT] =
	    "SELECT seq, id, account_id, api_identifier, rev, body, secrets,"
	    " adaptor_type, type, connection_id, integration_id, name"
	    " FROM exports ORDER BY seq",
	[STORE_REC_INBOX] =
	    "SELECT seq, export_id, received_ms, request_id, headers, record"
	    " FROM inbox ORDER BY seq",
	[STORE_REC_INBOX_COUNT] =
	    "SELECT export_id, n FROM inbox_counts ORDER BY export_id",
};

/* Inserts of restored rows, with the columns of dump_sql. */
static const char *const restore_sql[STORE_REC_NKINDS] = {
	[STORE_REC_ACCOUNT] =
	    "INSERT INTO accounts (id, name, created_ms) VALUES (?1, ?2, ?3)",
	[STORE_REC_TOKEN] =
	    "INSERT INTO tokens (id, account_id, hash, created_ms, revoked_ms)"
	    " VALUES (?1, ?2, ?3, ?4, ?5)",
	[STORE_REC_EXPORT] =
	    "INSERT INTO exports (seq, id, account_id, api_identifier, rev,"
	    " body, secrets, adaptor_type, type, connection_id, integration_id,"
	    " name) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
	[STORE_REC_INBOX] =
	    "INSERT INTO inbox (seq, export_id, received_ms, request_id,"
	    " headers, record) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	[STORE_REC_INBOX_COUNT] =
	    "INSERT INTO inbox_counts (export_id, n) VALUES (?1, ?2)",
};

/* Copy an id column into a fixed buffer; -1 if it is not one. */
static int
dump_id(sqlite3_stmt *st, int i, char out[OID_HEXLEN + 1])
{
	const unsigned char	*t = sqlite3_column_text(st, i);

	if (t == NULL || sqlite3_column_bytes(st, i) != OID_HEXLEN) {
		log_error("sqlite: dump: a row has a malformed id");
		return -1;
	}
	memcpy(out, t, OID_HEXLEN);
	out[OID_HEXLEN] = '\0';
	return 0;
}

/* A text column, borrowed; NULL for NULL. */
static char *
dump_text(sqlite3_stmt *st, int i)
{
	return (char *)sqlite3_column_text(st, i);
}

/* Fill a record from a row of dump_sql[kind]. */
static int
dump_fill(sqlite3_stmt *st, enum store_rec_kind kind, struct store_rec *r)
{
	struct export_row	*e = &r->export;
	const void		*blob;
	const unsigned char	*t;

	memset(r, 0, sizeof(*r));
	r->kind = kind;
	switch (kind) {
	case STORE_REC_ACCOUNT:
		r->name = dump_text(st, 1);
		r->created_ms = sqlite3_column_int64(st, 2);
		return r->name != NULL ? dump_id(st, 0, r->id) : -1;
	case STORE_REC_TOKEN:
		if (sqlite3_column_bytes(st, 2) != (int)sizeof(r->hash) ||
		    (blob = sqlite3_column_blob(st, 2)) == NULL) {
			log_error("sqlite: dump: a token has a malformed hash");
			return -1;
		}
		memcpy(r->hash, blob, sizeof(r->hash));
		r->created_ms = sqlite3_column_int64(st, 3);
		r->revoked = sqlite3_column_type(st, 4) != SQLITE_NULL;
		r->revoked_ms = sqlite3_column_int64(st, 4);
		return dump_id(st, 0, r->id) == -1 ||
		    dump_id(st, 1, r->account) == -1 ? -1 : 0;
	case STORE_REC_EXPORT:
		e->seq = sqlite3_column_int64(st, 0);
		e->rev = sqlite3_column_int64(st, 4);
		t = sqlite3_column_text(st, 3);
		if (t == NULL ||
		    sqlite3_column_bytes(st, 3) > STORE_APIID_LEN) {
			log_error("sqlite: dump: export seq %lld has a "
			    "malformed api_identifier", (long long)e->seq);
			return -1;
		}
		snprintf(e->api_identifier, sizeof(e->api_identifier), "%s",
		    (const char *)t);
		e->body = dump_text(st, 5);
		e->body_len = (size_t)sqlite3_column_bytes(st, 5);
		if (sqlite3_column_type(st, 6) != SQLITE_NULL) {
			e->secrets_len = (size_t)sqlite3_column_bytes(st, 6);
			blob = sqlite3_column_blob(st, 6);
			e->secrets = (unsigned char *)(blob != NULL ? blob :
			    "");
		}
		e->adaptor_type = dump_text(st, 7);
		e->type = dump_text(st, 8);
		e->connection_id = dump_text(st, 9);
		e->integration_id = dump_text(st, 10);
		e->name = dump_text(st, 11);
		if (e->body == NULL)
			return -1;
		return dump_id(st, 1, e->id) == -1 ||
		    dump_id(st, 2, e->account) == -1 ? -1 : 0;
	case STORE_REC_INBOX:
		r->seq = sqlite3_column_int64(st, 0);
		r->received_ms = sqlite3_column_int64(st, 2);
		r->request_id = dump_text(st, 3);
		r->headers = dump_text(st, 4);
		r->record = dump_text(st, 5);
		r->record_len = (size_t)sqlite3_column_bytes(st, 5);
		if (r->request_id == NULL || r->headers == NULL ||
		    r->record == NULL)
			return -1;
		return dump_id(st, 1, r->id);
	case STORE_REC_INBOX_COUNT:
		r->n = sqlite3_column_int64(st, 1);
		return dump_id(st, 0, r->id);
	default:
		return -1;
	}
}

/* Stream one table through the callback. */
static enum store_status
dump_table(sqlite3 *db, enum store_rec_kind kind, store_rec_cb cb,
    void *arg)
{
	sqlite3_stmt		*st = NULL;
	struct store_rec	 r;
	enum store_status	 ret = STORE_OK;
	int			 rc;

	if (sqlite3_prepare_v2(db, dump_sql[kind], -1, &st, NULL) !=
	    SQLITE_OK) {
		sq_log(db, "dump");
		return STORE_ERROR;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (dump_fill(st, kind, &r) == -1 || cb(arg, &r) == -1) {
			ret = STORE_ERROR;
			goto out;
		}
	}
	if (rc != SQLITE_DONE) {
		sq_log(db, "dump");
		ret = sq_status(rc);
	}
out:
	sqlite3_finalize(st);
	return ret;
}

/* Dump in one read transaction: WAL gives it a snapshot that concurrent
 * writers do not disturb. */
static enum store_status
sq_dump(struct store *s, store_census_cb ccb, store_rec_cb rcb, void *arg)
{
	struct sq		*q = s->impl;
	sqlite3			*db = q->admin->db;
	sqlite3_stmt		*st = NULL;
	struct store_census	 census;
	enum store_status	 ret = STORE_ERROR;
	int			 i, rc;

	if (sq_exec(db, "BEGIN DEFERRED") == -1)
		return STORE_UNAVAILABLE;
	if (sqlite3_prepare_v2(db, census_sql, -1, &st, NULL) != SQLITE_OK) {
		sq_log(db, "dump");
		goto out;
	}
	if ((rc = sqlite3_step(st)) != SQLITE_ROW) {
		sq_log(db, "dump");
		ret = sq_status(rc);
		goto out;
	}
	memset(&census, 0, sizeof(census));
	for (i = 0; i < STORE_REC_NKINDS; i++)
		census.rows[i] = sqlite3_column_int64(st, i);
	census.export_seq = sqlite3_column_int64(st, STORE_REC_NKINDS);
	census.inbox_seq = sqlite3_column_int64(st, STORE_REC_NKINDS + 1);
	sqlite3_finalize(st);
	st = NULL;
	if (ccb(arg, &census) == -1)
		goto out;
	for (i = 0; i < STORE_REC_NKINDS; i++)
		if ((ret = dump_table(db, i, rcb, arg)) != STORE_OK)
			goto out;
	ret = STORE_OK;
out:
	sqlite3_finalize(st);
	sq_exec(db, ret == STORE_OK ? "COMMIT" : "ROLLBACK");
	return ret;
}

/* Whether every table is empty. */
static enum store_status
sq_is_empty(struct store *s, bool *empty)
{
	struct sq	*q = s->impl;
	sqlite3_stmt	*st = NULL;
	int		 rc;

	*empty = false;
	if (admin_stmt(q, "SELECT NOT (EXISTS (SELECT 1 FROM accounts) OR"
	    " EXISTS (SELECT 1 FROM tokens) OR EXISTS (SELECT 1 FROM exports)"
	    " OR EXISTS (SELECT 1 FROM inbox) OR"
	    " EXISTS (SELECT 1 FROM inbox_counts))", &st) == -1)
		return STORE_ERROR;
	if ((rc = sqlite3_step(st)) == SQLITE_ROW)
		*empty = sqlite3_column_int(st, 0) != 0;
	else
		sq_log(q->admin->db, "is empty");
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? STORE_OK : sq_status(rc);
}

/* Roll a restore back (nothing of it stays). */
static void
sq_restore_abort(struct store *s)
{
	struct sq	*q = s->impl;
	int		 i;

	if (!q->restoring)
		return;
	for (i = 0; i < STORE_REC_NKINDS; i++) {
		sqlite3_finalize(q->rst[i]);
		q->rst[i] = NULL;
	}
	if (!sqlite3_get_autocommit(q->admin->db))
		sq_exec(q->admin->db, "ROLLBACK");
	q->restoring = 0;
}

/* BEGIN IMMEDIATE takes the write lock: no other writer gets in before
 * COMMIT or ROLLBACK. */
static enum store_status
sq_restore_begin(struct store *s, bool replace)
{
	struct sq		*q = s->impl;
	sqlite3			*db = q->admin->db;
	enum store_status	 ret;
	bool			 empty;
	int			 i;

	if (q->restoring)
		return STORE_ERROR;
	if (sq_exec(db, "BEGIN IMMEDIATE") == -1)
		return STORE_UNAVAILABLE;
	q->restoring = 1;
	if ((ret = sq_is_empty(s, &empty)) != STORE_OK)
		goto fail;
	if (!empty && !replace) {
		ret = STORE_CONFLICT;
		goto fail;
	}
	ret = STORE_ERROR;
	if (!empty && sq_exec(db, "DELETE FROM inbox_counts;"
	    "DELETE FROM inbox;"
	    "DELETE FROM exports;"
	    "DELETE FROM tokens;"
	    "DELETE FROM accounts;"
	    "DELETE FROM sqlite_sequence"
	    " WHERE name IN ('exports', 'inbox');") == -1)
		goto fail;
	for (i = 0; i < STORE_REC_NKINDS; i++) {
		if (sqlite3_prepare_v2(db, restore_sql[i], -1, &q->rst[i],
		    NULL) != SQLITE_OK) {
			sq_log(db, "restore");
			goto fail;
		}
	}
	return STORE_OK;
fail:
	sq_restore_abort(s);
	return ret;
}

/* Insert one restored row as it was, seq included. */
static enum store_status
sq_restore_row(struct store *s, const struct store_rec *r)
{
	struct sq		*q = s->impl;
	const struct export_row	*e = &r->export;
	sqlite3_stmt		*st;
	int			 rc;

	if (!q->restoring || (unsigned)r->kind >= STORE_REC_NKINDS)
		return STORE_ERROR;
	st = q->rst[r->kind];
	switch (r->kind) {
	case STORE_REC_ACCOUNT:
		sqlite3_bind_text(st, 1, r->id, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, r->name, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, r->created_ms);
		break;
	case STORE_REC_TOKEN:
		sqlite3_bind_text(st, 1, r->id, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, r->account, -1, SQLITE_STATIC);
		sqlite3_bind_blob(st, 3, r->hash, sizeof(r->hash),
		    SQLITE_STATIC);
		sqlite3_bind_int64(st, 4, r->created_ms);
		if (r->revoked)
			sqlite3_bind_int64(st, 5, r->revoked_ms);
		break;
	case STORE_REC_EXPORT:
		sqlite3_bind_int64(st, 1, e->seq);
		sqlite3_bind_text(st, 2, e->id, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, e->account, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 4, e->api_identifier, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 5, e->rev);
		sqlite3_bind_text(st, 6, e->body, (int)e->body_len,
		    SQLITE_STATIC);
		if (e->secrets != NULL)
			sqlite3_bind_blob(st, 7, e->secrets,
			    (int)e->secrets_len, SQLITE_STATIC);
		bind_opt(st, 8, e->adaptor_type);
		bind_opt(st, 9, e->type);
		bind_opt(st, 10, e->connection_id);
		bind_opt(st, 11, e->integration_id);
		bind_opt(st, 12, e->name);
		break;
	case STORE_REC_INBOX:
		sqlite3_bind_int64(st, 1, r->seq);
		sqlite3_bind_text(st, 2, r->id, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, r->received_ms);
		sqlite3_bind_text(st, 4, r->request_id, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 5, r->headers, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 6, r->record, (int)r->record_len,
		    SQLITE_STATIC);
		break;
	case STORE_REC_INBOX_COUNT:
		sqlite3_bind_text(st, 1, r->id, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, r->n);
		break;
	default:
		return STORE_ERROR;
	}
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != SQLITE_DONE) {
		sq_log(q->admin->db, "restore");
		return sq_status(rc);
	}
	return STORE_OK;
}

/* Set the sequences from the census, then COMMIT. */
static enum store_status
sq_restore_commit(struct store *s, const struct store_census *census)
{
	struct sq		*q = s->impl;
	sqlite3			*db = q->admin->db;
	sqlite3_stmt		*st = NULL;
	enum store_status	 ret = STORE_ERROR;
	int			 rc;

	if (!q->restoring)
		return STORE_ERROR;
	if (sq_exec(db, "DELETE FROM sqlite_sequence WHERE name IN"
	    " ('exports', 'inbox')") == -1)
		goto out;
	if (admin_stmt(q, "INSERT INTO sqlite_sequence (name, seq) VALUES"
	    " ('exports', max(?1,"
	    " (SELECT coalesce(max(seq), 0) FROM exports))),"
	    " ('inbox', max(?2, (SELECT coalesce(max(seq), 0) FROM inbox)))",
	    &st) == -1)
		goto out;
	sqlite3_bind_int64(st, 1, census->export_seq);
	sqlite3_bind_int64(st, 2, census->inbox_seq);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		sq_log(db, "restore sequences");
		ret = sq_status(rc);
		goto out;
	}
	if (sq_exec(db, "COMMIT") == -1)
		goto out;
	ret = STORE_OK;
out:
	sq_restore_abort(s);
	return ret;
}

const struct store_ops store_sqlite_ops = {
	.name = "sqlite",
	.open = sq_open,
	.close = sq_close,
	.start = sq_start,
	.drain = sq_drain,
	.read_begin = sq_read_begin,
	.read_end = sq_read_end,
	.export_get = sq_export_get,
	.export_list = sq_export_list,
	.write_submit = sq_write_submit,
	.export_get_any = sq_export_get_any,
	.inbox_list = sq_inbox_list,
	.token_account = sq_token_account,
	.account_ensure = sq_account_ensure,
	.token_insert = sq_token_insert,
	.token_list = sq_token_list,
	.token_revoke = sq_token_revoke,
	.token_count = sq_token_count,
	.dump = sq_dump,
	.is_empty = sq_is_empty,
	.restore_begin = sq_restore_begin,
	.restore_row = sq_restore_row,
	.restore_commit = sq_restore_commit,
	.restore_abort = sq_restore_abort,
};
