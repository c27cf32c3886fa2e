"""Operations: GET /metrics (Prometheus text 0.0.4, --metrics-token),
GET /v1/ready beside /v1/health, and --log-format json
(docs/operations.md). Run on both stores; the store outage needs
PostgreSQL (a TCP forwarder the test cuts)."""

import contextlib
import json
import math
import os
import re
import select
import socket
import threading
import time
import uuid
from urllib.parse import urlparse, urlunparse

import pytest
import requests

from apilib import (assert_error, assert_status, body_of, free_port, hook_path, inbox_ack,
                    inbox_all, mac_hex, read_to_close, webhook_body)

METRICS_CT = "text/plain; version=0.0.4; charset=utf-8"
NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"')
TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}


# --------------------------------------------------------------------------
# A strict parser of the text exposition format


def parse_value(s):
    if s in ("+Inf", "-Inf", "NaN"):
        return float(s.replace("Inf", "inf").replace("NaN", "nan"))
    assert re.fullmatch(r"[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?", s), "bad value %r" % s
    return float(s)


def parse_labels(s):
    """'a="x",b="y"' -> {'a': 'x', 'b': 'y'} (escapes undone), strictly."""
    out, pos = {}, 0
    while pos < len(s):
        m = LABEL.match(s, pos)
        assert m, "bad label list at %r" % s[pos:]
        name, raw = m.group(1), m.group(2)
        assert name not in out, "label %s twice" % name
        out[name] = re.sub(r"\\(.)", lambda x: "\n" if x.group(1) == "n" else x.group(1), raw)
        pos = m.end()
        if pos < len(s):
            assert s[pos] == ",", "labels not separated by ',': %r" % s
            pos += 1
    return out


def family_of(name, types):
    for suffix in ("_bucket", "_sum", "_count"):
        if name.endswith(suffix) and types.get(name[:-len(suffix)]) == "histogram":
            return name[:-len(suffix)]
    return name


def parse_prometheus(text):
    """{family: {"type", "help", "samples": [(name, labels, value)]}};
    asserts the format and every histogram's invariants."""
    assert text.endswith("\n"), "the exposition must end with a newline"
    fams, types = {}, {}
    for line in text[:-1].split("\n"):
        assert line, "empty line"
        if line.startswith("#"):
            m = re.fullmatch(r"# (HELP|TYPE) (\S+) (.*)", line)
            assert m, "bad comment line %r" % line
            kind, name, rest = m.groups()
            assert NAME.fullmatch(name), name
            f = fams.setdefault(name, {"type": None, "help": None, "samples": []})
            if kind == "TYPE":
                assert rest in TYPES, line
                assert f["type"] is None and not f["samples"], "TYPE late or twice: %s" % name
                f["type"] = types[name] = rest
            else:
                assert f["help"] is None, "HELP twice: %s" % name
                f["help"] = rest
            continue
        m = re.fullmatch(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)", line)
        assert m, "bad sample line %r" % line
        name, labels, value = m.group(1), parse_labels(m.group(2) or ""), parse_value(m.group(3))
        fam = family_of(name, types)
        assert fam in fams and fams[fam]["type"] is not None, "sample before its TYPE: %s" % line
        fams[fam]["samples"].append((name, labels, value))
    for name, f in fams.items():
        seen = set()
        for s_name, labels, _ in f["samples"]:
            key = (s_name, tuple(sorted(labels.items())))
            assert key not in seen, "sample twice: %r" % (key,)
            seen.add(key)
        if f["type"] == "histogram":
            check_histogram(name, f["samples"])
        if f["type"] == "counter":
            assert all(v >= 0 for _, _, v in f["samples"]), name
    return fams


