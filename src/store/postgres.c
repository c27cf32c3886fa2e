/* PostgreSQL driver (libpq): a connection per thread, opened on first use
 * and reopened after the server was lost; statements prepared once per
 * session; rows streamed one at a time. Several writer connections commit
 * batches side by side; a COMMIT whose answer is lost is resolved from
 * the transaction's id (txid_status). */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "store/driver.h"
#include "util/isotime.h"
#include "util/log.h"
#include "util/metrics.h"
#include "util/xmalloc.h"

#define RECONNECT_BACKOFF_US	500000	/* between failed reconnects */
#define OUTCOME_WAIT_US		3000000	/* for a lost transaction to end */
#define MIGRATE_LOCK		"28561396949218404"	/* "exportd" */
#define CREATE_LOCK_CLASS	"1702391908"		/* "expd" */
#define CREATE_FENCE_CLASS	"1702391909"
#define LIST_FENCE_TIMEOUT	"2000"			/* ms */
#define MAX_COLS		32

/* Type oids of result columns (pg_type.h is a server header). */
#define BOOLOID		16
#define BYTEAOID	17
#define INT8OID		20
#define INT2OID		21
#define INT4OID		23

/* Numbered migrations: entry i moves the schema from version i to i + 1.
 * body is the served text, verbatim; doc is a jsonb copy of it for
 * operators' queries, NULL when body holds a \u0000 escape (jsonb has no
 * NUL). */
static const char *const migrations[] = {
	/* 1: accounts, tokens, exports */
	"CREATE TABLE accounts ("
	"  id text PRIMARY KEY,"
	"  name text NOT NULL UNIQUE,"
	"  created_ms bigint NOT NULL);"
	"CREATE TABLE tokens ("
	"  id text PRIMARY KEY,"
	"  account_id text NOT NULL REFERENCES accounts(id),"
	"  hash bytea NOT NULL UNIQUE,"
	"  created_ms bigint NOT NULL,"
	"  revoked_ms bigint);"
	"CREATE TABLE exports ("
	"  seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
	"  id text NOT NULL UNIQUE,"
	"  account_id text NOT NULL,"
	"  api_identifier text NOT NULL UNIQUE,"
	"  rev bigint NOT NULL,"
	"  body text NOT NULL,"
	"  doc jsonb,"
	"  secrets bytea,"
	"  adaptor_type text,"
	"  type text,"
	"  connection_id text,"
	"  integration_id text,"
	"  name text);"
	"CREATE INDEX exports_account_seq ON exports (account_id, seq);"
	"CREATE INDEX exports_account_adaptor ON exports"
	"  (account_id, adaptor_type, seq);"
	"CREATE INDEX exports_account_type ON exports (account_id, type, seq);"
	"CREATE INDEX exports_account_connection ON exports"
	"  (account_id, connection_id, seq);"
	"CREATE INDEX exports_account_integration ON exports"
	"  (account_id, integration_id, seq);"
	"CREATE INDEX exports_account_name ON exports (account_id, name, seq);"
	"COMMENT ON COLUMN exports.body IS 'the public document as served,"
	" byte for byte';",
	/* 2: the durable inbox of webhook exports */
	"CREATE TABLE inbox ("
	"  seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
	"  export_id text NOT NULL,"
	"  received_ms bigint NOT NULL,"
	"  request_id text NOT NULL,"
	"  headers text NOT NULL,"
	"  record text NOT NULL);"
	"CREATE INDEX inbox_export_seq ON inbox (export_id, seq);"
	"CREATE TABLE inbox_counts ("
	"  export_id text PRIMARY KEY,"
	"  n bigint NOT NULL);",
	/* 3: the database keeps doc in step with body itself, so that every
	 * write names the same columns on every engine */
	"ALTER TABLE exports DROP COLUMN doc;"
	"ALTER TABLE exports ADD COLUMN doc jsonb GENERATED ALWAYS AS"
	"  (CASE WHEN strpos(body, '\\u0000') = 0 THEN body::jsonb END)"
	"  STORED;"
	"COMMENT ON COLUMN exports.doc IS 'jsonb copy of body for queries;"
	" NULL when body has a \\u0000 escape';",
	/* 4: the audit log and the state values */
	"CREATE TABLE audit ("
	"  seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
	"  id text NOT NULL,"
	"  account_id text NOT NULL,"
	"  resource_type text NOT NULL,"
	"  resource_id text NOT NULL,"
	"  source text NOT NULL,"
	"  event text NOT NULL,"
	"  time_ms bigint NOT NULL,"
	"  body text NOT NULL);"
	"CREATE INDEX audit_account_seq ON audit (account_id, seq);"
	"CREATE INDEX audit_resource_seq ON audit (resource_id, seq);"
	"CREATE INDEX audit_time ON audit (time_ms);"
	"CREATE TABLE state ("
	"  account_id text NOT NULL,"
	"  scope text NOT NULL,"
	"  key_name text NOT NULL,"
	"  value text NOT NULL,"
	"  PRIMARY KEY (account_id, scope, key_name));"
	"CREATE INDEX state_scope ON state (scope);",
	/* 5: connections; exports find theirs by the connection index of
	 * migration 1 */
	"CREATE TABLE connections ("
	"  seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
	"  id text NOT NULL UNIQUE,"
	"  account_id text NOT NULL,"
	"  rev bigint NOT NULL,"
	"  body text NOT NULL,"
	"  doc jsonb GENERATED ALWAYS AS"
	"  (CASE WHEN strpos(body, '\\u0000') = 0 THEN body::jsonb END) STORED,"
	"  secrets bytea,"
	"  type text,"
	"  integration_id text,"
	"  name text);"
	"CREATE INDEX connections_account_seq ON connections (account_id, seq);"
	"CREATE INDEX connections_account_type ON connections"
	"  (account_id, type, seq);"
	"CREATE INDEX connections_account_integration ON connections"
	"  (account_id, integration_id, seq);"
	"CREATE INDEX connections_account_name ON connections"
	"  (account_id, name, seq);"
	"COMMENT ON COLUMN connections.body IS 'the public document as served,"
	" byte for byte';",
};
#define NMIGRATIONS (sizeof(migrations) / sizeof(migrations[0]))

