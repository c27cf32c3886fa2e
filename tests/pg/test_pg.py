"""The PostgreSQL back end, end to end: the real exportd binary against a
real PostgreSQL server started for the session (tests/pg/pgcluster.sh).

    /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/pg

EXPORTD_BIN picks the binary (default build/exportd). The cluster lives in
a fresh directory under /tmp and is removed afterwards. The tests stop and
start that server to check that exportd survives an outage.
"""

import concurrent.futures as futures
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest
import requests

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "api"))

from apilib import (BIN, REPO, Api, Server, assert_status, body_of,  # noqa: E402
                    free_port, http_body, inbox_all, netsuite_distributed_body,
                    parse_link_next, unique, webhook_body)

CLUSTER = HERE / "pgcluster.sh"
PSQL = "/usr/lib/postgresql/15/bin/psql"
PASSWORD = "pw-never-logged-7f3a"   # trust auth ignores it; logs must too
MIGRATIONS = 5                      # schema versions of src/store/postgres.c


def cluster(cmd, d):
    cp = subprocess.run([str(CLUSTER), cmd, str(d)], capture_output=True,
                        text=True, timeout=180)
    assert cp.returncode == 0, "pgcluster %s: %s%s" % (cmd, cp.stdout, cp.stderr)
    return cp.stdout.strip().splitlines()[-1] if cp.stdout.strip() else ""


def with_password(url):
    return url.replace("postgresql://postgres@", "postgresql://postgres:%s@" % PASSWORD)


class Pg:
    def __init__(self, d, url):
        self.dir, self.url = d, url

    def sql(self, query, db=None):
        url = self.url if db is None else self.url.rsplit("/", 1)[0] + "/" + db
        cp = subprocess.run([PSQL, url, "-XAtq", "-v", "ON_ERROR_STOP=1", "-c", query],
                            capture_output=True, text=True, timeout=60)
        assert cp.returncode == 0, cp.stderr
        return cp.stdout

    def stop(self):
        cluster("stop", self.dir)

    def start(self):
        assert cluster("start", self.dir) == self.url


@pytest.fixture(scope="session")
def pg():
    d = tempfile.mkdtemp(prefix="exportd-pg.")
    try:
        url = cluster("start", d)
        assert url.startswith("postgresql://postgres@127.0.0.1:")
        yield Pg(d, url)
    finally:
        subprocess.run([str(CLUSTER), "stop", d], capture_output=True, timeout=120)
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="session")
def db_url(pg):
    """exportd's --db, through EXPORTD_DB, which every process inherits."""
    url = with_password(pg.url)
    old = os.environ.get("EXPORTD_DB")
    os.environ["EXPORTD_DB"] = url
    yield url
    if old is None:
        del os.environ["EXPORTD_DB"]
    else:
        os.environ["EXPORTD_DB"] = old


@pytest.fixture(scope="session")
def srv(db_url, tmp_path_factory):
    root = tmp_path_factory.mktemp("exportd-pg")
    s = Server(root / "data", root / "logs", threads=4)
    s.start()
    yield s
    problems = []
    if s.running:
        rc = s.stop()
        if rc != 0:
            problems.append("exportd exited with %r on SIGTERM" % rc)
    rep = s.sanitizer_report()
    if rep:
        problems.append(rep)
    if PASSWORD in s.all_output_text():
        problems.append("the database password appears in exportd's output")
    for tok in s.tokens:
        if tok in s.stderr_text():
            problems.append("a bearer token appears in exportd's stderr")
    if problems:
        pytest.fail("\n\n".join(problems), pytrace=False)


@pytest.fixture
def server_pair(db_url, tmp_path_factory):
    """A SQLite server and a PostgreSQL server, both with an inbox cap of 4."""
    started = []
    try:
        for db in ("sqlite", db_url):
            root = tmp_path_factory.mktemp("exportd-pair")
            extra = ["--inbox-max-records", "4"]
            if db == "sqlite":
                extra += ["--db", "sqlite:%s/exportd.db" % (root / "data")]
            s = Server(root / "data", root / "logs", extra_args=extra)
            started.append(s)
            if db == "sqlite":
                # the CLI takes --db from the environment: point it at the file
                s.cli = _cli_with_db(s, extra[-1])
            s.start()
        assert (started[0].data_dir / "exportd.db").exists()
        assert not (started[1].data_dir / "exportd.db").exists()
        yield started
    finally:
        problems = []
        for s in started:
            if s.running and s.stop() != 0:
                problems.append("exportd did not exit cleanly")
            rep = s.sanitizer_report()
            if rep:
                problems.append(rep)
    if problems:
        pytest.fail("\n\n".join(problems), pytrace=False)


def _cli_with_db(s, db):
    orig = s.cli

    def cli(*args, check=True):
        return orig(*(list(args) + ["--db", db]), check=check)
    return cli


@pytest.fixture
def api(srv):
    return srv.api(unique("pg"))


def row(pg, export_id, cols):
    return pg.sql("SELECT %s FROM exports WHERE id = '%s'" % (cols, export_id))


