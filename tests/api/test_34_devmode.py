"""Developer mode: serve --ephemeral (a throwaway store, gone at exit),
--dev-token (a token known in advance) and --seed FILE (exports loaded at
start, with their ids, checked and sealed as a POST would)."""

import json
import os
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import requests

from apilib import (BIN, CONN_A, MASK, REPO, Api, assert_error, assert_status, data_dir_bytes,
                    free_port, needs_binary, sanitizer_hits)

pytestmark = needs_binary

ON_PG = bool(os.environ.get("EXPORTD_DB"))


def oid_like():
    return uuid.uuid4().hex[:24]


def dev_token():
    return "ci-token-" + uuid.uuid4().hex


def hook_record(oid, secret):
    return {"_id": oid, "name": "Orders", "type": "webhook",
            "webhook": {"provider": "custom", "verify": "secret_url", "token": secret}}


SEED_CONN = None     # the seed's own connection: a new id each test, since a
                     # shared PostgreSQL store keeps the dev account's rows


@pytest.fixture(autouse=True)
def seed_connection_id():
    global SEED_CONN
    SEED_CONN = oid_like()


def conn_record(oid=None, password="pw-" + uuid.uuid4().hex, ctype="http"):
    oid = oid or SEED_CONN
    block = ({"baseURI": "https://api.example.com", "mediaType": "json",
              "auth": {"type": "basic", "basic": {"username": "u", "password": password}}}
             if ctype == "http" else {"hostURI": "ftp.example.com", "username": "u",
                                      "password": password})
    return {"_id": oid, "type": ctype, "name": "Source API", ctype: block}


def http_record(oid, name="Items", conn=None):
    return {"_id": oid, "name": name, "adaptorType": "HTTPExport",
            "_connectionId": conn or SEED_CONN,
            "http": {"method": "GET", "relativeURI": "/items"}}


class Serve:
    """One `exportd serve` with the given flags and environment, on a free
    port; stopped by its PID."""

    def __init__(self, tmp, args, env=None, drop=()):
        self.tmp = Path(tmp)
        self.port = free_port()
        self.env = {k: v for k, v in os.environ.items() if k not in drop}
        self.env.update(env or {})
        self.err_path = self.tmp / ("serve-%d.err" % self.port)
        argv = [str(BIN), "serve", "--listen", "127.0.0.1:%d" % self.port] + [str(a) for a in args]
        with open(self.err_path, "wb") as ef:
            self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=ef,
                                         stdin=subprocess.DEVNULL, cwd=str(self.tmp),
                                         env=self.env)

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def wait_ready(self, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, "exportd exited: " + self.stderr()
            try:
                if requests.get(self.url + "/v1/health", timeout=2).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.05)
        self.stop()
        raise AssertionError("exportd did not become ready: " + self.stderr())

    def wait_exit(self, timeout=20):
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("exportd did not exit: " + self.stderr())

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.wait_exit()

    def stderr(self):
        return self.err_path.read_text(errors="replace")

    def check_output(self, *secrets):
        err = self.stderr()
        assert not sanitizer_hits(err), err
        for s in secrets:
            assert s not in err, "a secret or token is in the server's log"


@pytest.fixture
def serve(tmp_path):
    started = []

    def start(args, ready=True, **kw):
        s = Serve(tmp_path, args, **kw)
        started.append(s)
        return s.wait_ready() if ready else s

    yield start
    for s in started:
        if s.proc.poll() is None:
            s.stop(signal.SIGKILL)


def write_json(path, value):
    path.write_text(json.dumps(value))
    return path


