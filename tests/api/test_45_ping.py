"""Connection pings (export-api.md §9): GET|POST /v1/connections/{_id}/ping
and POST /v1/connections/ping, against a real HTTP server started here on
127.0.0.1 (success, success and fail paths, 401, a timeout, a refused port,
the egress policy, an OAuth token endpoint and a cookie login) and, when
EXPORTD_DB names one, the real PostgreSQL (good and bad password). A
secret never appears in an answer or a log."""

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


CLIENT_ID = "exportd-client"
CLIENT_SECRET = secret_value("client")
OAUTH_USER = "ops@example.com"
OAUTH_PASSWORD = secret_value("oauthpw")
LOGIN_PASSWORD = secret_value("loginpw")


class Remote(BaseHTTPRequestHandler):
    """/ok, /status/<n>, /fail (200 with an error in the body), /slow (never
    in time), /echo (says the Authorization header it got, as some APIs
    do), /token (an OAuth 2.0 token endpoint: the clientcredentials and
    password grants, client credentials in a Basic header or the body),
    /login (sets a session cookie for the right password), /private (200
    only with a token or a session issued here), and records each
    request's line and headers."""
    seen = []
    issued = set()      # access tokens and session ids handed out

    def _token(self, body):
        form = dict(urllib.parse.parse_qsl(body))
        client = (form.get("client_id"), form.get("client_secret"))
        basic = self.headers.get("Authorization", "")
        if basic.startswith("Basic "):
            client = tuple(base64.b64decode(basic[6:]).decode().split(":", 1))
        ok = client == (CLIENT_ID, CLIENT_SECRET)
        if form.get("grant_type") == "password":
            ok = ok and (form.get("username"), form.get("password")) == (
                OAUTH_USER, OAUTH_PASSWORD)
        elif form.get("grant_type") != "client_credentials":
            ok = False
        if not ok:
            # as some servers do: the refused secret said back
            self._answer(401, {"error": "invalid_client", "got": client[1]})
            return
        token = secret_value("access")
        Remote.issued.add(token)
        self._answer(200, {"access_token": token, "token_type": "bearer",
                           "expires_in": 3600})

    def _login(self, body):
        if json.loads(body or "{}").get("password") != LOGIN_PASSWORD:
            self._answer(401, {"error": "bad login", "got": body})
            return
        sid = secret_value("sid")
        Remote.issued.add(sid)
        self.send_response(200)
        self.send_header("Set-Cookie", "sid=%s; Path=/; HttpOnly" % sid)
        self.send_header("Set-Cookie", "theme=dark")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _private(self):
        auth = self.headers.get("Authorization", "")
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query))
        cookies = dict(c.strip().split("=", 1)
                       for c in self.headers.get("Cookie", "").split(";") if "=" in c)
        if (auth[7:] if auth.startswith("Bearer ") else query.get("access_token")
                or cookies.get("sid")) in Remote.issued:
            self._answer(200, {"ok": True})
        else:
            self._answer(401, {"message": "who are you"})

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
        elif path == "/token":
            self._token(body)
        elif path == "/login":
            self._login(body)
        elif path == "/private":
            self._private()
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


def oauth_conn(remote, ping="/private", **oauth):
    block = {"grantType": "clientcredentials", "tokenURI": remote + "/token",
             "clientId": CLIENT_ID, "clientSecret": CLIENT_SECRET}
    block.update(oauth)
    return http_conn(remote, ping={"relativeURI": ping},
                     auth={"type": "oauth", "oauth": block})


def cookie_conn(remote, password=None, ping="/private"):
    return http_conn(remote, ping={"relativeURI": ping},
                     auth={"type": "cookie", "cookie": {
                         "uri": "/login", "method": "POST", "successStatusCode": 200,
                         "body": '{"user":"me","password":"{{{connection.http.encrypted.password}}}"}'}},
                     encrypted={"password": password or LOGIN_PASSWORD})