# ---------------------------------------------------------------------------


def test_schema(pg, srv):
    assert pg.sql("SELECT version FROM schema_version").strip() == str(MIGRATIONS)
    assert pg.sql("SELECT count(*) FROM pg_tables WHERE tablename IN"
                  " ('accounts', 'tokens', 'exports', 'inbox', 'inbox_counts')").strip() == "5"
    idx = pg.sql("SELECT indexdef FROM pg_indexes WHERE tablename = 'exports'")
    for cols in ("(account_id, seq)", "(account_id, adaptor_type, seq)",
                 "(account_id, type, seq)", "(account_id, connection_id, seq)",
                 "(account_id, integration_id, seq)", "(account_id, name, seq)"):
        assert cols in idx, idx


def test_crud_bytes_verbatim(pg, api):
    body = http_body(description="zeta first", name=unique("crud"))
    r = api.post("/v1/exports", json=body)
    assert_status(r, 201)
    doc = body_of(r)
    eid = doc["_id"]
    assert r.headers["Location"] == "/v1/exports/" + eid
    g = api.get("/v1/exports/" + eid)
    assert_status(g, 200)
    assert g.content == r.content
    assert g.headers["ETag"] == r.headers["ETag"] == '"%s-1"' % eid
    # body is stored as text, byte for byte; doc is its jsonb copy
    assert row(pg, eid, "body").rstrip("\n").encode() == r.content
    assert row(pg, eid, "doc->>'name'").strip() == body["name"]
    assert row(pg, eid, "rev").strip() == "1"

    body["description"] = "changed"
    p = api.put("/v1/exports/" + eid, json=body)
    assert_status(p, 200)
    assert p.headers["ETag"] == '"%s-2"' % eid
    assert body_of(p)["description"] == "changed"
    assert api.get("/v1/exports/" + eid).content == p.content
    assert row(pg, eid, "doc->>'description'").strip() == "changed"

    # If-Match with a stale validator is refused inside the transaction
    stale = api.put("/v1/exports/" + eid, json=body, headers={"If-Match": r.headers["ETag"]})
    assert stale.status_code == 412, stale.content
    d = api.delete("/v1/exports/" + eid, headers={"If-Match": r.headers["ETag"]})
    assert d.status_code == 412
    d = api.delete("/v1/exports/" + eid)
    assert_status(d, 204)
    assert api.get("/v1/exports/" + eid).status_code == 404
    assert api.delete("/v1/exports/" + eid).status_code == 404
    assert api.put("/v1/exports/" + eid, json=body).status_code == 404
    assert row(pg, eid, "count(*)").strip() == "0"


def test_nul_escape_stores_without_jsonb(pg, api):
    body = http_body(description="a\u0000b")
    r = api.post("/v1/exports", json=body)
    assert_status(r, 201)
    assert b"\\u0000" in r.content
    eid = body_of(r)["_id"]
    assert body_of(r)["description"] == "a\u0000b"
    assert api.get("/v1/exports/" + eid).content == r.content
    assert row(pg, eid, "doc IS NULL").strip() == "t"
    # and back to a body jsonb can hold
    body["description"] = "ab"
    assert_status(api.put("/v1/exports/" + eid, json=body), 200)
    assert row(pg, eid, "doc->>'description'").strip() == "ab"


def test_other_account_sees_nothing(srv, api):
    doc = api.create(http_body())
    other = srv.api(unique("pg-other"))
    p = "/v1/exports/" + doc["_id"]
    assert other.get(p).status_code == 404
    assert other.put(p, json=http_body()).status_code == 404
    assert other.delete(p).status_code == 404
    assert other.post(p + "/clone", json={}).status_code == 404
    assert other.get("/v1/exports").status_code == 204
    assert api.get(p).status_code == 200


def test_list_paging_and_filters(api):
    made = []
    for i in range(23):
        extra = {}
        if i % 3 == 0:
            extra["_integrationId"] = "5f0a1b2c3d4e5f6a7b8c9d%02x" % i
        made.append(api.create(http_body(name="n%d" % (i % 5), **extra)))
    ids = [d["_id"] for d in made]
    items, resps = api.list_all("/v1/exports?limit=10")
    assert [len(body_of(r)) for r in resps] == [10, 10, 3]
    assert [d["_id"] for d in items] == ids
    assert parse_link_next(resps[-1]) is None

    def listed(q):
        items, _ = api.list_all("/v1/exports?" + q)
        return [d["_id"] for d in items]

    assert listed("name=n1") == [d["_id"] for d in made if d["name"] == "n1"]
    assert listed("name=n1&limit=2") == [d["_id"] for d in made if d["name"] == "n1"]
    assert listed("adaptorType=HTTPExport&name=n2") == \
        [d["_id"] for d in made if d["name"] == "n2"]
    assert listed("_integrationId=5f0a1b2c3d4e5f6a7b8c9d03") == [ids[3]]
    assert listed("_connectionId=5f0a1b2c3d4e5f6a7b8c9d0e&limit=7") == ids
    assert listed("skip=20") == ids[20:]
    assert listed("adaptorType=FTPExport") == []
    # bytes that are not UTF-8 match nothing (as in SQLite), no error
    r = api.get("/v1/exports?name=%FF%FE")
    assert r.status_code == 204, r.content
    r = api.get("/v1/exports?limit=5&skip=2")
    assert [d["_id"] for d in body_of(r)] == ids[2:7]
    nxt = parse_link_next(r)
    assert nxt is not None
    assert [d["_id"] for d in body_of(api.get(nxt))][:1] == [ids[7]]


