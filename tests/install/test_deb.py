"""The Debian package: built by `make deb`, installed with dpkg -i, its
files checked, the installed binary run the way its unit runs it, the unit
verified, and the package purged so that the machine is left as found.

    /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/install/test_deb.py

Needs root (dpkg) and debhelper; `make test` runs it. EXPORTD_DEB=FILE
installs that .deb instead of building one. There is no systemd running
here, so the server is started directly: ExecStart of the installed unit,
its Environment= and EnvironmentFile=, its UMask, as an unprivileged user
with no new privileges (DynamicUser, NoNewPrivileges), with a temporary
directory standing in for the state directory and a free port.
"""

import gzip
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import shutil
import time
from pathlib import Path

import pytest
import requests

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "api"))

from apilib import REPO, free_port  # noqa: E402
from test_install import HARDENING, unit_settings  # noqa: E402

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("dpkg-buildpackage") is None,
    reason="needs root and dpkg-dev/debhelper (make test installs them)")

UNIT = Path("/lib/systemd/system/exportd.service")
FILES = [Path("/usr/bin/exportd"), Path("/usr/share/man/man1/exportd.1.gz"),
         UNIT, Path("/etc/default/exportd")]
# where dpkg and deb-systemd-helper leave traces of an installed unit
TRACES = [Path("/etc/systemd/system"),
          Path("/var/lib/systemd/deb-systemd-helper-enabled"),
          Path("/var/lib/systemd/deb-systemd-helper-masked")]
NOBODY = 65534


def status_of_package():
    cp = subprocess.run(["dpkg-query", "-W", "-f=${db:Status-Abbrev}", "exportd"],
                        capture_output=True, text=True, timeout=30)
    return cp.stdout.strip() if cp.returncode == 0 else ""


def traces():
    return sorted(str(p) for d in TRACES if d.exists() for p in d.rglob("*"))


def build_deb():
    given = os.environ.get("EXPORTD_DEB")
    if given:
        return Path(given)
    cp = subprocess.run(["make", "--no-print-directory", "deb"], cwd=str(REPO),
                        capture_output=True, text=True, timeout=1200)
    assert cp.returncode == 0, (cp.stdout + cp.stderr)[-4000:]
    debs = sorted((REPO / "build-deb").glob("exportd_*.deb"))
    assert len(debs) == 1, debs
    return debs[0]


@pytest.fixture(scope="module")
def installed():
    if status_of_package() not in ("", "un", "pn"):
        pytest.skip("an exportd package is installed here already; "
                    "this test would replace it")
    for f in FILES:
        assert not f.exists(), "%s exists before the package is installed" % f
    before = traces()
    deb = build_deb()
    try:
        cp = subprocess.run(["dpkg", "-i", str(deb)], capture_output=True,
                            text=True, timeout=300)
        assert cp.returncode == 0, cp.stdout + cp.stderr
        assert status_of_package() == "ii"
        yield deb
    finally:
        cp = subprocess.run(["dpkg", "--purge", "exportd"], capture_output=True,
                            text=True, timeout=300)
    assert cp.returncode == 0, cp.stdout + cp.stderr
    assert status_of_package() in ("", "un", "pn")
    for f in FILES:
        assert not f.exists(), "%s is left after dpkg --purge" % f
    assert traces() == before, "dpkg --purge left unit traces behind"


def test_files(installed):
    assert os.access("/usr/bin/exportd", os.X_OK)
    cp = subprocess.run(["/usr/bin/exportd", "--version"], capture_output=True,
                        text=True, timeout=30)
    assert cp.returncode == 0 and cp.stdout.startswith("exportd ")
    assert oct(Path("/etc/default/exportd").stat().st_mode & 0o777) == "0o600"
    # the page: found by man, rendered without a warning, the build's own
    cp = subprocess.run(["man", "-w", "exportd"], capture_output=True, text=True,
                        timeout=30)
    assert cp.stdout.strip() == "/usr/share/man/man1/exportd.1.gz"
    cp = subprocess.run(["man", "--warnings", "-l", "/usr/share/man/man1/exportd.1.gz"],
                        capture_output=True, text=True, timeout=30,
                        env=dict(os.environ, MANWIDTH="80"))
    assert cp.returncode == 0 and cp.stderr == "", cp.stderr
    page = gzip.decompress(Path("/usr/share/man/man1/exportd.1.gz").read_bytes()).decode()
    cp = subprocess.run(["/usr/bin/exportd", "help-man"], capture_output=True,
                        text=True, timeout=30, env={"PATH": "/usr/bin:/bin"})
    body = lambda s: s.split("\n", 2)[2]  # noqa: E731 (after the dated heading)
    assert body(page) == body(cp.stdout)
    service = unit_settings(UNIT)["Service"]
    for key, want in HARDENING.items():
        assert service.get(key) == [want], key
    assert service["ExecStart"] == ["/usr/bin/exportd serve"]
    # dh_installsystemd enabled it (no systemd runs here to start it)
    assert Path("/etc/systemd/system/multi-user.target.wants/exportd.service").is_symlink()


