"""exportd dump and exportd restore, end to end: the real binary, a real
SQLite file and a real PostgreSQL server (tests/pg/pgcluster.sh).

    EXPORTD_BIN=build-asan/exportd /usr/bin/python3 -m pytest -q \
        -p no:cacheprovider tests/pg/test_dump.py

A SQLite server gets over 10,000 exports of every kind through the API
(secrets, clones, distributed configurations, a webhook export with inbox
entries delivered through the listener, several accounts, a revoked token);
every response is recorded. Then SQLite -> dump -> PostgreSQL -> dump ->
SQLite, serving each store with the same secret key and comparing every
response byte for byte.
"""

import concurrent.futures as futures
import hashlib
import hmac
import http.client
import json
import os
import pty
import random
import select
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "api"))

from apilib import (BIN, CONN_A, CONN_B, CONN_C, CONN_D,  # noqa: E402
                    CONNECTED_ADAPTORS, REPO, Api, Server,
                    adaptor_body, assert_status, body_of, http_body,
                    netsuite_distributed_body, parse_link_next,
                    salesforce_distributed_body, sanitizer_hits, simple_body,
                    webhook_body)

CLUSTER = HERE / "pgcluster.sh"
PSQL = "/usr/lib/postgresql/15/bin/psql"
PUBLIC = "http://exportd.test"      # --public-url: Link headers alike on every server
N_EXPORTS = 10200                   # created; some are deleted, some cloned
WORKERS = 8
CONN_IDS = [CONN_A, CONN_B, CONN_C, CONN_D]
INTEG_IDS = ["6a0a1b2c3d4e5f6a7b8c9d%02x" % i for i in range(3)]
HDRS = ("ETag", "Link", "Content-Type", "Location")

CLI_OUTPUT = []                     # stderr of every CLI run, for sanitizer reports


# ---------------------------------------------------------------------------
# helpers


def cluster(cmd, d):
    cp = subprocess.run([str(CLUSTER), cmd, str(d)], capture_output=True,
                        text=True, timeout=180)
    assert cp.returncode == 0, "pgcluster %s: %s%s" % (cmd, cp.stdout, cp.stderr)
    return cp.stdout.strip().splitlines()[-1] if cp.stdout.strip() else ""


def psql(url, query):
    cp = subprocess.run([PSQL, url, "-XAtq", "-v", "ON_ERROR_STOP=1", "-c", query],
                        capture_output=True, text=True, timeout=60)
    assert cp.returncode == 0, cp.stderr
    return cp.stdout


def exportd(*args, stdin=None, stdout=None, check=True, timeout=300, stderr=None):
    """Run the exportd CLI; returns the CompletedProcess (text stderr)."""
    argv = [str(BIN)] + [str(a) for a in args]
    cp = subprocess.run(argv, stdin=stdin if stdin is not None else subprocess.DEVNULL,
                        stdout=stdout if stdout is not None else subprocess.PIPE,
                        stderr=stderr if stderr is not None else subprocess.PIPE,
                        timeout=timeout, cwd=str(REPO))
    err = cp.stderr.decode(errors="replace") if isinstance(cp.stderr, bytes) else (cp.stderr or "")
    out = cp.stdout.decode(errors="replace") if isinstance(cp.stdout, bytes) else (cp.stdout or "")
    cp.err_text, cp.out_text = err, out
    CLI_OUTPUT.append(err)
    hits = sanitizer_hits(err)
    assert not hits, "sanitizer report from %s:\n%s" % (argv, err[-4000:])
    if check:
        assert cp.returncode == 0, "%s -> rc %s\nstdout: %s\nstderr: %s" % (
            argv, cp.returncode, out[-2000:], err[-4000:])
    return cp


def dump_to(path, *store):
    with open(path, "wb") as f:
        return exportd("dump", *store, stdout=f)


def restore_from(path, *store, check=True):
    with open(path, "rb") as f:
        return exportd("restore", *store, stdin=f, check=check)


def dump_lines(path):
    """(header, rows) of a dump file."""
    lines = Path(path).read_bytes().split(b"\n")
    assert lines[-1] == b"", "a dump ends with a newline"
    header = json.loads(lines[0])
    return header, lines[1:-1]


