"""ETag on single-export responses; If-Match on PUT and DELETE."""

import re
import time

from apilib import (assert_error, assert_no_body, assert_status, body_of, http_body,
                    netsuite_distributed_body)

STRONG = re.compile(r'^"[\x21\x23-\x7e]+"$')


def etag(resp):
    t = resp.headers.get("ETag")
    assert t is not None, "no ETag on %s %s" % (resp.request.method, resp.request.url)
    assert STRONG.match(t), "not a strong quoted ETag: %r" % t
    return t


def test_etag_everywhere(api):
    r = api.post("/v1/exports", json=http_body())
    assert_status(r, 201)
    e = body_of(r)
    t_post = etag(r)
    g = api.get("/v1/exports/" + e["_id"])
    assert etag(g) == t_post
    time.sleep(0.005)
    p = api.put("/v1/exports/" + e["_id"], json=http_body(name="new"))
    assert_status(p, 200)
    t_put = etag(p)
    assert t_put != t_post
    assert etag(api.get("/v1/exports/" + e["_id"])) == t_put
    c = api.post("/v1/exports/%s/clone" % e["_id"])
    assert_status(c, 201)
    t_clone = etag(c)
    assert t_clone != t_put
    d = api.create(netsuite_distributed_body())
    r = api.get("/v1/exports/%s/distributed" % d["_id"])
    assert_status(r, 200)
    etag(r)
    r = api.put("/v1/exports/%s/distributed" % d["_id"], json={"recordType": "x"})
    assert_status(r, 200)
    etag(r)


def test_etag_changes_with_every_put(api):
    e = api.create(http_body())
    seen = {etag(api.get("/v1/exports/" + e["_id"]))}
    for i in range(5):
        p = api.put("/v1/exports/" + e["_id"], json=http_body(name="n%d" % i))
        seen.add(etag(p))
    assert len(seen) == 6
    assert etag(api.get("/v1/exports/" + e["_id"])) == etag(p)


def test_put_if_match_current(api):
    r = api.post("/v1/exports", json=http_body())
    e = body_of(r)
    p = api.put("/v1/exports/" + e["_id"], json=http_body(name="ok"), headers={"If-Match": etag(r)})
    assert_status(p, 200)
    assert body_of(p)["name"] == "ok"


def test_put_if_match_stale_is_412(api):
    r = api.post("/v1/exports", json=http_body(name="v1"))
    e = body_of(r)
    stale = etag(r)
    p = api.put("/v1/exports/" + e["_id"], json=http_body(name="v2"))
    cur = etag(p)
    v2 = body_of(p)
    time.sleep(0.005)
    q = api.put("/v1/exports/" + e["_id"], json=http_body(name="v3"), headers={"If-Match": stale})
    assert_error(q, 412, "conflict")
    g = api.get("/v1/exports/" + e["_id"])
    assert body_of(g) == v2
    assert etag(g) == cur


def test_put_if_match_garbage_is_412(api):
    e = api.create(http_body(name="g"))
    for val in ('"nope"', 'W/"nope"', '"0"'):
        q = api.put("/v1/exports/" + e["_id"], json=http_body(name="changed"), headers={"If-Match": val})
        assert_error(q, 412, "conflict")
    assert api.fetch(e["_id"]) == e


def test_put_if_match_star(api):
    e = api.create(http_body())
    p = api.put("/v1/exports/" + e["_id"], json=http_body(name="star"), headers={"If-Match": "*"})
    assert_status(p, 200)
    assert body_of(p)["name"] == "star"


def test_put_if_match_list(api):
    r = api.post("/v1/exports", json=http_body())
    e = body_of(r)
    p = api.put("/v1/exports/" + e["_id"], json=http_body(name="list"),
                headers={"If-Match": '"other", %s' % etag(r)})
    assert_status(p, 200)


def test_delete_if_match(api):
    r = api.post("/v1/exports", json=http_body())
    e = body_of(r)
    t = etag(r)
    p = api.put("/v1/exports/" + e["_id"], json=http_body(name="v2"))
    v2 = body_of(p)
    d = api.delete("/v1/exports/" + e["_id"], headers={"If-Match": t})
    assert_error(d, 412, "conflict")
    assert api.fetch(e["_id"]) == v2
    d = api.delete("/v1/exports/" + e["_id"], headers={"If-Match": etag(p)})
    assert_status(d, 204)
    assert_no_body(d)
    assert_error(api.get("/v1/exports/" + e["_id"]), 404, "not_found")


def test_delete_if_match_star(api):
    e = api.create(http_body())
    d = api.delete("/v1/exports/" + e["_id"], headers={"If-Match": "*"})
    assert_status(d, 204)


def test_distributed_put_changes_export_etag(api):
    r = api.post("/v1/exports", json=netsuite_distributed_body())
    e = body_of(r)
    t0 = etag(r)
    time.sleep(0.005)
    api.put("/v1/exports/%s/distributed" % e["_id"], json={"recordType": "x"})
    g = api.get("/v1/exports/" + e["_id"])
    assert etag(g) != t0
    q = api.put("/v1/exports/" + e["_id"], json=netsuite_distributed_body(name="stale"), headers={"If-Match": t0})
    assert_error(q, 412, "conflict")
    assert body_of(api.get("/v1/exports/" + e["_id"])) == body_of(g)


def test_conditional_get(api):
    e = api.create(http_body())
    r = api.get("/v1/exports/" + e["_id"])
    tag = etag(r)
    # If-None-Match with the current tag (strong or weak): 304, no body
    for value in (tag, "W/" + tag, '"other", ' + tag, "*"):
        nm = api.get("/v1/exports/" + e["_id"], headers={"If-None-Match": value})
        assert_status(nm, 304)
        assert nm.content == b""
        assert etag(nm) == tag
    # a stale tag: the full document
    assert_status(api.get("/v1/exports/" + e["_id"], headers={"If-None-Match": '"stale-1"'}), 200)
    # If-Match on GET: 412 unless it matches (strongly)
    assert_error(api.get("/v1/exports/" + e["_id"], headers={"If-Match": '"stale-1"'}),
                 412, "conflict")
    assert_error(api.get("/v1/exports/" + e["_id"], headers={"If-Match": "W/" + tag}),
                 412, "conflict")
    assert_status(api.get("/v1/exports/" + e["_id"], headers={"If-Match": tag}), 200)


def test_clone_if_match_on_source(api):
    e = api.create(http_body())
    tag = etag(api.get("/v1/exports/" + e["_id"]))
    stale = api.post("/v1/exports/%s/clone" % e["_id"], headers={"If-Match": '"stale-1"'})
    assert_error(stale, 412, "conflict")
    ok = api.post("/v1/exports/%s/clone" % e["_id"], headers={"If-Match": tag})
    assert_status(ok, 201)
    assert body_of(ok)["_sourceId"] == e["_id"]
    # the refused clone created nothing
    names = [x["name"] for x in api.list_all()[0] if x.get("_sourceId") == e["_id"]]
    assert len(names) == 1