struct engine {
	char		*url;	/* may hold a password: never logged */
	uint64_t	 epoch;	/* token epoch: news of revocations */
	bool		 pooled; /* a transaction pooler between: no
				    prepared statements, no LISTEN */
};

/* Every session listens for token revocations by any instance. */
#define TOKEN_CHANNEL	"exportd_tokens"

/* The driver's own statements: advisory locks on an account. */
enum lock_stmt { L_CREATE, L_UNLOCK, L_PAGE, L_COUNT };

struct store_conn {
	struct engine	*e;
	PGconn		*pg;
	bool		*prepared;	/* by statement id */
	int		 nprepared;
	bool		 lock_prepared[L_COUNT];
	bool		 down;		/* lost; logged once per outage */
	int64_t		 retry_us;	/* no reconnect before (monotonic) */
	char		 timeline[9];	/* of the server, when the open
					   transaction took its id */
};

/* The transaction's id and the server's timeline (the first 8 hex digits
 * of the WAL file name): a promoted standby starts a new timeline, and
 * hands out ids the lost primary may have used already. */
#define TX_ID_SQL	"SELECT txid_current(),"			\
	" substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8)"

/* The length of a message's first line: one log line each. */
static int
msg_len(const char *m)
{
	return (int)strcspn(m, "\r\n");
}

/* Server notices (and messages that arrive while idle) go to debug. */
static void
notice_cb(void *arg, const char *message)
{
	(void)arg;

	log_debug("postgres: %.*s", msg_len(message), message);
}

static const char *
sqlstate(const PGresult *res)
{
	const char	*code;

	if (res == NULL ||
	    (code = PQresultErrorField(res, PG_DIAG_SQLSTATE)) == NULL)
		return "";
	return code;
}

/* Log a failed statement: the primary message and SQLSTATE only, never
 * parameters or the DETAIL line (which can quote values). */
static void
pq_log(struct store_conn *c, const PGresult *res, const char *what)
{
	const char	*m = NULL, *code = sqlstate(res);

	if (res != NULL)
		m = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	if (m == NULL)
		m = PQerrorMessage(c->pg);
	if (PQstatus(c->pg) == CONNECTION_BAD) {
		if (!c->down)
			log_warn("postgres: %s: connection lost: %.*s", what,
			    msg_len(m), m);
		c->down = true;
		return;
	}
	log_error("postgres: %s: %.*s%s%s%s", what, msg_len(m), m,
	    *code != '\0' ? " (SQLSTATE " : "", code,
	    *code != '\0' ? ")" : "");
}