def dump_rows_of(*store, tmp):
    p = Path(tmp) / ("d-%d.jsonl" % random.randrange(1 << 30))
    dump_to(p, *store)
    return dump_lines(p)


def check_sanitizers(servers):
    problems = []
    for s in servers:
        rep = s.sanitizer_report()
        if rep:
            problems.append(rep)
    for text in CLI_OUTPUT:
        if sanitizer_hits(text):
            problems.append(text[-4000:])
    return problems


def snap(r):
    """What a response is made of, for byte-for-byte comparison."""
    return (r.status_code, tuple(r.headers.get(h) for h in HDRS), r.content)


def local_path(url):
    assert url.startswith(PUBLIC), url
    return url[len(PUBLIC):]


def sign(key, body):
    return hmac.new(key.encode(), body, hashlib.sha256).hexdigest()


class Resp:
    """The parts of a response the tests look at (as requests names them)."""

    def __init__(self, status, headers, content, method, path):
        self.status_code, self.headers, self.content = status, headers, content
        self.method, self.path = method, path

    def json(self):
        return json.loads(self.content)


class Client:
    """A lean keep-alive HTTP client (http.client): requests costs more
    client CPU than the sanitizer build of the server does per request."""

    def __init__(self, port, token):
        self.port, self.token = port, token
        self.conn = None
        self.resolver = None

    def request(self, method, path, body=None, headers=None):
        h = {"Authorization": "Bearer " + self.token} if self.token else {}
        if self.token and "/v1/exports" in path:
            # connection placeholders become the account's connections
            if self.resolver is None:
                self.resolver = Api("http://127.0.0.1:%d" % self.port, self.token)
            if body is not None and not isinstance(body, bytes):
                self.resolver.resolve(body)
            path = self.resolver.resolve_path(path)
        if body is not None and not isinstance(body, bytes):
            body = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        h.update(headers or {})
        for attempt in range(3):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                self.conn.request(method, path, body=body, headers=h)
                r = self.conn.getresponse()
                content = r.read()
                if r.status == 429:
                    time.sleep(0.05)
                    continue
                return Resp(r.status, r.msg, content, method, path)
            except (http.client.HTTPException, ConnectionError, OSError):
                if self.conn is not None:
                    self.conn.close()
                self.conn = None
                if attempt == 2:
                    raise
        return Resp(r.status, r.msg, content, method, path)

    def get(self, path):
        return self.request("GET", path)

    def post(self, path, json=None):
        return self.request("POST", path, body=json if json is not None else b"")

    def put(self, path, json=None):
        return self.request("PUT", path, body=json)

    def delete(self, path):
        return self.request("DELETE", path)


def ok(r, status):
    assert r.status_code == status, "%s %s -> %s, expected %s: %r" % (
        r.method, r.path, r.status_code, status, r.content[:500])
    return r


class Pool:
    """Thread pool whose threads each keep their own connection per token."""

    def __init__(self, base):
        self.port = int(base.rsplit(":", 1)[1])
        self.local = threading.local()

    def api(self, token):
        d = getattr(self.local, "apis", None)
        if d is None:
            d = self.local.apis = {}
        if token not in d:
            d[token] = Client(self.port, token)
        return d[token]

    def run(self, fn, items):
        with futures.ThreadPoolExecutor(WORKERS) as ex:
            return list(ex.map(fn, items))


# ---------------------------------------------------------------------------
# the source store


