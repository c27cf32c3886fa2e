"""Slow and many clients: deadlines for a request's head and body, a cap per
client address, and a 503 (not silence) at the connection cap. Attackers
connect from 127.0.0.2 so that the per-address cap tells them apart from
the normal client on 127.0.0.1."""

import json
import select
import socket
import time
from urllib.parse import urlparse

import pytest
import requests

from apilib import assert_status, read_to_close

ATTACKER = "127.0.0.2"


def connect(srv, source=None, timeout=10):
    u = urlparse(srv.url)
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    if source:
        s.bind((source, 0))
    s.connect((u.hostname, u.port))
    return s


def health_refused(srv, source, status, code):
    """A GET from source is answered status/code with Retry-After: 1."""
    s = connect(srv, source)
    s.sendall(b"GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
    out, _, took = read_to_close(s, 5)
    s.close()
    got, headers, body = error_answer(out)
    assert got == status, out
    assert body["errors"][0]["code"] == code
    assert headers.get("retry-after") == "1"
    assert took < 2


def error_answer(out):
    head, _, body = out.partition(b"\r\n\r\n")
    lines = head.decode("latin1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (l.partition(":") for l in lines[1:])}
    return int(lines[0].split()[1]), headers, json.loads(body)


def test_header_deadline_answers_408_and_closes(server_factory):
    srv = server_factory(extra_args=["--header-timeout", "1"])
    s = connect(srv)
    s.sendall(b"GET /v1/health HTTP/1.1\r\nHost: x\r\n")
    t0 = time.monotonic()
    try:
        for _ in range(20):            # a header byte every 0.2 s
            s.sendall(b"X")
            time.sleep(0.2)
            if time.monotonic() - t0 > 4:
                break
    except (BrokenPipeError, ConnectionResetError):
        pass
    out, _, _ = read_to_close(s, 5)
    took = time.monotonic() - t0
    s.close()
    status, headers, body = error_answer(out)
    assert status == 408, out
    assert body["errors"][0]["code"] == "request_timeout"
    assert headers["connection"] == "close"
    assert took < 4, "closed after %.1f s with --header-timeout 1" % took
    assert_status(requests.get(srv.url + "/v1/health", timeout=5), 200)


def test_header_deadline_on_a_kept_alive_connection(server_factory):
    """After a first request, the next head may idle for --timeout, then
    has --header-timeout: a trickle cannot hold the connection longer."""
    srv = server_factory(extra_args=["--header-timeout", "1", "--timeout", "1"])
    s = connect(srv)
    s.sendall(b"GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
    first = s.recv(65536)
    assert first.startswith(b"HTTP/1.1 200"), first
    t0 = time.monotonic()
    try:
        s.sendall(b"GET /v1/health HTTP/1.1\r\nHost: x\r\n")
        for _ in range(40):
            s.sendall(b"X")
            time.sleep(0.2)
    except (BrokenPipeError, ConnectionResetError):
        pass
    read_to_close(s, 5)
    took = time.monotonic() - t0
    s.close()
    assert took < 5, "a trickling head held a kept-alive connection %.1f s" % took


def test_body_deadline_closes_a_stalled_body(server_factory):
    srv = server_factory(extra_args=["--body-timeout", "1"])
    a = srv.api()
    u = urlparse(srv.url)
    s = connect(srv)
    s.sendall(("POST /v1/exports HTTP/1.1\r\nHost: %s:%d\r\nAuthorization: Bearer %s\r\n"
               "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"na" % (
                   u.hostname, u.port, a.token)).encode())
    out, _, took = read_to_close(s, 10)
    s.close()
    assert took < 4, "a stalled body held the connection %.1f s with --body-timeout 1" % took
    assert b"201" not in out
    assert_status(a.get("/v1/tokenInfo"), 200)


def test_per_address_cap(server_factory):
    srv = server_factory(extra_args=["--max-connections-per-ip", "5"])
    held = [connect(srv, ATTACKER) for _ in range(5)]
    try:
        health_refused(srv, ATTACKER, 429, "rate_limited")
        # another address is not affected
        assert_status(requests.get(srv.url + "/v1/health", timeout=5), 200)
    finally:
        for s in held:
            s.close()
    deadline = time.monotonic() + 5
    while True:                        # the closes reach the server
        s = connect(srv, ATTACKER)
        s.sendall(b"GET /v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        out, _, _ = read_to_close(s, 5)
        s.close()
        if out.startswith(b"HTTP/1.1 200") or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert out.startswith(b"HTTP/1.1 200"), out[:200]


def test_connection_cap_answers_503(server_factory):
    srv = server_factory(extra_args=["--max-connections", "5", "--max-connections-per-ip", "0"])
    time.sleep(0.3)                    # the readiness probe's connection is gone
    held = [connect(srv, ATTACKER) for _ in range(5)]
    try:
        time.sleep(0.2)
        ready, _, _ = select.select(held, [], [], 0)
        assert not ready, "a held connection was answered: %r" % ready[0].recv(300)
        health_refused(srv, "127.0.0.1", 503, "unavailable")
    finally:
        for h in held:
            h.close()


def test_bounded_slowloris_leaves_normal_clients_served(server_factory):
    """300 connections trickle their headers from one address; a normal
    client on another address gets every answer, quickly; the trickling
    connections are answered 408 and closed at the header deadline."""
    srv = server_factory(extra_args=[
        "--max-connections", "400", "--max-connections-per-ip", "150",
        "--header-timeout", "2"])
    attackers = []
    for _ in range(300):
        try:
            s = connect(srv, ATTACKER)
            s.setblocking(False)
            s.send(b"GET /v1/health HTTP/1.1\r\nHost: x\r\n")
            attackers.append(s)
        except OSError:
            pass
    sess = requests.Session()
    answered, slowest = 0, 0.0
    t_end = time.monotonic() + 3
    i = 0
    while time.monotonic() < t_end or i < 15:
        for s in attackers:            # keep trickling
            try:
                s.send(b"X")
            except OSError:
                pass
        t0 = time.monotonic()
        r = sess.get(srv.url + "/v1/health", timeout=5)
        slowest = max(slowest, time.monotonic() - t0)
        answered += r.status_code == 200
        i += 1
        time.sleep(0.1)
    assert answered == i, "%d of %d answered during the attack" % (answered, i)
    assert slowest < 2, "slowest answer %.2f s" % slowest
    # every trickling connection has been answered (408 or 429) and closed
    codes, still_open = {}, 0
    for s in attackers:
        s.setblocking(True)
        out, _, _ = read_to_close(s, 3)
        s.close()
        if not out:
            still_open += 1
            continue
        code = int(out.split(b" ", 2)[1])
        codes[code] = codes.get(code, 0) + 1
    assert still_open == 0, codes
    assert set(codes) <= {408, 429}, codes
    assert codes.get(408, 0) >= 140, codes
    assert codes.get(429, 0) >= 140, codes
