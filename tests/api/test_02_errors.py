"""Routing errors, body limits, media types, malformed JSON."""

import json

import pytest

from apilib import (assert_error, assert_no_body, assert_status,
                    allow_set, body_of, http_body, netsuite_distributed_body)

MIB = 1024 * 1024
ABSENT_ID = "0123456789abcdef01234567"
OPTIONAL_METHODS = {"HEAD", "OPTIONS"}


@pytest.fixture(scope="module")
def existing(api):
    e = api.create(http_body())
    return e["_id"]


# --------------------------------------------------------------------------
# 404


@pytest.mark.parametrize("path", [
    "/",
    "/v1",
    "/v1/nope",
    "/v2/exports",
    "/v1/exportsx",
    "/v1/Exports",
    "/v1/exports/%s/nope",
    "/v1/exports/%s/clone/extra",
    "/v1/exports/%s/distributed/extra",
    "/v1/exports/%s/x/y/z",
])
def test_unknown_path_is_404(api, existing, path):
    if "%s" in path:
        path = path % existing
    assert_error(api.get(path), 404, "not_found")


@pytest.mark.parametrize("bad", [
    "123",
    "0123456789abcdef0123456",        # 23
    "0123456789abcdef012345678",      # 25
    "0123456789abcdef0123456g",       # non-hex
    "zzzzzzzzzzzzzzzzzzzzzzzz",
    "0123456789abcdef-1234567",
    "%20123456789abcdef01234567",
])
def test_malformed_path_id_is_404(api, bad):
    p = "/v1/exports/" + bad
    assert_error(api.get(p), 404, "not_found")
    assert_error(api.put(p, json=http_body()), 404, "not_found")
    assert_error(api.delete(p), 404, "not_found")
    assert_error(api.post(p + "/clone"), 404, "not_found")
    assert_error(api.get(p + "/distributed"), 404, "not_found")
    assert_error(api.put(p + "/distributed", json={}), 404, "not_found")


def test_absent_id_is_404(api):
    p = "/v1/exports/" + ABSENT_ID
    assert_error(api.get(p), 404, "not_found")
    assert_error(api.put(p, json=http_body()), 404, "not_found")
    assert_error(api.delete(p), 404, "not_found")
    assert_error(api.post(p + "/clone"), 404, "not_found")
    assert_error(api.get(p + "/distributed"), 404, "not_found")
    assert_error(api.put(p + "/distributed", json={"recordType": "x"}), 404, "not_found")
    # a PUT to an absent id does not create it
    assert_error(api.get(p), 404, "not_found")


# --------------------------------------------------------------------------
# 405


@pytest.mark.parametrize("method,path,allowed", [
    ("DELETE", "/v1/exports", {"GET", "POST"}),
    ("PUT", "/v1/exports", {"GET", "POST"}),
    ("POST", "/v1/exports/%s", {"GET", "PUT", "PATCH", "DELETE"}),
    ("GET", "/v1/exports/%s/clone", {"POST"}),
    ("PUT", "/v1/exports/%s/clone", {"POST"}),
    ("DELETE", "/v1/exports/%s/distributed", {"GET", "PUT"}),
    ("POST", "/v1/exports/%s/distributed", {"GET", "PUT"}),
    ("POST", "/v1/tokenInfo", {"GET"}),
    ("DELETE", "/v1/tokenInfo", {"GET"}),
])
def test_wrong_method_is_405_with_allow(api, existing, method, path, allowed):
    if "%s" in path:
        path = path % existing
    kw = {"json": http_body()} if method in ("POST", "PUT") else {}
    r = api.request(method, path, **kw)
    assert_error(r, 405, "method_not_allowed")
    got = allow_set(r)
    assert got - OPTIONAL_METHODS == allowed, "Allow: %r" % r.headers.get("Allow")
    # the wrong method had no effect
    assert_status(api.get("/v1/exports/" + existing), 200)


def test_health_wrong_method_is_405(unauth):
    r = unauth.post("/v1/health", json={})
    assert_error(r, 405, "method_not_allowed")
    assert allow_set(r) - OPTIONAL_METHODS == {"GET"}