def test_clone_and_distributed(pg, api):
    src = api.create(netsuite_distributed_body(name="dist-src"))
    p = "/v1/exports/%s/distributed" % src["_id"]
    g = api.get(p)
    assert_status(g, 200)
    u = api.put(p, json={"recordType": "salesorder"})
    assert_status(u, 200)
    assert body_of(u).get("recordType") == "salesorder"
    assert u.headers["ETag"] == '"%s-2"' % src["_id"]
    assert body_of(api.get(p)).get("recordType") == "salesorder"
    c = api.post("/v1/exports/%s/clone" % src["_id"], json={})
    assert_status(c, 201)
    clone = body_of(c)
    assert clone["_id"] != src["_id"]
    assert clone["name"] == "Clone - dist-src"
    assert api.get("/v1/exports/" + clone["_id"]).content == c.content
    c2 = api.post("/v1/exports/%s/clone" % src["_id"], json={"name": "copy two"})
    assert_status(c2, 201)
    assert body_of(c2)["name"] == "copy two"
    missing = api.post("/v1/exports/%s/clone" % ("0" * 24), json={})
    assert missing.status_code == 404
    items, _ = api.list_all()
    assert [d["_id"] for d in items] == [src["_id"], clone["_id"], body_of(c2)["_id"]]


def test_concurrent_writes(pg, api):
    def create(i):
        return api.post("/v1/exports", json=http_body(name="c%03d" % i))

    with futures.ThreadPoolExecutor(8) as ex:
        rs = list(ex.map(create, range(120)))
    assert all(r.status_code == 201 for r in rs), {r.status_code for r in rs}
    items, _ = api.list_all("/v1/exports?limit=50")
    assert len(items) == 120
    stamps = [d["createdAt"] for d in items]
    assert stamps == sorted(stamps), "list order differs from createdAt order"
    assert len({d["_id"] for d in items}) == 120
    assert len({d["apiIdentifier"] for d in items if "apiIdentifier" in d}) in (0, 120)

    # concurrent replaces of one export: no lost update, revisions in order
    eid = items[0]["_id"]
    body = http_body(name="c000")

    def put(i):
        b = dict(body, description="d%d" % i)
        return api.put("/v1/exports/" + eid, json=b)

    with futures.ThreadPoolExecutor(8) as ex:
        rs = list(ex.map(put, range(64)))
    assert all(r.status_code == 200 for r in rs), {r.status_code for r in rs}
    etags = sorted(int(r.headers["ETag"].strip('"').split("-")[1]) for r in rs)
    assert etags == list(range(2, 66))
    assert api.get("/v1/exports/" + eid).headers["ETag"] == '"%s-65"' % eid


def test_create_retries_taken_keys(pg, api):
    """A taken api identifier (ON CONFLICT DO NOTHING) or a raised unique
    violation makes the store call mutate again with fresh ids; after 16
    tries the create fails (as with SQLite)."""
    first = api.create(http_body())
    acct = pg.sql("SELECT account_id FROM exports WHERE id = '%s'" % first["_id"]).strip()
    taken = pg.sql("SELECT api_identifier FROM exports WHERE id = '%s'" % first["_id"]).strip()
    pg.sql("""
        CREATE SEQUENCE t_conflicts;
        CREATE FUNCTION t_conflict() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE n bigint;
        BEGIN
            IF NEW.account_id = '%s' THEN
                n := nextval('t_conflicts');
                IF n <= 2 THEN
                    NEW.api_identifier := '%s';
                ELSIF n <= 4 THEN
                    RAISE EXCEPTION 'taken' USING ERRCODE = 'unique_violation';
                END IF;
            END IF;
            RETURN NEW;
        END $$;
        CREATE TRIGGER t_conflict BEFORE INSERT ON exports
            FOR EACH ROW EXECUTE FUNCTION t_conflict();""" % (acct, taken))
    try:
        r = api.post("/v1/exports", json=http_body())
        assert_status(r, 201)
        assert pg.sql("SELECT last_value FROM t_conflicts").strip() == "5"
        doc = body_of(r)
        assert api.get("/v1/exports/" + doc["_id"]).content == r.content
        assert row(pg, doc["_id"], "api_identifier").strip() != taken
        pg.sql("ALTER SEQUENCE t_conflicts RESTART WITH 1")
        pg.sql("CREATE OR REPLACE FUNCTION t_conflict() RETURNS trigger"
               " LANGUAGE plpgsql AS $$ BEGIN IF NEW.account_id = '%s' THEN"
               " PERFORM nextval('t_conflicts'); NEW.api_identifier := '%s';"
               " END IF; RETURN NEW; END $$" % (acct, taken))
        r = api.post("/v1/exports", json=http_body())
        assert r.status_code == 500, r.content
        assert pg.sql("SELECT last_value FROM t_conflicts").strip() == "16"
    finally:
        pg.sql("DROP TRIGGER t_conflict ON exports; DROP FUNCTION t_conflict();"
               " DROP SEQUENCE t_conflicts")
    items, _ = api.list_all()
    assert len(items) == 2


