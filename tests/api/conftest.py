"""Fixtures of the exportd black-box API suite.

Local mode (default): the real binary ($EXPORTD_BIN, default build/exportd)
is started on a free 127.0.0.1 port with a temporary data dir; tokens are
made with `exportd token create`.

External mode: with EXPORTD_URL and EXPORTD_TOKEN set, the suite talks to
that server with that token; tests that need the binary, the CLI, fresh
accounts or the data files are skipped.
"""

import os

import pytest

import openapi_check
from apilib import EXTERNAL, EXTERNAL_TOKEN, EXTERNAL_URL, Api, Server, unique

# Every response is checked against openapi/exportd.json (openapi_check.py).
openapi_check.install()
if EXTERNAL:
    openapi_check.watch(EXTERNAL_URL)


def _openapi_failure(outcome):
    """Fail the running phase with what the document says is wrong with
    the responses it received (unless it failed already: then say it)."""
    problems = openapi_check.take()
    if not problems:
        return
    text = "responses that do not match openapi/exportd.json:\n  " + \
        "\n  ".join(problems[:20]) + \
        ("\n  (%d more)" % (len(problems) - 20) if len(problems) > 20 else "")
    if outcome.excinfo is None:
        raise AssertionError(text)
    print(text)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    outcome = yield
    _openapi_failure(outcome)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item):
    outcome = yield
    _openapi_failure(outcome)


@pytest.fixture(scope="session")
def leak_watch():
    """Strings (secrets) that must never reach the session server's stderr."""
    return []


@pytest.fixture(scope="session")
def server(tmp_path_factory, leak_watch):
    if EXTERNAL:
        yield None
        return
    root = tmp_path_factory.mktemp("exportd-session")
    tls = None
    if os.environ.get("EXPORTD_TLS") == "1":   # the session server over HTTPS
        from pki import Pki
        tls = Pki(root / "pki").server("session")
        # clients made anywhere in the suite trust the test CA
        os.environ["REQUESTS_CA_BUNDLE"] = str(tls["ca"])
    srv = Server(root / "data", root / "logs", tls=tls)
    srv.start()
    yield srv
    problems = []
    if srv.running:
        rc = srv.stop()
        if rc != 0:
            problems.append("exportd exited with %r on SIGTERM (expected 0)" % rc)
    rep = srv.sanitizer_report()
    if rep:
        problems.append(rep)
    err = srv.stderr_text()
    for tok in srv.tokens:
        if tok in err:
            problems.append("a bearer token appears in the server's stderr")
            break
    for s in leak_watch:
        if s in err:
            problems.append("secret %r appears in the server's stderr" % s)
    if problems:
        pytest.fail("\n\n".join(problems), pytrace=False)


@pytest.fixture
def local_server(server):
    """The session server, for tests that need its CLI, files or logs."""
    if server is None:
        pytest.skip("needs the local exportd binary (external server in use)")
    return server


@pytest.fixture(scope="session")
def base_url(server):
    return EXTERNAL_URL if server is None else server.url


@pytest.fixture(scope="session")
def api(server):
    """A shared account (the external token in external mode)."""
    if server is None:
        return Api(EXTERNAL_URL, EXTERNAL_TOKEN, account="external")
    return server.api(unique("shared"))


@pytest.fixture
def new_api(server):
    """Factory: a new account with its own token, per call."""
    if server is None:
        pytest.skip("needs the CLI to create fresh accounts (external server in use)")

    def make(account=None):
        return server.api(account or unique("acct"))
    return make


@pytest.fixture
def fresh_api(new_api):
    """A brand-new, empty account for this test."""
    return new_api()


@pytest.fixture
def other_api(new_api):
    """A second, unrelated account."""
    return new_api()


@pytest.fixture
def unauth(base_url, server):
    """A client that sends no Authorization header."""
    return Api(base_url, None, verify=server.verify if server is not None else True)


@pytest.fixture
def server_factory(tmp_path_factory):
    """Factory for extra servers (restarts, small --max-body, ...).

    start(data_dir=None, **Server kwargs) -> started Server.  At teardown any
    server still running is stopped with SIGTERM (exit code must be 0) and
    all outputs are checked for sanitizer reports."""
    if EXTERNAL:
        pytest.skip("needs the local exportd binary (external server in use)")
    started = []

    def start(data_dir=None, **kw):
        root = tmp_path_factory.mktemp("exportd-extra")
        srv = Server(data_dir or (root / "data"), root / "logs", **kw)
        started.append(srv)
        srv.start()
        return srv

    yield start
    problems = []
    for srv in started:
        if srv.running:
            rc = srv.stop()
            if rc != 0:
                problems.append("extra exportd exited with %r on SIGTERM" % rc)
        rep = srv.sanitizer_report()
        if rep:
            problems.append(rep)
    if problems:
        pytest.fail("\n\n".join(problems), pytrace=False)
