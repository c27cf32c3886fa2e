"""The OpenAPI document: served at /v1/openapi.json without a token, equal
to openapi/exportd.json, and the checker that holds every response of the
suite to it (openapi_check.py) finds what it must."""

import copy
import json
import socket
import urllib.request
from urllib.parse import urlparse

import pytest
from requests.structures import CaseInsensitiveDict

import openapi_check
from apilib import EXTERNAL, JSON_CT, assert_no_body, assert_status, http_body, needs_binary

DOC_BYTES = openapi_check.DOC_PATH.read_bytes()
RID = {"X-Request-Id": "0123456789abcdef"}


def test_served_without_a_token(unauth):
    r = unauth.get("/v1/openapi.json")
    assert_status(r, 200)
    assert r.headers["Content-Type"] == JSON_CT
    assert r.content == DOC_BYTES, "the served document is not openapi/exportd.json"
    doc = r.json()
    assert doc["openapi"].startswith("3.1.")
    assert r.headers["ETag"].startswith('"') and r.headers["Cache-Control"]
    assert doc["paths"]["/v1/openapi.json"]["get"]["security"] == []


def test_head_and_revalidation(unauth):
    g = unauth.get("/v1/openapi.json")
    h = unauth.request("HEAD", "/v1/openapi.json")
    assert_status(h, 200)
    assert_no_body(h)
    assert h.headers["ETag"] == g.headers["ETag"]
    assert int(h.headers["Content-Length"]) == len(DOC_BYTES)
    for inm in (g.headers["ETag"], 'W/%s' % g.headers["ETag"], '"x", %s' % g.headers["ETag"], "*"):
        r = unauth.get("/v1/openapi.json", headers={"If-None-Match": inm})
        assert_status(r, 304)
        assert_no_body(r)
        assert r.headers["ETag"] == g.headers["ETag"]
    r = unauth.get("/v1/openapi.json", headers={"If-None-Match": '"other"'})
    assert_status(r, 200)
    assert r.content == DOC_BYTES


def test_rate_limit_and_bad_token_do_not_apply(unauth):
    r = unauth.get("/v1/openapi.json", headers={"Authorization": "Bearer not-a-token"})
    assert_status(r, 200)


@pytest.mark.skipif(EXTERNAL, reason="a front (nginx) answers these requests itself")
def test_every_documented_path_is_served_with_its_methods(unauth):
    """A method no route takes (TRACE) on every documented path: 405, and
    the checker holds Allow to exactly the documented methods. With the
    unit test of the route table (tests/unit/test_openapi.c: every route
    is documented), the document and the router cannot drift apart."""
    doc = openapi_check.SPEC.doc
    for tmpl in doc["paths"]:
        path = tmpl.replace("{_id}", "5f0a1b2c3d4e5f6a7b8c9d0e").replace("{token}", "tok")
        r = unauth.request("TRACE", path)
        assert_status(r, 405)
        got = {m.strip() for m in r.headers["Allow"].split(",")}
        assert got == openapi_check.SPEC.methods(doc["paths"][tmpl]), (tmpl, got)


# ---------------------------------------------------------------------------
# The checker itself: it must fail what does not conform.

def problems(method, path, status, headers, body, spec=None):
    h = CaseInsensitiveDict(RID)
    h.update(headers)
    return (spec or openapi_check.SPEC).check(method, "http://127.0.0.1:1" + path, status, h, body)


JSON = {"Content-Type": JSON_CT}
ERR = json.dumps({"errors": [{"code": "not_found", "message": "Export not found"}]}).encode()
EID = "/v1/exports/5f0a1b2c3d4e5f6a7b8c9d0e"


def test_checker_accepts_conforming_answers():
    assert problems("GET", "/v1/exports", 204, {}, b"") == []
    assert problems("GET", EID, 404, JSON, ERR) == []
    assert problems("GET", "/nowhere", 404, JSON, ERR) == []
    assert problems("HEAD", EID + "/data", 200, {}, b"") == []
    assert problems("POST", EID + "/tok/data", 202, {"Content-Type": "text/xml"}, b"<ok/>") == []


