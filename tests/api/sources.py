"""Third-party APIs that exports run against, started by the tests on
127.0.0.1: a local HTTP server (a thread of the test process) with the
paging methods json-server lacks, every auth type, 429/5xx, redirects,
slow and oversized answers; and json-server from npm
(tests/sources/node_modules, installed by make test)."""

import base64
import json
import os
import subprocess
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests

from apilib import REPO, free_port

JSON_SERVER = REPO / "tests" / "sources" / "node_modules" / ".bin" / "json-server"

OAUTH_CLIENT = ("client-7", "client-secret-9f8e7d6c")
OAUTH_USER = ("ana", "user-pass-5b4a3c2d")
BASIC = ("bob", "basic-pass-1a2b3c4d")
TOKEN = "static-token-0a9b8c7d6e"
LOGIN = {"user": "carol", "password": "cookie-pass-77aa88bb"}


def items(n, offset=0):
    return [{"id": offset + i, "name": "item-%d" % (offset + i)} for i in range(1, n + 1)]


class Source:
    """The local source API. state is shared with the handler threads."""

    def __init__(self, count=53):
        self.records = items(count)
        self.lock = threading.Lock()
        self.requests = []          # (method, path, headers dict, body)
        self.tokens = {}            # oauth access token -> expired?
        self.sessions = set()
        self.flaky = {}             # path -> failures left
        self.token_requests = 0
        self.login_requests = 0
        self.port = free_port()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def seen(self, prefix):
        with self.lock:
            return [r for r in self.requests if r[1].startswith(prefix)]

    def expire_tokens(self):
        with self.lock:
            for k in self.tokens:
                self.tokens[k] = True
            self.sessions.clear()

    def _handler(self):
        src = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def reply(self, status, body=b"", ctype="application/json", headers=()):
                if not isinstance(body, bytes):
                    body = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                for k, v in headers:
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                self.handle_any()

            def do_POST(self):
                self.handle_any()

            def handle_any(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n).decode() if n else ""
                u = urllib.parse.urlsplit(self.path)
                q = dict(urllib.parse.parse_qsl(u.query))
                with src.lock:
                    src.requests.append((self.command, self.path, dict(self.headers), body))
                name = "route_" + u.path.strip("/").replace("/", "_")
                getattr(self, name, self.route_missing)(q, body)

            def route_missing(self, q, body):
                self.reply(404, {"error": "no such path"})

            def window(self, start, size):
                return src.records[start:start + size]

            # ---- paging ----
            def route_page(self, q, body):
                size = int(q.get("limit", 10))
                page = int(q.get("page", 1))
                recs = self.window((page - 1) * size, size)
                total = -(-len(src.records) // size)
                self.reply(200, {"data": recs, "meta": {"totalPages": total,
                                                        "total": len(src.records)}})

            def route_page404(self, q, body):
                size = int(q.get("limit", 10))
                page = int(q.get("page", 1))
                recs = self.window((page - 1) * size, size)
                if not recs:
                    self.reply(404, {"error": "past the end"})
                else:
                    self.reply(200, recs)

            def route_skip(self, q, body):
                size = int(q.get("limit", 10))
                skip = int(q.get("skip", 0))
                self.reply(200, {"rows": self.window(skip, size), "count": len(src.records)})

            def route_token(self, q, body):
                size = 10
                start = int(q.get("cursor") or 0)
                recs = self.window(start, size)
                nxt = str(start + size) if start + size < len(src.records) else ""
                self.reply(200, {"items": recs, "next": nxt}, headers=[("X-Next", nxt)])

            def route_url(self, q, body):
                size = 10
                start = int(q.get("at", 0))
                recs = self.window(start, size)
                nxt = None
                if start + size < len(src.records):
                    # relative on odd pages, absolute on even ones
                    nxt = "/url?at=%d" % (start + size)
                    if (start // size) % 2:
                        nxt = src.url + nxt
                self.reply(200, {"items": recs, "links": {"next": nxt}})

            def route_link(self, q, body):
                size = 10
                start = int(q.get("at", 0))
                recs = self.window(start, size)
                links = ['<%s/link?at=0>; rel="first"' % src.url]
                if start + size < len(src.records):
                    links.append('<%s/link?at=%d>; rel="next"' % (src.url, start + size))
                self.reply(200, recs, headers=[("Link", ", ".join(links))])

            def route_rel(self, q, body):
                after = int(q.get("after", 0))
                recs = [r for r in src.records if r["id"] > after][:10]
                self.reply(200, {"results": recs})

            def route_graphql(self, q, body):
                doc = json.loads(body or "{}")
                after = int(doc.get("after") or 0)
                recs = [r for r in src.records if r["id"] > after][:10]
                end = not recs or recs[-1]["id"] == src.records[-1]["id"]
                self.reply(200, {"data": {"items": recs, "pageInfo": {
                    "endCursor": recs[-1]["id"] if recs else None, "hasNextPage": not end}}})

            # ---- auth ----
            def route_basic(self, q, body):
                want = "Basic " + base64.b64encode(("%s:%s" % BASIC).encode()).decode()
                if self.headers.get("Authorization") != want:
                    return self.reply(401, {"error": "bad credentials"})
                self.reply(200, self.window(0, 3))

            def route_bearer(self, q, body):
                ok = self.headers.get("Authorization") == "Bearer " + TOKEN or \
                    q.get("access_token") == TOKEN or self.headers.get("X-Api-Key") == TOKEN
                if not ok:
                    return self.reply(401, {"error": "bad token"})
                self.reply(200, self.window(0, 3))

            def route_oauth_token(self, q, body):
                form = dict(urllib.parse.parse_qsl(body))
                auth = self.headers.get("Authorization", "")
                cid = csec = None
                if auth.startswith("Basic "):
                    cid, _, csec = base64.b64decode(auth[6:]).decode().partition(":")
                else:
                    cid, csec = form.get("client_id"), form.get("client_secret")
                with src.lock:
                    src.token_requests += 1
                if (cid, csec) != OAUTH_CLIENT:
                    return self.reply(401, {"error": "invalid_client"})
                if form.get("grant_type") == "password" and \
                        (form.get("username"), form.get("password")) != OAUTH_USER:
                    return self.reply(400, {"error": "invalid_grant"})
                if form.get("grant_type") not in ("password", "client_credentials"):
                    return self.reply(400, {"error": "unsupported_grant_type"})
                tok = "at-%d-%s" % (src.token_requests, os.urandom(6).hex())
                with src.lock:
                    src.tokens[tok] = False
                self.reply(200, {"access_token": tok, "token_type": "Bearer",
                                 "expires_in": 3600, "scope": form.get("scope", "")})

            def route_oauth_items(self, q, body):
                tok = self.headers.get("Authorization", "")[len("Bearer "):]
                with src.lock:
                    expired = src.tokens.get(tok, True)
                if expired:
                    return self.reply(401, {"error": "expired"})
                self.reply(200, self.window(0, 4))

            def route_login(self, q, body):
                with src.lock:
                    src.login_requests += 1
                try:
                    doc = json.loads(body)
                except ValueError:
                    doc = {}
                if doc != LOGIN:
                    return self.reply(403, {"error": "login failed"})
                sid = os.urandom(8).hex()
                with src.lock:
                    src.sessions.add(sid)
                self.reply(200, {"ok": True}, headers=[
                    ("Set-Cookie", "sid=%s; Path=/; HttpOnly" % sid),
                    ("Set-Cookie", "lang=en; Path=/")])

            def route_session_items(self, q, body):
                cookies = dict(c.strip().split("=", 1) for c in
                               self.headers.get("Cookie", "").split(";") if "=" in c)
                with src.lock:
                    ok = cookies.get("sid") in src.sessions
                if not ok:
                    return self.reply(401, {"error": "no session"})
                self.reply(200, self.window(0, 2))

            # ---- failures ----
            def route_flaky(self, q, body):
                key = q.get("key", "")
                with src.lock:
                    left = src.flaky.get(key, 0)
                    src.flaky[key] = left - 1
                if left > 0:
                    return self.reply(int(q.get("status", 503)), {"error": "busy"},
                                      headers=[("Retry-After", "1")] if q.get("ra") else [])
                self.reply(200, self.window(0, 2))

            def route_fail(self, q, body):
                self.reply(int(q.get("status", 500)),
                           {"error": {"message": "the source says no: " + q.get("why", "")}})

            def route_okfail(self, q, body):
                self.reply(200, {"status": "error", "message": "quota exceeded",
                                 "data": []})

            def route_redirect(self, q, body):
                self.send_response(302)
                self.send_header("Location", q["to"])
                self.send_header("Content-Length", "0")
                self.end_headers()

            def route_echo(self, q, body):
                self.reply(200, {"headers": dict(self.headers), "path": self.path, "body": body})

            def route_slow(self, q, body):
                time.sleep(float(q.get("s", 3)))
                self.reply(200, self.window(0, 1))

            def route_big(self, q, body):
                n = int(q.get("n", 100000))
                self.reply(200, [{"x": "y" * 100}] * (n // 110))

            def route_wide(self, q, body):
                # pages of 1000 records of about 1 KiB, up to `pages`
                page, pages = int(q.get("page", 1)), int(q.get("pages", 80))
                pad = "w" * 1000
                recs = [] if page > pages else \
                    [{"id": (page - 1) * 1000 + i, "pad": pad} for i in range(1, 1001)]
                self.reply(200, recs)

            def route_xml(self, q, body):
                self.reply(200, b"<list><item><id>1</id><name>a</name></item>"
                           b"<item><id>2</id><name>b</name></item></list>",
                           ctype="application/xml")

            def route_csv(self, q, body):
                self.reply(200, b"id,name\n1,a\n2,b\n3,c\n", ctype="text/csv")

            def route_text(self, q, body):
                self.reply(200, b"hello there", ctype="text/plain")

            def route_changes(self, q, body):
                since = q.get("since", "")
                recs = [r for r in src.changes if r["updatedAt"] > since] if since else \
                    list(src.changes)
                self.reply(200, {"data": recs})

        return Handler


class JsonServer:
    """json-server 0.17 over a db of count items, on a free port."""

    def __init__(self, tmp_path, count):
        if not JSON_SERVER.exists():
            raise RuntimeError("json-server is not installed: run make test (it installs "
                               "tests/sources from npm)")
        db = Path(tmp_path) / "db.json"
        db.write_text(json.dumps({"items": items(count)}))
        self.port = free_port()
        self.proc = subprocess.Popen(
            [str(JSON_SERVER), "--port", str(self.port), "--host", "127.0.0.1", "--quiet",
             str(db)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if requests.get(self.url + "/items?_limit=1", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                time.sleep(0.1)
        self.close()
        raise RuntimeError("json-server did not start")

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
