"""Lost updates under real concurrency (spec §4; decisions.md If-Match) and
concurrent creation."""

import threading
from concurrent.futures import ThreadPoolExecutor

from apilib import (Api, assert_error, assert_no_body, assert_status, body_of, http_body,
                    netsuite_distributed_body, unique)

ROUNDS = 20


def etag(resp):
    t = resp.headers.get("ETag")
    assert t and t.startswith('"') and t.endswith('"'), "bad ETag %r" % t
    return t


def race(fns):
    """Run the callables at the same moment, one thread each; return results."""
    barrier = threading.Barrier(len(fns))
    out = [None] * len(fns)

    def run(i):
        barrier.wait(10)
        out[i] = fns[i]()
    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(fns))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return out


def two_clients(new_api):
    a = new_api()
    b = Api(a.base_url, new_api(a.account).token)      # second token, same account
    return a, b


def test_concurrent_put_if_match_one_wins(new_api):
    a, b = two_clients(new_api)
    e = a.create(http_body(name="race-0"))
    for rnd in range(ROUNDS):
        ga = a.get("/v1/exports/" + e["_id"])
        gb = b.get("/v1/exports/" + e["_id"])
        assert_status(ga, 200)
        assert_status(gb, 200)
        ta, tb = etag(ga), etag(gb)
        assert ta == tb
        names = ["race-%d-a" % rnd, "race-%d-b" % rnd]
        ra, rb = race([
            lambda: a.put("/v1/exports/" + e["_id"], json=http_body(name=names[0]),
                          headers={"If-Match": ta}),
            lambda: b.put("/v1/exports/" + e["_id"], json=http_body(name=names[1]),
                          headers={"If-Match": tb}),
        ])
        statuses = sorted([ra.status_code, rb.status_code])
        assert statuses == [200, 412], "round %d: %r" % (rnd, statuses)
        win, lose, wname = (ra, rb, names[0]) if ra.status_code == 200 else (rb, ra, names[1])
        assert_error(lose, 412, "conflict")
        assert body_of(win)["name"] == wname
        g = a.get("/v1/exports/" + e["_id"])
        assert body_of(g) == body_of(win)
        assert body_of(g)["name"] == wname
        assert etag(g) == etag(win) != ta