@pytest.mark.parametrize("case,needle", [
    (("GET", "/v1/exports", 202, {}, b""), "status 202 is not documented"),
    (("GET", "/nowhere", 200, JSON, b"{}"), "status 200 is not documented"),
    (("GET", EID, 200, JSON, b'{"_id":"5f0a1b2c3d4e5f6a7b8c9d0e"}'), "header ETag is missing"),
    (("GET", EID, 200, dict(JSON, ETag='"5f0a1b2c3d4e5f6a7b8c9d0e-1"'), b'{"name":"x"}'),
     "'_id' is a required property"),
    (("GET", EID, 200, dict(JSON, ETag='"x"'), b"{}"), "header ETag"),
    (("GET", EID, 404, JSON, b'{"errors":[]}'), "is too short"),
    (("GET", EID, 404, JSON, b'{"error":"x"}'), "'errors' is a required property"),
    (("GET", EID, 404, {"Content-Type": "text/html"}, b"<p>"), "Content-Type"),
    (("DELETE", EID, 204, {}, b"x"), "a body where none is documented"),
    (("POST", EID, 405, dict(JSON, Allow="GET"), ERR), "Allow"),
    (("GET", "/v1/tokenInfo", 401, JSON, ERR), "WWW-Authenticate is missing"),
    (("GET", "/v1/tokenInfo", 429, JSON, ERR), "Retry-After is missing"),
    (("GET", "/v1/exports", 200, dict(JSON, Link="</x>"), b'[{"_id":"a"}]'), "header Link"),
    (("GET", "/v1/exports/%s/inbox" % EID[12:], 200, JSON,
      b'{"records":[],"cursor":null}'), "'more' is a required property"),
    (("GET", EID, 200, dict(JSON, ETag='"5f0a1b2c3d4e5f6a7b8c9d0e-1"'),
      json.dumps({"_id": EID[12:], "name": "n", "adaptorType": "WebhookExport",
                  "createdAt": "2026-01-01T00:00:00.000Z", "lastModified": "2026-01-01T00:00:00.000Z",
                  "apiIdentifier": "e0123456789", "asynchronous": True,
                  "webhook": {"key": "plain"}}).encode()), "'******' was expected"),
])
def test_checker_rejects(case, needle):
    got = problems(*case)
    assert any(needle in p for p in got), got


def test_checker_holds_live_answers_to_the_document(api):
    """A real answer checked against a copy of the document that lacks its
    status fails: the checker reads the document, not a list of its own."""
    r = api.get("/v1/tokenInfo")
    assert_status(r, 200)
    doc = copy.deepcopy(openapi_check.SPEC.doc)
    del doc["paths"]["/v1/tokenInfo"]["get"]["responses"]["200"]
    spec = openapi_check.Spec(doc)
    got = spec.check("GET", r.url, r.status_code, r.headers, r.content)
    assert got and "status 200 is not documented" in got[0], got


@pytest.mark.skipif(EXTERNAL, reason="a front (nginx) answers these requests itself")
def test_raw_socket_answers_are_checked(api, base_url):
    """Bytes read from a socket a test opened are checked too: the answer
    to a request line the server cannot route, and to bytes that are no
    request at all (checked against x-exportd-unrouted)."""
    u = urlparse(base_url)
    for data in (b"GET /v1/nowhere HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                 b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + b"\x00" * 64):
        s = socket.create_connection((u.hostname, u.port), timeout=10)
        assert isinstance(s, openapi_check._WatchedSocket) and s._oa, "a test's socket is not watched"
        s.sendall(data)
        out = b""
        while True:
            c = s.recv(65536)
            if not c:
                break
            out += c
        s.close()
        assert out.startswith(b"HTTP/1.1 4"), out[:200]
        status = int(out[9:12])
        assert openapi_check.split_raw(out)[0][0] == status
    # and an answer that does not conform is found in raw bytes
    got = []
    real = openapi_check.record
    try:
        openapi_check.record = got.extend
        openapi_check.check_exchange(base_url, b"GET /v1/exports HTTP/1.1\r\n\r\n",
                                     b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n")
    finally:
        openapi_check.record = real
    assert any("status 202 is not documented" in p for p in got), got


def test_urllib_answers_are_checked(api, base_url):
    """urllib goes through http.client on a plain socket: watched too."""
    req = urllib.request.Request(base_url + "/v1/tokenInfo",
                                 headers={"Authorization": "Bearer " + api.token})
    seen = []
    real = openapi_check.record
    try:
        openapi_check.record = lambda ps: (seen.append(ps), real(ps))
        with urllib.request.urlopen(req, timeout=10) as resp:
            assert resp.status == 200
            resp.read()
    finally:
        openapi_check.record = real
    assert seen, "the urllib exchange was not checked"


def test_streamed_pages_are_checked_when_read(api):
    """A page read with stream=True is checked once the test has read it."""
    e = api.create(http_body())
    seen = []
    real = openapi_check.record
    try:
        openapi_check.record = lambda ps: (seen.append(ps), real(ps))
        r = api.get("/v1/exports", stream=True)
        before = len(seen)
        body = b"".join(r.iter_content(1024))
    finally:
        openapi_check.record = real
    assert json.loads(body) and len(seen) > before
    assert_status(api.delete("/v1/exports/" + e["_id"]), 204)