def check_histogram(name, samples):
    series = {}
    for s_name, labels, value in samples:
        rest = tuple(sorted((k, v) for k, v in labels.items() if k != "le"))
        d = series.setdefault(rest, {"buckets": [], "sum": None, "count": None})
        if s_name == name + "_bucket":
            d["buckets"].append((parse_value(labels["le"]), value))
        elif s_name == name + "_sum":
            d["sum"] = value
        else:
            assert s_name == name + "_count", s_name
            d["count"] = value
    for rest, d in series.items():
        les = [le for le, _ in d["buckets"]]
        assert les == sorted(les) and len(set(les)) == len(les), (name, rest, les)
        assert les and math.isinf(les[-1]), "%s %r has no +Inf bucket" % (name, rest)
        counts = [c for _, c in d["buckets"]]
        assert all(a <= b for a, b in zip(counts, counts[1:])), (name, rest, counts)
        assert d["count"] is not None and d["sum"] is not None, (name, rest)
        assert counts[-1] == d["count"], "%s %r: +Inf %s != _count %s" % (
            name, rest, counts[-1], d["count"])


def scrape(srv, headers=None):
    r = requests.get(srv.url + "/metrics", headers=headers, timeout=10)
    assert_status(r, 200)
    assert r.headers["Content-Type"] == METRICS_CT
    return parse_prometheus(r.text)


def sample(fams, name, fam=None, **labels):
    """The value of one sample, 0 if the series is not there yet."""
    for s_name, l, v in fams[fam or name]["samples"]:
        if s_name == name and l == labels:
            return v
    return 0


# --------------------------------------------------------------------------
# /metrics


def test_metrics_parse_and_families(server_factory):
    srv = server_factory()
    fams = scrape(srv)
    store = "postgresql" if os.environ.get("EXPORTD_DB", "").startswith("postgres") else "sqlite"
    info = fams["exportd_build_info"]["samples"]
    assert len(info) == 1 and info[0][2] == 1
    assert info[0][1]["store"] == store and re.fullmatch(r"\d+\.\d+\.\d+", info[0][1]["version"])
    start = fams["process_start_time_seconds"]["samples"][0][2]
    assert time.time() - 120 < start <= time.time() + 1
    for name, kind in (("exportd_http_requests_total", "counter"),
                       ("exportd_http_request_duration_seconds", "histogram"),
                       ("exportd_http_open_connections", "gauge"),
                       ("exportd_store_batch_writes", "histogram"),
                       ("exportd_store_commit_seconds", "histogram"),
                       ("exportd_store_errors_total", "counter"),
                       ("exportd_store_reconnects_total", "counter"),
                       ("exportd_inbox_records", "gauge")):
        assert fams[name]["type"] == kind, name
        assert fams[name]["help"], name
    # the scrape's own connection is open
    assert sample(fams, "exportd_http_open_connections") >= 1


def test_request_counters_move_by_route(server_factory):
    srv = server_factory()
    api = srv.api()
    doc = api.create(webhook_body())
    secret_path = "/v1/exports/%s/%s/data" % (doc["_id"], "TokenInThePath" + uuid.uuid4().hex)
    before = scrape(srv)
    n = 7
    for _ in range(n):
        assert_status(api.get("/v1/exports/" + doc["_id"]), 200)
    for _ in range(3):
        assert_status(api.get("/v1/no/such/thing"), 404)
    r = requests.post(srv.url + secret_path, data=b"{}", timeout=10,
                      headers={"Content-Type": "application/json"})
    assert 400 <= r.status_code < 500
    # bytes that cannot begin a request: refused by the gate itself
    with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as s:
        s.sendall(b"\x16\x03\x01\x00\x05hello\r\n\r\n")
        assert b" 400 " in read_to_close(s)[0][:20]
    after = scrape(srv)
    text = requests.get(srv.url + "/metrics", timeout=10).text
    assert "TokenInThePath" not in text and doc["_id"] not in text

    def delta(name, fam=None, **labels):
        return sample(after, name, fam, **labels) - sample(before, name, fam, **labels)

    one = dict(route="/v1/exports/:id", method="GET", code="2xx")
    assert delta("exportd_http_requests_total", **one) == n
    assert delta("exportd_http_request_duration_seconds_count",
                 "exportd_http_request_duration_seconds", **one) == n
    assert delta("exportd_http_request_duration_seconds_bucket",
                 "exportd_http_request_duration_seconds", le="+Inf", **one) == n
    assert delta("exportd_http_requests_total", route="unmatched", method="GET", code="4xx") == 3
    assert delta("exportd_http_requests_total", route="/v1/exports/:id/:token/data",
                 method="POST", code="4xx") == 1
    assert delta("exportd_http_requests_total", route="gate", method="none", code="4xx") == 1
    # the counter and the histogram agree on every series
    for _, labels, v in after["exportd_http_requests_total"]["samples"]:
        assert sample(after, "exportd_http_request_duration_seconds_count",
                      "exportd_http_request_duration_seconds", **labels) == v


