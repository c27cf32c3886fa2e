/* SQLite driver: WAL, synchronous=FULL, a connection per thread with its
 * statements prepared once. The core's single writer (writers = 1) takes
 * the database's one write lock with BEGIN IMMEDIATE per batch. */
#include <fcntl.h>
#include <stdio.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "store/driver.h"
#include "util/log.h"
#include "util/metrics.h"
#include "util/xmalloc.h"

#define BUSY_TIMEOUT_MS	10000

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
	/* 4: the audit log and the state values */
	"CREATE TABLE audit ("
	"  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  id TEXT NOT NULL,"
	"  account_id TEXT NOT NULL,"
	"  resource_type TEXT NOT NULL,"
	"  resource_id TEXT NOT NULL,"
	"  source TEXT NOT NULL,"
	"  event TEXT NOT NULL,"
	"  time_ms INTEGER NOT NULL,"
	"  body TEXT NOT NULL);"
	"CREATE INDEX audit_account_seq ON audit(account_id, seq);"
	"CREATE INDEX audit_resource_seq ON audit(resource_id, seq);"
	"CREATE INDEX audit_time ON audit(time_ms);"
	"CREATE TABLE state ("
	"  account_id TEXT NOT NULL,"
	"  scope TEXT NOT NULL,"
	"  key_name TEXT NOT NULL,"
	"  value TEXT NOT NULL,"
	"  PRIMARY KEY (account_id, scope, key_name));"
	"CREATE INDEX state_scope ON state(scope);",
	/* 5: connections (the exports using one are found by exports_connection) */
	"CREATE TABLE connections ("
	"  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  id TEXT NOT NULL UNIQUE,"
	"  account_id TEXT NOT NULL,"
	"  rev INTEGER NOT NULL,"
	"  body TEXT NOT NULL,"
	"  secrets BLOB,"
	"  type TEXT,"
	"  integration_id TEXT,"
	"  name TEXT);"
	"CREATE INDEX connections_account_seq ON connections(account_id, seq);"
	"CREATE INDEX connections_type ON connections(account_id, type, seq);"
	"CREATE INDEX connections_integration ON connections(account_id,"
	"  integration_id, seq);"
	"CREATE INDEX connections_name ON connections(account_id, name, seq);",
};
#define NMIGRATIONS (sizeof(migrations) / sizeof(migrations[0]))

/* Transaction control, prepared once per connection. */
enum tx_stmt { T_READ, T_WRITE, T_COMMIT, T_ROLLBACK, T_COUNT };

static const char *const tx_sql[T_COUNT] = {
	[T_READ] = "BEGIN DEFERRED",
	[T_WRITE] = "BEGIN IMMEDIATE",
	[T_COMMIT] = "COMMIT",
	[T_ROLLBACK] = "ROLLBACK",
};

struct engine {
	char		*path;
	sqlite3		*admin;	/* migrations, and the checkpoint at close */
	uint64_t	*epoch;	/* shared by every process on the file */
};

struct store_conn {
	struct engine	*e;
	sqlite3		*db;
	sqlite3_stmt	*tx[T_COUNT];
	sqlite3_stmt	**st;		/* by statement id */
	int		 nst;
};

#define MAX_COLS	32

static void
sq_log(sqlite3 *db, const char *what)
{
	log_error("sqlite: %s: %s", what, db != NULL ? sqlite3_errmsg(db) :
	    "no connection");
}

/* What a failure means to the core. A full disk is "retry later": the
 * transaction was rolled back and nothing acknowledged is lost. */
