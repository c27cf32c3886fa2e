/* The store's contract (src/store/store.h), checked the same way against
 * every driver: an SQLite file, and the PostgreSQL server named by
 * EXPORTD_DB (make test runs this under tests/pg/with-cluster.sh; without
 * it the PostgreSQL cases fail, they do not skip). Each case gets a fresh
 * store: a new file, or a new database on the server. */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "store/store.h"
#include "util/buf.h"
#include "util/oid.h"
#include "util/xmalloc.h"

#define ACCOUNT_A	"aaaaaaaaaaaaaaaaaaaaaaaa"
#define ACCOUNT_B	"bbbbbbbbbbbbbbbbbbbbbbbb"

/* ---- fresh stores ---- */

static char *
sqlite_url(void)
{
	char	dir[] = "/tmp/exportd-contract.XXXXXX", *url;

	cr_assert_not_null(mkdtemp(dir));
	url = xmalloc(strlen(dir) + 32);
	sprintf(url, "sqlite:%s/exportd.db", dir);
	return url;
}

/* A new database on the test server: the URL with another dbname. */
static char *
postgres_url(void)
{
	const char	*base = getenv("EXPORTD_DB");
	static int	 n;
	char		 name[64], sql[128], *url, *slash;
	PGconn		*pg;
	PGresult	*res;

	cr_assert(base != NULL && strncmp(base, "postgresql://", 13) == 0,
	    "EXPORTD_DB must name a PostgreSQL server (tests/pg/"
	    "with-cluster.sh starts one)");
	pg = PQconnectdb(base);
	cr_assert_eq(PQstatus(pg), CONNECTION_OK, "%s", PQerrorMessage(pg));
	snprintf(name, sizeof(name), "contract_%d_%d", (int)getpid(), n++);
	snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s", name);
	PQclear(PQexec(pg, sql));
	snprintf(sql, sizeof(sql), "CREATE DATABASE %s ENCODING 'UTF8'"
	    " TEMPLATE template0", name);
	res = PQexec(pg, sql);
	cr_assert_eq(PQresultStatus(res), PGRES_COMMAND_OK, "%s",
	    PQerrorMessage(pg));
	PQclear(res);
	PQfinish(pg);
	url = xmalloc(strlen(base) + sizeof(name));
	strcpy(url, base);
	slash = strrchr(url + 13, '/');
	cr_assert_not_null(slash);
	strcpy(slash + 1, name);
	return url;
}

typedef char *(*url_fn)(void);

static const struct {
	const char	*name;
	url_fn		 url;
} drivers[] = {
	{ "sqlite", sqlite_url },
	{ "postgresql", postgres_url },
};
#define NDRIVERS (sizeof(drivers) / sizeof(drivers[0]))

/* Run a case against a fresh store of every driver. */
static void
each_driver(void (*fn)(struct store *, const char *url))
{
	struct store	*s;
	char		*url;
	size_t		 i;

	for (i = 0; i < NDRIVERS; i++) {
		url = drivers[i].url();
		s = store_open(url, 0);
		cr_assert_not_null(s, "%s: store_open", drivers[i].name);
		cr_assert_str_eq(store_name(s), drivers[i].name);
		fn(s, url);
		store_close(s);
		free(url);
	}
}

/* ---- writes ---- */

/* What a test's mutate puts in the row. */
struct change {
	const char	*body;
	const char	*apiid;		/* NULL: a fresh one each call */
	int		 taken;		/* calls that reuse a taken apiid */
	const char	*taken_apiid;
	const char	*name;
	bool		 refuse;
	int		 calls;
	bool		 done;
	enum store_res	 res;		/* 0: exports */
	const char	*ref_id;	/* the connection an export names */
	bool		 ref_found;	/* what mutate saw of it */
	char		 ref_type[16];
	int64_t		 affected;	/* the write's, when it is done */
};

static int
mutate(struct store_write *w, const struct store_row *cur,
    struct store_row *next)
{
	struct change	*ch = w->arg;
	char		 apiid[STORE_APIID_LEN + 1];

	ch->calls++;
	if (ch->refuse)
		return -1;
	ch->ref_found = w->ref_found;
	if (w->ref_found)
		snprintf(ch->ref_type, sizeof(ch->ref_type), "%s",
		    w->ref.col[CONNECTION_TYPE]);
	if (next == NULL)
		return 0;
	if (w->attempts > 0)
		oid_new(w->id);
	if (ch->res == STORE_CONNECTIONS) {
		next->body = xstrdup(ch->body);
		next->body_len = strlen(ch->body);
		next->col[CONNECTION_TYPE] = xstrdup("http");
		return 0;
	}
	if (ch->ref_id != NULL)
		next->col[EXPORT_CONNECTION_ID] = xstrdup(ch->ref_id);
	if (ch->calls <= ch->taken)
		snprintf(apiid, sizeof(apiid), "%s", ch->taken_apiid);
	else if (ch->apiid != NULL)
		snprintf(apiid, sizeof(apiid), "%s", ch->apiid);
	else
		snprintf(apiid, sizeof(apiid), "e%.10s", w->id + 14);
	next->body = xstrdup(ch->body);
	next->body_len = strlen(ch->body);
	next->col[EXPORT_APIID] = xstrdup(apiid);
	next->col[EXPORT_TYPE] = xstrdup("simple");
	if (ch->name != NULL)
		next->col[EXPORT_NAME] = xstrdup(ch->name);
	if (cur != NULL && cur->secrets != NULL) {
		next->secrets = xmalloc(cur->secrets_len);
		memcpy(next->secrets, cur->secrets, cur->secrets_len);
		next->secrets_len = cur->secrets_len;
	} else if (cur == NULL) {
		next->secrets = (unsigned char *)xstrdup("sealed");
		next->secrets_len = 6;
	}
	return 0;
}

