"""Dump and restore carry the audit log and state; stores and dumps made
before them (schema 3, dumps without audit or state lines) upgrade."""

import json
import os
import sqlite3
import subprocess
import time

import pytest

from apilib import BIN, REPO, Api, assert_status, body_of, dump_comparable, http_body

ON_SQLITE = pytest.mark.skipif(os.environ.get("EXPORTD_DB", "").startswith("postgres"),
                               reason="restores a SQLite store")


def dump_of(data_dir):
    cp = subprocess.run([str(BIN), "dump", "--data-dir", str(data_dir)], capture_output=True,
                        check=True, timeout=60, cwd=str(REPO))
    return cp.stdout


def restore(data_dir, dump):
    data_dir.mkdir(exist_ok=True)
    cp = subprocess.run([str(BIN), "restore", "--data-dir", str(data_dir)], input=dump,
                        capture_output=True, timeout=60, cwd=str(REPO))
    assert cp.returncode == 0, cp.stderr


def fill(a):
    e = a.create(http_body(name="d"))
    a.replace(e["_id"], http_body(name="d2"))
    assert_status(a.put("/v1/state/g", data=b'{"v":1}', headers={"Content-Type": "application/json"}), 200)
    assert_status(a.put("/v1/exports/%s/state/k" % e["_id"], data=b"[1]",
                        headers={"Content-Type": "application/json"}), 200)
    return e


@ON_SQLITE
def test_dump_restore_dump_is_identical(server_factory, tmp_path):
    src = server_factory()
    a = src.api()
    e = fill(a)
    log = body_of(a.get("/v1/audit"))
    assert src.stop() == 0
    d1 = dump_of(src.data_dir)
    kinds = [json.loads(l)["kind"] for l in d1.decode().splitlines()]
    # the export's create and update, and its connection's create
    assert kinds.count("audit") == 3 and kinds.count("state") == 2
    restore(tmp_path / "r", d1)
    d2 = dump_of(tmp_path / "r")
    assert dump_comparable(d1) == dump_comparable(d2)
    srv = server_factory(data_dir=tmp_path / "r")
    b = Api(srv.url, a.token)
    assert body_of(b.get("/v1/audit")) == log
    assert body_of(b.get("/v1/exports/%s/state/k" % e["_id"])) == [1]
    # new entries come after the restored ones
    b.replace(e["_id"], http_body(name="d3"))
    assert body_of(b.get("/v1/audit"))[0]["fieldChanges"][0]["newValue"] == "d3"


@ON_SQLITE
def test_dump_without_audit_or_state_restores_and_serves(server_factory, tmp_path):
    """The dump format of the release before: no audit or state lines, and
    no counts or sequence for them in the header."""
    src = server_factory()
    a = src.api()
    e = fill(a)
    assert src.stop() == 0
    lines = [json.loads(l) for l in dump_of(src.data_dir).decode().splitlines()]
    head = lines[0]
    for k in ("audit", "state"):
        del head["counts"][k]
    del head["sequences"]["audit"]
    old = [head] + [l for l in lines[1:] if l["kind"] not in ("audit", "state")]
    restore(tmp_path / "old", ("\n".join(json.dumps(l) for l in old) + "\n").encode())
    srv = server_factory(data_dir=tmp_path / "old")
    b = Api(srv.url, a.token)
    assert b.fetch(e["_id"])["name"] == "d2"
    assert b.get("/v1/audit").status_code == 204
    b.replace(e["_id"], http_body(name="d3"))
    assert [x["event"] for x in body_of(b.get("/v1/audit"))] == ["update"]


@ON_SQLITE
def test_schema_3_file_is_upgraded_in_place(server_factory):
    """A store as the release before left it: migrations 1-3, no audit,
    state or connections tables."""
    src = server_factory()
    a = src.api()
    e = a.create(http_body(name="kept"))
    assert src.stop() == 0
    db = sqlite3.connect(str(src.data_dir / "exportd.db"))
    db.executescript("DROP TABLE audit; DROP TABLE state; DROP TABLE connections;"
                     " PRAGMA user_version=3;")
    db.close()
    src.start()
    b = Api(src.url, a.token)
    assert b.fetch(e["_id"])["name"] == "kept"
    r = b.post("/v1/connections", json={"name": "new", "type": "http", "http": {
        "baseURI": "https://api.example.com", "mediaType": "json"}})
    assert_status(r, 201)
    b.replace(e["_id"], http_body(name="upgraded", _connectionId=r.json()["_id"]))
    assert body_of(b.get("/v1/audit"))[0]["event"] == "update"
    assert_status(b.put("/v1/state/x", data=b"1", headers={"Content-Type": "application/json"}), 200)
    db = sqlite3.connect(str(src.data_dir / "exportd.db"))
    assert db.execute("PRAGMA user_version").fetchone()[0] == 5
    db.close()


@ON_SQLITE
def test_old_entries_are_pruned(server_factory, tmp_path):
    src = server_factory()
    a = src.api()
    fill(a)
    assert src.stop() == 0
    lines = [json.loads(l) for l in dump_of(src.data_dir).decode().splitlines()]
    old_ms = int(time.time() * 1000) - 40 * 86400 * 1000
    first = [l for l in lines if l["kind"] == "audit"][0]
    first["time_ms"] = old_ms
    restore(tmp_path / "p", ("\n".join(json.dumps(l) for l in lines) + "\n").encode())
    srv = server_factory(data_dir=tmp_path / "p", extra_args=["--audit-retention-days", "30"])
    b = Api(srv.url, a.token)
    deadline = time.time() + 10
    kept = sum(1 for l in lines if l["kind"] == "audit") - 1
    while time.time() < deadline and len(body_of(b.get("/v1/audit"))) != kept:
        time.sleep(0.1)
    got = body_of(b.get("/v1/audit"))
    # newest first: the dump's entries but the oldest, in reverse
    assert [x["_id"] for x in got] == [l["id"] for l in lines if l["kind"] == "audit"][1:][::-1]
