"""Over-limit inputs: each gets a clear 4xx with the spec's error body, the
server keeps serving and nothing is stored (spec §1, decisions.md, limits.h);
and the per-token rate limit with a small configured bucket."""

import json
import re
import socket
import time
from urllib.parse import urlparse

import pytest
import requests

from apilib import (JSON_CT, assert_error, assert_errors, assert_no_body, assert_status, body_of,
                    http_body, needs_binary, read_to_close, unique)

MIB = 1024 * 1024
CODE_FOR = {400: "invalid_json", 413: "payload_too_large", 422: "invalid_field"}


def healthy(base_url):
    r = requests.get(base_url + "/v1/health", timeout=10)
    assert r.status_code == 200 and r.json() == {"status": "ok"}, "server stopped serving"


def assert_nothing_stored(a):
    r = a.get("/v1/exports")
    assert_status(r, 204)
    assert_no_body(r)


def post_raw(a, raw):
    return a.post("/v1/exports", data=raw, headers={"Content-Type": "application/json"}, timeout=120)


def nested_array(depth):
    return "[" * depth + "]" * depth


def nested_object(depth):
    return '{"a":' * depth + "1" + "}" * depth


def with_extra(raw_value):
    """An otherwise valid export with one more field whose JSON text is given."""
    return (json.dumps(http_body())[:-1] + ', "x": ' + raw_value + "}").encode()


def assert_4xx_errors(resp, allowed):
    """One of the allowed statuses, with the error envelope and its code."""
    assert resp.status_code in allowed, "%s, expected one of %s: %r" % (
        resp.status_code, allowed, resp.content[:300])
    assert_error(resp, resp.status_code, CODE_FOR[resp.status_code], None)


# --------------------------------------------------------------------------
# JSON nesting


@pytest.mark.parametrize("raw", [
    with_extra(nested_array(10000)),
    with_extra(nested_object(10000)),
    nested_array(10000).encode(),
    nested_object(10000).encode(),
    with_extra("[" * 10000),                         # unterminated as well
    with_extra(nested_array(65)),                    # just over 64 levels
], ids=["array", "object", "top-array", "top-object", "unterminated", "65"])
def test_deep_nesting_is_400(fresh_api, base_url, raw):
    r = post_raw(fresh_api, raw)
    assert_error(r, 400, "invalid_json")
    healthy(base_url)
    assert_nothing_stored(fresh_api)


def test_nesting_within_limit_is_accepted(fresh_api):
    r = post_raw(fresh_api, with_extra(nested_array(60)))
    assert_status(r, 201)
    assert body_of(r)["x"] == json.loads(nested_array(60))


def test_deep_nesting_on_put_changes_nothing(api, base_url):
    e = api.create(http_body())
    g0 = api.get("/v1/exports/" + e["_id"])
    for raw in (with_extra(nested_array(10000)), with_extra(nested_object(10000))):
        r = api.put("/v1/exports/" + e["_id"], data=raw, headers={"Content-Type": "application/json"})
        assert_error(r, 400, "invalid_json")
    g1 = api.get("/v1/exports/" + e["_id"])
    assert body_of(g1) == body_of(g0)
    assert g1.headers.get("ETag") == g0.headers.get("ETag")
    healthy(base_url)


# --------------------------------------------------------------------------
# Big strings and big objects


def big_string_body():
    b = http_body()
    b["description"] = "d"
    b["x"] = "s" * (5 * MIB)
    return json.dumps(b).encode()


def many_keys_body(top=False):
    b = http_body()
    keys = {"k%06d" % i: i for i in range(100000)}
    if top:
        b.update(keys)
    else:
        b["settings"] = keys
    return json.dumps(b).encode()


@pytest.mark.parametrize("make", [big_string_body, many_keys_body, lambda: many_keys_body(True)],
                         ids=["5MiB-string", "100k-keys", "100k-top-keys"])
def test_over_default_body_cap_is_413(fresh_api, base_url, make):
    raw = make()
    assert len(raw) > MIB
    r = post_raw(fresh_api, raw)
    assert_error(r, 413, "payload_too_large")
    healthy(base_url)
    assert_nothing_stored(fresh_api)


@pytest.fixture(scope="module")
def big_server(tmp_path_factory):
    """A server whose body cap (8 MiB) does not stop these inputs, so that
    its string-length and key-count caps must."""
    from apilib import EXTERNAL, Server
    if EXTERNAL:
        pytest.skip("needs the local exportd binary")
    root = tmp_path_factory.mktemp("exportd-limits")
    srv = Server(root / "data", root / "logs", max_body=8388608)
    srv.start()
    yield srv
    rc = srv.stop() if srv.running else 0
    rep = srv.sanitizer_report()
    assert rc == 0, "exportd exited with %r" % rc
    assert rep is None, rep


@pytest.mark.parametrize("make", [big_string_body, many_keys_body, lambda: many_keys_body(True)],
                         ids=["5MiB-string", "100k-keys", "100k-top-keys"])
def test_over_value_caps_with_big_body_cap(big_server, make):
    a = big_server.api(unique("caps"))
    raw = make()
    assert MIB < len(raw) < 8388608
    t0 = time.monotonic()
    r = post_raw(a, raw)
    assert_4xx_errors(r, (400, 413, 422))
    assert time.monotonic() - t0 < 20
    healthy(big_server.url)
    assert_nothing_stored(a)
    # and on PUT: nothing changes
    e = a.create(http_body())
    r = a.put("/v1/exports/" + e["_id"], data=raw, headers={"Content-Type": "application/json"})
    assert_4xx_errors(r, (400, 413, 422))
    assert a.fetch(e["_id"]) == e


