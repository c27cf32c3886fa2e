"""Exports that run (export-api.md §13, docs/running.md): invoke, preview
and the virtual exports of a connection, against real servers the tests
start on 127.0.0.1 — json-server from npm and a local source API
(sources.py) — with exportd allowed to reach loopback
(--egress-allow-loopback). Every paging method returns every record once;
every auth type; failures of the source in errors with 200; delta; the
signed pagedExportState; secrets never shown."""

import os
import re
import subprocess
import time
import urllib.parse

import pytest

from apilib import EXTERNAL, Server, assert_error, assert_status, unique, wait_for_log
from sources import BASIC, LOGIN, OAUTH_CLIENT, OAUTH_USER, TOKEN, JsonServer, Source

pytestmark = pytest.mark.skipif(EXTERNAL, reason="starts its own servers")

COUNT = 53


@pytest.fixture(scope="module")
def src():
    s = Source(COUNT)
    yield s
    s.close()


@pytest.fixture(scope="module")
def runner(tmp_path_factory):
    root = tmp_path_factory.mktemp("exportd-runs")
    srv = Server(root / "data", root / "logs",
                 extra_args=["--egress-allow-loopback", "--egress-retries", "2",
                             "--egress-timeout", "2", "--egress-max-response", "65536"])
    srv.start()
    yield srv
    rc = srv.stop()
    assert rc == 0
    assert not srv.sanitizer_report(), srv.sanitizer_report()


@pytest.fixture(scope="module")
def rapi(runner):
    return runner.api()


def connection(api, base, auth=None, **http):
    block = {"baseURI": base, "mediaType": "json"}
    if auth is not None:
        block["auth"] = auth
    block.update(http)
    r = api.post("/v1/connections", json={"name": unique("c"), "type": "http", "http": block})
    assert_status(r, 201)
    return r.json()["_id"]


def export(api, conn, http, **extra):
    body = {"name": unique("e"), "_connectionId": conn, "adaptorType": "HTTPExport",
            "http": http}
    body.update(extra)
    r = api.post("/v1/exports", json=body)
    assert_status(r, 201)
    return r.json()["_id"]


def invoke(api, eid, **body):
    r = api.post("/v1/exports/%s/invoke" % eid, json=body, timeout=60)
    assert_status(r, 200)
    return r.json()


def run_all(api, conn, http, **extra):
    """Every page of an unsaved export through the connection."""
    doc = {"http": http}
    doc.update(extra)
    r = api.post("/v1/connections/%s/export" % conn, json={"export": doc}, timeout=60)
    assert_status(r, 200)
    return r.json()


def ids(records):
    return [r["id"] for r in records]


ALL = list(range(1, COUNT + 1))


# ---- paging: every method, every record exactly once ----

@pytest.mark.parametrize("http", [
    {"method": "GET", "relativeURI": "/page?limit=10&page={{{export.http.paging.page}}}",
     "response": {"resourcePath": "data"},
     "paging": {"method": "page", "page": 1, "maxPagePath": "meta.totalPages"}},
    {"method": "GET", "relativeURI": "/page?limit=10&page={{{export.http.paging.page}}}",
     "response": {"resourcePath": "data"},
     "paging": {"method": "page", "page": 1, "maxCountPath": "meta.total"}},
    {"method": "GET", "relativeURI": "/page?limit=7&page={{{export.http.paging.page}}}",
     "response": {"resourcePath": "data"}, "paging": {"method": "page", "page": 1}},
    {"method": "GET", "relativeURI": "/page404?limit=10&page={{{export.http.paging.page}}}",
     "paging": {"method": "page", "page": 1}},
    {"method": "GET", "relativeURI": "/skip?limit=9&skip={{export.http.paging.skip}}",
     "response": {"resourcePath": "rows"},
     "paging": {"method": "skip", "maxCountPath": "count"}},
    {"method": "GET", "relativeURI": "/token?cursor={{{encodeURI export.http.paging.token}}}",
     "response": {"resourcePath": "items"},
     "paging": {"method": "token", "path": "next", "pathLocation": "body"}},
    {"method": "GET", "relativeURI": "/token?cursor={{{export.http.paging.token}}}",
     "response": {"resourcePath": "items"},
     "paging": {"method": "token", "path": "X-Next", "pathLocation": "header"}},
    {"method": "GET", "relativeURI": "/url", "response": {"resourcePath": "items"},
     "paging": {"method": "url", "path": "links.next"}},
    {"method": "GET", "relativeURI": "/link", "paging": {"method": "linkheader"}},
    {"method": "GET", "relativeURI": "/rel", "response": {"resourcePath": "results"},
     "paging": {"method": "relativeuri",
                "relativeURI": "/rel?after={{previous_page.last_record.id}}"}},
    {"method": "POST", "relativeURI": "/graphql", "body": '{"after": null}',
     "response": {"resourcePath": "data.items"},
     "paging": {"method": "body",
                "body": '{"after": {{previous_page.full_response.data.pageInfo.endCursor}}}',
                "lastPagePath": "data.pageInfo.hasNextPage", "lastPageValues": ["false"]}},
], ids=["page-maxpage", "page-maxcount", "page-empty", "page-404", "skip", "token-body",
        "token-header", "url", "linkheader", "relativeuri", "body"])
