"""Authentication, tokenInfo, account isolation, token CLI."""

import re

import pytest

from apilib import (CONN_A, HEX24, JSON_CT, assert_error, assert_status, body_of,
                    http_body, needs_binary, netsuite_distributed_body, unique)

FAKE_ID = "0123456789abcdef01234567"

PROTECTED = [
    ("GET", "/v1/exports"),
    ("POST", "/v1/exports"),
    ("GET", "/v1/exports/" + FAKE_ID),
    ("PUT", "/v1/exports/" + FAKE_ID),
    ("DELETE", "/v1/exports/" + FAKE_ID),
    ("GET", "/v1/exports/" + FAKE_ID + "/distributed"),
    ("PUT", "/v1/exports/" + FAKE_ID + "/distributed"),
    ("POST", "/v1/exports/" + FAKE_ID + "/clone"),
    ("GET", "/v1/tokenInfo"),
]


def assert_401(resp):
    assert_error(resp, 401, "unauthorized")
    www = resp.headers.get("WWW-Authenticate")
    assert www is not None and re.match(r"^Bearer\b", www), "WWW-Authenticate: %r" % www


def _flip_last(tok):
    return tok[:-1] + ("b" if tok[-1] != "b" else "c")


def test_health_needs_no_auth(unauth):
    r = unauth.get("/v1/health")
    assert_status(r, 200)
    assert body_of(r) == {"status": "ok"}


@pytest.mark.parametrize("method,path", PROTECTED)
def test_missing_token_is_401(unauth, method, path):
    kw = {"json": http_body()} if method in ("POST", "PUT") else {}
    assert_401(unauth.request(method, path, **kw))


@pytest.mark.parametrize("header", [
    "Bearer",
    "Bearer ",
    "Basic dXNlcjpwYXNzd29yZA==",
    "Token abcdef0123456789",
    "abcdef0123456789",
    "",
])
def test_malformed_authorization_is_401(unauth, header):
    r = unauth.get("/v1/exports", headers={"Authorization": header})
    assert_401(r)


def test_unknown_token_is_401(api, unauth):
    assert_401(unauth.get("/v1/exports", headers={"Authorization": "Bearer " + _flip_last(api.token)}))
    assert_401(unauth.get("/v1/tokenInfo", headers={"Authorization": "Bearer not-a-real-token-0000"}))
    # the real token next to a scheme it does not use
    assert_401(unauth.get("/v1/tokenInfo", headers={"Authorization": "Basic " + api.token}))


def test_valid_token_with_wrong_prefix_or_suffix_is_401(api, unauth):
    assert_401(unauth.get("/v1/tokenInfo", headers={"Authorization": "Bearer " + api.token + "x"}))
    assert_401(unauth.get("/v1/tokenInfo", headers={"Authorization": "Bearer " + api.token[1:]}))


def test_tokeninfo(api):
    r = api.get("/v1/tokenInfo")
    assert_status(r, 200)
    body = body_of(r)
    assert set(body) == {"_userId"}, body
    assert HEX24.match(body["_userId"]), body


@needs_binary
def test_tokeninfo_account_identity(local_server, new_api):
    acct = unique("acct-same")
    a1 = new_api(acct)
    a2 = new_api(acct)            # same account name: same account
    b = new_api()                 # another account
    u1 = body_of(a1.get("/v1/tokenInfo"))["_userId"]
    u2 = body_of(a2.get("/v1/tokenInfo"))["_userId"]
    ub = body_of(b.get("/v1/tokenInfo"))["_userId"]
    assert u1 == u2
    assert u1 != ub
    # the CLI describes the account id it created the token for
    assert u1 in a1.info["description"], a1.info["stdout"]
    assert a1.info["id"] != a2.info["id"]
    # two tokens of one account see the same exports
    e = a1.create(http_body())
    assert_status(a2.get("/v1/exports/" + e["_id"]), 200)
    assert_error(b.get("/v1/exports/" + e["_id"]), 404, "not_found")


@needs_binary
def test_token_printed_only_on_last_line(local_server):
    info = local_server.create_token(unique("acct-print"))
    assert info["token"] not in info["description"]
    assert info["stdout"].count(info["token"]) == 1
    assert info["token"] not in local_server.cli_outputs[-1], "token printed on stderr"


@needs_binary
def test_revoked_token_is_401(local_server, new_api):
    acct = unique("acct-revoke")
    keep = new_api(acct)
    gone = new_api(acct)
    assert_status(gone.get("/v1/tokenInfo"), 200)
    local_server.cli("token", "revoke", gone.info["id"])
    assert_401(gone.get("/v1/tokenInfo"))
    assert_401(gone.get("/v1/exports"))
    # the other token of the same account still works
    assert_status(keep.get("/v1/tokenInfo"), 200)


@needs_binary
def test_token_list_shows_ids_not_secrets(local_server, new_api):
    a = new_api()
    b = new_api()
    cp = local_server.cli("token", "list")
    out = cp.stdout + cp.stderr
    for t in (a, b):
        assert t.info["id"] in cp.stdout, cp.stdout
        assert t.account in cp.stdout, cp.stdout
    for tok in local_server.tokens:
        assert tok not in out, "token list printed a token secret"
    line_before = [l for l in cp.stdout.splitlines() if a.info["id"] in l]
    assert len(line_before) == 1, cp.stdout
    local_server.cli("token", "revoke", a.info["id"])
    cp2 = local_server.cli("token", "list")
    line_after = [l for l in cp2.stdout.splitlines() if a.info["id"] in l]
    assert len(line_after) == 1, cp2.stdout
    assert line_after != line_before, "token list does not show the revocation"
    other = [l for l in cp2.stdout.splitlines() if b.info["id"] in l]
    assert other == [l for l in cp.stdout.splitlines() if b.info["id"] in l]


@needs_binary
def test_revoke_unknown_token_fails(local_server):
    cp = local_server.cli("token", "revoke", "ffffffffffffffffffffffff", check=False)
    assert cp.returncode != 0


@needs_binary
def test_other_accounts_export_is_404(fresh_api, other_api):
    mine = fresh_api.create(http_body())
    dist = fresh_api.create(netsuite_distributed_body())
    before = fresh_api.fetch(mine["_id"])
    p = "/v1/exports/" + mine["_id"]
    assert_error(other_api.get(p), 404, "not_found")
    assert_error(other_api.put(p, json=http_body(name="stolen")), 404, "not_found")
    assert_error(other_api.delete(p), 404, "not_found")
    assert_error(other_api.post(p + "/clone", json={}), 404, "not_found")
    dp = "/v1/exports/" + dist["_id"] + "/distributed"
    assert_error(other_api.get(dp), 404, "not_found")
    assert_error(other_api.put(dp, json={"recordType": "salesorder"}), 404, "not_found")
    # nothing visible, nothing changed
    r = other_api.get("/v1/exports")
    assert_status(r, 204)
    assert fresh_api.fetch(mine["_id"]) == before
    assert fresh_api.fetch(dist["_id"]).get("netsuite") == {"type": "distributed"}
    items, _ = fresh_api.list_all()
    assert [e["_id"] for e in items] == [mine["_id"], dist["_id"]]
    # filter by another account's connection id does not leak either
    assert_status(other_api.get("/v1/exports", params={"_connectionId": CONN_A}), 204)


def test_401_has_json_content_type(unauth):
    r = unauth.get("/v1/exports")
    assert r.headers.get("Content-Type") == JSON_CT
