"""Large pages are streamed, not built whole (src/api/page.c,
docs/internals/streaming.md).

A page of 1,000 exports of about 1 MiB each is a gigabyte of JSON. The
server sends it as it reads it, in chunks of about 64 KiB plus one row,
each chunk its own short read, so that a reader costs about one row of
memory however large the page and however slowly it reads.

The bound checked here: the server's peak resident memory (VmHWM, reset
after seeding) stays below its resident memory after seeding plus
RSS_BOUND (64 MiB), with one normal reader of the whole page, then six
slow readers stalled in the middle of it while a normal reader reads it
again. Under AddressSanitizer the quarantine of freed memory is kept small
for these servers, so that what is measured is what the server holds, not
what the sanitizer delays reusing."""

import hashlib
import json
import os
import socket
import subprocess
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from apilib import (BIN, REPO, Api, assert_status, hook_path, simple_body, unique,
                    webhook_body)

# dump and restore of a SQLite store (EXPORTD_DB names a shared PostgreSQL one)
ON_SQLITE = pytest.mark.skipif(os.environ.get("EXPORTD_DB", "").startswith("postgres"),
                               reason="restores a SQLite store")

MIB = 1 << 20
RSS_BOUND = 64 * MIB          # over the resident memory after seeding
N_EXPORTS = 1000
SLOW_READERS = 6
SMALL_QUARANTINE = {"ASAN_OPTIONS": ":".join(filter(None, [
    os.environ.get("ASAN_OPTIONS", ""), "quarantine_size_mb=8",
    "thread_local_quarantine_size_kb=256"]))}


def status_bytes(pid, key):
    for line in Path("/proc/%d/status" % pid).read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no %s in /proc/%d/status" % (key, pid))


class Peak:
    """The server's peak resident memory from a point on: VmHWM after a
    reset of it (clear_refs 5), and sampled VmRSS as well."""

    def __init__(self, pid):
        self.pid = pid
        self.sampled = 0
        self.stop = threading.Event()
        try:
            Path("/proc/%d/clear_refs" % pid).write_text("5")
            self.hwm = True
        except OSError:
            self.hwm = False
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()

    def _sample(self):
        while not self.stop.is_set():
            try:
                self.sampled = max(self.sampled, status_bytes(self.pid, "VmRSS"))
            except (OSError, AssertionError):
                return
            time.sleep(0.02)

    def value(self):
        peak = self.sampled
        if self.hwm:
            peak = max(peak, status_bytes(self.pid, "VmHWM"))
        return peak

    def close(self):
        self.stop.set()
        self.thread.join()