def test_paging_every_record_once(rapi, src, http):
    conn = connection(rapi, src.url)
    out = run_all(rapi, conn, http)
    assert out["errors"] == []
    assert ids(out["data"]) == ALL
    assert out["dataURIs"] == [None] * COUNT
    # the same through a saved export and invoke all
    eid = export(rapi, conn, http)
    out = invoke(rapi, eid, all=True)
    assert out["errors"] == [] and ids(out["data"]) == ALL


def test_invoke_first_page_is_pagesize(rapi, src, runner):
    conn = connection(rapi, src.url)
    eid = export(rapi, conn, {"method": "GET", "relativeURI": "/link",
                              "paging": {"method": "linkheader"}}, pageSize=4)
    before = len(src.seen("/link"))
    out = invoke(rapi, eid)
    assert ids(out["data"]) == [1, 2, 3, 4] and out["errors"] == []
    assert len(src.seen("/link")) == before + 1      # one request, not the run
    wait_for_log(runner, "run: invoke of export %s: 1 page, 4 records, 0 errors" % eid)


# ---- json-server, a third-party API from npm ----

@pytest.fixture(scope="module")
def jsonserver(tmp_path_factory):
    js = JsonServer(tmp_path_factory.mktemp("json-server"), 95)
    yield js
    js.close()


def test_json_server_page_and_link_header(rapi, jsonserver):
    conn = connection(rapi, jsonserver.url)
    out = run_all(rapi, conn, {"method": "GET", "relativeURI": "/items?_page=1&_limit=10",
                               "paging": {"method": "linkheader"}})
    assert out["errors"] == [] and ids(out["data"]) == list(range(1, 96))
    out = run_all(rapi, conn, {
        "method": "GET",
        "relativeURI": "/items?_page={{export.http.paging.page}}&_limit=20",
        "paging": {"method": "page", "page": 1}})
    assert out["errors"] == [] and ids(out["data"]) == list(range(1, 96))


def test_json_server_skip(rapi, jsonserver):
    conn = connection(rapi, jsonserver.url)
    r = rapi.post("/v1/connections/%s/export" % conn, json={"export": {"http": {
        "method": "GET",
        "relativeURI": "/items?_start={{export.http.paging.skip}}&_limit=30",
        "paging": {"method": "skip"}}}}, timeout=60)
    assert_status(r, 200)
    assert r.json()["errors"] == [] and ids(r.json()["data"]) == list(range(1, 96))


# ---- auth: every type ----

def test_basic_auth(rapi, src):
    conn = connection(rapi, src.url, {"type": "basic", "basic": {
        "username": BASIC[0], "password": BASIC[1]}})
    out = run_all(rapi, conn, {"method": "GET", "relativeURI": "/basic"})
    assert out["errors"] == [] and ids(out["data"]) == [1, 2, 3]
    bad = connection(rapi, src.url, {"type": "basic", "basic": {
        "username": BASIC[0], "password": "wrong-password"}})
    out = run_all(rapi, bad, {"method": "GET", "relativeURI": "/basic"})
    assert out["data"] == []
    assert [(e["code"], e["statusCode"], e["source"]) for e in out["errors"]] == \
        [("http_status", 401, "application")]


@pytest.mark.parametrize("token", [
    {"location": "header", "scheme": "Bearer"},
    {"location": "header"},
    {"location": "url"},
    {"location": "header", "headerName": "X-Api-Key", "scheme": " "},
], ids=["bearer", "default-scheme", "url", "custom-header"])
def test_token_auth(rapi, src, token):
    token = dict(token, token=TOKEN)
    conn = connection(rapi, src.url, {"type": "token", "token": token})
    out = run_all(rapi, conn, {"method": "GET", "relativeURI": "/bearer"})
    assert out["errors"] == [] and ids(out["data"]) == [1, 2, 3]


@pytest.mark.parametrize("oauth", [
    {"grantType": "clientcredentials", "clientId": OAUTH_CLIENT[0],
     "clientSecret": OAUTH_CLIENT[1], "scope": ["read", "write"]},
    {"grantType": "clientcredentials", "clientId": OAUTH_CLIENT[0],
     "clientSecret": OAUTH_CLIENT[1], "clientCredentialsLocation": "body"},
    {"grantType": "password", "clientId": OAUTH_CLIENT[0], "clientSecret": OAUTH_CLIENT[1],
     "username": OAUTH_USER[0], "password": OAUTH_USER[1]},
], ids=["clientcredentials", "credentials-in-body", "password"])
def test_oauth_token_fetched_cached_and_refreshed(rapi, src, oauth):
    conn = connection(rapi, src.url, {"type": "oauth", "failStatusCode": 401,
                                      "oauth": dict(oauth, tokenURI=src.url + "/oauth/token")})
    eid = export(rapi, conn, {"method": "GET", "relativeURI": "/oauth/items"})
    before = src.token_requests
    assert ids(invoke(rapi, eid)["data"]) == [1, 2, 3, 4]
    assert ids(invoke(rapi, eid)["data"]) == [1, 2, 3, 4]
    assert src.token_requests == before + 1          # cached per connection
    src.expire_tokens()
    out = invoke(rapi, eid)                          # 401, a new token, again
    assert out["errors"] == [] and ids(out["data"]) == [1, 2, 3, 4]
    assert src.token_requests == before + 2


