/* The RDBMS reader (run/rdbms.h) against the PostgreSQL server named by
 * EXPORTD_DB (tests/pg/with-cluster.sh starts one): values of every type
 * it maps, paging over the cursor, the memory a large result takes, bad
 * SQL, a bad password, and the egress policy. */
#include <criterion/criterion.h>

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "run/egress.h"
#include "run/rdbms.h"
#include "util/json.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TEST_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define TEST_ASAN 1
#endif
#ifdef TEST_ASAN
/* the sanitizer's allocator (its header is not in every toolchain) */
size_t	__sanitizer_get_current_allocated_bytes(void);
#endif

#define PW_ROLE		"exportd_pw_role"
#define PW_SECRET	"Tr0ub4dor-and-3"

static char	 host[64], port[16], dbname[64];

/* host, port and database of EXPORTD_DB
 * (postgresql://user@host:port/db). */
static void
server_parts(void)
{
	const char	*url = getenv("EXPORTD_DB"), *at, *colon, *slash;

	cr_assert(url != NULL && strncmp(url, "postgresql://", 13) == 0,
	    "EXPORTD_DB must name a PostgreSQL server (tests/pg/"
	    "with-cluster.sh starts one)");
	at = strchr(url + 13, '@');
	at = at != NULL ? at + 1 : url + 13;
	colon = strchr(at, ':');
	slash = strchr(at, '/');
	cr_assert(colon != NULL && slash != NULL && colon < slash);
	snprintf(host, sizeof(host), "%.*s", (int)(colon - at), at);
	snprintf(port, sizeof(port), "%.*s", (int)(slash - colon - 1),
	    colon + 1);
	snprintf(dbname, sizeof(dbname), "%s", slash + 1);
}