HOOK_TOKEN = "hook-token-5c1e"


def hook(api):
    """A webhook export that takes deliveries with a header token."""
    return api.create(webhook_body(webhook={
        "provider": "custom", "verify": "token", "tokenLocation": "header",
        "tokenHeaderName": "X-Webhook-Token", "tokenHeaderScheme": "none",
        "token": HOOK_TOKEN}))


def deliver(base_url, export_id, payload):
    return requests.post("%s/v1/exports/%s/data" % (base_url, export_id),
                         data=json.dumps(payload).encode(), timeout=30,
                         headers={"Content-Type": "application/json",
                                  "X-Webhook-Token": HOOK_TOKEN})


def test_inbox_append_list_ack_delete(pg, srv, api):
    e = hook(api)
    eid = e["_id"]
    for i in range(3):
        assert_status(deliver(srv.url, eid, {"n": i}), 204)
    assert_status(deliver(srv.url, eid, [{"n": 3}, {"n": 4}]), 204)
    got = inbox_all(api, eid, limit=2)
    assert [x["record"] for x in got] == [{"n": i} for i in range(5)]
    cursors = [int(x["cursor"]) for x in got]
    assert cursors == sorted(cursors)
    assert pg.sql("SELECT n FROM inbox_counts WHERE export_id = '%s'" % eid).strip() == "5"

    r = api.post("/v1/exports/%s/inbox/ack" % eid, json={"cursor": got[2]["cursor"]})
    assert_status(r, 200)
    assert body_of(r) == {"deleted": 3}
    assert [x["record"] for x in inbox_all(api, eid)] == [{"n": 3}, {"n": 4}]
    assert pg.sql("SELECT n FROM inbox_counts WHERE export_id = '%s'" % eid).strip() == "2"

    # concurrent deliveries: all kept, in cursor order, count consistent
    with futures.ThreadPoolExecutor(8) as ex:
        rs = list(ex.map(lambda i: deliver(srv.url, eid, {"c": i}), range(80)))
    assert all(r.status_code == 204 for r in rs), {r.status_code for r in rs}
    got = inbox_all(api, eid, limit=7)
    assert len(got) == 82
    assert sorted(x["record"]["c"] for x in got[2:]) == list(range(80))
    assert pg.sql("SELECT n = (SELECT count(*) FROM inbox WHERE export_id = '%s')"
                  " FROM inbox_counts WHERE export_id = '%s'" % (eid, eid)).strip() == "t"

    # another account sees no inbox; deleting the export drops it
    other = srv.api(unique("pg-other"))
    assert other.get("/v1/exports/%s/inbox" % eid).status_code == 404
    assert other.post("/v1/exports/%s/inbox/ack" % eid, json={"cursor": "1"}).status_code == 404
    assert_status(api.delete("/v1/exports/" + eid), 204)
    assert pg.sql("SELECT count(*) FROM inbox WHERE export_id = '%s'" % eid).strip() == "0"
    assert pg.sql("SELECT count(*) FROM inbox_counts WHERE export_id = '%s'" % eid).strip() == "0"
    assert deliver(srv.url, eid, {"late": 1}).status_code == 404
    assert api.get("/v1/exports/%s/inbox" % eid).status_code == 404


def test_inbox_cap_same_as_sqlite(pg, db_url, server_pair):
    """The same deliveries and acks against both back ends give the same
    statuses and bodies (cursors aside)."""
    answers = []
    for s in server_pair:
        a = s.api(unique("cap"))
        eid = hook(a)["_id"]
        seen = []
        for payload in ({"n": 1}, [{"n": 2}, {"n": 3}], {"n": 4}, [{"n": 5}] * 4):
            r = deliver(s.url, eid, payload)
            seen.append((r.status_code, r.headers.get("Retry-After"), r.content))
        recs = inbox_all(a, eid)
        seen.append([x["record"] for x in recs])
        r = a.post("/v1/exports/%s/inbox/ack" % eid, json={"cursor": recs[0]["cursor"]})
        seen.append((r.status_code, r.content))
        seen.append(deliver(s.url, eid, {"n": 6}).status_code)
        seen.append([x["record"] for x in inbox_all(a, eid)])
        r = a.post("/v1/exports/%s/inbox/ack" % eid, json={"cursor": "999999999"})
        seen.append((r.status_code, r.content))
        seen.append(a.get("/v1/exports/%s/inbox" % eid).content)
        answers.append(seen)
    assert answers[0] == answers[1]
    assert answers[0][3][0] == 503