def test_unit_verifies(installed):
    cp = subprocess.run(["systemd-analyze", "verify", str(UNIT)],
                        capture_output=True, text=True, timeout=60)
    assert cp.returncode == 0 and cp.stdout == "" and cp.stderr == "", cp.stderr


def unit_environment(state_dir, port):
    """The environment the unit gives the server, with the state directory
    and the port replaced."""
    service = unit_settings(UNIT)["Service"]
    env = {"PATH": "/usr/bin:/bin"}
    for assignment in service.get("Environment", []):
        key, _, value = assignment.partition("=")
        env[key] = value
    for name in service.get("EnvironmentFile", []):
        path = Path(name.lstrip("-"))
        if not path.exists():
            continue
        for line in path.read_text().splitlines():
            if line.strip() and not line.lstrip().startswith("#"):
                key, _, value = line.partition("=")
                env[key.strip()] = value.strip()
    assert env.get("EXPORTD_DATA_DIR") == "/var/lib/exportd"
    env["EXPORTD_DATA_DIR"] = str(state_dir)
    env["EXPORTD_LISTEN"] = "127.0.0.1:%d" % port
    return env, shlex.split(service["ExecStart"][0]), int(service["UMask"][0], 8)


def as_service_user(argv):
    return ["setpriv", "--reuid=%d" % NOBODY, "--regid=%d" % NOBODY,
            "--clear-groups", "--no-new-privs", "--inh-caps=-all", "--"] + argv


def test_serves_as_the_unit_runs_it(installed):
    top = Path(tempfile.mkdtemp(prefix="exportd-deb-"))
    os.chmod(top, 0o755)
    state = top / "state"
    state.mkdir(mode=0o700)
    os.chown(state, NOBODY, NOBODY)
    port = free_port()
    env, argv, umask = unit_environment(state, port)
    assert argv == ["/usr/bin/exportd", "serve"]
    log = open(top / "stderr.log", "wb")
    proc = subprocess.Popen(as_service_user(argv), env=env, stdin=subprocess.DEVNULL,
                            stdout=log, stderr=log, cwd="/",
                            preexec_fn=lambda: os.umask(umask))
    url = "http://127.0.0.1:%d" % port
    try:
        deadline = time.monotonic() + 20
        while True:
            assert proc.poll() is None, (top / "stderr.log").read_text()
            try:
                if requests.get(url + "/v1/health", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline, "the server did not come up"
            time.sleep(0.1)
        cp = subprocess.run(as_service_user(["/usr/bin/exportd", "token", "create",
                                             "--account", "deb"]),
                            env=env, capture_output=True, text=True, timeout=60,
                            preexec_fn=lambda: os.umask(umask))
        assert cp.returncode == 0, cp.stderr
        token = cp.stdout.strip().splitlines()[-1]
        auth = {"Authorization": "Bearer " + token}
        r = requests.post(url + "/v1/exports", headers=auth, timeout=10,
                          json={"name": "from the package", "type": "webhook",
                                "webhook": {"provider": "github", "key": "k3y"}})
        assert r.status_code == 201, r.text
        made = r.json()
        r = requests.get(url + "/v1/exports/" + made["_id"], headers=auth, timeout=10)
        assert r.status_code == 200 and r.json() == made
        assert made["webhook"]["key"] == "******"
        # systemctl reload: SIGHUP keeps it serving
        proc.send_signal(signal.SIGHUP)
        time.sleep(0.5)
        assert proc.poll() is None, "SIGHUP stopped the server"
        r = requests.get(url + "/v1/exports/" + made["_id"], headers=auth, timeout=10)
        assert r.status_code == 200
        # systemctl stop: SIGTERM, a clean exit within TimeoutStopSec
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=45) == 0
        text = (top / "stderr.log").read_text()
        assert "SIGHUP" in text and "stopped cleanly" in text, text
        assert token not in text
        # the unit's UMask: everything the server made is the user's alone
        made_files = list(state.iterdir())
        assert {p.name for p in made_files} >= {"exportd.db", "secret.key"}
        for p in made_files:
            st = p.stat()
            assert st.st_uid == NOBODY, p
            assert st.st_mode & 0o077 == 0, "%s is mode %o" % (p, st.st_mode & 0o777)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
        shutil.rmtree(top)