def test_oauth_bad_client_is_an_error_without_the_secret(rapi, src, runner):
    secret = "wrong-secret-" + unique("x")
    conn = connection(rapi, src.url, {"type": "oauth", "oauth": {
        "grantType": "clientcredentials", "clientId": OAUTH_CLIENT[0], "clientSecret": secret,
        "tokenURI": src.url + "/oauth/token"}})
    out = run_all(rapi, conn, {"method": "GET", "relativeURI": "/oauth/items"})
    assert out["data"] == []
    assert [(e["code"], e.get("statusCode")) for e in out["errors"]] == [("auth_failed", 401)]
    assert secret not in str(out)
    assert secret not in runner.stderr_text()


def test_cookie_login(rapi, src):
    conn = connection(rapi, src.url, {"type": "cookie", "cookie": {
        "uri": src.url + "/login", "method": "POST", "body": json_text(LOGIN),
        "successStatusCode": 200}})
    eid = export(rapi, conn, {"method": "GET", "relativeURI": "/session/items"})
    before = src.login_requests
    assert ids(invoke(rapi, eid)["data"]) == [1, 2]
    assert ids(invoke(rapi, eid)["data"]) == [1, 2]
    assert src.login_requests == before + 1
    src.expire_tokens()                              # the session is gone: log in again
    out = invoke(rapi, eid)
    assert out["errors"] == [] and ids(out["data"]) == [1, 2]
    assert src.login_requests == before + 2


def test_custom_auth_with_encrypted_values(rapi, src):
    conn = connection(rapi, src.url, {"type": "custom"},
                      encrypted={"apiKey": TOKEN},
                      headers=[{"name": "X-Api-Key",
                                "value": "{{{connection.http.encrypted.apiKey}}}"}])
    out = run_all(rapi, conn, {"method": "GET", "relativeURI": "/bearer"})
    assert out["errors"] == [] and ids(out["data"]) == [1, 2, 3]


def json_text(v):
    import json
    return json.dumps(v)


# ---- the request as built ----

def test_request_building(rapi, src):
    conn = connection(rapi, src.url + "/", None,
                      headers=[{"name": "X-Both", "value": "connection"},
                               {"name": "X-Conn", "value": "c-{{connection.name}}"}])
    r = rapi.post("/v1/exports/preview", json={
        "_connectionId": conn, "adaptorType": "HTTPExport",
        "http": {"method": "POST", "relativeURI": "/echo?since={{{lastExportDateTime}}}&s="
                 "{{settings.shop}}&r={{record.id}}",
                 "body": '{"q": "{{{settings.shop}}}"}', "requestMediaType": "json",
                 "headers": [{"name": "x-both", "value": "export"}]},
        "postData": {"lastExportDateTime": "2024-01-02T03:04:05.000Z"}})
    assert_status(r, 200)
    out = r.json()
    req = out["stages"][0]["data"][0]
    assert out["stages"][0]["name"] == "request"
    assert req["method"] == "POST"
    assert req["url"] == src.url + "/echo?since=2024-01-02T03:04:05.000Z&s=&r="
    seen = out["data"][0]
    assert seen["headers"]["Content-Type"] == "application/json"
    assert seen["headers"]["X-Both"] == "export"
    assert seen["headers"]["X-Conn"].startswith("c-c")
    assert seen["body"] == '{"q": ""}'
    assert [s["name"] for s in out["stages"]] == ["request", "raw", "parse"]
    # settings and data reach templates on invoke
    eid = export(rapi, conn, {"method": "GET",
                              "relativeURI": "/echo?s={{settings.shop}}&r={{record.id}}"})
    out = invoke(rapi, eid, settings={"shop": "north"}, data={"id": 77})
    assert out["data"][0]["path"] == "/echo?s=north&r=77"


def test_preview_masks_every_secret(rapi, src, runner):
    conn = connection(rapi, src.url, {"type": "token", "token": {
        "token": TOKEN, "location": "url"}}, encrypted={"k": "enc-secret-6f5e4d3c"},
        headers=[{"name": "X-K", "value": "{{{connection.http.encrypted.k}}}"}])
    r = rapi.post("/v1/exports/preview", json={
        "_connectionId": conn, "http": {"method": "GET", "relativeURI": "/bearer"}})
    assert_status(r, 200)
    text = r.text
    assert TOKEN not in text and "enc-secret-6f5e4d3c" not in text
    req = r.json()["stages"][0]["data"][0]
    assert req["url"].endswith("access_token=******")
    assert req["headers"]["X-K"] == "******"
    assert ids(r.json()["data"]) == [1, 2, 3]
    basic = connection(rapi, src.url, {"type": "basic", "basic": {
        "username": BASIC[0], "password": BASIC[1]}})
    r = rapi.post("/v1/exports/preview", json={
        "_connectionId": basic, "http": {"method": "GET", "relativeURI": "/basic"}})
    assert r.json()["stages"][0]["data"][0]["headers"]["Authorization"] == "******"
    assert BASIC[1] not in r.text
    log = runner.stderr_text()
    for s in (TOKEN, "enc-secret-6f5e4d3c", BASIC[1]):
        assert s not in log


# ---- answers ----