static void
done(struct store_write *w)
{
	struct change	*ch = w->arg;

	__atomic_store_n(&ch->done, true, __ATOMIC_RELEASE);
}

/* Submit a write and wait for it; the status. */
static enum store_status
write_wait(struct store *s, struct store_write *w)
{
	struct change	*ch = w->arg;

	ch->done = false;
	store_write_submit(s, w);
	while (!__atomic_load_n(&ch->done, __ATOMIC_ACQUIRE))
		usleep(1000);
	return w->status;
}

/* Submit a write of kind to id (a new id for a create) and wait. */
static enum store_status
change(struct store *s, enum store_write_kind kind, const char *account,
    const char *id, struct change *ch, struct store_row *out)
{
	struct store_write	w;
	enum store_status	st;

	memset(&w, 0, sizeof(w));
	w.kind = kind;
	w.res = ch->res;
	snprintf(w.account, sizeof(w.account), "%s", account);
	if (id != NULL)
		snprintf(w.id, sizeof(w.id), "%s", id);
	else
		oid_new(w.id);
	if (ch->ref_id != NULL) {
		w.ref_res = STORE_CONNECTIONS;
		snprintf(w.ref_id, sizeof(w.ref_id), "%s", ch->ref_id);
	}
	w.mutate = mutate;
	w.done = done;
	w.arg = ch;
	st = write_wait(s, &w);
	ch->affected = w.affected;
	if (out != NULL)
		*out = w.result;
	else
		store_row_free(&w.result);
	store_row_free(&w.ref);
	return st;
}

static enum store_status
create(struct store *s, const char *account, struct change *ch,
    struct store_row *out)
{
	return change(s, STORE_CREATE, account, NULL, ch, out);
}

static void
case_crud(struct store *s, const char *url)
{
	struct change		 ch = { .body = "{\"v\":1}", .name = "one" };
	struct store_row	 row, got;
	char			 id[OID_HEXLEN + 1];

	(void)url;

	cr_assert_eq(create(s, ACCOUNT_A, &ch, &row), STORE_OK);
	snprintf(id, sizeof(id), "%s", row.id);
	cr_assert_eq(row.rev, 1);
	cr_assert_gt(row.seq, 0);
	cr_assert_eq(store_get(s, STORE_EXPORTS, ACCOUNT_A, id, &got),
	    STORE_OK);
	cr_assert_eq(got.body_len, 7);
	cr_assert_eq(memcmp(got.body, "{\"v\":1}", 7), 0);
	cr_assert_str_eq(got.col[EXPORT_NAME], "one");
	cr_assert_null(got.col[EXPORT_CONNECTION_ID]);
	cr_assert_eq(got.secrets_len, 6);
	cr_assert_eq(got.seq, row.seq);
	store_row_free(&got);
	/* another account sees nothing; the listener's lookup sees it */
	cr_assert_eq(store_get(s, STORE_EXPORTS, ACCOUNT_B, id, &got),
	    STORE_NOT_FOUND);
	cr_assert_eq(store_get_any(s, STORE_EXPORTS, id, &got), STORE_OK);
	cr_assert_str_eq(got.account, ACCOUNT_A);
	store_row_free(&got);
	/* replace: rev moves, seq stays, secrets kept by mutate */
	ch.body = "{\"v\":2}";
	ch.name = "two";
	ch.apiid = row.col[EXPORT_APIID];
	cr_assert_eq(change(s, STORE_UPDATE, ACCOUNT_A, id, &ch, &got),
	    STORE_OK);
	cr_assert_eq(got.rev, 2);
	cr_assert_eq(got.seq, row.seq);
	store_row_free(&got);
	cr_assert_eq(store_get(s, STORE_EXPORTS, ACCOUNT_A, id, &got),
	    STORE_OK);
	cr_assert_eq(got.rev, 2);
	cr_assert_str_eq(got.col[EXPORT_NAME], "two");
	cr_assert_eq(got.secrets_len, 6);
	store_row_free(&got);
	cr_assert_eq(change(s, STORE_UPDATE, ACCOUNT_B, id, &ch, NULL),
	    STORE_NOT_FOUND);
	/* a refused change changes nothing */
	ch.refuse = true;
	cr_assert_eq(change(s, STORE_DELETE, ACCOUNT_A, id, &ch, NULL),
	    STORE_REJECTED);
	ch.refuse = false;
	cr_assert_eq(store_get(s, STORE_EXPORTS, ACCOUNT_A, id, &got),
	    STORE_OK);
	store_row_free(&got);
	cr_assert_eq(change(s, STORE_DELETE, ACCOUNT_A, id, &ch, NULL),
	    STORE_OK);
	cr_assert_eq(store_get(s, STORE_EXPORTS, ACCOUNT_A, id, &got),
	    STORE_NOT_FOUND);
	cr_assert_eq(change(s, STORE_DELETE, ACCOUNT_A, id, &ch, NULL),
	    STORE_NOT_FOUND);
	store_row_free(&row);
}

Test(contract, create_read_replace_delete)
{
	each_driver(case_crud);
}