def ephemeral_dir(srv):
    for line in srv.stderr().splitlines():
        if "ephemeral store in " in line:
            return Path(line.split("ephemeral store in ", 1)[1].split(":", 1)[0])
    raise AssertionError("no ephemeral store line in: " + srv.stderr())


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_ephemeral_dev_token_seed_serve_and_vanish(serve, tmp_path, sig):
    tok, secret = dev_token(), "SeCrEt-" + uuid.uuid4().hex
    a, b = oid_like(), oid_like()
    seed = write_json(tmp_path / "exports.json",
                      [hook_record(a, secret), http_record(b), conn_record(password=secret)])
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    srv = serve(["--ephemeral", "--dev-token", tok, "--seed", seed],
                env={"TMPDIR": str(tmpdir)}, drop=("EXPORTD_DB",))
    d = ephemeral_dir(srv)
    assert d.parent == tmpdir and d.is_dir()
    assert oct(d.stat().st_mode & 0o777) == "0o700"
    assert (d / "exportd.db").exists()
    assert not (d / "secret.key").exists()      # the key lives in memory only
    assert "deleted when the server stops" in srv.stderr()
    api = Api(srv.url, tok)
    assert_status(api.get("/v1/tokenInfo"), 200)
    items, _ = api.list_all()
    assert [e["_id"] for e in items] == [a, b]
    hook = api.fetch(a)
    assert hook["webhook"]["token"] == MASK and secret not in json.dumps(items)
    # the seed's connection, listed after the export naming it in the file
    r = api.get("/v1/connections")
    assert_status(r, 200)
    conns = r.json()
    assert [c["_id"] for c in conns] == [SEED_CONN]
    assert conns[0]["http"]["auth"]["basic"]["password"] == MASK
    assert api.fetch(b)["_connectionId"] == SEED_CONN
    assert hook["adaptorType"] == "WebhookExport" and hook["apiIdentifier"].startswith("e")
    # the sealed secret is the real one: the listener verifies with it
    r = requests.post(srv.url + "/v1/exports/%s/%s/data" % (a, secret), json={"n": 1},
                      timeout=10)
    assert r.status_code in (200, 202, 204), r.text
    r = requests.post(srv.url + "/v1/exports/%s/%s/data" % (a, "Wrong" + secret),
                      json={"n": 1}, timeout=10)
    assert r.status_code == 401, r.text
    # only the dev token opens it
    assert_error(Api(srv.url, "ci-token-" + uuid.uuid4().hex).get("/v1/exports"), 401,
                 "unauthorized")
    assert srv.stop(sig) == 0, srv.stderr()
    assert not d.exists(), list(d.iterdir())
    assert list(tmpdir.iterdir()) == []
    srv.check_output(tok, secret)


def test_ephemeral_alone_is_empty_and_removed(serve, tmp_path):
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    srv = serve(["--ephemeral"], env={"TMPDIR": str(tmpdir)}, drop=("EXPORTD_DB",))
    d = ephemeral_dir(srv)
    assert d.is_dir()
    assert srv.stop() == 0
    assert not d.exists()
    assert not (tmp_path / "var").exists()


@pytest.mark.parametrize("flag", [["--data-dir", "d"], ["--db", "sqlite:x.db"],
                                  ["--secret-key-file", "k"]])
def test_ephemeral_refuses_a_place_for_data(serve, tmp_path, flag):
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    srv = serve(["--ephemeral"] + flag, ready=False, env={"TMPDIR": str(tmpdir)},
                drop=("EXPORTD_DB",))
    assert srv.wait_exit() != 0
    assert "--ephemeral" in srv.stderr() and flag[0] in srv.stderr(), srv.stderr()
    assert list(tmpdir.iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["tmp", srv.err_path.name])


def test_ephemeral_refuses_a_data_dir_from_the_environment(serve, tmp_path):
    srv = serve(["--ephemeral"], ready=False, drop=("EXPORTD_DB",),
                env={"EXPORTD_DATA_DIR": str(tmp_path / "d")})
    assert srv.wait_exit() != 0
    assert "--data-dir" in srv.stderr(), srv.stderr()
    assert not (tmp_path / "d").exists()


def persistent_args(tmp_path):
    """Where a persistent store lives: the data dir (SQLite), or the
    cluster of EXPORTD_DB with its key in the data dir."""
    (tmp_path / "data").mkdir(exist_ok=True)
    return ["--data-dir", tmp_path / "data"]


def assert_nothing_created(tmp_path):
    assert list((tmp_path / "data").iterdir()) == []


def test_dev_token_and_seed_persist_once(serve, tmp_path):
    tok, secret = dev_token(), "SeCrEt-" + uuid.uuid4().hex
    a, b = oid_like(), oid_like()
    seed = tmp_path / "exports.jsonl"
    seed.write_text(json.dumps(conn_record()) + "\n" +
                    json.dumps(hook_record(a, secret)) + "\n\n" +
                    json.dumps(http_record(b)) + "\n")
    args = persistent_args(tmp_path) + ["--seed", seed]
    srv = serve(args, env={"EXPORTD_DEV_TOKEN": tok})
    api = Api(srv.url, tok)
    assert api.fetch(a)["webhook"]["token"] == MASK
    changed = http_record(b, name="Changed through the API")
    del changed["_id"]
    api.replace(b, changed)
    assert srv.stop() == 0
    if not ON_PG:
        files = data_dir_bytes(tmp_path / "data")
        assert "exportd.db" in files
        assert not any(secret.encode() in v for v in files.values())
        assert not any(tok.encode() in v for v in files.values())
    # a restart with the same flags keeps what is there, adds nothing
    srv = serve(args, env={"EXPORTD_DEV_TOKEN": tok})
    api = Api(srv.url, tok)
    assert api.fetch(b)["name"] == "Changed through the API"
    assert api.fetch(a)["webhook"]["token"] == MASK
    assert "0 record(s) added, 3 already there" in srv.stderr()
    assert srv.stop() == 0
    srv.check_output(tok, secret)
    cp = subprocess.run([str(BIN), "token", "list", "--data-dir", str(tmp_path / "data")],
                        capture_output=True, text=True, timeout=30, cwd=str(REPO))
    assert cp.returncode == 0, cp.stderr
    dev_rows = [l for l in cp.stdout.splitlines() if l.rstrip().endswith(" dev")]
    assert len(dev_rows) >= 1
    assert tok not in cp.stdout


