"""POST /v1/exports/{id}/clone."""

import time

from apilib import (API_ID, CONN_A, CONN_B, CONN_C, HEX24, ISO_MS, MASK, assert_status,
                    body_of, http_body, netsuite_distributed_body, secret_value,
                    webhook_body)

COPIED_EXCLUDE = ("_id", "apiIdentifier", "createdAt", "lastModified", "_sourceId", "name")


def clone(api, export_id, **kw):
    r = api.post("/v1/exports/%s/clone" % export_id, **kw)
    assert_status(r, 201)
    c = body_of(r)
    loc = r.headers.get("Location")
    assert loc in ("/v1/exports/" + c["_id"], api.base_url + "/v1/exports/" + c["_id"]), loc
    assert r.headers.get("ETag")
    return c, r


def same_content(a, b):
    return ({k: v for k, v in a.items() if k not in COPIED_EXCLUDE}
            == {k: v for k, v in b.items() if k not in COPIED_EXCLUDE})


def check_new_identity(orig, c):
    assert HEX24.match(c["_id"]) and c["_id"] != orig["_id"]
    assert API_ID.match(c["apiIdentifier"]) and c["apiIdentifier"] != orig["apiIdentifier"]
    assert ISO_MS.match(c["createdAt"]) and c["createdAt"] > orig["createdAt"]
    assert ISO_MS.match(c["lastModified"]) and c["lastModified"] > orig["lastModified"]
    assert c["asynchronous"] is True
    assert c["_sourceId"] == orig["_id"]


def test_clone_empty_body(api):
    orig = api.create(http_body(name="Get Accounts", description="d", extra={"a": [1, 2]}))
    time.sleep(0.01)
    c, r = clone(api, orig["_id"])
    check_new_identity(orig, c)
    assert c["name"] == "Clone - Get Accounts"
    assert same_content(orig, c)
    assert api.fetch(c["_id"]) == c
    assert api.fetch(orig["_id"]) == orig
    assert api.get("/v1/exports/" + c["_id"]).headers.get("ETag") == r.headers.get("ETag")


def test_clone_empty_object(api):
    orig = api.create(http_body(name="Account Flow"))
    time.sleep(0.01)
    c, _ = clone(api, orig["_id"], json={})
    check_new_identity(orig, c)
    assert c["name"] == "Clone - Account Flow"
    assert same_content(orig, c)


def test_clone_with_name(api):
    orig = api.create(http_body())
    time.sleep(0.01)
    c, _ = clone(api, orig["_id"], json={"name": "My copy"})
    check_new_identity(orig, c)
    assert c["name"] == "My copy"
    assert same_content(orig, c)


def test_clone_connection_map(api):
    orig = api.create(http_body(_connectionId=CONN_A))
    a, b = api.connection(CONN_A), api.connection(CONN_B)
    c, _ = clone(api, orig["_id"], json={"connectionMap": {CONN_A: CONN_B}})
    assert c["_connectionId"] == b
    assert api.fetch(c["_id"])["_connectionId"] == b
    assert api.fetch(orig["_id"])["_connectionId"] == a
    c2, _ = clone(api, orig["_id"], json={"connectionMap": {CONN_C: CONN_B}, "name": "n"})
    assert c2["_connectionId"] == a
    assert c2["name"] == "n"


def test_clone_ignores_unknown_options(api):
    orig = api.create(http_body(name="x"))
    c, _ = clone(api, orig["_id"], json={"sandbox": False, "somethingElse": {"a": 1}})
    assert c["name"] == "Clone - x"
    assert "somethingElse" not in c and "sandbox" not in c
    assert same_content(orig, c)


def test_clone_copies_secrets(api, leak_watch):
    s = secret_value("clone")
    leak_watch.append(s)
    orig = api.create(webhook_body(name="hook", webhook={"provider": "github", "key": s}))
    c, r = clone(api, orig["_id"])
    assert c["webhook"] == {"provider": "github", "key": MASK}
    assert s not in r.text
    assert c["adaptorType"] == "WebhookExport"
    # the copied secret is really stored: "******" on PUT keeps it
    u = api.replace(c["_id"], webhook_body(name="hook2", webhook={"provider": "github", "key": MASK}))
    assert u["webhook"] == {"provider": "github", "key": MASK}
    # and erasing it on the clone does not touch the original
    api.replace(c["_id"], webhook_body(name="hook3", webhook={"provider": "github"}))
    assert api.fetch(orig["_id"])["webhook"] == {"provider": "github", "key": MASK}


def test_clone_of_clone(api):
    orig = api.create(http_body(name="o"))
    c1, _ = clone(api, orig["_id"])
    c2, _ = clone(api, c1["_id"])
    assert c2["_sourceId"] == c1["_id"]
    assert c2["name"] == "Clone - Clone - o"
    assert api.fetch(c1["_id"])["_sourceId"] == orig["_id"]


def test_clone_in_list_after_original(fresh_api):
    a = fresh_api.create(http_body(name="a"))
    b = fresh_api.create(http_body(name="b"))
    c, _ = clone(fresh_api, a["_id"])
    items, _ = fresh_api.list_all()
    assert [x["_id"] for x in items] == [a["_id"], b["_id"], c["_id"]]


def test_clone_copies_distributed(api):
    orig = api.create(netsuite_distributed_body())
    api.put("/v1/exports/%s/distributed" % orig["_id"], json={"recordType": "salesorder"})
    c, _ = clone(api, orig["_id"])
    r = api.get("/v1/exports/%s/distributed" % c["_id"])
    assert_status(r, 200)
    assert body_of(r) == {"recordType": "salesorder"}
    # independent copies
    api.put("/v1/exports/%s/distributed" % c["_id"], json={"recordType": "invoice"})
    assert body_of(api.get("/v1/exports/%s/distributed" % orig["_id"])) == {"recordType": "salesorder"}