static void
case_conflicts(struct store *s, const char *url)
{
	struct change		 first = { .body = "{}" };
	struct change		 ch = { .body = "{}" };
	struct store_row	 row, got;

	(void)url;

	cr_assert_eq(create(s, ACCOUNT_A, &first, &row), STORE_OK);
	/* a taken unique key: mutate runs again with fresh ids */
	ch.taken = 2;
	ch.taken_apiid = row.col[EXPORT_APIID];
	cr_assert_eq(create(s, ACCOUNT_A, &ch, &got), STORE_OK);
	cr_assert_eq(ch.calls, 3);
	cr_assert_str_neq(got.col[EXPORT_APIID], row.col[EXPORT_APIID]);
	store_row_free(&got);
	/* always taken: a conflict, and nothing stored */
	memset(&ch, 0, sizeof(ch));
	ch.body = "{}";
	ch.taken = 1000;
	ch.taken_apiid = row.col[EXPORT_APIID];
	cr_assert_eq(create(s, ACCOUNT_A, &ch, NULL), STORE_CONFLICT);
	cr_assert_eq(ch.calls, 16);
	/* refused: nothing stored */
	memset(&ch, 0, sizeof(ch));
	ch.body = "{}";
	ch.refuse = true;
	cr_assert_eq(create(s, ACCOUNT_A, &ch, NULL), STORE_REJECTED);
	cr_assert_eq(store_get(s, STORE_EXPORTS, ACCOUNT_A, row.id, &got),
	    STORE_OK);
	store_row_free(&got);
	store_row_free(&row);
}

Test(contract, taken_keys_and_refusals)
{
	each_driver(case_conflicts);
}

/* A write naming a connection sees it (share-locked) only in its own
 * account; a connection an export names is not deleted. */
static void
case_references(struct store *s, const char *url)
{
	struct change		 conn = { .body = "{\"c\":1}",
				    .res = STORE_CONNECTIONS };
	struct change		 ch = { .body = "{}" };
	struct store_row	 c, e, got;
	char			 absent[OID_HEXLEN + 1];

	(void)url;

	cr_assert_eq(create(s, ACCOUNT_A, &conn, &c), STORE_OK);
	cr_assert_eq(store_get(s, STORE_CONNECTIONS, ACCOUNT_A, c.id, &got),
	    STORE_OK);
	cr_assert_str_eq(got.col[CONNECTION_TYPE], "http");
	store_row_free(&got);
	/* named in the account: found, with its columns */
	ch.ref_id = c.id;
	cr_assert_eq(create(s, ACCOUNT_A, &ch, &e), STORE_OK);
	cr_assert(ch.ref_found);
	cr_assert_str_eq(ch.ref_type, "http");
	/* another account's, or none: not found (mutate refuses then) */
	cr_assert_eq(create(s, ACCOUNT_B, &ch, NULL), STORE_OK);
	cr_assert_not(ch.ref_found);
	oid_new(absent);
	ch.ref_id = absent;
	cr_assert_eq(create(s, ACCOUNT_A, &ch, NULL), STORE_OK);
	cr_assert_not(ch.ref_found);
	/* in use by one export of its account: refused, with the count */
	cr_assert_eq(change(s, STORE_DELETE, ACCOUNT_A, c.id, &conn, NULL),
	    STORE_IN_USE);
	cr_assert_eq(conn.affected, 1);
	cr_assert_eq(store_get(s, STORE_CONNECTIONS, ACCOUNT_A, c.id, &got),
	    STORE_OK);
	store_row_free(&got);
	/* once that export is gone (account B's naming it does not count) */
	ch.ref_id = NULL;
	cr_assert_eq(change(s, STORE_DELETE, ACCOUNT_A, e.id, &ch, NULL),
	    STORE_OK);
	cr_assert_eq(change(s, STORE_DELETE, ACCOUNT_A, c.id, &conn, NULL),
	    STORE_OK);
	cr_assert_eq(store_get(s, STORE_CONNECTIONS, ACCOUNT_A, c.id, &got),
	    STORE_NOT_FOUND);
	store_row_free(&e);
	store_row_free(&c);
}

Test(contract, references_between_kinds)
{
	each_driver(case_references);
}

/* ---- lists ---- */

struct seen {
	int64_t	 seqs[4096];
	int	 n;
};

static int
seen_row(void *arg, int64_t seq, const char *body, size_t len)
{
	struct seen	*sn = arg;

	cr_assert_lt(sn->n, 4096);
	cr_assert(len > 0 && body[0] == '{');
	sn->seqs[sn->n++] = seq;
	return 0;
}

/* Every page in order; the rows seen. */
static void
page_all(struct store *s, const struct store_filter *f, int64_t limit,
    struct seen *sn)
{
	int64_t	after = 0, last;
	bool	more = true;

	sn->n = 0;
	while (more) {
		cr_assert_eq(store_list(s, STORE_EXPORTS, ACCOUNT_A, f, after,
		    0, limit, seen_row, sn, &more, &last), STORE_OK);
		if (more)
			cr_assert_gt(last, after);
		after = last;
	}
}

