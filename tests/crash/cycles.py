#!/usr/bin/python3
"""Crash cycles: run the real server under write and webhook load, kill it
with SIGKILL at a random moment, start it again, and check that every
write it acknowledged is there, exactly once. Bounded by --cycles and
--seconds; loopback only.

    tests/crash/cycles.py --bin build/exportd --cycles 50
    EXPORTD_DB=postgresql://... tests/crash/cycles.py --bin build/exportd

Prints one line per cycle and a summary; exits 1 on the first lost,
changed or duplicated write.
"""

import argparse
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import requests


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, binary, data):
        self.binary, self.data, self.proc = binary, data, None
        self.port = None

    def cli(self, *args):
        cp = subprocess.run([self.binary] + list(args) + ["--data-dir", self.data],
                            capture_output=True, text=True, timeout=60)
        assert cp.returncode == 0, cp.stderr
        return cp.stdout

    def start(self):
        self.port = free_port()
        self.proc = subprocess.Popen(
            [self.binary, "serve", "--listen", "127.0.0.1:%d" % self.port,
             "--data-dir", self.data, "--rate-limit-rate", "0", "--log-level", "error",
             "--listener-rate-limit-rate", "0"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=open(os.path.join(self.data, "..", "stderr.log"), "ab"))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if requests.get(self.url("/v1/health"), timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.05)
        raise RuntimeError("exportd did not start")

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()


class Load:
    """Writers that record what the server acknowledged."""

    def __init__(self, srv, token, hook_id, conn_id):
        self.srv, self.hook_id, self.conn_id = srv, hook_id, conn_id
        self.h = {"Authorization": "Bearer " + token}
        self.lock = threading.Lock()
        self.created = {}       # id -> body acknowledged by the 201
        self.replaced = {}      # id -> highest revision acknowledged by a 200
        self.delivered = set()  # delivery numbers acknowledged by a 204
        self.stop = False
        self.n = 0

    def body(self, name):
        return {"name": name, "adaptorType": "HTTPExport",
                "_connectionId": self.conn_id,
                "http": {"method": "GET", "relativeURI": "/items/" + name}}

    def work(self, seed):
        rnd = random.Random(seed)
        s = requests.Session()
        while not self.stop:
            kind = rnd.random()
            try:
                if kind < 0.45:
                    r = s.post(self.srv.url("/v1/exports"), json=self.body("c%d" % rnd.random()),
                               headers=self.h, timeout=10)
                    if r.status_code == 201:
                        with self.lock:
                            self.created[r.json()["_id"]] = r.content
                elif kind < 0.7 and self.created:
                    with self.lock:
                        eid = rnd.choice(list(self.created))
                    r = s.put(self.srv.url("/v1/exports/" + eid), json=self.body("r%d" % rnd.random()),
                              headers=self.h, timeout=10)
                    if r.status_code == 200:
                        rev = int(r.headers["ETag"].strip('"').rsplit("-", 1)[1])
                        with self.lock:
                            self.replaced[eid] = max(rev, self.replaced.get(eid, 0))
                else:
                    with self.lock:
                        self.n += 1
                        n = self.n
                    r = s.post(self.srv.url("/v1/exports/%s/data" % self.hook_id),
                               data=json.dumps({"n": n}), timeout=10,
                               headers={"Content-Type": "application/json", "X-Token": "crash"})
                    if r.status_code == 204:
                        with self.lock:
                            self.delivered.add(n)
            except (requests.RequestException, ValueError):
                pass


def verify(srv, token, load, hook_id):
    h = {"Authorization": "Bearer " + token}
    checked = 0
    for eid, body in load.created.items():
        r = requests.get(srv.url("/v1/exports/" + eid), headers=h, timeout=10)
        assert r.status_code == 200, ("acknowledged create lost", eid, r.status_code)
        rev = int(r.headers["ETag"].strip('"').rsplit("-", 1)[1])
        assert rev >= load.replaced.get(eid, 1), ("acknowledged replace lost", eid, rev)
        if eid not in load.replaced and rev == 1:
            assert r.content == body, ("create changed", eid)
        checked += 1 + (1 if eid in load.replaced else 0)
    seen, after = [], None
    while True:
        params = {"limit": 1000}
        if after:
            params["after"] = after
        r = requests.get(srv.url("/v1/exports/%s/inbox" % hook_id), headers=h,
                         params=params, timeout=30)
        assert r.status_code == 200, r.status_code
        page = r.json()
        seen += [e["record"]["n"] for e in page["records"]]
        after = page["cursor"]
        if not page["more"]:
            break
    assert len(seen) == len(set(seen)), "a delivery is stored twice"
    missing = load.delivered - set(seen)
    assert not missing, ("acknowledged deliveries lost", sorted(missing)[:10])
    return checked + len(load.delivered)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="build/exportd")
    ap.add_argument("--cycles", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=600, help="stop after this long")
    ap.add_argument("--writers", type=int, default=8)
    a = ap.parse_args()
    root = tempfile.mkdtemp(prefix="exportd-crash.")
    data = os.path.join(root, "data")
    os.makedirs(data)
    srv = Server(os.path.abspath(a.bin), data)
    out = srv.cli("token", "create", "--account", "crash")
    token = out.strip().splitlines()[-1]
    srv.start()
    hook = requests.post(srv.url("/v1/exports"), headers={"Authorization": "Bearer " + token},
                         json={"name": "crash hook", "type": "webhook", "webhook": {
                             "provider": "custom", "verify": "token", "tokenLocation": "header",
                             "tokenHeaderName": "X-Token", "tokenHeaderScheme": "none",
                             "token": "crash"}}, timeout=10).json()["_id"]
    conn = requests.post(srv.url("/v1/connections"), headers={"Authorization": "Bearer " + token},
                         json={"name": "crash", "type": "http", "http": {
                             "baseURI": "https://api.example.com", "mediaType": "json"}},
                         timeout=10).json()["_id"]
    load = Load(srv, token, hook, conn)
    start = time.monotonic()
    total = 0
    cycles = 0
    try:
        for cycle in range(1, a.cycles + 1):
            if time.monotonic() - start > a.seconds:
                break
            load.stop = False
            threads = [threading.Thread(target=load.work, args=(cycle * 100 + i,))
                       for i in range(a.writers)]
            for t in threads:
                t.start()
            time.sleep(random.uniform(0.3, 2.0))
            srv.kill()
            load.stop = True
            for t in threads:
                t.join()
            srv.start()
            total = verify(srv, token, load, hook)
            cycles = cycle
            print("cycle %d: %d creates, %d replaced, %d deliveries acknowledged so far; all present"
                  % (cycle, len(load.created), len(load.replaced), len(load.delivered)), flush=True)
    finally:
        if srv.proc and srv.proc.poll() is None:
            srv.proc.send_signal(signal.SIGTERM)
            srv.proc.wait()
    print("%d kill -9 cycles, %d acknowledged operations verified, none lost or duplicated"
          % (cycles, total))


if __name__ == "__main__":
    sys.exit(main())
