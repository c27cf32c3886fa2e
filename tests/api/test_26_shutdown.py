"""SIGTERM: requests already received are answered; a stalled upload, a
trickling head or an idle connection does not hold the shutdown."""

import os
import signal
import socket
import sqlite3
import threading
import time
from urllib.parse import urlparse

import pytest

from apilib import assert_status, http_body


def test_stalled_upload_does_not_hold_shutdown(server_factory):
    srv = server_factory()
    a = srv.api()
    e = a.create(http_body())
    u = urlparse(srv.url)
    host = "%s:%d" % (u.hostname, u.port)
    stalled = socket.create_connection((u.hostname, u.port), timeout=10)
    stalled.sendall(("PUT /v1/exports/%s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n"
                     "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"name\"" % (
                         e["_id"], host, a.token)).encode())
    trickling = socket.create_connection((u.hostname, u.port), timeout=10)
    trickling.sendall(b"GET /v1/health HTTP/1.1\r\nHost: x\r\n")
    idle = socket.create_connection((u.hostname, u.port), timeout=10)
    idle.sendall(("GET /v1/tokenInfo HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n\r\n" % (
        host, a.token)).encode())
    assert idle.recv(65536).startswith(b"HTTP/1.1 200")
    time.sleep(0.3)
    t0 = time.monotonic()
    rc = srv.stop(timeout=20)
    took = time.monotonic() - t0
    assert rc == 0
    assert took < 5, "shutdown took %.1f s" % took
    for s in (stalled, trickling, idle):
        s.settimeout(5)
        try:
            rest = s.recv(65536)
        except ConnectionResetError:
            rest = b""
        assert b"HTTP/1.1 2" not in rest, rest
        s.close()
    assert "still in flight" not in srv.stderr_text()
    srv.start()
    a.base_url = srv.url
    got = a.fetch(e["_id"])
    assert got["name"] == e["name"], "the cut upload changed the export"


def test_shutdown_timeout_bounds_the_wait(server_factory):
    """--shutdown-timeout 0: no wait at all, still a clean exit."""
    srv = server_factory(extra_args=["--shutdown-timeout", "0"])
    a = srv.api()
    assert_status(a.get("/v1/tokenInfo"), 200)
    t0 = time.monotonic()
    assert srv.stop(signal.SIGTERM, timeout=20) == 0
    assert time.monotonic() - t0 < 3
    assert "stopped cleanly" in srv.stderr_text()


@pytest.mark.skipif(bool(os.environ.get("EXPORTD_DB")), reason="holds the SQLite write lock")
def test_request_in_flight_is_answered(server_factory):
    """A complete request waiting for the store when SIGTERM comes is
    still answered (201), then the server exits 0."""
    srv = server_factory()
    a = srv.api()
    a.connection()                     # the export's connection exists before the lock
    db = sqlite3.connect(str(srv.data_dir / "exportd.db"), isolation_level=None, timeout=10)
    db.execute("BEGIN IMMEDIATE")      # the server's write waits for this
    result = {}

    def post():
        result["r"] = a.post("/v1/exports", json=http_body(name="in-flight"), timeout=20)

    t = threading.Thread(target=post)
    t.start()
    time.sleep(0.5)
    srv.proc.send_signal(signal.SIGTERM)
    time.sleep(1.0)
    assert srv.proc.poll() is None, "exited with a request in flight"
    db.execute("ROLLBACK")
    db.close()
    t.join(20)
    assert_status(result["r"], 201)
    assert srv.stop(timeout=20) == 0
    srv.start()
    a.base_url = srv.url
    assert a.fetch(result["r"].json()["_id"])["name"] == "in-flight"
