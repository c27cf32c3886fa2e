"""Helpers shared by the exportd black-box API suite.

Nothing here knows about pytest fixtures; conftest.py wires these into
fixtures.  Tests import the constants and assertion helpers directly:

    from apilib import HEX24, assert_errors, http_body
"""

import copy
import json as jsonlib
import os
import re
import signal
import socket
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest
import requests

import openapi_check

REPO = Path(__file__).resolve().parents[2]


def _binary_path():
    raw = os.environ.get("EXPORTD_BIN") or "build/exportd"
    p = Path(raw)
    if not p.is_absolute():
        p = REPO / p
    return p


BIN = _binary_path()
EXTERNAL_URL = os.environ.get("EXPORTD_URL", "").rstrip("/")
EXTERNAL_TOKEN = os.environ.get("EXPORTD_TOKEN", "")
EXTERNAL = bool(EXTERNAL_URL and EXTERNAL_TOKEN)

needs_binary = pytest.mark.skipif(
    EXTERNAL, reason="needs the exportd binary, its CLI and data dir (external server in use)")

SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "runtime error:", "LeakSanitizer")

HEX24 = re.compile(r"^[0-9a-f]{24}$")
ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
API_ID = re.compile(r"^e[0-9a-f]{10}$")
JSON_CT = "application/json; charset=utf-8"
MASK = "******"

# Placeholders for an account's connections.  An export's _connectionId must
# name a real connection of the account whose type suits the export's
# adaptorType (export-api.md section 9), so Api.request replaces each
# placeholder in a body or a query by the real connection of its account made
# for that placeholder and adaptor type (created on first use; see
# Api.connection).  Four placeholders give four distinct connections of
# each type.  An account's connections outlive its server: a restored dump
# or a restarted store keeps them.
CONN_A = "5f0a1b2c3d4e5f6a7b8c9d0e"
CONN_B = "6a1b2c3d4e5f6a7b8c9d0e1f"
CONN_C = "7b2c3d4e5f6a7b8c9d0e1f2a"
CONN_D = "8c3d4e5f6a7b8c9d0e1f2a3b"
CONN_PLACEHOLDERS = (CONN_A, CONN_B, CONN_C, CONN_D)

# The connection type each adaptor type reads through (export-api.md section 9).
CONNECTION_TYPE_OF = {
    "HTTPExport": "http", "RESTExport": "rest", "FTPExport": "ftp", "AS2Export": "as2",
    "S3Export": "s3", "NetSuiteExport": "netsuite", "SalesforceExport": "salesforce",
    "JDBCExport": "jdbc", "RDBMSExport": "rdbms", "MongodbExport": "mongodb",
    "DynamodbExport": "dynamodb", "WrapperExport": "wrapper",
    "FileSystemExport": "filesystem",
}

# The smallest valid block of each connection type that validates its block.
CONNECTION_BLOCKS = {
    "http": {"baseURI": "https://api.example.com", "mediaType": "json"},
    "rest": {"baseURI": "https://api.example.com", "mediaType": "json"},
    "rdbms": {"type": "postgresql", "host": "db.example.com", "database": "d", "user": "u"},
}

# The 14 adaptor types of export-model.md section 3.
ADAPTOR_TYPES = [
    "HTTPExport", "FTPExport", "AS2Export", "S3Export", "NetSuiteExport",
    "SalesforceExport", "JDBCExport", "RDBMSExport", "MongodbExport",
    "DynamodbExport", "WrapperExport", "SimpleExport", "WebhookExport",
    "FileSystemExport",
]
CONNECTED_ADAPTORS = [a for a in ADAPTOR_TYPES if a not in ("SimpleExport", "WebhookExport")]