@pytest.mark.parametrize("records, problem", [
    ([{"name": "no id", "type": "simple", "simple": {"file": {"type": "csv"}}}],
     "record 2: _id is required"),
    ([{"_id": "nothex", "name": "x", "type": "simple"}], "record 2: _id is required"),
    ([{"_id": "5f0a1b2c3d4e5f6a7b8c9d11", "type": "webhook",
       "webhook": {"provider": "github"}}], "name is required"),
    ([{"_id": "5f0a1b2c3d4e5f6a7b8c9d11", "name": "n", "adaptorType": "NoSuchExport"}],
     "field adaptorType"),
    ([{"_id": "5f0a1b2c3d4e5f6a7b8c9d11", "name": "n", "type": "webhook",
       "webhook": {"provider": "github", "key": 42}}], "field webhook.key"),
    (["not an object"], "record 2 must be a JSON object"),
    # or one of a type it cannot read through
    ([conn_record("5f0a1b2c3d4e5f6a7b8c9d22", ctype="ftp"),
      http_record("5f0a1b2c3d4e5f6a7b8c9d11", conn="5f0a1b2c3d4e5f6a7b8c9d22")],
     "record 3 (export 5f0a1b2c3d4e5f6a7b8c9d11), field _connectionId"),
    # a connection that is not valid
    ([{"_id": "5f0a1b2c3d4e5f6a7b8c9d33", "type": "http", "name": "no block"}],
     "record 2 (connection 5f0a1b2c3d4e5f6a7b8c9d33)"),
])
def test_invalid_seed_stops_start_and_creates_nothing(serve, tmp_path, records, problem):
    tok = dev_token()
    first = http_record(oid_like())
    seed = write_json(tmp_path / "exports.json", [first] + records + [conn_record()])
    srv = serve(persistent_args(tmp_path) + ["--dev-token", tok, "--seed", seed],
                ready=False)
    assert srv.wait_exit() == 1
    err = srv.stderr()
    assert problem in err, err
    assert "nothing was loaded" in err, err
    assert_nothing_created(tmp_path)              # no key, no database
    srv.check_output(tok)
    # nothing of the first, valid record was stored either
    srv = serve(persistent_args(tmp_path) + ["--dev-token", tok])
    assert_error(Api(srv.url, tok).get("/v1/exports/" + first["_id"]), 404, "not_found")
    assert srv.stop() == 0


@pytest.mark.parametrize("text, problem", [
    ('{"_id":"5f0a1b2c3d4e5f6a7b8c9d11","name":"a","type":"simple","simple":{"file":{"type":"csv"}}}\n{"name": \n',
     "record 2 (line 2) is not valid JSON"),
    ('\n\n[1, 2', "not valid JSON"),
    ('{"a": 1}', "record 1: _id is required"),
    ('{"_id":"5f0a1b2c3d4e5f6a7b8c9d11","name":"a","type":"simple","simple":{"file":{"type":"csv"}}}\n'
     '{"_id":"5F0A1B2C3D4E5F6A7B8C9D11","name":"b","type":"simple","simple":{"file":{"type":"csv"}}}\n',
     "_id 5f0a1b2c3d4e5f6a7b8c9d11 is also record 1's"),
])
def test_malformed_seed_file(serve, tmp_path, text, problem):
    seed = tmp_path / "seed"
    seed.write_text(text)
    srv = serve(persistent_args(tmp_path) + ["--dev-token", dev_token(), "--seed", seed],
                ready=False)
    assert srv.wait_exit() == 1
    assert problem in srv.stderr(), srv.stderr()
    assert_nothing_created(tmp_path)


