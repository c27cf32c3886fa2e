"""Connection pings (export-api.md §9): GET|POST /v1/connections/{_id}/ping
and POST /v1/connections/ping, against a real HTTP server started here on
127.0.0.1 (success, success and fail paths, 401, a timeout, a refused port,
the egress policy) and, when EXPORTD_DB names one, the real PostgreSQL
(good and bad password). A secret never appears in an answer or a log."""

import base64
import json
import os
import subprocess
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from apilib import assert_error, assert_status, body_of, free_port, secret_value, unique


class Remote(BaseHTTPRequestHandler):
    """/ok, /status/<n>, /fail (200 with an error in the body), /slow (never
    in time), /echo (says the Authorization header it got, as some APIs
    do), and records each request's line and headers."""
    seen = []

    def log_message(self, *args):
        pass

    def _answer(self, status, doc):
        body = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _handle(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n).decode() if n else ""
        Remote.seen.append({"method": self.command, "path": self.path,
                            "headers": dict(self.headers), "body": body})
        path = urllib.parse.urlsplit(self.path).path
        if path.startswith("/status/"):
            self._answer(int(path.rsplit("/", 1)[1]), {"message": "go away"})
        elif path == "/fail":
            self._answer(200, {"ok": False, "error": {"text": "account locked"}})
        elif path == "/list":
            self._answer(200, {"states": ["warming", "ready"]})
        elif path == "/slow":
            time.sleep(4)
            self._answer(200, {})
        elif path == "/echo":
            self._answer(401, {"got": self.headers.get("Authorization", "")})
        else:
            self._answer(200, {"ok": True})

    do_GET = do_POST = do_PUT = do_HEAD = _handle


class QuietServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        pass    # exportd hangs up on /slow after its timeout: expected


@pytest.fixture(scope="module")
def remote():
    httpd = QuietServer(("127.0.0.1", 0), Remote)
    httpd.daemon_threads = True
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    yield "http://127.0.0.1:%d" % httpd.server_address[1]
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def allowed(tmp_path_factory):
    """An exportd whose outbound requests may reach 127.0.0.1, with a 1 s
    request cap for the timeout case."""
    from apilib import Server
    root = tmp_path_factory.mktemp("exportd-ping")
    srv = Server(root / "data", root / "logs",
                 extra_args=["--egress-allow", "127.0.0.1", "--egress-timeout", "1"])
    srv.start()
    yield srv
    rc = srv.stop()
    assert rc == 0
    assert not srv.sanitizer_report(), srv.sanitizer_report()


@pytest.fixture
def api(allowed):
    return allowed.api()


def http_conn(base, ping=None, auth=None, **http):
    block = {"baseURI": base, "mediaType": "json"}
    if ping is not None:
        block["ping"] = ping
    if auth is not None:
        block["auth"] = auth
    block.update(http)
    return {"name": unique("ping"), "type": "http", "http": block}


def create(api, body):
    r = api.post("/v1/connections", json=body)
    assert_status(r, 201)
    return body_of(r)["_id"]


def ping_saved(api, cid, method="GET"):
    return api.request(method, "/v1/connections/%s/ping" % cid)


def failed_message(r):
    assert_error(r, 422, "ping_failed")
    return body_of(r)["errors"][0]["message"]


def test_success_sets_offline_false_and_sends_the_ping(api, remote):
    token = secret_value("tok")
    cid = create(api, http_conn(remote, ping={"relativeURI": "/ok?x=1", "method": "POST",
                                              "body": '{"hello":"{{connection.name}}"}'},
                                auth={"type": "token", "token": {"token": token}},
                                headers=[{"name": "X-Team", "value": "blue"}]))
    assert "offline" not in body_of(api.get("/v1/connections/%s" % cid))
    Remote.seen.clear()
    r = ping_saved(api, cid, "POST")
    assert_status(r, 200)
    assert body_of(r) == {"code": 200}
    req = Remote.seen[-1]
    assert req["method"] == "POST" and req["path"] == "/ok?x=1"
    assert req["headers"]["Authorization"] == "Bearer " + token
    assert req["headers"]["X-Team"] == "blue"
    assert req["headers"]["Content-Type"] == "application/json"
    assert json.loads(req["body"])["hello"].startswith("ping-")
    assert body_of(api.get("/v1/connections/%s" % cid))["offline"] is False
    # GET pings too; no ping block: a GET of baseURI
    cid2 = create(api, http_conn(remote + "/ok"))
    Remote.seen.clear()
    assert_status(ping_saved(api, cid2), 200)
    assert Remote.seen[-1]["method"] == "GET" and Remote.seen[-1]["path"] == "/ok"


