"""List filters, projection and paging over 2,000 mixed exports in one
account (spec §3 Listing; decisions.md: Link, projection)."""

import threading
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qs, urlparse

import pytest

from apilib import (ADAPTOR_TYPES, ANY, CONN_A, CONN_B, CONN_C, MASK, MISSING, Api,
                    adaptor_body, assert_errors, assert_no_body, assert_status, body_of,
                    get_path, parse_link_next, secret_value, unique)

N = 2000
WORKERS = 8
TOKENS = 4
INT1 = "64a1b2c3d4e5f6a7b8c9d0e1"
INT2 = "64a1b2c3d4e5f6a7b8c9d0e2"
CONNS = [CONN_A, CONN_B, CONN_C]
INTS = [INT1, INT2, None]
CONNECTED_TYPES = [None, "test", "delta", "once"]


def make_body(i, secrets):
    """Export number i of the mix: adaptor, type, connection, integration and
    name vary with different periods so that every combination occurs."""
    adaptor = ADAPTOR_TYPES[i % len(ADAPTOR_TYPES)]
    name = "mix-%02d" % (i % 37)
    if adaptor == "WebhookExport":
        if (i // 14) % 2 == 0:
            hook = {"provider": "github", "key": secrets["key"]}
        else:
            hook = {"provider": "custom", "verify": "token", "token": secrets["token"],
                    "path": "auth.token"}
        b = {"name": name, "adaptorType": adaptor, "type": "webhook", "webhook": hook}
    elif adaptor == "SimpleExport":
        b = {"name": name, "adaptorType": adaptor, "type": "simple",
             "simple": {"file": {"type": "csv"}}}
    else:
        b = adaptor_body(adaptor, name=name, _connectionId=CONNS[(i // 3) % 3])
        t = CONNECTED_TYPES[(i // 14) % 4]
        if t == "test":
            b.update(type="test", test={"limit": 1 + i % 100})
        elif t == "delta":
            b.update(type="delta", delta={} if adaptor == "HTTPExport" else {"dateField": "modified"})
        elif t == "once":
            b.update(type="once", once={"booleanField": "exported"})
            if adaptor == "DynamodbExport":
                b["dynamodb"]["onceExportPartitionKey"] = "id"
    integ = INTS[(i // 5) % 3]
    if integ is not None:
        b["_integrationId"] = integ
    b["seq"] = i
    return b


@pytest.fixture(scope="module")
def mix(server, leak_watch):
    """(api, full list in server order, secrets) for N exports made by 8
    threads over 4 tokens of one fresh account."""
    if server is None:
        pytest.skip("needs fresh accounts")
    acct = unique("mix")
    apis = [server.api(acct) for _ in range(TOKENS)]
    secrets = {"key": secret_value("mixkey"), "token": secret_value("mixtok")}
    leak_watch.extend(secrets.values())
    created = {}
    lock = threading.Lock()

    def work(w):
        a = Api(apis[w % TOKENS].base_url, apis[w % TOKENS].token)
        mine = {}
        for i in range(w, N, WORKERS):
            r = a.post("/v1/exports", json=make_body(i, secrets))
            assert_status(r, 201)
            doc = body_of(r)
            mine[doc["_id"]] = doc
        with lock:
            created.update(mine)

    with ThreadPoolExecutor(WORKERS) as ex:
        list(ex.map(work, range(WORKERS)))
    assert len(created) == N
    a = apis[0]
    full, resps = a.list_all()
    assert [len(body_of(r)) for r in resps] == [1000, 1000]
    for r in resps:
        assert secrets["key"] not in r.text and secrets["token"] not in r.text
    ids = [x["_id"] for x in full]
    assert len(ids) == len(set(ids)) == N
    assert set(ids) == set(created)
    stamps = [x["createdAt"] for x in full]
    assert stamps == sorted(stamps), "list is not oldest first"
    for x in full:
        assert x == created[x["_id"]]
    return a, full, secrets, apis


def ids(items):
    return [x["_id"] for x in items]


def real(a, flt):
    """flt with a connection placeholder replaced by the account's real
    connection for it (of the type the filter's adaptorType reads through)."""
    out = dict(flt)
    if out.get("_connectionId") in CONNS:
        out["_connectionId"] = a.connection(out["_connectionId"], out.get("adaptorType", "HTTPExport"))
    return out


def matching(full, flt):
    return [x for x in full if all(x.get(k, MISSING) == v for k, v in flt.items())]


def list_pages(a, params, secrets=None):
    """GET with params, follow Link; returns (items, responses)."""
    items, resps = [], []
    r = a.get("/v1/exports", params=params)
    for _ in range(200):
        resps.append(r)
        if r.status_code == 204:
            assert_no_body(r)
            break
        assert_status(r, 200)
        if secrets:
            for s in secrets.values():
                assert s not in r.text
        items.extend(body_of(r))
        nxt = parse_link_next(r)
        if nxt is None:
            break
        r = a.get(nxt)
    else:
        raise AssertionError("too many pages")
    return items, resps


FILTERS = (
    [{"adaptorType": a} for a in ADAPTOR_TYPES]
    + [{"type": t} for t in ("test", "delta", "once", "webhook", "simple")]
    + [{"_connectionId": c} for c in CONNS]
    + [{"_integrationId": INT1}, {"_integrationId": INT2}]
    + [{"name": "mix-00"}, {"name": "mix-36"}]
    + [{"adaptorType": "HTTPExport", "type": "test"},
       {"adaptorType": "FTPExport", "_connectionId": CONN_B},
       {"_connectionId": CONN_C, "name": "mix-05"},
       {"type": "delta", "_integrationId": INT2},
       {"adaptorType": "WebhookExport", "name": "mix-12", "type": "webhook"},
       {"adaptorType": "S3Export", "type": "once", "_connectionId": CONN_A, "_integrationId": INT1},
       {"adaptorType": "RDBMSExport", "type": "test", "_connectionId": CONN_A,
        "_integrationId": INT2, "name": "mix-04"},
       {"type": "test", "_integrationId": INT1, "name": "mix-09"}]
)


def test_each_filter_alone_and_combined(mix):
    a, full, secrets, _ = mix
    nonempty = 0
    for flt in FILTERS:
        flt = real(a, flt)
        exp = matching(full, flt)
        got, resps = list_pages(a, flt, secrets)
        assert ids(got) == ids(exp), "filter %r: %d items, expected %d" % (flt, len(got), len(exp))
        assert got == exp
        nonempty += bool(exp)
        if not exp:
            assert [r.status_code for r in resps] == [204], flt
    assert nonempty == len(FILTERS), "every filter of the table should match something"
    # exact matches only, and values that match nothing give 204
    for flt in ({"adaptorType": "httpexport"}, {"type": "stream"}, {"name": "mix-0"},
                {"_connectionId": a.connection(CONN_A).upper()},
                {"_integrationId": "64a1b2c3d4e5f6a7b8c9d0e3"},
                {"adaptorType": "WebhookExport", "_connectionId": a.connection(CONN_A)}):
        r = a.get("/v1/exports", params=flt)
        assert_status(r, 204)
        assert_no_body(r)


def test_include_projection(mix):
    a, full, secrets, _ = mix
    got, _ = list_pages(a, {"include": "http.method,webhook.provider"}, secrets)
    assert ids(got) == ids(full)
    for item, doc in zip(got, full):
        exp = {"_id": doc["_id"], "name": doc["name"], "adaptorType": doc["adaptorType"]}
        if "http" in doc:
            exp["http"] = {"method": doc["http"]["method"]}
        if "webhook" in doc:
            exp["webhook"] = {"provider": doc["webhook"]["provider"]}
        assert item == exp
    # include always adds _id, name and adaptorType, even when not asked for
    got, _ = list_pages(a, {"include": "type", "adaptorType": "SimpleExport"})
    assert got == [{"_id": d["_id"], "name": d["name"], "adaptorType": "SimpleExport",
                    "type": "simple"} for d in matching(full, {"adaptorType": "SimpleExport"})]
    # an unknown path adds nothing
    got, _ = list_pages(a, {"include": "nosuch.path", "type": "once"})
    assert got == [{"_id": d["_id"], "name": d["name"], "adaptorType": d["adaptorType"]}
                   for d in matching(full, {"type": "once"})]


def test_include_keeps_secrets_masked(mix):
    a, full, secrets, _ = mix
    hooks = matching(full, {"adaptorType": "WebhookExport"})
    got, _ = list_pages(a, {"adaptorType": "WebhookExport", "include": "webhook.key,webhook.token"},
                        secrets)
    assert ids(got) == ids(hooks)
    for item, doc in zip(got, hooks):
        w = {k: MASK for k in ("key", "token") if k in doc["webhook"]}
        assert w, doc
        assert item == {"_id": doc["_id"], "name": doc["name"], "adaptorType": "WebhookExport",
                        "webhook": w}
    got, _ = list_pages(a, {"adaptorType": "WebhookExport", "include": "webhook"}, secrets)
    assert [x["webhook"] for x in got] == [d["webhook"] for d in hooks]


def test_exclude_projection(mix):
    a, full, secrets, _ = mix
    got, _ = list_pages(a, {"exclude": "http.method,createdAt,_id,name,seq"}, secrets)
    assert ids(got) == ids(full)            # _id is never removed
    for item, doc in zip(got, full):
        exp = {k: v for k, v in doc.items() if k not in ("createdAt", "name", "seq")}
        if "http" in exp:
            exp["http"] = {k: v for k, v in exp["http"].items() if k != "method"}
        assert item == exp
    # secrets stay masked in an exclude projection
    hooks = matching(full, {"adaptorType": "WebhookExport"})
    got, _ = list_pages(a, {"adaptorType": "WebhookExport", "exclude": "webhook.provider"}, secrets)
    for item, doc in zip(got, hooks):
        exp = dict(doc)
        exp["webhook"] = {k: v for k, v in doc["webhook"].items() if k != "provider"}
        assert item == exp
        assert MASK in (item["webhook"].get("key"), item["webhook"].get("token"))


PAGED = [
    ({"_connectionId": CONN_A}, {"include": "http.method,webhook.provider,type"}),
    ({"type": "test"}, {"exclude": "test,lastModified"}),
    ({"_integrationId": INT2, "name": "mix-03"}, {"include": "_integrationId,test.limit"}),
    ({}, {"include": "adaptorType,_connectionId"}),
    ({"adaptorType": "WebhookExport"}, {"exclude": "type"}),
    ({"type": "delta", "_connectionId": CONN_B}, {}),
]


def _project(doc, proj):
    if "include" in proj:
        out = {"_id": doc["_id"], "name": doc["name"], "adaptorType": doc["adaptorType"]}
        for p in proj["include"].split(","):
            v = get_path(doc, p)
            if v is not MISSING:
                cur = out
                parts = p.split(".")
                for part in parts[:-1]:
                    cur = cur.setdefault(part, {})
                cur[parts[-1]] = v
        return out
    if "exclude" in proj:
        out = dict(doc)
        for p in proj["exclude"].split(","):
            out.pop(p, None)
        return out
    return doc


@pytest.mark.parametrize("flt,proj", PAGED, ids=[str(i) for i in range(len(PAGED))])
def test_filters_projection_paging(mix, base_url, flt, proj):
    a, full, secrets, _ = mix
    flt = real(a, flt)
    exp_docs = matching(full, flt)
    assert exp_docs
    params = dict(flt)
    params.update(proj)
    params["limit"] = 150
    got, resps = list_pages(a, params, secrets)
    sizes = [len(body_of(r)) for r in resps]
    n = len(exp_docs)
    assert sizes == [150] * (n // 150) + ([n % 150] if n % 150 else []), sizes
    assert len(ids(got)) == len(set(ids(got))), "duplicates across pages"
    assert ids(got) == ids(exp_docs), "gaps or order differs"
    assert got == [_project(d, proj) for d in exp_docs]
    for r in resps[:-1]:
        nxt = parse_link_next(r)
        assert nxt.startswith(base_url + "/v1/exports"), nxt
        q = parse_qs(urlparse(nxt).query, keep_blank_values=True)
        for k, v in params.items():
            assert q.get(k) == [str(v)], "Link %r lacks %s=%s" % (nxt, k, v)
    assert parse_link_next(resps[-1]) is None


@pytest.mark.parametrize("params", [
    {"include": "name", "exclude": "http"},
    {"include": "", "exclude": ""},
    {"include": "a;b"}, {"include": "a b"}, {"include": "..a"}, {"include": "a..b"},
    {"include": ".a"}, {"include": "a."}, {"include": "http-method"}, {"include": "a[0]"},
    {"include": "a/b"}, {"exclude": "a;b"}, {"exclude": "x y"}, {"exclude": "..a"},
    {"include": ",".join("p%d" % i for i in range(65))},     # more than 64 paths
    {"include": "a" * 129},                                  # a path over 128 characters
    {"include": "a", "adaptorType": "HTTPExport", "exclude": "b"},
])
def test_projection_bad_params_400(mix, params):
    a, _, _, _ = mix
    r = a.get("/v1/exports", params=params)
    assert_errors(r, 400, [("invalid_query_params", ANY)])


def test_projection_limits_accepted(mix):
    a, full, _, _ = mix
    r = a.get("/v1/exports", params={"include": ",".join("p%d" % i for i in range(64)),
                                     "adaptorType": "AS2Export"})
    assert_status(r, 200)
    assert body_of(r) == [{"_id": d["_id"], "name": d["name"], "adaptorType": "AS2Export"}
                          for d in matching(full, {"adaptorType": "AS2Export"})]
    r = a.get("/v1/exports", params={"include": "a" * 128, "adaptorType": "AS2Export"})
    assert_status(r, 200)
    # empty list items are skipped; an empty include is ignored
    r = a.get("/v1/exports", params={"include": "type,,", "adaptorType": "SimpleExport"})
    assert_status(r, 200)
    assert [set(x) for x in body_of(r)] == [{"_id", "name", "adaptorType", "type"}] * 143
    r = a.get("/v1/exports", params={"include": "", "adaptorType": "SimpleExport"})
    assert body_of(r) == matching(full, {"adaptorType": "SimpleExport"})


def test_unknown_query_params_ignored(mix):
    a, full, _, _ = mix
    r = a.get("/v1/exports", params={"foo": "bar", "sort": "-name", "fields": "a;b",
                                     "page": "3", "limit": 1000})
    assert_status(r, 200)
    assert body_of(r) == full[:1000]
    got, _ = list_pages(a, {"adaptorType": "MongodbExport", "filter": "x", "q": "..a"})
    assert got == matching(full, {"adaptorType": "MongodbExport"})


def test_query_param_names_are_case_sensitive(mix):
    """`adaptortype` or `TYPE` are not the filters: unknown, so ignored."""
    a, full, _, _ = mix
    r = a.get("/v1/exports", params={"adaptortype": "FTPExport", "TYPE": "test",
                                     "Name": "mix-01", "INCLUDE": "a;b"})
    assert_status(r, 200)
    assert body_of(r) == full[:1000]


def test_other_tokens_same_view(mix):
    a, full, _, apis = mix
    flt = {"adaptorType": "NetSuiteExport", "_integrationId": INT1}
    exp = matching(full, flt)
    for other in apis[1:]:
        got, _ = list_pages(other, flt)
        assert got == exp
