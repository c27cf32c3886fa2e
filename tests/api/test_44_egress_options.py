"""The egress options of serve: the policy's entries are checked at start
(a bad one stops the server with the entry named), the startup log says
where outbound requests may go, loopback only when asked for, and the
caps refuse values out of range. The policy itself and the requests it
governs are tested in C (tests/unit/test_egress.c, test_fetch.c)."""

import os
import subprocess

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


def test_make_run_allows_loopback():
    """make run is the developer's way in: it passes the flag."""
    with open(os.path.join(str(REPO), "Makefile"), encoding="utf-8") as f:
        text = f.read()
    run_rule = text[text.index("\nrun:"):]
    run_rule = run_rule[:run_rule.index("\n\n")]
    assert "exportd serve" in run_rule and "--egress-allow-loopback" in run_rule, run_rule
