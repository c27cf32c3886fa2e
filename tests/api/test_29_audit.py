"""Audit log (spec §10): one entry per successful write, in the write's own
transaction, with field-level changes and secrets never revealed."""

import os
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from apilib import (MASK, Api, assert_error, assert_status, body_of, data_dir_bytes,
                    http_body, netsuite_distributed_body, parse_link_next, secret_value,
                    webhook_body)


def entries(a, path, **params):
    r = a.get(path, params=params)
    if r.status_code == 204:
        return []
    assert_status(r, 200)
    return body_of(r)


def test_create_update_delete_clone_are_audited(fresh_api):
    a = fresh_api
    e = a.create(http_body(name="orders"))
    a.replace(e["_id"], http_body(name="orders v2", http={"method": "GET", "relativeURI": "/b"}))
    c = body_of(a.post("/v1/exports/%s/clone" % e["_id"]))
    assert_status(a.delete("/v1/exports/" + e["_id"]), 204)
    got = entries(a, "/v1/exports/%s/audit" % e["_id"])
    assert [x["event"] for x in got] == ["delete", "update", "create"]
    for x in got:
        assert x["resourceType"] == "export" and x["_resourceId"] == e["_id"]
        assert x["source"] == "api"
        assert len(x["_id"]) == 24 and x["time"].endswith("Z")
    assert got[0]["fieldChanges"] == [] and got[2]["fieldChanges"] == []
    changes = {c["fieldPath"]: c for c in got[1]["fieldChanges"]}
    assert changes["name"] == {"fieldPath": "name", "oldValue": "orders", "newValue": "orders v2"}
    assert changes["http.relativeURI"]["oldValue"] == "/items"
    assert changes["http.relativeURI"]["newValue"] == "/b"
    assert "lastModified" not in changes
    # the clone is a create of the new export
    cl = entries(a, "/v1/exports/%s/audit" % c["_id"])
    assert [x["event"] for x in cl] == ["create"]
    # /v1/audit holds them all, newest first
    allx = entries(a, "/v1/audit", resourceType="export")
    assert len(allx) == 4
    assert allx[0]["event"] == "delete"
    user = body_of(a.get("/v1/tokenInfo"))["_userId"]
    assert all(x["byUser"]["_id"] == user and x["byUser"].get("name") for x in allx)


def test_field_changes_added_removed_and_arrays(fresh_api):
    a = fresh_api
    e = a.create(http_body(name="f", settings={"a": [1, 2], "gone": 1}))
    a.replace(e["_id"], http_body(name="f", settings={"a": [1, 2, 3], "new": "x"}))
    ch = {c["fieldPath"]: c for c in entries(a, "/v1/exports/%s/audit" % e["_id"])[0]["fieldChanges"]}
    assert ch["settings.a"] == {"fieldPath": "settings.a", "oldValue": [1, 2], "newValue": [1, 2, 3]}
    assert ch["settings.gone"] == {"fieldPath": "settings.gone", "oldValue": 1}
    assert ch["settings.new"] == {"fieldPath": "settings.new", "newValue": "x"}


def test_distributed_put_is_an_update(fresh_api):
    a = fresh_api
    d = a.create(netsuite_distributed_body())
    assert_status(a.put("/v1/exports/%s/distributed" % d["_id"], json={"recordType": "so"}), 200)
    got = entries(a, "/v1/exports/%s/audit" % d["_id"])
    assert got[0]["event"] == "update"
    assert {"fieldPath": "netsuite.distributed.recordType", "newValue": "so"} in got[0]["fieldChanges"]


