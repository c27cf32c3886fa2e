"""PostgreSQL failover under load: a primary and a synchronous standby
managed by Patroni (with a single-node etcd), exportd on a multi-host URL,
and the primary killed with SIGKILL while creates, replaces and webhook
deliveries run. No acknowledged write may be lost. Then a primary cut off
while a COMMIT waits for the standby: that COMMIT must not be acknowledged
on the word of the promoted standby.

    EXPORTD_BIN=build-asan/exportd /usr/bin/python3 -m pytest -q \
        -p no:cacheprovider tests/pg/test_failover.py

Everything runs on 127.0.0.1 from a fresh directory under /tmp, removed
afterwards; every process the test starts is stopped by its PID. As root,
Patroni and PostgreSQL run as the postgres user (PostgreSQL refuses root).
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest
import requests

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "api"))
sys.path.insert(0, str(HERE))

from apilib import (Server, body_of, free_port, http_body,  # noqa: E402
                    inbox_all, unique)
from test_pg import _cli_with_db, deliver, hook  # noqa: E402

ETCD = "/usr/bin/etcd"
PATRONI = "/usr/bin/patroni"
PGBIN = "/usr/lib/postgresql/15/bin"
PSQL = PGBIN + "/psql"
OSUSER = "postgres"
SCOPE = "exportd-failover"

# Patroni's timing: the leader key lives TTL seconds without a renewal, so
# the standby is promoted within about TTL + LOOP_WAIT of the kill.
TTL, LOOP_WAIT, RETRY_TIMEOUT = 8, 1, 3

LOAD_BEFORE = 4.0       # seconds of load before the kill
LOAD_AFTER = 3.0        # seconds of load once writes succeed again
FAILOVER_WAIT = 45.0    # for the standby to be promoted
CLIENT_TIMEOUT = 20.0   # no request may take longer: that would be a hang


def wait_for(pred, timeout, what):
    """Poll pred until it returns a true value; fail after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            v = pred()
        except (requests.RequestException, OSError, ValueError):
            v = None
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.0f s waiting for %s" % (timeout, what))
        time.sleep(0.2)


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def children_of(pid):
    """The PIDs of a process's children (none if it is gone)."""
    out = []
    try:
        for task in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/children" % (pid, task)) as f:
                out += [int(p) for p in f.read().split()]
    except OSError:
        pass
    return out


def as_owner_kwargs():
    """Popen arguments that run a process as the postgres user when root."""
    if os.geteuid() != 0:
        return {}
    return {"user": OSUSER, "group": OSUSER, "extra_groups": []}


def psql(port, query, db="exportd"):
    cp = subprocess.run([PSQL, "-h", "127.0.0.1", "-p", str(port), "-U", "postgres",
                         "-d", db, "-XAtq", "-v", "ON_ERROR_STOP=1", "-c", query],
                        capture_output=True, text=True, timeout=30)
    assert cp.returncode == 0, cp.stderr
    return cp.stdout