static void
case_paging(struct store *s, const char *url)
{
	struct store_filter	f;
	struct change		ch = { .body = "{}" };
	struct seen		sn;
	int64_t			last;
	bool			more;
	int			i;

	(void)url;

	for (i = 0; i < 25; i++) {
		ch.name = i % 5 == 0 ? "fifth" : "other";
		cr_assert_eq(create(s, ACCOUNT_A, &ch, NULL), STORE_OK);
	}
	cr_assert_eq(create(s, ACCOUNT_B, &ch, NULL), STORE_OK);
	memset(&f, 0, sizeof(f));
	page_all(s, &f, 10, &sn);
	cr_assert_eq(sn.n, 25);
	for (i = 1; i < sn.n; i++)
		cr_assert_gt(sn.seqs[i], sn.seqs[i - 1]);
	/* skip, then limit */
	sn.n = 0;
	cr_assert_eq(store_list(s, STORE_EXPORTS, ACCOUNT_A, &f, 0, 20, 10,
	    seen_row, &sn, &more, &last), STORE_OK);
	cr_assert_eq(sn.n, 5);
	cr_assert(!more);
	/* filters, with their own paging */
	f.eq[EXPORT_NAME] = "fifth";
	page_all(s, &f, 2, &sn);
	cr_assert_eq(sn.n, 5);
	f.eq[EXPORT_TYPE] = "simple";
	page_all(s, &f, 100, &sn);
	cr_assert_eq(sn.n, 5);
	f.eq[EXPORT_NAME] = "\xff\xfe";	/* not UTF-8: matches nothing */
	page_all(s, &f, 100, &sn);
	cr_assert_eq(sn.n, 0);
}

Test(contract, paging_and_filters)
{
	each_driver(case_paging);
}

/* Writers that create rows while a reader pages. */
struct inserter {
	struct store	*s;
	int		 n;
	int		 failed;	/* asserted on the main thread */
};

static void *
insert_main(void *arg)
{
	struct inserter	*in = arg;
	struct change	 ch = { .body = "{\"late\":true}" };
	int		 i;

	for (i = 0; i < in->n; i++)
		if (create(in->s, ACCOUNT_A, &ch, NULL) != STORE_OK)
			__atomic_add_fetch(&in->failed, 1, __ATOMIC_RELAXED);
	return NULL;
}