def test_secret_changes_are_masked_everywhere(server_factory, leak_watch):
    srv = server_factory()
    a = srv.api()
    s1, s2 = secret_value("audit1"), secret_value("audit2")
    leak_watch.extend([s1, s2])
    e = a.create(webhook_body(webhook={"provider": "github", "key": s1}))
    a.replace(e["_id"], webhook_body(name=e["name"], webhook={"provider": "github", "key": s2}))
    # kept with the mask: no change recorded for it
    a.replace(e["_id"], webhook_body(name=e["name"], webhook={"provider": "github", "key": MASK}))
    r = a.get("/v1/exports/%s/audit" % e["_id"])
    assert s1 not in r.text and s2 not in r.text
    got = body_of(r)
    assert got[0]["fieldChanges"] == []
    assert {"fieldPath": "webhook.key", "oldValue": MASK, "newValue": MASK} in got[1]["fieldChanges"]
    # removed: oldValue only
    a.replace(e["_id"], webhook_body(name=e["name"], webhook={"provider": "github"}))
    last = entries(a, "/v1/exports/%s/audit" % e["_id"])[0]
    assert {"fieldPath": "webhook.key", "oldValue": MASK} in last["fieldChanges"]
    dump = srv.cli("dump").stdout
    assert s1 not in dump and s2 not in dump
    srv.stop()
    for name, data in data_dir_bytes(srv.data_dir).items():
        assert s1.encode() not in data and s2.encode() not in data, name
    srv.start()


def test_failed_writes_leave_no_entry(fresh_api):
    a = fresh_api
    e = a.create(http_body(name="x"))
    assert_status(a.put("/v1/exports/" + e["_id"], json={"name": ""}), 422)
    assert_status(a.put("/v1/exports/" + e["_id"], json=http_body(), headers={"If-Match": '"nope"'}), 412)
    assert_status(a.delete("/v1/exports/" + e["_id"], headers={"If-Match": '"nope"'}), 412)
    assert_status(a.post("/v1/exports", json={"name": "no adaptor"}), 422)
    assert [x["event"] for x in entries(a, "/v1/audit")] == ["create", "create"]
    assert [x["resourceType"] for x in entries(a, "/v1/audit")] == ["export", "connection"]


def test_filters(fresh_api):
    a = fresh_api
    conn = a.connection()               # the exports' connection: the first entry
    e1 = a.create(http_body(name="one"))
    e2 = a.create(http_body(name="two"))
    a.replace(e1["_id"], http_body(name="one b"))
    user = body_of(a.get("/v1/tokenInfo"))["_userId"]
    assert len(entries(a, "/v1/audit", resourceType="export")) == 3
    assert [x["_resourceId"] for x in entries(a, "/v1/audit", resourceType="connection")] == [conn]
    assert [x["event"] for x in entries(a, "/v1/audit", _resourceId=e1["_id"])] == ["update", "create"]
    assert [x["_resourceId"] for x in entries(a, "/v1/audit", action="create")] == \
        [e2["_id"], e1["_id"], conn]
    assert len(entries(a, "/v1/audit", source="api")) == 4
    assert entries(a, "/v1/audit", source="ui") == []
    assert len(entries(a, "/v1/audit", _byUserId=user)) == 4
    assert entries(a, "/v1/audit", _byUserId="0" * 24) == []
    times = [x["time"] for x in entries(a, "/v1/audit")]
    newest, oldest = times[0], times[-1]
    assert len(entries(a, "/v1/audit", **{"from": oldest, "to": newest})) == 4
    assert len(entries(a, "/v1/audit", **{"from": newest})) >= 1
    assert entries(a, "/v1/audit", to="2000-01-01T00:00:00.000Z") == []
    assert entries(a, "/v1/audit", **{"from": "2999-01-01T00:00:00.000Z"}) == []
    # the per-export path takes the same filters
    assert [x["event"] for x in entries(a, "/v1/exports/%s/audit" % e1["_id"], action="update")] == ["update"]


@pytest.mark.parametrize("param,value", [
    ("resourceType", "exports"), ("source", "API"), ("action", "edit"),
    ("_resourceId", "xyz"), ("_byUserId", "123"), ("from", "yesterday"),
    ("to", "2026-13-01T00:00:00.000Z"), ("limit", "0"), ("limit", "x"), ("after", "-1"),
])
def test_bad_query_params(fresh_api, param, value):
    r = fresh_api.get("/v1/audit", params={param: value})
    assert_status(r, 400)
    assert [e["code"] for e in body_of(r)["errors"]] == ["invalid_query_params"]