def test_401_sets_offline_true_and_is_audited(api, remote):
    cid = create(api, http_conn(remote, ping={"relativeURI": "/status/401"},
                                auth={"type": "basic",
                                      "basic": {"username": "u", "password": secret_value("pw")}}))
    msg = failed_message(ping_saved(api, cid))
    assert "401" in msg and "go away" in msg, msg
    doc = body_of(api.get("/v1/connections/%s" % cid))
    assert doc["offline"] is True
    r = api.get("/v1/connections/%s/audit" % cid)
    changes = [c for e in body_of(r) for c in e["fieldChanges"] if c["fieldPath"] == "offline"]
    assert changes == [{"fieldPath": "offline", "newValue": True}], changes
    # the same result again changes nothing: no new entry
    failed_message(ping_saved(api, cid))
    assert len(body_of(api.get("/v1/connections/%s/audit" % cid))) == len(body_of(r))


def test_success_and_fail_paths(api, remote):
    good = http_conn(remote, ping={"relativeURI": "/list", "successPath": "states",
                                   "successValues": ["ready"], "allowArrayforSuccessPath": True})
    assert_status(api.post("/v1/connections/ping", json=good), 200)
    bad = http_conn(remote, ping={"relativeURI": "/list", "successPath": "states",
                                  "successValues": ["ready"]})
    assert "answered 200" in failed_message(api.post("/v1/connections/ping", json=bad))
    fail = http_conn(remote, ping={"relativeURI": "/fail", "failPath": "ok",
                                   "failValues": ["false"], "errorPath": "error.text"})
    msg = failed_message(api.post("/v1/connections/ping", json=fail))
    assert "account locked" in msg, msg


def test_token_in_the_url_and_legacy_rest(api, remote):
    token = secret_value("urltok")
    body = http_conn(remote, ping={"relativeURI": "/ok"},
                     auth={"type": "token", "token": {"token": token, "location": "url",
                                                      "paramName": "key"}})
    Remote.seen.clear()
    assert_status(api.post("/v1/connections/ping", json=body), 200)
    assert Remote.seen[-1]["path"] == "/ok?key=" + token
    rest = {"name": unique("rest"), "type": "rest",
            "rest": {"baseURI": remote, "mediaType": "json", "authType": "token",
                     "bearerToken": token, "pingRelativeURI": "/ok"}}
    Remote.seen.clear()
    assert_status(api.post("/v1/connections/ping", json=rest), 200)
    assert Remote.seen[-1]["headers"]["Authorization"] == "Bearer " + token


def test_secret_never_in_the_answer_or_log(api, remote, allowed):
    pw = secret_value("echo")
    body = http_conn(remote, ping={"relativeURI": "/echo"},
                     auth={"type": "basic", "basic": {"username": "me", "password": pw}})
    cid = create(api, body)
    for r in (ping_saved(api, cid), api.post("/v1/connections/ping", json=body)):
        text = r.text
        assert r.status_code == 422
        assert pw not in text
        assert base64.b64encode(("me:" + pw).encode()).decode() not in text
        assert "******" in text, text
    assert pw not in allowed.all_output_text()


def test_timeout_refused_and_unsupported(api, remote):
    msg = failed_message(api.post("/v1/connections/ping",
                                  json=http_conn(remote, ping={"relativeURI": "/slow"})))
    assert msg.startswith("timeout"), msg
    closed = "http://127.0.0.1:%d" % free_port()
    msg = failed_message(api.post("/v1/connections/ping", json=http_conn(closed)))
    assert msg.startswith("refused"), msg
    oauth = http_conn(remote, auth={"type": "oauth", "oauth": {
        "grantType": "clientcredentials", "tokenURI": remote + "/token"}})
    assert_error(api.post("/v1/connections/ping", json=oauth), 422, "invalid_type")
    ftp = {"name": unique("ftp"), "type": "ftp", "ftp": {"hostURI": "ftp.example.com"}}
    assert_error(api.post("/v1/connections/ping", json=ftp), 422, "invalid_type")
    cid = create(api, ftp)
    assert_error(ping_saved(api, cid), 422, "invalid_type")
    assert "offline" not in body_of(api.get("/v1/connections/%s" % cid))


