"""The egress options of serve: the policy's entries are checked at start
(a bad one stops the server with the entry named), the startup log says
where outbound requests may go, loopback only when asked for, and the
caps refuse values out of range. The policy itself and the requests it
governs are tested in C (tests/unit/test_egress.c, test_fetch.c)."""

import os
import signal
import subprocess
import time

import pytest

from apilib import BIN, REPO, free_port, wait_for_log


def run(*args, env=None, timeout=20):
    """Run serve to its exit (a refused serve exits at once)."""
    return subprocess.run([str(BIN)] + [str(a) for a in args], capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL,
                          cwd=str(REPO), env=env)


def test_bad_entry_stops_serve(tmp_path):
    for bad in ("10.0.0.0/33", "bad_name.example", "*", "1.2.3"):
        cp = run("serve", "--listen", "127.0.0.1:%d" % free_port(),
                 "--data-dir", tmp_path, "--egress-allow", "10.0.0.0/8",
                 "--egress-allow", bad)
        assert cp.returncode == 1, cp.stderr
        assert "--egress-allow" in cp.stderr and bad in cp.stderr, cp.stderr


def test_bad_entry_in_the_environment(tmp_path):
    env = dict(os.environ, EXPORTD_EGRESS_ALLOW="fd00::/8, not/a/cidr")
    cp = run("serve", "--listen", "127.0.0.1:%d" % free_port(),
             "--data-dir", tmp_path, env=env)
    assert cp.returncode == 1, cp.stderr
    assert '"not/a/cidr"' in cp.stderr, cp.stderr


def test_caps_out_of_range(tmp_path):
    for flag, value in (("--egress-timeout", "0"), ("--egress-connect-timeout", "0"),
                        ("--egress-max-response", "0"), ("--egress-retries", "11"),
                        ("--egress-max-retry-after", "3601")):
        cp = run("serve", "--listen", "127.0.0.1:%d" % free_port(),
                 "--data-dir", tmp_path, flag, value)
        assert cp.returncode == 1, (flag, cp.stderr)
        assert flag in cp.stderr, cp.stderr


def test_production_serve_keeps_loopback_refused(server_factory):
    srv = server_factory(extra_args=["--egress-allow", "10.1.0.0/16,*.corp.example"])
    text = wait_for_log(srv, "egress:")
    line = next(l for l in text.splitlines() if "egress:" in l)
    assert "public addresses" in line and "--egress-allow entries" in line, line
    assert "loopback" not in line, line


def test_loopback_when_asked_is_said(server_factory):
    srv = server_factory(extra_args=["--egress-allow-loopback"])
    text = wait_for_log(srv, "egress:")
    line = next(l for l in text.splitlines() if "egress:" in l)
    assert "loopback" in line and "not production" in line, line


def test_ephemeral_allows_loopback_and_says_so(tmp_path):
    """Developer mode (--ephemeral) reaches the developer's own services."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("EXPORTD_DB", "EXPORTD_DATA_DIR", "EXPORTD_SECRET_KEY_FILE")}
    env["TMPDIR"] = str(tmp_path)
    err = tmp_path / "serve.err"
    with open(err, "wb") as ef:
        p = subprocess.Popen([str(BIN), "serve", "--listen", "127.0.0.1:%d" % free_port(),
                              "--ephemeral"], stdout=subprocess.DEVNULL, stderr=ef,
                             stdin=subprocess.DEVNULL, cwd=str(tmp_path), env=env)
    try:
        deadline = time.monotonic() + 20
        while "egress:" not in err.read_text() and time.monotonic() < deadline:
            assert p.poll() is None, err.read_text()
            time.sleep(0.05)
    finally:
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=20) == 0, err.read_text()
    line = next(l for l in err.read_text().splitlines() if "egress:" in l)
    assert "loopback (--ephemeral" in line, line


def test_make_run_allows_loopback(tmp_path):
    """make run is the developer's way in: its server says loopback."""
    build = BIN.parent
    if not (build / "build.ninja").exists():
        pytest.skip("EXPORTD_BIN is not in a meson build directory")
    env = {k: v for k, v in os.environ.items() if not k.startswith("EXPORTD_")}
    proc = subprocess.Popen(["make", "-s", "run", "BUILD=%s" % build,
                             "DATA_DIR=%s" % (tmp_path / "var"),
                             "LISTEN=127.0.0.1:%d" % free_port()],
                            cwd=str(REPO), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                            env=env, text=True, start_new_session=True)
    try:
        line = ""
        deadline = time.monotonic() + 120
        while "egress:" not in line and time.monotonic() < deadline:
            line = proc.stderr.readline()
            assert line, "make run ended"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)    # make and the server it started
        proc.wait(timeout=20)
    assert "loopback (--egress-allow-loopback" in line, line