# A plausible adaptor block for each adaptor that needs a connection.
ADAPTOR_BLOCKS = {
    "HTTPExport": {"http": {"method": "GET", "relativeURI": "/items"}},
    "FTPExport": {"ftp": {"directoryPath": "/in"}, "file": {"type": "csv"}},
    "AS2Export": {"as2": {}},
    "S3Export": {"s3": {"region": "us-east-1", "bucket": "b"}, "file": {"type": "json"}},
    "NetSuiteExport": {"netsuite": {"type": "restlet", "restlet": {"recordType": "customer", "searchId": "123"}}},
    "SalesforceExport": {"salesforce": {"type": "soql", "soql": {"query": "SELECT Id FROM Account"}}},
    "JDBCExport": {"jdbc": {"query": "SELECT 1"}},
    "RDBMSExport": {"rdbms": {"query": "SELECT 1"}},
    "MongodbExport": {"mongodb": {"collection": "orders", "method": "find"}},
    "DynamodbExport": {"dynamodb": {
        "region": "us-east-1", "tableName": "t", "method": "query",
        "keyConditionExpression": "#k = :v",
        "expressionAttributeNames": "{\"#k\":\"id\"}",
        "expressionAttributeValues": "{\":v\":\"1\"}"}},
    "WrapperExport": {"wrapper": {"function": "run"}},
    "FileSystemExport": {"filesystem": {"directoryPath": "/in"}, "file": {"type": "csv"}},
}

MISSING = object()
ANY = object()

# account (_userId) -> {(placeholder, connection type): real _id}
_connections = {}
# (base URL, token) -> account (_userId)
_accounts = {}
# real _id -> the placeholder it was made for
_placeholder_of = {}
_connections_lock = threading.Lock()


def dump_comparable(dump):
    """The lines of a dump (bytes), its header without when and where it
    was made: two dumps of the same store compare equal."""
    lines = dump.decode().splitlines()
    head = jsonlib.loads(lines[0])
    head.pop("created_at", None)
    head.pop("source", None)
    return [head] + lines[1:]


def unique(prefix="t"):
    return "%s-%s" % (prefix, uuid.uuid4().hex[:12])


def secret_value(tag="s"):
    """A distinctive secret, easy to search for in files and logs."""
    return "SeCrEt-%s-%s" % (tag, uuid.uuid4().hex)


# --------------------------------------------------------------------------
# Export bodies


def http_body(name=None, **extra):
    body = {
        "name": name if name is not None else unique("http"),
        "adaptorType": "HTTPExport",
        "_connectionId": CONN_A,
        "http": {"method": "GET", "relativeURI": "/items"},
    }
    body.update(extra)
    return body


def adaptor_body(adaptor, name=None, **extra):
    if adaptor == "WebhookExport":
        body = webhook_body(name)
        body["adaptorType"] = "WebhookExport"
    elif adaptor == "SimpleExport":
        body = simple_body(name)
        body["adaptorType"] = "SimpleExport"
    else:
        body = {"name": name if name is not None else unique(adaptor), "adaptorType": adaptor, "_connectionId": CONN_A}
        body.update(copy.deepcopy(ADAPTOR_BLOCKS[adaptor]))
    body.update(extra)
    return body


def webhook_body(name=None, webhook=None, **extra):
    body = {
        "name": name if name is not None else unique("hook"),
        "type": "webhook",
        "webhook": webhook if webhook is not None else {"provider": "github"},
    }
    body.update(extra)
    return body


def simple_body(name=None, **extra):
    body = {"name": name if name is not None else unique("simple"), "type": "simple",
            "simple": {"file": {"type": "csv"}}}
    body.update(extra)
    return body


def netsuite_distributed_body(name=None, **extra):
    body = {
        "name": name if name is not None else unique("nsd"),
        "adaptorType": "NetSuiteExport",
        "_connectionId": CONN_A,
        "type": "distributed",
        "netsuite": {"type": "distributed"},
    }
    body.update(extra)
    return body


def salesforce_distributed_body(name=None, **extra):
    body = {
        "name": name if name is not None else unique("sfd"),
        "adaptorType": "SalesforceExport",
        "_connectionId": CONN_A,
        "type": "distributed",
        "salesforce": {"type": "distributed", "sObjectType": "Account"},
    }
    body.update(extra)
    return body