def test_xml_csv_and_text_answers(rapi, src):
    conn = connection(rapi, src.url)
    out = run_all(rapi, conn, {"method": "GET", "relativeURI": "/xml",
                               "response": {"resourcePath": "list.item"}})
    assert out["errors"] == [] and [r["id"] for r in out["data"]] == ["1", "2"]
    out = run_all(rapi, conn, {"method": "GET", "relativeURI": "/csv"})
    assert out["errors"] == [] and [r["name"] for r in out["data"]] == ["a", "b", "c"]
    out = run_all(rapi, conn, {"method": "GET", "relativeURI": "/text"})
    assert out["errors"] == [] and out["data"] == [{"data": "hello there"}]
    # successMediaType overrides the Content-Type
    out = run_all(rapi, conn, {"method": "GET", "relativeURI": "/csv",
                               "successMediaType": "plaintext"})
    assert out["data"] == [{"data": "id,name\n1,a\n2,b\n3,c\n"}]


def test_success_and_fail_paths(rapi, src):
    conn = connection(rapi, src.url)
    out = run_all(rapi, conn, {"method": "GET", "relativeURI": "/okfail",
                               "response": {"resourcePath": "data", "failPath": "status",
                                            "failValues": ["error"],
                                            "errorPath": "message"}})
    assert out["data"] == []
    assert out["errors"] == [{"code": "application_error", "message": "quota exceeded",
                              "source": "application", "statusCode": 200}]
    out = run_all(rapi, conn, {"method": "GET", "relativeURI": "/okfail",
                               "response": {"successPath": "status", "successValues": ["ok"]}})
    assert [e["code"] for e in out["errors"]] == ["application_error"]
    out = run_all(rapi, conn, {"method": "GET", "relativeURI": "/fail?status=400&why=nope",
                               "response": {"errorPath": "error.message"}})
    assert out["errors"] == [{"code": "http_status", "message": "the source says no: nope",
                              "source": "application", "statusCode": 400}]


def test_a_wrong_resource_path_gives_no_records_and_an_object_is_one(rapi, src):
    conn = connection(rapi, src.url)
    assert run_all(rapi, conn, {"method": "GET", "relativeURI": "/page",
                                "response": {"resourcePath": "nope"}})["data"] == []
    out = run_all(rapi, conn, {"method": "GET", "relativeURI": "/page?limit=2"})
    assert len(out["data"]) == 1 and "meta" in out["data"][0]


def test_type_test_limits_records(rapi, src):
    conn = connection(rapi, src.url)
    eid = export(rapi, conn, {"method": "GET", "relativeURI": "/link",
                              "paging": {"method": "linkheader"}},
                 type="test", test={"limit": 13})
    out = invoke(rapi, eid, all=True)
    assert ids(out["data"]) == list(range(1, 14)) and out["errors"] == []


# ---- failures of the source ----

def test_5xx_retried_then_answered(rapi, src):
    conn = connection(rapi, src.url)
    src.flaky["a"] = 2
    out = run_all(rapi, conn, {"method": "GET", "relativeURI": "/flaky?key=a"})
    assert out["errors"] == [] and ids(out["data"]) == [1, 2]
    src.flaky["b"] = 5                               # more than the retries
    out = run_all(rapi, conn, {"method": "GET", "relativeURI": "/flaky?key=b"})
    assert out["data"] == [] and [(e["code"], e["statusCode"]) for e in out["errors"]] == \
        [("http_status", 503)]


def test_429_retry_after_honoured(rapi, src):
    conn = connection(rapi, src.url)
    src.flaky["c"] = 1
    t = time.monotonic()
    out = run_all(rapi, conn, {"method": "GET", "relativeURI": "/flaky?key=c&status=429&ra=1"})
    assert out["errors"] == [] and ids(out["data"]) == [1, 2]
    assert time.monotonic() - t >= 0.9


def test_redirect_drops_authorization_across_hosts(rapi, src):
    conn = connection(rapi, src.url, {"type": "token", "token": {"token": TOKEN}})
    # same origin: kept
    out = run_all(rapi, conn, {"method": "GET",
                               "relativeURI": "/redirect?to=/echo"})
    assert out["data"][0]["headers"].get("Authorization") == "Bearer " + TOKEN
    # another host (localhost is not 127.0.0.1): dropped
    other = src.url.replace("127.0.0.1", "localhost") + "/echo"
    out = run_all(rapi, conn, {"method": "GET",
                               "relativeURI": "/redirect?to=" + other})
    assert out["errors"] == [] and "Authorization" not in out["data"][0]["headers"]


def test_slow_and_oversized_answers(rapi, src):
    conn = connection(rapi, src.url)
    out = run_all(rapi, conn, {"method": "GET", "relativeURI": "/slow?s=3.5"})
    assert out["data"] == [] and [e["code"] for e in out["errors"]] == ["timeout"]
    out = run_all(rapi, conn, {"method": "GET", "relativeURI": "/big?n=200000"})
    assert out["data"] == [] and [e["code"] for e in out["errors"]] == ["too_large"]


def test_egress_to_a_denied_address_never_leaves(src, tmp_path_factory):
    """A production server (no --egress-allow-loopback) refuses loopback:
    the source sees nothing, the error is egress_denied."""
    root = tmp_path_factory.mktemp("exportd-denied")
    srv = Server(root / "data", root / "logs")
    srv.start()
    try:
        api = srv.api()
        conn = connection(api, src.url)
        before = len(src.seen("/denied"))
        r = api.post("/v1/connections/%s/export" % conn, json={"export": {"http": {
            "method": "GET", "relativeURI": "/denied"}}}, timeout=30)
        assert_status(r, 200)
        out = r.json()
        assert out["data"] == []
        assert [(e["code"], e["statusCode"]) for e in out["errors"]] == [("egress_denied", 422)]
        assert len(src.seen("/denied")) == before
    finally:
        assert srv.stop() == 0
        assert not srv.sanitizer_report()


