"""What a newcomer meets first: the README's commands run as written, make
run installs only what building and running need and shows a request that
answers, the token commands never make a stray database, a bad flag to
serve creates nothing, and the docs cite only files that ship."""

import glob
import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest
import requests

from apilib import BIN, REPO, free_port, needs_binary, sanitizer_hits

pytestmark = needs_binary


def sqlite_env(**extra):
    """The environment without EXPORTD_DB: these tests are about the default
    SQLite store in a data dir."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("EXPORTD_")}
    env.update(extra)
    return env


def exportd(*args, cwd, timeout=30):
    return subprocess.run([str(BIN)] + [str(a) for a in args], capture_output=True,
                          text=True, timeout=timeout, cwd=str(cwd), env=sqlite_env(),
                          stdin=subprocess.DEVNULL)


def wait_health(url, proc, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "exportd exited early"
        try:
            if requests.get(url + "/v1/health", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.05)
    raise AssertionError("exportd did not become ready")


@pytest.fixture
def own_server(tmp_path):
    """A server of its own on a fresh SQLite data dir, and a token for it."""
    data = tmp_path / "data"
    cp = exportd("token", "create", "--account", "readme", "--data-dir", data, cwd=tmp_path)
    assert cp.returncode == 0, cp.stderr
    token = cp.stdout.strip().splitlines()[-1]
    port = free_port()
    err = open(tmp_path / "serve.err", "wb")
    proc = subprocess.Popen([str(BIN), "serve", "--listen", "127.0.0.1:%d" % port,
                             "--data-dir", str(data)], stdout=subprocess.DEVNULL,
                            stderr=err, stdin=subprocess.DEVNULL, env=sqlite_env())
    url = "http://127.0.0.1:%d" % port
    try:
        wait_health(url, proc)
        yield url, token
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        err.close()
    text = (tmp_path / "serve.err").read_text(errors="replace")
    assert not sanitizer_hits(text), text
    assert token not in text


def readme_blocks(first, last):
    """The sh code blocks of README.md between two headings."""
    text = (REPO / "README.md").read_text()
    a, b = text.index(first), text.index(last)
    return re.findall(r"```sh\n(.*?)```", text[a:b], re.S)


def test_readme_walkthrough_runs_as_written(own_server, tmp_path):
    url, token = own_server
    blocks = readme_blocks("## Walk-through with curl", "## Tokens and accounts")
    script = "\n".join(blocks)
    assert "T=<the token make run printed>" in script
    assert "U=http://127.0.0.1:8080" in script
    script = script.replace("T=<the token make run printed>", "T=" + token)
    script = script.replace("U=http://127.0.0.1:8080", "U=" + url)
    # every variable defined before use (-u), every curl answered 2xx
    prelude = ("set -euo pipefail\n"
               "curl() { command curl --fail-with-body --max-time 10 \"$@\"; echo; }\n")
    cp = subprocess.run(["bash", "-c", prelude + script], capture_output=True, text=True,
                        timeout=120, cwd=str(tmp_path), env=sqlite_env())
    assert cp.returncode == 0, "README walk-through failed:\n%s\n%s" % (cp.stdout, cp.stderr)
    out = cp.stdout
    assert re.search(r'^\{"_userId":"[0-9a-f]{24}"\}$', out, re.M), out
    assert '"key":"******"' in out and "my-hmac-secret" not in out
    assert re.search(r'^"[0-9a-f]{24}-\d+"$', out, re.M), out        # the ETag
    assert "HTTP/1.1 204 No Content" in out
    assert '"recordType":"salesorder"' in out
    assert '{"deleted":1}' in out
    # the delivery sent as JSON is stored as the JSON record it is
    inbox = [l for l in out.splitlines() if l.startswith('{"records":')]
    assert len(inbox) == 1, out
    assert [r["record"] for r in json.loads(inbox[0])["records"]] == [{"order": 42}]


def test_readme_developer_mode_one_liner(tmp_path):
    blocks = readme_blocks("## Developer mode", "## Scale out on PostgreSQL")
    line = [l for l in blocks[0].splitlines() if "serve --ephemeral" in l]
    assert len(line) == 1, blocks[0]
    port = free_port()
    start = line[0].replace("build/exportd", str(BIN)) + " --listen 127.0.0.1:%d" % port
    rest = blocks[1].replace("http://127.0.0.1:8080", "http://127.0.0.1:%d" % port)
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    seed_part, curl_part = rest.split("JSON\ncurl", 1)
    subprocess.run(["bash", "-euc", seed_part + "JSON\n"], cwd=str(tmp_path), check=True,
                   timeout=10)
    proc = subprocess.Popen(["bash", "-c", "exec env " + start], cwd=str(tmp_path),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, env=sqlite_env(TMPDIR=str(tmpdir)))
    try:
        wait_health("http://127.0.0.1:%d" % port, proc)
        cp = subprocess.run(["bash", "-euc", "curl --fail-with-body" + curl_part],
                            capture_output=True, text=True, timeout=20, cwd=str(tmp_path))
        assert cp.returncode == 0, cp.stderr
        doc = json.loads(cp.stdout)
        assert doc["_id"] == "5f0a1b2c3d4e5f6a7b8c9d01" and doc["webhook"]["key"] == "******"
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
        assert proc.returncode == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert list(tmpdir.iterdir()) == []
    assert b"ci-token-0123456789abcdef" not in err


@pytest.mark.parametrize("cmd", [["token", "list"], ["token", "revoke", "6b0b09b53d1dfa71bb8650c5"]])
def test_token_commands_never_make_a_stray_store(tmp_path, cmd):
    cp = exportd(*cmd, cwd=tmp_path)
    assert cp.returncode == 1, cp.stderr
    assert "no store at ./var/exportd.db (nothing was created)" in cp.stderr, cp.stderr
    assert list(tmp_path.iterdir()) == []
    cp = exportd(*cmd, "--data-dir", tmp_path / "other", cwd=tmp_path)
    assert cp.returncode == 1 and "no store at %s/other/exportd.db" % tmp_path in cp.stderr
    assert list(tmp_path.iterdir()) == []


def test_token_commands_say_which_store(tmp_path):
    cp = exportd("token", "create", "--account", "a", cwd=tmp_path)
    assert cp.returncode == 0, cp.stderr
    assert cp.stdout.startswith("store: SQLite ./var/exportd.db\n"), cp.stdout
    cp = exportd("token", "list", cwd=tmp_path)
    assert cp.returncode == 0 and cp.stdout.startswith("store: SQLite ./var/exportd.db\n")
    cp = exportd("token", "init", "--data-dir", "var", cwd=tmp_path)
    assert cp.returncode == 0 and "store: SQLite var/exportd.db" in cp.stdout
    assert "already has 1 active token(s)" in cp.stdout


@pytest.mark.parametrize("bad", [
    ["--no-such-flag"], ["--max-body", "0"], ["--max-body", "many"],
    ["--log-level", "loud"], ["--db-pool-mode", "statement"], ["--listen", "nowhere"],
    ["--listen", "127.0.0.1:http"], ["--header-timeout", "0"], ["--dev-token", "short"],
    ["--seed", "missing.json", "--dev-token", "0123456789abcdef0"], ["--reuse-port=maybe"],
    ["unexpected-argument"],
])
def test_serve_with_a_bad_flag_creates_nothing(tmp_path, bad):
    cp = exportd("serve", "--listen", "127.0.0.1:%d" % free_port(),
                 "--data-dir", tmp_path / "new", *bad, cwd=tmp_path)
    assert cp.returncode != 0, cp.stderr
    assert cp.stderr.startswith("exportd") or " ERROR " in cp.stderr, cp.stderr
    assert list(tmp_path.iterdir()) == [], "serve %s created %s" % (
        bad, list(tmp_path.iterdir()))


def make_dry(target):
    return subprocess.run(["make", "-n", target], capture_output=True, text=True,
                          timeout=30, cwd=str(REPO)).stdout


def test_make_run_installs_only_what_building_and_running_need():
    run, everything = make_dry("run"), make_dry("deps")
    for pkg in ("libcriterion-dev", "python3-pytest", "nginx-light", "patroni", "clang"):
        assert pkg in everything
        assert re.search(r"\b%s\b" % re.escape(pkg), run) is None, pkg
    for pkg in ("meson", "libmicrohttpd-dev", "libjansson-dev", "libsqlite3-dev"):
        assert pkg in run


def test_make_run_shows_a_request_that_answers(tmp_path):
    build = BIN.parent
    if not (build / "build.ninja").exists():
        pytest.skip("EXPORTD_BIN is not in a meson build directory")
    port = free_port()
    proc = subprocess.Popen(["make", "-s", "run", "BUILD=%s" % build,
                             "DATA_DIR=%s" % (tmp_path / "var"),
                             "LISTEN=127.0.0.1:%d" % port],
                            cwd=str(REPO), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, env=sqlite_env(), text=True,
                            start_new_session=True)
    try:
        lines = []
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            assert line, "make run ended: %s" % "".join(lines)
            lines.append(line)
            if line.startswith("Tokens:"):
                break
        text = "".join(lines)
        curl = [l.strip() for l in lines if l.strip().startswith("curl ")]
        assert len(curl) == 1, text
        assert "<your token>" not in curl[0]         # the first run shows the real one
        wait_health("http://127.0.0.1:%d" % port, proc)
        cp = subprocess.run(["bash", "-c", curl[0]], capture_output=True, text=True,
                            timeout=20)
        assert re.fullmatch(r'\{"_userId":"[0-9a-f]{24}"\}', cp.stdout), (cp.stdout, text)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)    # make and the server it started
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_docs_cite_only_files_that_ship():
    tracked = subprocess.run(["git", "ls-files"], capture_output=True, text=True,
                             cwd=str(REPO)).stdout.split()
    if not tracked:
        pytest.skip("not a git checkout")
    known = set(tracked)
    for t in tracked:               # also cited from inside their folders
        parts = Path(t).parts
        known.update(str(Path(*parts[i:])) for i in range(1, len(parts)))
    docs = ["README.md"] + sorted(glob.glob(str(REPO / "docs/**/*.md"), recursive=True))
    cited = re.compile(r"`([\w./-]+\.(?:c|h|py|sh|md|conf|in|build))`|"
                       r"(?<![\w./-])((?:src|docs|tests|bench)/[\w./-]*\w)")
    missing = []
    for doc in docs:
        for m in cited.finditer(Path(REPO / doc).read_text()):
            path = (m.group(1) or m.group(2)).lstrip("./")
            if "NAME" in path or path in known or (REPO / path).exists():
                continue
            if any(k.startswith(path.rstrip("/") + "/") for k in known):
                continue            # a folder
            missing.append("%s cites %s" % (Path(doc).name, path))
    assert not missing, missing


def test_readme_options_table_has_every_serve_option():
    """The README's table of options lists every option `serve --help`
    shows, with its environment variable, so a new option cannot be left
    out of it."""
    cp = subprocess.run([str(BIN), "serve", "--help"], capture_output=True, text=True,
                        timeout=10)
    assert cp.returncode == 0
    helped = re.findall(r"^  --([a-z-]+).*\n\s+\[env (EXPORTD_[A-Z_]+)", cp.stdout, re.M)
    assert len(helped) > 30, cp.stdout
    readme = (REPO / "README.md").read_text()
    rows = dict(re.findall(r"^\| `--([a-z-]+)[^`]*` \| `(EXPORTD_[A-Z_]+)` \|", readme, re.M))
    missing = [(flag, env) for flag, env in helped if rows.get(flag) != env]
    assert not missing, missing
