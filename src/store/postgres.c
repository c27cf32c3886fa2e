/* PostgreSQL back end (libpq): one connection per server thread, opened
 * on first use and reopened after the server was lost; prepared
 * statements; every write is its own transaction on the calling thread's
 * connection and done() runs after its COMMIT has returned. A request
 * made while the server is unreachable fails with STORE_UNAVAILABLE. */
#include <arpa/inet.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "store/store.h"
#include "util/isotime.h"
#include "util/log.h"
#include "util/xmalloc.h"

#define CREATE_ATTEMPTS		16
#define RECONNECT_BACKOFF_US	500000	/* between failed reconnects */
#define MIGRATE_LOCK		"28561396949218404"	/* "exportd" */
#define CREATE_LOCK_CLASS	"1702391908"		/* "expd" */
#define CREATE_FENCE_CLASS	"1702391909"
#define LIST_FENCE_TIMEOUT	"2000"			/* ms */
#define MAX_PARAMS		13

/* Type oids of the parameters (pg_type.h is a server header). */
#define BOOLOID		16
#define BYTEAOID	17
#define INT8OID		20
#define TEXTOID		25
#define TEXTARRAYOID	1009

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
	" byte for byte';"
	"COMMENT ON COLUMN exports.doc IS 'jsonb copy of body for queries;"
	" NULL when body has a \\u0000 escape';",
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
};
#define NMIGRATIONS (sizeof(migrations) / sizeof(migrations[0]))

enum stmt_id {
	Q_EXPORT_GET,
	Q_EXPORT_LOCK,
	Q_EXPORT_SHARE,
	Q_CREATE_LOCK,
	Q_CREATE_UNLOCK,
	Q_CREATE_FENCE,
	Q_LIST_FENCE,
	Q_EXPORT_INSERT,
	Q_EXPORT_UPDATE,
	Q_EXPORT_DELETE,
	Q_TOKEN_ACCOUNT,
	Q_ACCOUNT_FIND,
	Q_ACCOUNT_INSERT,
	Q_TOKEN_INSERT,
	Q_TOKEN_LIST,
	Q_TOKEN_REVOKE,
	Q_TOKEN_COUNT,
	Q_EXPORT_GET_ANY,
	Q_EXPORT_KEYSHARE,
	Q_INBOX_RESERVE,
	Q_INBOX_COUNT_ADD,
	Q_INBOX_INSERT,
	Q_INBOX_DELETE_UPTO,
	Q_INBOX_DELETE_ALL,
	Q_INBOX_COUNT_DELETE,
	Q_INBOX_LIST,
	Q_RESTORE_ACCOUNT,
	Q_RESTORE_TOKEN,
	Q_RESTORE_EXPORT,
	Q_RESTORE_INBOX,
	Q_RESTORE_INBOX_COUNT,
	Q_COUNT
};

/* The list statement has one variant per combination of filters. */
#define NFILTERS	5
#define NLISTS		(1 << NFILTERS)
#define NSTMTS		(Q_COUNT + NLISTS)

#define EXPORT_SELECT \
	"SELECT seq, rev, api_identifier, body, secrets, adaptor_type," \
	" type, connection_id, integration_id, name, account_id FROM exports"
#define EXPORT_COLUMNS	EXPORT_SELECT " WHERE id = $1 AND account_id = $2"

struct stmt_def {
	const char	*sql;
	int		 nparams;
	Oid		 types[MAX_PARAMS];
};

static const struct stmt_def stmt_defs[Q_COUNT] = {
	[Q_EXPORT_GET] = { EXPORT_COLUMNS, 2, { TEXTOID, TEXTOID } },
	[Q_EXPORT_LOCK] = { EXPORT_COLUMNS " FOR UPDATE", 2,
	    { TEXTOID, TEXTOID } },
	[Q_EXPORT_SHARE] = { EXPORT_COLUMNS " FOR SHARE", 2,
	    { TEXTOID, TEXTOID } },
	/* Creates in one account take turns from mutate to INSERT, so that
	 * creation order (seq) and createdAt agree; the lock is a session
	 * lock, let go before COMMIT so that commits can share a sync. */
	[Q_CREATE_LOCK] = {
	    "SELECT pg_advisory_lock(" CREATE_LOCK_CLASS ", hashtext($1))",
	    1, { TEXTOID } },
	[Q_CREATE_UNLOCK] = {
	    "SELECT pg_advisory_unlock(" CREATE_LOCK_CLASS ", hashtext($1))",
	    1, { TEXTOID } },
	/* A page of a list must not pass a seq whose create is still in
	 * flight (seqs are taken before COMMIT, so a lower one can become
	 * visible after a higher one). Creates hold the account's fence
	 * shared until COMMIT and do not wait for each other; a list page
	 * takes it exclusively, so it reads after every create in flight
	 * has ended. The wait is bounded: past it the page is read anyway. */
	[Q_CREATE_FENCE] = {
	    "SELECT pg_advisory_xact_lock_shared(" CREATE_FENCE_CLASS
	    ", hashtext($1))", 1, { TEXTOID } },
	[Q_LIST_FENCE] = {
	    "SELECT set_config('lock_timeout', '" LIST_FENCE_TIMEOUT "', true),"
	    " pg_advisory_xact_lock(" CREATE_FENCE_CLASS ", hashtext($1))",
	    1, { TEXTOID } },
	[Q_EXPORT_INSERT] = {
	    "INSERT INTO exports (id, account_id, api_identifier, rev, body,"
	    " doc, secrets, adaptor_type, type, connection_id, integration_id,"
	    " name) VALUES ($1, $2, $3, 1, $4, CASE WHEN $11 THEN $4::jsonb"
	    " END, $5, $6, $7, $8, $9, $10)"
	    " ON CONFLICT DO NOTHING RETURNING seq", 11,
	    { TEXTOID, TEXTOID, TEXTOID, TEXTOID, BYTEAOID, TEXTOID, TEXTOID,
	      TEXTOID, TEXTOID, TEXTOID, BOOLOID } },
	[Q_EXPORT_UPDATE] = {
	    "UPDATE exports SET rev = rev + 1, api_identifier = $3, body = $4,"
	    " doc = CASE WHEN $11 THEN $4::jsonb END, secrets = $5,"
	    " adaptor_type = $6, type = $7, connection_id = $8,"
	    " integration_id = $9, name = $10"
	    " WHERE id = $1 AND account_id = $2 RETURNING rev", 11,
	    { TEXTOID, TEXTOID, TEXTOID, TEXTOID, BYTEAOID, TEXTOID, TEXTOID,
	      TEXTOID, TEXTOID, TEXTOID, BOOLOID } },
	[Q_EXPORT_DELETE] = {
	    "DELETE FROM exports WHERE id = $1 AND account_id = $2", 2,
	    { TEXTOID, TEXTOID } },
	[Q_TOKEN_ACCOUNT] = {
	    "SELECT account_id FROM tokens WHERE hash = $1"
	    " AND revoked_ms IS NULL", 1, { BYTEAOID } },
	[Q_ACCOUNT_FIND] = {
	    "SELECT id FROM accounts WHERE name = $1", 1, { TEXTOID } },
	[Q_ACCOUNT_INSERT] = {
	    "INSERT INTO accounts (id, name, created_ms) VALUES ($1, $2, $3)"
	    " ON CONFLICT DO NOTHING RETURNING id", 3,
	    { TEXTOID, TEXTOID, INT8OID } },
	[Q_TOKEN_INSERT] = {
	    "INSERT INTO tokens (id, account_id, hash, created_ms)"
	    " VALUES ($1, $2, $3, $4)", 4,
	    { TEXTOID, TEXTOID, BYTEAOID, INT8OID } },
	[Q_TOKEN_LIST] = {
	    "SELECT t.id, t.account_id, a.name, t.created_ms, t.revoked_ms"
	    " FROM tokens t JOIN accounts a ON a.id = t.account_id"
	    " ORDER BY t.created_ms, t.id COLLATE \"C\"", 0, { 0 } },
	[Q_TOKEN_REVOKE] = {
	    "UPDATE tokens SET revoked_ms = $2 WHERE id = $1"
	    " AND revoked_ms IS NULL", 2, { TEXTOID, INT8OID } },
	[Q_TOKEN_COUNT] = {
	    "SELECT count(*) FROM tokens WHERE revoked_ms IS NULL", 0, { 0 } },
	[Q_EXPORT_GET_ANY] = { EXPORT_SELECT " WHERE id = $1", 1,
	    { TEXTOID } },
	/* Inbox writes keep the export from being deleted under them. */
	[Q_EXPORT_KEYSHARE] = {
	    "SELECT 1 FROM exports WHERE id = $1 AND account_id = $2"
	    " FOR KEY SHARE", 2, { TEXTOID, TEXTOID } },
	/* Count the entries in, unless that passes the cap ($3): no row
	 * back means full. The count row's lock makes appends to one inbox
	 * take turns until COMMIT, so seq order is commit order there. */
	[Q_INBOX_RESERVE] = {
	    "INSERT INTO inbox_counts AS c (export_id, n) VALUES ($1, $2)"
	    " ON CONFLICT (export_id) DO UPDATE SET n = c.n + excluded.n"
	    " WHERE c.n + excluded.n <= $3 RETURNING n", 3,
	    { TEXTOID, INT8OID, INT8OID } },
	[Q_INBOX_COUNT_ADD] = {
	    "INSERT INTO inbox_counts AS c (export_id, n) VALUES ($1, $2)"
	    " ON CONFLICT (export_id) DO UPDATE SET n = c.n + excluded.n", 2,
	    { TEXTOID, INT8OID } },
	[Q_INBOX_INSERT] = {
	    "INSERT INTO inbox (export_id, received_ms, request_id, headers,"
	    " record) SELECT $1, $2, $3, $4, r FROM unnest($5::text[])"
	    " WITH ORDINALITY AS u(r, i) ORDER BY i", 5,
	    { TEXTOID, INT8OID, TEXTOID, TEXTOID, TEXTARRAYOID } },
	[Q_INBOX_DELETE_UPTO] = {
	    "DELETE FROM inbox WHERE export_id = $1 AND seq <= $2", 2,
	    { TEXTOID, INT8OID } },
	[Q_INBOX_DELETE_ALL] = {
	    "DELETE FROM inbox WHERE export_id = $1", 1, { TEXTOID } },
	[Q_INBOX_COUNT_DELETE] = {
	    "DELETE FROM inbox_counts WHERE export_id = $1", 1, { TEXTOID } },
	[Q_INBOX_LIST] = {
	    "SELECT seq, received_ms, request_id, headers, record FROM inbox"
	    " WHERE export_id = $1 AND seq > $2 ORDER BY seq LIMIT $3", 3,
	    { TEXTOID, INT8OID, INT8OID } },
	/* Restore: rows as dumped, seqs included. */
	[Q_RESTORE_ACCOUNT] = {
	    "INSERT INTO accounts (id, name, created_ms) VALUES ($1, $2, $3)",
	    3, { TEXTOID, TEXTOID, INT8OID } },
	[Q_RESTORE_TOKEN] = {
	    "INSERT INTO tokens (id, account_id, hash, created_ms, revoked_ms)"
	    " VALUES ($1, $2, $3, $4, $5)", 5,
	    { TEXTOID, TEXTOID, BYTEAOID, INT8OID, INT8OID } },
	[Q_RESTORE_EXPORT] = {
	    "INSERT INTO exports (seq, id, account_id, api_identifier, rev,"
	    " body, doc, secrets, adaptor_type, type, connection_id,"
	    " integration_id, name) OVERRIDING SYSTEM VALUE VALUES ($1, $2, $3,"
	    " $4, $5, $6, CASE WHEN $13 THEN $6::jsonb END, $7, $8, $9, $10,"
	    " $11, $12)", 13,
	    { INT8OID, TEXTOID, TEXTOID, TEXTOID, INT8OID, TEXTOID, BYTEAOID,
	      TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, BOOLOID } },
	[Q_RESTORE_INBOX] = {
	    "INSERT INTO inbox (seq, export_id, received_ms, request_id,"
	    " headers, record) OVERRIDING SYSTEM VALUE VALUES ($1, $2, $3, $4,"
	    " $5, $6)", 6,
	    { INT8OID, TEXTOID, INT8OID, TEXTOID, TEXTOID, TEXTOID } },
	[Q_RESTORE_INBOX_COUNT] = {
	    "INSERT INTO inbox_counts (export_id, n) VALUES ($1, $2)", 2,
	    { TEXTOID, INT8OID } },
};