def test_delivery_moves_store_metrics_and_inbox_depth(server_factory):
    srv = server_factory()
    api = srv.api()
    key = "k-" + uuid.uuid4().hex
    e = api.create(webhook_body(webhook={"provider": "github", "key": key}))
    before = scrape(srv)
    depth0 = sample(before, "exportd_inbox_records")
    batches0 = sample(before, "exportd_store_batch_writes_count", "exportd_store_batch_writes")
    commits0 = sample(before, "exportd_store_commit_seconds_count", "exportd_store_commit_seconds")
    writes0 = sample(before, "exportd_store_batch_writes_sum", "exportd_store_batch_writes")
    for i in range(3):
        body = json.dumps([{"i": i, "p": 0}, {"i": i, "p": 1}]).encode()
        r = requests.post(srv.url + hook_path(e), data=body, timeout=10, headers={
            "Content-Type": "application/json",
            "X-Hub-Signature-256": "sha256=" + mac_hex(key, body),
            "X-GitHub-Event": "push"})
        assert_status(r, 204)
    mid = scrape(srv)
    assert sample(mid, "exportd_inbox_records") == depth0 + 6
    batches = sample(mid, "exportd_store_batch_writes_count", "exportd_store_batch_writes")
    assert 1 <= batches - batches0 <= 3
    assert sample(mid, "exportd_store_batch_writes_sum", "exportd_store_batch_writes") - writes0 == 3
    assert sample(mid, "exportd_store_commit_seconds_count",
                  "exportd_store_commit_seconds") - commits0 == batches - batches0
    entries = inbox_all(api, e["_id"])
    assert_status(inbox_ack(api, e["_id"], entries[3]["cursor"]), 200)
    after = scrape(srv)
    assert sample(after, "exportd_inbox_records") == depth0 + 2
    # a deleted export takes its inbox with it: the depth is counted again
    assert_status(api.delete("/v1/exports/" + e["_id"]), 204)
    assert sample(scrape(srv), "exportd_inbox_records") == depth0


def test_inbox_depth_is_counted_from_the_store_at_start(server_factory):
    srv = server_factory()
    api = srv.api()
    key = "k-" + uuid.uuid4().hex
    e = api.create(webhook_body(webhook={"provider": "github", "key": key}))
    body = json.dumps([{"a": 1}, {"a": 2}]).encode()
    r = requests.post(srv.url + hook_path(e), data=body, timeout=10, headers={
        "Content-Type": "application/json", "X-Hub-Signature-256": "sha256=" + mac_hex(key, body),
        "X-GitHub-Event": "push"})
    assert_status(r, 204)
    base = sample(scrape(srv), "exportd_inbox_records")
    assert base >= 2
    srv.restart()
    assert sample(scrape(srv), "exportd_inbox_records") == base


