"""GET /v1/exports: 204, order, limit/skip, Link paging, filters, projection."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from apilib import (ANY, Api, CONN_A, CONN_B, MASK, assert_errors, assert_no_body, assert_status,
                    body_of, http_body, netsuite_distributed_body, parse_link_next,
                    secret_value, unique, webhook_body)

BIG = 2500


def ids(items):
    return [x["_id"] for x in items]


def make_n(api, n, prefix="e"):
    return [api.create(http_body(name="%s%03d" % (prefix, i))) for i in range(n)]


def test_empty_list_is_204(fresh_api):
    r = fresh_api.get("/v1/exports")
    assert_status(r, 204)
    assert_no_body(r)
    assert parse_link_next(r) is None
    r = fresh_api.get("/v1/exports", params={"limit": 10, "skip": 0})
    assert_status(r, 204)
    assert_no_body(r)


def test_list_oldest_first_full_documents(fresh_api):
    made = make_n(fresh_api, 5)
    r = fresh_api.get("/v1/exports")
    assert_status(r, 200)
    assert parse_link_next(r) is None
    assert body_of(r) == made


def test_limit_and_link(fresh_api, base_url):
    made = make_n(fresh_api, 5)
    r = fresh_api.get("/v1/exports", params={"limit": 2})
    assert_status(r, 200)
    assert ids(body_of(r)) == ids(made[:2])
    nxt = parse_link_next(r)
    assert nxt is not None, r.headers.get("Link")
    assert nxt.startswith(base_url + "/v1/exports"), nxt
    r2 = fresh_api.get(nxt)
    assert_status(r2, 200)
    assert ids(body_of(r2)) == ids(made[2:4])
    nxt2 = parse_link_next(r2)
    assert nxt2 is not None and nxt2.startswith(base_url + "/")
    r3 = fresh_api.get(nxt2)
    assert_status(r3, 200)
    assert ids(body_of(r3)) == ids(made[4:])
    assert parse_link_next(r3) is None
    assert "Link" not in r3.headers or 'rel="next"' not in r3.headers["Link"]


def test_no_link_when_last_page_is_exactly_full(fresh_api):
    made = make_n(fresh_api, 4)
    r = fresh_api.get("/v1/exports", params={"limit": 2})
    nxt = parse_link_next(r)
    assert nxt
    r2 = fresh_api.get(nxt)
    assert ids(body_of(r2)) == ids(made[2:])
    assert parse_link_next(r2) is None
    r = fresh_api.get("/v1/exports", params={"limit": 4})
    assert ids(body_of(r)) == ids(made)
    assert parse_link_next(r) is None


def test_skip(fresh_api):
    made = make_n(fresh_api, 6)
    r = fresh_api.get("/v1/exports", params={"skip": 3})
    assert_status(r, 200)
    assert ids(body_of(r)) == ids(made[3:])
    assert parse_link_next(r) is None
    r = fresh_api.get("/v1/exports", params={"skip": 1, "limit": 2})
    assert ids(body_of(r)) == ids(made[1:3])
    nxt = parse_link_next(r)
    assert nxt
    r = fresh_api.get(nxt)
    assert ids(body_of(r)) == ids(made[3:5])
    r = fresh_api.get(parse_link_next(r))
    assert ids(body_of(r)) == ids(made[5:])
    assert parse_link_next(r) is None
    r = fresh_api.get("/v1/exports", params={"skip": 0})
    assert ids(body_of(r)) == ids(made)


def test_keyset_cursor_no_gap_after_delete(fresh_api):
    made = make_n(fresh_api, 10)
    r = fresh_api.get("/v1/exports", params={"limit": 4})
    assert ids(body_of(r)) == ids(made[:4])
    nxt = parse_link_next(r)
    # delete two items of the page already seen, then add one at the end
    for e in made[:2]:
        assert_status(fresh_api.delete("/v1/exports/" + e["_id"]), 204)
    late = fresh_api.create(http_body(name="late"))
    r = fresh_api.get(nxt)
    assert ids(body_of(r)) == ids(made[4:8])
    r = fresh_api.get(parse_link_next(r))
    assert ids(body_of(r)) == ids(made[8:]) + [late["_id"]]
    assert parse_link_next(r) is None


def test_link_preserves_filter(fresh_api):
    a = fresh_api.create(http_body(name="a"))
    fresh_api.create(webhook_body(name="w1"))
    b = fresh_api.create(http_body(name="b"))
    fresh_api.create(webhook_body(name="w2"))
    r = fresh_api.get("/v1/exports", params={"adaptorType": "HTTPExport", "limit": 1})
    assert ids(body_of(r)) == [a["_id"]]
    nxt = parse_link_next(r)
    assert nxt
    r = fresh_api.get(nxt)
    assert ids(body_of(r)) == [b["_id"]]
    assert parse_link_next(r) is None


@pytest.mark.parametrize("params", [
    {"limit": "0"}, {"limit": "-1"}, {"limit": "abc"}, {"limit": ""}, {"limit": "1.5"},
    {"limit": "10abc"}, {"skip": "abc"}, {"skip": "1x"}, {"skip": ""},
])
def test_bad_limit_skip_is_400(api, params):
    api.create(http_body())
    r = api.get("/v1/exports", params=params)
    assert_errors(r, 400, [("invalid_query_params", ANY)])


def test_every_bad_query_parameter_is_reported(fresh_api):
    r = fresh_api.get("/v1/exports", params={"limit": "0", "skip": "-1", "after": "x",
                                              "include": "name", "exclude": "http"})
    assert_errors(r, 400, [("invalid_query_params", "limit"), ("invalid_query_params", "skip"),
                           ("invalid_query_params", "after"), ("invalid_query_params", None)])


def test_bad_limit_on_empty_account_is_400(fresh_api):
    r = fresh_api.get("/v1/exports", params={"limit": "0"})
    assert_errors(r, 400, [("invalid_query_params", ANY)])


def test_unknown_query_params_ignored(fresh_api):
    made = make_n(fresh_api, 3)
    r = fresh_api.get("/v1/exports", params={"foo": "bar", "sort": "-name"})
    assert_status(r, 200)
    assert body_of(r) == made


# --------------------------------------------------------------------------
# Filters and projection


@pytest.fixture
def mixed(fresh_api):
    docs = {
        "h1": fresh_api.create(http_body(name="same", _connectionId=CONN_A)),
        "h2": fresh_api.create(http_body(name="other", _connectionId=CONN_B,
                                         _integrationId="5f0a1b2c3d4e5f6a7b8c9d99")),
        "w": fresh_api.create(webhook_body(name="same")),
        "t": fresh_api.create(http_body(name="t", type="test", test={"limit": 5},
                                        _integrationId="5f0a1b2c3d4e5f6a7b8c9d99")),
        "n": fresh_api.create(netsuite_distributed_body(name="n")),
    }
    return fresh_api, docs


def _ids_for(api, params):
    r = api.get("/v1/exports", params=params)
    assert_status(r, 200)
    return ids(body_of(r))


def test_filters(mixed):
    a, d = mixed
    assert _ids_for(a, {"adaptorType": "HTTPExport"}) == [d["h1"]["_id"], d["h2"]["_id"], d["t"]["_id"]]
    assert _ids_for(a, {"adaptorType": "WebhookExport"}) == [d["w"]["_id"]]
    assert _ids_for(a, {"type": "test"}) == [d["t"]["_id"]]
    assert _ids_for(a, {"type": "distributed"}) == [d["n"]["_id"]]
    assert _ids_for(a, {"_connectionId": CONN_B}) == [d["h2"]["_id"]]
    assert _ids_for(a, {"_integrationId": "5f0a1b2c3d4e5f6a7b8c9d99"}) == [d["h2"]["_id"], d["t"]["_id"]]
    assert _ids_for(a, {"name": "same"}) == [d["h1"]["_id"], d["w"]["_id"]]
    assert _ids_for(a, {"name": "same", "adaptorType": "WebhookExport"}) == [d["w"]["_id"]]
    assert _ids_for(a, {"_connectionId": CONN_A, "adaptorType": "HTTPExport"}) == [d["h1"]["_id"], d["t"]["_id"]]


def test_filter_is_exact_match(mixed):
    a, d = mixed
    assert _ids_for(a, {"adaptorType": "HTTPExport", "name": "t"}) == [d["t"]["_id"]]
    r = a.get("/v1/exports", params={"name": "sam"})
    # an empty page is 204 with no body, never a 200 with []
    assert r.status_code == 204, r.content
    assert r.content == b""


def test_include_projection(mixed):
    a, d = mixed
    r = a.get("/v1/exports", params={"include": "http.method,test"})
    assert_status(r, 200)
    got = body_of(r)
    assert ids(got) == [d[k]["_id"] for k in ("h1", "h2", "w", "t", "n")]
    for item, key in zip(got, ("h1", "h2", "w", "t", "n")):
        full = d[key]
        exp = {"_id": full["_id"], "name": full["name"], "adaptorType": full["adaptorType"]}
        if "http" in full:
            exp["http"] = {"method": full["http"]["method"]}
        if "test" in full:
            exp["test"] = full["test"]
        assert item == exp


def test_exclude_projection(mixed):
    a, d = mixed
    r = a.get("/v1/exports", params={"exclude": "http,createdAt"})
    assert_status(r, 200)
    for item, key in zip(body_of(r), ("h1", "h2", "w", "t", "n")):
        exp = {k: v for k, v in d[key].items() if k not in ("http", "createdAt")}
        assert item == exp


def test_include_masks_secrets(fresh_api, leak_watch):
    s = secret_value("incl")
    leak_watch.append(s)
    fresh_api.create(webhook_body(webhook={"provider": "github", "key": s}))
    r = fresh_api.get("/v1/exports", params={"include": "webhook.key"})
    assert_status(r, 200)
    assert [x["webhook"] for x in body_of(r)] == [{"key": MASK}]
    assert s not in r.text


def test_include_and_exclude_is_400(mixed):
    a, _ = mixed
    r = a.get("/v1/exports", params={"include": "name", "exclude": "http"})
    assert_errors(r, 400, [("invalid_query_params", ANY)])


@pytest.mark.parametrize("param", ["include", "exclude"])
@pytest.mark.parametrize("value", ["a$b", "a;b", "http.method,a-b", "a b", "a[]", "$where"])
def test_projection_paths_are_letters_digits_dots_underscores(mixed, param, value):
    a, _ = mixed
    r = a.get("/v1/exports", params={param: value})
    assert_errors(r, 400, [("invalid_query_params", ANY)])


# --------------------------------------------------------------------------
# 2,500 exports


@pytest.fixture(scope="module")
def big(server):
    """One account with BIG exports created by 8 threads over 4 tokens.
    Returns (api, created docs, send/receive times per id)."""
    if server is None:
        pytest.skip("needs fresh accounts")
    acct = unique("big")
    apis = [server.api(acct) for _ in range(4)]
    workers = 8
    times = {}
    created = []
    lock = threading.Lock()

    def work(w):
        a = Api(apis[w % 4].base_url, apis[w % 4].token)
        mine = []
        for i in range(w, BIG, workers):
            t0 = time.monotonic()
            e = a.create(http_body(name="big-%04d" % i))
            t1 = time.monotonic()
            mine.append((e, t0, t1))
        with lock:
            for e, t0, t1 in mine:
                times[e["_id"]] = (t0, t1)
                created.append(e)
    with ThreadPoolExecutor(workers) as ex:
        list(ex.map(work, range(workers)))
    assert len(created) == BIG
    return apis[0], created, times


def test_paging_2500_by_link(big, base_url):
    a, created, times = big
    items, resps = a.list_all()
    assert [len(body_of(r)) for r in resps] == [1000, 1000, 500]
    for r in resps[:-1]:
        assert parse_link_next(r).startswith(base_url + "/v1/exports")
    assert parse_link_next(resps[-1]) is None
    got = ids(items)
    assert len(got) == len(set(got)), "duplicates across pages"
    assert set(got) == set(times), "missing or foreign exports"
    # oldest first
    stamps = [x["createdAt"] for x in items]
    assert stamps == sorted(stamps), "not ordered by createdAt"
    # consistent with real time: nothing listed after an export whose
    # creation had finished before its own began
    max_start = -1.0
    for i in got:
        t0, t1 = times[i]
        assert t1 >= max_start, "listed after an export created later"
        max_start = max(max_start, t0)
    # pages are full documents, equal to what POST returned
    by_id = {e["_id"]: e for e in created}
    assert all(x == by_id[x["_id"]] for x in items)


def test_paging_2500_small_pages(big):
    a, _, times = big
    items, resps = a.list_all("/v1/exports?limit=300", max_pages=20)
    assert [len(body_of(r)) for r in resps] == [300] * 8 + [100]
    got = ids(items)
    full, _ = a.list_all()
    assert got == ids(full)


def test_limit_capped_at_1000(big):
    a, _, _ = big
    r = a.get("/v1/exports", params={"limit": 5000})
    assert_status(r, 200)
    assert len(body_of(r)) == 1000
    assert parse_link_next(r) is not None
    r = a.get("/v1/exports", params={"limit": 1000})
    assert len(body_of(r)) == 1000


def test_deep_skip(big):
    a, _, _ = big
    full, _ = a.list_all()
    r = a.get("/v1/exports", params={"skip": 2400})
    assert_status(r, 200)
    assert ids(body_of(r)) == ids(full[2400:])
    assert parse_link_next(r) is None
    r = a.get("/v1/exports", params={"skip": 1500, "limit": 600})
    assert ids(body_of(r)) == ids(full[1500:2100])
    nxt = parse_link_next(r)
    r = a.get(nxt)
    assert ids(body_of(r)) == ids(full[2100:2500])
    assert parse_link_next(r) is None


def test_link_host_is_used_only_when_it_is_a_plain_host(fresh_api):
    make_n(fresh_api, 2)
    for host, origin in (("api.example.com:8443", "http://api.example.com:8443"),
                         ("[::1]:9000", "http://[::1]:9000"),
                         ('evil.example">; rel="x', "http://localhost"),
                         ("a b", "http://localhost"),
                         ("user@evil.example", "http://localhost"),
                         ("evil.example/path?", "http://localhost")):
        r = fresh_api.get("/v1/exports", params={"limit": 1}, headers={"Host": host})
        assert_status(r, 200)
        link = r.headers["Link"]
        assert link.count("<") == 1 and link.count(">") == 1, link
        if fresh_api.base_url.startswith("https://"):    # the suite over TLS
            origin = origin.replace("http://", "https://")
        assert link.startswith("<" + origin + "/v1/exports?limit=1&after="), (host, link)
        assert link.endswith('>; rel="next"'), link
