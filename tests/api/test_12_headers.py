"""Content-Type on every body, X-Request-Id on every response, access log."""

import time

import pytest

from apilib import (JSON_CT, assert_no_body, assert_status, http_body,
                    netsuite_distributed_body)

ABSENT = "0123456789abcdef01234567"


def _requests(api, unauth):
    """(label, callable) pairs covering every kind of response."""
    e = api.create(http_body())
    d = api.create(netsuite_distributed_body())
    victim = api.create(http_body())
    p = "/v1/exports/" + e["_id"]
    return [
        ("health", lambda: unauth.get("/v1/health")),
        ("tokenInfo", lambda: api.get("/v1/tokenInfo")),
        ("list", lambda: api.get("/v1/exports")),
        ("get", lambda: api.get(p)),
        ("post", lambda: api.post("/v1/exports", json=http_body())),
        ("put", lambda: api.put(p, json=http_body())),
        ("clone", lambda: api.post(p + "/clone")),
        ("dist-get", lambda: api.get("/v1/exports/%s/distributed" % d["_id"])),
        ("dist-put", lambda: api.put("/v1/exports/%s/distributed" % d["_id"], json={"recordType": "x"})),
        ("400", lambda: api.post("/v1/exports", data=b"{", headers={"Content-Type": "application/json"})),
        ("400q", lambda: api.get("/v1/exports", params={"limit": "x"})),
        ("401", lambda: unauth.get("/v1/exports")),
        ("404", lambda: api.get("/v1/exports/" + ABSENT)),
        ("404path", lambda: api.get("/v1/nothing")),
        ("405", lambda: api.request("PATCH", "/v1/exports")),
        ("413", lambda: api.post("/v1/exports", data=iter([b"{" + b" " * (1024 * 1024 + 10) + b"}"]),
                                 headers={"Content-Type": "application/json"})),
        ("415", lambda: api.post("/v1/exports", data=b"{}", headers={"Content-Type": "text/plain"})),
        ("422", lambda: api.post("/v1/exports", json={})),
        ("422type", lambda: api.get("/v1/exports/%s/distributed" % e["_id"])),
        ("412", lambda: api.put(p, json=http_body(), headers={"If-Match": '"stale"'})),
        ("204", lambda: api.delete("/v1/exports/" + victim["_id"])),
    ]


def test_content_type_and_request_id_everywhere(api, unauth):
    seen = set()
    calls = _requests(api, unauth)
    for label, call in calls:
        r = call()
        rid = r.headers.get("X-Request-Id")
        assert rid and rid.strip(), "%s: no X-Request-Id" % label
        seen.add(rid)
        if r.status_code == 204:
            assert_no_body(r)
            continue
        assert r.content, "%s: empty body with status %s" % (label, r.status_code)
        assert r.headers.get("Content-Type") == JSON_CT, "%s: Content-Type %r" % (
            label, r.headers.get("Content-Type"))
        r.json()
    assert len(seen) == len(calls), "X-Request-Id values repeat"


def test_expected_statuses_of_header_probe(api, unauth):
    want = {"health": 200, "tokenInfo": 200, "list": 200, "get": 200, "post": 201, "put": 200,
            "clone": 201, "dist-get": 200, "dist-put": 200, "400": 400, "400q": 400, "401": 401,
            "404": 404, "404path": 404, "405": 405, "413": 413, "415": 415, "422": 422,
            "422type": 422, "412": 412, "204": 204}
    got = {label: call().status_code for label, call in _requests(api, unauth)}
    assert got == want


def test_empty_list_204_has_request_id_and_no_body(fresh_api):
    r = fresh_api.get("/v1/exports")
    assert_status(r, 204)
    assert_no_body(r)
    assert r.headers.get("X-Request-Id")


def test_request_ids_unique(api):
    ids = [api.get("/v1/tokenInfo").headers.get("X-Request-Id") for _ in range(50)]
    assert None not in ids
    assert len(set(ids)) == 50


def test_access_log_one_line_per_request(local_server, api):
    marker = "0123456789abcdef0123aaaa"
    before = local_server.stderr_text().count(marker)
    assert before == 0
    r = api.get("/v1/exports/" + marker)
    assert_status(r, 404)
    rid = r.headers.get("X-Request-Id")
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        text = local_server.stderr_text()
        if marker in text:
            break
        time.sleep(0.05)
    lines = [l for l in local_server.stderr_text().splitlines() if marker in l]
    assert len(lines) == 1, lines
    assert "404" in lines[0]
    assert rid in lines[0], "request id not in the access log line: %r" % lines[0]