SERVER_FIELDS = ("_id", "createdAt", "lastModified", "apiIdentifier", "asynchronous", "_sourceId")


def without_server_fields(doc):
    return {k: v for k, v in doc.items() if k not in SERVER_FIELDS}


def get_path(doc, dotted):
    cur = doc
    for part in dotted.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return MISSING
        cur = cur[part]
    return cur


def set_path(doc, dotted, value):
    parts = dotted.split(".")
    cur = doc
    for part in parts[:-1]:
        cur = cur.setdefault(part, {})
    cur[parts[-1]] = value


def del_path(doc, dotted):
    parts = dotted.split(".")
    cur = doc
    for part in parts[:-1]:
        cur = cur.get(part)
        if not isinstance(cur, dict):
            return
    cur.pop(parts[-1], None)


# --------------------------------------------------------------------------
# Assertions


def assert_json_ct(resp):
    ct = resp.headers.get("Content-Type")
    assert ct == JSON_CT, "Content-Type %r != %r (status %s, body %r)" % (
        ct, JSON_CT, resp.status_code, resp.content[:300])


def body_of(resp):
    assert_json_ct(resp)
    try:
        return resp.json()
    except ValueError:
        raise AssertionError("response is not JSON: %r" % resp.content[:500])


def assert_status(resp, status):
    assert resp.status_code == status, "%s %s -> %s, expected %s; body: %r" % (
        resp.request.method, resp.request.url, resp.status_code, status,
        resp.content[:1000])


def assert_errors(resp, status, expected):
    """Assert an error response: exact status, JSON content type, body of the
    form {"errors":[{code,message,field?}...]} with exactly the expected
    (code, field) pairs.  field None = no field key; ANY = don't care."""
    assert_status(resp, status)
    body = body_of(resp)
    assert isinstance(body, dict) and set(body) == {"errors"}, body
    errs = body["errors"]
    assert isinstance(errs, list) and errs, body
    got = []
    for e in errs:
        assert isinstance(e, dict), body
        assert set(e) <= {"code", "message", "field"}, e
        assert isinstance(e.get("code"), str) and e["code"], e
        assert isinstance(e.get("message"), str) and e["message"], e
        if "field" in e:
            assert isinstance(e["field"], str), e
        got.append((e["code"], e.get("field")))
    exp = list(expected)
    remaining = list(got)
    for code, field in exp:
        for i, (gc, gf) in enumerate(remaining):
            if gc == code and (field is ANY or gf == field):
                del remaining[i]
                break
        else:
            raise AssertionError("expected error (%r, %r) not in %r" % (
                code, "ANY" if field is ANY else field, got))
    assert not remaining, "unexpected extra errors %r (all: %r)" % (remaining, got)
    return errs


def assert_error(resp, status, code, field=None):
    return assert_errors(resp, status, [(code, field)])


def assert_no_body(resp):
    assert resp.content == b"", "expected no body, got %r" % resp.content[:300]


def assert_export_shape(doc):
    """Server-managed fields present and well-formed."""
    assert HEX24.match(doc.get("_id", "")), doc
    assert API_ID.match(doc.get("apiIdentifier", "")), doc
    assert ISO_MS.match(doc.get("createdAt", "")), doc
    assert ISO_MS.match(doc.get("lastModified", "")), doc
    assert doc.get("asynchronous") is True, doc
    assert doc.get("adaptorType") in ADAPTOR_TYPES, doc


def parse_link_next(resp):
    """Return the rel="next" URL of the Link header, or None."""
    link = resp.headers.get("Link")
    if link is None:
        return None
    for part in re.finditer(r'<([^>]*)>\s*((?:;\s*[^;,]+)*)', link):
        url, params = part.group(1), part.group(2)
        if re.search(r';\s*rel\s*=\s*"?next"?', params):
            return url
    return None


def allow_set(resp):
    allow = resp.headers.get("Allow")
    assert allow is not None, "405 without Allow header"
    return {m.strip().upper() for m in allow.split(",") if m.strip()}


