"""Every response the API suite receives, checked against the OpenAPI
document (openapi/exportd.json): docs/openapi.md.

For each response of an exportd server (the ports apilib's Server started,
or EXPORTD_URL):

- the path is matched to the document's paths (a trailing slash dropped,
  '{name}' matching one non-empty segment, fixed segments first), then the
  method to an operation (HEAD: the path's own `head`, else its `get`);
- its status must be one the operation lists (or its '2XX' range); a path
  that matches no documented path may only get the answers listed in
  `x-exportd-unrouted`; a documented path with an undocumented method may
  only get 405, whose Allow must list exactly the documented methods;
- every header the response object marks required must be there, and every
  documented header that is there must match its schema;
- the body: none for HEAD, 204 and 304 and where no content is documented;
  else of a documented media type, and a JSON body must validate against
  the schema (JSON Schema 2020-12, $refs resolved in the document).

A problem is recorded, not raised where it is found (responses arrive on
threads too): conftest.py fails the test that received it. Raw-socket and
urllib tests hand their responses in with check_raw() and check().
"""

import json
import os
import re
import socket
import sys
import threading
from pathlib import Path
from urllib.parse import unquote, urlsplit

import jsonschema
import requests

DOC_PATH = Path(__file__).resolve().parents[2] / "openapi" / "exportd.json"
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
BODY_CAP = 64 * 1024 * 1024     # streamed bodies longer than this: not kept


# The suite may run against a server behind a front (EXPORTD_URL: nginx in
# tests/scale); an answer without exportd's X-Request-Id is the front's.
FRONTED = bool(os.environ.get("EXPORTD_URL"))


def load_doc():
    with open(DOC_PATH, "rb") as f:
        return json.loads(f.read().decode("utf-8"))