def make_body(i, rnd):
    k = i % 20
    name = "exp-%05d" % i
    if k < 6:
        extra = {"description": "plain %d" % i}
        if i % 3 == 0:
            extra["_integrationId"] = INTEG_IDS[i % len(INTEG_IDS)]
        return "http", http_body(name=name, _connectionId=CONN_IDS[i % 4], **extra)
    if k < 9:
        a = CONNECTED_ADAPTORS[i % len(CONNECTED_ADAPTORS)]
        return "adaptor", adaptor_body(a, name=name)
    if k == 9:
        key = "hmac-key-%d-%s" % (i, rnd.getrandbits(64))
        return "hmac", webhook_body(name=name, webhook={
            "provider": "custom", "verify": "hmac", "algorithm": "sha256",
            "encoding": "hex", "header": "X-Signature", "key": key})
    if k == 10:
        return "nsd", netsuite_distributed_body(name=name, distributed={
            "bearerToken": "bt-%d-%s" % (i, rnd.getrandbits(64))})
    if k == 11:
        return "sfd", salesforce_distributed_body(name=name)
    if k == 12:
        return "simple", simple_body(name=name)
    if k == 13:
        return "github", webhook_body(name=name, webhook={
            "provider": "github", "key": "gh-%d-%s" % (i, rnd.getrandbits(64))})
    if k == 14:
        # bytes that must survive exactly: non-ASCII, U+2028, escapes, \u0000
        return "unicode", http_body(name="n\u00e4me \u2713 %d \u2028" % i,
                                    description="tab\t quote\" back\\ nul\u0000 %d" % i,
                                    big=12345678901234, real=0.1, nested={"a": [1, {"b": None}, []]})
    return "http", http_body(name="same-name" if i % 2 else name, _connectionId=CONN_IDS[i % 4],
                             description="d" * (i % 300))


@pytest.fixture(scope="module")
def world():
    old_db = os.environ.pop("EXPORTD_DB", None)
    root = Path(tempfile.mkdtemp(prefix="exportd-dump."))
    os.chmod(root, 0o755)
    pgdir = root / "pg"
    servers = []
    w = {"root": root, "servers": servers}
    try:
        url = cluster("start", pgdir)
        psql(url, "ALTER SYSTEM SET fsync = off")
        psql(url, "ALTER SYSTEM SET synchronous_commit = off")
        psql(url, "SELECT pg_reload_conf()")
        w["pg_url"] = url
        w["pg_dir"] = pgdir
        w["key"] = root / "secret.key"
        w["common"] = ["--secret-key-file", str(w["key"]), "--public-url", PUBLIC,
                       "--rate-limit-rate", "0", "--listener-rate-limit-rate", "0",
                       "--threads", "4", "--log-level", "warn"]
        build_source(w)
        yield w
    finally:
        for s in servers:
            if s.running:
                s.stop()
        problems = check_sanitizers(servers)
        subprocess.run([str(CLUSTER), "stop", str(pgdir)], capture_output=True, timeout=120)
        shutil.rmtree(root, ignore_errors=True)
        if old_db is not None:
            os.environ["EXPORTD_DB"] = old_db
        if problems:
            pytest.fail("\n\n".join(problems), pytrace=False)


def sqlite_server(w, name):
    s = Server(w["root"] / name, w["root"] / (name + "-logs"), extra_args=w["common"])
    w["servers"].append(s)
    return s


def pg_server(w, name, url):
    s = Server(w["root"] / name, w["root"] / (name + "-logs"),
               extra_args=w["common"] + ["--db", url])
    w["servers"].append(s)
    return s


