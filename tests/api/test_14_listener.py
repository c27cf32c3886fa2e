"""Webhook listener (spec section 7).  Also the strongest proof of the
secret rules: a key kept by "******" still verifies signatures."""

import base64
import hashlib
import hmac
import urllib.error
import urllib.request

from apilib import assert_status, secret_value, webhook_body

PAYLOAD = b'{"action":"opened","number":1}'
JSON_HDR = {"Content-Type": "application/json"}


def gh_sig(key, body):
    return "sha256=" + hmac.new(key.encode(), body, hashlib.sha256).hexdigest()


def data_path(e, token=None):
    if token:
        return "/v1/exports/%s/%s/data" % (e["_id"], token)
    return "/v1/exports/%s/data" % e["_id"]


def test_github_signature(api, unauth, leak_watch):
    key = secret_value("gh")
    leak_watch.append(key)
    e = api.create(webhook_body(webhook={"provider": "github", "key": key}))
    r = unauth.post(data_path(e), data=PAYLOAD,
                    headers=dict(JSON_HDR, **{"X-Hub-Signature-256": gh_sig(key, PAYLOAD)}))
    assert_status(r, 204)
    r = unauth.post(data_path(e), data=PAYLOAD,
                    headers=dict(JSON_HDR, **{"X-Hub-Signature-256": gh_sig("wrong", PAYLOAD)}))
    assert_status(r, 401)
    r = unauth.post(data_path(e), data=PAYLOAD, headers=JSON_HDR)
    assert_status(r, 401)
    r = unauth.put(data_path(e), data=PAYLOAD,
                   headers=dict(JSON_HDR, **{"X-Hub-Signature-256": gh_sig(key, PAYLOAD)}))
    assert_status(r, 204)


def test_masked_put_keeps_real_key(api, unauth, leak_watch):
    key = secret_value("ghkeep")
    leak_watch.append(key)
    e = api.create(webhook_body(webhook={"provider": "github", "key": key}))
    api.replace(e["_id"], webhook_body(name="renamed", webhook={"provider": "github", "key": "******"}))
    r = unauth.post(data_path(e), data=PAYLOAD,
                    headers=dict(JSON_HDR, **{"X-Hub-Signature-256": gh_sig(key, PAYLOAD)}))
    assert_status(r, 204)
    # and a literal "******" was not stored as the key
    r = unauth.post(data_path(e), data=PAYLOAD,
                    headers=dict(JSON_HDR, **{"X-Hub-Signature-256": gh_sig("******", PAYLOAD)}))
    assert_status(r, 401)


def test_cloned_key_verifies(api, unauth, leak_watch):
    key = secret_value("ghclone")
    leak_watch.append(key)
    e = api.create(webhook_body(webhook={"provider": "github", "key": key}))
    r = api.post("/v1/exports/%s/clone" % e["_id"])
    assert_status(r, 201)
    c = r.json()
    r = unauth.post(data_path(c), data=PAYLOAD,
                    headers=dict(JSON_HDR, **{"X-Hub-Signature-256": gh_sig(key, PAYLOAD)}))
    assert_status(r, 204)


def test_secret_url(api, unauth, server):
    tok = secret_value("url").replace("-", "")
    e = api.create(webhook_body(webhook={"provider": "custom", "verify": "secret_url", "token": tok}))
    r1 = unauth.post(data_path(e, tok), data=PAYLOAD, headers=JSON_HDR)
    r2 = unauth.post(data_path(e, tok[:-1] + ("1" if tok[-1] == "0" else "0")), data=PAYLOAD, headers=JSON_HDR)
    r3 = unauth.post(data_path(e), data=PAYLOAD, headers=JSON_HDR)
    if server is not None:
        # the URL token is a secret: the access log must not carry it
        assert tok not in server.stderr_text(), "webhook.token from the listener URL is in the access log"
    assert_status(r1, 204)
    # a wrong URL token fails verification like any other check: 401, the
    # same answer as a missing one; an unknown export is 404
    assert_status(r2, 401)
    assert_status(r3, 401)
    assert r2.json() == r3.json()
    assert_status(unauth.post(data_path({"_id": "0" * 24}, tok), data=PAYLOAD,
                              headers=JSON_HDR), 404)


