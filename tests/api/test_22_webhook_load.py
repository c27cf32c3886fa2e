"""Webhook listener under load, and durability across a crash.

1. 20,000 GitHub-signed deliveries from 16 concurrent senders (each with its
   own keep-alive session, numbering its deliveries): the inbox then holds
   exactly 20,000 records, each sender's in its own order, none twice.
2. SIGKILL in the middle of a burst, restart on the same data dir: every
   delivery that got a 2xx is in the inbox (the others may or may not be),
   none twice.

Every request has a timeout; the file is meant to stay well under 90 s on
the sanitizer build."""

import json
import threading
import time

import requests

from apilib import Api, hook_path, inbox_all, mac_hex, secret_value, webhook_body

SENDERS = 16
PER_SENDER = 1250                    # 16 x 1250 = 20,000
TIMEOUT = 30
BIG_LIMITS = ["--listener-rate-limit-burst", "1000000", "--listener-rate-limit-rate", "1000000"]


def signed(key, doc):
    body = json.dumps(doc, separators=(",", ":")).encode()
    return body, {"Content-Type": "application/json", "X-GitHub-Event": "push",
                  "X-Hub-Signature-256": "sha256=" + mac_hex(key, body)}


def run_senders(n, target, deadline):
    errors = []
    threads = []

    def wrap(i):
        try:
            target(i)
        except Exception as exc:  # reported by the test
            errors.append("sender %d: %r" % (i, exc))

    for i in range(n):
        t = threading.Thread(target=wrap, args=(i,), daemon=True)
        threads.append(t)
        t.start()
    for t in threads:
        t.join(max(0.1, deadline - time.monotonic()))
    alive = [t for t in threads if t.is_alive()]
    return errors, alive


def check_per_sender(records, senders):
    """{sender: [seq, ...]} in inbox order; asserts no record twice."""
    seen = set()
    per = {s: [] for s in range(senders)}
    for r in records:
        k = (r["sender"], r["seq"])
        assert k not in seen, "record %r stored twice" % (k,)
        seen.add(k)
        per[r["sender"]].append(r["seq"])
    for s, seqs in per.items():
        assert seqs == sorted(seqs), "sender %d out of order: %r..." % (s, seqs[:20])
    return per


def test_twenty_thousand_deliveries(server_factory):
    srv = server_factory(extra_args=BIG_LIMITS)
    api = srv.api()
    key = secret_value("load")
    e = api.create(webhook_body(webhook={"provider": "github", "key": key}))
    url = srv.url + hook_path(e)
    bad = []
    start = time.monotonic()

    def sender(i):
        with requests.Session() as s:
            for seq in range(PER_SENDER):
                body, headers = signed(key, {"sender": i, "seq": seq, "pad": "x" * 64})
                r = s.post(url, data=body, headers=headers, timeout=TIMEOUT)
                if r.status_code != 204:
                    bad.append((i, seq, r.status_code, r.content[:200]))
                    return

    errors, alive = run_senders(SENDERS, sender, start + 80)
    elapsed = time.monotonic() - start
    assert not alive, "senders still running after 80 s"
    assert not errors, errors[:5]
    assert not bad, "deliveries refused: %r" % bad[:5]
    records = [x["record"] for x in inbox_all(api, e["_id"], limit=1000)]
    assert len(records) == SENDERS * PER_SENDER, len(records)
    per = check_per_sender(records, SENDERS)
    for s, seqs in per.items():
        assert seqs == list(range(PER_SENDER)), "sender %d: %d records" % (s, len(seqs))
    print("20,000 deliveries in %.1f s" % elapsed)


def test_crash_mid_burst_keeps_acknowledged(server_factory):
    srv = server_factory(extra_args=BIG_LIMITS)
    api = srv.api()
    key = secret_value("crash")
    e = api.create(webhook_body(webhook={"provider": "github", "key": key}))
    url = srv.url + hook_path(e)
    n_senders = 6
    acked = {i: [] for i in range(n_senders)}
    attempted = {i: -1 for i in range(n_senders)}
    refused = []
    stop = threading.Event()
    lock = threading.Lock()

    def sender(i):
        with requests.Session() as s:
            for seq in range(100000):
                if stop.is_set():
                    return
                body, headers = signed(key, {"sender": i, "seq": seq})
                attempted[i] = seq
                try:
                    r = s.post(url, data=body, headers=headers, timeout=10)
                except requests.RequestException:
                    return                 # the server is gone: no answer
                if 200 <= r.status_code < 300:
                    with lock:
                        acked[i].append(seq)
                else:
                    refused.append((i, seq, r.status_code))
                    return

    threads = [threading.Thread(target=sender, args=(i,), daemon=True) for i in range(n_senders)]
    for t in threads:
        t.start()
    t0 = time.monotonic()
    while time.monotonic() - t0 < 5:
        with lock:
            total = sum(len(v) for v in acked.values())
        if total >= 600:
            break
        time.sleep(0.02)
    srv.kill()                              # SIGKILL, mid-burst
    stop.set()
    for t in threads:
        t.join(15)
    assert not any(t.is_alive() for t in threads), "senders hung after the kill"
    assert not refused, refused[:5]
    total = sum(len(v) for v in acked.values())
    assert total >= 50, "too few deliveries before the kill (%d) to prove anything" % total

    srv.start()                             # same data dir
    api = Api(srv.url, api.token)
    records = [x["record"] for x in inbox_all(api, e["_id"], limit=1000)]
    print("crash: %d records after restart" % len(records))
    per = check_per_sender(records, n_senders)
    for i in range(n_senders):
        got = set(per[i])
        lost = [s for s in acked[i] if s not in got]
        assert not lost, "sender %d: acknowledged deliveries lost in the crash: %r" % (i, lost[:20])
        # anything more is only what was in flight: at most the last attempt
        extra = got - set(acked[i])
        assert extra <= {attempted[i]}, "sender %d: records never sent: %r" % (i, sorted(extra)[:10])
    # the restarted server takes deliveries again
    body, headers = signed(key, {"sender": 0, "seq": 10 ** 6})
    r = requests.post(srv.url + hook_path(e), data=body, headers=headers, timeout=TIMEOUT)
    assert r.status_code == 204, r.status_code
