"""Durability: data survives a clean restart and a SIGKILL after a 2xx."""

import os
import signal
import stat
from concurrent.futures import ThreadPoolExecutor

import pytest

from apilib import (MASK, Api, assert_error, assert_status, body_of, data_dir_bytes,
                    http_body, netsuite_distributed_body, secret_value, webhook_body)


def snapshot(a, ids):
    out = {}
    for i in ids:
        r = a.get("/v1/exports/" + i)
        out[i] = (r.status_code, r.content, r.headers.get("ETag"))
    return out


def test_sigterm_restart_keeps_everything(server_factory, leak_watch):
    srv = server_factory()
    a = srv.api()
    revoked = srv.api(a.account)
    s = secret_value("restart")
    leak_watch.append(s)
    docs = [a.create(http_body(name="r%d" % i)) for i in range(5)]
    hook = a.create(webhook_body(webhook={"provider": "github", "key": s}))
    dist = a.create(netsuite_distributed_body())
    assert_status(a.put("/v1/exports/%s/distributed" % dist["_id"], json={"recordType": "so"}), 200)
    a.replace(docs[1]["_id"], http_body(name="updated"))
    assert_status(a.delete("/v1/exports/" + docs[2]["_id"]), 204)
    srv.cli("token", "revoke", revoked.info["id"])
    ids = [d["_id"] for d in docs] + [hook["_id"], dist["_id"]]
    before = snapshot(a, ids)
    listing, _ = a.list_all()
    user = body_of(a.get("/v1/tokenInfo"))
    key_before = (srv.data_dir / "secret.key").read_bytes()

    assert srv.stop() == 0
    srv.start()
    a2 = Api(srv.url, a.token)
    assert snapshot(a2, ids) == before
    assert before[docs[2]["_id"]][0] == 404
    listing2, _ = a2.list_all()
    assert listing2 == listing
    assert body_of(a2.get("/v1/tokenInfo")) == user
    assert_status(Api(srv.url, revoked.token).get("/v1/tokenInfo"), 401)
    assert body_of(a2.get("/v1/exports/%s/distributed" % dist["_id"])) == {"recordType": "so"}
    # the secret key is reused, not regenerated, and the secret still works
    assert (srv.data_dir / "secret.key").read_bytes() == key_before
    assert stat.S_IMODE(os.stat(srv.data_dir / "secret.key").st_mode) == 0o600
    u = a2.replace(hook["_id"], webhook_body(name="h", webhook={"provider": "github", "key": MASK}))
    assert u["webhook"] == {"provider": "github", "key": MASK}
    # new writes after the restart get fresh ids and land at the end
    n = a2.create(http_body(name="after"))
    assert n["_id"] not in ids
    assert a2.list_all()[0][-1]["_id"] == n["_id"]
    for name, data in data_dir_bytes(srv.data_dir).items():
        assert s.encode() not in data, name


def test_sigkill_after_2xx_loses_nothing(server_factory):
    srv = server_factory()
    a = srv.api()
    keep = a.create(http_body(name="keep"))
    gone = a.create(http_body(name="gone"))

    def mk(i):
        c = Api(srv.url, a.token)
        return c.create(http_body(name="k%02d" % i))
    with ThreadPoolExecutor(8) as ex:
        made = list(ex.map(mk, range(40)))
    upd = a.replace(keep["_id"], http_body(name="keep-updated"))
    assert_status(a.delete("/v1/exports/" + gone["_id"]), 204)
    last = a.create(http_body(name="last"))
    rc = srv.kill()
    assert rc == -signal.SIGKILL
    srv.start()
    a2 = Api(srv.url, a.token)
    for d in made + [upd, last]:
        assert a2.fetch(d["_id"]) == d
    assert_error(a2.get("/v1/exports/" + gone["_id"]), 404, "not_found")
    items, _ = a2.list_all()
    assert len(items) == 42
    assert items[0]["_id"] == keep["_id"]
    assert items[-1]["_id"] == last["_id"]
    # still fully writable
    a2.create(http_body(name="post-crash"))
    assert srv.stop() == 0


def test_sigkill_right_after_single_post(server_factory):
    srv = server_factory()
    a = srv.api()
    e = a.create(http_body(name="only"))
    srv.kill()
    srv.start()
    a2 = Api(srv.url, a.token)
    assert a2.fetch(e["_id"]) == e


@pytest.mark.skipif(os.environ.get("EXPORTD_DB", "").startswith("postgres"),
                    reason="the SQLite files and key file of the embedded store")
def test_data_files_created(server_factory):
    srv = server_factory()
    srv.api().create(http_body())
    assert (srv.data_dir / "exportd.db").exists()
    assert (srv.data_dir / "secret.key").exists()
    assert stat.S_IMODE(os.stat(srv.data_dir / "secret.key").st_mode) == 0o600


def test_sigint_exits_cleanly(server_factory):
    srv = server_factory()
    a = srv.api()
    e = a.create(http_body())
    assert srv.stop(signal.SIGINT) == 0
    srv.start()
    assert Api(srv.url, a.token).fetch(e["_id"]) == e