static void
notice_drop(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

static PGconn *
admin(void)
{
	PGconn	*pg = PQconnectdb(getenv("EXPORTD_DB"));

	cr_assert_eq(PQstatus(pg), CONNECTION_OK, "%s", PQerrorMessage(pg));
	PQsetNoticeProcessor(pg, notice_drop, NULL);
	return pg;
}

static void
admin_exec(PGconn *pg, const char *sql)
{
	PGresult	*res = PQexec(pg, sql);
	ExecStatusType	 st = PQresultStatus(res);

	cr_assert(st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK, "%s: %s",
	    sql, PQerrorMessage(pg));
	PQclear(res);
}

/* A connection document for the test server as user, with password
 * (NULL: none). */
static json_t *
connection(const char *user, const char *password)
{
	json_t	*doc;

	server_parts();
	doc = json_pack("{s:s, s:s, s:{s:s, s:s, s:i, s:s, s:s}}",
	    "name", "pg", "type", "rdbms", "rdbms", "type", "postgresql",
	    "host", host, "port", atoi(port), "database", dbname, "user", user);
	if (password != NULL)
		json_object_set_new(json_object_get(doc, "rdbms"), "password",
		    json_string(password));
	return doc;
}

static struct egress *
loopback_policy(void)
{
	char		*cause = NULL;
	struct egress	*e = egress_new(NULL, 1, &cause);

	cr_assert_not_null(e, "%s", cause ? cause : "");
	return e;
}

/* Every row of sql, read in pages of page_size; *pages gets how many
 * calls it took. */
static json_t *
read_all(const char *sql, int page_size, int *pages)
{
	struct egress		*e = loopback_policy();
	json_t			*doc = connection("postgres", NULL), *all, *page;
	struct rdbms_run	*run;
	char			*err = NULL;
	bool			 done = false;

	run = rdbms_run_start(doc, sql, page_size, e, &err);
	cr_assert_not_null(run, "%s", err ? err : "");
	all = json_array();
	*pages = 0;
	while (!done) {
		cr_assert_eq(rdbms_run_next(run, &page, &done, &err), 0, "%s",
		    err ? err : "");
		cr_assert_leq((int)json_array_size(page), page_size);
		json_array_extend(all, page);
		json_decref(page);
		(*pages)++;
		cr_assert_lt(*pages, 100000);
	}
	/* once done, an empty page */
	cr_assert_eq(rdbms_run_next(run, &page, &done, &err), 0);
	cr_assert(done);
	cr_assert_eq(json_array_size(page), 0);
	json_decref(page);
	rdbms_run_free(run);
	json_decref(doc);
	egress_free(e);
	return all;
}

static void
assert_json(const json_t *v, const char *want)
{
	char	*got = json_render_new(v, NULL);

	cr_assert_str_eq(got, want);
	free(got);
}

Test(rdbms, every_type_to_json)
{
	PGconn	*pg = admin();
	json_t	*rows;
	int	 pages;

	admin_exec(pg, "DROP TABLE IF EXISTS rdbms_types");
	admin_exec(pg, "CREATE TABLE rdbms_types (id int4 PRIMARY KEY,"
	    " s int2, b int8, r float4, d float8, n numeric, big numeric,"
	    " ok bool, t text, v varchar(10), c char(3), u uuid, j json,"
	    " jb jsonb, ts timestamp, tz timestamptz, dt date, by bytea,"
	    " ia int4[], ta text[], nul text, iv interval, tm time)");
	admin_exec(pg, "INSERT INTO rdbms_types VALUES (1, -7,"
	    " 9007199254740993, 1.5, 0.1, 12.50, "
	    " 123456789012345678901234567890.123, true, 'é \"q\"', 'var', 'ab',"
	    " 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{\"a\":[1,2]}',"
	    " '{\"b\": null}', '2024-05-06 07:08:09.5',"
	    " '2024-05-06 07:08:09.123456+02', '2024-05-06', '\\x00ff10',"
	    " '{{1,2},{3,NULL}}', '{\"x,y\",\"q\\\"\",plain}', NULL,"
	    " '1 day 2 hours', '13:14:15')");
	admin_exec(pg, "INSERT INTO rdbms_types (id, r, d, n, ts, tz)"
	    " VALUES (2, 'NaN', '-Infinity', 'NaN', 'infinity', '-infinity')");
	PQfinish(pg);

	rows = read_all("SELECT * FROM rdbms_types ORDER BY id;  ", 20,
	    &pages);
	cr_assert_eq(pages, 1);
	cr_assert_eq(json_array_size(rows), 2);
	assert_json(json_array_get(rows, 0), "{\"id\":1,\"s\":-7,"
	    "\"b\":9007199254740993,\"r\":1.5,\"d\":0.1,\"n\":12.5,"
	    "\"big\":\"123456789012345678901234567890.123\",\"ok\":true,"
	    "\"t\":\"é \\\"q\\\"\",\"v\":\"var\",\"c\":\"ab \","
	    "\"u\":\"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11\","
	    "\"j\":{\"a\":[1,2]},\"jb\":{\"b\":null},"
	    "\"ts\":\"2024-05-06T07:08:09.500\","
	    "\"tz\":\"2024-05-06T05:08:09.123456Z\",\"dt\":\"2024-05-06\","
	    "\"by\":\"AP8Q\",\"ia\":[[1,2],[3,null]],"
	    "\"ta\":[\"x,y\",\"q\\\"\",\"plain\"],\"nul\":null,"
	    "\"iv\":\"P1DT2H\",\"tm\":\"13:14:15\"}");
	assert_json(json_array_get(rows, 1), "{\"id\":2,\"s\":null,"
	    "\"b\":null,\"r\":\"NaN\",\"d\":\"-Infinity\",\"n\":\"NaN\","
	    "\"big\":null,\"ok\":null,\"t\":null,\"v\":null,\"c\":null,"
	    "\"u\":null,\"j\":null,\"jb\":null,\"ts\":\"infinity\","
	    "\"tz\":\"-infinity\",\"dt\":null,\"by\":null,\"ia\":null,"
	    "\"ta\":null,\"nul\":null,\"iv\":null,\"tm\":null}");
	json_decref(rows);
}

Test(rdbms, pages_cover_every_row_once)
{
	json_t	*rows;
	int	 pages;
	size_t	 i;

	rows = read_all("SELECT g AS n FROM generate_series(1, 1050) g"
	    " ORDER BY g", 100, &pages);
	cr_assert_eq(pages, 11);
	cr_assert_eq(json_array_size(rows), 1050);
	for (i = 0; i < 1050; i++)
		cr_assert_eq(json_integer_value(json_object_get(
		    json_array_get(rows, i), "n")), (json_int_t)i + 1);
	json_decref(rows);
	/* an exact multiple ends with an empty page */
	rows = read_all("SELECT g FROM generate_series(1, 30) g", 10, &pages);
	cr_assert_eq(pages, 4);
	cr_assert_eq(json_array_size(rows), 30);
	json_decref(rows);
	rows = read_all("SELECT 1 WHERE false", 10, &pages);
	cr_assert_eq(pages, 1);
	cr_assert_eq(json_array_size(rows), 0);
	json_decref(rows);
}

static size_t
heap_in_use(void)
{
#ifdef TEST_ASAN
	return __sanitizer_get_current_allocated_bytes();
#else
	return mallinfo2().uordblks;
#endif
}

/* 100 MB of rows go through while the heap holds about one page. */
Test(rdbms, large_result_in_bounded_memory, .timeout = 240)
{
	struct egress		*e = loopback_policy();
	json_t			*doc = connection("postgres", NULL), *page;
	struct rdbms_run	*run;
	char			*err = NULL;
	bool			 done = false;
	size_t			 base, peak = 0, rows = 0;

	run = rdbms_run_start(doc, "SELECT g, repeat('x', 2000) AS pad FROM"
	    " generate_series(1, 50000) g", 250, e, &err);
	cr_assert_not_null(run, "%s", err ? err : "");
	base = heap_in_use();
	while (!done) {
		cr_assert_eq(rdbms_run_next(run, &page, &done, &err), 0, "%s",
		    err ? err : "");
		rows += json_array_size(page);
		if (heap_in_use() > base && heap_in_use() - base > peak)
			peak = heap_in_use() - base;
		json_decref(page);
	}
	cr_assert_eq(rows, 50000);
	/* a page is 250 rows of 2 kB: about 0.5 MB of text */
	cr_assert_lt(peak, (size_t)8 << 20, "peak heap %zu bytes", peak);
	rdbms_run_free(run);
	json_decref(doc);
	egress_free(e);
}

Test(rdbms, page_over_its_byte_cap)
{
	struct egress		*e = loopback_policy();
	json_t			*doc = connection("postgres", NULL), *page;
	struct rdbms_run	*run;
	char			*err = NULL;
	bool			 done = false;

	run = rdbms_run_start(doc, "SELECT repeat('y', 1048576) FROM"
	    " generate_series(1, 20)", 20, e, &err);
	cr_assert_not_null(run, "%s", err ? err : "");
	cr_assert_eq(rdbms_run_next(run, &page, &done, &err), -1);
	cr_assert_str_eq(rdbms_error_code(), "too_large");
	cr_assert_not_null(strstr(err, "pageSize"), "%s", err);
	free(err);
	rdbms_run_free(run);
	json_decref(doc);
	egress_free(e);
}

static void
start_fails(json_t *doc, const char *sql, struct egress *e, const char *code,
    const char *needle)
{
	char	*err = NULL;

	cr_assert_null(rdbms_run_start(doc, sql, 10, e, &err));
	cr_assert_not_null(err);
	cr_assert_str_eq(rdbms_error_code(), code, "%s: %s",
	    rdbms_error_code(), err);
	cr_assert_not_null(strstr(err, needle), "%s", err);
	free(err);
}

static void
next_fails(json_t *doc, const char *sql, struct egress *e, const char *needle)
{
	struct rdbms_run	*run;
	char			*err = NULL;
	bool			 done;
	json_t			*page;

	run = rdbms_run_start(doc, sql, 10, e, &err);
	cr_assert_not_null(run, "%s", err ? err : "");
	cr_assert_eq(rdbms_run_next(run, &page, &done, &err), -1);
	cr_assert_str_eq(rdbms_error_code(), "query_failed");
	cr_assert_not_null(strstr(err, needle), "%s", err);
	free(err);
	rdbms_run_free(run);
}

Test(rdbms, bad_sql_and_writes_refused)
{
	struct egress	*e = loopback_policy();
	json_t		*doc = connection("postgres", NULL), *rows;
	PGconn		*pg = admin();
	PGresult	*res;
	int		 pages;

	admin_exec(pg, "DROP TABLE IF EXISTS rdbms_w");
	admin_exec(pg, "CREATE TABLE rdbms_w (a int)");
	admin_exec(pg, "DROP SEQUENCE IF EXISTS rdbms_seq");
	admin_exec(pg, "CREATE SEQUENCE rdbms_seq");
	start_fails(doc, "SELEKT 1", e, "query_failed", "syntax error");
	start_fails(doc, "SELECT * FROM no_such_table", e, "query_failed",
	    "no_such_table");
	start_fails(doc, "   ;  ", e, "invalid_connection", "empty");
	/* one statement only: a list of them is refused, none run */
	start_fails(doc, "SELECT 1; DROP TABLE rdbms_w", e, "query_failed",
	    "multiple commands");
	/* the transaction is read-only */
	res = PQexec(pg, "SELECT count(*) FROM rdbms_w");
	cr_assert_eq(PQresultStatus(res), PGRES_TUPLES_OK);
	cr_assert_str_eq(PQgetvalue(res, 0, 0), "0");
	PQclear(res);
	/* errors that come with the rows: on row 3, and the sequence's
	 * write that the read-only transaction refuses */
	next_fails(doc, "SELECT 1 / (3 - g) AS q FROM generate_series(1, 5) g",
	    e, "division by zero");
	next_fails(doc, "SELECT nextval('rdbms_seq')", e, "read-only");
	rows = read_all("SELECT 2 AS two", 5, &pages);
	assert_json(rows, "[{\"two\":2}]");
	json_decref(rows);
	PQfinish(pg);
	json_decref(doc);
	egress_free(e);
}

/* A role that logs in with a password: the test cluster trusts every
 * local login, so the rule for this role comes first. */
static void
password_role(void)
{
	PGconn		*pg = admin();
	PGresult	*res;
	char		 sql[1024];
	const char	*hba;

	res = PQexec(pg, "SELECT 1 FROM pg_roles WHERE rolname = '" PW_ROLE
	    "'");
	if (PQntuples(res) == 0)
		admin_exec(pg, "CREATE ROLE " PW_ROLE " LOGIN PASSWORD '"
		    PW_SECRET "'");
	PQclear(res);
	res = PQexec(pg, "SHOW hba_file");
	cr_assert_eq(PQresultStatus(res), PGRES_TUPLES_OK);
	hba = PQgetvalue(res, 0, 0);
	snprintf(sql, sizeof(sql), "COPY (SELECT unnest(ARRAY["
	    "'host all " PW_ROLE " 127.0.0.1/32 scram-sha-256',"
	    "'host all " PW_ROLE " ::1/128 scram-sha-256',"
	    "'local all all trust', 'host all all 127.0.0.1/32 trust',"
	    "'host all all ::1/128 trust'])) TO '%s'", hba);
	PQclear(res);
	admin_exec(pg, sql);
	admin_exec(pg, "SELECT pg_reload_conf()");
	PQfinish(pg);
	usleep(300000);
}

Test(rdbms, password_good_and_bad)
{
	struct egress	*e = loopback_policy();
	json_t		*good, *bad;
	char		*err = NULL;
	int		 tries;

	password_role();
	good = connection(PW_ROLE, PW_SECRET);
	bad = connection(PW_ROLE, "wrong-" PW_SECRET);
	/* the reload is asynchronous: wait until the rule holds */
	for (tries = 0; rdbms_ping(bad, e, &err) == 0 && tries < 50; tries++)
		usleep(100000);
	cr_assert_not_null(err);
	cr_assert_str_eq(rdbms_error_code(), "connect_failed");
	cr_assert_not_null(strstr(err, "password authentication failed"),
	    "%s", err);
	cr_assert_null(strstr(err, PW_SECRET), "%s", err);
	free(err);
	err = NULL;
	cr_assert_eq(rdbms_ping(good, e, &err), 0, "%s", err ? err : "");
	start_fails(bad, "SELECT 1", e, "connect_failed", "password");
	json_decref(good);
	json_decref(bad);
	egress_free(e);
}

/* rdbms_ping fails with code, its message holding needle. */
static void
ping_fails(const json_t *doc, const struct egress *e, const char *code,
    const char *needle)
{
	char	*err = NULL;

	cr_assert_eq(rdbms_ping(doc, e, &err), -1);
	cr_assert_not_null(err);
	cr_assert_str_eq(rdbms_error_code(), code, "%s", err);
	cr_assert_not_null(strstr(err, needle), "%s", err);
	free(err);
}

Test(rdbms, egress_policy)
{
	char		*err = NULL, *cause = NULL;
	struct egress	*deny = egress_new(NULL, 0, &cause);
	const char	*allow_list[] = { "127.0.0.1/32", NULL };
	struct egress	*allow = egress_new(allow_list, 0, &cause);
	json_t		*doc = connection("postgres", NULL);
	json_t		*rdbms = json_object_get(doc, "rdbms");

	cr_assert_not_null(deny);
	cr_assert_not_null(allow);
	start_fails(doc, "SELECT 1", deny, "egress_denied", "loopback");
	ping_fails(doc, deny, "egress_denied", "--egress-allow");
	cr_assert_eq(rdbms_ping(doc, allow, &err), 0, "%s", err ? err : "");
	/* a name is resolved here, and its addresses checked */
	json_object_set_new(rdbms, "host", json_string("localhost"));
	ping_fails(doc, deny, "egress_denied", "localhost");
	/* a socket directory is not a host */
	json_object_set_new(rdbms, "host", json_string("/var/run/postgresql"));
	ping_fails(doc, allow, "invalid_connection", "host");
	json_object_set_new(rdbms, "type", json_string("mysql"));
	ping_fails(doc, allow, "invalid_connection", "mysql");
	json_decref(doc);
	egress_free(deny);
	egress_free(allow);
}

Test(rdbms, refused_port)
{
	struct egress	*e = loopback_policy();
	json_t		*doc = connection("postgres", NULL);

	/* port 1 on loopback: nothing listens */
	json_object_set_new(json_object_get(doc, "rdbms"), "port",
	    json_integer(1));
	ping_fails(doc, e, "connect_failed", "127.0.0.1:1");
	json_decref(doc);
	egress_free(e);
}