class Spec:
    """The document, with its paths split and its schemas compiled."""

    def __init__(self, doc):
        self.doc = doc
        self.paths = []
        for tmpl, item in doc["paths"].items():
            segs = tmpl.strip("/").split("/")
            self.paths.append((tmpl, segs, item))
        self.resolver = jsonschema.RefResolver("", doc)
        self.validators = {}

    def resolve(self, node):
        while isinstance(node, dict) and "$ref" in node:
            node = self.resolver.resolve(node["$ref"])[1]
        return node

    def match(self, path):
        """The documented paths that match path with the most fixed
        segments (the router's rule: fewest parameters win), in the
        document's order."""
        segs = path.strip("/").split("/") if path != "/" else [""]
        out = []
        for tmpl, tsegs, item in self.paths:
            if len(tsegs) != len(segs):
                continue
            fixed = 0
            for t, s in zip(tsegs, segs):
                if t.startswith("{") and t.endswith("}"):
                    if s == "":
                        break
                elif t != s:
                    break
                else:
                    fixed += 1
            else:
                out.append((fixed, tmpl, item))
        most = max((f for f, _, _ in out), default=0)
        return [(tmpl, item) for f, tmpl, item in out if f == most]

    @staticmethod
    def methods(item):
        """What a 405's Allow lists for a path: its operations, HEAD with
        GET, and not OPTIONS (the CORS preflight, on every path)."""
        m = {k.upper() for k in item if k in METHODS and k != "options"}
        if "GET" in m:
            m.add("HEAD")
        return m

    def validate(self, schema, value):
        key = id(schema)
        v = self.validators.get(key)
        if v is None:
            v = jsonschema.Draft202012Validator(schema, resolver=self.resolver)
            self.validators[key] = (v, schema)     # keep schema alive
        else:
            v = v[0]
        return [e for e in v.iter_errors(value)]

    # ------------------------------------------------------------------

    def operation(self, method, path):
        """(label, responses, allowed) for a request: responses maps
        status keys to response objects; allowed is the Allow set a 405
        must carry, or None."""
        matches = self.match(path)
        if not matches:
            return ("%s %s (no documented path)" % (method, path),
                    self.doc["x-exportd-unrouted"], None)
        allowed = set()
        for tmpl, item in matches:
            allowed |= self.methods(item)
        for tmpl, item in matches:
            key = method.lower()
            op = item.get(key)
            if op is None and key == "head":
                op = item.get("get")
            if op is not None:
                return ("%s %s" % (method, tmpl), op["responses"], None)
        unrouted = {k: v for k, v in self.doc["x-exportd-unrouted"].items()
                    if k != "404"}
        unrouted["405"] = {"$ref": "#/components/responses/MethodNotAllowed"}
        return ("%s %s (undocumented method)" % (method, matches[0][0]),
                unrouted, allowed)

    def lookup(self, method, url, status):
        """(where, the response object or None, the Allow a 405 must
        carry or None, the operation's responses) for an answer."""
        path = unquote(urlsplit(url).path) or "/"
        if len(path) > 1 and path.endswith("/"):
            path = path[:-1]
        label, responses, allowed = self.operation(method.upper(), path)
        where = "%s -> %d" % (label, status)
        resp = responses.get(str(status)) or responses.get("%dXX" % (status // 100))
        return where, resp, allowed, responses

    def check(self, method, url, status, headers, body):
        """Problems of one response, as strings (none: it conforms).
        headers: a case-insensitive mapping; body: bytes, or None when it
        was not read (streamed and left unread)."""
        if FRONTED and headers.get("X-Request-Id") is None:
            return []       # the front's own answer (nginx's 414, ...), not exportd's
        where, resp, allowed, responses = self.lookup(method, url, status)
        if resp is None:
            return ["%s: status %d is not documented (documented: %s)" % (
                where, status, ", ".join(sorted(responses)))]
        problems = self.check_parts(where, method, status, headers, body, self.resolve(resp))
        if status == 405 and allowed is not None:
            got = {m.strip() for m in (headers.get("Allow") or "").split(",") if m.strip()}
            if got != allowed:
                problems.append("%s: Allow %s, but the document has %s for this path" % (
                    where, sorted(got), sorted(allowed)))
        return problems

    def check_parts(self, where, method, status, headers, body, resp):
        """Problems of the headers and body of a response to resp."""
        problems = []
        for name, h in (resp.get("headers") or {}).items():
            h = self.resolve(h)
            value = headers.get(name)
            if value is None:
                if h.get("required"):
                    problems.append("%s: header %s is missing" % (where, name))
                continue
            if "schema" in h:
                for e in self.validate(h["schema"], value):
                    problems.append("%s: header %s %r: %s" % (where, name, value, e.message))
        problems += self.check_body(where, method, status, headers, body, resp)
        return problems

    def check_body_only(self, method, url, status, headers, body):
        """Problems of a body alone (its status and headers were checked
        before it was read)."""
        where, resp, _, _ = self.lookup(method, url, status)
        if resp is None:
            return []       # reported with the status
        return self.check_body(where, method, status, headers, body, self.resolve(resp))

    def check_asterisk(self, method, status, headers, body):
        """The answer to a request for '*' (OPTIONS *)."""
        where = "%s * -> %d" % (method, status)
        resps = dict(self.doc["x-exportd-unrouted"])
        if method.upper() == "OPTIONS":
            resps["204"] = self.doc["x-exportd-asterisk"]
        resp = resps.get(str(status))
        if resp is None:
            return ["%s: status %d is not documented" % (where, status)]
        return self.check_parts(where, method, status, headers, body, self.resolve(resp))

    def check_body(self, where, method, status, headers, body, resp):
        content = resp.get("content")
        if body is None:
            return []
        if method.upper() == "HEAD" or status in (204, 304) or not content:
            if body != b"":
                return ["%s: a body where none is documented: %r" % (where, body[:200])]
            return []
        ctype = (headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if "*/*" in content:
            return []
        if resp.get("x-exportd-body-optional") and "Content-Type" not in headers:
            return []       # libmicrohttpd's own answer (see the response)
        if body == b"":
            return ["%s: no body, but %s is documented" % (where, ", ".join(content))]
        media = content.get(ctype)
        if media is None:
            return ["%s: Content-Type %r is not documented (%s)" % (
                where, headers.get("Content-Type"), ", ".join(content))]
        if ctype != "application/json" or "schema" not in media:
            return []
        try:
            value = json.loads(body.decode("utf-8"))
        except ValueError as e:
            return ["%s: the body is not JSON (%s): %r" % (where, e, body[:200])]
        out = []
        for e in self.validate(media["schema"], value)[:5]:
            out.append("%s: body at %s: %s" % (
                where, "/".join(str(p) for p in e.absolute_path) or "(root)", e.message[:300]))
        return out


# --------------------------------------------------------------------------
# What the suite received

SPEC = Spec(load_doc())
_lock = threading.Lock()
_problems = []
_watched = set()         # "host:port" of exportd servers


def watch(url):
    """Check the responses of the server at url (scheme://host:port)."""
    u = urlsplit(url)
    with _lock:
        _watched.add("%s:%s" % (u.hostname, u.port))


def watched(url):
    u = urlsplit(url)
    return "%s:%s" % (u.hostname, u.port) in _watched


def record(problems):
    if problems:
        with _lock:
            _problems.extend(problems)


def take():
    """The problems recorded since the last call."""
    with _lock:
        out = list(_problems)
        del _problems[:]
    return out


def check(method, url, status, headers, body):
    """Check one response (body None when it was not read) and record what
    is wrong with it."""
    if watched(url):
        record(SPEC.check(method, url, status, headers, body))


def _lower_headers(pairs):
    out = requests.structures.CaseInsensitiveDict()
    for k, v in pairs:
        out[k] = v
    return out


def _dechunk(data):
    out, pos = b"", 0
    while True:
        eol = data.find(b"\r\n", pos)
        if eol == -1:
            return None
        try:
            n = int(data[pos:eol].split(b";")[0], 16)
        except ValueError:
            return None
        pos = eol + 2
        if n == 0:
            return out
        if len(data) < pos + n:
            return None
        out += data[pos:pos + n]
        pos += n + 2


def split_raw(raw, method="GET"):
    """Responses in bytes read from a socket: [(status, headers, body)];
    a response cut short is returned with body None."""
    out = []
    while raw.startswith(b"HTTP/"):
        end = raw.find(b"\r\n\r\n")
        if end == -1:
            break
        lines = raw[:end].decode("latin-1").split("\r\n")
        m = re.match(r"HTTP/\d\.\d (\d{3})", lines[0])
        if m is None:
            break
        status = int(m.group(1))
        headers = _lower_headers((l.split(":", 1)[0].strip(), l.split(":", 1)[1].strip())
                                 for l in lines[1:] if ":" in l)
        rest = raw[end + 4:]
        if method.upper() == "HEAD" or status in (204, 304) or 100 <= status < 200:
            body, raw = b"", rest
        elif "Content-Length" in headers:
            n = int(headers["Content-Length"])
            body = rest[:n] if len(rest) >= n else None
            raw = rest[n:]
        elif "chunked" in (headers.get("Transfer-Encoding") or "").lower():
            body, raw = _dechunk(rest), b""
        else:
            body, raw = rest, b""
        if status >= 200:
            out.append((status, headers, body))
    return out


def check_raw(method, url, raw):
    """Check the responses in raw (bytes from a socket) to requests of
    method on url; returns how many there were."""
    resps = split_raw(raw, method)
    for status, headers, body in resps:
        check(method, url, status, headers, body)
    return len(resps)


# --------------------------------------------------------------------------
# The requests hook: every Session.send, so requests.get() and every
# Session of the tests too.

def _teed(resp, method, url):
    """Let a streamed body be checked once the test has read all of it
    (its status and headers were checked when it arrived)."""
    orig = resp.iter_content
    kept = []
    size = [0]

    def iter_content(chunk_size=1, decode_unicode=False):
        for chunk in orig(chunk_size, decode_unicode):
            if size[0] <= BODY_CAP and isinstance(chunk, bytes):
                kept.append(chunk)
                size[0] += len(chunk)
            yield chunk
        if size[0] <= BODY_CAP and watched(url):
            record(SPEC.check_body_only(method, url, resp.status_code,
                                        resp.headers, b"".join(kept)))
    resp.iter_content = iter_content


_orig_send = requests.Session.send


def _send(self, request, **kw):
    resp = _orig_send(self, request, **kw)
    if watched(request.url):
        if kw.get("stream"):
            # status and headers now; the body when the test has read it
            check(request.method, request.url, resp.status_code, resp.headers, None)
            _teed(resp, request.method, request.url)
        else:
            check(request.method, request.url, resp.status_code, resp.headers, resp.content)
    return resp


# --------------------------------------------------------------------------
# Raw sockets: the bytes a test sent and the bytes it got back.

REQUEST_LINE = re.compile(rb"(?:^|\r?\n)([A-Za-z]+) (\S+) HTTP/1\.[01]\r?\n")


def check_exchange(base_url, sent, received):
    """Check the responses in received (raw bytes) against the requests in
    sent, paired in order. A response to bytes that hold no request line
    (a TLS hello, a bare line) is checked as one to a path the document
    does not have: only x-exportd-unrouted answers fit it."""
    if not watched(base_url):
        return 0
    reqs = [(m.group(1).decode(), m.group(2).decode("latin-1"))
            for m in REQUEST_LINE.finditer(sent)]
    resps = split_raw(received)
    for i, (status, headers, body) in enumerate(resps):
        method, target = reqs[i] if i < len(reqs) else ("GET", "/\x00unparsed")
        if method.upper() == "HEAD":
            body = b""
        if target == "*":
            record(SPEC.check_asterisk(method, status, headers, body))
            continue
        if "://" in target:
            try:
                urlsplit(target).port
            except ValueError:
                target = "/\x00" + target  # a malformed absolute URL
        elif not target.startswith("/"):
            target = "/\x00" + target      # CONNECT's host:port: no path
        url = target if "://" in target else base_url.rstrip("/") + target
        record(SPEC.check(method, url, status, headers, body))
    return len(resps)


_socket_class = socket.socket


def _from_a_test():
    """Whether the socket being made is a test's own (made in a test_*
    module), not one of requests' (checked through Session.send)."""
    f = sys._getframe(1)
    while f is not None:
        name = f.f_globals.get("__name__", "")
        if name.startswith(("urllib3", "requests")):
            return False
        if name.startswith("test_"):
            return True
        f = f.f_back
    return False


class _WatchedSocket(_socket_class):
    """A socket that keeps what a test sent and received, and checks the
    responses in it when it is closed."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self._oa = _from_a_test() if kw.get("fileno") is None and \
            (len(a) < 4 or a[3] is None) else False
        self._oa_sent, self._oa_got, self._oa_url = [], [], None
        self._oa_size = 0

    def connect(self, address):
        if self._oa and isinstance(address, tuple):
            self._oa_url = "http://%s:%s" % (address[0], address[1])
        return super().connect(address)

    def _oa_keep(self, data):
        if self._oa and self._oa_size <= BODY_CAP:
            self._oa_got.append(bytes(data))
            self._oa_size += len(data)

    def send(self, data, *a):
        n = super().send(data, *a)
        if self._oa:
            self._oa_sent.append(bytes(data[:n]))
        return n

    def sendall(self, data, *a):
        if self._oa:
            self._oa_sent.append(bytes(data))
        return super().sendall(data, *a)

    def recv(self, *a):
        data = super().recv(*a)
        self._oa_keep(data)
        return data

    def recv_into(self, buf, nbytes=0, *a):
        n = super().recv_into(buf, nbytes, *a)
        self._oa_keep(memoryview(buf)[:n])
        return n

    def _real_close(self, *a):
        # the last close: a file made by makefile() may read on after
        # the socket's own close()
        if self._oa and self._oa_url is not None:
            self._oa = False
            try:
                check_exchange(self._oa_url, b"".join(self._oa_sent),
                               b"".join(self._oa_got))
            except Exception as e:      # a checker fault fails the test too
                record(["the bytes of a socket to %s could not be checked: %r" % (
                    self._oa_url, e)])
        super()._real_close(*a)


def install():
    requests.Session.send = _send
    socket.socket = _WatchedSocket