def assert_no_secret(text, *extra):
    for s in (CLIENT_SECRET, OAUTH_PASSWORD, LOGIN_PASSWORD) + extra:
        assert s not in text, text
    for s in Remote.issued:
        assert s not in text, text


def requests_to(path):
    return [q for q in Remote.seen if urllib.parse.urlsplit(q["path"]).path == path]


def test_oauth_client_credentials_token_then_ping(api, remote):
    cid = create(api, oauth_conn(remote))
    Remote.seen.clear()
    r = ping_saved(api, cid)
    assert_status(r, 200)
    tok, ping = requests_to("/token"), requests_to("/private")
    assert len(tok) == 1 and len(ping) == 1, Remote.seen
    assert tok[0]["method"] == "POST"
    assert dict(urllib.parse.parse_qsl(tok[0]["body"])) == {"grant_type": "client_credentials"}
    assert tok[0]["headers"]["Authorization"] == "Basic " + base64.b64encode(
        ("%s:%s" % (CLIENT_ID, CLIENT_SECRET)).encode()).decode()
    token = ping[0]["headers"]["Authorization"][len("Bearer "):]
    assert token in Remote.issued
    assert body_of(api.get("/v1/connections/%s" % cid))["offline"] is False
    # a ping logs in now, every time; a run then takes the token it kept
    Remote.seen.clear()
    assert_status(ping_saved(api, cid, "POST"), 200)
    assert len(requests_to("/token")) == 1
    kept = requests_to("/private")[0]["headers"]["Authorization"]
    r = api.post("/v1/connections/%s/export" % cid, timeout=60,
                 json={"export": {"http": {"method": "GET", "relativeURI": "/private"}}})
    assert_status(r, 200)
    assert len(requests_to("/token")) == 1, "the run fetched a token of its own"
    assert requests_to("/private")[-1]["headers"]["Authorization"] == kept


def test_oauth_password_grant_body_credentials_and_token_in_the_url(api, remote):
    body = oauth_conn(remote, grantType="password", username=OAUTH_USER,
                      password=OAUTH_PASSWORD, clientCredentialsLocation="body",
                      scope=["read", "ping"])
    body["http"]["auth"]["token"] = {"location": "url"}
    Remote.seen.clear()
    assert_status(api.post("/v1/connections/ping", json=body), 200)
    form = dict(urllib.parse.parse_qsl(requests_to("/token")[0]["body"]))
    assert form == {"grant_type": "password", "username": OAUTH_USER,
                    "password": OAUTH_PASSWORD, "scope": "read ping",
                    "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    ping = requests_to("/private")[0]
    assert "Authorization" not in ping["headers"]
    assert dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(
        ping["path"]).query))["access_token"] in Remote.issued
    # an unsaved connection shares no token: each ping fetches its own
    assert_status(api.post("/v1/connections/ping", json=body), 200)
    assert len(requests_to("/token")) == 2


def test_oauth_bad_secret_and_token_endpoint_down(api, remote, allowed):
    wrong = secret_value("wrongclient")
    cid = create(api, oauth_conn(remote, clientSecret=wrong))
    Remote.seen.clear()
    for r in (ping_saved(api, cid), api.post("/v1/connections/ping",
                                             json=oauth_conn(remote, clientSecret=wrong))):
        msg = failed_message(r)
        assert msg == "auth_failed: the OAuth token request was answered 401", msg
        assert_no_secret(r.text, wrong)
    assert requests_to("/private") == [], "pinged without a token"
    assert body_of(api.get("/v1/connections/%s" % cid))["offline"] is True
    # a wrong password on the password grant
    bad = oauth_conn(remote, grantType="password", username=OAUTH_USER, password=wrong)
    assert "answered 401" in failed_message(api.post("/v1/connections/ping", json=bad))
    # the token endpoint cannot be reached
    closed = "http://127.0.0.1:%d/token" % free_port()
    r = api.post("/v1/connections/ping", json=oauth_conn(remote, tokenURI=closed))
    msg = failed_message(r)
    assert msg.startswith("auth_failed: the OAuth token request failed: "), msg
    assert "refused" in msg or "127.0.0.1" in msg, msg
    assert_no_secret(r.text)
    # an answer without a token
    r = api.post("/v1/connections/ping", json=oauth_conn(remote, tokenURI=remote + "/ok"))
    assert "no token at access_token" in failed_message(r)
    # the API refuses the token: the ping's own failure
    r = api.post("/v1/connections/ping", json=oauth_conn(remote, ping="/echo"))
    msg = failed_message(r)
    assert "answered 401" in msg and "******" in msg, msg
    assert_no_secret(r.text, wrong)
    assert_no_secret(allowed.all_output_text(), wrong)


