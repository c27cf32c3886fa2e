"""Connections in dump and restore (issue 11, item 8): a dump carries them
and restores to the same dump; a dump made by the release before
connections (data/dump-before-connections.jsonl) restores and is served;
a SQLite store of that release upgrades in place."""

import json
import os
import sqlite3
import subprocess

import pytest

from apilib import (BIN, MASK, REPO, Api, assert_error, assert_status, body_of,
                    dump_comparable, http_body, secret_value)

ON_SQLITE = pytest.mark.skipif(os.environ.get("EXPORTD_DB", "").startswith("postgres"),
                               reason="restores a SQLite store")

HERE = os.path.dirname(os.path.abspath(__file__))
OLD_DUMP = os.path.join(HERE, "data", "dump-before-connections.jsonl")
# What the fixture was made with: the release before connections, serving
# with this secret key; one account, this token, three exports (an HTTP
# export and a distributed NetSuite export naming made-up connection ids,
# and a GitHub webhook export with a sealed key).
OLD_KEY = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
OLD_TOKEN = "d716db89ef11e55074d371afed9e78cb"
OLD_HTTP = "6b0fc9bde8060775b554c852"
OLD_HOOK = "6b0fc9bde8060775b554c854"
OLD_NS = "6b0fc9bde8060775b554c856"
OLD_HOOK_KEY = "old-hmac-key-kept-sealed"
KEY_ENV = {"EXPORTD_SECRET_KEY": OLD_KEY}


def cli(*args, data=None):
    cp = subprocess.run([str(BIN)] + list(args), input=data, capture_output=True,
                        timeout=60, cwd=str(REPO), env=dict(os.environ, **KEY_ENV))
    assert cp.returncode == 0, cp.stderr
    return cp.stdout


def dump_of(data_dir):
    return cli("dump", "--data-dir", str(data_dir))


def restore(data_dir, dump):
    data_dir.mkdir(exist_ok=True)
    cli("restore", "--data-dir", str(data_dir), data=dump)


def http_conn(name, token):
    return {"name": name, "type": "http",
            "http": {"baseURI": "https://api.example.com", "mediaType": "json",
                     "auth": {"type": "token", "token": {"token": token}}}}


@ON_SQLITE
def test_dump_restore_dump_keeps_connections(server_factory, tmp_path, leak_watch):
    src = server_factory(env=KEY_ENV)
    a = src.api()
    s = secret_value("dumpconn")
    leak_watch.append(s)
    c = body_of(a.post("/v1/connections", json=http_conn("api", s)))
    ftp = body_of(a.post("/v1/connections", json={"name": "files", "type": "ftp",
                                                    "ftp": {"hostURI": "ftp.example.com",
                                                            "password": s + "-ftp"}}))
    e = a.create(http_body(name="uses it", _connectionId=c["_id"]))
    assert src.stop() == 0
    d1 = dump_of(src.data_dir)
    assert s.encode() not in d1, "a connection secret in clear in the dump"
    lines = [json.loads(x) for x in d1.decode().splitlines()]
    conns = [x for x in lines if x["kind"] == "connection"]
    assert [x["id"] for x in conns] == [c["_id"], ftp["_id"]]
    assert [x["type"] for x in conns] == ["http", "ftp"]
    assert all(x["secrets"] for x in conns)
    assert lines[0]["counts"]["connections"] == 2
    assert lines[0]["sequences"]["connections"] >= conns[-1]["seq"]
    assert lines[-1]["kind"] == "connection", "connections are the last kind"
    restore(tmp_path / "r", d1)
    assert dump_comparable(dump_of(tmp_path / "r")) == dump_comparable(d1)
    # served from the restored store: the same documents, secrets kept
    srv = server_factory(data_dir=tmp_path / "r", env=KEY_ENV)
    b = Api(srv.url, a.token)
    assert body_of(b.get("/v1/connections/" + c["_id"])) == c
    r = b.put("/v1/connections/" + c["_id"], json=http_conn("api", MASK))
    assert_status(r, 200)
    assert r.json()["http"]["auth"]["token"]["token"] == MASK
    assert_error(b.delete("/v1/connections/" + c["_id"]), 409, "conflict")
    assert body_of(b.get("/v1/connections/%s/dependencies" % c["_id"])) == \
        {"exports": [{"id": e["_id"], "name": "uses it"}]}
    # a new connection comes after the restored ones
    n = body_of(b.post("/v1/connections", json=http_conn("new", "t")))
    ids = [x["_id"] for x in body_of(b.get("/v1/connections"))]
    assert ids == [c["_id"], ftp["_id"], n["_id"]]