/* What a failure means to the core: the server being away, shutting
 * down, out of resources, or a transaction to retry is "unavailable";
 * a constraint is a conflict; anything else an error. */
static enum store_status
pq_status(struct store_conn *c, const PGresult *res)
{
	const char	*code = sqlstate(res);

	if (strncmp(code, "23", 2) != 0)
		metrics_store_error();
	if (PQstatus(c->pg) == CONNECTION_BAD || code[0] == '\0')
		return STORE_UNAVAILABLE;
	if (strncmp(code, "08", 2) == 0 ||	/* connection exception */
	    strncmp(code, "40", 2) == 0 ||	/* transaction rollback */
	    strncmp(code, "53", 2) == 0 ||	/* insufficient resources */
	    strncmp(code, "57", 2) == 0 ||	/* operator intervention */
	    strcmp(code, "25006") == 0 ||	/* read-only (a standby) */
	    strcmp(code, "55P03") == 0)		/* lock not available */
		return STORE_UNAVAILABLE;
	if (strncmp(code, "23", 2) == 0)
		return STORE_CONFLICT;
	return STORE_ERROR;
}

/* Run a command without parameters; the one-row text result (if any)
 * goes to *out. */
static enum store_status
pq_exec(struct store_conn *c, const char *sql, const char *what,
    PGresult **out)
{
	enum store_status	 ret = STORE_OK;
	PGresult		*res;

	res = PQexec(c->pg, sql);
	if (PQresultStatus(res) != PGRES_COMMAND_OK &&
	    PQresultStatus(res) != PGRES_TUPLES_OK) {
		pq_log(c, res, what);
		ret = pq_status(c, res);
	} else if (out != NULL) {
		*out = res;
		return STORE_OK;
	}
	PQclear(res);
	return ret;
}

/* A decimal column of a one-row text result; 0 for NULL or no row. */
static int64_t
res_dec(const PGresult *res, int col)
{
	if (PQntuples(res) < 1 || PQgetisnull(res, 0, col))
		return 0;
	return strtoll(PQgetvalue(res, 0, col), NULL, 10);
}

/* Open a connection: the URL's settings win over these defaults, except
 * the client encoding, which must be UTF-8 for bytes to come back as
 * they went in. */
static PGconn *
pq_connect(struct engine *e)
{
	static const char *const kw[] = {
		"connect_timeout", "keepalives", "keepalives_idle",
		"keepalives_interval", "keepalives_count", "tcp_user_timeout",
		"application_name", "dbname", "client_encoding", NULL
	};
	const char	*val[] = {
		"3", "1", "5", "2", "3", "5000", "exportd", e->url, "UTF8",
		NULL
	};
	PGconn		*pg;

	pg = PQconnectdbParams(kw, val, 1);
	if (pg != NULL)
		PQsetNoticeProcessor(pg, notice_cb, NULL);
	return pg;
}

/* After a connection is made: the server must store UTF-8. */
static int
session_check(PGconn *pg)
{
	const char	*enc;

	enc = PQparameterStatus(pg, "server_encoding");
	if (enc == NULL || strcmp(enc, "UTF8") != 0) {
		log_error("postgres: the database encoding is %s; exportd "
		    "needs UTF8 (CREATE DATABASE ... ENCODING 'UTF8')",
		    enc != NULL ? enc : "unknown");
		return -1;
	}
	return 0;
}

/* Bring the schema up to the newest version in one transaction, holding
 * an advisory lock so that instances starting together take turns. */