def test_concurrent_distributed_put_if_match_one_wins(new_api):
    a, b = two_clients(new_api)
    e = a.create(netsuite_distributed_body())
    for rnd in range(ROUNDS // 2):
        g = a.get("/v1/exports/%s/distributed" % e["_id"])
        assert_status(g, 200)
        t = etag(g)
        assert t == etag(a.get("/v1/exports/" + e["_id"])), "distributed and export ETags differ"
        ra, rb = race([
            lambda: a.put("/v1/exports/%s/distributed" % e["_id"], json={"recordType": "a%d" % rnd},
                          headers={"If-Match": t}),
            lambda: b.put("/v1/exports/%s/distributed" % e["_id"], json={"recordType": "b%d" % rnd},
                          headers={"If-Match": t}),
        ])
        assert sorted([ra.status_code, rb.status_code]) == [200, 412], rnd
        win, lose = (ra, rb) if ra.status_code == 200 else (rb, ra)
        assert_error(lose, 412, "conflict")
        assert body_of(a.get("/v1/exports/%s/distributed" % e["_id"])) == body_of(win)


def test_distributed_put_if_match(api):
    e = api.create(netsuite_distributed_body())
    g0 = api.get("/v1/exports/%s/distributed" % e["_id"])
    t0 = etag(g0)
    p = api.put("/v1/exports/%s/distributed" % e["_id"], json={"recordType": "v1"},
                headers={"If-Match": t0})
    assert_status(p, 200)
    t1 = etag(p)
    assert t1 != t0
    q = api.put("/v1/exports/%s/distributed" % e["_id"], json={"recordType": "stale"},
                headers={"If-Match": t0})
    assert_error(q, 412, "conflict")
    q = api.put("/v1/exports/%s/distributed" % e["_id"], json={"recordType": "weak"},
                headers={"If-Match": "W/" + t1})
    assert_error(q, 412, "conflict")
    g = api.get("/v1/exports/%s/distributed" % e["_id"])
    assert body_of(g) == {"recordType": "v1"}
    assert etag(g) == t1
    p = api.put("/v1/exports/%s/distributed" % e["_id"], json={"recordType": "v2"},
                headers={"If-Match": "*"})
    assert_status(p, 200)
    p = api.put("/v1/exports/%s/distributed" % e["_id"], json={"recordType": "v3"},
                headers={"If-Match": '"nope", %s' % etag(p)})
    assert_status(p, 200)
    assert body_of(api.get("/v1/exports/%s/distributed" % e["_id"])) == {"recordType": "v3"}


def test_delete_stale_if_match(api):
    r = api.post("/v1/exports", json=http_body())
    e = body_of(r)
    stale = etag(r)
    cur = api.replace(e["_id"], http_body(name="v2"))
    d = api.delete("/v1/exports/" + e["_id"], headers={"If-Match": stale})
    assert_error(d, 412, "conflict")
    g = api.get("/v1/exports/" + e["_id"])
    assert_status(g, 200)
    assert body_of(g) == cur
    d = api.delete("/v1/exports/" + e["_id"], headers={"If-Match": "W/" + etag(g)})
    assert_error(d, 412, "conflict")
    assert_status(api.get("/v1/exports/" + e["_id"]), 200)
    d = api.delete("/v1/exports/" + e["_id"], headers={"If-Match": '"a", "b", %s' % etag(g)})
    assert_status(d, 204)
    assert_no_body(d)
    assert_error(api.get("/v1/exports/" + e["_id"]), 404, "not_found")


def test_if_match_star_weak_and_list(api):
    r = api.post("/v1/exports", json=http_body(name="v0"))
    e = body_of(r)
    t = etag(r)
    # weak form of the current tag never matches
    q = api.put("/v1/exports/" + e["_id"], json=http_body(name="weak"), headers={"If-Match": "W/" + t})
    assert_error(q, 412, "conflict")
    g = api.get("/v1/exports/" + e["_id"])
    assert body_of(g) == e and etag(g) == t
    # a list containing the current tag matches
    p = api.put("/v1/exports/" + e["_id"], json=http_body(name="listed"),
                headers={"If-Match": 'W/"x", "y",%s' % t})
    assert_status(p, 200)
    assert body_of(p)["name"] == "listed"
    # a list of only stale or weak tags does not
    q = api.put("/v1/exports/" + e["_id"], json=http_body(name="no"),
                headers={"If-Match": '%s, W/%s' % (t, etag(p))})
    assert_error(q, 412, "conflict")
    # "*" matches any existing export
    p = api.put("/v1/exports/" + e["_id"], json=http_body(name="star"), headers={"If-Match": "*"})
    assert_status(p, 200)
    assert body_of(p)["name"] == "star"
    d = api.delete("/v1/exports/" + e["_id"], headers={"If-Match": "*"})
    assert_status(d, 204)
    # "*" on an export that does not exist
    q = api.put("/v1/exports/" + e["_id"], json=http_body(name="gone"), headers={"If-Match": "*"})
    assert q.status_code in (404, 412), q.status_code
    assert_error(api.get("/v1/exports/" + e["_id"]), 404, "not_found")


def test_concurrent_put_without_if_match_last_writer_wins(new_api):
    a, b = two_clients(new_api)
    e = a.create(http_body(name="lww"))
    ra, rb = race([
        lambda: a.put("/v1/exports/" + e["_id"], json=http_body(name="lww-a")),
        lambda: b.put("/v1/exports/" + e["_id"], json=http_body(name="lww-b")),
    ])
    assert_status(ra, 200)
    assert_status(rb, 200)
    g = a.get("/v1/exports/" + e["_id"])
    assert body_of(g)["name"] in ("lww-a", "lww-b")
    assert etag(g) in (etag(ra), etag(rb))
    assert etag(ra) != etag(rb)


def test_50_concurrent_posts(fresh_api):
    a = fresh_api
    names = ["conc-%02d-%s" % (i, unique("p")) for i in range(50)]
    local = threading.local()

    def create(name):
        if not hasattr(local, "api"):
            local.api = Api(a.base_url, a.token)
        r = local.api.post("/v1/exports", json=http_body(name=name))
        return r.status_code, (body_of(r) if r.status_code == 201 else r.text)

    with ThreadPoolExecutor(8) as ex:
        results = list(ex.map(create, names))
    assert [s for s, _ in results] == [201] * 50, [x for x in results if x[0] != 201][:3]
    docs = [d for _, d in results]
    ids = [d["_id"] for d in docs]
    assert len(set(ids)) == 50
    assert len({d["apiIdentifier"] for d in docs}) == 50
    assert sorted(d["name"] for d in docs) == sorted(names)
    items, _ = a.list_all()
    got = [x["_id"] for x in items]
    assert len(got) == 50 and sorted(got) == sorted(ids), "list does not hold each export once"
    by_id = {d["_id"]: d for d in docs}
    assert all(x == by_id[x["_id"]] for x in items)
    stamps = [x["createdAt"] for x in items]
    assert stamps == sorted(stamps)