def test_seed_id_of_another_account_is_refused(serve, server_factory, tmp_path):
    # another account's export, in the store the seed goes to
    other = server_factory(data_dir=tmp_path / "data")
    body = http_record(oid_like(), conn=CONN_A)     # a real connection of theirs
    del body["_id"]
    theirs = other.api().create(body)
    other.stop()
    mine = http_record(oid_like())
    seed = write_json(tmp_path / "s.json", [mine, http_record(theirs["_id"]), conn_record()])
    tok = dev_token()
    srv = serve(persistent_args(tmp_path) + ["--dev-token", tok, "--seed", seed],
                ready=False)
    assert srv.wait_exit() == 1
    assert "record 2: _id %s belongs to an export of another account" % theirs["_id"] \
        in srv.stderr(), srv.stderr()
    srv = serve(persistent_args(tmp_path) + ["--dev-token", tok])
    assert_error(Api(srv.url, tok).get("/v1/exports/" + mine["_id"]), 404, "not_found")
    assert srv.stop() == 0


@pytest.mark.parametrize("args, problem", [
    (["--dev-token", "short-token"], "--dev-token must be 16 to 512 characters"),
    (["--dev-token", "has spaces in it, sixteen+"], "--dev-token must be"),
    (["--seed", "x.json"], "give --dev-token TOKEN too"),
])
def test_bad_dev_flags_create_nothing(serve, tmp_path, args, problem):
    srv = serve(persistent_args(tmp_path) + args, ready=False)
    assert srv.wait_exit() != 0
    assert problem in srv.stderr(), srv.stderr()
    assert_nothing_created(tmp_path)


def test_help_lists_the_developer_options():
    cp = subprocess.run([str(BIN), "serve", "--help"], capture_output=True, text=True,
                        timeout=10)
    assert cp.returncode == 0
    for flag in ("--ephemeral", "--dev-token TOKEN", "--seed FILE", "EXPORTD_DEV_TOKEN"):
        assert flag in cp.stdout, flag


def test_seed_derives_adaptor_and_names_a_stored_connection(serve, tmp_path):
    """An export without adaptorType takes it from the seed's connection,
    as a POST does; a later seed may name a connection the account already
    has in the store."""
    tok, pw = dev_token(), "pw-" + uuid.uuid4().hex
    a, b = oid_like(), oid_like()
    first = http_record(a)
    del first["adaptorType"]
    seed = write_json(tmp_path / "one.json", [first, conn_record(password=pw)])
    args = persistent_args(tmp_path) + ["--dev-token", tok]
    srv = serve(args + ["--seed", seed])
    api = Api(srv.url, tok)
    assert api.fetch(a)["adaptorType"] == "HTTPExport"
    for rid in (a, SEED_CONN):                  # a seed writes no audit entry
        assert_status(api.get("/v1/audit", params={"_resourceId": rid}), 204)
    assert srv.stop() == 0
    if not ON_PG:
        files = data_dir_bytes(tmp_path / "data")
        assert not any(pw.encode() in v for v in files.values())
    # the second seed has only an export, naming the stored connection
    seed2 = write_json(tmp_path / "two.json", [http_record(b)])
    srv = serve(args + ["--seed", seed2])
    api = Api(srv.url, tok)
    assert api.fetch(b)["_connectionId"] == SEED_CONN
    # deleting the connection the seeded exports use is refused
    assert_error(api.delete("/v1/connections/" + SEED_CONN), 409, "conflict")
    assert srv.stop() == 0
    srv.check_output(tok, pw)


def test_seed_naming_no_connection_loads_nothing(serve, tmp_path):
    """An export naming a connection neither the seed nor the account has
    is refused once the store is open, before anything is written."""
    tok = dev_token()
    first = http_record(oid_like())
    lost = http_record(oid_like(), conn="5f0a1b2c3d4e5f6a7b8c9dff")
    seed = write_json(tmp_path / "s.json", [conn_record(), first, lost])
    args = persistent_args(tmp_path) + ["--dev-token", tok]
    srv = serve(args + ["--seed", seed], ready=False)
    assert srv.wait_exit() == 1
    err = srv.stderr()
    assert "record 3 (export %s), field _connectionId: Invalid reference" % lost["_id"] \
        in err, err
    assert "nothing was loaded" in err
    srv = serve(args)
    api = Api(srv.url, tok)
    assert_error(api.get("/v1/exports/" + first["_id"]), 404, "not_found")
    assert_error(api.get("/v1/connections/" + SEED_CONN), 404, "not_found")
    assert srv.stop() == 0