static void
case_paging_concurrent(struct store *s, const char *url)
{
	struct store_filter	 f;
	struct inserter		 in = { .s = s, .n = 60 };
	struct change		 ch = { .body = "{}" };
	struct seen		*sn;
	pthread_t		 t[3];
	int			 i, j;

	(void)url;

	sn = xcalloc(1, sizeof(*sn));
	cr_assert_eq(store_start(s), 0);
	for (i = 0; i < 40; i++)
		cr_assert_eq(create(s, ACCOUNT_A, &ch, NULL), STORE_OK);
	for (i = 0; i < 3; i++)
		pthread_create(&t[i], NULL, insert_main, &in);
	memset(&f, 0, sizeof(f));
	page_all(s, &f, 7, sn);
	for (i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	cr_assert_eq(in.failed, 0);
	/* every row committed before the first page, each row once, in
	 * seq order */
	cr_assert_geq(sn->n, 40);
	for (i = 1; i < sn->n; i++)
		cr_assert_gt(sn->seqs[i], sn->seqs[i - 1]);
	page_all(s, &f, 1000, sn);
	cr_assert_eq(sn->n, 40 + 3 * 60);
	for (i = 0; i < sn->n; i++)
		for (j = i + 1; j < sn->n; j++)
			cr_assert_neq(sn->seqs[i], sn->seqs[j]);
	store_drain(s);
	free(sn);
}

Test(contract, paging_under_concurrent_creates, .timeout = 120)
{
	each_driver(case_paging_concurrent);
}

/* ---- inbox ---- */

static enum store_status
inbox_write(struct store *s, enum store_write_kind kind, const char *id,
    size_t n, int64_t cap, int64_t upto, int64_t *affected)
{
	struct inbox_entry	 e[8];
	struct store_write	 w;
	struct change		 ch = { .body = "{}" };
	size_t			 i;

	for (i = 0; i < n; i++) {
		e[i].record = "{\"r\":1}";
		e[i].record_len = 7;
	}
	memset(&w, 0, sizeof(w));
	w.kind = kind;
	snprintf(w.account, sizeof(w.account), "%s", ACCOUNT_A);
	snprintf(w.id, sizeof(w.id), "%s", id);
	w.entries = e;
	w.nentries = n;
	w.inbox_cap = cap;
	w.inbox_upto = upto;
	w.received_ms = 1700000000000;
	w.request_id = "req";
	w.headers = "{}";
	w.done = done;
	w.arg = &ch;
	write_wait(s, &w);
	if (affected != NULL)
		*affected = w.affected;
	return w.status;
}

struct entries {
	int64_t	seqs[64];
	int	n;
};

static int
entry_row(void *arg, int64_t seq, int64_t received_ms, const char *request_id,
    const char *headers, const char *record, size_t len)
{
	struct entries	*en = arg;

	(void)headers;
	(void)record;

	cr_assert_eq(received_ms, 1700000000000);
	cr_assert_str_eq(request_id, "req");
	cr_assert_eq(len, 7);
	en->seqs[en->n++] = seq;
	return 0;
}

static void
case_inbox(struct store *s, const char *url)
{
	struct change		ch = { .body = "{}" };
	struct store_row	row;
	struct entries		en = { .n = 0 };
	int64_t			n;
	bool			more;

	(void)url;

	cr_assert_eq(create(s, ACCOUNT_A, &ch, &row), STORE_OK);
	cr_assert_eq(inbox_write(s, STORE_INBOX_APPEND, row.id, 3, 5, 0, &n),
	    STORE_OK);
	cr_assert_eq(n, 3);
	cr_assert_eq(store_inbox_count(s, row.id, &n), STORE_OK);
	cr_assert_eq(n, 3);
	/* past the cap: refused whole */
	cr_assert_eq(inbox_write(s, STORE_INBOX_APPEND, row.id, 3, 5, 0,
	    NULL), STORE_FULL);
	cr_assert_eq(inbox_write(s, STORE_INBOX_APPEND, row.id, 6, 5, 0,
	    NULL), STORE_FULL);
	cr_assert_eq(inbox_write(s, STORE_INBOX_APPEND, row.id, 2, 5, 0,
	    NULL), STORE_OK);
	cr_assert_eq(store_inbox_list(s, row.id, 0, 4, entry_row, &en, &more),
	    STORE_OK);
	cr_assert_eq(en.n, 4);
	cr_assert(more);
	/* another account's export takes nothing */
	cr_assert_eq(inbox_write(s, STORE_INBOX_APPEND, "cccccccccccccccccccccccc",
	    1, 5, 0, NULL), STORE_NOT_FOUND);
	cr_assert_eq(inbox_write(s, STORE_INBOX_ACK, row.id, 0, 0, en.seqs[1],
	    &n), STORE_OK);
	cr_assert_eq(n, 2);
	cr_assert_eq(store_inbox_count(s, row.id, &n), STORE_OK);
	cr_assert_eq(n, 3);
	cr_assert_eq(inbox_write(s, STORE_INBOX_APPEND, row.id, 2, 5, 0,
	    NULL), STORE_OK);
	cr_assert_eq(store_inbox_count(s, row.id, &n), STORE_OK);
	cr_assert_eq(n, 5);
	/* deleting the export drops its inbox */
	cr_assert_eq(change(s, STORE_DELETE, ACCOUNT_A, row.id, &ch, NULL),
	    STORE_OK);
	cr_assert_eq(store_inbox_count(s, row.id, &n), STORE_OK);
	cr_assert_eq(n, 0);
	en.n = 0;
	cr_assert_eq(store_inbox_list(s, row.id, 0, 10, entry_row, &en,
	    &more), STORE_OK);
	cr_assert_eq(en.n, 0);
	store_row_free(&row);
}

Test(contract, inbox_caps_and_acks)
{
	each_driver(case_inbox);
}

/* A write's side rows are added in its transaction: with it, or not at
 * all. */
static void
case_side_rows(struct store *s, const char *url)
{
	struct change		 ch = { .body = "{}" };
	struct store_row	 row;
	struct store_side_row	 side[2];
	struct store_write	 w;
	struct entries		 en = { .n = 0 };
	bool			 more;
	int			 i;

	(void)url;

	cr_assert_eq(create(s, ACCOUNT_A, &ch, &row), STORE_OK);
	memset(side, 0, sizeof(side));
	for (i = 0; i < 2; i++) {
		side[i].side = STORE_SIDE_INBOX;
		side[i].v[0] = (struct store_val){ SV_TEXT, 0, row.id,
		    OID_HEXLEN };
		side[i].v[1] = (struct store_val){ SV_INT, 1700000000000,
		    NULL, 0 };
		side[i].v[2] = (struct store_val){ SV_TEXT, 0, "req", 3 };
		side[i].v[3] = (struct store_val){ SV_TEXT, 0, "{}", 2 };
		side[i].v[4] = (struct store_val){ SV_TEXT, 0, "{\"r\":1}", 7 };
	}
	memset(&w, 0, sizeof(w));
	w.kind = STORE_UPDATE;
	snprintf(w.account, sizeof(w.account), "%s", ACCOUNT_A);
	snprintf(w.id, sizeof(w.id), "%s", row.id);
	w.mutate = mutate;
	w.done = done;
	w.arg = &ch;
	w.side = side;
	w.nside = 2;
	ch.apiid = row.col[EXPORT_APIID];
	cr_assert_eq(write_wait(s, &w), STORE_OK);
	store_row_free(&w.result);
	cr_assert_eq(store_inbox_list(s, row.id, 0, 10, entry_row, &en, &more),
	    STORE_OK);
	cr_assert_eq(en.n, 2);
	/* a side row that cannot be stored undoes the change with it */
	side[1].v[2].type = SV_NULL;	/* request_id is NOT NULL */
	ch.body = "{\"v\":3}";
	cr_assert_neq(write_wait(s, &w), STORE_OK);
	store_row_free(&w.result);
	en.n = 0;
	cr_assert_eq(store_inbox_list(s, row.id, 0, 10, entry_row, &en, &more),
	    STORE_OK);
	cr_assert_eq(en.n, 2);
	store_row_free(&row);
	cr_assert_eq(store_get(s, STORE_EXPORTS, ACCOUNT_A, w.id, &row),
	    STORE_OK);
	cr_assert_eq(row.rev, 2);
	cr_assert_eq(memcmp(row.body, "{}", 2), 0);
	store_row_free(&row);
}

Test(contract, side_rows_share_the_write_transaction)
{
	each_driver(case_side_rows);
}

/* ---- tokens ---- */

static void
case_tokens(struct store *s, const char *url)
{
	unsigned char		 hash[32];
	char			 a1[OID_HEXLEN + 1], a2[OID_HEXLEN + 1];
	char			 tid[OID_HEXLEN + 1], acct[OID_HEXLEN + 1];
	struct token_row	*rows;
	size_t			 n;
	int64_t			 count;

	(void)url;

	memset(hash, 7, sizeof(hash));
	cr_assert_eq(store_account_ensure(s, "acme", a1), STORE_OK);
	cr_assert_eq(store_account_ensure(s, "acme", a2), STORE_OK);
	cr_assert_str_eq(a1, a2);
	cr_assert_eq(store_token_insert(s, a1, hash, tid), STORE_OK);
	cr_assert_eq(store_token_account(s, hash, acct), STORE_OK);
	cr_assert_str_eq(acct, a1);
	cr_assert_eq(store_token_count(s, &count), STORE_OK);
	cr_assert_eq(count, 1);
	cr_assert_eq(store_token_list(s, &rows, &n), STORE_OK);
	cr_assert_eq(n, 1);
	cr_assert_str_eq(rows[0].account_name, "acme");
	cr_assert_eq(rows[0].revoked_ms, 0);
	token_rows_free(rows, n);
	cr_assert_eq(store_token_revoke(s, tid), STORE_OK);
	cr_assert_eq(store_token_revoke(s, tid), STORE_NOT_FOUND);
	cr_assert_eq(store_token_revoke(s, "\xff"), STORE_NOT_FOUND);
	cr_assert_eq(store_token_account(s, hash, acct), STORE_NOT_FOUND);
	cr_assert_eq(store_token_count(s, &count), STORE_OK);
	cr_assert_eq(count, 0);
}

Test(contract, accounts_and_tokens)
{
	each_driver(case_tokens);
}

/* A token revoked through another handle on the same database (the
 * command line, another instance) stops working here at once, cache or
 * not; new tokens work at once too. */
static void
case_token_revoked_elsewhere(struct store *s, const char *url)
{
	unsigned char	 hash[32], hash2[32];
	char		 a[OID_HEXLEN + 1], tid[OID_HEXLEN + 1];
	char		 tid2[OID_HEXLEN + 1], acct[OID_HEXLEN + 1];
	struct store	*other;
	enum store_status st = STORE_OK;
	int		 i;

	memset(hash, 3, sizeof(hash));
	memset(hash2, 4, sizeof(hash2));
	cr_assert_eq(store_account_ensure(s, "revoked", a), STORE_OK);
	cr_assert_eq(store_token_insert(s, a, hash, tid), STORE_OK);
	for (i = 0; i < 3; i++)		/* now in this thread's cache */
		cr_assert_eq(store_token_account(s, hash, acct), STORE_OK);
	cr_assert_eq(store_token_account(s, hash2, acct), STORE_NOT_FOUND);
	other = store_open(url, 0);
	cr_assert_not_null(other);
	cr_assert_eq(store_token_insert(other, a, hash2, tid2), STORE_OK);
	cr_assert_eq(store_token_account(s, hash2, acct), STORE_OK);
	cr_assert_eq(store_token_revoke(other, tid), STORE_OK);
	store_close(other);
	/* the news travels through the database: allow it a moment */
	for (i = 0; i < 100; i++) {
		if ((st = store_token_account(s, hash, acct)) != STORE_OK)
			break;
		usleep(10000);
	}
	cr_assert_eq(st, STORE_NOT_FOUND);
	cr_assert_eq(store_token_account(s, hash2, acct), STORE_OK);
}

Test(contract, token_revoked_elsewhere)
{
	each_driver(case_token_revoked_elsewhere);
}

/* ---- dump and restore ---- */

static int
dump_census(void *arg, const struct store_census *c)
{
	return buf_printf(arg, "census %lld %lld %lld %lld %lld %lld %lld\n",
	    (long long)c->rows[0], (long long)c->rows[1],
	    (long long)c->rows[2], (long long)c->rows[3],
	    (long long)c->rows[4], (long long)c->export_seq,
	    (long long)c->inbox_seq) < 0 ? -1 : 0;
}

/* A record as a line of text: every field that a restore keeps. */
static int
dump_rec(void *arg, const struct store_rec *r)
{
	struct buf	*b = arg;
	int		 i;

	buf_printf(b, "%d %s %s %s %lld %lld %d", (int)r->kind, r->id,
	    r->account, r->name != NULL ? r->name : "-",
	    (long long)r->created_ms, (long long)r->revoked_ms, r->revoked);
	for (i = 0; i < 32; i++)
		buf_printf(b, "%02x", r->hash[i]);
	buf_printf(b, " %s %s %lld %lld %.*s", r->row.id, r->row.account,
	    (long long)r->row.seq, (long long)r->row.rev,
	    (int)r->row.body_len, r->row.body != NULL ? r->row.body : "-");
	buf_printf(b, " %.*s", (int)r->row.secrets_len,
	    r->row.secrets != NULL ? (const char *)r->row.secrets : "-");
	for (i = 0; i < EXPORT_NCOLS; i++)
		buf_printf(b, " %s", r->row.col[i] != NULL ? r->row.col[i] :
		    "(null)");
	buf_printf(b, " %lld %lld %s %s %.*s %lld\n", (long long)r->seq,
	    (long long)r->received_ms, r->request_id != NULL ?
	    r->request_id : "-", r->headers != NULL ? r->headers : "-",
	    (int)r->record_len, r->record != NULL ? r->record : "-",
	    (long long)r->n);
	return 0;
}

/* Records kept for a restore (the dump's are borrowed). */
struct saved {
	struct store_census	 census;
	struct store_rec	 recs[64];
	struct buf		 mem[64][3];
	int			 n;
};

static int
save_census(void *arg, const struct store_census *c)
{
	((struct saved *)arg)->census = *c;
	return 0;
}

static const char *
keep(struct buf *b, const char *p, size_t len)
{
	buf_init(b, 0);
	if (p == NULL)
		return NULL;
	buf_add(b, p, len);
	return b->data;
}

static int
save_rec(void *arg, const struct store_rec *r)
{
	struct saved		*sv = arg;
	struct store_rec	*c = &sv->recs[sv->n];
	struct buf		*m = sv->mem[sv->n];

	cr_assert_lt(sv->n, 64);
	*c = *r;
	c->name = keep(&m[0], r->name, r->name != NULL ? strlen(r->name) : 0);
	c->record = keep(&m[1], r->record, r->record_len);
	c->row.body = (char *)keep(&m[2], r->row.body, r->row.body_len);
	c->request_id = "req";
	c->headers = "{}";
	c->row.secrets = r->row.secrets != NULL ?
	    (unsigned char *)"sealed" : NULL;
	memset(c->row.col, 0, sizeof(c->row.col));
	c->row.col[EXPORT_APIID] = r->row.col[EXPORT_APIID] != NULL ?
	    xstrdup(r->row.col[EXPORT_APIID]) : NULL;
	c->row.col[EXPORT_TYPE] = r->row.col[EXPORT_TYPE] != NULL ?
	    "simple" : NULL;
	sv->n++;
	return 0;
}

static void
case_dump_restore(struct store *s, const char *url)
{
	struct change	 ch = { .body = "{\"d\":1}" };
	struct store_row row, last;
	struct saved	*sv;
	struct buf	 before, after;
	unsigned char	 hash[32];
	char		 acct[OID_HEXLEN + 1], tid[OID_HEXLEN + 1];
	struct store	*t;
	char		*url2;
	bool		 empty;
	int		 i;

	memset(hash, 9, sizeof(hash));
	cr_assert_eq(store_account_ensure(s, "dumped", acct), STORE_OK);
	cr_assert_eq(store_token_insert(s, acct, hash, tid), STORE_OK);
	cr_assert_eq(create(s, ACCOUNT_A, &ch, &row), STORE_OK);
	cr_assert_eq(create(s, ACCOUNT_A, &ch, NULL), STORE_OK);
	cr_assert_eq(inbox_write(s, STORE_INBOX_APPEND, row.id, 2, 10, 0,
	    NULL), STORE_OK);
	store_row_free(&row);
	/* a deleted last row leaves the sequence past every row */
	cr_assert_eq(create(s, ACCOUNT_A, &ch, &last), STORE_OK);
	cr_assert_eq(change(s, STORE_DELETE, ACCOUNT_A, last.id, &ch, NULL),
	    STORE_OK);
	buf_init(&before, 0);
	cr_assert_eq(store_dump(s, dump_census, dump_rec, &before), STORE_OK);
	sv = xcalloc(1, sizeof(*sv));
	cr_assert_eq(store_dump(s, save_census, save_rec, sv), STORE_OK);
	cr_assert_eq(sv->census.rows[STORE_REC_EXPORT], 2);
	cr_assert_eq(sv->census.export_seq, last.seq);
	store_row_free(&last);

	/* into a fresh store of the same driver */
	url2 = strncmp(url, "sqlite:", 7) == 0 ? sqlite_url() : postgres_url();
	t = store_open(url2, 0);
	cr_assert_not_null(t);
	cr_assert_eq(store_is_empty(t, &empty), STORE_OK);
	cr_assert(empty);
	cr_assert_eq(store_restore_begin(t, false), STORE_OK);
	for (i = 0; i < sv->n; i++)
		cr_assert_eq(store_restore_row(t, &sv->recs[i]), STORE_OK);
	cr_assert_eq(store_restore_commit(t, &sv->census), STORE_OK);
	buf_init(&after, 0);
	cr_assert_eq(store_dump(t, dump_census, dump_rec, &after), STORE_OK);
	cr_assert_eq(before.len, after.len, "%.*s\n---\n%.*s",
	    (int)before.len, before.data, (int)after.len, after.data);
	cr_assert_eq(memcmp(before.data, after.data, before.len), 0);
	/* not empty now: a second restore is refused unless it replaces */
	cr_assert_eq(store_restore_begin(t, false), STORE_CONFLICT);
	cr_assert_eq(store_restore_begin(t, true), STORE_OK);
	store_restore_abort(t);
	cr_assert_eq(store_is_empty(t, &empty), STORE_OK);
	cr_assert(!empty);
	/* new rows continue after the restored sequence */
	cr_assert_eq(create(t, ACCOUNT_A, &ch, &row), STORE_OK);
	cr_assert_gt(row.seq, sv->census.export_seq);
	store_close(t);
	free(url2);
	for (i = 0; i < sv->n; i++) {
		buf_free(&sv->mem[i][0]);
		buf_free(&sv->mem[i][1]);
		buf_free(&sv->mem[i][2]);
		free(sv->recs[i].row.col[EXPORT_APIID]);
	}
	free(sv);
	buf_free(&before);
	buf_free(&after);
}

Test(contract, dump_restore_dump_is_identical)
{
	each_driver(case_dump_restore);
}

/* ---- group commit ---- */

static void
case_group_commit(struct store *s, const char *url)
{
	struct store_write	 w[64];
	struct change		 ch[64];
	struct store_filter	 f;
	struct seen		 sn;
	int			 i;

	(void)url;

	cr_assert_eq(store_start(s), 0);
	for (i = 0; i < 64; i++) {
		memset(&ch[i], 0, sizeof(ch[i]));
		ch[i].body = "{\"g\":1}";
		memset(&w[i], 0, sizeof(w[i]));
		w[i].kind = STORE_CREATE;
		snprintf(w[i].account, sizeof(w[i].account), "%s", ACCOUNT_A);
		oid_new(w[i].id);
		w[i].mutate = mutate;
		w[i].done = done;
		w[i].arg = &ch[i];
		store_write_submit(s, &w[i]);
	}
	for (i = 0; i < 64; i++) {
		while (!__atomic_load_n(&ch[i].done, __ATOMIC_ACQUIRE))
			usleep(1000);
		cr_assert_eq(w[i].status, STORE_OK);
		store_row_free(&w[i].result);
	}
	store_drain(s);
	memset(&f, 0, sizeof(f));
	page_all(s, &f, 100, &sn);
	cr_assert_eq(sn.n, 64);
}

Test(contract, concurrent_writes_all_commit)
{
	each_driver(case_group_commit);
}

/* ---- the database going away (a server: PostgreSQL) ---- */

/* A TCP forwarder to the server that can cut every connection and
 * refuse new ones, then let them through again. */
struct proxy {
	int		 lfd;
	int		 port, target;
	volatile int	 down;
	volatile int	 stop;
	pthread_t	 thread;
};

static void *
pipe_main(void *arg)
{
	int		*fds = arg;
	struct pollfd	 p[2];
	char		 buf[16384];
	ssize_t		 n;
	int		 i;

	for (;;) {
		p[0].fd = fds[0];
		p[1].fd = fds[1];
		p[0].events = p[1].events = POLLIN;
		if (poll(p, 2, 100) < 0 || fds[2])
			break;
		for (i = 0; i < 2; i++) {
			if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			n = read(fds[i], buf, sizeof(buf));
			if (n <= 0 || write(fds[1 - i], buf, (size_t)n) != n)
				goto out;
		}
	}
out:
	close(fds[0]);
	close(fds[1]);
	fds[3] = 1;
	return NULL;
}

static void *
proxy_main(void *arg)
{
	struct proxy		*px = arg;
	struct sockaddr_in	 sa;
	int			 c, u, *fds[64], n = 0, i;
	pthread_t		 t;

	memset(fds, 0, sizeof(fds));
	while (!px->stop) {
		struct pollfd	p = { .fd = px->lfd, .events = POLLIN };

		if (px->down)
			for (i = 0; i < n; i++)
				fds[i][2] = 1;
		if (poll(&p, 1, 50) != 1)
			continue;
		if ((c = accept(px->lfd, NULL, NULL)) < 0)
			continue;
		if (px->down || n == 64) {
			close(c);
			continue;
		}
		memset(&sa, 0, sizeof(sa));
		sa.sin_family = AF_INET;
		sa.sin_port = htons((uint16_t)px->target);
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		u = socket(AF_INET, SOCK_STREAM, 0);
		if (connect(u, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
			close(u);
			close(c);
			continue;
		}
		fds[n] = xcalloc(4, sizeof(int));
		fds[n][0] = c;
		fds[n][1] = u;
		pthread_create(&t, NULL, pipe_main, fds[n]);
		pthread_detach(t);
		n++;
	}
	for (i = 0; i < n; i++)
		fds[i][2] = 1;
	for (i = 0; i < n; i++) {
		while (!__atomic_load_n(&fds[i][3], __ATOMIC_ACQUIRE))
			usleep(1000);
		free(fds[i]);
	}
	return NULL;
}

static void
proxy_start(struct proxy *px, int target)
{
	struct sockaddr_in	sa;
	socklen_t		len = sizeof(sa);

	memset(px, 0, sizeof(*px));
	px->target = target;
	px->lfd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(bind(px->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(listen(px->lfd, 64), 0);
	getsockname(px->lfd, (struct sockaddr *)&sa, &len);
	px->port = ntohs(sa.sin_port);
	pthread_create(&px->thread, NULL, proxy_main, px);
}

static void
proxy_stop(struct proxy *px)
{
	px->stop = 1;
	pthread_join(px->thread, NULL);
	close(px->lfd);
}

Test(contract, database_going_away, .timeout = 120)
{
	struct proxy		 px;
	struct store		*s;
	struct store_row	 row, got;
	struct change		 ch = { .body = "{}" };
	char			*url, *via, *colon, *slash;
	enum store_status	 st;
	int			 i;

	url = postgres_url();
	/* the same database through the forwarder */
	colon = strrchr(url, ':');
	slash = strchr(colon, '/');
	cr_assert(colon != NULL && slash != NULL);
	proxy_start(&px, atoi(colon + 1));
	via = xmalloc(strlen(url) + 16);
	sprintf(via, "%.*s:%d%s", (int)(colon - url), url, px.port, slash);
	s = store_open(via, 0);
	cr_assert_not_null(s);
	cr_assert_eq(create(s, ACCOUNT_A, &ch, &row), STORE_OK);
	px.down = 1;
	usleep(300000);
	/* reads and writes answer "retry later", never an error */
	cr_assert_eq(store_get(s, STORE_EXPORTS, ACCOUNT_A, row.id, &got),
	    STORE_UNAVAILABLE);
	cr_assert_eq(create(s, ACCOUNT_A, &ch, NULL), STORE_UNAVAILABLE);
	px.down = 0;
	/* and the store reconnects by itself */
	for (i = 0; i < 100; i++) {
		st = store_get(s, STORE_EXPORTS, ACCOUNT_A, row.id, &got);
		if (st == STORE_OK)
			break;
		cr_assert_eq(st, STORE_UNAVAILABLE);
		usleep(100000);
	}
	cr_assert_eq(st, STORE_OK);
	store_row_free(&got);
	cr_assert_eq(create(s, ACCOUNT_A, &ch, NULL), STORE_OK);
	store_row_free(&row);
	store_close(s);
	proxy_stop(&px);
	free(via);
	free(url);
}