def test_tokens_cli(srv):
    info = srv.create_token(unique("tok"))
    a = Api(srv.url, info["token"])
    assert a.get("/v1/exports").status_code == 204
    again = srv.create_token(info["account"])     # same account, second token
    b = Api(srv.url, again["token"])
    doc = a.create(http_body())
    assert b.get("/v1/exports/" + doc["_id"]).status_code == 200
    ls = srv.cli("token", "list").stdout
    assert info["id"] in ls and again["id"] in ls
    srv.cli("token", "revoke", info["id"])
    assert a.get("/v1/exports").status_code == 401
    assert b.get("/v1/exports").status_code == 200
    cp = srv.cli("token", "revoke", info["id"], check=False)
    assert cp.returncode != 0 and "no active token" in cp.stderr
    cp = subprocess.run([str(BIN), "token", "revoke", b"\xff-not-utf8"],
                        capture_output=True, timeout=60, cwd=str(REPO))
    assert cp.returncode != 0 and b"no active token" in cp.stderr, cp.stderr
    cp = srv.cli("token", "init")
    assert "already has" in cp.stdout


def test_concurrent_migrate(pg, db_url):
    for n in range(3):
        name = "mig%d_%d" % (os.getpid(), n)
        pg.sql("CREATE DATABASE %s" % name)
        url = db_url.rsplit("/", 1)[0] + "/" + name
        procs = [subprocess.Popen([str(BIN), "migrate", "--db", url],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True, cwd=str(REPO)) for _ in range(2)]
        outs = [p.communicate(timeout=60) for p in procs]
        for p, (out, err) in zip(procs, outs):
            assert p.returncode == 0, err
            assert "schema is up to date" in out
            assert PASSWORD not in out + err
        # each migration ran once, in one of the two processes
        applied = sorted(int(line.rsplit(" ", 1)[1]) for _, err in outs
                         for line in err.splitlines() if "applied migration" in line)
        assert applied == list(range(1, MIGRATIONS + 1)), outs
        assert pg.sql("SELECT version FROM schema_version", db=name).strip() == str(MIGRATIONS)
        assert pg.sql("SELECT count(*) FROM exports", db=name).strip() == "0"


def test_bad_url_and_unreachable(tmp_path):
    env = dict(os.environ, EXPORTD_DB="postgresql://postgres@127.0.0.1:1/exportd")
    t0 = time.monotonic()
    cp = subprocess.run([str(BIN), "migrate"], capture_output=True, text=True,
                        env=env, timeout=30)
    assert cp.returncode != 0
    assert "cannot connect" in cp.stderr
    assert time.monotonic() - t0 < 10


def wait_until(pred, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.2)
    return pred()


def test_outage_then_recovery(pg, srv, api):
    doc = api.create(http_body())
    p = "/v1/exports/" + doc["_id"]

    # a restart between requests goes unnoticed: every server thread's
    # connection finds out before it sends anything
    # (Connection: close spreads the requests over the server's threads)
    close = {"Connection": "close"}
    for _ in range(12):
        assert api.get(p, headers=close).status_code == 200
    pg.stop()
    pg.start()
    for _ in range(12):
        assert api.get(p, headers=close).status_code == 200
    for _ in range(4):
        assert api.post("/v1/exports", json=http_body(), headers=close).status_code == 201

    pg.stop()
    try:
        for method, path, body in (("GET", p, None), ("GET", "/v1/exports", None),
                                   ("POST", "/v1/exports", http_body()),
                                   ("PUT", p, http_body()), ("DELETE", p, None)):
            for _ in range(6):   # every thread, fresh and lost connections
                t0 = time.monotonic()
                kw = {"json": body} if body is not None else {}
                r = api.request(method, path, timeout=15, headers=close, **kw)
                took = time.monotonic() - t0
                assert r.status_code == 503, (method, path, r.status_code, r.content)
                assert r.headers.get("Retry-After") == "1"
                assert body_of(r)["errors"][0]["code"] == "unavailable"
                assert took < 5, (method, took)
        assert requests.get(srv.url + "/v1/health", timeout=5).status_code == 200
    finally:
        pg.start()
    ok = wait_until(lambda: api.get(p).status_code == 200, 10)
    assert ok, "service did not resume"
    time.sleep(0.6)     # past every thread's reconnect back-off
    for _ in range(12):
        assert api.get(p, headers=close).status_code == 200
    made = api.create(http_body())
    assert api.get("/v1/exports/" + made["_id"]).status_code == 200
    assert api.delete(p).status_code == 204
    assert srv.running


# ---------------------------------------------------------------------------
# A connection lost during COMMIT: exportd reads the row back to learn
# whether the write committed, so that the client gets the true outcome
# (201/200/204 when it committed, and a create that did not commit is run
# again) instead of a 503 that a retry would turn into a duplicate.