static enum store_status
sq_status(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_CONSTRAINT:
		return STORE_CONFLICT;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
	case SQLITE_FULL:
		metrics_store_error();
		return STORE_UNAVAILABLE;
	default:
		metrics_store_error();
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

/* Open a database handle with the durability settings. */
static sqlite3 *
db_open(const char *path, int create)
{
	sqlite3	*db = NULL;
	int	 flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;

	if (create)
		flags |= SQLITE_OPEN_CREATE;
	if (sqlite3_open_v2(path, &db, flags, NULL) != SQLITE_OK) {
		sq_log(db, "open");
		sqlite3_close(db);
		return NULL;
	}
	sqlite3_busy_timeout(db, BUSY_TIMEOUT_MS);
	sqlite3_extended_result_codes(db, 1);
	/* A batch's savepoint journal stays in memory (a batch touches at
	 * most a few MiB), not in a temporary file written page by page. */
	if (sq_exec(db, "PRAGMA journal_mode=WAL;"
	    "PRAGMA synchronous=FULL;"
	    "PRAGMA foreign_keys=ON;"
	    "PRAGMA secure_delete=ON;"
	    "PRAGMA temp_store=MEMORY;") == -1) {
		sqlite3_close(db);
		return NULL;
	}
	return db;
}

/* Bring the schema up to the newest version, in one transaction. */
static int
sq_migrate(sqlite3 *db)
{
	sqlite3_stmt	*st = NULL;
	char		 sql[64];
	int		 version;
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
	if (version < 0 || version > (int)NMIGRATIONS) {
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

/* The token epoch: a counter in a small file beside the database,
 * mapped by every process that opens it (the server, and the command
 * line that revokes a token), so that reading it costs no system call. */
static uint64_t *
epoch_map(const char *path)
{
	char	 name[4096];
	void	*p;
	int	 fd;

	snprintf(name, sizeof(name), "%s-tokens", path);
	if ((fd = open(name, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) == -1 ||
	    ftruncate(fd, sizeof(uint64_t)) == -1) {
		log_error("sqlite: %s: cannot open the token epoch file",
		    name);
		if (fd != -1)
			close(fd);
		return NULL;
	}
	p = mmap(NULL, sizeof(uint64_t), PROT_READ | PROT_WRITE, MAP_SHARED,
	    fd, 0);
	close(fd);
	return p != MAP_FAILED ? p : NULL;
}

static void
sq_close(void *engine)
{
	struct engine	*e = engine;

	if (e->epoch != NULL)
		munmap(e->epoch, sizeof(uint64_t));
	if (e->admin == NULL) {
		free(e->path);
		free(e);
		return;
	}

	/* Leave the WAL folded into the database on a clean shutdown. */
	sqlite3_wal_checkpoint_v2(e->admin, NULL, SQLITE_CHECKPOINT_TRUNCATE,
	    NULL, NULL);
	sqlite3_close(e->admin);
	free(e->path);
	free(e);
}

static void *
sq_open(const char *url, unsigned flags)
{
	struct engine	*e;

	(void)flags;

	e = xcalloc(1, sizeof(*e));
	e->path = xstrdup(url + strlen("sqlite:"));
	if ((e->admin = db_open(e->path, 1)) == NULL ||
	    sq_migrate(e->admin) == -1 ||
	    (e->epoch = epoch_map(e->path)) == NULL) {
		sqlite3_close(e->admin);
		e->admin = NULL;
		sq_close(e);
		return NULL;
	}
	return e;
}

static uint64_t
sq_token_epoch(void *engine)
{
	return __atomic_load_n(((struct engine *)engine)->epoch,
	    __ATOMIC_ACQUIRE);
}

static void
sq_token_changed(struct store_conn *c)
{
	__atomic_add_fetch(c->e->epoch, 1, __ATOMIC_RELEASE);
}

static void
sq_conn_close(struct store_conn *c)
{
	int	i;

	if (c == NULL)
		return;
	for (i = 0; i < T_COUNT; i++)
		sqlite3_finalize(c->tx[i]);
	for (i = 0; i < c->nst; i++)
		sqlite3_finalize(c->st[i]);
	free(c->st);
	sqlite3_close(c->db);
	free(c);
}

static struct store_conn *
sq_conn_open(void *engine)
{
	struct engine		*e = engine;
	struct store_conn	*c;
	int			 i;

	c = xcalloc(1, sizeof(*c));
	c->e = e;
	if ((c->db = db_open(e->path, 0)) == NULL)
		goto fail;
	for (i = 0; i < T_COUNT; i++) {
		if (sqlite3_prepare_v3(c->db, tx_sql[i], -1,
		    SQLITE_PREPARE_PERSISTENT, &c->tx[i], NULL) != SQLITE_OK) {
			sq_log(c->db, "prepare");
			goto fail;
		}
	}
	return c;
fail:
	sq_conn_close(c);
	return NULL;
}

static bool
sq_conn_ready(struct store_conn *c)
{
	(void)c;

	return true;
}

static bool
sq_conn_lost(struct store_conn *c)
{
	(void)c;

	return false;
}

/* The statement prepared for an id; the core writes $N, SQLite reads
 * ?N the same way. */
static sqlite3_stmt *
stmt_get(struct store_conn *c, const struct store_stmt *stmt)
{
	char	*sql, *p;
	int	 rc;

	if (stmt->id >= c->nst) {
		c->st = xrealloc(c->st, (size_t)(stmt->id + 1) *
		    sizeof(*c->st));
		memset(c->st + c->nst, 0, (size_t)(stmt->id + 1 - c->nst) *
		    sizeof(*c->st));
		c->nst = stmt->id + 1;
	}
	if (c->st[stmt->id] != NULL)
		return c->st[stmt->id];
	sql = xstrdup(stmt->sql);
	for (p = sql; (p = strchr(p, '$')) != NULL; p++)
		*p = '?';
	rc = sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT,
	    &c->st[stmt->id], NULL);
	free(sql);
	if (rc != SQLITE_OK) {
		sq_log(c->db, "prepare");
		return NULL;
	}
	return c->st[stmt->id];
}

static void
bind_params(sqlite3_stmt *st, const struct store_val *v, int n)
{
	int	i;

	for (i = 0; i < n; i++) {
		switch (v[i].type) {
		case SV_INT:
			sqlite3_bind_int64(st, i + 1, v[i].i);
			break;
		case SV_TEXT:
			sqlite3_bind_text(st, i + 1, v[i].p, (int)v[i].len,
			    SQLITE_STATIC);
			break;
		case SV_BLOB:
			sqlite3_bind_blob(st, i + 1, v[i].p, (int)v[i].len,
			    SQLITE_STATIC);
			break;
		default:
			sqlite3_bind_null(st, i + 1);
			break;
		}
	}
}

/* The columns of the current row, borrowed until the next step. */
static int
row_cols(sqlite3_stmt *st, struct store_val *v)
{
	int	n, i;

	n = sqlite3_column_count(st);
	if (n > MAX_COLS)
		n = MAX_COLS;
	for (i = 0; i < n; i++) {
		memset(&v[i], 0, sizeof(v[i]));
		switch (sqlite3_column_type(st, i)) {
		case SQLITE_INTEGER:
		case SQLITE_FLOAT:
			v[i].type = SV_INT;
			v[i].i = sqlite3_column_int64(st, i);
			break;
		case SQLITE_TEXT:
			v[i].type = SV_TEXT;
			v[i].p = (const char *)sqlite3_column_text(st, i);
			v[i].len = (size_t)sqlite3_column_bytes(st, i);
			break;
		case SQLITE_BLOB:
			v[i].type = SV_BLOB;
			v[i].p = sqlite3_column_blob(st, i);
			v[i].len = (size_t)sqlite3_column_bytes(st, i);
			if (v[i].p == NULL)
				v[i].p = "";
			break;
		default:
			break;
		}
	}
	return n;
}

static enum store_status
sq_run(struct store_conn *c, const struct store_stmt *stmt,
    const struct store_val *params, int nparams, store_rows_cb cb, void *arg,
    int64_t *changes)
{
	struct store_val	 cols[MAX_COLS];
	enum store_status	 ret = STORE_OK;
	sqlite3_stmt		*st;
	int			 rc, n;

	if ((st = stmt_get(c, stmt)) == NULL)
		return STORE_ERROR;
	bind_params(st, params, nparams);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (cb == NULL)
			continue;
		n = row_cols(st, cols);
		if ((rc = cb(arg, cols, n)) == 0)
			continue;
		if (rc == -1)
			ret = STORE_ERROR;
		rc = SQLITE_DONE;
		break;
	}
	if (rc != SQLITE_DONE) {
		if ((rc & 0xff) != SQLITE_CONSTRAINT)
			sq_log(c->db, "statement");
		ret = sq_status(rc);
	}
	if (changes != NULL)
		*changes = sqlite3_changes(c->db);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return ret;
}

/* Run one prepared transaction-control statement. */
static enum store_status
tx_step(struct store_conn *c, enum tx_stmt id)
{
	int	rc = sqlite3_step(c->tx[id]);

	sqlite3_reset(c->tx[id]);
	if (rc != SQLITE_DONE) {
		sq_log(c->db, tx_sql[id]);
		return sq_status(rc);
	}
	return STORE_OK;
}

static enum store_status
sq_begin(struct store_conn *c, enum store_tx mode)
{
	return tx_step(c, mode == TX_WRITE ? T_WRITE : T_READ);
}

static enum store_status
sq_commit(struct store_conn *c)
{
	return tx_step(c, T_COMMIT);
}

static void
sq_rollback(struct store_conn *c)
{
	if (!sqlite3_get_autocommit(c->db))
		tx_step(c, T_ROLLBACK);
}

/* Run a one-off statement of text and integer parameters. */
static enum store_status
sq_oneoff(struct store_conn *c, const char *sql, const char *name,
    int64_t v, int64_t *out)
{
	sqlite3_stmt	*st = NULL;
	int		 rc;

	if (sqlite3_prepare_v2(c->db, sql, -1, &st, NULL) != SQLITE_OK) {
		sq_log(c->db, "prepare");
		return STORE_ERROR;
	}
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, v);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW && out != NULL)
		*out = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		sq_log(c->db, "sequence");
		return sq_status(rc);
	}
	return STORE_OK;
}