# ---- delta ----

def test_delta_fetches_only_what_changed(rapi, src):
    src.changes = [{"id": 1, "updatedAt": "2024-01-01T00:00:00.000Z"},
                   {"id": 2, "updatedAt": "2024-03-01T00:00:00.000Z"},
                   {"id": 3, "updatedAt": "2024-05-01T00:00:00.000Z"}]
    conn = connection(rapi, src.url)
    eid = export(rapi, conn, {"method": "GET",
                              "relativeURI": "/changes?since={{{lastExportDateTime}}}",
                              "response": {"resourcePath": "data"}},
                 type="delta", delta={"lagOffset": 0})
    assert ids(invoke(rapi, eid)["data"]) == [1, 2, 3]      # first run: everything
    r = rapi.put("/v1/exports/%s/state/lastExportDateTime" % eid,
                 json="2024-02-01T00:00:00.000Z")
    assert r.status_code in (200, 201)
    assert ids(invoke(rapi, eid)["data"]) == [2, 3]
    # lagOffset (ms) moves the cutoff back
    eid2 = export(rapi, conn, {"method": "GET",
                               "relativeURI": "/changes?since={{{lastExportDateTime}}}",
                               "response": {"resourcePath": "data"}},
                  type="delta", delta={"lagOffset": 86400000 * 40})
    rapi.put("/v1/exports/%s/state/lastExportDateTime" % eid2, json="2024-03-15T00:00:00.000Z")
    assert ids(invoke(rapi, eid2)["data"]) == [2, 3]
    # postData wins over the state; startDate is the first run's bound
    assert ids(invoke(rapi, eid, postData={
        "lastExportDateTime": "2024-04-01T00:00:00.000Z"})["data"]) == [3]
    eid3 = export(rapi, conn, {"method": "GET",
                               "relativeURI": "/changes?since={{{lastExportDateTime}}}",
                               "response": {"resourcePath": "data"}},
                  type="delta", delta={"startDate": "2024-04-01T00:00:00.000Z"})
    assert ids(invoke(rapi, eid3)["data"]) == [3]
    # invoke does not advance the state
    assert rapi.get("/v1/exports/%s/state/lastExportDateTime" % eid).json() == \
        "2024-02-01T00:00:00.000Z"


# ---- virtual exports: pages and their signed state ----

PAGED = {"pageSize": 10, "http": {"method": "GET", "relativeURI": "/link",
                                  "paging": {"method": "linkheader"}}}


def pages_call(api, conn, state=None, export_doc=PAGED):
    body = {"export": export_doc}
    if state is not None:
        body["pagedExportState"] = state
    return api.post("/v1/connections/%s/export/pages" % conn, json=body, timeout=60)


def test_pages_one_per_call_every_record_once(rapi, src):
    conn = connection(rapi, src.url)
    got, state, calls = [], None, 0
    while True:
        r = pages_call(rapi, conn, state)
        assert_status(r, 200)
        out = r.json()
        assert out["errors"] == []
        got += ids(out["data"])
        state = out["pagedExportState"]
        calls += 1
        assert state["pageIndex"] == calls and state["pageSize"] == 10
        if state["done"]:
            break
        assert calls < 20
    assert got == ALL and calls == 6
    # a finished state gives an empty, done page
    r = pages_call(rapi, conn, state)
    assert r.json()["data"] == [] and r.json()["pagedExportState"]["done"] is True


def test_pages_state_tampered_or_expired(rapi, src, runner):
    import hashlib
    import hmac
    import json as js
    conn = connection(rapi, src.url)
    state = pages_call(rapi, conn).json()["pagedExportState"]
    for field, value in (("pageIndex", 5), ("done", True), ("issuedAt", state["issuedAt"] + 1),
                         ("cursor", state["cursor"][:-2] + ("00" if state["cursor"][-2:] != "00"
                                                             else "11")),
                         ("sig", "0" * 64)):
        bad = dict(state, **{field: value})
        assert_error(pages_call(rapi, conn, bad), 422, "invalid_field", "pagedExportState")
    for bad in ("x", {"pageIndex": 1}, dict(state, sig=None)):
        assert_error(pages_call(rapi, conn, bad), 422, "invalid_field", "pagedExportState")
    # another export, another connection: the state does not carry over
    other = dict(PAGED, pageSize=11)
    assert_error(pages_call(rapi, conn, state, other), 422, "invalid_field",
                 "pagedExportState")
    conn2 = connection(rapi, src.url)
    assert_error(pages_call(rapi, conn2, state), 422, "invalid_field", "pagedExportState")
    # an hour old, signed with the server's key: expired
    key = bytes.fromhex((runner.data_dir / "secret.key").read_text().strip())
    aad = b"exportd/pagedExportState/v1"
    sub = hmac.new(key, aad, hashlib.sha256).digest()
    ehash = hashlib.sha256(js.dumps(PAGED, sort_keys=True, separators=(",", ":"))
                           .encode()).digest()

    def sign(s):
        msg = b"%s\n%s\n%s\n" % (aad, rapi._account_of(rapi.token).encode(), conn.encode()) + ehash + \
            b"\n%d\n%d\n%d\n%d\n%s" % (s["pageIndex"], s["pageSize"], 1 if s["done"] else 0,
                                       s["issuedAt"], s["cursor"].encode())
        return hmac.new(sub, msg, hashlib.sha256).hexdigest()
    assert sign(state) == state["sig"]               # the test signs as the server does
    old = dict(state, issuedAt=state["issuedAt"] - 3601)
    old["sig"] = sign(old)
    r = pages_call(rapi, conn, old)
    assert_error(r, 422, "invalid_field", "pagedExportState")
    assert "expired" in r.json()["errors"][0]["message"]
    fresh = dict(state, issuedAt=state["issuedAt"] - 10)
    fresh["sig"] = sign(fresh)
    assert_status(pages_call(rapi, conn, fresh), 200)