@ON_SQLITE
def test_dump_of_the_release_before_connections_restores_and_serves(server_factory, tmp_path):
    old = open(OLD_DUMP, "rb").read()
    head = json.loads(old.splitlines()[0])
    assert "connections" not in head["counts"] and "connections" not in head["sequences"]
    restore(tmp_path / "r", old)
    srv = server_factory(data_dir=tmp_path / "r", env=KEY_ENV)
    b = Api(srv.url, OLD_TOKEN)
    srv.tokens.append(OLD_TOKEN)
    # every stored export is read as it was, made-up connection ids included
    got = body_of(b.get("/v1/exports"))
    assert [x["_id"] for x in got] == [OLD_HTTP, OLD_HOOK, OLD_NS]
    assert got[0]["_connectionId"] == "5587092ed78128000000000a"
    assert got[1]["webhook"]["key"] == MASK
    assert b.get("/v1/connections").status_code == 204
    assert body_of(b.get("/v1/exports/%s/dependencies" % OLD_HTTP)) == {}
    # the sealed secret still opens: a PUT keeping it by its mask succeeds
    hook = {"name": "Old hook", "type": "webhook",
            "webhook": {"provider": "github", "key": MASK}}
    assert_status(b.put("/v1/exports/" + OLD_HOOK, json=hook), 200)
    # the next PUT of an export must name a real connection
    body = {"name": "Old items", "adaptorType": "HTTPExport",
            "_connectionId": "5587092ed78128000000000a",
            "http": {"method": "GET", "relativeURI": "/items"}}
    assert_error(b.put("/v1/exports/" + OLD_HTTP, json=body), 422, "invalid_ref", "_connectionId")
    c = body_of(b.post("/v1/connections", json=http_conn("real", "t")))
    body["_connectionId"] = c["_id"]
    assert b.put("/v1/exports/" + OLD_HTTP, json=body).json()["_connectionId"] == c["_id"]
    assert_error(b.delete("/v1/connections/" + c["_id"]), 409, "conflict")
    assert srv.stop() == 0
    d = dump_of(tmp_path / "r")
    assert OLD_HOOK_KEY.encode() not in d
    lines = [json.loads(x) for x in d.decode().splitlines()]
    assert [x["id"] for x in lines if x["kind"] == "connection"] == [c["_id"]]


@ON_SQLITE
def test_store_of_the_release_before_upgrades_in_place(server_factory):
    """A SQLite file as the release before left it (migrations 1-4, no
    connections table) gains the table on start and keeps its exports."""
    src = server_factory()
    a = src.api()
    e = a.create(http_body(name="kept"))
    assert src.stop() == 0
    db = sqlite3.connect(str(src.data_dir / "exportd.db"))
    db.executescript("DROP TABLE connections; PRAGMA user_version=4;")
    db.close()
    src.start()
    b = Api(src.url, a.token)
    assert b.fetch(e["_id"])["name"] == "kept"
    assert b.get("/v1/connections").status_code == 204
    c = body_of(b.post("/v1/connections", json=http_conn("after", "t")))
    assert b.replace(e["_id"], http_body(name="moved", _connectionId=c["_id"]))["name"] == "moved"
    db = sqlite3.connect(str(src.data_dir / "exportd.db"))
    assert db.execute("PRAGMA user_version").fetchone()[0] == 5
    db.close()
