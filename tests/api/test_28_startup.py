"""Starting a second server: a port in use and a SQLite database in use are
refused with a clear message, unless the port is shared on purpose."""

import os
import subprocess

import pytest

from apilib import BIN, REPO, assert_status, free_port

ON_PG = bool(os.environ.get("EXPORTD_DB"))
sqlite_only = pytest.mark.skipif(ON_PG, reason="the lock guards a SQLite database")


def run(*args, timeout=20):
    """Run the binary to its exit (a refused serve exits at once)."""
    return subprocess.run([str(BIN)] + [str(a) for a in args], capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL,
                          cwd=str(REPO))


def test_port_in_use_is_refused(server_factory, tmp_path):
    srv = server_factory()
    a = srv.api()
    addr = "127.0.0.1:%d" % srv.port
    (tmp_path / "other").mkdir()       # for the key file, on either store
    cp = run("serve", "--listen", addr, "--data-dir", tmp_path / "other")
    assert cp.returncode != 0, cp.stderr
    lines = [l for l in cp.stderr.splitlines() if "ERROR" in l or "exportd" in l]
    assert any(addr in l and "Address already in use" in l for l in lines), cp.stderr
    # The first server keeps every request (nothing answered by the other).
    for _ in range(20):
        assert_status(a.get("/v1/tokenInfo"), 200)


def test_reuse_port_shares_on_purpose(server_factory, tmp_path):
    srv = server_factory(extra_args=["--reuse-port"])
    addr = "127.0.0.1:%d" % srv.port
    (tmp_path / "other").mkdir()
    p = subprocess.Popen([str(BIN), "serve", "--listen", addr, "--reuse-port",
                          "--data-dir", str(tmp_path / "other")],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         stdin=subprocess.DEVNULL, cwd=str(REPO))
    try:
        with pytest.raises(subprocess.TimeoutExpired):
            p.wait(timeout=2)
    finally:
        p.terminate()
        _, err = p.communicate(timeout=20)
    assert p.returncode == 0, err
    assert b"cannot listen" not in err


@sqlite_only
def test_second_serve_on_one_database_is_refused(server_factory):
    srv = server_factory()
    a = srv.api()
    cp = run("serve", "--listen", "127.0.0.1:%d" % free_port(), "--data-dir", srv.data_dir)
    assert cp.returncode == 1, cp.stderr
    assert "in use by a running exportd serve" in cp.stderr, cp.stderr
    assert "exportd.db.lock" in cp.stderr, cp.stderr
    assert_status(a.get("/v1/tokenInfo"), 200)


@sqlite_only
def test_token_and_dump_work_beside_a_server_restore_does_not(server_factory, tmp_path):
    srv = server_factory()
    a = srv.api()                      # token create while the server runs
    assert_status(a.get("/v1/tokenInfo"), 200)
    dump = tmp_path / "d.jsonl"
    srv.cli("dump", str(dump))
    assert dump.stat().st_size > 0
    cp = srv.cli("restore", "--force", str(dump), check=False)
    assert cp.returncode == 1, cp.stderr
    assert "in use by a running exportd serve" in cp.stderr, cp.stderr
    assert_status(a.get("/v1/tokenInfo"), 200)


@sqlite_only
def test_lock_is_released_by_kill_9(server_factory):
    srv = server_factory()
    a = srv.api()
    srv.kill()
    srv.start()
    a.base_url = srv.url
    assert_status(a.get("/v1/tokenInfo"), 200)