# ---- what does not run, and bad input ----

def test_other_adaptors_and_bad_input(rapi, src):
    conn = connection(rapi, src.url)
    r = rapi.post("/v1/connections", json={"name": unique("ftp"), "type": "ftp",
                                           "ftp": {"hostURI": "ftp.example.com",
                                                   "username": "u", "password": "p"}})
    assert_status(r, 201)
    ftp = r.json()["_id"]
    r = rapi.post("/v1/exports/preview", json={"_connectionId": ftp,
                                               "ftp": {"directoryPath": "/"}})
    assert_error(r, 422, "invalid_type", "adaptorType")
    assert "running FTPExport exports is not supported" in r.text
    r = rapi.post("/v1/exports", json={"name": unique("e"), "_connectionId": ftp,
                                       "ftp": {"directoryPath": "/"}})
    assert_status(r, 201)
    assert_error(rapi.post("/v1/exports/%s/invoke" % r.json()["_id"], json={}), 422,
                 "invalid_type", "adaptorType")
    r = rapi.post("/v1/exports/preview", json={"_connectionId": "nope", "http": {}})
    assert_error(r, 422, "invalid_field", "_connectionId")
    r = rapi.post("/v1/exports/preview", json={"_connectionId": "6f0a1b2c3d4e5f6a7b8c9d77",
                                               "http": {}})
    assert_error(r, 422, "invalid_field", "_connectionId")
    r = rapi.post("/v1/exports/preview", json={"_connectionId": conn, "http": {
        "method": "GET", "relativeURI": "/x{{#if}}"}})
    assert_error(r, 422, "invalid_field")
    r = rapi.post("/v1/exports/preview", json={"_connectionId": conn, "http": {
        "method": "GET", "relativeURI": "/x", "paging": {"method": "sideways"}}})
    assert_error(r, 422, "invalid_field")
    r = rapi.post("/v1/connections/%s/export" % conn, json={"export": "x"})
    assert_error(r, 422, "invalid_field", "export")
    r = rapi.post("/v1/connections/6f0a1b2c3d4e5f6a7b8c9d77/export", json={"export": {}})
    assert_error(r, 404, "not_found")
    eid = export(rapi, conn, {"method": "GET", "relativeURI": "/link"})
    for body, field in (({"all": "yes"}, "all"), ({"postData": []}, "postData"),
                        ({"data": 3}, "data"), ({"settings": "s"}, "settings"),
                        ({"postData": {"lastExportDateTime": 5}},
                         "postData.lastExportDateTime")):
        assert_error(rapi.post("/v1/exports/%s/invoke" % eid, json=body), 422,
                     "invalid_field", field)
    r = rapi.post("/v1/exports/%s/invoke" % eid, data=b"{nope",
                  headers={"Content-Type": "application/json"})
    assert_status(r, 400)
    assert_error(rapi.post("/v1/exports/6f0a1b2c3d4e5f6a7b8c9d77/invoke", json={}), 404,
                 "not_found")
    # invoke with no body at all runs the first page
    r = rapi.post("/v1/exports/%s/invoke" % eid, timeout=30)
    assert_status(r, 200)
    assert ids(r.json()["data"]) == list(range(1, 11))


def test_legacy_rest_export_runs_on_the_same_runner(rapi, src):
    r = rapi.post("/v1/connections", json={"name": unique("rest"), "type": "rest", "rest": {
        "baseURI": src.url, "mediaType": "json", "authType": "token",
        "bearerToken": TOKEN}})
    assert_status(r, 201)
    conn = r.json()["_id"]
    r = rapi.post("/v1/exports", json={"name": unique("e"), "_connectionId": conn,
                                       "rest": {"relativeURI": "/bearer", "method": "GET"}})
    assert_status(r, 201)
    assert r.json()["adaptorType"] == "RESTExport"
    out = invoke(rapi, r.json()["_id"], all=True)
    assert out["errors"] == [] and ids(out["data"]) == [1, 2, 3]


def test_run_caps(src, tmp_path_factory):
    root = tmp_path_factory.mktemp("exportd-caps")
    srv = Server(root / "data", root / "logs",
                 extra_args=["--egress-allow-loopback", "--run-max-pages", "3",
                             "--run-max-records", "25"])
    srv.start()
    try:
        api = srv.api()
        conn = connection(api, src.url)
        out = run_all(api, conn, {"method": "GET", "relativeURI": "/link",
                                  "paging": {"method": "linkheader"}})
        assert ids(out["data"]) == list(range(1, 26))
        assert [e["code"] for e in out["errors"]] == ["max_records"]
        out = run_all(api, conn, {"method": "GET", "relativeURI": "/page?limit=5&page="
                                  "{{export.http.paging.page}}", "paging": {"method": "page",
                                                                             "page": 1},
                                  "response": {"resourcePath": "data"}})
        assert ids(out["data"]) == list(range(1, 16))
        assert [e["code"] for e in out["errors"]] == ["max_pages"]
    finally:
        assert srv.stop() == 0
        assert not srv.sanitizer_report()