static int
pq_migrate(struct store_conn *c)
{
	PGresult	*res = NULL;
	char		 sql[96];
	int64_t		 version;
	size_t		 i;

	if (pq_exec(c, "BEGIN", "migrate", NULL) != STORE_OK)
		return -1;
	if (pq_exec(c, "SELECT pg_advisory_xact_lock(" MIGRATE_LOCK ")",
	    "migration lock", NULL) != STORE_OK ||
	    pq_exec(c, "CREATE TABLE IF NOT EXISTS schema_version ("
	    " id integer PRIMARY KEY CHECK (id = 1),"
	    " version integer NOT NULL)", "schema_version", NULL) != STORE_OK ||
	    pq_exec(c, "INSERT INTO schema_version (id, version) VALUES (1, 0)"
	    " ON CONFLICT DO NOTHING", "schema_version", NULL) != STORE_OK ||
	    pq_exec(c, "SELECT version FROM schema_version WHERE id = 1",
	    "schema_version", &res) != STORE_OK)
		goto fail;
	version = res_dec(res, 0);
	PQclear(res);
	if (version < 0 || version > (int64_t)NMIGRATIONS) {
		log_error("postgres: database schema version %lld is newer "
		    "than this exportd knows (%zu)", (long long)version,
		    NMIGRATIONS);
		goto fail;
	}
	for (i = (size_t)version; i < NMIGRATIONS; i++) {
		if (pq_exec(c, migrations[i], "migration", NULL) != STORE_OK)
			goto fail;
		log_info("postgres: applied migration %zu", i + 1);
	}
	snprintf(sql, sizeof(sql), "UPDATE schema_version SET version = %zu"
	    " WHERE id = 1", NMIGRATIONS);
	if (pq_exec(c, sql, "schema_version", NULL) != STORE_OK ||
	    pq_exec(c, "COMMIT", "migrate", NULL) != STORE_OK)
		goto fail;
	return 0;
fail:
	pq_exec(c, "ROLLBACK", "rollback", NULL);
	return -1;
}

static void
pq_conn_close(struct store_conn *c)
{
	if (c == NULL)
		return;
	PQfinish(c->pg);
	free(c->prepared);
	free(c);
}

static void
pq_close(void *engine)
{
	struct engine	*e = engine;

	explicit_bzero(e->url, strlen(e->url));
	free(e->url);
	free(e);
}

static void *
pq_open(const char *url, unsigned flags)
{
	struct engine		*e;
	struct store_conn	 c;
	int			 rc = -1;

	e = xcalloc(1, sizeof(*e));
	e->url = xstrdup(url);
	e->pooled = (flags & STORE_TRANSACTION_POOLING) != 0;
	memset(&c, 0, sizeof(c));
	c.e = e;
	if ((c.pg = pq_connect(e)) == NULL ||
	    PQstatus(c.pg) != CONNECTION_OK)
		log_error("postgres: cannot connect: %.*s",
		    c.pg != NULL ? msg_len(PQerrorMessage(c.pg)) : 13,
		    c.pg != NULL ? PQerrorMessage(c.pg) : "out of memory");
	else if (session_check(c.pg) == 0)
		rc = pq_migrate(&c);
	PQfinish(c.pg);
	if (rc == -1) {
		pq_close(e);
		return NULL;
	}
	return e;
}

/* (Re)connect, at most once per back-off period; prepared statements
 * are gone with the old session. */
static bool
conn_revive(struct store_conn *c)
{
	int64_t	now = isotime_mono_us();

	if (now < c->retry_us)
		return false;
	if (c->pg == NULL)
		c->pg = pq_connect(c->e);
	else
		PQreset(c->pg);
	if (c->nprepared > 0)
		memset(c->prepared, 0, (size_t)c->nprepared * sizeof(bool));
	memset(c->lock_prepared, 0, sizeof(c->lock_prepared));
	if (c->pg != NULL && PQstatus(c->pg) == CONNECTION_OK &&
	    session_check(c->pg) == 0 && (c->e->pooled ||
	    pq_exec(c, "LISTEN " TOKEN_CHANNEL, "listen", NULL) == STORE_OK)) {
		/* what was said while this session was away is unknown */
		__atomic_add_fetch(&c->e->epoch, 1, __ATOMIC_RELEASE);
		if (c->down) {
			log_info("postgres: reconnected");
			metrics_store_reconnect();
		}
		c->down = false;
		c->retry_us = 0;
		return true;
	}
	if (!c->down)
		log_warn("postgres: cannot connect: %.*s",
		    c->pg != NULL ? msg_len(PQerrorMessage(c->pg)) : 13,
		    c->pg != NULL ? PQerrorMessage(c->pg) : "out of memory");
	metrics_store_error();
	c->down = true;
	c->retry_us = now + RECONNECT_BACKOFF_US;
	return false;
}

static struct store_conn *
pq_conn_open(void *engine)
{
	struct store_conn	*c;

	c = xcalloc(1, sizeof(*c));
	c->e = engine;
	return c;
}

/* Whether an idle connection is still usable: read what the server may
 * have sent meanwhile (a shutdown notice, then end of file), without
 * blocking, and end a transaction a failure left open. */
