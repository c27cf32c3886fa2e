"""The access log: a URL token never reaches it, whatever its length, shape
or place in the path; untrusted text in the method is escaped."""

import socket
import uuid
from urllib.parse import urlparse

import pytest
import requests

from apilib import read_to_close, wait_for_log, webhook_body


def secret(n):
    s = ""
    while len(s) < n:
        s += uuid.uuid4().hex
    return "T" + s[:n - 1]


@pytest.fixture
def hook(server_factory):
    srv = server_factory()
    a = srv.api()
    e = a.create(webhook_body(webhook={"provider": "custom", "verify": "token",
                                       "token": secret(32), "path": "t"}))
    return srv, e["_id"]


@pytest.mark.parametrize("shape", [
    "long", "double-slash", "extra-segment", "encoded-slash", "no-id", "elsewhere",
    "many-segments"])
def test_url_token_never_logged(hook, shape):
    srv, eid = hook
    tok = secret(600 if shape == "long" else 40)
    path = {
        "long": "/v1/exports/%s/%s/data" % (eid, tok),
        "double-slash": "/v1/exports//%s/data" % tok,
        "extra-segment": "/v1/exports/%s/%s/data/x" % (eid, tok),
        "encoded-slash": "/v1/exports/%s/%s%%2F%s/data" % (eid, tok[:20], tok[20:]),
        "no-id": "/v1/exports/%s/data" % tok,
        "elsewhere": "/v1/%s/exports" % tok,
        "many-segments": "/v1/exports/%s/%s/data" % (eid, "/".join([tok[:8]] * 300)),
    }[shape]
    marker = uuid.uuid4().hex
    r = requests.post(srv.url + path, data=b"{}", timeout=10,
                      headers={"Content-Type": "application/json", "X-Marker": marker})
    assert 400 <= r.status_code < 500, r.status_code
    rid = r.headers["X-Request-Id"]
    text = wait_for_log(srv, "id=" + rid)
    line = [l for l in text.splitlines() if "id=" + rid in l][0]
    for piece in (tok, tok[:12], tok[-12:], tok[20:32]):
        assert piece not in text, "token piece %r in the log: %s" % (piece, line[:300])
    assert "***" in line, line[:300]
    assert len(line) < 700, "log line of %d bytes" % len(line)
    if shape == "many-segments":
        assert "/***/***/***..." in line, line


def test_ids_and_fixed_words_stay_readable(hook):
    srv, eid = hook
    r = requests.get(srv.url + "/v1/exports/%s/distributed" % eid, timeout=10)
    text = wait_for_log(srv, "id=" + r.headers["X-Request-Id"])
    assert "/v1/exports/%s/distributed" % eid in text


def test_method_is_escaped(hook):
    srv, _ = hook
    u = urlparse(srv.url)
    s = socket.create_connection((u.hostname, u.port), timeout=5)
    # on a kept-alive connection: the first head of a connection with such
    # a method is refused before it is parsed (see test_first_head_not_http)
    s.sendall(b"GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n"
              b"G\x1bE\x08T\x7f\r /v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    out = read_to_close(s, 5)[0]
    s.close()
    assert out.startswith(b"HTTP/1.1 200"), out[:200]
    out = out[out.index(b"HTTP/1.1 ", 1):]
    assert out.startswith(b"HTTP/1.1 400"), out[:200]
    text = wait_for_log(srv, "/v1/health 400")
    assert "\x1b" not in text and "\x08" not in text and "\x7f" not in text and "\r" not in text
    assert "G\\x1bE\\x08T\\x7f\\r /v1/health 400" in text, [
        l for l in text.splitlines() if "health 4" in l]