/* Filter columns of the list variants, in bit order. */
static const char *const filter_columns[NFILTERS] = {
	"adaptor_type", "type", "connection_id", "integration_id", "name",
};

/* One connection and which statements it has prepared; one thread's. */
struct conn {
	PGconn		*pg;
	bool		 prepared[NSTMTS];
	bool		 down;		/* lost; logged once per outage */
	int64_t		 retry_us;	/* no reconnect before (monotonic) */
	struct conn	*next;		/* registry of all connections */
};

struct pq {
	char		*url;		/* may hold a password: never logged */
	pthread_key_t	 key;		/* this thread's struct conn */
	pthread_mutex_t	 reg_lock;
	struct conn	*conns;
	struct conn	*restoring;	/* a restore's open transaction */
};

/* Parameters of one statement, all sent in binary format. */
struct params {
	int		 n;
	const char	*v[MAX_PARAMS];
	int		 len[MAX_PARAMS];
	int		 fmt[MAX_PARAMS];
	char		 i8[MAX_PARAMS][8];
	char		 b[MAX_PARAMS];
};

static void
p_bytes(struct params *pa, const void *v, size_t len)
{
	pa->v[pa->n] = v;
	pa->len[pa->n] = v != NULL ? (int)len : 0;
	pa->fmt[pa->n] = 1;
	pa->n++;
}

/* A text parameter; NULL sends SQL NULL. */
static void
p_text(struct params *pa, const char *s)
{
	p_bytes(pa, s, s != NULL ? strlen(s) : 0);
}

static void
p_int8(struct params *pa, int64_t x)
{
	uint64_t	u = (uint64_t)x;
	int		i;

	for (i = 7; i >= 0; i--) {
		pa->i8[pa->n][i] = (char)(u & 0xff);
		u >>= 8;
	}
	p_bytes(pa, pa->i8[pa->n], 8);
}

static void
p_bool(struct params *pa, bool v)
{
	pa->b[pa->n] = v ? 1 : 0;
	p_bytes(pa, &pa->b[pa->n], 1);
}

/* A bigint column of a binary result; 0 for NULL. */
static int64_t
res_int8(const PGresult *res, int row, int col)
{
	const unsigned char	*v;
	uint64_t		 u = 0;
	int			 i;

	if (PQgetisnull(res, row, col) || PQgetlength(res, row, col) != 8)
		return 0;
	v = (const unsigned char *)PQgetvalue(res, row, col);
	for (i = 0; i < 8; i++)
		u = (u << 8) | v[i];
	return (int64_t)u;
}

/* A text column as a new string; NULL for NULL. */
static char *
res_text(const PGresult *res, int row, int col)
{
	if (PQgetisnull(res, row, col))
		return NULL;
	return xstrndup(PQgetvalue(res, row, col),
	    (size_t)PQgetlength(res, row, col));
}

/* Copy a short text column into a fixed buffer. */
static void
res_copy(const PGresult *res, int row, int col, char *out, size_t outsz)
{
	snprintf(out, outsz, "%.*s", PQgetlength(res, row, col),
	    PQgetvalue(res, row, col));
}

/* Strict UTF-8 (as the server checks it): no overlongs, surrogates or
 * code points above U+10FFFF. */
static bool
utf8_valid(const char *str)
{
	const unsigned char	*s = (const unsigned char *)str;
	unsigned char		 lo, hi;
	int			 n, i;

	while (*s != '\0') {
		if (*s < 0x80) {
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
		if (s[1] < lo || s[1] > hi)
			return false;
		for (i = 2; i <= n; i++)
			if (s[i] < 0x80 || s[i] > 0xbf)
				return false;
		s += n + 1;
	}
	return true;
}

/* Whether jsonb can hold a body: it has no NUL character, so a body with
 * a \u0000 escape (or one that merely looks like it) gets no copy. */
static bool
jsonb_ok(const char *body, size_t len)
{
	return memmem(body, len, "\\u0000", 6) == NULL;
}

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
	log_debug("postgres: %.*s", msg_len(message), message);
}

/* Log a failed statement: the primary message and SQLSTATE only, never
 * parameters or the DETAIL line (which can quote values). */
static void
pq_log(struct conn *c, const PGresult *res, const char *what)
{
	const char	*m = NULL, *code = NULL;

	if (res != NULL) {
		m = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
		code = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	}
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
	    code != NULL ? " (SQLSTATE " : "", code != NULL ? code : "",
	    code != NULL ? ")" : "");
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

/* What a failure means to the caller: the server being away, shutting
 * down, out of resources, or a transaction to retry is "unavailable";
 * a constraint is a conflict; anything else an error. */
static enum store_status
pq_status(struct conn *c, const PGresult *res)
{
	const char	*code = sqlstate(res);

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

/* Errors after which a CREATE tries again with fresh ids: a unique key
 * taken, or a serialization failure or deadlock. */
static bool
pq_retryable(const PGresult *res)
{
	const char	*code = sqlstate(res);

	return strcmp(code, "23505") == 0 || strcmp(code, "40001") == 0 ||
	    strcmp(code, "40P01") == 0;
}

/* Run a command without parameters; 0 if it succeeded. */
static int
pq_exec(struct conn *c, const char *sql, enum store_status *st,
    const char *what)
{
	PGresult	*res;
	int		 rc = 0;

	res = PQexec(c->pg, sql);
	if (PQresultStatus(res) != PGRES_COMMAND_OK &&
	    PQresultStatus(res) != PGRES_TUPLES_OK) {
		pq_log(c, res, what);
		if (st != NULL)
			*st = pq_status(c, res);
		rc = -1;
	}
	PQclear(res);
	return rc;
}

static void
stmt_name(int id, char *out, size_t outsz)
{
	snprintf(out, outsz, "exportd_%d", id);
}

/* Prepare a statement on this connection if it has not been yet. */
static int
stmt_prepare(struct conn *c, int id, enum store_status *st)
{
	PGresult	*res;
	char		 name[32], sql[512];
	Oid		 types[MAX_PARAMS];
	const char	*text;
	size_t		 len;
	int		 n, i, rc = 0;

	if (c->prepared[id])
		return 0;
	if (id < Q_COUNT) {
		text = stmt_defs[id].sql;
		n = stmt_defs[id].nparams;
		memcpy(types, stmt_defs[id].types, sizeof(types));
	} else {
		/* $1 account, $2 after, $3 limit, $4 skip, then filters. */
		len = (size_t)snprintf(sql, sizeof(sql), "SELECT seq, body"
		    " FROM exports WHERE account_id = $1 AND seq > $2");
		types[0] = TEXTOID;
		types[1] = types[2] = types[3] = INT8OID;
		n = 4;
		for (i = 0; i < NFILTERS; i++) {
			if (((id - Q_COUNT) & (1 << i)) == 0)
				continue;
			types[n++] = TEXTOID;
			len += (size_t)snprintf(sql + len, sizeof(sql) - len,
			    " AND %s = $%d", filter_columns[i], n);
		}
		snprintf(sql + len, sizeof(sql) - len,
		    " ORDER BY seq LIMIT $3 OFFSET $4");
		text = sql;
	}
	stmt_name(id, name, sizeof(name));
	res = PQprepare(c->pg, name, text, n, types);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		pq_log(c, res, "prepare");
		*st = pq_status(c, res);
		rc = -1;
	} else
		c->prepared[id] = true;
	PQclear(res);
	return rc;
}

/* Run a prepared statement with binary parameters and results; the
 * result if it succeeded, else NULL with *st set and the failure logged.
 * With failed set, a failure worth retrying (pq_retryable) is not logged
 * but handed back in *failed. */
static PGresult *
stmt_run(struct conn *c, int id, const struct params *pa,
    enum store_status *st, PGresult **failed, const char *what)
{
	PGresult	*res;
	char		 name[32];