static bool
conn_alive(struct store_conn *c)
{
	struct pollfd	 pfd;
	PGnotify	*nf;
	int		 i;

	if (c->pg == NULL || PQstatus(c->pg) != CONNECTION_OK)
		return false;
	for (i = 0; i < 4; i++) {
		pfd.fd = PQsocket(c->pg);
		pfd.events = POLLIN;
		pfd.revents = 0;
		if (pfd.fd < 0 || poll(&pfd, 1, 0) != 1)
			break;
		if (!PQconsumeInput(c->pg))
			break;
		(void)PQisBusy(c->pg);	/* hands idle messages to notice_cb */
	}
	/* token revocations, whether read just now or during a statement */
	while ((nf = PQnotifies(c->pg)) != NULL) {
		__atomic_add_fetch(&c->e->epoch, 1, __ATOMIC_RELEASE);
		PQfreemem(nf);
	}
	if (PQstatus(c->pg) != CONNECTION_OK) {
		metrics_store_error();
		if (!c->down)
			log_warn("postgres: connection lost: %.*s",
			    msg_len(PQerrorMessage(c->pg)),
			    PQerrorMessage(c->pg));
		c->down = true;
		return false;
	}
	switch (PQtransactionStatus(c->pg)) {
	case PQTRANS_IDLE:
		return true;
	case PQTRANS_INTRANS:
	case PQTRANS_INERROR:
		return pq_exec(c, "ROLLBACK", "rollback", NULL) == STORE_OK;
	default:
		return false;
	}
}

static bool
pq_conn_ready(struct store_conn *c)
{
	return conn_alive(c) || conn_revive(c);
}

static bool
pq_conn_lost(struct store_conn *c)
{
	return c->pg == NULL || PQstatus(c->pg) != CONNECTION_OK;
}

/* Prepare a statement on this session if it has not been yet. The
 * server infers each parameter's type from where it stands. */
static enum store_status
stmt_prepare(struct store_conn *c, const struct store_stmt *stmt,
    char name[32])
{
	enum store_status	 ret = STORE_OK;
	PGresult		*res;

	snprintf(name, 32, "exportd_%d", stmt->id);
	if (stmt->id >= c->nprepared) {
		c->prepared = xrealloc(c->prepared, (size_t)(stmt->id + 1) *
		    sizeof(bool));
		memset(c->prepared + c->nprepared, 0,
		    (size_t)(stmt->id + 1 - c->nprepared) * sizeof(bool));
		c->nprepared = stmt->id + 1;
	}
	if (c->prepared[stmt->id])
		return STORE_OK;
	res = PQprepare(c->pg, name, stmt->sql, 0, NULL);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		pq_log(c, res, "prepare");
		ret = pq_status(c, res);
	} else
		c->prepared[stmt->id] = true;
	PQclear(res);
	return ret;
}

/* A column of a binary result row. */
static void
col_val(const PGresult *res, int col, struct store_val *v)
{
	const unsigned char	*p;
	uint64_t		 u = 0;
	int			 len, i;

	memset(v, 0, sizeof(*v));
	if (PQgetisnull(res, 0, col))
		return;
	p = (const unsigned char *)PQgetvalue(res, 0, col);
	len = PQgetlength(res, 0, col);
	switch (PQftype(res, col)) {
	case INT8OID:
	case INT4OID:
	case INT2OID:
	case BOOLOID:
		for (i = 0; i < len; i++)
			u = (u << 8) | p[i];
		if (len > 0 && len < 8 && (p[0] & 0x80))	/* sign */
			u |= ~(uint64_t)0 << (8 * len);
		v->type = SV_INT;
		v->i = (int64_t)u;
		break;
	case BYTEAOID:
		v->type = SV_BLOB;
		v->p = (const char *)p;
		v->len = (size_t)len;
		break;
	default:
		v->type = SV_TEXT;
		v->p = (const char *)p;
		v->len = (size_t)len;
		break;
	}
}