def test_cookie_login_then_ping(api, remote, allowed):
    cid = create(api, cookie_conn(remote))
    Remote.seen.clear()
    assert_status(ping_saved(api, cid), 200)
    login, ping = requests_to("/login"), requests_to("/private")
    assert len(login) == 1 and len(ping) == 1, Remote.seen
    assert login[0]["method"] == "POST"
    assert json.loads(login[0]["body"]) == {"user": "me", "password": LOGIN_PASSWORD}
    cookies = ping[0]["headers"]["Cookie"]
    assert cookies.startswith("sid=") and cookies.endswith("; theme=dark"), cookies
    assert body_of(api.get("/v1/connections/%s" % cid))["offline"] is False
    # a refused login is the ping's failure; no cookie, no ping
    wrong = secret_value("wronglogin")
    Remote.seen.clear()
    for body in (cookie_conn(remote, wrong),):
        r = api.post("/v1/connections/ping", json=body)
        assert failed_message(r) == "auth_failed: the cookie login was answered 401"
        assert_no_secret(r.text, wrong)
    assert requests_to("/private") == []
    # a login answered without a cookie
    body = cookie_conn(remote)
    body["http"]["auth"]["cookie"]["uri"] = "/ok"
    assert failed_message(api.post("/v1/connections/ping", json=body)) == \
        "auth_failed: the cookie login set no cookie"
    assert_no_secret(allowed.all_output_text(), wrong)


def test_auth_a_ping_does_not_do(api, remote):
    user = {"username": "me", "password": secret_value("other")}
    for auth in ({"type": "digest", "basic": user}, {"type": "wsse", "basic": user},
                 {"type": "jwtbearer", "jwt": {"payload": {"sub": "me"},
                                               "signatureMethod": "hmac-sha256",
                                               "secret": secret_value("jwt")}},
                 {"type": "oauth1", "oauth1": {"signatureMethod": "HMAC-SHA1",
                                               "consumerKey": "key", "accessToken": secret_value("a")}},
                 {"type": "token", "token": {"token": secret_value("t"), "location": "body"}},
                 {"type": "oauth", "oauth": {"grantType": "authorizecode",
                                             "authURI": remote + "/auth",
                                             "tokenURI": remote + "/token"}}):
        r = api.post("/v1/connections/ping", json=http_conn(remote, auth=auth))
        assert_error(r, 422, "invalid_type")
        msg = body_of(r)["errors"][0]["message"]
        assert auth["type"] in msg or "body" in msg, msg
    # the legacy rest block's oauth and cookie are not the run engine's
    for t in ("oauth", "cookie"):
        rest = {"name": unique("rest"), "type": "rest",
                "rest": {"baseURI": remote, "mediaType": "json", "authType": t}}
        assert_error(api.post("/v1/connections/ping", json=rest), 422, "invalid_type")
    # an oauth grant with a token of its own sends it as a run does
    token = secret_value("granted")
    Remote.issued.add(token)
    body = http_conn(remote, ping={"relativeURI": "/private"}, auth={
        "type": "oauth", "token": {"token": token},
        "oauth": {"grantType": "authorizecode", "authURI": remote + "/auth",
                  "tokenURI": remote + "/token"}})
    Remote.seen.clear()
    assert_status(api.post("/v1/connections/ping", json=body), 200)
    assert requests_to("/token") == []