def build_source(w):
    rnd = random.Random(20240601)
    src = sqlite_server(w, "s1")
    src.start()
    w["src"] = src
    toks = {}
    for acct in ("alpha", "beta", "gamma"):
        toks[acct] = src.create_token(acct)
    extra = src.create_token("beta")            # a second token of beta
    revoked = src.create_token("alpha")
    src.cli("token", "revoke", revoked["id"])
    w["tokens"] = [toks["alpha"], toks["beta"], toks["gamma"], extra]
    w["revoked"] = revoked
    w["tok"] = {a: t["token"] for a, t in toks.items()}
    pool = Pool(src.url)

    jobs = []
    for i in range(N_EXPORTS):
        acct = "alpha" if i % 10 < 6 else ("beta" if i % 10 < 9 else "gamma")
        kind, body = make_body(i, rnd)
        jobs.append((acct, kind, body))

    def create(job):
        acct, kind, body = job
        r = ok(pool.api(w["tok"][acct]).post("/v1/exports", json=body), 201)
        return acct, kind, body, r.json()["_id"]

    made = pool.run(create, jobs)
    keys = {}                                   # export id -> hmac key
    for acct, kind, body, eid in made:
        if kind == "hmac":
            keys[eid] = body["webhook"]["key"]

    # second round: revisions, distributed configurations, clones, deletes
    nsd = [m for m in made if m[1] == "nsd"]
    https = [m for m in made if m[1] == "http"]
    secret_ones = [m for m in made if m[1] in ("hmac", "github", "nsd")]
    ops = []
    for acct, kind, body, eid in nsd[:200]:
        ops.append(("dist", acct, eid, {"recordType": "customer", "qualifier": ["x", "=", eid]}))
    for acct, kind, body, eid in https[:300]:
        ops.append(("put", acct, eid, dict(body, description="revised " + eid)))
    for acct, kind, body, eid in https[300:400]:
        ops.append(("put2", acct, eid, dict(body, description="twice " + eid)))
    for acct, kind, body, eid in secret_ones[:120] + https[400:480]:
        ops.append(("clone", acct, eid, {"name": "copy of " + eid} if len(ops) % 2 else None))
    for acct, kind, body, eid in https[500:650]:
        ops.append(("delete", acct, eid, None))

    def apply(op):
        what, acct, eid, arg = op
        api = pool.api(w["tok"][acct])
        if what == "dist":
            ok(api.put("/v1/exports/%s/distributed" % eid, json=arg), 200)
        elif what in ("put", "put2"):
            ok(api.put("/v1/exports/" + eid, json=arg), 200)
            if what == "put2":
                arg = dict(arg, description="thrice " + eid)
                ok(api.put("/v1/exports/" + eid, json=arg), 200)
        elif what == "clone":
            r = ok(api.post("/v1/exports/%s/clone" % eid, json=arg), 201)
            return acct, r.json()["_id"], eid
        elif what == "delete":
            ok(api.delete("/v1/exports/" + eid), 204)
        return None

    clones = [c for c in pool.run(apply, ops) if c is not None]
    deleted = {eid for what, acct, eid, arg in ops if what == "delete"}
    ids = {a: [] for a in w["tok"]}
    for acct, kind, body, eid in made:
        if eid not in deleted:
            ids[acct].append(eid)
    for acct, cid, src_id in clones:
        ids[acct].append(cid)
        if src_id in keys:
            keys[cid] = keys[src_id]

    # webhook exports with inbox entries delivered through the listener
    alpha = Api(src.url, w["tok"]["alpha"])
    beta = Api(src.url, w["tok"]["beta"])
    unauth = Api(src.url, None)
    hkey = "the-inbox-hmac-key-" + "%x" % rnd.getrandbits(64)
    hook = alpha.create(webhook_body(name="inbox hook", webhook={
        "provider": "custom", "verify": "hmac", "algorithm": "sha256",
        "encoding": "hex", "header": "X-Signature", "key": hkey}))
    for n in range(30):
        doc = [{"n": n, "part": p} for p in range(3)] if n % 7 == 0 else {"n": n, "s": "\u00fcml\u00e4ut"}
        body = json.dumps(doc).encode()
        r = unauth.post("/v1/exports/%s/data" % hook["_id"], data=body, headers={
            "Content-Type": "application/json", "X-Signature": sign(hkey, body),
            "X-Trace": "t-%d" % n}, retry_429=False)
        assert_status(r, 204)
    page = body_of(alpha.get("/v1/exports/%s/inbox?limit=10" % hook["_id"]))
    assert_status(alpha.post("/v1/exports/%s/inbox/ack" % hook["_id"],
                             json={"cursor": page["cursor"]}), 200)
    gh_key = "gh-inbox-key"
    gh = beta.create(webhook_body(name="gh hook", webhook={"provider": "github", "key": gh_key}))
    for n in range(5):
        body = json.dumps({"push": n}).encode()
        r = unauth.post("/v1/exports/%s/data" % gh["_id"], data=body, headers={
            "Content-Type": "application/json", "X-GitHub-Event": "push",
            "X-Hub-Signature-256": "sha256=" + sign(gh_key, body)}, retry_429=False)
        assert_status(r, 204)
    ids["alpha"].append(hook["_id"])
    ids["beta"].append(gh["_id"])
    # the newest export is deleted: the sequence is past every row's seq
    last = alpha.create(http_body(name="short-lived"))
    assert_status(alpha.delete("/v1/exports/" + last["_id"]), 204)
    deleted.add(last["_id"])

    w.update(ids=ids, deleted=sorted(deleted), hook=hook["_id"], hkey=hkey,
             gh=gh["_id"], keys=keys, nsd=[m[3] for m in nsd[:250]])
    assert sum(len(v) for v in ids.values()) >= 10000
    w["rec"] = record(w, src)
    src.stop()
    w["dump1"] = w["root"] / "d1.jsonl"
    cp = dump_to(w["dump1"], "--data-dir", src.data_dir)
    assert "exports" in cp.err_text and "\r" not in cp.err_text   # no bar off a terminal