static enum store_status
pq_run(struct store_conn *c, const struct store_stmt *stmt,
    const struct store_val *params, int nparams, store_rows_cb cb, void *arg,
    int64_t *changes)
{
	struct store_val	 cols[MAX_COLS];
	const char		*v[STORE_MAX_PARAMS];
	int			 len[STORE_MAX_PARAMS], fmt[STORE_MAX_PARAMS];
	char			 ints[STORE_MAX_PARAMS][24], name[32] = "";
	enum store_status	 ret = STORE_OK;
	PGresult		*res;
	bool			 stop = false, failed = false;
	int			 i, n, rc;

	if (changes != NULL)
		*changes = 0;
	if (!c->e->pooled && (ret = stmt_prepare(c, stmt, name)) != STORE_OK)
		return ret;
	for (i = 0; i < nparams; i++) {
		/* integers as text, so that the inferred width never
		 * matters; text and bytea as their bytes */
		v[i] = params[i].type == SV_NULL ? NULL : params[i].p;
		len[i] = (int)params[i].len;
		fmt[i] = 1;
		if (params[i].type == SV_INT) {
			snprintf(ints[i], sizeof(ints[i]), "%lld",
			    (long long)params[i].i);
			v[i] = ints[i];
			fmt[i] = 0;
		}
	}
	/* Through a transaction pooler a session's prepared statements
	 * may be on another server connection: send the text each time. */
	if (c->e->pooled ? !PQsendQueryParams(c->pg, stmt->sql, nparams, NULL,
	    v, len, fmt, 1) :
	    !PQsendQueryPrepared(c->pg, name, nparams, v, len, fmt, 1)) {
		pq_log(c, NULL, "statement");
		return pq_status(c, NULL);
	}
	/* Rows one at a time: a query costs one row of memory here; the
	 * rest is drained after cb stops, one failure logged. */
	PQsetSingleRowMode(c->pg);
	while ((res = PQgetResult(c->pg)) != NULL) {
		switch (PQresultStatus(res)) {
		case PGRES_SINGLE_TUPLE:
			if (stop || cb == NULL)
				break;
			n = PQnfields(res) < MAX_COLS ? PQnfields(res) :
			    MAX_COLS;
			for (i = 0; i < n; i++)
				col_val(res, i, &cols[i]);
			if ((rc = cb(arg, cols, n)) == 0)
				break;
			stop = true;
			if (rc == -1 && !failed) {
				ret = STORE_ERROR;
				failed = true;
			}
			break;
		case PGRES_TUPLES_OK:
		case PGRES_COMMAND_OK:
			if (changes != NULL)
				*changes = strtoll(PQcmdTuples(res), NULL, 10);
			break;
		default:
			if (!failed) {
				ret = pq_status(c, res);
				if (ret != STORE_CONFLICT)
					pq_log(c, res, "statement");
				failed = stop = true;
			}
			break;
		}
		PQclear(res);
		if (PQstatus(c->pg) == CONNECTION_BAD) {
			if (!failed) {
				pq_log(c, NULL, "statement");
				ret = STORE_UNAVAILABLE;
			}
			break;
		}
	}
	return ret;
}

static enum store_status
pq_begin(struct store_conn *c, enum store_tx mode)
{
	return pq_exec(c, mode == TX_SNAPSHOT ?
	    "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY" :
	    "BEGIN ISOLATION LEVEL READ COMMITTED", "begin", NULL);
}

/* COMMIT; the transaction is durable when this answers STORE_OK. A
 * COMMIT of a failed transaction reports ROLLBACK, a failure too. */
static enum store_status
pq_commit(struct store_conn *c)
{
	enum store_status	 ret;
	PGresult		*res;

	res = PQexec(c->pg, "COMMIT");
	if (PQresultStatus(res) == PGRES_COMMAND_OK) {
		ret = strcmp(PQcmdStatus(res), "COMMIT") == 0 ? STORE_OK :
		    STORE_ERROR;
	} else {
		pq_log(c, res, "commit");
		ret = pq_status(c, res);
		if (ret == STORE_OK)
			ret = STORE_ERROR;
	}
	PQclear(res);
	return ret;
}

static void
pq_rollback(struct store_conn *c)
{
	if (c->pg != NULL && PQstatus(c->pg) == CONNECTION_OK &&
	    PQtransactionStatus(c->pg) != PQTRANS_IDLE)
		pq_exec(c, "ROLLBACK", "rollback", NULL);
}

static enum store_status
pq_tx_id(struct store_conn *c, int64_t *xid)
{
	enum store_status	 ret;
	PGresult		*res = NULL;

	if ((ret = pq_exec(c, TX_ID_SQL, "txid", &res)) != STORE_OK)
		return ret;
	*xid = res_dec(res, 0);
	snprintf(c->timeline, sizeof(c->timeline), "%s",
	    PQntuples(res) == 1 ? PQgetvalue(res, 0, 1) : "");
	PQclear(res);
	return STORE_OK;
}