def test_runs_do_not_block_other_requests(rapi, src, runner):
    """Slow runs fill the workers; the server still answers at once."""
    import threading
    conn = connection(rapi, src.url)
    done = []

    def slow():
        r = rapi.post("/v1/connections/%s/export" % conn, json={"export": {"http": {
            "method": "GET", "relativeURI": "/slow?s=1.5"}}}, timeout=60)
        done.append(r.status_code)
    ts = [threading.Thread(target=slow) for _ in range(10)]
    for t in ts:
        t.start()
    time.sleep(0.3)
    t0 = time.monotonic()
    assert_status(rapi.get("/v1/exports"), 200)
    assert time.monotonic() - t0 < 1.0
    for t in ts:
        t.join(60)
    assert done == [200] * 10


def test_concurrency_level_bounds_requests_per_connection(rapi, src):
    import threading
    conn = connection(rapi, src.url, concurrencyLevel=1)
    t0 = time.monotonic()
    outs = []

    def slow():
        outs.append(run_all(rapi, conn, {"method": "GET", "relativeURI": "/slow?s=0.6"}))
    ts = [threading.Thread(target=slow) for _ in range(3)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    assert all(o["errors"] == [] for o in outs)
    assert time.monotonic() - t0 >= 1.7              # one at a time


# ---- RDBMS exports on PostgreSQL (the test cluster) ----

PG = os.environ.get("EXPORTD_DB", "")
needs_pg = pytest.mark.skipif(not PG.startswith("postgresql://"),
                              reason="needs EXPORTD_DB naming a PostgreSQL server "
                                     "(tests/pg/with-cluster.sh)")


def psql(sql):
    cp = subprocess.run(["psql", PG, "-XAtq", "-v", "ON_ERROR_STOP=1", "-c", sql],
                        capture_output=True, text=True, timeout=30)
    assert cp.returncode == 0, cp.stderr
    return cp.stdout.strip()


@needs_pg
def test_rdbms_export_on_postgresql(rapi):
    table = "runs_" + unique("t").replace("-", "_")
    psql("CREATE TABLE %s (id int PRIMARY KEY, name text, at timestamptz)" % table)
    psql("INSERT INTO %s SELECT g, 'n' || g, timestamptz '2024-01-01' + g * interval '1 day' "
         "FROM generate_series(1, 45) g" % table)
    u = urllib.parse.urlsplit(PG)
    r = rapi.post("/v1/connections", json={
        "name": unique("pg"), "type": "rdbms",
        "rdbms": {"type": "postgresql", "host": u.hostname, "port": u.port,
                  "database": u.path.lstrip("/"), "user": u.username or "postgres"}})
    assert_status(r, 201)
    conn = r.json()["_id"]
    query = ("SELECT id, name FROM %s WHERE at > "
             "'{{#if lastExportDateTime}}{{lastExportDateTime}}{{else}}1970-01-01{{/if}}' "
             "ORDER BY id" % table)
    r = rapi.post("/v1/exports", json={"name": unique("e"), "_connectionId": conn,
                                       "adaptorType": "RDBMSExport", "pageSize": 7,
                                       "type": "delta", "delta": {"dateField": "at"},
                                       "rdbms": {"query": query}})
    assert_status(r, 201)
    eid = r.json()["_id"]
    out = invoke(rapi, eid)
    assert ids(out["data"]) == list(range(1, 8)) and out["errors"] == []
    out = invoke(rapi, eid, all=True)
    assert ids(out["data"]) == list(range(1, 46)) and out["data"][0] == {"id": 1, "name": "n1"}
    rapi.put("/v1/exports/%s/state/lastExportDateTime" % eid, json="2024-02-10T00:00:00Z")
    assert ids(invoke(rapi, eid, all=True)["data"]) == list(range(41, 46))
    # one page per call through the connection
    doc = {"pageSize": 10, "rdbms": {"query": "SELECT id FROM %s ORDER BY id" % table}}
    got, state = [], None
    for _ in range(8):
        body = {"export": doc}
        if state:
            body["pagedExportState"] = state
        r = rapi.post("/v1/connections/%s/export/pages" % conn, json=body, timeout=60)
        assert_status(r, 200)
        got += ids(r.json()["data"])
        state = r.json()["pagedExportState"]
        if state["done"]:
            break
    assert got == list(range(1, 46))
    # a query the server refuses is an error of the run
    r = rapi.post("/v1/connections/%s/export" % conn,
                  json={"export": {"rdbms": {"query": "SELECT nope FROM %s" % table}}})
    assert_status(r, 200)
    assert r.json()["data"] == [] and \
        [e["code"] for e in r.json()["errors"]] == ["query_failed"]
    psql("DROP TABLE %s" % table)


# ---- a run of all pages streams: memory of a page, not of the run ----

def test_all_run_streams_in_bounded_memory(src, tmp_path_factory):
    import json
    from test_24_page_memory import SMALL_QUARANTINE, Peak, status_bytes
    root = tmp_path_factory.mktemp("exportd-stream")
    srv = Server(root / "data", root / "logs", env=SMALL_QUARANTINE,
                 extra_args=["--egress-allow-loopback"])
    srv.start()
    try:
        api = srv.api()
        conn = connection(api, src.url)
        eid = export(api, conn, {"method": "GET",
                                 "relativeURI": "/wide?pages=60&page={{export.http.paging.page}}",
                                 "paging": {"method": "page", "page": 1}})
        base = status_bytes(srv.proc.pid, "VmRSS")
        peak = Peak(srv.proc.pid)
        got = bytearray()
        with api.s.post(api.url("/v1/exports/%s/invoke" % eid), json={"all": True},
                        headers={"Authorization": "Bearer " + api.token},
                        stream=True, timeout=120) as r:
            assert_status(r, 200)
            for chunk in r.iter_content(1 << 20):
                got += chunk
                time.sleep(0.01)                     # a reader slower than the source
        peak.close()
        out = json.loads(bytes(got))
        assert len(got) > 58 << 20                   # an answer of over 58 MiB ...
        assert out["errors"] == [] and ids(out["data"]) == list(range(1, 60001))
        grew = peak.value() - base
        assert grew < 48 << 20, "RSS grew by %.1f MiB" % (grew / (1 << 20))   # ... in far less
        # a client that leaves mid-answer stops the run
        with api.s.post(api.url("/v1/exports/%s/invoke" % eid), json={"all": True},
                        headers={"Authorization": "Bearer " + api.token},
                        stream=True, timeout=120) as r:
            next(r.iter_content(1 << 20))
        deadline = time.monotonic() + 60
        while True:
            runs = re.findall(r"run: invoke of export \w+: (\d+) pages?, (\d+) records?, "
                              r"\d+ errors?, \d+ ms \(streamed\)", srv.stderr_text())
            if len(runs) == 2 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert runs[0] == ("61", "60000"), runs      # 60 pages and the empty one
        assert len(runs) == 2 and int(runs[1][0]) < 61, runs
        assert_status(api.get("/v1/health"), 200)
    finally:
        assert srv.stop() == 0
        assert not srv.sanitizer_report(), srv.sanitizer_report()


def test_shutdown_with_runs_in_flight(src, tmp_path_factory):
    """Past --shutdown-timeout a run still waiting on its source answers
    503 (one piece) or is cut (a stream), and the server stops cleanly."""
    import threading
    import requests
    root = tmp_path_factory.mktemp("exportd-shutdown")
    srv = Server(root / "data", root / "logs",
                 extra_args=["--egress-allow-loopback", "--shutdown-timeout", "2"])
    srv.start()
    api = srv.api()
    conn = connection(api, src.url)
    res = {}

    def run(kind):
        try:
            r = api.post("/v1/connections/%s/%s" % (conn, kind), json={"export": {"http": {
                "method": "GET", "relativeURI": "/slow?s=5"}}}, timeout=30)
            res[kind] = (r.status_code, r.json())
        except requests.RequestException as e:
            res[kind] = e
    ts = [threading.Thread(target=run, args=(k,)) for k in ("export", "export/pages")]
    for t in ts:
        t.start()
    time.sleep(0.8)
    assert srv.stop() == 0
    for t in ts:
        t.join(30)
    assert not srv.sanitizer_report(), srv.sanitizer_report()
    assert res["export/pages"][0] == 503
    assert res["export/pages"][1]["errors"][0]["code"] == "unavailable"
    assert isinstance(res["export"], requests.RequestException)   # cut, never complete
    assert "stopped cleanly" in srv.stderr_text()


def test_a_secret_the_source_echoes_is_masked_in_errors(rapi, src, runner):
    secret = "echoed-secret-" + unique("s")
    conn = connection(rapi, src.url, {"type": "custom"}, encrypted={"k": secret})
    out = run_all(rapi, conn, {"method": "GET",
                               "relativeURI": "/fail?status=403&why={{{connection.http.encrypted.k}}}",
                               "response": {"errorPath": "error.message"}})
    assert out["errors"] == [{"code": "http_status", "message": "the source says no: ******",
                              "source": "application", "statusCode": 403}]
    r = rapi.post("/v1/exports/preview", json={"_connectionId": conn, "http": {
        "method": "GET", "relativeURI": "/fail?status=403&why={{{connection.http.encrypted.k}}}"}})
    assert_status(r, 200)
    assert secret not in r.text and "******" in r.text
    assert secret not in runner.stderr_text()


def test_token_in_the_body_is_refused_before_anything_is_sent(rapi, src):
    """A token the connection puts in the body is not sent at all (before,
    a run sent it as a header): the run is refused with a clear 422."""
    conn = connection(rapi, src.url, {"type": "token",
                                      "token": {"token": TOKEN, "location": "body",
                                                "paramName": "api_key"}})
    before = len(src.seen("/bearer"))
    r = rapi.post("/v1/exports/preview", json={"_connectionId": conn, "http": {
        "method": "GET", "relativeURI": "/bearer"}})
    assert r.status_code == 422, r.text
    assert "token location body is not supported" in r.text and TOKEN not in r.text
    assert len(src.seen("/bearer")) == before