# --------------------------------------------------------------------------
# Trailing slash


def test_trailing_slash_accepted(fresh_api):
    r = fresh_api.get("/v1/exports/")
    assert_status(r, 204)
    r = fresh_api.post("/v1/exports/", json=http_body(name="slash"))
    assert_status(r, 201)
    e = body_of(r)
    p = "/v1/exports/" + e["_id"] + "/"
    r = fresh_api.get(p)
    assert_status(r, 200)
    assert body_of(r) == e
    r = fresh_api.get("/v1/exports/")
    assert_status(r, 200)
    assert [x["_id"] for x in body_of(r)] == [e["_id"]]
    r = fresh_api.put(p, json=http_body(name="slash2"))
    assert_status(r, 200)
    assert body_of(r)["name"] == "slash2"
    r = fresh_api.post("/v1/exports/" + e["_id"] + "/clone/")
    assert_status(r, 201)
    clone = body_of(r)
    assert_status(fresh_api.get("/v1/tokenInfo/"), 200)
    r = fresh_api.delete(p)
    assert_status(r, 204)
    assert_error(fresh_api.get("/v1/exports/" + e["_id"]), 404, "not_found")
    assert_status(fresh_api.get("/v1/exports/" + clone["_id"] + "/"), 200)


def test_trailing_slash_distributed(api):
    e = api.create(netsuite_distributed_body())
    r = api.get("/v1/exports/%s/distributed/" % e["_id"])
    assert_status(r, 200)
    assert body_of(r) == {}


def test_health_trailing_slash(unauth):
    r = unauth.get("/v1/health/")
    assert_status(r, 200)
    assert body_of(r) == {"status": "ok"}


# --------------------------------------------------------------------------
# Body size


def _body_of_size(size, name="big"):
    base = http_body(name=name)
    base["pad"] = ""
    raw = json.dumps(base, separators=(",", ":")).encode()
    base["pad"] = "x" * (size - len(raw))
    raw = json.dumps(base, separators=(",", ":")).encode()
    assert len(raw) == size
    return raw


JSON_HDR = {"Content-Type": "application/json"}


def test_body_at_default_limit_is_accepted(api):
    raw = _body_of_size(MIB)
    r = api.post("/v1/exports", data=raw, headers=JSON_HDR)
    assert_status(r, 201)
    e = body_of(r)
    assert len(e["pad"]) == len(json.loads(raw)["pad"])
    assert_status(api.delete("/v1/exports/" + e["_id"]), 204)


def test_413_for_announced_oversize_body(api):
    """Content-Length over the cap: a complete 413 arrives, whether the
    server answers at once or after draining the body."""
    import socket
    from urllib.parse import urlparse
    u = urlparse(api.base_url)
    s = socket.create_connection((u.hostname, u.port), timeout=10)
    data = b""
    try:
        s.sendall(("POST /v1/exports HTTP/1.1\r\nHost: %s:%d\r\nAuthorization: Bearer %s\r\n"
                   "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n"
                   % (u.hostname, u.port, api.token, MIB + 1)).encode())
        s.settimeout(1.0)
        try:
            data = s.recv(65536)          # early answer?
        except socket.timeout:
            s.settimeout(10)
            try:
                s.sendall(b" " * (MIB + 1))
            except OSError:
                pass
        s.settimeout(10)
        while b"\r\n\r\n" not in data:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    finally:
        s.close()
    head = data.split(b"\r\n", 1)[0]
    assert head.startswith(b"HTTP/1.1 413"), data[:300]


def test_body_over_default_limit_is_413(api):
    """Through a real client that sends the whole body first: the 413 must
    reach it (a server that closes without draining resets the connection)."""
    r = api.post("/v1/exports", data=_body_of_size(MIB + 1), headers=JSON_HDR)
    assert_error(r, 413, "payload_too_large")
    e = api.create(http_body())
    r = api.put("/v1/exports/" + e["_id"], data=_body_of_size(MIB + 1), headers=JSON_HDR)
    assert_error(r, 413, "payload_too_large")
    assert api.fetch(e["_id"]) == e