/* Ask a new session what became of a transaction whose COMMIT lost its
 * answer; wait (boundedly) while the server still runs it. Only the
 * server's own history can tell: after a failover (another timeline) the
 * same id may name another transaction, so the outcome is unknown. */
static enum store_outcome
pq_tx_outcome(struct store_conn *c, int64_t xid)
{
	char		 sql[128];
	PGresult	*res = NULL;
	int64_t		 until = isotime_mono_us() + OUTCOME_WAIT_US;
	const char	*st;
	enum store_outcome o;
	bool		 waiting;

	snprintf(sql, sizeof(sql), "SELECT txid_status(%lld),"
	    " substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8)",
	    (long long)xid);
	c->retry_us = 0;
	while (conn_revive(c)) {
		if (pq_exec(c, sql, "txid_status", &res) != STORE_OK)
			break;
		st = PQntuples(res) == 1 && !PQgetisnull(res, 0, 0) ?
		    PQgetvalue(res, 0, 0) : "";
		o = strcmp(st, "committed") == 0 ? TX_COMMITTED :
		    strcmp(st, "aborted") == 0 ? TX_ABORTED : TX_UNKNOWN;
		waiting = strcmp(st, "in progress") == 0;
		if (PQntuples(res) != 1 || *c->timeline == '\0' ||
		    strcmp(PQgetvalue(res, 0, 1), c->timeline) != 0) {
			log_warn("postgres: the server is on another timeline"
			    " (a failover): the transaction's outcome is "
			    "unknown");
			o = TX_UNKNOWN;
			waiting = false;
		}
		PQclear(res);
		res = NULL;
		if (!waiting || isotime_mono_us() > until)
			return o;
		usleep(20000);
		c->retry_us = 0;
	}
	return TX_UNKNOWN;
}

static const char *const lock_sql[L_COUNT] = {
	/* a create's turn (session lock) and the fence it holds shared
	 * until COMMIT, in one round trip */
	[L_CREATE] = "SELECT pg_advisory_xact_lock_shared(" CREATE_FENCE_CLASS
	    ", hashtext($1)), pg_advisory_lock(" CREATE_LOCK_CLASS
	    ", hashtext($1))",
	[L_UNLOCK] = "SELECT pg_advisory_unlock(" CREATE_LOCK_CLASS
	    ", hashtext($1))",
	[L_PAGE] = "SELECT set_config('lock_timeout', '" LIST_FENCE_TIMEOUT
	    "', true), pg_advisory_xact_lock(" CREATE_FENCE_CLASS
	    ", hashtext($1))",
};

/* Run one of them for an account, prepared once per session (sent as
 * text through a transaction pooler). */
static enum store_status
pq_account_stmt(struct store_conn *c, enum lock_stmt id, const char *account)
{
	enum store_status	 ret = STORE_OK;
	PGresult		*res;
	const char		*v[1] = { account };
	char			 name[32];

	snprintf(name, sizeof(name), "exportd_lock_%d", (int)id);
	if (c->e->pooled)
		res = PQexecParams(c->pg, lock_sql[id], 1, NULL, v, NULL, NULL,
		    0);
	else {
		if (!c->lock_prepared[id]) {
			res = PQprepare(c->pg, name, lock_sql[id], 1, NULL);
			if (PQresultStatus(res) != PGRES_COMMAND_OK) {
				pq_log(c, res, "prepare");
				ret = pq_status(c, res);
				PQclear(res);
				return ret;
			}
			PQclear(res);
			c->lock_prepared[id] = true;
		}
		res = PQexecPrepared(c->pg, name, 1, v, NULL, NULL, 0);
	}
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		pq_log(c, res, "advisory lock");
		ret = pq_status(c, res);
	}
	PQclear(res);
	return ret;
}

/* Creates in one account take turns from mutate to INSERT, so that
 * creation order (seq) and createdAt agree; the turn is a session lock,
 * let go right after the INSERT. A list page must not pass a seq whose
 * create is still in flight (seqs are taken before COMMIT, so a lower one
 * can become visible after a higher one): creates hold the account's
 * fence shared until COMMIT and do not wait for each other; a page takes
 * it exclusively (page_fence). */