def test_bad_input_and_other_accounts(api, allowed, remote):
    r = api.post("/v1/connections/ping", json={"name": "x", "type": "http", "http": {}})
    assert r.status_code == 422
    assert {e["code"] for e in body_of(r)["errors"]} == {"missing_required_field"}
    assert_error(api.request("POST", "/v1/connections/ping", data=b"[1]"), 400, "invalid_json")
    assert_error(ping_saved(api, "0" * 24), 404, "not_found")
    assert_error(ping_saved(api, "nope"), 404, "not_found")
    cid = create(api, http_conn(remote))
    other = allowed.api()
    assert_error(ping_saved(other, cid), 404, "not_found")


def test_egress_denied_by_default(server_factory, remote):
    srv = server_factory()
    api = srv.api()
    cid = create(api, http_conn(remote))
    Remote.seen.clear()
    msg = failed_message(ping_saved(api, cid))
    assert msg.startswith("egress_denied"), msg
    assert Remote.seen == []
    assert body_of(api.get("/v1/connections/%s" % cid))["offline"] is True


# ---- PostgreSQL ----

PG = os.environ.get("EXPORTD_DB", "")
needs_pg = pytest.mark.skipif(not PG.startswith("postgresql://"),
                              reason="needs EXPORTD_DB naming a PostgreSQL server "
                                     "(tests/pg/with-cluster.sh)")
PW_ROLE = "exportd_ping_role"


def psql(sql):
    cp = subprocess.run(["psql", PG, "-XAtq", "-v", "ON_ERROR_STOP=1", "-c", sql],
                        capture_output=True, text=True, timeout=30)
    assert cp.returncode == 0, cp.stderr
    return cp.stdout.strip()


def pg_conn(user, password):
    u = urllib.parse.urlsplit(PG)
    return {"name": unique("pg"), "type": "rdbms",
            "rdbms": {"type": "postgresql", "host": u.hostname, "port": u.port,
                      "database": u.path.lstrip("/"), "user": user, "password": password}}


@needs_pg
def test_postgresql_good_and_bad_password(api, allowed):
    pw = secret_value("pg")
    # a role that logs in with a password: the test cluster trusts every
    # other login, so its rule comes first
    if psql("SELECT count(*) FROM pg_roles WHERE rolname = '%s'" % PW_ROLE) == "0":
        psql("CREATE ROLE %s LOGIN" % PW_ROLE)
    psql("ALTER ROLE %s PASSWORD '%s'" % (PW_ROLE, pw))
    hba = psql("SHOW hba_file")
    psql("COPY (SELECT unnest(ARRAY['host all %s 127.0.0.1/32 scram-sha-256', "
         "'local all all trust', 'host all all 127.0.0.1/32 trust', "
         "'host all all ::1/128 trust'])) TO '%s'" % (PW_ROLE, hba))
    psql("SELECT pg_reload_conf()")
    good = create(api, pg_conn(PW_ROLE, pw))
    bad = pg_conn(PW_ROLE, "wrong-" + pw)
    deadline = time.time() + 10
    while True:     # the reload is asynchronous
        r = api.post("/v1/connections/ping", json=bad)
        if r.status_code == 422 or time.time() > deadline:
            break
        time.sleep(0.2)
    msg = failed_message(r)
    assert "password authentication failed" in msg and pw not in msg, msg
    r = ping_saved(api, good)
    assert_status(r, 200)
    assert body_of(api.get("/v1/connections/%s" % good))["offline"] is False
    bad_id = create(api, bad)
    assert pw not in failed_message(ping_saved(api, bad_id))
    assert body_of(api.get("/v1/connections/%s" % bad_id))["offline"] is True
    mysql = pg_conn(PW_ROLE, pw)
    mysql["rdbms"]["type"] = "mysql"
    assert_error(api.post("/v1/connections/ping", json=mysql), 422, "invalid_type")
    assert pw not in allowed.all_output_text()


@needs_pg
def test_postgresql_egress_denied_by_default(server_factory):
    api = server_factory().api()
    msg = failed_message(api.post("/v1/connections/ping", json=pg_conn("postgres", "x")))
    assert msg.startswith("egress_denied: "), msg