def test_metrics_token(server_factory):
    tok = "mt-" + uuid.uuid4().hex
    srv = server_factory(extra_args=["--metrics-token", tok])
    for headers in (None, {"Authorization": "Bearer wrong"},
                    {"Authorization": "Bearer " + tok + "x"}, {"Authorization": "Basic " + tok},
                    {"Authorization": "Bearer " + tok[:-1]}):
        r = requests.get(srv.url + "/metrics", headers=headers, timeout=10)
        assert_error(r, 401, "unauthorized")
        assert r.headers.get("WWW-Authenticate", "").startswith("Bearer")
    # an API token is not the metrics token
    r = requests.get(srv.url + "/metrics", headers={"Authorization": "Bearer " + srv.api().token}, timeout=10)
    assert_error(r, 401, "unauthorized")
    fams = scrape(srv, {"Authorization": "Bearer " + tok})
    assert sample(fams, "exportd_http_requests_total", route="/metrics", method="GET",
                  code="4xx") == 6
    assert tok not in srv.stderr_text()


def test_metrics_open_without_token(server_factory):
    srv = server_factory()
    r = requests.get(srv.url + "/metrics", headers={"Authorization": "Bearer anything"}, timeout=10)
    assert_status(r, 200)
    assert requests.post(srv.url + "/metrics", timeout=10).status_code == 405


# --------------------------------------------------------------------------
# /v1/ready and /v1/health


def test_ready_and_health(server_factory):
    srv = server_factory()
    r = requests.get(srv.url + "/v1/ready", timeout=10)
    assert_status(r, 200)
    doc = body_of(r)
    assert doc["status"] == "ready" and doc["store"] in ("sqlite", "postgresql")
    assert_status(requests.get(srv.url + "/v1/health", timeout=10), 200)


class Forwarder:
    """A TCP forwarder on a fixed port that can be cut (every connection
    closed, the port closed) and brought back."""

    def __init__(self, target):
        self.target = target
        self.port = free_port()
        self.lock = threading.Lock()
        self.socks = []
        self.lsock = None
        self.up()

    def up(self):
        ls = socket.socket()
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind(("127.0.0.1", self.port))
        ls.listen(64)
        self.lsock = ls
        threading.Thread(target=self._accept, args=(ls,), daemon=True).start()

    def _accept(self, ls):
        while True:
            try:
                c, _ = ls.accept()
            except OSError:
                return
            try:
                u = socket.create_connection(self.target, timeout=5)
            except OSError:
                c.close()
                continue
            with self.lock:
                self.socks += [c, u]
            threading.Thread(target=self._pump, args=(c, u), daemon=True).start()

    def _pump(self, a, b):
        try:
            while True:
                r, _, _ = select.select([a, b], [], [], 1.0)
                for s in r:
                    data = s.recv(65536)
                    if not data:
                        raise OSError
                    (b if s is a else a).sendall(data)
        except (OSError, ValueError):
            pass
        finally:
            for s in (a, b):
                try:
                    s.close()
                except OSError:
                    pass

    def cut(self):
        # shutdown wakes the accept() in progress and stops listening; a
        # close alone would leave the socket listening under it
        with self.lock:
            socks, self.socks = [self.lsock] + self.socks, []
        list(map(close_hard, socks))


def close_hard(sock):
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


def wait_for(pred, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.2)
    return pred()


@pytest.mark.skipif(not os.environ.get("EXPORTD_DB", "").startswith("postgres"),
                    reason="the store outage needs PostgreSQL (tests/pg/with-cluster.sh)")
def test_ready_503_while_the_database_is_away(server_factory):
    u = urlparse(os.environ["EXPORTD_DB"])
    fwd = Forwarder((u.hostname or "127.0.0.1", u.port or 5432))
    netloc = u.netloc.rsplit("@", 1)
    netloc = (netloc[0] + "@" if len(netloc) == 2 else "") + "127.0.0.1:%d" % fwd.port
    db = urlunparse(u._replace(netloc=netloc))
    srv = server_factory(env={"EXPORTD_DB": db}, threads=1)
    try:
        assert_status(requests.get(srv.url + "/v1/ready", timeout=10), 200)
        fwd.cut()
        for _ in range(3):
            t0 = time.monotonic()
            r = requests.get(srv.url + "/v1/ready", timeout=15)
            assert time.monotonic() - t0 < 10
            assert_error(r, 503, "unavailable")
            assert r.headers.get("Retry-After") == "1"
            assert_status(requests.get(srv.url + "/v1/health", timeout=10), 200)
        fams = scrape(srv)
        assert sample(fams, "exportd_store_errors_total") >= 1
        assert sample(fams, "exportd_http_requests_total", route="/v1/ready", method="GET",
                      code="5xx") == 3
        fwd.up()
        assert wait_for(lambda: requests.get(srv.url + "/v1/ready", timeout=10).status_code == 200,
                        15), "/v1/ready did not come back"
        assert sample(scrape(srv), "exportd_store_reconnects_total") >= 1
    finally:
        fwd.cut()
        srv.stop()