class CommitCutter:
    """A TCP proxy between exportd and PostgreSQL. Armed, it acts on the
    next simple-query COMMIT: mode "after" forwards the COMMIT, lets the
    server commit, and drops the answer and the session; mode "before"
    drops the COMMIT itself (the server then rolls back); mode "delay"
    holds the COMMIT back for `delay` seconds, then goes on as usual."""

    COMMIT = b"Q\x00\x00\x00\x0bCOMMIT\x00"

    def __init__(self, host, port):
        self.target = (host, port)
        self.lsock = socket.socket()
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(64)
        self.port = self.lsock.getsockname()[1]
        self.lock = threading.Lock()
        self.mode = None
        self.cuts = 0
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def arm(self, mode, delay=0.0):
        with self.lock:
            self.mode = mode
            self.delay = delay

    def close(self):
        self.closed = True
        self.lsock.close()

    def _accept(self):
        while not self.closed:
            try:
                client, _ = self.lsock.accept()
            except OSError:
                return
            server = socket.create_connection(self.target)
            state = {"mute": False}
            threading.Thread(target=self._up, args=(client, server, state),
                             daemon=True).start()
            threading.Thread(target=self._down, args=(server, client, state),
                             daemon=True).start()

    @staticmethod
    def _shut(*socks):
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def _up(self, client, server, state):
        try:
            while True:
                data = client.recv(65536)
                if not data:
                    break
                mode = None
                if self.COMMIT in data:
                    with self.lock:
                        mode, self.mode = self.mode, None
                        if mode is not None:
                            self.cuts += 1
                if mode == "after":
                    state["mute"] = True
                    server.sendall(data)
                    time.sleep(0.5)     # the server commits meanwhile
                    break
                if mode == "before":
                    state["mute"] = True
                    break
                if mode == "delay":
                    time.sleep(self.delay)
                server.sendall(data)
        except OSError:
            pass
        self._shut(client, server)

    def _down(self, server, client, state):
        try:
            while True:
                data = server.recv(65536)
                if not data or state["mute"]:
                    break
                client.sendall(data)
        except OSError:
            pass
        self._shut(client, server)


@pytest.fixture(params=[1])
def cutter_api(request, pg, srv, tmp_path):
    """An exportd (of request.param threads) whose database connections
    pass through a CommitCutter, with an account's token."""
    m = re.match(r"postgresql://([^@]*)@127\.0\.0\.1:(\d+)/(\w+)$", with_password(pg.url))
    assert m, pg.url
    cutter = CommitCutter("127.0.0.1", int(m.group(2)))
    url = "postgresql://%s@127.0.0.1:%d/%s?sslmode=disable" % (m.group(1), cutter.port,
                                                               m.group(3))
    s = Server(tmp_path / "data", tmp_path / "logs", threads=request.param,
               extra_args=["--db", url])
    s.start()
    a = srv.api(unique("cut"))
    try:
        yield cutter, Api(s.url, a.token), s
    finally:
        rc = s.stop() if s.running else 0
        cutter.close()
        assert rc == 0
        rep = s.sanitizer_report()
        assert rep is None, rep


def test_commit_answer_lost_after_commit(pg, cutter_api):
    cutter, api, s = cutter_api
    before = int(pg.sql("SELECT count(*) FROM exports").strip())

    # POST: committed, its answer lost; the client still gets the 201
    cutter.arm("after")
    body = http_body()
    r = api.post("/v1/exports", json=body)
    assert cutter.cuts == 1
    assert r.status_code == 201, (r.status_code, r.content)
    doc = body_of(r)
    got = api.get("/v1/exports/" + doc["_id"])
    assert_status(got, 200)
    assert body_of(got) == doc
    created_etag = r.headers["ETag"]
    assert got.headers["ETag"] == created_etag
    assert int(pg.sql("SELECT count(*) FROM exports").strip()) == before + 1

    # PUT: committed, its answer lost; 200 with the new revision
    cutter.arm("after")
    changed = dict(body, name="after the cut")
    r = api.put("/v1/exports/" + doc["_id"], json=changed)
    assert cutter.cuts == 2
    assert r.status_code == 200, (r.status_code, r.content)
    assert body_of(r)["name"] == "after the cut"
    got = api.get("/v1/exports/" + doc["_id"])
    assert body_of(got) == body_of(r)
    assert got.headers["ETag"] == r.headers["ETag"] != created_etag

    # DELETE: committed, its answer lost; 204
    cutter.arm("after")
    r = api.delete("/v1/exports/" + doc["_id"])
    assert cutter.cuts == 3
    assert r.status_code == 204, (r.status_code, r.content)
    assert api.get("/v1/exports/" + doc["_id"]).status_code == 404
    assert int(pg.sql("SELECT count(*) FROM exports").strip()) == before
    assert "connection lost during COMMIT" in s.stderr_text()