# --------------------------------------------------------------------------
# HTTP client


class Api:
    """requests.Session bound to a base URL and a bearer token."""

    def __init__(self, base_url, token, account=None, info=None, verify=True):
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.account = account
        self.info = info or {}
        self.s = requests.Session()
        # The CA file of a TLS server, given on every request: a session's
        # own verify loses to REQUESTS_CA_BUNDLE in the environment.
        self.verify = str(verify) if verify is not True else True

    def url(self, path):
        if path.startswith("http://") or path.startswith("https://"):
            return path
        return self.base_url + path

    def _account_of(self, tok):
        key = (self.base_url, tok)
        if key not in _accounts:
            r = self.request("GET", "/v1/tokenInfo", token=tok, placeholders=False)
            if r.status_code != 200:
                return None
            _accounts[key] = body_of(r)["_userId"]
        return _accounts[key]

    def connection(self, placeholder=CONN_A, adaptor="HTTPExport", token=MISSING):
        """The real connection of this account standing for placeholder when
        an export of this adaptor type names it; made on first use."""
        tok = self.token if token is MISSING else token
        ctype = CONNECTION_TYPE_OF.get(adaptor, "http")
        with _connections_lock:
            conns = _connections.setdefault(self._account_of(tok), {})
            if (placeholder, ctype) not in conns:
                body = {"name": "conn-%s-%s" % (ctype, placeholder[:2]), "type": ctype,
                        ctype: copy.deepcopy(CONNECTION_BLOCKS.get(ctype, {}))}
                r = self.request("POST", "/v1/connections", json=body, token=tok,
                                 placeholders=False)
                assert_status(r, 201)
                conns[(placeholder, ctype)] = body_of(r)["_id"]
                _placeholder_of[conns[(placeholder, ctype)]] = placeholder
            return conns[(placeholder, ctype)]

    def _real(self, value, adaptor, tok):
        """value itself, or the real connection for a placeholder (or for the
        placeholder another account's real connection was made for)."""
        if not isinstance(value, str):
            return value
        ph = value if value in CONN_PLACEHOLDERS else _placeholder_of.get(value)
        if ph is None or tok is None or self._account_of(tok) is None:
            return value
        return self.connection(ph, adaptor, token=tok)

    def resolve(self, body, tok=MISSING):
        """Replace placeholders in an export body (in place, so that callers
        comparing responses with their body see the real ids).  Without an
        adaptorType the body's adaptor block tells the connection's type."""
        tok = self.token if tok is MISSING else tok
        if not isinstance(body, dict):
            return
        adaptor = body.get("adaptorType")
        if not isinstance(adaptor, str) or adaptor not in CONNECTION_TYPE_OF:
            adaptor = next((a for a, t in CONNECTION_TYPE_OF.items() if t in body), "HTTPExport")
        if "_connectionId" in body:
            body["_connectionId"] = self._real(body["_connectionId"], adaptor, tok)
        cmap = body.get("connectionMap")
        if isinstance(cmap, dict):
            resolved = {self._real(k, "HTTPExport", tok): self._real(v, "HTTPExport", tok)
                        for k, v in cmap.items()}
            cmap.clear()
            cmap.update(resolved)

    def resolve_path(self, path, tok=MISSING):
        """path with the placeholders of its query replaced (by connections
        of the query's adaptorType, else http ones)."""
        tok = self.token if tok is MISSING else tok
        if "?" in path and any(ph in path for ph in CONN_PLACEHOLDERS):
            m = re.search(r"[?&]adaptorType=(\w+)", path)
            for ph in CONN_PLACEHOLDERS:
                path = path.replace(ph, self._real(ph, m.group(1) if m else None, tok))
        return path

    def _resolve_raw(self, data, tok):
        for ph in CONN_PLACEHOLDERS:
            if ph.encode() in data:
                data = data.replace(ph.encode(), self.connection(ph, token=tok).encode())
        return data

    def request(self, method, path, *, json=MISSING, data=None, headers=None,
                token=MISSING, params=None, timeout=30, retry_429=True,
                placeholders=True, **kw):
        h = {}
        if placeholders and "/v1/exports" in path and token is not None:
            tok = self.token if token is MISSING else token
            path = self.resolve_path(path, tok)
            if json is not MISSING:
                self.resolve(json, tok)
            if isinstance(data, bytes):
                data = self._resolve_raw(data, tok)
            if isinstance(params, dict) and "_connectionId" in params:
                params = dict(params)
                params["_connectionId"] = self._real(params["_connectionId"],
                                                     params.get("adaptorType"), tok)
        tok = self.token if token is MISSING else token
        if tok is not None:
            h["Authorization"] = "Bearer " + tok
        if json is not MISSING:
            data = jsonlib.dumps(json).encode()
            h["Content-Type"] = "application/json"
        if headers:
            h.update(headers)
        for k in [k for k, v in h.items() if v is None]:
            del h[k]
        kw.setdefault("verify", self.verify)
        for _ in range(8):
            resp = self.s.request(method, self.url(path), data=data, headers=h,
                                  params=params, timeout=timeout,
                                  allow_redirects=False, **kw)
            if resp.status_code != 429 or not retry_429:
                return resp
            try:
                wait = float(resp.headers.get("Retry-After", "1"))
            except ValueError:
                wait = 1.0
            time.sleep(min(max(wait, 0.05), 3.0))
        return resp

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, **kw):
        return self.request("POST", path, **kw)

    def put(self, path, **kw):
        return self.request("PUT", path, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    # Convenience wrappers asserting success -------------------------------

    def create(self, body):
        r = self.post("/v1/exports", json=body)
        assert_status(r, 201)
        return body_of(r)

    def fetch(self, export_id):
        r = self.get("/v1/exports/" + export_id)
        assert_status(r, 200)
        return body_of(r)

    def replace(self, export_id, body, **kw):
        r = self.put("/v1/exports/" + export_id, json=body, **kw)
        assert_status(r, 200)
        return body_of(r)

    def list_all(self, path="/v1/exports", max_pages=100):
        """Follow Link rel=next; return (items, responses)."""
        items, resps = [], []
        url = path
        for _ in range(max_pages):
            r = self.get(url)
            resps.append(r)
            if r.status_code == 204:
                assert_no_body(r)
                break
            assert_status(r, 200)
            page = body_of(r)
            assert isinstance(page, list)
            items.extend(page)
            url = parse_link_next(r)
            if url is None:
                break
        else:
            raise AssertionError("too many pages")
        return items, resps


# --------------------------------------------------------------------------
# Server process management


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def read_to_close(sock, timeout=10.0):
    """Read a raw socket until the server closes it or timeout passes.
    Returns (bytes, closed by the server, seconds taken)."""
    sock.settimeout(timeout)
    t0, out, closed = time.monotonic(), b"", False
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                closed = True
                break
            out += chunk
    except socket.timeout:
        pass
    except ConnectionResetError:
        closed = True
    return out, closed, time.monotonic() - t0


def wait_for_log(srv, needle, timeout=5):
    """The server's stderr once needle is in it (AssertionError after
    timeout seconds)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = srv.stderr_text()
        if needle in text:
            return text
        time.sleep(0.05)
    raise AssertionError("%r never appeared in the log" % needle)


def sanitizer_hits(text):
    return [m for m in SANITIZER_MARKERS if m in text]


class Server:
    """One exportd process (restartable) on a data dir.  With tls (a dict
    of cert, key and ca paths) it serves HTTPS, verified against ca."""

    def __init__(self, data_dir, log_dir, max_body=None, threads=None, extra_args=(), env=None,
                 tls=None):
        self.data_dir = Path(data_dir)
        self.log_dir = Path(log_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.max_body = max_body
        self.threads = threads
        self.extra_args = list(extra_args)
        self.tls = tls
        self.env = dict(os.environ, **env) if env else None   # extra environment
        self.proc = None
        self.port = None
        self.runs = 0
        self.log_files = []
        self.tokens = []           # every token created through the CLI
        self.cli_outputs = []      # stderr of CLI runs, checked for sanitizers

    @property
    def url(self):
        return "%s://127.0.0.1:%d" % ("https" if self.tls else "http", self.port)

    @property
    def verify(self):
        """What requests should verify the server with."""
        return str(self.tls["ca"]) if self.tls else True

    def _argv(self, port):
        argv = [str(BIN), "serve", "--listen", "127.0.0.1:%d" % port,
                "--data-dir", str(self.data_dir)]
        if self.max_body is not None:
            argv += ["--max-body", str(self.max_body)]
        if self.threads is not None:
            argv += ["--threads", str(self.threads)]
        if self.tls:
            argv += ["--tls-cert", str(self.tls["cert"]), "--tls-key", str(self.tls["key"])]
        return argv + self.extra_args

    def start(self, timeout=20.0):
        assert self.proc is None, "already running"
        if not BIN.exists():
            raise RuntimeError("exportd binary not found at %s (set EXPORTD_BIN)" % BIN)
        last = ""
        for _attempt in range(3):
            port = free_port()
            self.runs += 1
            err_path = self.log_dir / ("stderr.%d.log" % self.runs)
            out_path = self.log_dir / ("stdout.%d.log" % self.runs)
            self.log_files += [err_path, out_path]
            with open(err_path, "wb") as ef, open(out_path, "wb") as of:
                proc = subprocess.Popen(self._argv(port), stdout=of, stderr=ef,
                                        stdin=subprocess.DEVNULL, cwd=str(REPO), env=self.env)
            self.proc, self.port = proc, port
            openapi_check.watch(self.url)
            if self._wait_ready(timeout):
                return self
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            last = err_path.read_text(errors="replace")[-2000:]
            self.proc = None
        raise RuntimeError("exportd did not become ready; stderr tail:\n" + last)

    def _wait_ready(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                r = requests.get(self.url + "/v1/health", timeout=2, verify=self.verify)
                if r.status_code == 200 and r.json() == {"status": "ok"}:
                    return True
            except (requests.RequestException, ValueError):
                pass
            time.sleep(0.05)
        return False

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=20.0):
        """Signal the server by PID, wait, return its exit code."""
        assert self.proc is not None, "not running"
        proc = self.proc
        if proc.poll() is None:
            proc.send_signal(sig)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                self.proc = None
                raise AssertionError("exportd did not exit within %ss of signal %s" % (timeout, sig))
        self.proc = None
        return proc.returncode

    def kill(self):
        return self.stop(signal.SIGKILL)

    def restart(self):
        rc = self.stop()
        self.start()
        return rc

    def stderr_text(self):
        parts = []
        for p in self.log_files:
            if p.name.startswith("stderr") and p.exists():
                parts.append(p.read_text(errors="replace"))
        return "".join(parts)

    def all_output_text(self):
        parts = [p.read_text(errors="replace") for p in self.log_files if p.exists()]
        return "".join(parts) + "".join(self.cli_outputs)

    def sanitizer_report(self):
        text = self.all_output_text()
        hits = sanitizer_hits(text)
        if not hits:
            return None
        idx = min(text.find(h) for h in hits)
        return "sanitizer report (%s):\n%s" % (", ".join(hits), text[max(0, idx - 500): idx + 4000])

    # CLI --------------------------------------------------------------

    def cli(self, *args, check=True):
        argv = [str(BIN)] + list(args) + ["--data-dir", str(self.data_dir)]
        cp = subprocess.run(argv, capture_output=True, text=True, timeout=60,
                            stdin=subprocess.DEVNULL, cwd=str(REPO))
        self.cli_outputs.append(cp.stderr)
        if check:
            assert cp.returncode == 0, "%s -> rc %s\nstdout: %s\nstderr: %s" % (
                argv, cp.returncode, cp.stdout, cp.stderr)
        return cp

    def create_token(self, account):
        cp = self.cli("token", "create", "--account", account)
        lines = [l for l in cp.stdout.splitlines() if l.strip()]
        assert lines, "token create printed nothing"
        token = lines[-1].strip()
        assert token and " " not in token, "last line is not a bare token: %r" % lines[-1]
        m = re.search(r"^\s*id:\s*([0-9a-f]{24})\s*$", cp.stdout, re.M)
        assert m, "no 'id: <24 hex>' line in token create output:\n" + cp.stdout
        earlier = "\n".join(lines[:-1])
        self.tokens.append(token)
        return {"token": token, "id": m.group(1), "stdout": cp.stdout,
                "description": earlier, "account": account}

    def api(self, account=None, token_info=None):
        if token_info is None:
            token_info = self.create_token(account or unique("acct"))
        return Api(self.url, token_info["token"], account=token_info["account"], info=token_info,
                   verify=self.verify)


def data_dir_bytes(data_dir):
    """Every file of the data dir, as {name: bytes}."""
    out = {}
    for p in Path(data_dir).rglob("*"):
        if p.is_file():
            try:
                out[str(p.relative_to(data_dir))] = p.read_bytes()
            except FileNotFoundError:
                pass
    return out


# --------------------------------------------------------------------------
# Webhook listener and inbox helpers (tests 19-22)

import base64 as _b64
import hashlib as _hashlib
import hmac as _hmac


def hook_path(export, token=None):
    """The listener path of an export (or export id), with a URL token."""
    eid = export["_id"] if isinstance(export, dict) else export
    if token:
        return "/v1/exports/%s/%s/data" % (eid, token)
    return "/v1/exports/%s/data" % eid


def mac(key, data, algo="sha256"):
    """Raw HMAC bytes; key and data as str or bytes."""
    if isinstance(key, str):
        key = key.encode()
    if isinstance(data, str):
        data = data.encode()
    return _hmac.new(key, data, getattr(_hashlib, algo)).digest()


def mac_hex(key, data, algo="sha256"):
    return mac(key, data, algo).hex()


def mac_b64(key, data, algo="sha256"):
    return _b64.b64encode(mac(key, data, algo)).decode()


def basic_auth(user, password):
    return "Basic " + _b64.b64encode(("%s:%s" % (user, password)).encode()).decode()


def url_hook(api, **extra):
    """A webhook export verified by its secret URL: (export, its URL path)."""
    tok = uuid.uuid4().hex
    wh = {"provider": "custom", "verify": "secret_url", "token": tok}
    wh.update(extra)
    e = api.create(webhook_body(webhook=wh))
    return e, hook_path(e, tok)


def inbox_page(api, export_id, after=None, limit=None, **kw):
    params = {}
    if after is not None:
        params["after"] = after
    if limit is not None:
        params["limit"] = limit
    return api.get("/v1/exports/%s/inbox" % export_id, params=params or None, **kw)


def inbox_all(api, export_id, limit=1000, max_pages=1000):
    """Every inbox entry of an export, following cursors; asserts the page
    shape on the way."""
    out, after = [], None
    for _ in range(max_pages):
        r = inbox_page(api, export_id, after=after, limit=limit)
        assert_status(r, 200)
        page = body_of(r)
        assert set(page) == {"records", "cursor", "more"}, page
        assert isinstance(page["records"], list) and isinstance(page["more"], bool), page
        out.extend(page["records"])
        if not page["more"]:
            return out
        assert page["records"], "more is true on an empty page"
        assert page["cursor"] == page["records"][-1]["cursor"], page["cursor"]
        after = page["cursor"]
    raise AssertionError("too many inbox pages")


def inbox_records(api, export_id):
    """Just the records of an export's inbox, in order."""
    return [e["record"] for e in inbox_all(api, export_id)]


def inbox_ack(api, export_id, cursor, **kw):
    return api.post("/v1/exports/%s/inbox/ack" % export_id, json={"cursor": cursor}, **kw)
