"""TLS on the listener (--tls-cert, --tls-key): verified by real clients
against a CA made here, TLS 1.2 and 1.3 only, the chain sent whole,
clear startup errors, reload on SIGHUP under load, and the gate's caps,
deadlines and framing checks over TLS."""

import http.client
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time

import pytest
import requests

from apilib import (BIN, REPO, assert_status, free_port, http_body, inbox_all, needs_binary,
                    read_to_close, url_hook)
from pki import Pki, fingerprint
from test_24_framing import assert_refused

pytestmark = needs_binary


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return Pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def leaf_a(pki):
    return pki.server("a")


@pytest.fixture
def tls_server(server_factory, leaf_a):
    return server_factory(tls=leaf_a)


def client_context(ca, version=None):
    ctx = ssl.create_default_context(cafile=str(ca))
    if version is not None:
        ctx.minimum_version = ctx.maximum_version = version
    return ctx


def tls_socket(srv, ca=None, host="127.0.0.1", timeout=10):
    """A handshaken TLS socket to srv, verified against ca (default: its CA)."""
    ctx = client_context(ca or srv.tls["ca"])
    raw = socket.create_connection(("127.0.0.1", srv.port), timeout=timeout)
    return ctx.wrap_socket(raw, server_hostname=host)


def presented(srv):
    """The fingerprint of the certificate a new handshake gets."""
    s = tls_socket(srv)
    try:
        return fingerprint(s.getpeercert(binary_form=True))
    finally:
        s.close()


def replace_files(dst, src):
    """Put src's certificate chain and key in place of dst's, each file
    replaced at once (as certbot's deploy does), not written in place."""
    for k in ("cert", "key"):
        tmp = str(dst[k]) + ".new"
        with open(src[k], "rb") as f, open(tmp, "wb") as g:
            g.write(f.read())
        os.replace(tmp, dst[k])


def wait_for(pred, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.05)
    return False


def log_count(srv, text):
    return srv.stderr_text().count(text)


# -- real clients, verifying ----------------------------------------------


def test_requests_verifies_the_server(tls_server, leaf_a):
    for host in ("127.0.0.1", "localhost"):
        r = requests.get("https://%s:%d/v1/health" % (host, tls_server.port), verify=str(leaf_a["ca"]),
                         timeout=10)
        assert_status(r, 200)
    a = tls_server.api()
    e = a.create(http_body())
    assert_status(a.get("/v1/exports/" + e["_id"]), 200)
    a.create(http_body())
    r = a.get("/v1/exports", params={"limit": 1})
    assert_status(r, 200)
    # the next page is on the same https origin
    assert r.headers["Link"].startswith("<%s/v1/exports?" % tls_server.url), r.headers["Link"]
    assert_status(a.get(r.links["next"]["url"]), 200)


def test_urllib_verifies_with_ssl_cert_file(tls_server, leaf_a):
    """The standard library's default context, trusting SSL_CERT_FILE only."""
    code = ("import urllib.request, sys\n"
            "print(urllib.request.urlopen(sys.argv[1], timeout=10).read().decode())\n")
    env = dict(os.environ, SSL_CERT_FILE=str(leaf_a["ca"]))
    env.pop("SSL_CERT_DIR", None)
    cp = subprocess.run([sys.executable, "-c", code, tls_server.url + "/v1/health"], env=env,
                        capture_output=True, text=True, timeout=30)
    assert cp.returncode == 0, cp.stderr
    assert '"status":"ok"' in cp.stdout.replace(" ", "")


def test_the_intermediate_is_sent(tls_server, leaf_a):
    """Clients trust only the root: the chain verifies because the server
    sends the intermediate after the leaf."""
    cp = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % tls_server.port,
                         "-CAfile", str(leaf_a["ca"]), "-verify_return_error", "-showcerts",
                         "-servername", "localhost"],
                        input="", capture_output=True, text=True, timeout=30)
    assert cp.returncode == 0, cp.stdout[-2000:] + cp.stderr[-2000:]
    assert cp.stdout.count("-----BEGIN CERTIFICATE-----") == 2, cp.stdout
    assert "Verify return code: 0 (ok)" in cp.stdout
    s = tls_socket(tls_server, host="localhost")
    assert fingerprint(s.getpeercert(binary_form=True)) == leaf_a["fingerprint"]
    s.close()