static enum store_status
pq_create_lock(struct store_conn *c, const char *account)
{
	return pq_account_stmt(c, L_CREATE, account);
}

static void
pq_create_unlock(struct store_conn *c, const char *account)
{
	if (PQstatus(c->pg) == CONNECTION_OK)
		pq_account_stmt(c, L_UNLOCK, account);
}

/* In a new transaction, wait (boundedly) until no create of the account
 * is in flight. If the wait times out, the transaction is ended and the
 * page is read without it: a create held up that long is rare, and a
 * list must not hang on it. */
static bool
pq_page_fence(struct store_conn *c, const char *account)
{
	if (pq_begin(c, TX_READ) != STORE_OK)
		return false;
	if (pq_account_stmt(c, L_PAGE, account) == STORE_OK)
		return true;
	pq_rollback(c);
	return false;
}

/* The highest value a table's seq identity has given out (0: none),
 * read from its sequence: it can be past every row's seq. */
static enum store_status
pq_seq_high(struct store_conn *c, const char *table, int64_t *out)
{
	enum store_status	 ret;
	PGresult		*res = NULL;
	char			 sql[256];

	*out = 0;
	snprintf(sql, sizeof(sql), "SELECT CASE WHEN is_called THEN"
	    " last_value ELSE last_value - 1 END FROM %s_seq_seq", table);
	if ((ret = pq_exec(c, sql, "sequence", &res)) != STORE_OK)
		return ret;
	*out = res_dec(res, 0);
	PQclear(res);
	return STORE_OK;
}

/* Restart a table's seq identity after high (transactional, unlike
 * setval). */
static enum store_status
pq_seq_set(struct store_conn *c, const char *table, int64_t high)
{
	char	sql[128];

	snprintf(sql, sizeof(sql), "ALTER TABLE %s ALTER COLUMN seq RESTART"
	    " WITH %lld", table, (long long)high + 1);
	return pq_exec(c, sql, "restore sequence", NULL);
}

/* Lock every table against writers (readers go on) so that nothing
 * slips in before COMMIT. */
static enum store_status
pq_lock_all(struct store_conn *c)
{
	return pq_exec(c, "LOCK TABLE accounts, tokens, exports, inbox,"
	    " inbox_counts, connections IN EXCLUSIVE MODE", "restore lock",
	    NULL);
}

/* Without LISTEN (a transaction pooler) no news arrives: every lookup
 * sees a new epoch, so tokens are read each time. */
static uint64_t
pq_token_epoch(void *engine)
{
	struct engine	*e = engine;

	if (e->pooled)
		return __atomic_add_fetch(&e->epoch, 1, __ATOMIC_ACQ_REL);
	return __atomic_load_n(&e->epoch, __ATOMIC_ACQUIRE);
}

/* Tell every session of every instance (after the change committed). */
static void
pq_token_changed(struct store_conn *c)
{
	__atomic_add_fetch(&c->e->epoch, 1, __ATOMIC_RELEASE);
	pq_exec(c, "NOTIFY " TOKEN_CHANNEL, "notify", NULL);
}

static const struct store_dialect postgres_dialect = {
	.for_update = " FOR UPDATE",
	.for_share = " FOR SHARE",
	.for_key_share = " FOR KEY SHARE",
	.collate_c = " COLLATE \"C\"",
	.keep_seq = " OVERRIDING SYSTEM VALUE",
};

const struct store_driver store_postgres_driver = {
	.name = "postgresql",
	.scheme = "postgresql://",
	.scheme2 = "postgres://",
	.dialect = &postgres_dialect,
	.writers = 4,
	.open = pq_open,
	.close = pq_close,
	.conn_open = pq_conn_open,
	.conn_close = pq_conn_close,
	.conn_ready = pq_conn_ready,
	.conn_lost = pq_conn_lost,
	.run = pq_run,
	.begin = pq_begin,
	.commit = pq_commit,
	.rollback = pq_rollback,
	.tx_id = pq_tx_id,
	.tx_outcome = pq_tx_outcome,
	.create_lock = pq_create_lock,
	.create_unlock = pq_create_unlock,
	.page_fence = pq_page_fence,
	.seq_high = pq_seq_high,
	.seq_set = pq_seq_set,
	.lock_all = pq_lock_all,
	.token_epoch = pq_token_epoch,
	.token_changed = pq_token_changed,
};