# ---------------------------------------------------------------------------
# recording the API


def record(w, srv):
    """Every response a client could see, keyed by request."""
    pool = Pool(srv.url)
    out = {}
    lock = threading.Lock()
    toks = w["tok"]

    def get(acct, path):
        r = pool.api(toks[acct]).get(path)
        with lock:
            out[(acct, path)] = snap(r)
        return r

    items = [(a, "/v1/exports/" + eid) for a, ids in w["ids"].items() for eid in ids]
    items += [(a, "/v1/exports/" + eid) for a in ("alpha", "gamma") for eid in w["deleted"][:20]]
    alpha = set(w["ids"]["alpha"])
    items += [("alpha", "/v1/exports/%s/distributed" % eid) for eid in w["nsd"]
              if eid in alpha][:80]
    pool.run(lambda it: get(*it), items)
    got = [out[it] for it in items if it[1].count("/") == 3]
    assert sum(1 for g in got if g[0] == 200) >= 10000

    # list pages, following Link; some with filters
    starts = []
    for a in toks:
        starts += [(a, "/v1/exports"), (a, "/v1/exports?limit=700"),
                   (a, "/v1/exports?adaptorType=HTTPExport&limit=400"),
                   (a, "/v1/exports?type=webhook"), (a, "/v1/exports?name=same-name&limit=200"),
                   (a, "/v1/exports?_integrationId=%s&limit=300" % INTEG_IDS[1]),
                   (a, "/v1/exports?_connectionId=%s&adaptorType=HTTPExport&skip=5&limit=250"
                    % CONN_IDS[2]),
                   (a, "/v1/exports?include=name,http.method&limit=900")]

    def walk(it):
        acct, path = it
        pages = 0
        while path is not None:
            r = get(acct, path)
            pages += 1
            nxt = parse_link_next(r)
            path = local_path(nxt) if nxt else None
        return pages

    assert sum(pool.run(walk, starts)) > 40
    # inbox pages, tokenInfo
    for acct, eid in (("alpha", w["hook"]), ("beta", w["gh"])):
        path = "/v1/exports/%s/inbox?limit=7" % eid
        while True:
            r = get(acct, path)
            page = ok(r, 200).json()
            if not page["more"]:
                break
            path = "/v1/exports/%s/inbox?limit=7&after=%s" % (eid, page["cursor"])
    for t in w["tokens"] + [w["revoked"]]:
        r = Api(srv.url, t["token"]).get("/v1/tokenInfo")
        out[("token:" + t["id"], "/v1/tokenInfo")] = snap(r)
    return out


def compare(a, b):
    assert set(a) == set(b), "different requests recorded"
    diff = [k for k in a if a[k] != b[k]]
    if diff:
        k = diff[0]
        raise AssertionError("%d of %d responses differ; first %r:\nbefore %r\nafter  %r" % (
            len(diff), len(a), k, a[k][:2] + (a[k][2][:400],), b[k][:2] + (b[k][2][:400],)))


# ---------------------------------------------------------------------------
# the round trip