def check_bound(srv, baseline, peak, what):
    used = peak.value() - baseline
    assert used < RSS_BOUND, (
        "%s: the server's resident memory rose by %.1f MiB over %.1f MiB after seeding "
        "(bound: %d MiB)" % (what, used / MIB, baseline / MIB, RSS_BOUND // MIB))


def big_doc(i, size=MIB):
    # four strings of a quarter each: under the 1 MiB cap of one string
    part = (uuid.uuid4().hex * (size // 128 + 1))[: size // 4 - 64]
    return simple_body(name="big %d" % i, **{"blob%d" % k: part for k in range(4)})


def digest(body):
    return len(body), hashlib.sha256(body).digest()


def restored_store(server_factory, tmp_path, n):
    """A store of n exports of about 1 MiB, made the fast way: an account,
    its token and one export through the API and the CLI, then a dump of
    that store with n large copies of the export in its place, restored
    into a new data dir (exportd restore: one transaction, no sync per
    row). Returns (data dir, token, the ids in seq order, {id: (length,
    sha256)} of the bodies as stored, which reads serve as they are)."""
    src = server_factory()
    api = src.api(unique("big"))
    template = api.create(simple_body(name="template"))
    assert src.stop() == 0
    dump = subprocess.run([str(BIN), "dump", "--data-dir", str(src.data_dir)],
                          capture_output=True, check=True, timeout=120, cwd=str(REPO)).stdout
    lines = [json.loads(x) for x in dump.splitlines()]
    head = lines[0]
    head["counts"]["exports"] = n
    head["sequences"]["exports"] = n
    row = next(x for x in lines if x["kind"] == "export")
    bodies = {}
    path = tmp_path / "big.jsonl"
    # Lines after the exports (the template's audit entry) follow the copies.
    first = next(i for i, x in enumerate(lines) if x["kind"] == "export")
    after = [x for x in lines[first:] if x["kind"] != "export"]
    with open(path, "w") as f:
        f.write(json.dumps(head) + "\n")
        for x in lines[1:first]:
            f.write(json.dumps(x) + "\n")
        for i in range(n):
            eid = uuid.uuid4().hex[:24]
            doc = dict(template, **big_doc(i))
            doc.update(_id=eid, apiIdentifier="e" + eid[-10:])
            body = json.dumps(doc, separators=(",", ":"), ensure_ascii=False)
            bodies[eid] = digest(body.encode())
            f.write(json.dumps(dict(row, seq=i + 1, id=eid, api_identifier=doc["apiIdentifier"],
                                    name=doc["name"], body=body)) + "\n")
        for x in after:
            f.write(json.dumps(x) + "\n")
    dst = tmp_path / "restored"
    dst.mkdir()
    with open(path, "rb") as f:
        cp = subprocess.run([str(BIN), "restore", "--data-dir", str(dst)], stdin=f,
                            capture_output=True, timeout=600, cwd=str(REPO))
    assert cp.returncode == 0, cp.stderr[-2000:]
    path.unlink()
    return dst, api.token, list(bodies), bodies


def seed_exports(srv, token, n):
    """n exports of about 1 MiB, created through the API by a pool of
    writers; returns {id: (length, sha256)} of their stored bodies."""
    local = threading.local()

    def post(i):
        if not hasattr(local, "api"):
            local.api = Api(srv.url, token)
        r = local.api.post("/v1/exports", json=big_doc(i), timeout=120)
        assert_status(r, 201)
        return r.json()["_id"], digest(r.content)

    with ThreadPoolExecutor(4) as pool:
        return dict(pool.map(post, range(n)))


def auth(token):
    return {"Authorization": "Bearer " + token}


def read_page(url, token, order, bodies):
    """Read the page with a normal client, checking it row by row against
    the stored bodies without holding it whole. Without order, each row is
    known by the _id its body starts with, and all must come, in any order."""
    r = requests.get(url, headers=auth(token), stream=True, timeout=300)
    assert_status(r, 200)
    assert r.headers["Content-Type"].startswith("application/json")
    assert "Link" not in r.headers, r.headers.get("Link")
    it = r.iter_content(256 * 1024)
    buf = bytearray()

    def take(n):
        while len(buf) < n:
            buf.extend(next(it))
        out = bytes(buf[:n])
        del buf[:n]
        return out

    assert take(1) == b"["
    seen = []
    for i in range(len(bodies)):
        if order is not None:
            eid = order[i]
            row = take(bodies[eid][0])
        else:
            row = take(32)
            assert row.startswith(b'{"_id":"'), row
            eid = row[8:].decode()
            row += take(bodies[eid][0] - 32)
        seen.append(eid)
        assert hashlib.sha256(row).digest() == bodies[eid][1], "row %d (%s) differs" % (i, eid)
        assert take(1) == (b"," if i < len(bodies) - 1 else b"]")
    assert sorted(seen) == sorted(bodies)
    rest = b"".join(it)
    assert not buf and not rest, "bytes after the page: %r" % (bytes(buf) + rest)[:100]


class SlowReader:
    """A client that asks for the page and then reads a little now and then."""

    def __init__(self, srv, path, token):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 * 1024)
        self.sock.connect(("127.0.0.1", srv.port))
        self.sock.sendall(("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n"
                           "\r\n" % (path, token)).encode())
        self.got = 0
        self.head = b""

    def nibble(self, n=16 * 1024):
        data = self.sock.recv(n)
        if self.got == 0:
            self.head = data[:200]
        self.got += len(data)
        return data

    def close(self):
        self.sock.close()


def slow_readers(srv, path, token, baseline, peak, seconds=3):
    """SLOW_READERS clients read a little of the page now and then for a
    while; then the memory bound is checked and they go away."""
    slow = [SlowReader(srv, path, token) for _ in range(SLOW_READERS)]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for s in slow:
            s.nibble()
        time.sleep(0.05)
    assert all(s.head.startswith(b"HTTP/1.1 200") for s in slow)
    check_bound(srv, baseline, peak, "%d slow readers of %s" % (SLOW_READERS, path))
    for s in slow:
        s.close()


def wal_bytes(data_dir):
    p = Path(data_dir) / "exportd.db-wal"
    return p.stat().st_size if p.exists() else 0


@ON_SQLITE
def test_list_page_of_large_exports_streams_in_bounded_memory(server_factory, tmp_path):
    data, token, order, bodies = restored_store(server_factory, tmp_path, N_EXPORTS)
    srv = server_factory(data_dir=data, max_body=2 * MIB, extra_args=["--rate-limit-rate", "0"],
                         env=SMALL_QUARANTINE)
    api = Api(srv.url, token)
    assert digest(api.get("/v1/exports/" + order[0]).content) == bodies[order[0]]
    time.sleep(0.5)
    baseline = status_bytes(srv.proc.pid, "VmRSS")
    peak = Peak(srv.proc.pid)
    try:
        # one normal reader
        read_page(srv.url + "/v1/exports?limit=1000", token, order, bodies)
        check_bound(srv, baseline, peak, "one reader of the page")
        # slow readers stalled in the middle of the page
        slow = [SlowReader(srv, "/v1/exports?limit=1000", token) for _ in range(SLOW_READERS)]
        for s in slow:
            s.nibble()
            assert s.head.startswith(b"HTTP/1.1 200"), s.head
        # ... hold no read transaction: writes meanwhile are checkpointed
        wal0 = wal_bytes(srv.data_dir)
        new = seed_exports(srv, token, 40)
        grown = wal_bytes(srv.data_dir) - wal0
        assert grown < 24 * MIB, "the WAL grew by %.1f MiB: a reader holds a snapshot" % (
            grown / MIB)
        deadline = time.monotonic() + 4
        while time.monotonic() < deadline:
            for s in slow:
                s.nibble()
            time.sleep(0.05)
        # and a normal reader at the same time, of the last 100 and the new 40
        r = requests.get(srv.url + "/v1/exports?limit=1000&skip=900", headers=auth(token),
                         stream=True, timeout=300)
        assert_status(r, 200)
        assert "Link" not in r.headers
        total = sum(len(c) for c in r.iter_content(1 << 20))
        assert total == 2 + sum(bodies[e][0] for e in order[900:]) + sum(
            new[e][0] for e in new) + 139
        r = requests.get(srv.url + "/v1/exports?limit=1000", headers=auth(token), stream=True,
                         timeout=300)
        assert_status(r, 200)
        assert "after=%d>" % N_EXPORTS in r.headers.get("Link", ""), r.headers.get("Link")
        r.close()
        for s in slow:
            s.nibble()
        check_bound(srv, baseline, peak, "%d slow readers and a reader" % SLOW_READERS)
        for s in slow:
            s.close()
    finally:
        peak.close()
    # the server is still well and answers the next page
    r = api.get("/v1/exports", params={"limit": "1000", "after": str(N_EXPORTS)}, timeout=120)
    assert_status(r, 200)
    assert len(r.json()) == 40


@pytest.mark.skipif(not os.environ.get("EXPORTD_DB", "").startswith("postgres"),
                    reason="the SQLite store has the test above")
def test_list_page_of_large_exports_streams_in_bounded_memory_on_postgresql(server_factory):
    srv = server_factory(max_body=2 * MIB, extra_args=["--rate-limit-rate", "0"],
                         env=SMALL_QUARANTINE)
    token = srv.create_token(unique("big"))["token"]
    bodies = seed_exports(srv, token, 200)
    time.sleep(0.5)
    baseline = status_bytes(srv.proc.pid, "VmRSS")
    peak = Peak(srv.proc.pid)
    try:
        read_page(srv.url + "/v1/exports?limit=1000", token, None, bodies)
        check_bound(srv, baseline, peak, "one reader of the page")
        slow_readers(srv, "/v1/exports?limit=1000", token, baseline, peak)
    finally:
        peak.close()


def test_inbox_page_of_large_records_streams_in_bounded_memory(server_factory):
    n = 256
    srv = server_factory(max_body=2 * MIB, env=SMALL_QUARANTINE,
                         extra_args=["--listener-max-body", str(2 * MIB),
                                     "--rate-limit-rate", "0"])
    api = srv.api()
    tok = uuid.uuid4().hex
    e = api.create(webhook_body(webhook={"provider": "custom", "verify": "secret_url",
                                         "token": tok}))
    path = hook_path(e, tok)
    part = uuid.uuid4().hex * (MIB // 32 // 4)

    def deliver(i):
        doc = {"i": i, "blob": [part[: MIB // 4 - 16]] * 4}
        r = requests.post(srv.url + path, data=json.dumps(doc).encode(),
                          headers={"Content-Type": "application/json"}, timeout=120)
        assert_status(r, 204)

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(deliver, range(n)))
    time.sleep(0.5)
    baseline = status_bytes(srv.proc.pid, "VmRSS")
    peak = Peak(srv.proc.pid)
    url = "/v1/exports/%s/inbox?limit=1000" % e["_id"]
    try:
        r = requests.get(srv.url + url, headers=auth(api.token), timeout=300)
        assert_status(r, 200)
        page = r.json()
        assert sorted(x["record"]["i"] for x in page["records"]) == list(range(n))
        assert page["more"] is False and page["cursor"] == page["records"][-1]["cursor"]
        del page, r
        check_bound(srv, baseline, peak, "one reader of the inbox page")
        slow_readers(srv, url, api.token, baseline, peak)
    finally:
        peak.close()


# --------------------------------------------------------------------------
# What a streamed page holds: the same bytes as pages sent in one piece


def mid_doc(name, size, **extra):
    return simple_body(name=name, blob=(uuid.uuid4().hex * (size // 32 + 1))[:size], **extra)


def test_streamed_list_pages_are_the_stored_bytes(fresh_api):
    api = fresh_api
    ids = []
    for i in range(60):
        extra = {"_integrationId": "a" * 24} if i % 3 == 0 else {}
        ids.append(api.create(mid_doc("mid %02d" % i, 4000, **extra))["_id"])
    stored = {i: api.get("/v1/exports/" + i).content for i in ids}

    def page(sel):
        return b"[" + b",".join(stored[i] for i in sel) + b"]"

    # about 240 KB: more than one piece, streamed
    r = api.get("/v1/exports", params={"limit": "1000"}, timeout=120)
    assert_status(r, 200)
    assert r.content == page(ids)
    assert "Link" not in r.headers
    # the same rows in small pages, each sent in one piece
    small, url = [], "/v1/exports?limit=7"
    while url:
        r = api.get(url)
        assert_status(r, 200)
        small.extend(r.json())
        url = r.links.get("next", {}).get("url")
    assert small == json.loads(page(ids))
    # a streamed page that ends before the last row: Link after its last row
    r = api.get("/v1/exports", params={"limit": "50"}, timeout=120)
    assert r.content == page(ids[:50])
    nxt = r.links["next"]["url"]
    assert "limit=50" in nxt
    r = api.get(nxt, timeout=120)
    assert r.content == page(ids[50:])
    # skip
    r = api.get("/v1/exports", params={"limit": "30", "skip": "5"}, timeout=120)
    assert r.content == page(ids[5:35])
    r = api.get(r.links["next"]["url"], timeout=120)
    assert r.content == page(ids[35:])
    # a filter, with skip and after
    sel = ids[::3]
    r = api.get("/v1/exports", params={"_integrationId": "a" * 24, "limit": "1000"}, timeout=120)
    assert r.content == page(sel)
    r = api.get("/v1/exports", params={"_integrationId": "a" * 24, "limit": "17", "skip": "2"},
                timeout=120)
    assert r.content == page(sel[2:19])
    assert "_integrationId=" + "a" * 24 in r.links["next"]["url"]
    assert api.get(r.links["next"]["url"], timeout=120).content == page(sel[19:])
    # projections: exclude keeps the large field (streamed), include drops it
    r = api.get("/v1/exports", params={"exclude": "name", "limit": "1000"}, timeout=120)
    assert_status(r, 200)
    want = json.loads(page(ids))
    for d in want:
        del d["name"]
    assert r.json() == want
    r = api.get("/v1/exports", params={"include": "blob", "limit": "1000"}, timeout=120)
    assert [sorted(d) for d in r.json()] == [["_id", "adaptorType", "blob", "name"]] * 60


def http_get_raw(port, path, token, rcvbuf=16 * 1024):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(60)
    s.connect(("127.0.0.1", port))
    s.sendall(("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n"
               "Connection: close\r\n\r\n" % (path, token)).encode())
    return s


def dechunk(raw):
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head[:100]
    assert b"transfer-encoding: chunked" in head.lower(), head
    out = bytearray()
    while True:
        size, _, body = body.partition(b"\r\n")
        n = int(size.split(b";")[0], 16)
        if n == 0:
            return head, bytes(out)
        out += body[:n]
        assert body[n:n + 2] == b"\r\n", "a chunk without its CRLF: the body was cut short"
        body = body[n + 2:]


def test_changes_between_chunks_keep_the_page_json(fresh_api, base_url):
    api = fresh_api
    port = int(base_url.rsplit(":", 1)[1])
    ids = [api.create(mid_doc("row %03d" % i, 64000))["_id"] for i in range(200)]
    s = http_get_raw(port, "/v1/exports?limit=1000", api.token)
    raw = bytearray(s.recv(4096))
    # the page is about 13 MB: the server is far from its end now
    for i in ids[150:180]:
        assert_status(api.delete("/v1/exports/" + i), 204)
    for i in ids[180:190]:
        doc = api.get("/v1/exports/" + i).json()
        doc["name"] = doc["name"] + " renamed"
        assert_status(api.put("/v1/exports/" + i, json=doc, timeout=60), 200)
    api.create(mid_doc("late", 100))
    while True:
        data = s.recv(1 << 20)
        if not data:
            break
        raw += data
    s.close()
    head, body = dechunk(bytes(raw))
    assert b"\nlink:" not in head.lower()
    page = json.loads(body)
    # deleted rows are gone, changed ones changed, the late one is on the
    # next page: the page was fixed at its first read, its rows read later
    assert [d["_id"] for d in page] == ids[:150] + ids[180:]
    names = {d["_id"]: d["name"] for d in page}
    assert all(names[i].endswith(" renamed") for i in ids[180:190])
    assert all(not names[i].endswith(" renamed") for i in ids[190:])


def test_streamed_inbox_page_is_the_same_as_small_pages(fresh_api, unauth):
    api = fresh_api
    tok = uuid.uuid4().hex
    e = api.create(webhook_body(webhook={"provider": "custom", "verify": "secret_url",
                                         "token": tok}))
    for i in range(40):
        r = unauth.post(hook_path(e, tok), data=json.dumps({"i": i, "pad": "x" * 4000}).encode(),
                        headers={"Content-Type": "application/json"}, retry_429=False)
        assert_status(r, 204)
    r = api.get("/v1/exports/%s/inbox" % e["_id"], params={"limit": "1000"}, timeout=60)
    assert_status(r, 200)
    whole = r.json()
    small, after = [], None
    while True:
        params = {"limit": "3"}
        if after:
            params["after"] = after
        pg = api.get("/v1/exports/%s/inbox" % e["_id"], params=params).json()
        small += pg["records"]
        if not pg["more"]:
            break
        after = pg["cursor"]
    assert whole["records"] == small
    assert whole["cursor"] == small[-1]["cursor"] and whole["more"] is False
    r = api.get("/v1/exports/%s/inbox" % e["_id"], params={"limit": "25"}, timeout=60)
    assert r.json()["records"] == small[:25] and r.json()["more"] is True
    assert r.json()["cursor"] == small[24]["cursor"]