def test_commit_lost_before_commit(pg, cutter_api):
    cutter, api, s = cutter_api
    before = int(pg.sql("SELECT count(*) FROM exports").strip())

    # POST: the COMMIT never reached the server; exportd finds no row and
    # creates the export again: one 201, exactly one row
    cutter.arm("before")
    r = api.post("/v1/exports", json=http_body())
    assert cutter.cuts == 1
    assert r.status_code == 201, (r.status_code, r.content)
    doc = body_of(r)
    assert_status(api.get("/v1/exports/" + doc["_id"]), 200)
    assert int(pg.sql("SELECT count(*) FROM exports").strip()) == before + 1

    # PUT: not committed, so the stored export is unchanged and the answer
    # is a 503 that is safe to retry
    cutter.arm("before")
    r = api.put("/v1/exports/" + doc["_id"], json=dict(http_body(), name="lost"))
    assert cutter.cuts == 2
    assert r.status_code == 503, (r.status_code, r.content)
    assert r.headers.get("Retry-After") == "1"
    assert body_of(api.get("/v1/exports/" + doc["_id"])) == doc
    r = api.put("/v1/exports/" + doc["_id"], json=dict(http_body(), name="retried"))
    assert_status(r, 200)
    assert body_of(r)["name"] == "retried"

    # DELETE: not committed; 503, and the export is still there
    cutter.arm("before")
    r = api.delete("/v1/exports/" + doc["_id"])
    assert r.status_code == 503, (r.status_code, r.content)
    assert_status(api.get("/v1/exports/" + doc["_id"]), 200)
    assert api.delete("/v1/exports/" + doc["_id"]).status_code == 204


@pytest.mark.parametrize("cutter_api", [4], indirect=True)
def test_paging_waits_for_a_create_in_flight(pg, cutter_api):
    """A create takes its seq before COMMIT. While its COMMIT is held back,
    a later create commits; a page read then must not step past the
    earlier seq, or following the Link would never show that export."""
    cutter, api, s = cutter_api
    first = api.create(http_body(name="first"))
    cutter.arm("delay", 1.2)
    slow = {}
    t = threading.Thread(target=lambda: slow.setdefault(
        "r", api.post("/v1/exports", json=http_body(name="slow"), timeout=30)))
    t.start()
    try:
        assert wait_until(lambda: cutter.cuts == 1, 10), "the slow create never reached COMMIT"
        fast = Api(api.base_url, api.token).create(http_body(name="fast"))
        pages, url = [], "/v1/exports?limit=2"
        while url is not None:
            r = Api(api.base_url, api.token).get(url)
            if r.status_code == 204:
                break
            assert_status(r, 200)
            pages.append([x["name"] for x in body_of(r)])
            url = parse_link_next(r)
    finally:
        t.join(30)
    assert_status(slow["r"], 201)
    seen = [n for page in pages for n in page]
    assert seen == ["first", "slow", "fast"], pages
    assert first["name"] == "first" and fast["name"] == "fast"


def test_delivery_commit_lost(pg, cutter_api):
    """Webhook deliveries and acks whose COMMIT loses its answer get the
    true outcome (from the transaction's status), so that a sender's retry
    after a 503 never stores the records twice."""
    cutter, api, s = cutter_api
    eid = hook(api)["_id"]

    # committed, its answer lost: the sender still gets its 204, and the
    # record is there once
    cutter.arm("after")
    r = deliver(s.url, eid, {"n": 1})
    assert cutter.cuts == 1
    assert r.status_code == 204, (r.status_code, r.content)
    assert [x["record"] for x in inbox_all(api, eid)] == [{"n": 1}]

    # not committed: a 503 the sender may retry, and the retry stores the
    # records exactly once
    cutter.arm("before")
    r = deliver(s.url, eid, [{"n": 2}, {"n": 3}])
    assert cutter.cuts == 2
    assert r.status_code == 503, (r.status_code, r.content)
    assert r.headers.get("Retry-After") == "1"
    assert [x["record"] for x in inbox_all(api, eid)] == [{"n": 1}]
    assert_status(deliver(s.url, eid, [{"n": 2}, {"n": 3}]), 204)
    got = inbox_all(api, eid)
    assert [x["record"] for x in got] == [{"n": 1}, {"n": 2}, {"n": 3}]
    assert pg.sql("SELECT n FROM inbox_counts WHERE export_id = '%s'" % eid).strip() == "3"

    # an ack committed with its answer lost: 200 with what it deleted
    cutter.arm("after")
    r = api.post("/v1/exports/%s/inbox/ack" % eid, json={"cursor": got[1]["cursor"]})
    assert cutter.cuts == 3
    assert_status(r, 200)
    assert body_of(r) == {"deleted": 2}
    assert [x["record"] for x in inbox_all(api, eid)] == [{"n": 3}]
    assert "connection lost during COMMIT" in s.stderr_text()


# ---------------------------------------------------------------------------
# PgBouncer in transaction mode, the usual way to put many instances on one
# database: a session's prepared statements and LISTEN do not survive from
# one transaction to the next, so --db-pool-mode transaction sends every
# statement's text and reads tokens each time.

PGBOUNCER = "/usr/sbin/pgbouncer"