def test_chunked_body_over_limit_is_413(api):
    raw = _body_of_size(2 * MIB)

    def gen():
        for i in range(0, len(raw), 64 * 1024):
            yield raw[i:i + 64 * 1024]
    r = api.post("/v1/exports", data=gen(), headers=JSON_HDR)
    assert_error(r, 413, "payload_too_large")


def test_chunked_body_under_limit_is_accepted(api):
    raw = json.dumps(http_body(name="chunked", _connectionId=api.connection())).encode()

    def gen():
        for i in range(0, len(raw), 10):
            yield raw[i:i + 10]
    r = api.post("/v1/exports", data=gen(), headers=JSON_HDR)
    assert_status(r, 201)
    assert body_of(r)["name"] == "chunked"


def test_configured_max_body(server_factory):
    srv = server_factory(max_body=2048)
    a = srv.api()
    r = a.post("/v1/exports", data=_body_of_size(2048), headers=JSON_HDR)
    assert_status(r, 201)
    e = body_of(r)
    r = a.post("/v1/exports", data=_body_of_size(2049), headers=JSON_HDR)
    assert_error(r, 413, "payload_too_large")
    r = a.put("/v1/exports/" + e["_id"], data=_body_of_size(4000), headers=JSON_HDR)
    assert_error(r, 413, "payload_too_large")
    r = a.post("/v1/exports/%s/clone" % e["_id"], data=b'{"name":"' + b"y" * 3000 + b'"}',
               headers=JSON_HDR)
    assert_error(r, 413, "payload_too_large")
    # still serving, nothing changed
    items, _ = a.list_all()
    assert [x["_id"] for x in items] == [e["_id"]]


# --------------------------------------------------------------------------
# Media types


@pytest.mark.parametrize("ctype", [
    "text/plain",
    "application/x-www-form-urlencoded",
    "application/xml",
    "multipart/form-data; boundary=xyz",
])
def test_non_json_content_type_is_415(api, ctype):
    raw = json.dumps(http_body()).encode()
    r = api.post("/v1/exports", data=raw, headers={"Content-Type": ctype})
    assert_error(r, 415, "unsupported_media_type")
    e = api.create(http_body())
    r = api.put("/v1/exports/" + e["_id"], data=raw, headers={"Content-Type": ctype})
    assert_error(r, 415, "unsupported_media_type")
    r = api.post("/v1/exports/%s/clone" % e["_id"], data=b'{"name":"c"}', headers={"Content-Type": ctype})
    assert_error(r, 415, "unsupported_media_type")
    assert api.fetch(e["_id"]) == e


def test_415_does_not_create(fresh_api):
    raw = json.dumps(http_body()).encode()
    r = fresh_api.post("/v1/exports", data=raw, headers={"Content-Type": "text/plain"})
    assert_error(r, 415, "unsupported_media_type")
    assert_status(fresh_api.get("/v1/exports"), 204)


@pytest.mark.parametrize("ctype", [
    "application/json",
    "application/json; charset=utf-8",
    "application/json;charset=UTF-8",
    "application/json; charset=\"utf-8\"",
    None,
])
def test_json_content_types_accepted(api, ctype):
    raw = json.dumps(http_body(name="ct")).encode()
    r = api.post("/v1/exports", data=raw, headers={"Content-Type": ctype})
    assert_status(r, 201)
    e = body_of(r)
    r = api.put("/v1/exports/" + e["_id"], data=json.dumps(http_body(name="ct2")).encode(),
                headers={"Content-Type": ctype})
    assert_status(r, 200)
    assert body_of(r)["name"] == "ct2"


def test_get_and_delete_with_json_content_type_and_no_body(api):
    e = api.create(http_body())
    h = {"Content-Type": "application/json"}
    r = api.get("/v1/exports/" + e["_id"], headers=h)
    assert_status(r, 200)
    assert body_of(r) == e
    assert_status(api.get("/v1/exports", headers=h), 200)
    assert_status(api.get("/v1/tokenInfo", headers=h), 200)
    r = api.post("/v1/exports/%s/clone" % e["_id"], headers=dict(h, **{"Content-Length": "0"}))
    assert_status(r, 201)
    r = api.delete("/v1/exports/" + e["_id"], headers=h)
    assert_status(r, 204)
    assert_no_body(r)


