"""Exports that run (export-api.md §13, docs/running.md): invoke, preview
and the virtual exports of a connection, against real servers the tests
start on 127.0.0.1 — json-server from npm and a local source API
(sources.py) — with exportd allowed to reach loopback
(--egress-allow-loopback). Every paging method returns every record once;
every auth type; failures of the source in errors with 200; delta; the
signed pagedExportState; secrets never shown."""

import copy
import time

import pytest

from apilib import EXTERNAL, Server, assert_error, assert_status, unique
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


def test_invoke_first_page_is_pagesize(rapi, src):
    conn = connection(rapi, src.url)
    eid = export(rapi, conn, {"method": "GET", "relativeURI": "/link"}, pageSize=4)
    out = invoke(rapi, eid)
    assert ids(out["data"]) == [1, 2, 3, 4] and out["errors"] == []
    assert len(src.seen("/link")) >= 1


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