# --------------------------------------------------------------------------
# Long URLs and big headers


def test_64k_query_string(api, base_url):
    # Past the connection buffer (32 KiB: request line and headers) the HTTP
    # layer refuses the request line itself, before exportd sees it: a 414
    # without the JSON body (docs/decisions.md). Under it, exportd answers
    # with its own JSON error (test below).
    r = api.get("/v1/exports", params={"foo": "q" * 65536})
    assert r.status_code == 414, r.status_code
    healthy(base_url)
    assert_status(api.get("/v1/tokenInfo"), 200)


def test_long_query_string_over_url_cap(api, base_url):
    r = api.get("/v1/exports", params={"foo": "q" * 9000})
    assert r.status_code == 414, r.status_code
    assert_errors(r, r.status_code, [("invalid_query_params", None)])
    healthy(base_url)


def raw_request(base_url, head, timeout=20):
    """Send raw request bytes; return the whole answer (b"" if the server
    closed the connection without one)."""
    u = urlparse(base_url)
    s = socket.create_connection((u.hostname, u.port), timeout=timeout)
    try:
        try:
            s.sendall(head)
        except OSError:
            pass
        data = read_to_close(s, timeout)[0]
    except OSError:
        data = b""
    finally:
        s.close()
    return data


@needs_binary                          # through a proxy, the proxy answers
@pytest.mark.parametrize("extra", [
    "X-Big: %s\r\n" % ("v" * 20480),
    "".join("X-H%03d: %s\r\n" % (i, "v" * 1000) for i in range(100)),
    "Authorization2: %s\r\n" % ("a" * 102400),
], ids=["20KiB-value", "100KiB-headers", "100KiB-value"])
def test_big_headers(api, base_url, extra):
    """Headers over 16 KiB: 431 headers_too_large in the error format, at
    any size (decisions.md)."""
    u = urlparse(base_url)
    head = ("GET /v1/exports HTTP/1.1\r\nHost: %s:%d\r\nAuthorization: Bearer %s\r\n%s"
            "Connection: close\r\n\r\n" % (u.hostname, u.port, api.token, extra)).encode()
    data = raw_request(base_url, head)
    assert data, "connection closed without a response"
    m = re.match(rb"HTTP/1\.1 (\d{3}) [^\r]*\r\n(.*?)\r\n\r\n(.*)$", data, re.S)
    assert m, data[:300]
    assert int(m.group(1)) == 431, data[:300]
    assert b"content-type: application/json; charset=utf-8" in m.group(2).lower()
    body = json.loads(m.group(3))
    assert [e["code"] for e in body["errors"]] == ["headers_too_large"], body
    assert body["errors"][0]["message"] == "The request headers are larger than 16384 bytes"
    healthy(base_url)
    assert_status(api.get("/v1/tokenInfo"), 200)


@needs_binary
def test_big_headers_via_client(api, base_url):
    r = api.get("/v1/exports", headers={"X-Big": "v" * 20480})
    assert_errors(r, 431, [("headers_too_large", None)])
    healthy(base_url)


# --------------------------------------------------------------------------
# Rate limit with a small bucket


RETRY_MSG = re.compile(r"^Too many requests\. Retry after (\d+) seconds\.$")


def test_rate_limit_small_bucket(server_factory):
    # a small burst, so that it is spent well within the first second
    # even on a loaded machine under the sanitizers
    srv = server_factory(extra_args=["--rate-limit-burst", "5", "--rate-limit-rate", "1"])
    a = srv.api(unique("rl"))
    other = srv.api(unique("rl2"))
    sess = requests.Session()
    hdr = {"Authorization": "Bearer " + a.token}
    sess.get(srv.url + "/v1/health")                   # open the connection first
    t0 = time.monotonic()
    statuses = [sess.get(srv.url + "/v1/tokenInfo", headers=hdr).status_code for _ in range(5)]
    r = sess.get(srv.url + "/v1/tokenInfo", headers=hdr)
    elapsed = time.monotonic() - t0
    assert elapsed < 0.9, "too slow (%.2fs) to test a 1/s refill" % elapsed
    assert statuses == [200] * 5, statuses
    assert_error(r, 429, "rate_limited")
    ra = r.headers.get("Retry-After")
    assert ra is not None and re.fullmatch(r"[1-9][0-9]*", ra), "Retry-After %r" % ra
    msg = body_of(r)["errors"][0]["message"]
    m = RETRY_MSG.match(msg)
    assert m, msg
    assert m.group(1) == ra
    # still limited on other routes of the same token, with nothing stored
    p = sess.post(srv.url + "/v1/exports", headers=dict(hdr, **{"Content-Type": "application/json"}),
                  data=json.dumps(http_body()))
    assert_error(p, 429, "rate_limited")
    # another token on the same server is not affected
    assert_status(other.get("/v1/tokenInfo", retry_429=False), 200)
    # unauthenticated or bad-token requests are 401, not 429
    for h in ({}, {"Authorization": "Bearer " + "0" * 32}, {"Authorization": "Basic eDp5"}):
        u = sess.get(srv.url + "/v1/exports", headers=h)
        assert_error(u, 401, "unauthorized")
        assert u.headers.get("WWW-Authenticate", "").startswith("Bearer")
    assert_status(requests.get(srv.url + "/v1/health"), 200)
    # the bucket refills at 1/s
    time.sleep(int(ra))
    r = sess.get(srv.url + "/v1/tokenInfo", headers=hdr)
    assert_status(r, 200)
    r = sess.get(srv.url + "/v1/exports", headers=hdr)
    assert_error(r, 429, "rate_limited")
    # nothing was stored by the limited POST
    time.sleep(1.1)
    assert_status(a.get("/v1/exports"), 204)