class Node:
    """One Patroni process and the PostgreSQL it manages."""

    def __init__(self, root, name, etcd_port):
        self.name = name
        self.dir = root / name
        self.dir.mkdir()
        os.chmod(self.dir, 0o700)
        if os.geteuid() == 0:
            shutil.chown(self.dir, OSUSER, OSUSER)
        self.pg_port, self.rest_port = free_port(), free_port()
        self.data = self.dir / "data"
        self.proc = None
        self.postmaster = None      # PID, once known
        self.backends = []          # the postmaster's children at the kill
        self.stopped = []           # PIDs the test sent SIGSTOP
        self.config = self.dir / "patroni.yml"
        self.config.write_text(json.dumps(self._config(etcd_port), indent=1))
        if os.geteuid() == 0:
            shutil.chown(self.config, OSUSER, OSUSER)

    def _config(self, etcd_port):
        # JSON is YAML: Patroni reads this as its configuration file
        trust = ["local all all trust",
                 "host all all 127.0.0.1/32 trust",
                 "host replication all 127.0.0.1/32 trust"]
        return {
            "scope": SCOPE,
            "name": self.name,
            "restapi": {"listen": "127.0.0.1:%d" % self.rest_port,
                        "connect_address": "127.0.0.1:%d" % self.rest_port},
            "etcd3": {"hosts": "127.0.0.1:%d" % etcd_port},
            "bootstrap": {
                "dcs": {
                    "ttl": TTL, "loop_wait": LOOP_WAIT, "retry_timeout": RETRY_TIMEOUT,
                    "synchronous_mode": True,
                    "postgresql": {"use_pg_rewind": False, "use_slots": True,
                                   "parameters": {"synchronous_commit": "on",
                                                  "max_connections": 100,
                                                  "wal_keep_size": "128MB"}},
                },
                "initdb": [{"encoding": "UTF8"}, {"locale": "C"}],
                "pg_hba": trust,
            },
            "postgresql": {
                "listen": "127.0.0.1:%d" % self.pg_port,
                "connect_address": "127.0.0.1:%d" % self.pg_port,
                "data_dir": str(self.data),
                "bin_dir": PGBIN,
                "pgpass": str(self.dir / "pgpass"),
                "pg_hba": trust,
                # a spread checkpoint would hold pg_basebackup for minutes
                "basebackup": [{"checkpoint": "fast"}],
                "authentication": {"superuser": {"username": "postgres"},
                                   "replication": {"username": "postgres"}},
                "parameters": {"unix_socket_directories": str(self.dir)},
            },
            "watchdog": {"mode": "off"},
        }

    def start(self):
        log = open(self.dir / "patroni.log", "wb")
        env = dict(os.environ, HOME=str(self.dir))
        env.pop("EXPORTD_DB", None)
        self.proc = subprocess.Popen([PATRONI, str(self.config)], stdout=log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     cwd=str(self.dir), env=env, **as_owner_kwargs())
        log.close()

    def rest(self, path):
        return requests.get("http://127.0.0.1:%d%s" % (self.rest_port, path), timeout=2)

    def is_primary(self):
        return self.rest("/primary").status_code == 200

    def is_promoted(self):
        """Patroni holds the leader key and PostgreSQL takes writes (the
        key is taken before the promotion ends)."""
        if not self.is_primary():
            return False
        cp = subprocess.run([PSQL, "-h", "127.0.0.1", "-p", str(self.pg_port), "-U", "postgres",
                             "-d", "postgres", "-XAtq", "-c", "SELECT pg_is_in_recovery()"],
                            capture_output=True, text=True, timeout=30)
        return cp.returncode == 0 and cp.stdout.strip() == "f"

    def is_sync_standby(self):
        return self.rest("/sync").status_code == 200

    def postmaster_pid(self):
        try:
            return int((self.data / "postmaster.pid").read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return None

    def freeze(self, pid):
        """SIGSTOP one of this node's processes (SIGCONT again in stop)."""
        self.stopped.append(pid)
        os.kill(pid, signal.SIGSTOP)

    def kill(self):
        """SIGKILL Patroni, then its postmaster: the node is gone at once,
        and nobody restarts it. Its backends notice and exit by themselves."""
        self.postmaster = self.postmaster_pid()
        assert self.postmaster, "no postmaster for " + self.name
        self.backends = children_of(self.postmaster)
        self.proc.kill()
        os.kill(self.postmaster, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self):
        """Stop whatever of this node still runs, by PID."""
        for pid in self.stopped:
            if pid_alive(pid):
                os.kill(pid, signal.SIGCONT)
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()       # Patroni stops PostgreSQL first
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        pids = [p for p in (self.postmaster, self.postmaster_pid()) if p]
        for pid in pids:
            if pid_alive(pid) and str(self.data).encode() in _cmdline(pid):
                self.backends += children_of(pid)
                os.kill(pid, signal.SIGKILL)
        for pid in self.backends:
            if pid_alive(pid) and b"postgres" in _cmdline(pid):
                os.kill(pid, signal.SIGKILL)

    def log_tail(self, n=4000):
        p = self.dir / "patroni.log"
        return p.read_text(errors="replace")[-n:] if p.exists() else ""


def _cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read()
    except OSError:
        return b""


class Cluster:
    """A single-node etcd and two Patroni nodes, all on 127.0.0.1."""

    def __init__(self, root):
        self.root = root
        self.etcd = None
        self.etcd_port, peer = free_port(), free_port()
        self.etcd_argv = [
            ETCD, "--name", "e0", "--data-dir", str(root / "etcd"),
            "--listen-client-urls", "http://127.0.0.1:%d" % self.etcd_port,
            "--advertise-client-urls", "http://127.0.0.1:%d" % self.etcd_port,
            "--listen-peer-urls", "http://127.0.0.1:%d" % peer,
            "--initial-advertise-peer-urls", "http://127.0.0.1:%d" % peer,
            "--initial-cluster", "e0=http://127.0.0.1:%d" % peer,
            "--initial-cluster-state", "new", "--log-level", "warn"]
        self.nodes = [Node(root, "pg1", self.etcd_port), Node(root, "pg2", self.etcd_port)]

    def start(self):
        with open(self.root / "etcd.log", "wb") as log:
            self.etcd = subprocess.Popen(self.etcd_argv, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL)
        wait_for(lambda: requests.get("http://127.0.0.1:%d/health" % self.etcd_port,
                                      timeout=2).json().get("health") == "true",
                 30, "etcd")
        first, second = self.nodes
        first.start()
        wait_for(first.is_primary, 60, "the first node to lead")
        psql(first.pg_port, "CREATE DATABASE exportd ENCODING 'UTF8' TEMPLATE template0",
             db="postgres")
        second.start()
        wait_for(second.is_sync_standby, 90, "a synchronous standby")
        wait_for(lambda: psql(first.pg_port, "SELECT sync_state || ' ' || state"
                              " FROM pg_stat_replication").strip() == "sync streaming",
                 30, "synchronous streaming replication")

    def leader(self):
        leaders = [n for n in self.nodes if n.proc.poll() is None and _quiet(n.is_primary)]
        assert len(leaders) == 1, [n.name for n in leaders]
        return leaders[0]

    def url(self):
        hosts = ",".join("127.0.0.1:%d" % n.pg_port for n in self.nodes)
        return "postgresql://postgres@%s/exportd?target_session_attrs=read-write" % hosts

    def stop(self):
        for n in self.nodes:
            n.stop()
        if self.etcd is not None and self.etcd.poll() is None:
            self.etcd.terminate()
            try:
                self.etcd.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.etcd.kill()
                self.etcd.wait()


def _quiet(pred):
    try:
        return pred()
    except (requests.RequestException, OSError):
        return False


@pytest.fixture
def cluster():
    root = Path(tempfile.mkdtemp(prefix="exportd-failover."))
    os.chmod(root, 0o755)
    c = Cluster(root)
    try:
        c.start()
        yield c
    except BaseException:
        for n in c.nodes:
            print("--- %s ---\n%s" % (n.name, n.log_tail()))
        raise
    finally:
        c.stop()
        shutil.rmtree(root, ignore_errors=True)


# ---------------------------------------------------------------------------
# The load: every answer is recorded with its time.


class Load:
    def __init__(self, base_url, api, hook_id):
        self.base_url, self.api, self.hook_id = base_url, api, hook_id
        self.stop_flag = threading.Event()
        self.lock = threading.Lock()
        self.answers = []           # (monotonic end, kind, status or exception text)
        self.created = {}           # id -> (rev, body bytes) acknowledged last
        self.ids = []
        self.delivered = []         # payloads that got 204
        self.sent = []              # every payload sent
        self.slowest = 0.0
        self.threads = []

    def _record(self, kind, start, resp_or_exc):
        end = time.monotonic()
        status = resp_or_exc.status_code if isinstance(resp_or_exc, requests.Response) \
            else type(resp_or_exc).__name__
        with self.lock:
            self.answers.append((end, kind, status))
            self.slowest = max(self.slowest, end - start)
        return status

    def _call(self, kind, fn):
        start = time.monotonic()
        try:
            r = fn()
        except requests.RequestException as exc:
            self._record(kind, start, exc)
            time.sleep(0.05)
            return None
        if self._record(kind, start, r) == 503:
            time.sleep(0.05)
        return r

    def _acked(self, eid, rev, content):
        with self.lock:
            if rev >= self.created.get(eid, (0, b""))[0]:
                self.created[eid] = (rev, content)

    def creator(self, w):
        a = type(self.api)(self.base_url, self.api.token)
        n = 0
        while not self.stop_flag.is_set():
            n += 1
            r = self._call("POST", lambda: a.post(
                "/v1/exports", json=http_body(name="w%d-%d" % (w, n)),
                timeout=CLIENT_TIMEOUT, retry_429=False))
            if r is not None and r.status_code == 201:
                eid = body_of(r)["_id"]
                self._acked(eid, etag_rev(r), r.content)
                with self.lock:
                    self.ids.append(eid)

    def replacer(self, w):
        a = type(self.api)(self.base_url, self.api.token)
        n = 0
        while not self.stop_flag.is_set():
            with self.lock:
                ids = list(self.ids)
            if not ids:
                time.sleep(0.05)
                continue
            n += 1
            eid = ids[(n * 7919 + w) % len(ids)]
            body = http_body(name="put", description="r%d-%d" % (w, n))
            r = self._call("PUT", lambda: a.put("/v1/exports/" + eid, json=body,
                                                timeout=CLIENT_TIMEOUT, retry_429=False))
            if r is not None and r.status_code == 200:
                self._acked(eid, etag_rev(r), r.content)

    def deliverer(self, w):
        n = 0
        while not self.stop_flag.is_set():
            n += 1
            payload = {"w": w, "n": n}
            with self.lock:
                self.sent.append(payload)
            r = self._call("DELIVER", lambda: deliver(self.base_url, self.hook_id, payload))
            if r is not None and r.status_code == 204:
                with self.lock:
                    self.delivered.append(payload)

    def start(self):
        for i, fn in enumerate([self.creator, self.creator, self.replacer, self.replacer,
                                self.deliverer, self.deliverer]):
            t = threading.Thread(target=fn, args=(i,), daemon=True)
            t.start()
            self.threads.append(t)

    def stop(self):
        self.stop_flag.set()
        for t in self.threads:
            t.join(CLIENT_TIMEOUT + 10)
        assert not any(t.is_alive() for t in self.threads), "a load thread hangs"

    def successes_since(self, t0):
        with self.lock:
            return [a for a in self.answers if a[0] >= t0 and a[2] in (200, 201, 204)]

    def longest_gap(self):
        """Seconds between two successive successful writes, at most."""
        with self.lock:
            ok = sorted(a[0] for a in self.answers if a[2] in (200, 201, 204))
        return max((b - a for a, b in zip(ok, ok[1:])), default=0.0)


def lost_commits(log):
    """How exportd resolved the COMMITs whose answer was lost, by outcome."""
    found = re.findall(r"connection lost during COMMIT: ([a-z ]+)", log)
    return {k: found.count(k) for k in sorted(set(found))}


def etag_rev(r):
    return int(r.headers["ETag"].strip('"').rsplit("-", 1)[1])


# ---------------------------------------------------------------------------


def test_failover_keeps_acknowledged_writes(cluster, tmp_path):
    old = cluster.leader()
    new = next(n for n in cluster.nodes if n is not old)
    url = cluster.url()
    s = Server(tmp_path / "data", tmp_path / "logs", threads=4,
               extra_args=["--db", url, "--rate-limit-rate", "0"])
    s.cli = _cli_with_db(s, url)
    s.start()
    load = None
    try:
        api = s.api(unique("failover"))
        hook_id = hook(api)["_id"]
        load = Load(s.url, api, hook_id)
        load.start()
        time.sleep(LOAD_BEFORE)
        assert load.successes_since(0), "no write succeeded before the kill"

        t_kill = time.monotonic()
        old.kill()
        wait_for(new.is_promoted, FAILOVER_WAIT, "the standby to be promoted")
        t_promoted = time.monotonic()
        wait_for(lambda: {a[1] for a in load.successes_since(t_promoted)} >=
                 {"POST", "PUT", "DELIVER"}, 30, "writes of every kind to succeed again")
        t_back = time.monotonic()
        time.sleep(LOAD_AFTER)
        load.stop()

        answers = load.answers
        statuses = {}
        for _, kind, st in answers:
            statuses[(kind, st)] = statuses.get((kind, st), 0) + 1
        unavailable = sum(1 for a in answers if a[2] == 503)
        acked = sum(1 for a in answers if a[2] in (200, 201, 204))
        print("\nfailover: %d requests, %d acknowledged (%d creates, %d replaces,"
              " %d deliveries), %d answered 503; promotion %.1f s after the kill,"
              " writes back %.1f s after it; longest time without a successful"
              " write %.1f s; slowest answer %.2f s; COMMITs that lost their answer:"
              " %s; statuses %s" % (
                  len(answers), acked, statuses.get(("POST", 201), 0),
                  statuses.get(("PUT", 200), 0), statuses.get(("DELIVER", 204), 0),
                  unavailable, t_promoted - t_kill, t_back - t_kill, load.longest_gap(),
                  load.slowest, lost_commits(s.stderr_text()),
                  sorted(statuses.items(), key=str)))

        # only 2xx or 503, and nothing near a hang
        bad = {k: v for k, v in statuses.items() if k[1] not in (200, 201, 204, 503)}
        assert not bad, "answers other than 2xx and 503: %r" % bad
        assert load.slowest < CLIENT_TIMEOUT
        # after the failover: every answer in the last second was a success
        tail = [a for a in answers if a[0] > answers[-1][0] - 1.0]
        assert tail and all(a[2] in (200, 201, 204) for a in tail), tail

        check_writes(api, s.url, load, hook_id)
        check_on_new_primary(new.pg_port, load, hook_id)
        assert _quiet(new.is_primary) and old.proc.poll() is not None
    finally:
        if load is not None:
            load.stop_flag.set()
        rc = s.stop() if s.running else 0
        rep = s.sanitizer_report()
    assert rc == 0, "exportd exited with %r on SIGTERM" % rc
    assert rep is None, rep


def check_writes(api, base_url, load, hook_id):
    """Through the API: every acknowledged create and replace is there (a
    later revision may come from a write that got 503 but committed), and
    every acknowledged delivery is in the inbox exactly once."""
    for eid, (rev, content) in load.created.items():
        r = api.get("/v1/exports/" + eid, timeout=CLIENT_TIMEOUT)
        assert r.status_code == 200, (eid, r.status_code, r.content)
        got = etag_rev(r)
        assert got >= rev, "%s: revision %d, %d was acknowledged" % (eid, got, rev)
        if got == rev:
            assert r.content == content, (eid, r.content, content)
    records = [e["record"] for e in inbox_all(api, hook_id)]
    check_deliveries(records, load)


def check_deliveries(records, load):
    keys = [(x["w"], x["n"]) for x in records]
    assert len(keys) == len(set(keys)), "a delivery is stored twice"
    sent = {(p["w"], p["n"]) for p in load.sent}
    assert set(keys) <= sent
    stored = set(keys)
    missing = [p for p in load.delivered if (p["w"], p["n"]) not in stored]
    assert not missing, "acknowledged deliveries missing: %r" % missing[:10]


def check_on_new_primary(port, load, hook_id):
    """The same, read with psql on the new primary."""
    assert psql(port, "SELECT pg_is_in_recovery()").strip() == "f"
    rows = {}
    for line in psql(port, "SELECT id, rev, body FROM exports").splitlines():
        eid, rev, body = line.split("|", 2)
        rows[eid] = (int(rev), body.encode())
    for eid, (rev, content) in load.created.items():
        assert eid in rows, "%s is not on the new primary" % eid
        assert rows[eid][0] >= rev, (eid, rows[eid][0], rev)
        if rows[eid][0] == rev:
            assert rows[eid][1] == content, (eid, rows[eid][1], content)
    records = [json.loads(line) for line in psql(
        port, "SELECT record FROM inbox WHERE export_id = '%s' ORDER BY seq" % hook_id
    ).splitlines()]
    check_deliveries(records, load)
    assert psql(port, "SELECT n FROM inbox_counts WHERE export_id = '%s'"
                % hook_id).strip() == str(len(records))


def test_lost_commit_of_a_cut_off_primary_is_not_acknowledged(cluster, tmp_path):
    """The primary is cut off while a PUT's COMMIT waits for the standby;
    the standby is promoted and hands out the transaction ids the old
    primary had used; then the old primary dies and the COMMIT loses its
    answer. Asking the new primary what became of that transaction id
    would say "committed" (another transaction had that id there): the
    PUT must get 503 and the export stay as it was."""
    old = cluster.leader()
    new = next(n for n in cluster.nodes if n is not old)
    url = cluster.url()
    s = Server(tmp_path / "data", tmp_path / "logs", threads=2, extra_args=["--db", url])
    s.cli = _cli_with_db(s, url)
    s.start()
    try:
        api = s.api(unique("cutoff"))
        created = api.post("/v1/exports", json=http_body(name="before"))
        assert created.status_code == 201, created.content
        eid = body_of(created)["_id"]

        # nothing more reaches the standby; the PUT's COMMIT waits for it
        old.freeze(int(psql(old.pg_port, "SELECT pid FROM pg_stat_replication").strip()))
        put = {}
        t = threading.Thread(target=lambda: put.setdefault("r", api.put(
            "/v1/exports/" + eid, json=http_body(name="lost"), timeout=60)))
        t.start()
        xid = int(wait_for(lambda: psql(old.pg_port, "SELECT backend_xid FROM pg_stat_activity"
                                        " WHERE wait_event = 'SyncRep'").strip(),
                           30, "the PUT's COMMIT to wait for the standby"))

        # Patroni of the old primary stops (as if cut off): the standby is
        # promoted and gives out the ids the old primary used meanwhile
        old.freeze(old.proc.pid)
        wait_for(new.is_promoted, FAILOVER_WAIT, "the standby to be promoted")
        wait_for(lambda: psql(new.pg_port, "DO $$ BEGIN FOR i IN 1..50 LOOP"
                              " PERFORM txid_current(); COMMIT; END LOOP; END $$") == "" and
                 int(psql(new.pg_port, "SELECT txid_current() % 4294967296")) > xid,
                 30, "the new primary to pass the PUT's transaction id")
        assert psql(new.pg_port, "SELECT txid_status(%d)" % xid).strip() == "committed"

        # the old primary dies: the COMMIT loses its answer
        old.kill()
        t.join(60)
        assert not t.is_alive(), "the PUT hangs"
        r = put["r"]
        assert r.status_code == 503, (r.status_code, r.content)
        assert r.headers.get("Retry-After") == "1"
        got = api.get("/v1/exports/" + eid)
        assert got.status_code == 200 and got.content == created.content, got.content
        assert "on another timeline" in s.stderr_text()
    finally:
        old.stop()      # a COMMIT that still waits would hold exportd's exit
        rc = s.stop() if s.running else 0
        rep = s.sanitizer_report()
    assert rc == 0, "exportd exited with %r on SIGTERM" % rc
    assert rep is None, rep