	if (failed != NULL)
		*failed = NULL;
	if (stmt_prepare(c, id, st) == -1)
		return NULL;
	stmt_name(id, name, sizeof(name));
	res = PQexecPrepared(c->pg, name, pa != NULL ? pa->n : 0,
	    pa != NULL ? pa->v : NULL, pa != NULL ? pa->len : NULL,
	    pa != NULL ? pa->fmt : NULL, 1);
	switch (PQresultStatus(res)) {
	case PGRES_TUPLES_OK:
	case PGRES_COMMAND_OK:
		return res;
	default:
		break;
	}
	*st = pq_status(c, res);
	if (failed != NULL && pq_retryable(res) &&
	    PQstatus(c->pg) == CONNECTION_OK)
		*failed = res;	/* the caller retries, quietly */
	else {
		pq_log(c, res, what);
		PQclear(res);
	}
	return NULL;
}

/* Feed a sent query's rows to row() (0: more, 1: no more, -1: fail). */
static enum store_status
pq_stream(struct conn *c, int sent, const char *what,
    int (*row)(void *arg, PGresult *res), void *arg)
{
	enum store_status	 ret = STORE_OK;
	PGresult		*res;
	bool			 stop = false, failed = false;
	int			 rc;

	if (!sent) {
		pq_log(c, NULL, what);
		return pq_status(c, NULL);
	}
	/* Rows one at a time: a query costs one row of memory here; the
	 * rest is drained after row() stops, one failure logged. */
	PQsetSingleRowMode(c->pg);
	while ((res = PQgetResult(c->pg)) != NULL) {
		switch (PQresultStatus(res)) {
		case PGRES_SINGLE_TUPLE:
			if (stop || (rc = row(arg, res)) == 0)
				break;
			stop = true;
			if (rc == -1) {	/* nothing after it counts */
				ret = STORE_ERROR;
				failed = true;
			}
			break;
		case PGRES_TUPLES_OK:
			break;
		default:
			if (!failed) {
				pq_log(c, res, what);
				ret = pq_status(c, res);
				failed = stop = true;
			}
			break;
		}
		PQclear(res);
		if (PQstatus(c->pg) == CONNECTION_BAD) {
			if (!failed) {
				pq_log(c, NULL, what);
				ret = STORE_UNAVAILABLE;
			}
			break;
		}
	}
	return ret;
}

/* Open a connection: the URL's settings win over these defaults, except
 * the client encoding, which must be UTF-8 for bytes to come back as
 * they went in. */
static PGconn *
pq_connect(struct pq *q)
{
	static const char *const kw[] = {
		"connect_timeout", "keepalives", "keepalives_idle",
		"keepalives_interval", "keepalives_count", "tcp_user_timeout",
		"application_name", "dbname", "client_encoding", NULL
	};
	const char	*val[] = {
		"3", "1", "5", "2", "3", "5000", "exportd", q->url, "UTF8",
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
session_check(struct conn *c)
{
	const char	*enc;

	enc = PQparameterStatus(c->pg, "server_encoding");
	if (enc == NULL || strcmp(enc, "UTF8") != 0) {
		log_error("postgres: the database encoding is %s; exportd "
		    "needs UTF8 (CREATE DATABASE ... ENCODING 'UTF8')",
		    enc != NULL ? enc : "unknown");
		return -1;
	}
	return 0;
}

static void
conn_free(struct conn *c)
{
	if (c == NULL)
		return;
	PQfinish(c->pg);
	free(c);
}

/* Reconnect a lost connection, at most once per backoff period; its
 * prepared statements are gone with the old session. */
static int
conn_revive(struct conn *c)
{
	int64_t	now = isotime_mono_us();

	if (now < c->retry_us)
		return -1;
	if (c->pg == NULL)
		return -1;
	PQreset(c->pg);
	memset(c->prepared, 0, sizeof(c->prepared));
	if (PQstatus(c->pg) == CONNECTION_OK && session_check(c) == 0) {
		if (c->down)
			log_info("postgres: reconnected");
		c->down = false;
		c->retry_us = 0;
		return 0;
	}
	if (!c->down)
		log_warn("postgres: cannot reconnect: %.*s",
		    msg_len(PQerrorMessage(c->pg)), PQerrorMessage(c->pg));
	c->down = true;
	c->retry_us = now + RECONNECT_BACKOFF_US;
	return -1;
}

/* Whether an idle connection is still usable: read what the server may
 * have sent meanwhile (a shutdown notice, then end of file), without
 * blocking, and end a transaction a failure left open. */
static bool
conn_alive(struct conn *c)
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
		while ((nf = PQnotifies(c->pg)) != NULL)
			PQfreemem(nf);
	}
	if (PQstatus(c->pg) != CONNECTION_OK) {
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
		return pq_exec(c, "ROLLBACK", NULL, "rollback") == 0;
	default:
		return false;
	}
}

/* This thread's connection, ready for a statement, or NULL when the
 * server cannot be reached now. */
static struct conn *
conn_get(struct pq *q)
{
	struct conn	*c;

	if ((c = pthread_getspecific(q->key)) == NULL) {
		c = xcalloc(1, sizeof(*c));
		c->pg = pq_connect(q);
		pthread_mutex_lock(&q->reg_lock);
		c->next = q->conns;
		q->conns = c;
		pthread_mutex_unlock(&q->reg_lock);
		pthread_setspecific(q->key, c);
		if (c->pg != NULL && PQstatus(c->pg) == CONNECTION_OK &&
		    session_check(c) == 0)
			return c;
		if (c->pg != NULL)
			log_warn("postgres: cannot connect: %.*s",
			    msg_len(PQerrorMessage(c->pg)),
			    PQerrorMessage(c->pg));
		c->down = true;
		c->retry_us = isotime_mono_us() + RECONNECT_BACKOFF_US;
		return NULL;
	}
	if (conn_alive(c))
		return c;
	return conn_revive(c) == 0 ? c : NULL;
}

/* Whether a failure was the connection going away (worth one retry when
 * nothing can have been changed). */
static bool
conn_lost(const struct conn *c)
{
	return c->pg == NULL || PQstatus(c->pg) != CONNECTION_OK;
}

static int
tx_begin(struct conn *c, enum store_status *st)
{
	return pq_exec(c, "BEGIN ISOLATION LEVEL READ COMMITTED", st,
	    "begin");
}

static void
tx_rollback(struct conn *c)
{
	if (PQstatus(c->pg) == CONNECTION_OK &&
	    PQtransactionStatus(c->pg) != PQTRANS_IDLE)
		pq_exec(c, "ROLLBACK", NULL, "rollback");
}

/* COMMIT; the transaction is durable when this returns 0. A COMMIT of a
 * failed transaction reports ROLLBACK, which is a failure too. */
static int
tx_commit(struct conn *c, enum store_status *st, PGresult **failed)
{
	PGresult	*res;

	*failed = NULL;
	res = PQexec(c->pg, "COMMIT");
	if (PQresultStatus(res) == PGRES_COMMAND_OK &&
	    strcmp(PQcmdStatus(res), "COMMIT") == 0) {
		PQclear(res);
		return 0;
	}
	*st = pq_status(c, res);
	if (PQresultStatus(res) == PGRES_COMMAND_OK)
		*st = STORE_ERROR;
	if (pq_retryable(res) && PQstatus(c->pg) == CONNECTION_OK)
		*failed = res;
	else {
		pq_log(c, res, "commit");
		PQclear(res);
	}
	return -1;
}

/* Bring the schema up to the newest version in one transaction, holding
 * an advisory lock so that instances starting together take turns. */
static int
pq_migrate(struct conn *c)
{
	PGresult	*res = NULL;
	char		 sql[96];
	long		 version;
	size_t		 i;

	if (pq_exec(c, "BEGIN ISOLATION LEVEL READ COMMITTED", NULL,
	    "migrate") == -1)
		return -1;
	if (pq_exec(c, "SELECT pg_advisory_xact_lock(" MIGRATE_LOCK ")", NULL,
	    "migration lock") == -1 ||
	    pq_exec(c, "CREATE TABLE IF NOT EXISTS schema_version ("
	    " id integer PRIMARY KEY CHECK (id = 1),"
	    " version integer NOT NULL)", NULL, "schema_version") == -1 ||
	    pq_exec(c, "INSERT INTO schema_version (id, version) VALUES (1, 0)"
	    " ON CONFLICT DO NOTHING", NULL, "schema_version") == -1)
		goto fail;
	res = PQexec(c->pg, "SELECT version FROM schema_version WHERE id = 1");
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		pq_log(c, res, "schema_version");
		goto fail;
	}
	version = strtol(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	res = NULL;
	if (version < 0 || version > (long)NMIGRATIONS) {
		log_error("postgres: database schema version %ld is newer than "
		    "this exportd knows (%zu)", version, NMIGRATIONS);
		goto fail;
	}
	for (i = (size_t)version; i < NMIGRATIONS; i++) {
		if (pq_exec(c, migrations[i], NULL, "migration") == -1)
			goto fail;
		log_info("postgres: applied migration %zu", i + 1);
	}
	snprintf(sql, sizeof(sql), "UPDATE schema_version SET version = %zu"
	    " WHERE id = 1", NMIGRATIONS);
	if (pq_exec(c, sql, NULL, "schema_version") == -1 ||
	    pq_exec(c, "COMMIT", NULL, "migrate") == -1)
		goto fail;
	return 0;
fail:
	PQclear(res);
	tx_rollback(c);
	return -1;
}

static int
pq_open(struct store *s, const char *url)
{
	struct pq	*q;
	struct conn	*c;

	q = xcalloc(1, sizeof(*q));
	q->url = xstrdup(url);
	pthread_key_create(&q->key, NULL);
	pthread_mutex_init(&q->reg_lock, NULL);
	s->impl = q;
	c = xcalloc(1, sizeof(*c));
	if ((c->pg = pq_connect(q)) == NULL ||
	    PQstatus(c->pg) != CONNECTION_OK) {
		log_error("postgres: cannot connect: %.*s",
		    c->pg != NULL ? msg_len(PQerrorMessage(c->pg)) : 13,
		    c->pg != NULL ? PQerrorMessage(c->pg) : "out of memory");
		goto fail;
	}
	if (session_check(c) == -1 || pq_migrate(c) == -1)
		goto fail;
	/* The opening thread (command line, migrations) keeps this one. */
	q->conns = c;
	pthread_setspecific(q->key, c);
	return 0;
fail:
	conn_free(c);
	pthread_key_delete(q->key);
	pthread_mutex_destroy(&q->reg_lock);
	explicit_bzero(q->url, strlen(q->url));
	free(q->url);
	free(q);
	s->impl = NULL;
	return -1;
}