def test_another_ca_fails_verification(tls_server, tmp_path):
    other = Pki(tmp_path / "other")
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(tls_server.url + "/v1/health", verify=str(other.root["pem"]), timeout=10)
    with pytest.raises(ssl.SSLCertVerificationError):
        tls_socket(tls_server, ca=other.root["pem"])
    assert_status(requests.get(tls_server.url + "/v1/health", verify=tls_server.verify, timeout=10), 200)


@pytest.mark.parametrize("version", ["TLSv1_2", "TLSv1_3"])
def test_tls12_and_tls13_accepted(tls_server, version):
    v = getattr(ssl.TLSVersion, version)
    ctx = client_context(tls_server.tls["ca"], v)
    with socket.create_connection(("127.0.0.1", tls_server.port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
            assert s.version() == version.replace("_", ".")
            s.sendall(b"GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            out, _, _ = read_to_close(s, 10)
    assert out.startswith(b"HTTP/1.1 200 "), out[:200]


def old_client_context(ca, version):
    ctx = client_context(ca, version)
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    return ctx


def python_server_speaks(leaf, version):
    """Control: can this machine's client do the old version at all? A
    one-shot Python TLS server that allows it answers one handshake."""
    sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    sctx.load_cert_chain(str(leaf["cert"]), str(leaf["key"]))
    sctx.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
    sctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(1)
    lsock.settimeout(10)

    def serve():
        try:
            conn, _ = lsock.accept()
            with sctx.wrap_socket(conn, server_side=True):
                pass
        except (OSError, ssl.SSLError):
            pass
    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        with socket.create_connection(lsock.getsockname(), timeout=10) as raw:
            with old_client_context(leaf["ca"], version).wrap_socket(raw, server_hostname="127.0.0.1") as s:
                return s.version()
    except (OSError, ssl.SSLError):
        return None
    finally:
        t.join(10)
        lsock.close()


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("version", ["TLSv1", "TLSv1_1"])
def test_tls10_and_tls11_refused(tls_server, leaf_a, version):
    v = getattr(ssl.TLSVersion, version)
    if python_server_speaks(leaf_a, v) is None:
        pytest.skip("this machine's OpenSSL cannot speak %s at all" % version)
    with socket.create_connection(("127.0.0.1", tls_server.port), timeout=10) as raw:
        with pytest.raises(ssl.SSLError):
            old_client_context(leaf_a["ca"], v).wrap_socket(raw, server_hostname="127.0.0.1")
    assert_status(requests.get(tls_server.url + "/v1/health", verify=tls_server.verify, timeout=10), 200)


def test_plain_http_to_the_tls_port(tls_server):
    """A plain request gets a plain 400 that says why; the server goes on."""
    with socket.create_connection(("127.0.0.1", tls_server.port), timeout=10) as s:
        s.sendall(b"GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        out, closed, took = read_to_close(s, 10)
    assert_refused(out, closed, 400, "bad_request")
    assert b"https://" in out
    assert took < 3
    r = requests.get("http://127.0.0.1:%d/v1/health" % tls_server.port, timeout=10)
    assert_status(r, 400)
    assert_status(requests.get(tls_server.url + "/v1/health", verify=tls_server.verify, timeout=10), 200)


# -- startup errors -------------------------------------------------------


def serve_fails(tmp_path, *args):
    """Run serve with args; it must exit non-zero having created nothing.
    Returns its stderr."""
    data = tmp_path / "never-created"
    cp = subprocess.run([str(BIN), "serve", "--listen", "127.0.0.1:%d" % free_port(),
                         "--data-dir", str(data)] + [str(a) for a in args],
                        capture_output=True, text=True, timeout=30, cwd=str(REPO),
                        stdin=subprocess.DEVNULL)
    assert cp.returncode != 0, cp.stderr
    assert not data.exists(), "serve created %s before failing" % data
    return cp.stderr


def test_startup_errors(tmp_path, pki, leaf_a):
    other = pki.server("other")
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    missing = tmp_path / "missing.pem"
    cases = [
        (["--tls-cert", leaf_a["cert"]], "--tls-key is missing"),
        (["--tls-key", leaf_a["key"]], "--tls-cert is missing"),
        (["--tls-cert", missing, "--tls-key", leaf_a["key"]], "%s: cannot read it" % missing),
        (["--tls-cert", leaf_a["cert"], "--tls-key", missing], "%s: cannot read it" % missing),
        (["--tls-cert", tmp_path, "--tls-key", leaf_a["key"]], "%s: cannot read it" % tmp_path),
        (["--tls-cert", garbage, "--tls-key", leaf_a["key"]], "not a PEM certificate chain"),
        (["--tls-cert", leaf_a["cert"], "--tls-key", garbage], "not an unencrypted PEM private key"),
        (["--tls-cert", leaf_a["cert"], "--tls-key", other["key"]], "is not the key of the certificate"),
    ]
    for args, want in cases:
        err = serve_fails(tmp_path, *args)
        assert want in err, (args, err)


# -- reload -----------------------------------------------------------------


def keep_alive_client(srv, stop, stats, errors):
    """One keep-alive connection, requests until stop; the connection must
    never be replaced (http.client does not reconnect on its own)."""
    ctx = client_context(srv.tls["ca"])
    conn = http.client.HTTPSConnection("127.0.0.1", srv.port, context=ctx, timeout=10)
    try:
        conn.connect()
        sock, first = conn.sock, fingerprint(conn.sock.getpeercert(binary_form=True))
        while not stop.is_set():
            conn.request("GET", "/v1/health")
            r = conn.getresponse()
            body = r.read()
            if r.status != 200 or conn.sock is not sock:
                errors.append("status %d, same connection %s: %r" % (r.status, conn.sock is sock, body))
                return
            stats["n"] += 1
        stats["first"] = first
    except Exception as e:   # any failure is what the test looks for
        errors.append("%s: %s" % (type(e).__name__, e))
    finally:
        conn.close()


def test_reload_under_load(server_factory, pki, tmp_path):
    live = {k: tmp_path / ("live." + k) for k in ("cert", "key")}
    a, b, c = pki.server("ra"), pki.server("rb"), pki.server("rc")
    replace_files(live, a)
    srv = server_factory(tls=dict(live, ca=a["ca"]), threads=2)
    assert presented(srv) == a["fingerprint"]
    stop, errors = threading.Event(), []
    stats = [{"n": 0} for _ in range(4)]
    threads = [threading.Thread(target=keep_alive_client, args=(srv, stop, st, errors))
               for st in stats]
    for t in threads:
        t.start()
    try:
        assert wait_for(lambda: all(st["n"] > 5 for st in stats) or errors)
        for i, nxt in enumerate((b, c)):
            replace_files(live, nxt)
            srv.proc.send_signal(signal.SIGHUP)
            assert wait_for(lambda: log_count(srv, "tls: reloaded") == i + 1), srv.stderr_text()[-2000:]
            assert presented(srv) == nxt["fingerprint"]
            before = [st["n"] for st in stats]
            assert wait_for(lambda: all(st["n"] > n + 5 for st, n in zip(stats, before)) or errors)
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    assert not errors, errors
    # the connections opened before any reload kept their certificate
    assert all(st["first"] == a["fingerprint"] for st in stats), stats


def test_bad_reload_keeps_the_old_certificate(server_factory, pki, tmp_path):
    live = {k: tmp_path / ("live." + k) for k in ("cert", "key")}
    a, b, other = pki.server("ka"), pki.server("kb"), pki.server("kother")
    replace_files(live, a)
    srv = server_factory(tls=dict(live, ca=a["ca"]))
    kept = tls_socket(srv)
    bad = [
        lambda: live["cert"].write_text("-----BEGIN CERTIFICATE-----\nbroken\n"),
        lambda: replace_files(live, {"cert": b["cert"], "key": other["key"]}),   # mismatched
        lambda: live["key"].unlink(),
    ]
    for i, spoil in enumerate(bad):
        replace_files(live, a)
        spoil()
        srv.proc.send_signal(signal.SIGHUP)
        assert wait_for(lambda: log_count(srv, "reload failed") == i + 1), srv.stderr_text()[-2000:]
        assert presented(srv) == a["fingerprint"]
    kept.sendall(b"GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
    out, _, _ = read_to_close(kept, 10)
    kept.close()
    assert out.startswith(b"HTTP/1.1 200 "), out[:200]
    replace_files(live, b)
    srv.proc.send_signal(signal.SIGHUP)
    assert wait_for(lambda: log_count(srv, "tls: reloaded") == 1)
    assert presented(srv) == b["fingerprint"]


def test_sighup_without_tls_changes_nothing(server_factory):
    srv = server_factory()
    srv.proc.send_signal(signal.SIGHUP)
    assert wait_for(lambda: "SIGHUP: nothing to reload; still serving" in srv.stderr_text())
    assert_status(requests.get(srv.url + "/v1/health", timeout=10), 200)


# -- the webhook listener -----------------------------------------------------


def test_webhook_listener_over_tls(tls_server):
    a = tls_server.api()
    e, path = url_hook(a)
    r = requests.post(tls_server.url + path, json={"order": 42}, verify=tls_server.verify, timeout=10)
    assert_status(r, 204)
    assert [x["record"] for x in inbox_all(a, e["_id"])] == [{"order": 42}]


# -- the gate under TLS -------------------------------------------------------


def test_handshake_has_a_deadline(server_factory, leaf_a):
    """A client that connects and sends nothing, one that stops in the
    middle of its hello, and one that shakes hands and sends no request
    are all closed after --header-timeout."""
    srv = server_factory(tls=leaf_a, extra_args=["--header-timeout", "1"])
    silent = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    partial = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    partial.sendall(b"\x16\x03\x01\x02\x00")
    idle = tls_socket(srv)
    for s in (silent, partial):
        out, closed, took = read_to_close(s, 8)
        s.close()
        assert closed and took < 5 and out == b"", (out, closed, took)
    t0 = time.monotonic()
    out, closed, _ = read_to_close(idle, 8)
    idle.close()
    assert closed and time.monotonic() - t0 < 5, (out, closed)
    assert_status(requests.get(srv.url + "/v1/health", verify=srv.verify, timeout=10), 200)


def test_full_server_closes_new_tls_connections(server_factory, leaf_a):
    srv = server_factory(tls=leaf_a, extra_args=["--max-connections", "2"])
    held = [tls_socket(srv) for _ in range(2)]
    for s in held:   # handed over: each has sent a request and waits for the next
        s.sendall(b"GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert s.recv(65536).startswith(b"HTTP/1.1 200 ")
    t0 = time.monotonic()
    with pytest.raises((ssl.SSLError, OSError)):
        tls_socket(srv).close()
    assert time.monotonic() - t0 < 5
    held.pop().close()

    def served():   # once the server has seen the close, a slot is free
        try:
            return requests.get(srv.url + "/v1/health", verify=srv.verify, timeout=10).status_code == 200
        except requests.exceptions.SSLError:
            return False
    assert wait_for(served)
    for s in held:
        s.close()


def tls_exchange(srv, data, timeout=5.0):
    s = tls_socket(srv, timeout=timeout)
    try:
        s.sendall(data)
        return read_to_close(s, timeout)
    finally:
        s.close()


def victim(srv):
    """An account, the Host value, an export, and the raw DELETE that
    would remove it."""
    a = srv.api()
    host = "127.0.0.1:%d" % srv.port
    e = a.create(http_body())
    delete = ("DELETE /v1/exports/%s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n"
              "Content-Length: 0\r\n\r\n" % (e["_id"], host, a.token)).encode()
    return a, host, e, delete


def framing_cases(host, token, victim_delete):
    """(name, bytes) of ambiguous requests, each followed by a DELETE that
    must never run."""
    auth = "Host: %s\r\nAuthorization: Bearer %s\r\n" % (host, token)
    ok = ("GET /v1/tokenInfo HTTP/1.1\r\n%s\r\n" % auth).encode()
    return [
        ("te-and-cl", ("POST /v1/exports HTTP/1.1\r\n%sContent-Length: 5\r\n"
                       "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n" % auth).encode(), 400),
        ("no-host", ("GET /v1/exports HTTP/1.1\r\nAuthorization: Bearer %s\r\n\r\n" % token).encode(), 400),
        ("two-hosts", ("GET /v1/health HTTP/1.1\r\n%sHost: b\r\n\r\n" % auth).encode(), 400),
        ("gzip-te", ("POST /v1/exports HTTP/1.1\r\n%sTransfer-Encoding: gzip\r\n\r\n" % auth).encode(), 501),
        ("two-cl", ("POST /v1/exports HTTP/1.1\r\n%sContent-Length: 2\r\nContent-Length: %d\r\n\r\n{}" % (
            auth, 2 + len(victim_delete))).encode(), 400),
        ("nul", ("GET /v1/exports/%%00 HTTP/1.1\r\n%s\r\n" % auth).encode(), 400),
        ("space-colon", ("POST /v1/exports HTTP/1.1\r\n%sContent-Length : %d\r\n\r\n" % (
            auth, len(victim_delete))).encode(), 400),
        ("kept-alive-second", ok + ("POST /v1/exports HTTP/1.1\r\n%sContent-Length: 5\r\n"
                                    "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n" % auth).encode(), 400),
    ]


def test_framing_checks_hold_over_tls(tls_server):
    """The cases of test_24 the gate cannot see under TLS: each is answered
    once, in the error format, the connection closed, the DELETE after it
    never run."""
    a, host, e, delete = victim(tls_server)
    for name, data, status in framing_cases(host, a.token, delete):
        out, closed, took = tls_exchange(tls_server, data + delete)
        if name == "kept-alive-second":
            assert out.startswith(b"HTTP/1.1 200 "), (name, out[:300])
            out = out[out.index(b"HTTP/1.1 ", 1):]
        assert_refused(out, closed, status, "not_implemented" if status == 501 else "bad_request")
        assert took < 3, (name, took)
        assert_status(a.get("/v1/exports/" + e["_id"]), 200)


@pytest.mark.parametrize("cl,status", [("abc", 400), ("-1", 400), ("99999999999999999999999", 413)],
                         ids=["letters", "negative", "huge"])
def test_bad_content_length_over_tls_smuggles_nothing(tls_server, cl, status):
    """libmicrohttpd answers these itself under TLS, before exportd sees
    the request (the gate cannot read them; docs/internals/tls.md): its
    own 400 or 413, then the connection is closed and the bytes after it
    never run."""
    a, host, e, delete = victim(tls_server)
    head = ("POST /v1/exports HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n"
            "Content-Length: %s\r\n\r\n" % (host, a.token, cl)).encode()
    out, closed, took = tls_exchange(tls_server, head + delete)
    assert closed and took < 3
    statuses = set(re.findall(rb"HTTP/1\.1 (\d{3}) ", out))
    assert statuses == {str(status).encode()}, out[:600]
    assert_status(a.get("/v1/exports/" + e["_id"]), 200)


def test_chunked_body_past_the_cap_over_tls(server_factory, leaf_a):
    """The 413 written in the middle of a chunked body goes through TLS."""
    srv = server_factory(tls=leaf_a, max_body=1024)
    a = srv.api()
    s = tls_socket(srv)
    s.sendall(("POST /v1/exports HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nAuthorization: Bearer %s\r\n"
               "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" % (
                   srv.port, a.token)).encode())
    try:
        for _ in range(4):
            s.sendall(b"400\r\n" + b" " * 1024 + b"\r\n")
    except OSError:
        pass
    out, closed, _ = read_to_close(s, 10)
    s.close()
    assert_refused(out, closed, 413, "payload_too_large")
    assert_status(a.get("/v1/tokenInfo"), 200)


def test_folded_transfer_encoding_over_tls_smuggles_nothing(tls_server):
    """libmicrohttpd 0.9.75 reads a folded header line (which the gate
    refuses in plain HTTP) as part of the header's name, so the request
    has no Transfer-Encoding: whatever follows it is refused, and the
    DELETE after it never runs."""
    a, host, e, delete = victim(tls_server)
    head = ("POST /v1/exports HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n"
            "Transfer-Encoding: chunked\r\n gzip\r\n\r\n0\r\n\r\n" % (host, a.token)).encode()
    out, closed, _ = tls_exchange(tls_server, head + delete)
    statuses = re.findall(rb"HTTP/1\.1 (\d{3}) ", out)
    assert closed and statuses and all(x >= b"400" for x in statuses), out[:600]
    assert_status(a.get("/v1/exports/" + e["_id"]), 200)
    assert len(a.get("/v1/exports").json()) == 1


def test_absurd_chunk_size_over_tls_waits_for_the_body_deadline(server_factory, leaf_a):
    """Under TLS the gate cannot see a chunk size of 2^64-1: the request
    is cut at --body-timeout instead of answered at once; nothing runs."""
    srv = server_factory(tls=leaf_a, extra_args=["--body-timeout", "2"])
    a = srv.api()
    head = ("POST /v1/exports HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nAuthorization: Bearer %s\r\n"
            "Transfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\nabc" % (srv.port, a.token)).encode()
    out, closed, took = tls_exchange(srv, head, timeout=8)
    assert closed and took < 6, (out, closed, took)
    assert b" 2" not in out[:12], out[:300]
    assert_status(a.get("/v1/exports"), 204)     # nothing was created
