"""HTTP framing: a request whose body framing or target is ambiguous is
answered at once with one 4xx/5xx in the error format and the connection is
closed, so bytes after it never run as a second request."""

import json
import re
import socket
import time
from urllib.parse import urlparse

import pytest

from apilib import assert_status, http_body, needs_binary, read_to_close

# exportd's own HTTP layer: through a proxy (external mode) the proxy answers.
pytestmark = needs_binary


def exchange(base_url, data, timeout=5.0):
    """Send raw bytes; read until the server closes (or timeout).
    Returns (bytes received, closed by the server, seconds taken)."""
    u = urlparse(base_url)
    s = socket.create_connection((u.hostname, u.port), timeout=timeout)
    try:
        s.sendall(data)
        return read_to_close(s, timeout)
    finally:
        s.close()


def one_answer(out):
    """The single response in out: (status, headers dict, parsed body)."""
    starts = [m.start() for m in re.finditer(rb"HTTP/1\.[01] \d{3} ", out)]
    assert len(starts) == 1, "expected exactly one response, got %d:\n%r" % (len(starts), out[:2000])
    head, _, body = out.partition(b"\r\n\r\n")
    lines = head.decode("latin1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for l in lines[1:]:
        k, _, v = l.partition(":")
        assert k.lower() not in headers, "header %s twice: %r" % (k, head)
        headers[k.lower()] = v.strip()
    n = int(headers["content-length"])
    assert len(body) == n, (n, body)
    return status, headers, json.loads(body)


def assert_refused(out, closed, status, code):
    got, headers, body = one_answer(out)
    assert got == status, out[:500]
    assert headers["content-type"] == "application/json; charset=utf-8"
    assert headers.get("connection", "").lower() == "close"
    assert body["errors"][0]["code"] == code, body
    assert body["errors"][0]["message"], body
    assert closed, "the connection was left open"


def host_of(base_url):
    u = urlparse(base_url)
    return "%s:%d" % (u.hostname, u.port)


@pytest.fixture
def victim(api, base_url):
    """An export and the raw DELETE that would remove it."""
    e = api.create(http_body())
    delete = ("DELETE /v1/exports/%s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n"
              "Content-Length: 0\r\n\r\n" % (e["_id"], host_of(base_url), api.token)).encode()
    return e["_id"], delete


def still_there(api, export_id):
    assert_status(api.get("/v1/exports/" + export_id), 200)


def test_transfer_encoding_with_content_length_smuggles_nothing(api, base_url, victim):
    vid, delete = victim
    head = ("POST /v1/exports HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n"
            "Content-Type: application/json\r\nContent-Length: 5\r\n"
            "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n" % (host_of(base_url), api.token)).encode()
    out, closed, took = exchange(base_url, head + delete)
    assert_refused(out, closed, 400, "bad_request")
    assert took < 3
    still_there(api, vid)


def test_http11_without_host(api, base_url, victim):
    vid, delete = victim
    head = ("GET /v1/exports HTTP/1.1\r\nAuthorization: Bearer %s\r\n\r\n" % api.token).encode()
    out, closed, _ = exchange(base_url, head + delete)
    assert_refused(out, closed, 400, "bad_request")
    assert b"Host" in out
    still_there(api, vid)


def test_two_host_headers(api, base_url):
    head = b"GET /v1/health HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"
    out, closed, _ = exchange(base_url, head)
    assert_refused(out, closed, 400, "bad_request")


@pytest.mark.parametrize("te", ["gzip", "identity", "chunked, gzip", "gzip, chunked", "xchunked"])
def test_unknown_transfer_encoding_answered_at_once(api, base_url, victim, te):
    vid, delete = victim
    head = ("POST /v1/exports HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n"
            "Transfer-Encoding: %s\r\n\r\n" % (host_of(base_url), api.token, te)).encode()
    out, closed, took = exchange(base_url, head + delete)
    assert_refused(out, closed, 501, "not_implemented")
    assert took < 3, "answered after %.1f s" % took
    still_there(api, vid)


def test_absurd_chunk_size_answered_at_once(api, base_url, victim):
    vid, delete = victim
    head = ("POST /v1/exports HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n"
            "Transfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\nabc" % (host_of(base_url), api.token)).encode()
    out, closed, took = exchange(base_url, head + delete)
    assert_refused(out, closed, 413, "payload_too_large")
    assert took < 3, "answered after %.1f s" % took
    still_there(api, vid)


@pytest.mark.parametrize("cl,status,code", [
    ("abc", 400, "bad_request"),
    ("-1", 400, "bad_request"),
    ("1 2", 400, "bad_request"),
    ("+5", 400, "bad_request"),
    ("99999999999999999999999", 413, "payload_too_large"),
], ids=["letters", "negative", "two-numbers", "plus", "huge"])
def test_bad_content_length(api, base_url, victim, cl, status, code):
    vid, delete = victim
    head = ("POST /v1/exports HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n"
            "Content-Length: %s\r\n\r\n" % (host_of(base_url), api.token, cl)).encode()
    out, closed, took = exchange(base_url, head + delete)
    assert_refused(out, closed, status, code)
    assert took < 3
    still_there(api, vid)


def test_two_different_content_lengths(api, base_url, victim):
    vid, delete = victim
    body = b"{}"
    head = ("POST /v1/exports HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n"
            "Content-Length: 2\r\nContent-Length: %d\r\n\r\n" % (
                host_of(base_url), api.token, len(body) + len(delete))).encode()
    out, closed, _ = exchange(base_url, head + body + delete)
    assert_refused(out, closed, 400, "bad_request")
    still_there(api, vid)


@pytest.mark.parametrize("target", ["/v1/exports/%00", "/v1/exp%00orts", "/v1/exports?name=a%00b"])
def test_encoded_nul_in_target(api, base_url, victim, target):
    vid, delete = victim
    head = ("GET %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n\r\n" % (
        target, host_of(base_url), api.token)).encode()
    out, closed, _ = exchange(base_url, head + delete)
    assert_refused(out, closed, 400, "bad_request")
    still_there(api, vid)


def test_second_request_on_a_kept_alive_connection_is_checked(api, base_url, victim):
    """The first request is fine; the second is ambiguous: the first is
    answered, the second refused, and the bytes after it are not run."""
    vid, delete = victim
    h = host_of(base_url)
    first = ("GET /v1/tokenInfo HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n\r\n" % (
        h, api.token)).encode()
    second = ("POST /v1/exports HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n"
              "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" % (h, api.token)).encode()
    out, closed, _ = exchange(base_url, first + second + delete)
    assert out.startswith(b"HTTP/1.1 200 "), out[:300]
    rest = out[out.index(b"HTTP/1.1 ", 1):]
    assert_refused(rest, closed, 400, "bad_request")
    still_there(api, vid)


def test_chunked_body_past_the_cap_stops_being_read(server_factory):
    """A chunked body over --max-body is answered 413 once the cap is
    passed; the server reads no further (the client cannot send 64 MiB)."""
    srv = server_factory(max_body=65536)
    a = srv.api()
    u = urlparse(srv.url)
    s = socket.create_connection((u.hostname, u.port), timeout=10)
    s.sendall(("POST /v1/exports HTTP/1.1\r\nHost: %s:%d\r\nAuthorization: Bearer %s\r\n"
               "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" % (
                   u.hostname, u.port, a.token)).encode())
    block = b"10000\r\n" + b" " * 0x10000 + b"\r\n"
    s.setblocking(False)
    sent, got, deadline = 0, b"", time.monotonic() + 15
    try:
        while sent < 64 * 2**20 and time.monotonic() < deadline:
            try:
                sent += s.send(block)
            except BlockingIOError:
                time.sleep(0.002)
            try:
                c = s.recv(65536)
                if not c:
                    break
                got += c
            except BlockingIOError:
                pass
    except (BrokenPipeError, ConnectionResetError):
        pass
    s.setblocking(True)
    try:
        got += read_to_close(s, 5)[0]
    except OSError:
        pass
    s.close()
    assert sent < 16 * 2**20, "the server read %d MiB past a 64 KiB cap" % (sent >> 20)
    assert_refused(got, True, 413, "payload_too_large")
    assert_status(a.get("/v1/tokenInfo"), 200)


@pytest.mark.parametrize("kept_alive", [False, True], ids=["first", "kept-alive"])
def test_space_before_colon_smuggles_nothing(api, base_url, victim, kept_alive):
    """'Content-Length : N' is not a Content-Length to libmicrohttpd: the
    body would run as the next request."""
    vid, delete = victim
    h = host_of(base_url)
    first = ("GET /v1/tokenInfo HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n\r\n" % (
        h, api.token)).encode() if kept_alive else b""
    bad = ("POST /v1/exports HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n"
           "Content-Length : %d\r\n\r\n" % (h, api.token, len(delete))).encode()
    out, closed, _ = exchange(base_url, first + bad + delete)
    if kept_alive:
        assert out.startswith(b"HTTP/1.1 200 "), out[:300]
        out = out[out.index(b"HTTP/1.1 ", 1):]
    assert_refused(out, closed, 400, "bad_request")
    still_there(api, vid)


@pytest.mark.parametrize("line", ["X-Folded: a\r\n  b", "NoColon", ": empty-name"])
def test_malformed_header_lines(api, base_url, line):
    head = ("GET /v1/health HTTP/1.1\r\nHost: %s\r\n%s\r\n\r\n" % (host_of(base_url), line)).encode()
    out, closed, _ = exchange(base_url, head)
    assert_refused(out, closed, 400, "bad_request")


@pytest.mark.parametrize("start", [b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", b" GET / HTTP/1.1\r\n",
                                   b"G\x1bET / HTTP/1.1\r\n"], ids=["tls-hello", "leading-space", "control"])
def test_first_head_not_http(api, base_url, start):
    """Bytes that cannot begin a request are answered at once, not after
    the head deadline."""
    out, closed, took = exchange(base_url, start)
    assert_refused(out, closed, 400, "bad_request")
    assert took < 3
