"""make install: the binary, exportd(1) and the systemd unit, where PREFIX
and DESTDIR say; the unit confined and clean under systemd-analyze verify.

    EXPORTD_BIN=build-asan/exportd /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/install

It installs the build that holds $EXPORTD_BIN (already built: make only
copies) into a temporary directory.
"""

import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "api"))

from apilib import BIN, REPO, Server, http_body  # noqa: E402

# What the unit must keep (issue: a hardened unit; docs/deploy.md).
HARDENING = {
    "DynamicUser": "yes",
    "StateDirectory": "exportd",
    "UMask": "0077",
    "NoNewPrivileges": "yes",
    "CapabilityBoundingSet": "",
    "ProtectSystem": "strict",
    "ProtectHome": "yes",
    "PrivateTmp": "yes",
    "PrivateDevices": "yes",
    "ProtectKernelTunables": "yes",
    "ProtectKernelModules": "yes",
    "ProtectKernelLogs": "yes",
    "ProtectControlGroups": "yes",
    "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
    "RestrictNamespaces": "yes",
    "SystemCallFilter": "@system-service",
    "MemoryDenyWriteExecute": "yes",
    "LockPersonality": "yes",
    "Restart": "on-failure",
    "KillSignal": "SIGTERM",
    "ExecReload": "kill -HUP $MAINPID",
}


def unit_settings(path):
    """{section: {key: [values]}} of a unit file."""
    out, section = {}, None
    for line in Path(path).read_text().splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = out.setdefault(line.strip("[]"), {})
            continue
        key, _, value = line.partition("=")
        section.setdefault(key, []).append(value)
    return out


def make_install(*args):
    build = os.path.relpath(BIN.parent, REPO)
    cp = subprocess.run(["make", "--no-print-directory", "install-files",
                         "BUILD=" + build] + list(args), cwd=str(REPO),
                        capture_output=True, text=True, timeout=120)
    assert cp.returncode == 0, cp.stdout + cp.stderr
    return cp


def test_destdir_and_prefix(tmp_path):
    make_install("DESTDIR=%s" % tmp_path, "PREFIX=/opt/exportd")
    root = tmp_path
    files = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
    assert files == ["etc/default/exportd", "opt/exportd/bin/exportd",
                     "opt/exportd/lib/systemd/system/exportd.service",
                     "opt/exportd/share/man/man1/exportd.1"]
    mode = lambda p: stat.S_IMODE((root / p).stat().st_mode)  # noqa: E731
    assert mode("opt/exportd/bin/exportd") == 0o755
    assert mode("opt/exportd/share/man/man1/exportd.1") == 0o644
    assert mode("opt/exportd/lib/systemd/system/exportd.service") == 0o644
    assert mode("etc/default/exportd") == 0o600
    assert (root / "opt/exportd/bin/exportd").read_bytes() == BIN.read_bytes()
    assert (root / "opt/exportd/share/man/man1/exportd.1").read_text() == \
        (BIN.parent / "exportd.1").read_text()
    service = unit_settings(root / "opt/exportd/lib/systemd/system/exportd.service")["Service"]
    assert service["ExecStart"] == ["/opt/exportd/bin/exportd serve"]
    assert service["EnvironmentFile"] == ["-/etc/default/exportd"]
    assert service["Environment"] == ["EXPORTD_DATA_DIR=/var/lib/exportd"]
    # every line of the options file is a comment until one is set
    for line in (root / "etc/default/exportd").read_text().splitlines():
        assert line == "" or line.startswith("#"), line


def test_unit_is_hardened():
    settings = unit_settings(REPO / "dist/exportd.service.in")
    service = settings["Service"]
    for key, want in HARDENING.items():
        assert service.get(key) == [want], "%s=%r, want %r" % (key, service.get(key), want)
    stop = int(service["TimeoutStopSec"][0])
    assert stop > 30, "TimeoutStopSec must exceed --shutdown-timeout's default (30 s)"
    assert settings["Install"]["WantedBy"] == ["multi-user.target"]


def test_an_edited_options_file_is_kept(tmp_path):
    make_install("DESTDIR=%s" % tmp_path)
    options = tmp_path / "etc/default/exportd"
    options.write_text("EXPORTD_LISTEN=0.0.0.0:9000\n")
    make_install("DESTDIR=%s" % tmp_path)
    assert options.read_text() == "EXPORTD_LISTEN=0.0.0.0:9000\n"
    assert (tmp_path / "usr/local/bin/exportd").exists()
    assert (tmp_path / "usr/local/lib/systemd/system/exportd.service").exists()


@pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                    reason="needs systemd-analyze (Debian package systemd)")
def test_systemd_analyze_verify(tmp_path):
    """Installed under a real prefix (no DESTDIR), so that verify finds the
    binary of ExecStart and the page of Documentation= (through MANPATH)."""
    prefix = tmp_path / "usr"
    make_install("PREFIX=%s" % prefix, "SYSCONFDIR=%s" % (tmp_path / "etc"))
    unit = prefix / "lib/systemd/system/exportd.service"
    cp = subprocess.run(["systemd-analyze", "verify", str(unit)],
                        capture_output=True, text=True, timeout=60,
                        env=dict(os.environ, MANPATH=str(prefix / "share/man")))
    assert cp.returncode == 0 and cp.stdout == "" and cp.stderr == "", cp.stderr
    # and verify does fail on a unit that is wrong
    bad = tmp_path / "exportd.service"
    bad.write_text(unit.read_text().replace("ExecStart=%s/bin/exportd" % prefix,
                                            "ExecStart=%s/bin/missing" % prefix))
    cp = subprocess.run(["systemd-analyze", "verify", str(bad)],
                        capture_output=True, text=True, timeout=60,
                        env=dict(os.environ, MANPATH=str(prefix / "share/man")))
    assert cp.returncode != 0 and "missing" in cp.stderr


def test_reload_signal_keeps_serving(tmp_path):
    """The unit's ExecReload sends SIGHUP: the server logs it and serves on;
    its KillSignal, SIGTERM, still stops it cleanly."""
    srv = Server(tmp_path / "data", tmp_path / "logs").start()
    try:
        api = srv.api("reload")
        made = api.create(http_body())
        for n in (1, 2):   # one at a time: a second one pending is merged
            srv.proc.send_signal(signal.SIGHUP)
            deadline = time.monotonic() + 10
            while srv.stderr_text().count("SIGHUP") < n:
                assert srv.running, srv.stderr_text()
                assert time.monotonic() < deadline, srv.stderr_text()
                time.sleep(0.05)
        assert srv.running
        assert api.fetch(made["_id"]) == made
    finally:
        rc = srv.stop()
    assert rc == 0
    assert srv.sanitizer_report() is None