# --------------------------------------------------------------------------
# Malformed JSON


BAD_JSON = [
    b"",
    b"{",
    b"{\"name\":}",
    b"{'name':'x'}",
    b"{\"name\":\"x\",}",
    b"null",
    b"[]",
    b"[{\"name\":\"x\"}]",
    b"\"string\"",
    b"42",
    b"true",
    b"{\"name\":\"x\"} trailing",
    b"{\"name\":\"x\"}{}",
    b"{\"name\":\"\xff\xfe\"}",            # invalid UTF-8
    b"{\"name\":\"\xc3\"}",                # truncated UTF-8 sequence
    b"{\"name\": NaN}",
]


@pytest.mark.parametrize("raw", BAD_JSON, ids=[repr(b)[:40] for b in BAD_JSON])
def test_bad_json_on_post_is_400(fresh_api, raw):
    r = fresh_api.post("/v1/exports", data=raw, headers=JSON_HDR)
    assert_error(r, 400, "invalid_json")
    assert_status(fresh_api.get("/v1/exports"), 204)


@pytest.mark.parametrize("raw", [b"{", b"[]", b"null", b"\"x\"", b"{\"a\":1,\"a\":2}"])
def test_bad_json_on_put_is_400(api, raw):
    e = api.create(http_body())
    r = api.put("/v1/exports/" + e["_id"], data=raw, headers=JSON_HDR)
    assert_error(r, 400, "invalid_json")
    assert api.fetch(e["_id"]) == e


@pytest.mark.parametrize("raw", [b"{", b"[]", b"\"x\"", b"{\"name\":\"a\",\"name\":\"b\"}"])
def test_bad_json_on_clone_is_400(fresh_api, raw):
    e = fresh_api.create(http_body())
    r = fresh_api.post("/v1/exports/%s/clone" % e["_id"], data=raw, headers=JSON_HDR)
    assert_error(r, 400, "invalid_json")
    items, _ = fresh_api.list_all()
    assert [x["_id"] for x in items] == [e["_id"]]


def test_post_without_body_is_400(fresh_api):
    r = fresh_api.post("/v1/exports", headers={"Content-Length": "0"})
    assert_error(r, 400, "invalid_json")
    r = fresh_api.post("/v1/exports", headers={"Content-Type": "application/json", "Content-Length": "0"})
    assert_error(r, 400, "invalid_json")
    assert_status(fresh_api.get("/v1/exports"), 204)


@pytest.mark.parametrize("raw", [
    b'{"name":"a","name":"b","adaptorType":"HTTPExport","_connectionId":"5f0a1b2c3d4e5f6a7b8c9d0e"}',
    b'{"name":"a","adaptorType":"HTTPExport","_connectionId":"5f0a1b2c3d4e5f6a7b8c9d0e",'
    b'"http":{"method":"GET","method":"POST"}}',
    b'{"name":"a","adaptorType":"HTTPExport","_connectionId":"5f0a1b2c3d4e5f6a7b8c9d0e",'
    b'"x":[{"k":1,"k":1}]}',
    b'{"name":"a","type":"webhook","webhook":{"provider":"github"},"type":"webhook"}',
])
def test_duplicate_keys_are_400(fresh_api, raw):
    r = fresh_api.post("/v1/exports", data=raw, headers=JSON_HDR)
    assert_error(r, 400, "invalid_json")
    assert_status(fresh_api.get("/v1/exports"), 204)


def test_distributed_put_bad_json(api):
    e = api.create(netsuite_distributed_body())
    p = "/v1/exports/%s/distributed" % e["_id"]
    for raw in (b"{", b"[]", b"null", b"{\"a\":1,\"a\":1}"):
        assert_error(api.put(p, data=raw, headers=JSON_HDR), 400, "invalid_json")
    assert_error(api.put(p, data=b"{}", headers={"Content-Type": "text/plain"}), 415,
                 "unsupported_media_type")
    assert body_of(api.get(p)) == {}