def test_from_after_to_is_400(fresh_api):
    r = fresh_api.get("/v1/audit", params={"from": "2026-02-01T00:00:00.000Z", "to": "2026-01-01T00:00:00.000Z"})
    assert_error(r, 400, "invalid_query_params", "from")


def test_paging_newest_first_with_link(fresh_api):
    a = fresh_api
    ids = [a.create(http_body(name="p%d" % i))["_id"] for i in range(7)]
    seen, url, pages = [], "/v1/audit?limit=3&action=create&resourceType=export", 0
    while url:
        r = a.get(url)
        assert_status(r, 200)
        seen += [x["_resourceId"] for x in body_of(r)]
        url = parse_link_next(r)
        if url:
            assert url.startswith("http://") and "action=create" in url and "limit=3" in url
        pages += 1
    assert pages == 3
    assert seen == ids[::-1]


def test_empty_is_204_and_unknown_export_404(fresh_api, other_api):
    a = fresh_api
    r = a.get("/v1/audit")
    assert r.status_code == 204 and r.content == b""
    assert_error(a.get("/v1/exports/%s/audit" % ("a" * 24)), 404, "not_found")
    assert_error(a.get("/v1/exports/nothex/audit"), 404, "not_found")
    # another account's export and entries are invisible
    e = other_api.create(http_body())
    assert_error(a.get("/v1/exports/%s/audit" % e["_id"]), 404, "not_found")
    assert a.get("/v1/audit").status_code == 204
    assert_status(a.post("/v1/audit"), 405)


def test_unauthenticated(unauth):
    assert_error(unauth.get("/v1/audit"), 401, "unauthorized")


def test_acknowledged_writes_have_entries_after_kill9(server_factory):
    srv = server_factory()
    a = srv.api()
    base = [a.create(http_body(name="b%d" % i)) for i in range(4)]
    acked = []

    def work(i):
        c = Api(srv.url, a.token)
        try:
            if i % 3 == 0:
                r = c.put("/v1/exports/" + base[i % 4]["_id"], json=http_body(name="u%d" % i), timeout=10)
                if r.status_code == 200:
                    acked.append(("update", base[i % 4]["_id"], r.json()["lastModified"]))
            else:
                r = c.post("/v1/exports", json=http_body(name="c%d" % i), timeout=10)
                if r.status_code == 201:
                    acked.append(("create", r.json()["_id"], None))
        except requests.RequestException:
            pass

    with ThreadPoolExecutor(8) as ex:
        futs = [ex.submit(work, i) for i in range(200)]
        # kill while writes are still in flight
        time.sleep(0.4)
        srv.kill()
        for f in futs:
            f.result()
    srv.start()
    a2 = Api(srv.url, a.token)
    items, _ = a2.list_all()
    stored = {x["_id"] for x in items}
    log = entries(a2, "/v1/audit", limit=1000, resourceType="export")
    created = {x["_resourceId"] for x in log if x["event"] == "create"}
    # every acknowledged create has its entry; every create entry is a stored export
    for ev, rid, _ in acked:
        if ev == "create":
            assert rid in created
    assert created == stored
    # updates: at least as many entries as acknowledged, and none for a
    # write that did not commit (each entry's resource exists)
    n_upd = sum(1 for x in log if x["event"] == "update")
    assert n_upd >= sum(1 for x in acked if x[0] == "update")
    assert all(x["_resourceId"] in stored for x in log)
    # the newest update entry of each export says its stored name
    for b in base:
        upd = [x for x in log if x["_resourceId"] == b["_id"] and x["event"] == "update"]
        if upd:
            new = {c["fieldPath"]: c.get("newValue") for c in upd[0]["fieldChanges"]}
            assert new.get("name", b["name"]) == a2.fetch(b["_id"])["name"]
    assert srv.stop() == 0
    srv.start()