@pytest.fixture
def bouncer(pg):
    """A real PgBouncer, pool_mode = transaction, two server connections
    for every client: the clients' transactions take turns on them."""
    d = tempfile.mkdtemp(prefix="exportd-pgbouncer.")
    os.chmod(d, 0o755)
    shutil.chown(d, "postgres")
    pgport = int(re.search(r":(\d+)/", pg.url).group(1))
    port = free_port()
    Path(d, "userlist.txt").write_text('"postgres" ""\n')
    Path(d, "pgbouncer.ini").write_text(
        "[databases]\n"
        "exportd = host=127.0.0.1 port=%d dbname=exportd\n"
        "[pgbouncer]\n"
        "listen_addr = 127.0.0.1\nlisten_port = %d\nunix_socket_dir =\n"
        "auth_type = trust\nauth_file = %s/userlist.txt\n"
        "pool_mode = transaction\ndefault_pool_size = 2\nmax_client_conn = 200\n"
        "logfile = %s/pgbouncer.log\npidfile = %s/pgbouncer.pid\n"
        % (pgport, port, d, d, d))
    proc = subprocess.Popen(["runuser", "-u", "postgres", "--", PGBOUNCER,
                             "%s/pgbouncer.ini" % d],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = "postgresql://postgres@127.0.0.1:%d/exportd" % port
    try:
        ok = False
        for _ in range(100):
            cp = subprocess.run([PSQL, url, "-XAtq", "-c", "SELECT 1"],
                                capture_output=True, text=True, timeout=10)
            if cp.returncode == 0:
                ok = True
                break
            time.sleep(0.1)
        assert ok, "PgBouncer did not start: %s" % Path(d, "pgbouncer.log").read_text()
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(d, ignore_errors=True)


def test_pgbouncer_transaction_pooling(pg, bouncer, tmp_path):
    extra = ["--db", bouncer, "--db-pool-mode", "transaction"]
    s = Server(tmp_path / "data", tmp_path / "logs", threads=4, extra_args=extra)
    s.cli = _cli_with_db(s, bouncer)
    orig = s.cli
    s.cli = lambda *a, check=True: orig(*(list(a) + ["--db-pool-mode", "transaction"]),
                                        check=check)
    s.start()
    try:
        a = s.api(unique("bouncer"))
        b = s.api(unique("bouncer-other"))
        # concurrent creates, then pages that see each exactly once
        with futures.ThreadPoolExecutor(8) as ex:
            made = list(ex.map(lambda i: a.post("/v1/exports", json=http_body(name="b%d" % i)),
                               range(40)))
        assert all(r.status_code == 201 for r in made), {r.status_code for r in made}
        ids = [body_of(r)["_id"] for r in made]
        seen, url = [], "/v1/exports?limit=7"
        while url:
            r = a.get(url)
            assert_status(r, 200)
            seen += [d["_id"] for d in body_of(r)]
            nxt = parse_link_next(r)
            url = nxt[len(s.url):] if nxt else None
        assert sorted(seen) == sorted(ids) and len(seen) == len(set(seen))
        assert b.get("/v1/exports").status_code == 204
        # replaces, clones and deletes side by side
        with futures.ThreadPoolExecutor(8) as ex:
            puts = list(ex.map(lambda i: a.put("/v1/exports/" + i, json=http_body(name="p")), ids))
            clones = list(ex.map(lambda i: a.post("/v1/exports/%s/clone" % i), ids[:10]))
            dels = list(ex.map(lambda i: a.delete("/v1/exports/" + i), ids[30:]))
        assert all(r.status_code == 200 for r in puts), {r.status_code for r in puts}
        assert all(r.status_code == 201 for r in clones), {r.status_code for r in clones}
        assert all(r.status_code == 204 for r in dels), {r.status_code for r in dels}
        got = a.get("/v1/exports/" + ids[0])
        assert body_of(got)["name"] == "p" and got.headers["ETag"].endswith('-2"')
        assert len(body_of(a.get("/v1/exports"))) == 30 + 10
        # deliveries and acks
        eid = hook(a)["_id"]
        with futures.ThreadPoolExecutor(8) as ex:
            rs = list(ex.map(lambda i: deliver(s.url, eid, {"n": i}), range(30)))
        assert all(r.status_code == 204 for r in rs), {r.status_code for r in rs}
        entries = inbox_all(a, eid, limit=8)
        assert sorted(x["record"]["n"] for x in entries) == list(range(30))
        r = a.post("/v1/exports/%s/inbox/ack" % eid, json={"cursor": entries[9]["cursor"]})
        assert body_of(r) == {"deleted": 10}
        # a revoked token stops working at once
        s.cli("token", "revoke", b.info["id"])
        assert b.get("/v1/exports").status_code == 401
        assert_status(a.get("/v1/tokenInfo"), 200)
    finally:
        rc = s.stop()
    err = s.stderr_text()
    assert rc == 0
    assert "prepared statement" not in err, err[-2000:]
    assert not re.search(r" 5\d\d ", err), err[-2000:]
    assert s.sanitizer_report() is None
