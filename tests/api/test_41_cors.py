"""CORS for browser clients: off by default; --cors-origin (repeatable, or
EXPORTD_CORS_ORIGIN separated by commas) grants listed origins, answers
their preflights without a token, and exposes the headers clients read."""

import os
import subprocess

import pytest
import requests

from apilib import BIN, REPO, assert_error, assert_status, needs_binary, simple_body

pytestmark = needs_binary

APP = "https://app.example.com"
DEV = "http://localhost:3000"
EVIL = "https://evil.example"


def acl(r):
    """The response's Access-Control-* headers, lowercased names."""
    return {k.lower(): v for k, v in r.headers.items() if k.lower().startswith("access-control-")}


def preflight(url, origin, method="PUT", headers="authorization,content-type,if-match"):
    h = {"Origin": origin, "Access-Control-Request-Method": method}
    if headers:
        h["Access-Control-Request-Headers"] = headers
    return requests.options(url, headers=h, timeout=10)


@pytest.fixture
def cors(server_factory):
    srv = server_factory(extra_args=["--cors-origin", APP, "--cors-origin", DEV])
    return srv, srv.api()


def test_off_by_default(api, base_url):
    r = api.get("/v1/exports", headers={"Origin": APP})
    assert r.status_code in (200, 204)
    assert acl(r) == {} and "Vary" not in r.headers
    r = preflight(base_url + "/v1/exports", APP, "POST")
    assert_error(r, 405, "method_not_allowed")
    assert acl(r) == {}


def test_allowed_origin_is_granted(cors):
    srv, a = cors
    e = a.create(simple_body())
    a.create(simple_body())
    for origin in (APP, DEV):
        r = a.get("/v1/exports?limit=1", headers={"Origin": origin})
        assert_status(r, 200)
        assert r.headers["Access-Control-Allow-Origin"] == origin
        assert "Origin" in r.headers["Vary"]
        exposed = {h.strip().lower() for h in r.headers["Access-Control-Expose-Headers"].split(",")}
        assert {"link", "etag", "location", "retry-after", "x-request-id"} <= exposed
        assert "Access-Control-Allow-Credentials" not in r.headers
    r = a.post("/v1/exports", json=simple_body(), headers={"Origin": APP})
    assert_status(r, 201)
    assert r.headers["Access-Control-Allow-Origin"] == APP and "Location" in r.headers
    # errors too, so that the page can read them
    r = requests.get(srv.url + "/v1/exports/" + e["_id"], headers={"Origin": APP}, timeout=10)
    assert_error(r, 401, "unauthorized")
    assert r.headers["Access-Control-Allow-Origin"] == APP


def test_other_origins_are_not_granted(cors):
    srv, a = cors
    for origin in (EVIL, APP + ":8443", "http://app.example.com", APP + ".evil", "null"):
        r = a.get("/v1/exports", headers={"Origin": origin})
        assert r.status_code in (200, 204)
        assert acl(r) == {}, (origin, acl(r))
        assert "Origin" in r.headers["Vary"]
    r = a.get("/v1/exports")        # no Origin: not a browser's CORS request
    assert acl(r) == {} and "Origin" in r.headers["Vary"]


def test_preflight_needs_no_token(cors):
    srv, a = cors
    e = a.create(simple_body())
    r = preflight(srv.url + "/v1/exports/" + e["_id"], APP, "PUT")
    assert_status(r, 204)
    assert r.content == b""
    g = acl(r)
    assert g["access-control-allow-origin"] == APP
    methods = {m.strip() for m in g["access-control-allow-methods"].split(",")}
    assert {"GET", "PUT", "DELETE"} <= methods and "POST" not in methods
    allowed = {h.strip().lower() for h in g["access-control-allow-headers"].split(",")}
    assert {"authorization", "content-type", "if-match"} <= allowed
    assert int(g["access-control-max-age"]) > 0
    assert "access-control-allow-credentials" not in g
    # the list route: POST is among its methods
    r = preflight(srv.url + "/v1/exports", DEV, "POST", headers=None)
    assert_status(r, 204)
    assert "POST" in acl(r)["access-control-allow-methods"]


def test_preflight_from_other_origin_gets_no_grant(cors):
    srv, _ = cors
    r = preflight(srv.url + "/v1/exports", EVIL, "POST")
    assert_status(r, 204)
    assert acl(r) == {}


def test_preflight_of_unknown_path_is_404(cors):
    srv, _ = cors
    r = preflight(srv.url + "/v1/nothing", APP, "GET")
    assert_error(r, 404, "not_found")


def test_plain_options_is_still_405(cors):
    srv, _ = cors
    r = requests.options(srv.url + "/v1/exports", headers={"Origin": APP}, timeout=10)
    assert_error(r, 405, "method_not_allowed")
    assert r.headers["Access-Control-Allow-Origin"] == APP


def test_any_origin(server_factory):
    srv = server_factory(extra_args=["--cors-origin", "*"])
    a = srv.api()
    r = a.get("/v1/exports", headers={"Origin": EVIL})
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in r.headers
    r = preflight(srv.url + "/v1/exports", EVIL, "POST")
    assert_status(r, 204)
    assert acl(r)["access-control-allow-origin"] == "*"


def test_environment_list_and_flag_override(server_factory):
    env = {"EXPORTD_CORS_ORIGIN": "%s, %s" % (APP, DEV)}
    srv = server_factory(env=env)
    for origin in (APP, DEV):
        r = requests.get(srv.url + "/v1/health", headers={"Origin": origin}, timeout=10)
        assert r.headers.get("Access-Control-Allow-Origin") == origin
    # a flag on the command line replaces the environment's list
    srv = server_factory(env=env, extra_args=["--cors-origin", EVIL])
    r = requests.get(srv.url + "/v1/health", headers={"Origin": APP}, timeout=10)
    assert "Access-Control-Allow-Origin" not in r.headers
    r = requests.get(srv.url + "/v1/health", headers={"Origin": EVIL}, timeout=10)
    assert r.headers.get("Access-Control-Allow-Origin") == EVIL


@pytest.mark.parametrize("bad", [
    "app.example.com", "https://app.example.com/", "https://app.example.com/x",
    "ftp://app.example.com", "https://user@app.example.com", "null", "https://",
])
def test_bad_origin_refused_at_start(tmp_path, bad):
    data = tmp_path / "data"
    cp = subprocess.run([str(BIN), "serve", "--listen", "127.0.0.1:0", "--data-dir", str(data),
                         "--cors-origin", APP, "--cors-origin", bad],
                        capture_output=True, text=True, timeout=30, cwd=str(REPO),
                        stdin=subprocess.DEVNULL)
    assert cp.returncode != 0
    assert "--cors-origin" in cp.stderr and bad in cp.stderr, cp.stderr
    assert not data.exists() or os.listdir(data) == []


def test_help_lists_the_option():
    cp = subprocess.run([str(BIN), "serve", "--help"], capture_output=True, text=True,
                        timeout=30, cwd=str(REPO))
    assert cp.returncode == 0 and "--cors-origin ORIGIN" in cp.stdout
    assert "EXPORTD_CORS_ORIGIN" in cp.stdout
