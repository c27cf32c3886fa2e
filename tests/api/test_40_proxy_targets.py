"""Absolute-form request targets (RFC 9112 section 3.2.2): clients that
reach exportd through HTTP_PROXY or HTTPS_PROXY send
`GET http://api.integrator.io/v1/exports HTTP/1.1`. They are routed by their
path; Link and Location then carry the target's scheme and authority, so
the client follows them back through its proxy, unless --public-url is set.

The proxy here is a plain forward proxy written for the test: it reads a
request, checks that its target is absolute, and forwards it to exportd
with the request line unchanged (every host resolves to exportd)."""

import re
import socket
import socketserver
import threading
import uuid

import pytest
import requests

from apilib import (assert_status, body_of, needs_binary,
                    parse_link_next, read_to_close, simple_body, url_hook,
                    wait_for_log)

pytestmark = needs_binary

FAR = "http://api.integrator.io"        # what the client believes it calls
ABS_LINE = re.compile(rb"^[A-Z]+ https?://[^/ ]+/\S* HTTP/1\.1$")


def _read_head(f):
    lines = []
    while True:
        line = f.readline(65536)
        if not line:
            return None
        if line in (b"\r\n", b"\n"):
            return lines
        lines.append(line.rstrip(b"\r\n"))


class ForwardProxy:
    """A one-request-per-connection forward proxy to one upstream port."""

    def __init__(self, upstream_port):
        self.upstream = ("127.0.0.1", upstream_port)
        self.lines = []          # request lines as received and forwarded
        proxy = self

        class Handler(socketserver.StreamRequestHandler):
            timeout = 20

            def handle(self):
                head = _read_head(self.rfile)
                if not head:
                    return
                proxy.lines.append(head[0])
                if not ABS_LINE.match(head[0]):
                    self.wfile.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n"
                                     b"Connection: close\r\n\r\n")
                    return
                length = 0
                out = [head[0]]
                for h in head[1:]:
                    name = h.split(b":", 1)[0].strip().lower()
                    if name in (b"connection", b"proxy-connection", b"keep-alive"):
                        continue
                    if name == b"content-length":
                        length = int(h.split(b":", 1)[1])
                    out.append(h)
                out.append(b"Connection: close")
                body = self.rfile.read(length) if length else b""
                with socket.create_connection(proxy.upstream, timeout=20) as up:
                    up.sendall(b"\r\n".join(out) + b"\r\n\r\n" + body)
                    while True:
                        chunk = up.recv(65536)
                        if not chunk:
                            break
                        self.wfile.write(chunk)

        class Srv(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.srv = Srv(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self.srv.server_address[1]
        self.thread = threading.Thread(target=self.srv.serve_forever,
                                       kwargs={"poll_interval": 0.1}, daemon=True)
        self.thread.start()

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()
        self.thread.join(10)


@pytest.fixture
def proxied(server_factory):
    """A fresh server, a forward proxy to it, and a requests session that
    calls FAR through the proxy with a token of a new account."""
    made = []

    def make(*args):
        srv = server_factory(extra_args=list(args))
        proxy = ForwardProxy(srv.port)
        made.append(proxy)
        tok = srv.create_token("proxied-" + uuid.uuid4().hex[:8])["token"]
        s = requests.Session()
        s.trust_env = False
        s.proxies = {"http": proxy.url}
        s.headers["Authorization"] = "Bearer " + tok
        return srv, proxy, s, tok

    yield make
    for p in made:
        p.close()


def raw(port, data, timeout=10):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.sendall(data)
    out, closed, took = read_to_close(s, timeout)
    s.close()
    return out, closed, took


def test_pages_followed_through_the_proxy(proxied):
    srv, proxy, s, _ = proxied()
    names = []
    for i in range(5):
        r = s.post(FAR + "/v1/exports", json=simple_body("p%d" % i), timeout=10)
        assert_status(r, 201)
        names.append("p%d" % i)
    url, pages, got = FAR + "/v1/exports?limit=2&type=simple", 0, []
    while url is not None:
        assert url.startswith(FAR + "/v1/exports?"), url
        r = s.get(url, timeout=10)
        assert_status(r, 200)
        got += [e["name"] for e in body_of(r)]
        pages += 1
        url = parse_link_next(r)
        if url is not None:
            assert "type=simple" in url and "limit=2" in url, url
    assert pages == 3 and got == names
    # every request reached exportd in absolute form, through the proxy
    assert len(proxy.lines) == 5 + 3
    assert all(l.startswith(b"GET " + FAR.encode()) or
               l.startswith(b"POST " + FAR.encode()) for l in proxy.lines), proxy.lines


def test_location_through_the_proxy(proxied):
    srv, _, s, _ = proxied()
    r = s.post(FAR + "/v1/exports", json=simple_body(), timeout=10)
    assert_status(r, 201)
    eid = body_of(r)["_id"]
    assert r.headers["Location"] == FAR + "/v1/exports/" + eid
    r = s.get(r.headers["Location"], timeout=10)
    assert_status(r, 200)
    assert body_of(r)["_id"] == eid
    # the clone's Location too
    r = s.post(FAR + "/v1/exports/%s/clone" % eid, timeout=10)
    assert_status(r, 201)
    assert r.headers["Location"] == FAR + "/v1/exports/" + body_of(r)["_id"]


def test_https_target_and_authority_win_over_host(proxied):
    """What axios sends through HTTPS_PROXY: an https target in plain HTTP.
    The target's scheme and authority are used, not Host."""
    srv, _, s, tok = proxied()
    for i in range(2):
        assert_status(s.post(FAR + "/v1/exports", json=simple_body(), timeout=10), 201)
    out, _, _ = raw(srv.port, (
        "GET HTTPS://API.example.com:8443/v1/exports/?limit=1 HTTP/1.1\r\n"
        "Host: evil.example\r\nX-Forwarded-Proto: http\r\n"
        "Authorization: Bearer %s\r\nConnection: close\r\n\r\n" % tok).encode())
    assert out.startswith(b"HTTP/1.1 200"), out[:300]
    link = re.search(rb"\r\nLink: <([^>]*)>", out)
    assert link, out[:500]
    assert link.group(1).startswith(b"https://API.example.com:8443/v1/exports?limit=1&after="), link.group(1)
    body = b'{"name":"x","type":"simple","simple":{"file":{}}}'
    out, _, _ = raw(srv.port, (
        "POST https://api.integrator.io/v1/exports HTTP/1.1\r\nHost: api.integrator.io\r\n"
        "Authorization: Bearer %s\r\nContent-Type: application/json\r\n"
        "Content-Length: %d\r\nConnection: close\r\n\r\n" % (tok, len(body))).encode() + body)
    assert out.startswith(b"HTTP/1.1 201"), out[:300]
    assert re.search(rb"\r\nLocation: https://api\.integrator\.io/v1/exports/[0-9a-f]{24}\r\n", out), out[:500]


def test_public_url_wins(proxied):
    pub = "https://exports.example.com"
    srv, _, s, tok = proxied("--public-url", pub + "/")
    for i in range(3):
        r = s.post(FAR + "/v1/exports", json=simple_body(), timeout=10)
        assert_status(r, 201)
        assert r.headers["Location"] == pub + "/v1/exports/" + body_of(r)["_id"]
    r = s.get(FAR + "/v1/exports?limit=2", timeout=10)
    assert_status(r, 200)
    assert parse_link_next(r).startswith(pub + "/v1/exports?limit=2&after="), r.headers["Link"]
    # origin-form requests: Location honours --public-url like Link does
    h = {"Authorization": "Bearer " + tok}
    r = requests.post(srv.url + "/v1/exports", json=simple_body(), headers=h, timeout=10)
    assert_status(r, 201)
    assert r.headers["Location"] == pub + "/v1/exports/" + body_of(r)["_id"]
    r = requests.get(srv.url + "/v1/exports?limit=2", headers=h, timeout=10)
    assert parse_link_next(r).startswith(pub + "/v1/exports?limit=2&after=")


def test_origin_form_unchanged(api, base_url):
    r = api.post("/v1/exports", json=simple_body())
    assert_status(r, 201)
    assert r.headers["Location"] == "/v1/exports/" + body_of(r)["_id"]
    api.create(simple_body())
    r = api.get("/v1/exports?limit=1")
    assert parse_link_next(r).startswith(base_url + "/v1/exports?limit=1&after=")


def test_secret_url_token_not_logged(proxied):
    srv, _, s, _ = proxied()
    e, path = url_hook(requests_api(s))
    tok = path.split("/")[4]
    anon = {"Authorization": None}     # the listener takes no bearer token
    r = s.post(FAR + path, json={"order": 42}, headers=anon, timeout=10)
    assert r.status_code == 204, r.content
    wrong = uuid.uuid4().hex
    r2 = s.post(FAR + "/v1/exports/%s/%s/data" % (e["_id"], wrong),
                json={"order": 43}, headers=anon, timeout=10)
    assert r2.status_code == 401, r2.content
    text = wait_for_log(srv, "id=" + r2.headers["X-Request-Id"])
    for piece in (tok, tok[:12], tok[-12:], wrong, wrong[:12]):
        assert piece not in text, piece
    line = [l for l in text.splitlines() if "id=" + r.headers["X-Request-Id"] in l][0]
    assert "POST /v1/exports/%s/***/data 204" % e["_id"] in line, line
    r = s.get(FAR + "/v1/exports/%s/inbox" % e["_id"], timeout=10)
    assert [x["record"] for x in body_of(r)["records"]] == [{"order": 42}]


class requests_api:
    """The create() of apilib.Api over a proxied session."""

    def __init__(self, s):
        self.s = s

    def create(self, body):
        r = self.s.post(FAR + "/v1/exports", json=body, timeout=10)
        assert_status(r, 201)
        return body_of(r)


@pytest.mark.parametrize("target,why", [
    ("ftp://api.integrator.io/v1/exports", "scheme"),
    ("http://user:SeCrEtPw@api.integrator.io/v1/exports", "user name"),
    ("http:///v1/exports", "empty"),
    ("http://api.integrator.io:99999/v1/exports", "host"),
    ("http://[::1/v1/exports", "host"),
    ("http://a%40b/v1/exports", "host"),
    ("mailto:someone", "path"),
    ("v1/exports", "path"),
    ("api.integrator.io:443", "CONNECT"),
])
def test_malformed_targets_are_400(proxied, target, why):
    srv, _, s, tok = proxied()
    body = b'{"name":"never","type":"simple","simple":{"file":{}}}'
    out, closed, took = raw(srv.port, (
        "POST %s HTTP/1.1\r\nHost: api.integrator.io\r\nAuthorization: Bearer %s\r\n"
        "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n"
        % (target, tok, len(body))).encode() + body)
    assert out.startswith(b"HTTP/1.1 400"), out[:300]
    assert b'"code":"bad_request"' in out and why.encode() in out, out
    assert closed and took < 5
    r = s.get(FAR + "/v1/exports", timeout=10)
    assert r.status_code == 204, "a refused request stored something"
    assert "SeCrEtPw" not in srv.stderr_text()


def test_connect_is_refused_and_closed(local_server):
    out, closed, took = raw(local_server.port,
                            b"CONNECT api.integrator.io:443 HTTP/1.1\r\n"
                            b"Host: api.integrator.io:443\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 405"), out[:300]
    assert b'"code":"method_not_allowed"' in out and b"not a proxy" in out
    assert re.search(rb"\r\nAllow: GET, HEAD, POST, PUT, DELETE", out), out
    assert closed and took < 5


def test_connect_through_requests_is_a_clear_proxy_error(local_server):
    """An https URL with exportd as the proxy: requests tunnels, and is
    told at once why not."""
    with pytest.raises(requests.exceptions.ProxyError) as e:
        requests.get("https://api.integrator.io/v1/health", timeout=10,
                     proxies={"https": local_server.url})
    assert "405" in str(e.value)


def test_options_asterisk(local_server):
    out, _, _ = raw(local_server.port, b"OPTIONS * HTTP/1.1\r\nHost: x\r\n"
                    b"Connection: close\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 204"), out[:300]
    assert b"\r\nAllow: GET, HEAD, POST, PUT, DELETE" in out
    out, _, _ = raw(local_server.port, b"GET * HTTP/1.1\r\nHost: x\r\n"
                    b"Connection: close\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 400") and b"only for OPTIONS" in out, out[:300]


def test_absolute_target_on_a_kept_alive_connection(local_server):
    """The gate sees only a connection's first head; later ones are checked
    by the server the same way."""
    out, _, _ = raw(local_server.port,
                    b"GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n"
                    b"GET HTTP://X:1/v1/health?probe=1 HTTP/1.1\r\nHost: x\r\n\r\n"
                    b"GET http://u@x/v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
    assert out.count(b"HTTP/1.1 200") == 2, out
    assert b"HTTP/1.1 400" in out and b"user name" in out, out


def test_empty_path_is_the_root(local_server):
    out, _, _ = raw(local_server.port, b"GET http://x HTTP/1.1\r\nHost: x\r\n"
                    b"Connection: close\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 404"), out[:200]
    assert b'"code":"not_found"' in out