def test_deeply_nested_json_is_400(fresh_api, unauth):
    """JSON nests at most 64 deep (src/util/limits.h): deeper is 400
    invalid_json, stores nothing, and the server stays up."""
    depth = 100000
    raw = (b'{"name":"deep","adaptorType":"HTTPExport","_connectionId":"5f0a1b2c3d4e5f6a7b8c9d0e","d":'
           + b"[" * depth + b"]" * depth + b"}")
    r = fresh_api.post("/v1/exports", data=raw, headers=JSON_HDR)
    assert_error(r, 400, "invalid_json")
    raw2 = b'{"name":"deep2","x":' + b'{"a":' * depth + b"null" + b"}" * depth + b"}"
    assert_error(fresh_api.post("/v1/exports", data=raw2, headers=JSON_HDR), 400, "invalid_json")
    # the cap itself: 64 levels in all are taken, 65 are not
    base = json.dumps(http_body(name="d64")).encode()[:-1]
    ok = base + b',"x":' + b"[" * 63 + b"]" * 63 + b"}"
    assert_status(fresh_api.post("/v1/exports", data=ok, headers=JSON_HDR), 201)
    deep = base + b',"x":' + b"[" * 64 + b"]" * 64 + b"}"
    assert_error(fresh_api.post("/v1/exports", data=deep, headers=JSON_HDR), 400, "invalid_json")
    assert [e["name"] for e in body_of(fresh_api.get("/v1/exports"))] == ["d64"]
    assert_status(unauth.get("/v1/health"), 200)


def test_utf8_byte_order_mark_is_ignored(fresh_api):
    doc = http_body()
    raw = b"\xef\xbb\xbf" + json.dumps(doc).encode()
    r = fresh_api.post("/v1/exports", data=raw, headers=JSON_HDR)
    assert_status(r, 201)
    made = body_of(r)
    assert made["name"] == doc["name"]
    raw = b"\xef\xbb\xbf" + json.dumps(dict(doc, name="again")).encode()
    r = fresh_api.put("/v1/exports/" + made["_id"], data=raw, headers=JSON_HDR)
    assert_status(r, 200)
    assert body_of(r)["name"] == "again"
    # a mark alone, or a mark before something that is not JSON, is still 400
    for raw in (b"\xef\xbb\xbf", b"\xef\xbb\xbf\xef\xbb\xbf{}", b"\xef\xbb\xbf[]"):
        assert_error(fresh_api.post("/v1/exports", data=raw, headers=JSON_HDR), 400,
                     "invalid_json")
    items, _ = fresh_api.list_all()
    assert [x["_id"] for x in items] == [made["_id"]]


@pytest.mark.parametrize("number", [b"9223372036854775808", b"-9223372036854775809", b"1e999"])
def test_numbers_out_of_range_are_400_with_a_plain_reason(fresh_api, number):
    raw = b'{"name":"n","adaptorType":"HTTPExport","_connectionId":"5f0a1b2c3d4e5f6a7b8c9d0e",' \
          b'"http":{"method":"GET","relativeURI":"/x"},"v":' + number + b"}"
    r = fresh_api.post("/v1/exports", data=raw, headers=JSON_HDR)
    assert_error(r, 400, "invalid_json")
    msg = r.json()["errors"][0]["message"]
    assert msg.startswith("The body cannot be stored: "), msg
    assert "as a string" in msg, msg
    assert_status(fresh_api.get("/v1/exports"), 204)


def test_largest_64_bit_integers_are_kept(fresh_api):
    raw = b'{"name":"n","adaptorType":"HTTPExport","_connectionId":"5f0a1b2c3d4e5f6a7b8c9d0e",' \
          b'"http":{"method":"GET","relativeURI":"/x"},' \
          b'"big":9223372036854775807,"small":-9223372036854775808}'
    r = fresh_api.post("/v1/exports", data=raw, headers=JSON_HDR)
    assert_status(r, 201)
    assert b'"big":9223372036854775807' in r.content
    assert b'"small":-9223372036854775808' in r.content