def test_round_trip_sqlite_postgres_sqlite(world):
    w = world
    rec = w["rec"]
    h1, rows1 = dump_lines(w["dump1"])
    assert h1["kind"] == "header" and h1["format"] == "exportd-dump" and h1["version"] == 1
    assert h1["source"] == "sqlite"
    assert h1["counts"]["exports"] == sum(len(v) for v in w["ids"].values()) >= 10000
    assert h1["counts"]["accounts"] == 3 and h1["counts"]["tokens"] == 5
    # 30 deliveries (5 of them of 3 records), 10 acknowledged; 5 to github
    assert h1["counts"]["inbox"] == 40 - 10 + 5 and h1["counts"]["inbox_counts"] == 2
    assert len(rows1) == sum(h1["counts"].values())
    kinds = [json.loads(r)["kind"] for r in rows1]
    assert kinds == sorted(kinds, key=["account", "token", "export", "inbox",
                                       "inbox_count", "audit", "state",
                                       "connection"].index)
    exports = [json.loads(r) for r in rows1 if r.startswith(b'{"kind":"export"')]
    seqs = [e["seq"] for e in exports]
    assert seqs == sorted(seqs) and h1["sequences"]["exports"] > seqs[-1]
    assert sum(1 for e in exports if e["secrets"]) > 1000
    data = w["dump1"].read_bytes()
    for key in [w["hkey"]] + list(w["keys"].values())[:100]:
        assert key.encode() not in data, "a secret in clear in the dump"

    # SQLite -> PostgreSQL, served with the same secret key
    url = w["pg_url"]
    cp = restore_from(w["dump1"], "--db", url)
    assert "secret key" in cp.out_text and "\r" not in cp.err_text
    pg = pg_server(w, "p1", url)
    pg.start()
    compare(rec, record(w, pg))
    pg.stop()

    # PostgreSQL -> dump (to a FILE argument) -> SQLite
    d2 = w["root"] / "d2.jsonl"
    exportd("dump", "--db", url, d2)
    assert (d2.stat().st_mode & 0o777) == 0o600
    h2, rows2 = dump_lines(d2)
    assert h2["source"] == "postgresql"
    assert h2["counts"] == h1["counts"] and h2["sequences"] == h1["sequences"]
    assert rows2 == rows1, "the PostgreSQL dump differs from the SQLite one"
    s2 = sqlite_server(w, "s2")
    exportd("restore", "--data-dir", s2.data_dir, d2)
    s2.start()
    compare(rec, record(w, s2))

    # old tokens work, the revoked one does not; secrets still open
    for srv in (s2, pg):
        if not srv.running:
            srv.start()
        after_restore_checks(w, srv)
    pg.stop()
    s2.stop()


def after_restore_checks(w, srv):
    for t in w["tokens"]:
        r = Api(srv.url, t["token"]).get("/v1/tokenInfo")
        assert_status(r, 200)
    assert Api(srv.url, w["revoked"]["token"]).get("/v1/tokenInfo").status_code == 401
    alpha = Api(srv.url, w["tok"]["alpha"])
    unauth = Api(srv.url, None)
    # a webhook's HMAC key (a sealed secret) still verifies
    body = b'{"after":"restore"}'
    path = hook_data(w)
    bad = unauth.post(path, data=body, headers={"Content-Type": "application/json",
                                                "X-Signature": sign("wrong", body)}, retry_429=False)
    assert_status(bad, 401)
    good = unauth.post(path, data=body, headers={"Content-Type": "application/json",
                                                 "X-Signature": sign(w["hkey"], body)},
                       retry_429=False)
    assert_status(good, 204)
    # and the keys of exports made by the thousands, clones included
    before = set(w["ids"]["alpha"])
    some = [eid for eid in w["keys"] if eid in before][:5]
    for eid in some:
        r = unauth.post("/v1/exports/%s/data" % eid, data=body, headers={
            "Content-Type": "application/json", "X-Signature": sign(w["keys"][eid], body)},
            retry_429=False)
        assert_status(r, 204)
    # a new inbox entry comes after every entry ever given a cursor
    entries = body_of(alpha.get("/v1/exports/%s/inbox?limit=1000" % w["hook"]))["records"]
    assert entries[-1]["record"] == {"after": "restore"}
    assert int(entries[-1]["cursor"]) > int(entries[-2]["cursor"])
    # a new export: a fresh id, listed last (after every restored one)
    e = alpha.create(http_body(name="after restore"))
    assert e["_id"] not in before and e["_id"] not in w["deleted"]
    pages, path = [], "/v1/exports?include=name"
    while path:
        r = alpha.get(path)
        pages.extend(body_of(r))
        nxt = parse_link_next(r)
        path = local_path(nxt) if nxt else None
    assert pages[-1]["_id"] == e["_id"] and len(pages) == len(before) + 1
    # a secret PUT as "******" keeps the stored (decrypted, re-sealed) key
    hook = alpha.fetch(w["hook"])
    hook["webhook"]["key"] = "******"
    hook["name"] = "renamed after restore"
    assert_status(alpha.put("/v1/exports/" + w["hook"],
                            json={k: v for k, v in hook.items()
                                  if k not in ("_id", "createdAt", "lastModified",
                                               "apiIdentifier", "asynchronous")}), 200)
    good = unauth.post(hook_data(w), data=body, headers={
        "Content-Type": "application/json", "X-Signature": sign(w["hkey"], body)},
        retry_429=False)
    assert_status(good, 204)