/* AUTOINCREMENT keeps a table's highest seq in sqlite_sequence. */
static enum store_status
sq_seq_high(struct store_conn *c, const char *table, int64_t *out)
{
	*out = 0;
	return sq_oneoff(c, "SELECT seq FROM sqlite_sequence WHERE name = ?1",
	    table, 0, out);
}

static enum store_status
sq_seq_set(struct store_conn *c, const char *table, int64_t high)
{
	enum store_status	ret;

	if ((ret = sq_oneoff(c, "DELETE FROM sqlite_sequence WHERE name = ?1",
	    table, 0, NULL)) != STORE_OK)
		return ret;
	return sq_oneoff(c, "INSERT INTO sqlite_sequence (name, seq)"
	    " VALUES (?1, ?2)", table, high, NULL);
}

static const struct store_dialect sqlite_dialect = {
	.for_update = "",
	.for_share = "",
	.for_key_share = "",
	.collate_c = "",
	.keep_seq = "",
};

const struct store_driver store_sqlite_driver = {
	.name = "sqlite",
	.scheme = "sqlite:",
	.dialect = &sqlite_dialect,
	.writers = 1,
	.open = sq_open,
	.close = sq_close,
	.conn_open = sq_conn_open,
	.conn_close = sq_conn_close,
	.conn_ready = sq_conn_ready,
	.conn_lost = sq_conn_lost,
	.run = sq_run,
	.begin = sq_begin,
	.commit = sq_commit,
	.rollback = sq_rollback,
	.seq_high = sq_seq_high,
	.seq_set = sq_seq_set,
	.token_epoch = sq_token_epoch,
	.token_changed = sq_token_changed,
};