# --------------------------------------------------------------------------
# --log-format json


def test_json_log_lines_parse_and_hide_secrets(server_factory):
    srv = server_factory(extra_args=["--log-format", "json"])
    api = srv.api()
    tok = "T" + uuid.uuid4().hex + uuid.uuid4().hex
    e = api.create(webhook_body(webhook={"provider": "custom", "verify": "token",
                                         "token": tok, "path": "t"}))
    nasty_paths = [
        b"/v1/exports/%s/%s/data" % (e["_id"].encode(), tok.encode()),
        b"/v1/\x01\x7f\"quoted\\/x",
        b"/v1/exports/\xff\xfe\xc3(/data",
        b"/v1/%E2%80%A8%00%22",
        b"/v1/caf\xc3\xa9/\xe2\x80\xa8/\xc2\x85",
    ]
    ids = []
    for p in nasty_paths:
        with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as s:
            s.sendall(b"POST " + p + b" HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
                      b"Connection: close\r\n\r\n{}")
            resp = read_to_close(s)[0]
            m = re.search(rb"X-Request-Id: ([0-9a-f]{16})", resp)
            assert m, resp[:200]
            ids.append(m.group(1).decode())
    for method in (b"GE\"T", b"P\x01ST", b"G\xffT"):
        with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as s:
            s.sendall(method + b" /v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            read_to_close(s)
    assert_status(requests.get(srv.url + "/v1/health", timeout=10), 200)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not all(i in srv.stderr_text() for i in ids):
        time.sleep(0.05)
    raw = b"".join(p.read_bytes() for p in srv.log_files if p.name.startswith("stderr"))
    lines = raw.split(b"\n")
    assert lines[-1] == b""
    access = {}
    for line in lines[:-1]:
        doc = json.loads(line.decode("utf-8"))   # strict UTF-8, one object per line
        assert isinstance(doc, dict) and doc["level"] in ("error", "warn", "info", "debug")
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", doc["time"])
        if "status" in doc:
            assert set(doc) == {"time", "level", "method", "path", "status", "bytes",
                                "duration_ms", "remote", "id", "route", "completed"}, doc
            assert isinstance(doc["duration_ms"], float) and doc["remote"] == "127.0.0.1"
            access[doc["id"]] = doc
        else:
            assert set(doc) == {"time", "level", "msg"}, doc
    assert tok not in raw.decode("utf-8", "replace")
    assert tok[:12] not in raw.decode("utf-8", "replace")
    for i in ids:
        assert i in access, "no access line for request %s" % i
    first = access[ids[0]]
    assert first["path"] == "/v1/exports/%s/***/data" % e["_id"]
    assert first["route"] == "/v1/exports/:id/:token/data" and first["method"] == "POST"
    assert any(d["route"] == "/v1/health" and d["status"] == 200 for d in access.values())
    # the API still answers
    assert_status(api.get("/v1/exports/" + e["_id"]), 200)


def test_bad_log_format_is_refused(server_factory, tmp_path):
    from apilib import BIN
    import subprocess
    cp = subprocess.run([str(BIN), "serve", "--log-format", "xml", "--listen",
                         "127.0.0.1:%d" % free_port(), "--data-dir", str(tmp_path / "d")],
                        capture_output=True, text=True, timeout=20)
    assert cp.returncode != 0 and "--log-format" in cp.stderr