def hook_data(w):
    return "/v1/exports/%s/data" % w["hook"]


def test_new_rows_continue_the_sequences(world, tmp_path):
    """After a restore, new exports and inbox entries get seqs past the
    dump's high-water marks (which are past every dumped row)."""
    w = world
    h1, _ = dump_lines(w["dump1"])
    d = tmp_path / "s"
    restore_from(w["dump1"], "--data-dir", d)
    s = Server(d, tmp_path / "logs", extra_args=w["common"])
    w["servers"].append(s)
    s.start()
    try:
        alpha = Api(s.url, w["tok"]["alpha"])
        e = alpha.create(http_body(name="next"))
        body = b'{"k":1}'
        assert_status(Api(s.url, None).post(hook_data(w), data=body, headers={
            "Content-Type": "application/json", "X-Signature": sign(w["hkey"], body)},
            retry_429=False), 204)
    finally:
        s.stop()
    h, rows = dump_rows_of("--data-dir", d, tmp=tmp_path)
    new = [json.loads(r) for r in rows if e["_id"].encode() in r and b'"kind":"export"' in r]
    assert len(new) == 1 and new[0]["seq"] == h1["sequences"]["exports"] + 1
    inbox = [json.loads(r) for r in rows if r.startswith(b'{"kind":"inbox"')]
    assert inbox[-1]["seq"] == h1["sequences"]["inbox"] + 1
    assert h["sequences"]["exports"] == h1["sequences"]["exports"] + 1


# ---------------------------------------------------------------------------
# refusing, replacing, bad input


def counts_of(*store, tmp):
    h, rows = dump_rows_of(*store, tmp=tmp)
    return h["counts"], rows


def test_non_empty_store_refused_then_forced(world, tmp_path):
    w = world
    _, rows1 = dump_lines(w["dump1"])
    # SQLite with one account and token
    d = tmp_path / "busy"
    exportd("token", "create", "--account", "squatter", "--data-dir", d)
    before = counts_of("--data-dir", d, tmp=tmp_path)
    cp = restore_from(w["dump1"], "--data-dir", d, check=False)
    assert cp.returncode == 1 and "not empty" in cp.err_text and "--force" in cp.err_text
    assert counts_of("--data-dir", d, tmp=tmp_path) == before
    cp = restore_from(w["dump1"], "--data-dir", d, "--force")
    assert "restored" in cp.out_text
    _, rows = counts_of("--data-dir", d, tmp=tmp_path)
    assert rows == rows1
    # PostgreSQL: a database with a token, then the same
    base = w["pg_url"].rsplit("/", 1)[0]
    psql(base + "/postgres", "CREATE DATABASE busy ENCODING 'UTF8' TEMPLATE template0")
    url = base + "/busy"
    exportd("token", "create", "--account", "squatter", "--db", url)
    before = counts_of("--db", url, tmp=tmp_path)
    cp = restore_from(w["dump1"], "--db", url, check=False)
    assert cp.returncode == 1 and "--force" in cp.err_text
    assert counts_of("--db", url, tmp=tmp_path) == before
    restore_from(w["dump1"], "--db", url, "--force")
    _, rows = counts_of("--db", url, tmp=tmp_path)
    assert rows == rows1
    # a restored store is itself not empty
    cp = restore_from(w["dump1"], "--db", url, check=False)
    assert cp.returncode == 1 and "not empty" in cp.err_text


def is_empty(counts):
    """Every kind of row the dump counts is zero (the kinds it names are at
    least those of the first dump format)."""
    return ({"accounts", "tokens", "exports", "inbox", "inbox_counts"} <= set(counts)
            and not any(counts.values()))