static void
pq_close(struct store *s)
{
	struct pq	*q = s->impl;
	struct conn	*c, *n;

	if (q == NULL)
		return;
	if (q->restoring != NULL)
		s->ops->restore_abort(s);
	for (c = q->conns; c != NULL; c = n) {
		n = c->next;
		conn_free(c);
	}
	pthread_key_delete(q->key);
	pthread_mutex_destroy(&q->reg_lock);
	explicit_bzero(q->url, strlen(q->url));
	free(q->url);
	free(q);
	s->impl = NULL;
}

/* Writes run on the caller's thread: there is nothing to start. */
static int
pq_start(struct store *s)
{
	return 0;
}

static void
pq_drain(struct store *s)
{
}

/* Read one export row (id, and account unless NULL) with one of the row
 * statements. */
static enum store_status
row_read(struct conn *c, enum stmt_id sid, const char *account,
    const char *id, struct export_row *out)
{
	struct params		 pa;
	enum store_status	 ret;
	PGresult		*res;

	memset(out, 0, sizeof(*out));
	memset(&pa, 0, sizeof(pa));
	p_text(&pa, id);
	if (account != NULL)
		p_text(&pa, account);
	if ((res = stmt_run(c, sid, &pa, &ret, NULL, "export get")) == NULL)
		return ret;
	if (PQntuples(res) == 0) {
		PQclear(res);
		return STORE_NOT_FOUND;
	}
	snprintf(out->id, sizeof(out->id), "%s", id);
	res_copy(res, 0, 10, out->account, sizeof(out->account));
	out->seq = res_int8(res, 0, 0);
	out->rev = res_int8(res, 0, 1);
	res_copy(res, 0, 2, out->api_identifier, sizeof(out->api_identifier));
	out->body = res_text(res, 0, 3);
	out->body_len = (size_t)PQgetlength(res, 0, 3);
	if (!PQgetisnull(res, 0, 4)) {
		out->secrets_len = (size_t)PQgetlength(res, 0, 4);
		out->secrets = xmalloc(out->secrets_len > 0 ?
		    out->secrets_len : 1);
		memcpy(out->secrets, PQgetvalue(res, 0, 4), out->secrets_len);
	}
	out->adaptor_type = res_text(res, 0, 5);
	out->type = res_text(res, 0, 6);
	out->connection_id = res_text(res, 0, 7);
	out->integration_id = res_text(res, 0, 8);
	out->name = res_text(res, 0, 9);
	PQclear(res);
	if (out->body == NULL) {
		export_row_free(out);
		return STORE_ERROR;
	}
	return STORE_OK;
}

/* row_read, tried again once if the connection was lost. */
static enum store_status
export_get(struct pq *q, enum stmt_id sid, const char *account,
    const char *id, struct export_row *out)
{
	struct conn		*c;
	enum store_status	 ret;
	int			 try;

	for (try = 0;; try++) {
		if ((c = conn_get(q)) == NULL)
			return STORE_UNAVAILABLE;
		ret = row_read(c, sid, account, id, out);
		if (ret != STORE_UNAVAILABLE || !conn_lost(c) || try > 0)
			return ret;
	}
}

static enum store_status
pq_export_get(struct store *s, const char *account, const char *id,
    struct export_row *out)
{
	return export_get(s->impl, Q_EXPORT_GET, account, id, out);
}

/* A page being streamed to a list or inbox callback (failed: the
 * callback failed). */
struct page {
	store_row_cb	 row_cb;
	store_inbox_cb	 inbox_cb;
	void		*arg;
	int64_t		 limit, n, *last_seq;
	bool		*more, *delivered, failed;
};

/* One row of an export page, for pq_stream. */
static int
list_row(void *arg, PGresult *res)
{
	struct page	*p = arg;
	int64_t		 seq;

	if (p->n == p->limit) {
		*p->more = true;
		return 1;
	}
	seq = res_int8(res, 0, 0);
	*p->delivered = true;
	if (p->row_cb(p->arg, seq, PQgetvalue(res, 0, 1),
	    (size_t)PQgetlength(res, 0, 1)) == -1) {
		p->failed = true;
		return 1;
	}
	*p->last_seq = seq;
	p->n++;
	return 0;
}

/* In a new transaction, wait (boundedly) until no create of the account
 * is in flight. If the wait times out, the transaction is ended and the
 * page is read without it: a create held up that long is rare, and a
 * list must not hang on it. Returns whether a transaction is open. */
static bool
list_fence(struct conn *c, const char *account, enum store_status *st)
{
	struct params	 pa;
	PGresult	*res;

	if (tx_begin(c, st) == -1)
		return false;
	memset(&pa, 0, sizeof(pa));
	p_text(&pa, account);
	if ((res = stmt_run(c, Q_LIST_FENCE, &pa, st, NULL,
	    "list fence")) != NULL) {
		PQclear(res);
		return true;
	}
	tx_rollback(c);
	return false;
}

/* One page of the list; *delivered tells if the callback saw a row (then
 * a failure cannot be retried). */
static enum store_status
list_run(struct conn *c, const char *account, const struct store_filter *f,
    int64_t after, int64_t skip, int64_t limit, store_row_cb cb, void *arg,
    bool *more, int64_t *last_seq, bool *delivered)
{
	const char		*fv[NFILTERS];
	struct page		 p = {
		.row_cb = cb, .arg = arg, .limit = limit, .last_seq = last_seq,
		.more = more, .delivered = delivered,
	};
	struct params		 pa;
	enum store_status	 ret = STORE_OK;
	char			 name[32];
	int			 i, mask = 0;
	bool			 in_tx;

	fv[0] = f->adaptor_type;
	fv[1] = f->type;
	fv[2] = f->connection_id;
	fv[3] = f->integration_id;
	fv[4] = f->name;
	memset(&pa, 0, sizeof(pa));
	p_text(&pa, account);
	p_int8(&pa, after);
	p_int8(&pa, limit + 1);
	p_int8(&pa, skip);
	for (i = 0; i < NFILTERS; i++) {
		if (fv[i] == NULL)
			continue;
		mask |= 1 << i;
		p_text(&pa, fv[i]);
	}
	if (stmt_prepare(c, Q_COUNT + mask, &ret) == -1)
		return ret;
	in_tx = list_fence(c, account, &ret);
	if (!in_tx && conn_lost(c))
		return ret;
	stmt_name(Q_COUNT + mask, name, sizeof(name));
	ret = pq_stream(c, PQsendQueryPrepared(c->pg, name, pa.n, pa.v,
	    pa.len, pa.fmt, 1), "export list", list_row, &p);
	if (ret == STORE_OK && p.failed)
		ret = STORE_ERROR;
	if (!in_tx)
		return ret;
	if (ret != STORE_OK)
		tx_rollback(c);
	else if (pq_exec(c, "COMMIT", &ret, "commit") == -1 && *delivered)
		ret = STORE_ERROR;
	return ret;
}

static enum store_status
pq_export_list(struct store *s, const char *account,
    const struct store_filter *f, int64_t after, int64_t skip, int64_t limit,
    store_row_cb cb, void *arg, bool *more, int64_t *last_seq)
{
	struct conn		*c;
	enum store_status	 ret;
	bool			 delivered = false;
	int			 try;

	*more = false;
	*last_seq = 0;
	/* Stored columns are UTF-8: other bytes match no row. */
	if ((f->adaptor_type != NULL && !utf8_valid(f->adaptor_type)) ||
	    (f->type != NULL && !utf8_valid(f->type)) ||
	    (f->connection_id != NULL && !utf8_valid(f->connection_id)) ||
	    (f->integration_id != NULL && !utf8_valid(f->integration_id)) ||
	    (f->name != NULL && !utf8_valid(f->name)))
		return STORE_OK;
	for (try = 0;; try++) {
		if ((c = conn_get(s->impl)) == NULL)
			return STORE_UNAVAILABLE;
		ret = list_run(c, account, f, after, skip, limit, cb, arg,
		    more, last_seq, &delivered);
		if (ret != STORE_UNAVAILABLE || !conn_lost(c) || delivered ||
		    try > 0)
			return ret;
	}
}