def test_token_in_header(api, unauth, leak_watch):
    tok = secret_value("hdr")
    leak_watch.append(tok)
    e = api.create(webhook_body(webhook={
        "provider": "custom", "verify": "token", "tokenLocation": "header",
        "tokenHeaderName": "X-Webhook-Token", "tokenHeaderScheme": "none", "token": tok}))
    assert_status(unauth.post(data_path(e), data=PAYLOAD,
                              headers=dict(JSON_HDR, **{"X-Webhook-Token": tok})), 204)
    assert_status(unauth.post(data_path(e), data=PAYLOAD,
                              headers=dict(JSON_HDR, **{"X-Webhook-Token": tok + "x"})), 401)


def test_basic_auth(api, unauth, leak_watch):
    pw = secret_value("basic")
    leak_watch.append(pw)
    e = api.create(webhook_body(webhook={"provider": "custom", "verify": "basic",
                                         "username": "user", "password": pw}))
    good = "Basic " + base64.b64encode(("user:" + pw).encode()).decode()
    bad = "Basic " + base64.b64encode(b"user:nope").decode()
    assert_status(unauth.post(data_path(e), data=PAYLOAD, headers=dict(JSON_HDR, Authorization=good)), 204)
    r = unauth.post(data_path(e), data=PAYLOAD, headers=dict(JSON_HDR, Authorization=bad))
    assert_status(r, 401)
    # the challenge asks for Basic credentials, once
    assert r.headers.get("WWW-Authenticate", "").startswith("Basic realm="), r.headers
    assert "Bearer" not in r.headers["WWW-Authenticate"]


def test_basic_auth_sender_that_waits_for_the_challenge(api, base_url, leak_watch):
    # urllib's HTTPBasicAuthHandler sends credentials only after a 401 that
    # asks for Basic, as many HTTP client libraries do
    pw = secret_value("basic")
    leak_watch.append(pw)
    e = api.create(webhook_body(webhook={"provider": "custom", "verify": "basic",
                                         "username": "user", "password": pw}))
    url = base_url + data_path(e)
    mgr = urllib.request.HTTPPasswordMgrWithDefaultRealm()
    mgr.add_password(None, url, "user", pw)
    opener = urllib.request.build_opener(urllib.request.HTTPBasicAuthHandler(mgr))
    req = urllib.request.Request(url, data=PAYLOAD, headers=JSON_HDR, method="POST")
    with opener.open(req, timeout=10) as resp:
        assert resp.status == 204
    entries = api.get("/v1/exports/%s/inbox" % e["_id"]).json()["records"]
    assert [x["record"] for x in entries] == [{"action": "opened", "number": 1}]
    # other methods keep the plain challenge
    h = api.create(webhook_body(webhook={"provider": "custom", "verify": "token",
                                         "tokenLocation": "header", "tokenHeaderName": "X-T",
                                         "tokenHeaderScheme": "none", "token": pw}))
    try:
        urllib.request.urlopen(urllib.request.Request(base_url + data_path(h), data=PAYLOAD,
                                                      headers=JSON_HDR, method="POST"), timeout=10)
        raise AssertionError("an unverified delivery was accepted")
    except urllib.error.HTTPError as err:
        assert err.code == 401
        assert not err.headers.get("WWW-Authenticate", "").startswith("Basic")


def test_custom_hmac_base64(api, unauth, leak_watch):
    key = secret_value("hm")
    leak_watch.append(key)
    e = api.create(webhook_body(webhook={"provider": "custom", "verify": "hmac", "algorithm": "sha512",
                                         "encoding": "base64", "header": "X-Sig", "key": key}))
    sig = base64.b64encode(hmac.new(key.encode(), PAYLOAD, hashlib.sha512).digest()).decode()
    assert_status(unauth.post(data_path(e), data=PAYLOAD, headers=dict(JSON_HDR, **{"x-sig": sig})), 204)
    assert_status(unauth.post(data_path(e), data=PAYLOAD + b" ", headers=dict(JSON_HDR, **{"X-Sig": sig})), 401)