def test_bad_dumps_leave_the_store_empty(world, tmp_path):
    w = world
    raw = w["dump1"].read_bytes()
    lines = raw.split(b"\n")[:-1]
    base = w["pg_url"].rsplit("/", 1)[0]
    psql(base + "/postgres", "CREATE DATABASE bad ENCODING 'UTF8' TEMPLATE template0")
    pgurl = base + "/bad"
    cases = []
    # truncated at a line boundary: found at the end
    cases.append(("truncated", b"\n".join(lines[:2500]) + b"\n", 2501, "truncated"))
    # cut inside a line
    cut = len(b"\n".join(lines[:2000])) + 40
    cases.append(("cut", raw[:cut], 2001, "not a JSON object"))
    # one line garbled in the middle
    g = list(lines)
    g[1234] = g[1234][:30] + b"\x00garbage" + g[1234][30:]
    cases.append(("garbled", b"\n".join(g) + b"\n", 1235, "not a JSON object"))
    # a line that is JSON but not a valid row
    g = list(lines)
    row = json.loads(g[1500])
    row["id"] = "NOT-AN-ID"
    g[1500] = json.dumps(row).encode()
    cases.append(("bad id", b"\n".join(g) + b"\n", 1501, 'field "id"'))
    # out of seq order
    g = list(lines)
    g.insert(1100, g[1099])
    cases.append(("seq order", b"\n".join(g) + b"\n", 1101, "seq order"))
    # a row the store refuses: an account twice (counted in the header)
    g = list(lines)
    header = json.loads(g[0])
    header["counts"]["accounts"] += 1
    g[0] = json.dumps(header).encode()
    g.insert(2, g[1])
    cases.append(("duplicate id", b"\n".join(g) + b"\n", 3, "refused"))
    # not a dump at all
    cases.append(("not a dump", b'{"hello":"world"}\n', 1, "header"))
    cases.append(("empty", b"", 1, "empty"))
    for i, (what, data, line, words) in enumerate(cases):
        p = tmp_path / ("bad-%d.jsonl" % i)
        p.write_bytes(data)
        stores = [("--data-dir", tmp_path / ("bad-store-%d" % i))]
        if what in ("truncated", "garbled", "duplicate id"):
            stores.append(("--db", pgurl))
        for store in stores:
            cp = restore_from(p, *store, check=False)
            assert cp.returncode == 1, (what, store, cp.err_text)
            assert ("line %d:" % line) in cp.err_text, (what, cp.err_text)
            assert words in cp.err_text, (what, cp.err_text)
            assert "nothing was restored" in cp.err_text
            counts, rows = counts_of(*store, tmp=tmp_path)
            assert is_empty(counts) and rows == [], (what, store)


def test_progress_bar_only_on_a_terminal(world, tmp_path):
    w = world
    master, slave = pty.openpty()
    try:
        with open(w["dump1"], "rb") as f:
            p = subprocess.Popen([str(BIN), "restore", "--data-dir", str(tmp_path / "tty")],
                                 stdin=f, stdout=subprocess.PIPE, stderr=slave, cwd=str(REPO))
        os.close(slave)
        slave = None
        seen = b""
        while True:
            r, _, _ = select.select([master], [], [], 0.2)
            if r:
                try:
                    chunk = os.read(master, 65536)
                except OSError:
                    break
                if not chunk:
                    break
                seen += chunk
            elif p.poll() is not None:
                break
        p.stdout.read()
        assert p.wait(timeout=120) == 0
    finally:
        os.close(master)
        if slave is not None:
            os.close(slave)
    text = seen.decode(errors="replace")
    assert not sanitizer_hits(text), text[-4000:]
    total = sum(dump_lines(w["dump1"])[0]["counts"].values())
    assert "\r" in text and "100%" in text and ("%d/%d rows" % (total, total)) in text, text[-500:]
    draws = text.count(" rows")
    assert 1 <= draws <= 200, draws
    # and none when stderr is not a terminal
    cp = restore_from(w["dump1"], "--data-dir", tmp_path / "notty")
    assert "\r" not in cp.err_text and "rows" not in cp.err_text
