"""Per-token rate limit: bucket of 1000, refilled at 300/s -> 429 with
Retry-After and code rate_limited (spec section 1)."""

import json
import socket
import threading
import time
from urllib.parse import urlparse

from apilib import JSON_CT, assert_status, body_of

CONNS = 8
PER_CONN = 250          # 2000 requests, twice the bucket


def _read_response(f):
    line = f.readline()
    if not line:
        raise EOFError("connection closed")
    parts = line.decode("latin-1").split(" ", 2)
    status = int(parts[1])
    headers = {}
    while True:
        h = f.readline().decode("latin-1")
        if h in ("\r\n", "\n", ""):
            break
        k, _, v = h.partition(":")
        headers[k.strip().lower()] = v.strip()
    body = b""
    if "content-length" in headers:
        body = f.read(int(headers["content-length"]))
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size = int(f.readline().split(b";")[0], 16)
            if size == 0:
                f.readline()
                break
            body += f.read(size)
            f.readline()
    return status, headers, body


def _pipeline(host, port, token, n, out):
    s = socket.create_connection((host, port), timeout=30)
    req = ("GET /v1/tokenInfo HTTP/1.1\r\nHost: %s:%d\r\nAuthorization: Bearer %s\r\n\r\n"
           % (host, port, token)).encode()
    sender = threading.Thread(target=lambda: s.sendall(req * n), daemon=True)
    sender.start()
    f = s.makefile("rb")
    try:
        for _ in range(n):
            out.append(_read_response(f))
    except (EOFError, OSError, ValueError, IndexError):
        pass                      # the server may close a connection it limits
    finally:
        sender.join(5)
        f.close()
        s.close()


def test_rate_limit(new_api, base_url, unauth):
    a = new_api()
    sibling = new_api(a.account)
    u = urlparse(base_url)
    results = []
    threads = [threading.Thread(target=_pipeline, args=(u.hostname, u.port, a.token, PER_CONN, results))
               for _ in range(CONNS)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    elapsed = time.monotonic() - t0
    assert len(results) > 1000, "only %d pipelined requests were answered" % len(results)
    statuses = [r[0] for r in results]
    assert set(statuses) <= {200, 429}, sorted(set(statuses))
    ok = statuses.count(200)
    limited = [r for r in results if r[0] == 429]
    assert limited, "no 429 after %d requests in %.2fs" % (len(results), elapsed)
    assert ok >= 1000, "fewer than the 1000-request bucket succeeded: %d" % ok
    assert ok <= 1000 + 300 * elapsed + 30, "%d successes in %.2fs exceed the bucket" % (ok, elapsed)
    status, headers, body = limited[0]
    assert headers.get("content-type") == JSON_CT
    ra = headers.get("retry-after")
    assert ra is not None and ra.isdigit() and 1 <= int(ra) <= 5, ra
    err = json.loads(body)
    assert [e["code"] for e in err["errors"]] == ["rate_limited"], err
    assert headers.get("x-request-id")
    # per token: another token of the same account is not limited
    assert_status(sibling.get("/v1/tokenInfo", retry_429=False), 200)
    # unauthenticated probes are not limited
    assert_status(unauth.get("/v1/health", retry_429=False), 200)
    # the bucket refills
    time.sleep(int(ra))
    r = a.get("/v1/tokenInfo", retry_429=False)
    assert_status(r, 200)
    assert body_of(r)["_userId"]