/* The writable columns of a row, for insert or update. */
static void
params_row(struct params *pa, const struct store_write *w,
    const struct export_row *r)
{
	memset(pa, 0, sizeof(*pa));
	p_text(pa, w->id);
	p_text(pa, w->account);
	p_text(pa, r->api_identifier);
	p_bytes(pa, r->body != NULL ? r->body : "", r->body_len);
	p_bytes(pa, r->secrets, r->secrets_len);
	p_text(pa, r->adaptor_type);
	p_text(pa, r->type);
	p_text(pa, r->connection_id);
	p_text(pa, r->integration_id);
	p_text(pa, r->name);
	p_bool(pa, r->body != NULL && jsonb_ok(r->body, r->body_len));
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

/* The connection went away after COMMIT was sent, so the write may or may
 * not have been committed. Reconnect at once (not after the back-off) and
 * read the row back to tell which: STORE_OK with *row, STORE_NOT_FOUND, or
 * STORE_UNAVAILABLE when the database cannot be asked now. */
static enum store_status
commit_resolve(struct conn *c, const struct store_write *w,
    struct export_row *row)
{
	enum store_status	ret;

	memset(row, 0, sizeof(*row));
	c->retry_us = 0;
	if (conn_revive(c) == -1)
		return STORE_UNAVAILABLE;
	ret = row_read(c, Q_EXPORT_GET, w->account, w->id, row);
	log_warn("postgres: connection lost during COMMIT of export %s: %s",
	    w->id, ret == STORE_UNAVAILABLE ? "cannot tell if it committed" :
	    "resolved by reading it back");
	return ret;
}

/* Let go of the account's create lock (it outlives a ROLLBACK; a lost
 * session has let go of it already). */
static void
create_unlock(struct conn *c, const char *account)
{
	struct params		 pa;
	enum store_status	 st;
	PGresult		*res;

	if (PQstatus(c->pg) != CONNECTION_OK)
		return;
	memset(&pa, 0, sizeof(pa));
	p_text(&pa, account);
	if ((res = stmt_run(c, Q_CREATE_UNLOCK, &pa, &st, NULL,
	    "create unlock")) != NULL)
		PQclear(res);
}

/* A CREATE whose COMMIT lost its answer: committed if the row is there
 * with the seq it was given (answer as usual); if not there, nothing was
 * done and *again asks for the CREATE to run again. */
static enum store_status
create_in_doubt(struct conn *c, struct store_write *w,
    struct export_row *next, int64_t seq, bool *again)
{
	struct export_row	 row;
	enum store_status	 ret;

	ret = commit_resolve(c, w, &row);
	if (ret == STORE_OK && row.seq == seq) {
		export_row_free(&row);
		write_result(w, next, seq, 1);
		return STORE_OK;
	}
	export_row_free(&row);
	if (ret == STORE_NOT_FOUND)
		*again = true;
	return STORE_UNAVAILABLE;
}

/* One try at a CREATE: BEGIN; the account's create lock; the source
 * row (FOR SHARE) of a copy; mutate; INSERT; unlock; COMMIT. *again asks
 * for another try with fresh ids; *sent tells if COMMIT was sent (before
 * that, a lost connection undid everything and the write is safe to try
 * again: CREATE may call mutate again). */
static enum store_status
create_once(struct conn *c, struct store_write *w, bool *again, bool *sent)
{
	struct export_row	 src, next;
	const struct export_row	*cur = NULL;
	struct params		 pa;
	enum store_status	 ret;
	PGresult		*res, *failed;
	int64_t			 seq;
	bool			 locked = false;

	*again = false;
	memset(&src, 0, sizeof(src));
	memset(&next, 0, sizeof(next));
	if (tx_begin(c, &ret) == -1)
		return ret;
	memset(&pa, 0, sizeof(pa));
	p_text(&pa, w->account);
	if ((res = stmt_run(c, Q_CREATE_FENCE, &pa, &ret, NULL,
	    "create fence")) == NULL)
		goto out;
	PQclear(res);
	if ((res = stmt_run(c, Q_CREATE_LOCK, &pa, &ret, NULL,
	    "create lock")) == NULL)
		goto out;
	PQclear(res);
	locked = true;
	if (w->source_id[0] != '\0') {
		if ((ret = row_read(c, Q_EXPORT_SHARE, w->account, w->source_id,
		    &src)) != STORE_OK)
			goto out;
		cur = &src;
	}
	if (w->mutate(w, cur, &next) < 0) {
		ret = STORE_REJECTED;
		goto out;
	}
	params_row(&pa, w, &next);
	res = stmt_run(c, Q_EXPORT_INSERT, &pa, &ret, &failed, "export insert");
	if (res == NULL) {
		if (failed != NULL) {
			/* An id or api identifier was taken, or a retry. */
			PQclear(failed);
			*again = true;
		}
		goto out;
	}
	if (PQntuples(res) != 1) {
		/* ON CONFLICT DO NOTHING: an id or api identifier taken. */
		PQclear(res);
		*again = true;
		ret = STORE_CONFLICT;
		goto out;
	}
	seq = res_int8(res, 0, 0);
	PQclear(res);
	create_unlock(c, w->account);
	locked = false;
	*sent = true;
	if (tx_commit(c, &ret, &failed) == -1) {
		if (failed != NULL) {
			PQclear(failed);
			*again = true;
		} else if (conn_lost(c))
			ret = create_in_doubt(c, w, &next, seq, again);
		goto out;
	}
	write_result(w, &next, seq, 1);
	ret = STORE_OK;
out:
	if (ret != STORE_OK)
		tx_rollback(c);
	if (locked)
		create_unlock(c, w->account);
	export_row_free(&next);
	export_row_free(&src);
	return ret;
}

static enum store_status
apply_create(struct pq *q, struct store_write *w)
{
	struct conn		*c;
	enum store_status	 ret;
	bool			 again, sent, retried = false;

	for (w->attempts = 0; w->attempts < CREATE_ATTEMPTS;) {
		if ((c = conn_get(q)) == NULL)
			return STORE_UNAVAILABLE;
		sent = false;
		ret = create_once(c, w, &again, &sent);
		if (ret == STORE_UNAVAILABLE && !sent && !retried &&
		    conn_lost(c)) {
			retried = true;
			continue;
		}
		if (!again)
			return ret;
		w->attempts++;
	}
	return STORE_CONFLICT;
}

/* Run a statement of one text parameter and no result. */
static enum store_status
exec_id(struct conn *c, enum stmt_id sid, const char *id, const char *what)
{
	struct params		 pa;
	enum store_status	 ret;
	PGresult		*res;

	memset(&pa, 0, sizeof(pa));
	p_text(&pa, id);
	if ((res = stmt_run(c, sid, &pa, &ret, NULL, what)) == NULL)
		return ret;
	PQclear(res);
	return STORE_OK;
}

/* Delete an export's whole inbox. */
static enum store_status
inbox_drop(struct conn *c, const char *export_id)
{
	enum store_status	ret;

	if ((ret = exec_id(c, Q_INBOX_DELETE_ALL, export_id,
	    "inbox delete")) != STORE_OK)
		return ret;
	return exec_id(c, Q_INBOX_COUNT_DELETE, export_id, "inbox delete");
}

/* The records of an append as one text[] parameter (binary array:
 * dimensions, element type, then each length and bytes). */
static char *
records_array(const struct store_write *w, size_t *len)
{
	char		*a, *p;
	size_t		 n = 20, i;
	uint32_t	 hdr[5], v;

	for (i = 0; i < w->nentries; i++)
		n += 4 + w->entries[i].record_len;
	a = p = xmalloc(n);
	hdr[0] = 1;				/* dimensions */
	hdr[1] = 0;				/* no NULLs */
	hdr[2] = TEXTOID;
	hdr[3] = (uint32_t)w->nentries;
	hdr[4] = 1;				/* lower bound */
	for (i = 0; i < 5; i++) {
		v = htonl(hdr[i]);
		memcpy(p, &v, 4);
		p += 4;
	}
	for (i = 0; i < w->nentries; i++) {
		v = htonl((uint32_t)w->entries[i].record_len);
		memcpy(p, &v, 4);
		memcpy(p + 4, w->entries[i].record, w->entries[i].record_len);
		p += 4 + w->entries[i].record_len;
	}
	*len = n;
	return a;
}

/* One try at an inbox append or ack, in its own transaction; nothing
 * happens before COMMIT, so a lost connection can always be retried
 * before that (*sent). */
static enum store_status
inbox_once(struct conn *c, struct store_write *w, bool *sent)
{
	struct params		 pa;
	enum store_status	 ret;
	PGresult		*res, *failed;
	char			*arr = NULL;
	size_t			 arrlen;
	int64_t			 n;

	w->affected = 0;
	if (tx_begin(c, &ret) == -1)
		return ret;
	memset(&pa, 0, sizeof(pa));
	p_text(&pa, w->id);
	p_text(&pa, w->account);
	if ((res = stmt_run(c, Q_EXPORT_KEYSHARE, &pa, &ret, NULL,
	    "export get")) == NULL)
		goto out;
	n = PQntuples(res);
	PQclear(res);
	if (n == 0) {
		ret = STORE_NOT_FOUND;
		goto out;
	}
	if (w->kind == STORE_INBOX_APPEND &&
	    (int64_t)w->nentries > w->inbox_cap) {
		ret = STORE_FULL;
		goto out;
	}
	memset(&pa, 0, sizeof(pa));
	p_text(&pa, w->id);
	if (w->kind == STORE_INBOX_ACK) {
		p_int8(&pa, w->inbox_upto);
		if ((res = stmt_run(c, Q_INBOX_DELETE_UPTO, &pa, &ret, NULL,
		    "inbox ack")) == NULL)
			goto out;
		n = strtoll(PQcmdTuples(res), NULL, 10);
		PQclear(res);
		memset(&pa, 0, sizeof(pa));
		p_text(&pa, w->id);
		p_int8(&pa, -n);
		if ((res = stmt_run(c, Q_INBOX_COUNT_ADD, &pa, &ret, NULL,
		    "inbox count")) == NULL)
			goto out;
		PQclear(res);
	} else {
		n = (int64_t)w->nentries;
		p_int8(&pa, n);
		p_int8(&pa, w->inbox_cap);
		if ((res = stmt_run(c, Q_INBOX_RESERVE, &pa, &ret, NULL,
		    "inbox count")) == NULL)
			goto out;
		if (PQntuples(res) == 0) {
			PQclear(res);
			ret = STORE_FULL;
			goto out;
		}
		PQclear(res);
		if (n > 0) {
			arr = records_array(w, &arrlen);
			memset(&pa, 0, sizeof(pa));
			p_text(&pa, w->id);
			p_int8(&pa, w->received_ms);
			p_text(&pa, w->request_id);
			p_text(&pa, w->headers);
			p_bytes(&pa, arr, arrlen);
			if ((res = stmt_run(c, Q_INBOX_INSERT, &pa, &ret, NULL,
			    "inbox insert")) == NULL)
				goto out;
			PQclear(res);
		}
	}
	*sent = true;
	if (tx_commit(c, &ret, &failed) == -1) {
		if (failed != NULL) {
			log_warn("postgres: commit: serialization failure "
			    "(SQLSTATE %s)", sqlstate(failed));
			PQclear(failed);
			ret = STORE_UNAVAILABLE;
		}
		goto out;
	}
	w->affected = n;
	ret = STORE_OK;
out:
	if (ret != STORE_OK)
		tx_rollback(c);
	free(arr);
	return ret;
}

/* An UPDATE or DELETE whose COMMIT lost its answer. The row was locked
 * until the commit or the rollback, so the row read back tells: a DELETE
 * committed if the row is gone; an UPDATE if the row has the new revision
 * and the new bytes. Still at the old revision: nothing was done. */
static enum store_status
change_in_doubt(struct conn *c, struct store_write *w,
    const struct export_row *cur, struct export_row *next, int64_t rev)
{
	struct export_row	 row;
	enum store_status	 ret;
	bool			 done = false;

	ret = commit_resolve(c, w, &row);
	if (w->kind == STORE_DELETE)
		done = ret == STORE_NOT_FOUND;
	else if (ret == STORE_OK)
		done = row.rev == rev && row.body_len == next->body_len &&
		    memcmp(row.body, next->body, row.body_len) == 0;
	if (ret == STORE_OK && !done && row.rev != cur->rev)
		log_warn("postgres: export %s changed again meanwhile; the "
		    "outcome of the lost COMMIT is unknown", w->id);
	export_row_free(&row);
	if (!done)
		return STORE_UNAVAILABLE;
	if (w->kind != STORE_DELETE)
		write_result(w, next, cur->seq, rev);
	return STORE_OK;
}

/* One try at an UPDATE or DELETE: BEGIN; the row FOR UPDATE; mutate;
 * UPDATE or DELETE; COMMIT. */
static enum store_status
change_once(struct conn *c, struct store_write *w, bool *sent)
{
	struct export_row	 cur, next;
	struct params		 pa;
	enum store_status	 ret;
	PGresult		*res, *failed;
	int64_t			 rev = 0;

	memset(&cur, 0, sizeof(cur));
	memset(&next, 0, sizeof(next));
	if (tx_begin(c, &ret) == -1)
		return ret;
	if ((ret = row_read(c, Q_EXPORT_LOCK, w->account, w->id, &cur)) !=
	    STORE_OK)
		goto out;
	*sent = true;
	if (w->kind == STORE_DELETE) {
		if (w->mutate != NULL && w->mutate(w, &cur, NULL) < 0) {
			ret = STORE_REJECTED;
			goto out;
		}
		memset(&pa, 0, sizeof(pa));
		p_text(&pa, w->id);
		p_text(&pa, w->account);
		if ((res = stmt_run(c, Q_EXPORT_DELETE, &pa, &ret, NULL,
		    "export delete")) == NULL)
			goto out;
		PQclear(res);
		if ((ret = inbox_drop(c, w->id)) != STORE_OK)
			goto out;
		if (tx_commit(c, &ret, &failed) == -1)
			goto fail_commit;
		ret = STORE_OK;
		goto out;
	}
	if (w->mutate(w, &cur, &next) < 0) {
		ret = STORE_REJECTED;
		goto out;
	}
	params_row(&pa, w, &next);
	if ((res = stmt_run(c, Q_EXPORT_UPDATE, &pa, &ret, NULL,
	    "export update")) == NULL)
		goto out;
	if (PQntuples(res) != 1) {
		PQclear(res);
		ret = STORE_NOT_FOUND;
		goto out;
	}
	rev = res_int8(res, 0, 0);
	PQclear(res);
	if (tx_commit(c, &ret, &failed) == -1)
		goto fail_commit;
	write_result(w, &next, cur.seq, rev);
	ret = STORE_OK;
	goto out;
fail_commit:
	if (failed == NULL && conn_lost(c)) {
		ret = change_in_doubt(c, w, &cur, &next, rev);
		goto out;
	}
	/* mutate ran already: a serialization failure is not retried here
	 * but answered as "retry later". */
	if (failed != NULL) {
		log_warn("postgres: commit: serialization failure (SQLSTATE "
		    "%s)", sqlstate(failed));
		PQclear(failed);
		ret = STORE_UNAVAILABLE;
	}
out:
	if (ret != STORE_OK)
		tx_rollback(c);
	export_row_free(&next);
	export_row_free(&cur);
	return ret;
}

/* Run once() again, once, if the connection was lost before *sent. */
static enum store_status
apply_write(struct pq *q, struct store_write *w,
    enum store_status (*once)(struct conn *, struct store_write *, bool *))
{
	struct conn		*c;
	enum store_status	 ret;
	bool			 sent;
	int			 try;

	for (try = 0;; try++) {
		if ((c = conn_get(q)) == NULL)
			return STORE_UNAVAILABLE;
		sent = false;
		ret = once(c, w, &sent);
		if (ret != STORE_UNAVAILABLE || sent || !conn_lost(c) ||
		    try > 0)
			return ret;
	}
}

/* Each write is one transaction on this thread's connection; done() runs
 * here, after COMMIT returned (or the write failed). */
static void
pq_write_submit(struct store *s, struct store_write *w)
{
	w->next_in_queue = NULL;
	memset(&w->result, 0, sizeof(w->result));
	if (w->kind == STORE_CREATE)
		w->status = apply_create(s->impl, w);
	else if (w->kind == STORE_INBOX_APPEND || w->kind == STORE_INBOX_ACK)
		w->status = apply_write(s->impl, w, inbox_once);
	else
		w->status = apply_write(s->impl, w, change_once);
	w->done(w);
}

static enum store_status
pq_export_get_any(struct store *s, const char *id, struct export_row *out)
{
	return export_get(s->impl, Q_EXPORT_GET_ANY, NULL, id, out);
}

/* One row of an inbox page, for pq_stream. */
static int
inbox_row(void *arg, PGresult *res)
{
	struct page	*p = arg;

	if (p->n++ == p->limit) {
		*p->more = true;
		return 1;
	}
	*p->delivered = true;
	if (p->inbox_cb(p->arg, res_int8(res, 0, 0), res_int8(res, 0, 1),
	    PQgetvalue(res, 0, 2), PQgetvalue(res, 0, 3),
	    PQgetvalue(res, 0, 4), (size_t)PQgetlength(res, 0, 4)) == -1) {
		p->failed = true;
		return 1;
	}
	return 0;
}

/* One page of an inbox, streamed like an export page. */
static enum store_status
inbox_run(struct conn *c, const char *export_id, int64_t after,
    int64_t limit, store_inbox_cb cb, void *arg, bool *more,
    bool *delivered)
{
	struct page		 p = {
		.inbox_cb = cb, .arg = arg, .limit = limit, .more = more,
		.delivered = delivered,
	};
	struct params		 pa;
	enum store_status	 ret = STORE_OK;
	char			 name[32];

	memset(&pa, 0, sizeof(pa));
	p_text(&pa, export_id);
	p_int8(&pa, after);
	p_int8(&pa, limit + 1);
	if (stmt_prepare(c, Q_INBOX_LIST, &ret) == -1)
		return ret;
	stmt_name(Q_INBOX_LIST, name, sizeof(name));
	ret = pq_stream(c, PQsendQueryPrepared(c->pg, name, pa.n, pa.v,
	    pa.len, pa.fmt, 1), "inbox list", inbox_row, &p);
	return ret == STORE_OK && p.failed ? STORE_ERROR : ret;
}

static enum store_status
pq_inbox_list(struct store *s, const char *export_id, int64_t after,
    int64_t limit, store_inbox_cb cb, void *arg, bool *more)
{
	struct conn		*c;
	enum store_status	 ret;
	bool			 delivered = false;
	int			 try;

	*more = false;
	for (try = 0;; try++) {
		if ((c = conn_get(s->impl)) == NULL)
			return STORE_UNAVAILABLE;
		ret = inbox_run(c, export_id, after, limit, cb, arg, more,
		    &delivered);
		if (ret != STORE_UNAVAILABLE || !conn_lost(c) || delivered ||
		    try > 0)
			return ret;
	}
}

/* The id a lookup found, from its result, which this frees. */
static enum store_status
res_id(PGresult *res, char out[OID_HEXLEN + 1])
{
	enum store_status	ret;

	if (PQntuples(res) == 0)
		ret = STORE_NOT_FOUND;
	else {
		res_copy(res, 0, 0, out, OID_HEXLEN + 1);
		ret = STORE_OK;
	}
	PQclear(res);
	return ret;
}

static enum store_status
pq_token_account(struct store *s, const unsigned char hash[32],
    char account[OID_HEXLEN + 1])
{
	struct conn		*c;
	struct params		 pa;
	enum store_status	 ret;
	PGresult		*res;
	int			 try;

	memset(&pa, 0, sizeof(pa));
	p_bytes(&pa, hash, 32);
	for (try = 0;; try++) {
		if ((c = conn_get(s->impl)) == NULL)
			return STORE_UNAVAILABLE;
		res = stmt_run(c, Q_TOKEN_ACCOUNT, &pa, &ret, NULL,
		    "token lookup");
		if (res != NULL)
			break;
		if (ret != STORE_UNAVAILABLE || !conn_lost(c) || try > 0)
			return ret;
	}
	return res_id(res, account);
}

/* The id of the account named name, if there is one. */
static enum store_status
account_find(struct conn *c, const char *name, char account[OID_HEXLEN + 1])
{
	struct params		 pa;
	enum store_status	 ret;
	PGresult		*res;

	memset(&pa, 0, sizeof(pa));
	p_text(&pa, name);
	if ((res = stmt_run(c, Q_ACCOUNT_FIND, &pa, &ret, NULL,
	    "account lookup")) == NULL)
		return ret;
	return res_id(res, account);
}

static enum store_status
pq_account_ensure(struct store *s, const char *name,
    char account[OID_HEXLEN + 1])
{
	struct conn		*c;
	struct params		 pa;
	enum store_status	 ret;
	PGresult		*res;
	char			 id[OID_HEXLEN + 1];

	if (!utf8_valid(name)) {
		log_error("postgres: account names must be UTF-8");
		return STORE_ERROR;
	}
	if ((c = conn_get(s->impl)) == NULL)
		return STORE_UNAVAILABLE;
	if ((ret = account_find(c, name, account)) != STORE_NOT_FOUND)
		return ret;
	/* Insert; if a concurrent caller won, its row is the answer. */
	oid_new(id);
	memset(&pa, 0, sizeof(pa));
	p_text(&pa, id);
	p_text(&pa, name);
	p_int8(&pa, isotime_now_ms());
	if ((res = stmt_run(c, Q_ACCOUNT_INSERT, &pa, &ret, NULL,
	    "account insert")) == NULL)
		return ret;
	if (PQntuples(res) == 1) {
		memcpy(account, id, sizeof(id));
		PQclear(res);
		return STORE_OK;
	}
	PQclear(res);
	ret = account_find(c, name, account);
	return ret == STORE_NOT_FOUND ? STORE_ERROR : ret;
}

static enum store_status
pq_token_insert(struct store *s, const char *account,
    const unsigned char hash[32], char id[OID_HEXLEN + 1])
{
	struct conn		*c;
	struct params		 pa;
	enum store_status	 ret;
	PGresult		*res;

	oid_new(id);
	if ((c = conn_get(s->impl)) == NULL)
		return STORE_UNAVAILABLE;
	memset(&pa, 0, sizeof(pa));
	p_text(&pa, id);
	p_text(&pa, account);
	p_bytes(&pa, hash, 32);
	p_int8(&pa, isotime_now_ms());
	if ((res = stmt_run(c, Q_TOKEN_INSERT, &pa, &ret, NULL,
	    "token insert")) == NULL)
		return ret;
	PQclear(res);
	return STORE_OK;
}

static enum store_status
pq_token_list(struct store *s, struct token_row **rows, size_t *n)
{
	struct conn		*c;
	struct token_row	*r;
	enum store_status	 ret;
	PGresult		*res;
	int			 i, cnt;

	*rows = NULL;
	*n = 0;
	if ((c = conn_get(s->impl)) == NULL)
		return STORE_UNAVAILABLE;
	if ((res = stmt_run(c, Q_TOKEN_LIST, NULL, &ret, NULL,
	    "token list")) == NULL)
		return ret;
	cnt = PQntuples(res);
	r = cnt > 0 ? xcalloc((size_t)cnt, sizeof(*r)) : NULL;
	for (i = 0; i < cnt; i++) {
		res_copy(res, i, 0, r[i].id, sizeof(r[i].id));
		res_copy(res, i, 1, r[i].account, sizeof(r[i].account));
		r[i].account_name = res_text(res, i, 2);
		r[i].created_ms = res_int8(res, i, 3);
		r[i].revoked_ms = res_int8(res, i, 4);
	}
	PQclear(res);
	*rows = r;
	*n = (size_t)cnt;
	return STORE_OK;
}

static enum store_status
pq_token_revoke(struct store *s, const char *id)
{
	struct conn		*c;
	struct params		 pa;
	enum store_status	 ret;
	PGresult		*res;

	if (!utf8_valid(id))
		return STORE_NOT_FOUND;
	if ((c = conn_get(s->impl)) == NULL)
		return STORE_UNAVAILABLE;
	memset(&pa, 0, sizeof(pa));
	p_text(&pa, id);
	p_int8(&pa, isotime_now_ms());
	if ((res = stmt_run(c, Q_TOKEN_REVOKE, &pa, &ret, NULL,
	    "token revoke")) == NULL)
		return ret;
	ret = strcmp(PQcmdTuples(res), "1") == 0 ? STORE_OK : STORE_NOT_FOUND;
	PQclear(res);
	return ret;
}

static enum store_status
pq_token_count(struct store *s, int64_t *n)
{
	struct conn		*c;
	enum store_status	 ret;
	PGresult		*res;

	*n = 0;
	if ((c = conn_get(s->impl)) == NULL)
		return STORE_UNAVAILABLE;
	if ((res = stmt_run(c, Q_TOKEN_COUNT, NULL, &ret, NULL,
	    "token count")) == NULL)
		return ret;
	*n = PQntuples(res) == 1 ? res_int8(res, 0, 0) : 0;
	PQclear(res);
	return STORE_OK;
}

/* The tables in dump order, by kind; binary results. */
static const char *const dump_sql[STORE_REC_NKINDS] = {
	[STORE_REC_ACCOUNT] =
	    "SELECT id, name, created_ms FROM accounts"
	    " ORDER BY id COLLATE \"C\"",
	[STORE_REC_TOKEN] =
	    "SELECT id, account_id, hash, created_ms, revoked_ms FROM tokens"
	    " ORDER BY id COLLATE \"C\"",
	[STORE_REC_EXPORT] =
	    "SELECT seq, id, account_id, api_identifier, rev, body, secrets,"
	    " adaptor_type, type, connection_id, integration_id, name"
	    " FROM exports ORDER BY seq",
	[STORE_REC_INBOX] =
	    "SELECT seq, export_id, received_ms, request_id, headers, record"
	    " FROM inbox ORDER BY seq",
	[STORE_REC_INBOX_COUNT] =
	    "SELECT export_id, n FROM inbox_counts"
	    " ORDER BY export_id COLLATE \"C\"",
};

/* Run a query without parameters; the one-row text result or NULL. */
static PGresult *
query_row(struct conn *c, const char *sql, enum store_status *st,
    const char *what)
{
	PGresult	*res;

	res = PQexec(c->pg, sql);
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
		return res;
	pq_log(c, res, what);
	*st = pq_status(c, res);
	if (PQresultStatus(res) == PGRES_TUPLES_OK)
		*st = STORE_ERROR;
	PQclear(res);
	return NULL;
}

/* A decimal column of a text result; 0 for NULL. */
static int64_t
res_dec(const PGresult *res, int col)
{
	return PQgetisnull(res, 0, col) ? 0 :
	    strtoll(PQgetvalue(res, 0, col), NULL, 10);
}

/* The highest value a table's seq identity has given out (0: none),
 * read from its sequence: it can be past every row's seq. */
static enum store_status
seq_high(struct conn *c, const char *table, int64_t *out)
{
	enum store_status	 ret = STORE_ERROR;
	PGresult		*res;
	char			 sql[256];

	snprintf(sql, sizeof(sql), "SELECT pg_get_serial_sequence('%s',"
	    " 'seq')", table);
	if ((res = query_row(c, sql, &ret, "sequence")) == NULL)
		return ret;
	if (PQgetisnull(res, 0, 0) || PQgetlength(res, 0, 0) > 128) {
		log_error("postgres: %s.seq has no sequence", table);
		PQclear(res);
		return STORE_ERROR;
	}
	snprintf(sql, sizeof(sql), "SELECT CASE WHEN is_called THEN"
	    " last_value ELSE last_value - 1 END FROM %s",
	    PQgetvalue(res, 0, 0));
	PQclear(res);
	if ((res = query_row(c, sql, &ret, "sequence")) == NULL)
		return ret;
	*out = res_dec(res, 0);
	PQclear(res);
	return STORE_OK;
}

/* Rows per table and the sequences' high-water marks. */
static enum store_status
census_read(struct conn *c, struct store_census *census)
{
	enum store_status	 ret = STORE_ERROR;
	PGresult		*res;
	int64_t			 hi;
	int			 i;

	memset(census, 0, sizeof(*census));
	if ((res = query_row(c, "SELECT (SELECT count(*) FROM accounts),"
	    " (SELECT count(*) FROM tokens), (SELECT count(*) FROM exports),"
	    " (SELECT count(*) FROM inbox),"
	    " (SELECT count(*) FROM inbox_counts),"
	    " (SELECT coalesce(max(seq), 0) FROM exports),"
	    " (SELECT coalesce(max(seq), 0) FROM inbox)", &ret,
	    "census")) == NULL)
		return ret;
	for (i = 0; i < STORE_REC_NKINDS; i++)
		census->rows[i] = res_dec(res, i);
	census->export_seq = res_dec(res, STORE_REC_NKINDS);
	census->inbox_seq = res_dec(res, STORE_REC_NKINDS + 1);
	PQclear(res);
	if ((ret = seq_high(c, "exports", &hi)) != STORE_OK)
		return ret;
	if (hi > census->export_seq)
		census->export_seq = hi;
	if ((ret = seq_high(c, "inbox", &hi)) != STORE_OK)
		return ret;
	if (hi > census->inbox_seq)
		census->inbox_seq = hi;
	return STORE_OK;
}

/* Copy an id column; -1 if it is not one. */
static int
dump_id(const PGresult *res, int col, char out[OID_HEXLEN + 1])
{
	if (PQgetisnull(res, 0, col) || PQgetlength(res, 0, col) !=
	    OID_HEXLEN) {
		log_error("postgres: dump: a row has a malformed id");
		return -1;
	}
	memcpy(out, PQgetvalue(res, 0, col), OID_HEXLEN);
	out[OID_HEXLEN] = '\0';
	return 0;
}

/* A text column of a binary result, borrowed; NULL for NULL. */
static char *
dump_text(const PGresult *res, int col)
{
	return PQgetisnull(res, 0, col) ? NULL : PQgetvalue(res, 0, col);
}

/* Fill a record from a one-row result of dump_sql[kind]. */
static int
dump_fill(const PGresult *res, enum store_rec_kind kind,
    struct store_rec *r)
{
	struct export_row	*e = &r->export;

	memset(r, 0, sizeof(*r));
	r->kind = kind;
	switch (kind) {
	case STORE_REC_ACCOUNT:
		r->name = dump_text(res, 1);
		r->created_ms = res_int8(res, 0, 2);
		return r->name != NULL ? dump_id(res, 0, r->id) : -1;
	case STORE_REC_TOKEN:
		if (PQgetisnull(res, 0, 2) || PQgetlength(res, 0, 2) !=
		    (int)sizeof(r->hash)) {
			log_error("postgres: dump: a token has a malformed "
			    "hash");
			return -1;
		}
		memcpy(r->hash, PQgetvalue(res, 0, 2), sizeof(r->hash));
		r->created_ms = res_int8(res, 0, 3);
		r->revoked = !PQgetisnull(res, 0, 4);
		r->revoked_ms = res_int8(res, 0, 4);
		return dump_id(res, 0, r->id) == -1 ||
		    dump_id(res, 1, r->account) == -1 ? -1 : 0;
	case STORE_REC_EXPORT:
		e->seq = res_int8(res, 0, 0);
		e->rev = res_int8(res, 0, 4);
		if (PQgetisnull(res, 0, 3) || PQgetlength(res, 0, 3) >
		    STORE_APIID_LEN) {
			log_error("postgres: dump: export seq %lld has a "
			    "malformed api_identifier", (long long)e->seq);
			return -1;
		}
		res_copy(res, 0, 3, e->api_identifier,
		    sizeof(e->api_identifier));
		e->body = dump_text(res, 5);
		e->body_len = (size_t)PQgetlength(res, 0, 5);
		if (!PQgetisnull(res, 0, 6)) {
			e->secrets = (unsigned char *)PQgetvalue(res, 0, 6);
			e->secrets_len = (size_t)PQgetlength(res, 0, 6);
		}
		e->adaptor_type = dump_text(res, 7);
		e->type = dump_text(res, 8);
		e->connection_id = dump_text(res, 9);
		e->integration_id = dump_text(res, 10);
		e->name = dump_text(res, 11);
		if (e->body == NULL)
			return -1;
		return dump_id(res, 1, e->id) == -1 ||
		    dump_id(res, 2, e->account) == -1 ? -1 : 0;
	case STORE_REC_INBOX:
		r->seq = res_int8(res, 0, 0);
		r->received_ms = res_int8(res, 0, 2);
		r->request_id = dump_text(res, 3);
		r->headers = dump_text(res, 4);
		r->record = dump_text(res, 5);
		r->record_len = (size_t)PQgetlength(res, 0, 5);
		if (r->request_id == NULL || r->headers == NULL ||
		    r->record == NULL)
			return -1;
		return dump_id(res, 1, r->id);
	case STORE_REC_INBOX_COUNT:
		r->n = res_int8(res, 0, 1);
		return dump_id(res, 0, r->id);
	default:
		return -1;
	}
}

/* A table being streamed to a dump callback. */
struct dump_table {
	enum store_rec_kind	 kind;
	store_rec_cb		 cb;
	void			*arg;
};

/* One row of a dump, for pq_stream. */
static int
dump_row(void *arg, PGresult *res)
{
	struct dump_table	*d = arg;
	struct store_rec	 r;

	return dump_fill(res, d->kind, &r) == -1 || d->cb(d->arg, &r) == -1 ?
	    -1 : 0;
}

/* Stream one table, a row at a time (constant memory). */
static enum store_status
dump_table(struct conn *c, enum store_rec_kind kind, store_rec_cb cb,
    void *arg)
{
	struct dump_table	 d = { .kind = kind, .cb = cb, .arg = arg };

	return pq_stream(c, PQsendQueryParams(c->pg, dump_sql[kind], 0, NULL,
	    NULL, NULL, NULL, 1), "dump", dump_row, &d);
}

/* Dump in one REPEATABLE READ transaction: one snapshot throughout. */
static enum store_status
pq_dump(struct store *s, store_census_cb ccb, store_rec_cb rcb, void *arg)
{
	struct store_census	 census;
	struct conn		*c;
	enum store_status	 ret;
	int			 i;

	if ((c = conn_get(s->impl)) == NULL)
		return STORE_UNAVAILABLE;
	if (pq_exec(c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
	    &ret, "dump") == -1)
		return ret;
	if ((ret = census_read(c, &census)) != STORE_OK)
		goto out;
	if (ccb(arg, &census) == -1) {
		ret = STORE_ERROR;
		goto out;
	}
	for (i = 0; i < STORE_REC_NKINDS; i++)
		if ((ret = dump_table(c, i, rcb, arg)) != STORE_OK)
			goto out;
	if (pq_exec(c, "COMMIT", &ret, "dump") == -1)
		goto out;
	ret = STORE_OK;
out:
	if (ret != STORE_OK)
		tx_rollback(c);
	return ret;
}

/* Whether any table holds a row, on a given connection. */
static enum store_status
empty_check(struct conn *c, bool *empty)
{
	enum store_status	 ret = STORE_ERROR;
	PGresult		*res;

	*empty = false;
	if ((res = query_row(c, "SELECT NOT (EXISTS (SELECT 1 FROM accounts)"
	    " OR EXISTS (SELECT 1 FROM tokens)"
	    " OR EXISTS (SELECT 1 FROM exports)"
	    " OR EXISTS (SELECT 1 FROM inbox)"
	    " OR EXISTS (SELECT 1 FROM inbox_counts))", &ret,
	    "is empty")) == NULL)
		return ret;
	*empty = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	return STORE_OK;
}

/* Whether every table is empty. */
static enum store_status
pq_is_empty(struct store *s, bool *empty)
{
	struct conn	*c;

	*empty = false;
	if ((c = conn_get(s->impl)) == NULL)
		return STORE_UNAVAILABLE;
	return empty_check(c, empty);
}

/* Roll a restore back (nothing of it stays). */
static void
pq_restore_abort(struct store *s)
{
	struct pq	*q = s->impl;

	if (q->restoring == NULL)
		return;
	tx_rollback(q->restoring);
	q->restoring = NULL;
}

/* BEGIN; lock every table against writers (readers go on) so that
 * nothing slips in between the check and COMMIT; check or empty them. */
static enum store_status
pq_restore_begin(struct store *s, bool replace)
{
	struct pq		*q = s->impl;
	struct conn		*c;
	enum store_status	 ret;
	bool			 empty;

	if (q->restoring != NULL)
		return STORE_ERROR;
	if ((c = conn_get(q)) == NULL)
		return STORE_UNAVAILABLE;
	if (tx_begin(c, &ret) == -1)
		return ret;
	q->restoring = c;
	if (pq_exec(c, "LOCK TABLE accounts, tokens, exports, inbox,"
	    " inbox_counts IN EXCLUSIVE MODE", &ret, "restore lock") == -1)
		goto fail;
	if ((ret = empty_check(c, &empty)) != STORE_OK)
		goto fail;
	if (!empty && !replace) {
		ret = STORE_CONFLICT;
		goto fail;
	}
	if (!empty && pq_exec(c, "TRUNCATE accounts, tokens, exports, inbox,"
	    " inbox_counts", &ret, "restore truncate") == -1)
		goto fail;
	return STORE_OK;
fail:
	pq_restore_abort(s);
	return ret;
}

/* Insert one restored row as it was, seq included. */
static enum store_status
pq_restore_row(struct store *s, const struct store_rec *r)
{
	static const enum stmt_id sids[STORE_REC_NKINDS] = {
		[STORE_REC_ACCOUNT] = Q_RESTORE_ACCOUNT,
		[STORE_REC_TOKEN] = Q_RESTORE_TOKEN,
		[STORE_REC_EXPORT] = Q_RESTORE_EXPORT,
		[STORE_REC_INBOX] = Q_RESTORE_INBOX,
		[STORE_REC_INBOX_COUNT] = Q_RESTORE_INBOX_COUNT,
	};
	struct pq		*q = s->impl;
	const struct export_row	*e = &r->export;
	struct params		 pa;
	enum store_status	 ret;
	PGresult		*res;

	if (q->restoring == NULL || (unsigned)r->kind >= STORE_REC_NKINDS)
		return STORE_ERROR;
	memset(&pa, 0, sizeof(pa));
	switch (r->kind) {
	case STORE_REC_ACCOUNT:
		p_text(&pa, r->id);
		p_text(&pa, r->name);
		p_int8(&pa, r->created_ms);
		break;
	case STORE_REC_TOKEN:
		p_text(&pa, r->id);
		p_text(&pa, r->account);
		p_bytes(&pa, r->hash, sizeof(r->hash));
		p_int8(&pa, r->created_ms);
		if (r->revoked)
			p_int8(&pa, r->revoked_ms);
		else
			p_bytes(&pa, NULL, 0);
		break;
	case STORE_REC_EXPORT:
		p_int8(&pa, e->seq);
		p_text(&pa, e->id);
		p_text(&pa, e->account);
		p_text(&pa, e->api_identifier);
		p_int8(&pa, e->rev);
		p_bytes(&pa, e->body != NULL ? e->body : "", e->body_len);
		p_bytes(&pa, e->secrets, e->secrets_len);
		p_text(&pa, e->adaptor_type);
		p_text(&pa, e->type);
		p_text(&pa, e->connection_id);
		p_text(&pa, e->integration_id);
		p_text(&pa, e->name);
		p_bool(&pa, e->body != NULL && jsonb_ok(e->body, e->body_len));
		break;
	case STORE_REC_INBOX:
		p_int8(&pa, r->seq);
		p_text(&pa, r->id);
		p_int8(&pa, r->received_ms);
		p_text(&pa, r->request_id);
		p_text(&pa, r->headers);
		p_bytes(&pa, r->record, r->record_len);
		break;
	case STORE_REC_INBOX_COUNT:
		p_text(&pa, r->id);
		p_int8(&pa, r->n);
		break;
	default:
		return STORE_ERROR;
	}
	if ((res = stmt_run(q->restoring, sids[r->kind], &pa, &ret, NULL,
	    "restore")) == NULL)
		return ret;
	PQclear(res);
	return STORE_OK;
}

/* Restart a table's seq identity after high and its rows (transactional,
 * unlike setval). */
static enum store_status
seq_restart(struct conn *c, const char *table, int64_t high)
{
	enum store_status	 ret = STORE_ERROR;
	PGresult		*res;
	char			 sql[128];
	int64_t			 top;

	snprintf(sql, sizeof(sql), "SELECT coalesce(max(seq), 0) FROM %s",
	    table);
	if ((res = query_row(c, sql, &ret, "restore sequence")) == NULL)
		return ret;
	top = res_dec(res, 0);
	PQclear(res);
	if (high < top)
		high = top;
	snprintf(sql, sizeof(sql), "ALTER TABLE %s ALTER COLUMN seq RESTART"
	    " WITH %lld", table, (long long)high + 1);
	if (pq_exec(c, sql, &ret, "restore sequence") == -1)
		return ret;
	return STORE_OK;
}

/* Restart the identities past the census, then COMMIT. */
static enum store_status
pq_restore_commit(struct store *s, const struct store_census *census)
{
	struct pq		*q = s->impl;
	struct conn		*c = q->restoring;
	enum store_status	 ret;
	PGresult		*failed;

	if (c == NULL)
		return STORE_ERROR;
	if ((ret = seq_restart(c, "exports", census->export_seq)) !=
	    STORE_OK ||
	    (ret = seq_restart(c, "inbox", census->inbox_seq)) != STORE_OK)
		goto out;
	if (tx_commit(c, &ret, &failed) == -1) {
		if (failed != NULL) {
			pq_log(c, failed, "commit");
			PQclear(failed);
		}
		goto out;
	}
	ret = STORE_OK;
out:
	pq_restore_abort(s);
	return ret;
}

const struct store_ops store_postgres_ops = {
	.name = "postgresql",
	.open = pq_open,
	.close = pq_close,
	.start = pq_start,
	.drain = pq_drain,
	.export_get = pq_export_get,
	.export_list = pq_export_list,
	.write_submit = pq_write_submit,
	.export_get_any = pq_export_get_any,
	.inbox_list = pq_inbox_list,
	.token_account = pq_token_account,
	.account_ensure = pq_account_ensure,
	.token_insert = pq_token_insert,
	.token_list = pq_token_list,
	.token_revoke = pq_token_revoke,
	.token_count = pq_token_count,
	.dump = pq_dump,
	.is_empty = pq_is_empty,
	.restore_begin = pq_restore_begin,
	.restore_row = pq_restore_row,
	.restore_commit = pq_restore_commit,
	.restore_abort = pq_restore_abort,
};
