"""Webhook verification, method by method and provider by provider
(export-api.md section 7, export-model.md section 6, docs/webhooks.md).

Every signature is computed here, with hmac/hashlib/base64, from the
provider's published scheme; nothing is taken from the server.  For each
rule: a correctly signed delivery is accepted (204, no body) and its record
lands in the inbox; every wrong variant is refused (401, or 404 for a wrong
URL token) and leaves the inbox exactly as it was.  Every 401 has the same
bytes, whatever check failed."""

import json
import time
import uuid

import pytest

from apilib import (Api, assert_no_body, assert_status, basic_auth, body_of, hook_path,
                    inbox_all, mac_b64, mac_hex, secret_value, webhook_body)

URL_TOKEN_PROVIDERS = [
    "custom", "stripe", "box", "intercom", "pagerduty", "postmark", "mailchimp",
    "activecampaign", "aha", "jira", "segment", "recurly", "parseur", "mailparser",
    "mailparser-io", "sapariba",
]
METHOD_ONLY_PROVIDERS = [
    "shipwire", "errorception", "travis", "travis-org", "onfleet", "happyreturns",
    "typeform", "integrator-extension",
]
# Words a 401 must not carry: it may not say which check failed.
HINTS = ("signature", "timestamp", "hmac", "token", "password", "username", "key",
         "header", "mismatch", "missing", "stale", "expired", "secret", "basic")


def payload(tag="evt"):
    return json.dumps({"event": tag, "id": uuid.uuid4().hex, "n": 1}).encode()


def url_token():
    return uuid.uuid4().hex


@pytest.fixture(scope="module")
def ref401(api, base_url):
    """The body of one refusal (hmac export, signature header missing)."""
    unauth = Api(base_url, None)
    e = api.create(webhook_body(webhook={
        "provider": "custom", "verify": "hmac", "algorithm": "sha256",
        "encoding": "hex", "header": "X-Sig", "key": secret_value("ref")}))
    r = unauth.post(hook_path(e), data=b'{"a":1}', headers={"Content-Type": "application/json"},
                    retry_429=False, timeout=15)
    assert_status(r, 401)
    doc = body_of(r)
    errs = doc.get("errors")
    assert isinstance(errs, list) and len(errs) == 1 and errs[0].get("code") == "unauthorized", doc
    msg = r.content.decode().lower()
    for w in HINTS:
        assert w not in msg, "the 401 body hints at the failed check (%r): %r" % (w, r.content)
    return r.content


@pytest.fixture(scope="module")
def ref404(base_url):
    """The body for an export that does not exist (with a URL token)."""
    unauth = Api(base_url, None)
    r = unauth.post(hook_path("0123456789abcdef01234567", url_token()), data=b'{"a":1}',
                    headers={"Content-Type": "application/json"}, retry_429=False, timeout=15)
    assert_status(r, 404)
    return r.content


class Hook:
    """One webhook export and the records it should hold."""

    def __init__(self, api, unauth, webhook, ref401, ref404, leak_watch=None):
        for k in ("key", "token", "password"):
            if leak_watch is not None and webhook.get(k):
                leak_watch.append(webhook[k])
        self.api, self.unauth = api, unauth
        self.ref401, self.ref404 = ref401, ref404
        self.e = api.create(webhook_body(webhook=webhook))
        self.id = self.e["_id"]
        self.accepted = []

    def url(self, token=None):
        return self.unauth.base_url + hook_path(self.e, token)

    def send(self, body, headers=None, method="POST", token=None, params=None,
             ct="application/json"):
        h = {"Content-Type": ct} if ct else {}
        h.update(headers or {})
        return self.unauth.request(method, hook_path(self.e, token), data=body, headers=h,
                                   params=params, retry_429=False, timeout=15)

    def ok(self, body, stored=None, **kw):
        """Accepted; the inbox keeps the body as sent, or stored if given."""
        r = self.send(body, **kw)
        assert_status(r, 204)
        assert_no_body(r)
        self.accepted.append(json.loads(body) if stored is None else stored)
        return r

    def refused(self, body, status=401, **kw):
        r = self.send(body, **kw)
        assert_status(r, status)
        ref = self.ref401 if status == 401 else self.ref404
        assert r.content == ref, "refusal body differs from every other %d: %r vs %r" % (
            status, r.content, ref)
        return r

    def check_inbox(self, hidden=()):
        entries = inbox_all(self.api, self.id)
        assert [x["record"] for x in entries] == self.accepted, \
            "inbox holds %r, expected exactly the accepted %r" % (
                [x["record"] for x in entries], self.accepted)
        for x in entries:
            kept = {k.lower() for k in x["headers"]}
            for h in hidden:
                assert h.lower() not in kept, "header %r kept in the inbox: %r" % (h, x["headers"])
        return entries


@pytest.fixture
def hook(api, unauth, ref401, ref404, leak_watch):
    def make(webhook):
        return Hook(api, unauth, webhook, ref401, ref404, leak_watch)
    return make


# --------------------------------------------------------------------------
# Generic methods: hmac


ALGOS = ["sha1", "sha256", "sha384", "sha512"]


@pytest.mark.parametrize("prefixed", [False, True], ids=["bare", "prefixed"])
@pytest.mark.parametrize("encoding", ["hex", "base64"])
@pytest.mark.parametrize("algo", ALGOS)
def test_hmac(hook, algo, encoding, prefixed):
    key = secret_value("hmac")
    h = hook({"provider": "custom", "verify": "hmac", "algorithm": algo,
              "encoding": encoding, "header": "X-Custom-Sig", "key": key})
    sign = mac_hex if encoding == "hex" else mac_b64

    def hdr(k, body):
        s = sign(k, body, algo)
        return {"X-Custom-Sig": ("%s=%s" % (algo, s)) if prefixed else s}

    body = payload("hmac")
    h.ok(body, headers=hdr(key, body))
    # header name matched case-insensitively
    body2 = payload("hmac2")
    h.ok(body2, headers={"x-custom-sig": hdr(key, body2)["X-Custom-Sig"]})
    bad = payload("bad")
    h.refused(bad, headers=hdr(key + "x", bad))                      # wrong key
    h.refused(bad + b" ", headers=hdr(key, bad))                     # tampered body
    h.refused(bad, headers={})                                        # missing header
    h.refused(bad, headers={"X-Other-Sig": hdr(key, bad)["X-Custom-Sig"]})
    other = "sha1" if algo != "sha1" else "sha256"                    # wrong algorithm
    h.refused(bad, headers={"X-Custom-Sig": sign(key, bad, other)})
    h.refused(bad, headers={"X-Custom-Sig": ""})
    h.check_inbox(hidden=["x-custom-sig"])


def test_hmac_hex_any_case_and_blanks(hook):
    key = secret_value("hmcase")
    h = hook({"provider": "custom", "verify": "hmac", "algorithm": "sha256",
              "encoding": "hexadecimal", "header": "X-Sig", "key": key})
    body = payload()
    h.ok(body, headers={"X-Sig": mac_hex(key, body).upper()})
    body = payload()
    h.ok(body, headers={"X-Sig": "SHA256=" + mac_hex(key, body).upper()})
    # a truncated signature is not a prefix match
    body = payload()
    h.refused(body, headers={"X-Sig": mac_hex(key, body)[:-2]})
    h.check_inbox(hidden=["x-sig"])


def test_hmac_default_algorithm_and_base64_padding_prefix(hook):
    """A base64 signature that ends in '=' is not mistaken for a prefix."""
    key = secret_value("hmpad")
    h = hook({"provider": "custom", "verify": "hmac", "algorithm": "sha256",
              "encoding": "base64", "header": "X-Sig", "key": key})
    for _ in range(6):
        body = payload("pad")
        sig = mac_b64(key, body)
        assert sig.endswith("=")
        h.ok(body, headers={"X-Sig": sig})
    h.check_inbox()


# --------------------------------------------------------------------------
# Generic methods: token


def test_token_in_body_path(hook):
    tok = secret_value("bodytok")
    h = hook({"provider": "custom", "verify": "token", "tokenLocation": "body",
              "path": "meta.token", "token": tok})
    # the credential is verified, then not stored
    h.ok(json.dumps({"meta": {"token": tok}, "x": 1}).encode(), stored={"meta": {}, "x": 1})
    # default location is the body
    h.refused(json.dumps({"meta": {"token": tok + "x"}, "x": 2}).encode())
    h.refused(json.dumps({"meta": {"token": tok.upper()}, "x": 3}).encode())
    h.refused(json.dumps({"meta": {"token": " " + tok}, "x": 4}).encode())
    h.refused(json.dumps({"meta": {}, "x": 5}).encode())
    h.refused(json.dumps({"token": tok, "x": 6}).encode())
    h.refused(json.dumps({"meta": {"token": [tok]}, "x": 7}).encode())
    # the older schema: the query parameter named by path is checked too
    h.ok(b'{"x":8}', params={"meta.token": tok})
    h.refused(b'{"x":9}', params={"meta.token": tok + "y"})
    # the body parsed by its media type: urlencoded
    h2 = hook({"provider": "custom", "verify": "token", "path": "auth", "token": tok})
    r = h2.send(("auth=%s&x=1" % tok).encode(), ct="application/x-www-form-urlencoded")
    assert_status(r, 204)
    h2.accepted.append({"x": "1"})
    h2.refused(b"auth=nope&x=2", ct="application/x-www-form-urlencoded")
    h.check_inbox()
    h2.check_inbox()


def test_token_header_bearer(hook):
    tok = secret_value("bearer")
    h = hook({"provider": "custom", "verify": "token", "tokenLocation": "header",
              "tokenHeaderName": "Authorization", "tokenHeaderScheme": "bearer", "token": tok})
    h.ok(payload(), headers={"Authorization": "Bearer " + tok})
    h.ok(payload(), headers={"Authorization": "bearer   " + tok})
    h.refused(payload(), headers={"Authorization": tok})
    h.refused(payload(), headers={"Authorization": "Bearer" + tok})
    h.refused(payload(), headers={"Authorization": "Bearer " + tok + "x"})
    h.refused(payload(), headers={"Authorization": "Basic " + tok})
    h.refused(payload(), headers={"Authorization": "Bearer " + tok.lower()})
    h.refused(payload())
    h.check_inbox(hidden=["authorization"])


def test_token_header_default_scheme_is_bearer(hook):
    tok = secret_value("bearer2")
    h = hook({"provider": "custom", "verify": "token", "tokenLocation": "header",
              "tokenHeaderName": "X-Api-Auth", "token": tok})
    h.ok(payload(), headers={"X-Api-Auth": "Bearer " + tok})
    h.refused(payload(), headers={"X-Api-Auth": tok})
    h.refused(payload(), headers={"Authorization": "Bearer " + tok})
    h.check_inbox(hidden=["x-api-auth"])


def test_token_header_custom_scheme(hook):
    tok = secret_value("custom")
    h = hook({"provider": "custom", "verify": "token", "tokenLocation": "header",
              "tokenHeaderName": "X-Pass", "tokenHeaderScheme": "custom",
              "customTokenScheme": "Token", "token": tok})
    h.ok(payload(), headers={"X-Pass": "Token " + tok})
    h.ok(payload(), headers={"X-Pass": "token " + tok})
    h.refused(payload(), headers={"X-Pass": "Bearer " + tok})
    h.refused(payload(), headers={"X-Pass": "Token " + tok[:-1]})
    h.refused(payload(), headers={"X-Pass": tok})
    h.check_inbox(hidden=["x-pass"])


def test_token_header_none_scheme(hook):
    tok = secret_value("none")
    h = hook({"provider": "custom", "verify": "token", "tokenLocation": "header",
              "tokenHeaderName": "X-Webhook-Token", "tokenHeaderScheme": "none", "token": tok})
    h.ok(payload(), headers={"X-Webhook-Token": tok})
    h.refused(payload(), headers={"X-Webhook-Token": "Bearer " + tok})
    h.refused(payload(), headers={"X-Webhook-Token": tok + "0"})
    h.refused(payload(), headers={"X-Webhook-Token": tok.swapcase()})
    h.refused(payload())
    h.check_inbox(hidden=["x-webhook-token"])


def test_token_query_param(hook):
    tok = secret_value("query")
    h = hook({"provider": "custom", "verify": "token", "tokenLocation": "queryParam",
              "tokenQueryParamName": "auth", "token": tok})
    h.ok(payload(), params={"auth": tok})
    h.refused(payload(), params={"auth": tok + "1"})
    h.refused(payload(), params={"other": tok})
    h.refused(payload(), headers={"Authorization": "Bearer " + tok})
    h.refused(payload())
    h.check_inbox()


# --------------------------------------------------------------------------
# Generic methods: basic, secret_url


def test_basic(hook):
    pw = secret_value("basic")
    h = hook({"provider": "custom", "verify": "basic", "username": "hookuser", "password": pw})
    h.ok(payload(), headers={"Authorization": basic_auth("hookuser", pw)})
    h.ok(payload(), headers={"Authorization": basic_auth("hookuser", pw).replace("Basic", "basic")})
    h.refused(payload(), headers={"Authorization": basic_auth("hookuser", pw + "x")})
    h.refused(payload(), headers={"Authorization": basic_auth("hookuser", pw[:-1])})
    h.refused(payload(), headers={"Authorization": basic_auth("HookUser", pw)})
    h.refused(payload(), headers={"Authorization": basic_auth("other", pw)})
    h.refused(payload(), headers={"Authorization": "Bearer " + pw})
    h.refused(payload(), headers={"Authorization": "Basic !!notbase64!!"})
    h.refused(payload())
    h.check_inbox(hidden=["authorization"])


def test_basic_password_with_colon(hook):
    pw = "pa:ss:" + uuid.uuid4().hex
    h = hook({"provider": "custom", "verify": "basic", "username": "u", "password": pw})
    h.ok(payload(), headers={"Authorization": basic_auth("u", pw)})
    h.refused(payload(), headers={"Authorization": basic_auth("u:pa", pw)})
    h.check_inbox()


def test_secret_url(hook):
    tok = url_token()
    h = hook({"provider": "custom", "verify": "secret_url", "token": tok})
    h.ok(payload(), token=tok)
    h.ok(payload(), token=tok, method="PUT")
    h.refused(payload(), token=tok[:-1] + ("0" if tok[-1] != "0" else "1"))
    h.refused(payload(), token=tok.upper())
    h.refused(payload(), token=tok + "0")
    h.refused(payload())                     # no URL token at all
    h.check_inbox()


# --------------------------------------------------------------------------
# Providers with a built-in signature rule


def test_github_sha256_and_legacy_sha1(hook):
    key = secret_value("github")
    h = hook({"provider": "github", "key": key})
    body = payload("push")
    h.ok(body, headers={"X-Hub-Signature-256": "sha256=" + mac_hex(key, body),
                        "X-GitHub-Event": "push"})
    body = payload("legacy")
    h.ok(body, headers={"X-Hub-Signature": "sha1=" + mac_hex(key, body, "sha1")})
    bad = payload("bad")
    h.refused(bad, headers={"X-Hub-Signature-256": "sha256=" + mac_hex(key + "x", bad)})
    h.refused(bad + b"\n", headers={"X-Hub-Signature-256": "sha256=" + mac_hex(key, bad)})
    h.refused(bad, headers={"X-Hub-Signature": "sha1=" + mac_hex(key, bad, "sha1") + "00"})
    h.refused(bad, headers={"X-Hub-Signature-256": "sha1=" + mac_hex(key, bad, "sha1")})
    h.refused(bad)
    # the legacy header only counts when X-Hub-Signature-256 is absent
    h.refused(bad, headers={"X-Hub-Signature-256": "sha256=" + mac_hex("nope", bad),
                            "X-Hub-Signature": "sha1=" + mac_hex(key, bad, "sha1")})
    # a URL token on an export not verified by URL does not verify it
    good = payload("tok")
    h.refused(good, token=url_token(),
              headers={"X-Hub-Signature-256": "sha256=" + mac_hex(key, good)})
    entries = h.check_inbox(hidden=["x-hub-signature-256", "x-hub-signature"])
    assert entries[0]["headers"].get("x-github-event") == "push", entries[0]["headers"]


def test_github_ignores_verify_and_needs_key(hook):
    # built-in rule whatever verify says
    key, tok = secret_value("ghv"), secret_value("ghvt")
    h = hook({"provider": "github", "verify": "token", "tokenLocation": "header",
              "tokenHeaderName": "X-Token", "tokenHeaderScheme": "none", "token": tok, "key": key})
    body = payload()
    h.ok(body, headers={"X-Hub-Signature-256": "sha256=" + mac_hex(key, body)})
    h.refused(payload(), headers={"X-Token": tok})
    h.check_inbox()
    # no key stored: nothing verifies (not even a MAC with an empty key)
    h2 = hook({"provider": "github"})
    body = payload()
    h2.refused(body, headers={"X-Hub-Signature-256": "sha256=" + mac_hex("", body)})
    h2.refused(body, headers={"X-Hub-Signature-256": "sha256=" + mac_hex("******", body)})
    h2.check_inbox()


def test_shopify(hook):
    key = secret_value("shopify")
    h = hook({"provider": "shopify", "key": key})
    body = payload("orders/create")
    h.ok(body, headers={"X-Shopify-Hmac-Sha256": mac_b64(key, body),
                        "X-Shopify-Topic": "orders/create"})
    bad = payload()
    h.refused(bad, headers={"X-Shopify-Hmac-Sha256": mac_b64(key + "1", bad)})
    h.refused(bad[:-1] + b" }", headers={"X-Shopify-Hmac-Sha256": mac_b64(key, bad)})
    h.refused(bad, headers={"X-Shopify-Hmac-Sha256": mac_hex(key, bad)})
    h.refused(bad, headers={"X-Shopify-Hmac-Sha256": mac_b64(key, bad, "sha1")})
    h.refused(bad)
    entries = h.check_inbox(hidden=["x-shopify-hmac-sha256"])
    assert entries[0]["headers"].get("x-shopify-topic") == "orders/create"


def slack_headers(key, body, ts=None, sign_ts=None):
    ts = str(int(time.time())) if ts is None else str(ts)
    base = b"v0:" + (sign_ts if sign_ts is not None else ts).encode() + b":" + body
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": "v0=" + mac_hex(key, base)}


def test_slack_v0(hook):
    key = secret_value("slack")
    h = hook({"provider": "slack", "key": key})
    body = payload("event_callback")
    h.ok(body, headers=slack_headers(key, body))
    now = int(time.time())
    body = payload("recent")
    h.ok(body, headers=slack_headers(key, body, ts=now - 200))
    bad = payload("bad")
    h.refused(bad, headers=slack_headers(key + "x", bad))
    h.refused(bad + b" ", headers=slack_headers(key, bad))
    # the clock is read just before each request: the window is 300 s
    h.refused(bad, headers=slack_headers(key, bad, ts=int(time.time()) - 302))   # stale
    h.refused(bad, headers=slack_headers(key, bad, ts=int(time.time()) - 3600))
    h.refused(bad, headers=slack_headers(key, bad, ts=int(time.time()) + 302))   # from the future
    h.refused(bad, headers=slack_headers(key, bad, ts=now, sign_ts=str(now - 1)))
    hd = slack_headers(key, bad)
    h.refused(bad, headers={"X-Slack-Signature": hd["X-Slack-Signature"]})
    h.refused(bad, headers={"X-Slack-Request-Timestamp": hd["X-Slack-Request-Timestamp"]})
    h.refused(bad, headers={"X-Slack-Request-Timestamp": hd["X-Slack-Request-Timestamp"],
                            "X-Slack-Signature": hd["X-Slack-Signature"][3:]})
    h.refused(bad, headers={"X-Slack-Request-Timestamp": hd["X-Slack-Request-Timestamp"],
                            "X-Slack-Signature": "v0=" + mac_hex(key, bad)})
    h.check_inbox(hidden=["x-slack-signature"])


def test_slack_form_encoded(hook):
    """Slash commands and interactivity come urlencoded; the signature is over
    the raw bytes."""
    key = secret_value("slackform")
    h = hook({"provider": "slack", "key": key})
    body = b"token=legacy&team_id=T1&command=%2Fweather&text=94070+now"
    r = h.send(body, headers=slack_headers(key, body), ct="application/x-www-form-urlencoded")
    assert_status(r, 204)
    h.accepted.append({"token": "legacy", "team_id": "T1", "command": "/weather", "text": "94070 now"})
    h.check_inbox()


def test_slack_legacy_verification_token(hook):
    tok = secret_value("slacktok")
    h = hook({"provider": "slack", "token": tok})
    h.ok(json.dumps({"token": tok, "type": "event_callback"}).encode(),
         stored={"type": "event_callback"})
    h.refused(json.dumps({"token": tok + "x", "type": "event_callback"}).encode())
    h.refused(json.dumps({"type": "event_callback"}).encode())
    h.check_inbox()


def test_dropbox(hook):
    key = secret_value("dropbox")
    h = hook({"provider": "dropbox", "key": key})
    body = json.dumps({"list_folder": {"accounts": ["dbid:AAH4f99T0taONIb-OurWxbNQ6ywGRopQngc"]},
                       "delta": {"users": [12345]}}).encode()
    h.ok(body, headers={"X-Dropbox-Signature": mac_hex(key, body)})
    bad = payload()
    h.refused(bad, headers={"X-Dropbox-Signature": mac_hex(key + "k", bad)})
    h.refused(bad + b"\t", headers={"X-Dropbox-Signature": mac_hex(key, bad)})
    h.refused(bad, headers={"X-Dropbox-Signature": mac_b64(key, bad)})
    h.refused(bad, headers={"X-Dropbox-Signature": mac_hex(key, bad, "sha1")})
    h.refused(bad)
    h.check_inbox(hidden=["x-dropbox-signature"])


def test_helpscout(hook):
    key = secret_value("helpscout")
    h = hook({"provider": "helpscout", "key": key})
    body = payload("convo.created")
    h.ok(body, headers={"X-HelpScout-Signature": mac_b64(key, body, "sha1"),
                        "X-HelpScout-Event": "convo.created"})
    bad = payload()
    h.refused(bad, headers={"X-HelpScout-Signature": mac_b64(key + "z", bad, "sha1")})
    h.refused(bad + b" ", headers={"X-HelpScout-Signature": mac_b64(key, bad, "sha1")})
    h.refused(bad, headers={"X-HelpScout-Signature": mac_b64(key, bad, "sha256")})
    h.refused(bad, headers={"X-HelpScout-Signature": mac_hex(key, bad, "sha1")})
    h.refused(bad)
    h.check_inbox(hidden=["x-helpscout-signature"])


def hubspot_headers(key, method, url, body, ts_ms=None):
    ts = str(int(time.time() * 1000) if ts_ms is None else ts_ms)
    src = method.encode() + url.encode() + body + ts.encode()
    return {"X-HubSpot-Signature-v3": mac_b64(key, src), "X-HubSpot-Request-Timestamp": ts}


def test_hubspot_v3(hook):
    key = secret_value("hubspot")
    h = hook({"provider": "hubspot", "key": key})
    url = h.url()
    assert url.startswith("http://127.0.0.1:") and url.endswith("/v1/exports/%s/data" % h.id)
    body = json.dumps([{"eventId": 1, "subscriptionType": "contact.creation",
                        "objectId": 123}]).encode()
    r = h.send(body, headers=hubspot_headers(key, "POST", url, body))
    assert_status(r, 204)
    h.accepted.append({"eventId": 1, "subscriptionType": "contact.creation", "objectId": 123})
    body = payload("put")
    h.ok(body, method="PUT", headers=hubspot_headers(key, "PUT", url, body))
    now = int(time.time() * 1000)
    body = payload("recent")
    h.ok(body, headers=hubspot_headers(key, "POST", url, body, ts_ms=now - 200000))
    bad = payload("bad")
    h.refused(bad, headers=hubspot_headers(key + "x", "POST", url, bad))
    h.refused(bad + b" ", headers=hubspot_headers(key, "POST", url, bad))
    h.refused(bad, headers=hubspot_headers(key, "POST", url, bad,
                                           ts_ms=int(time.time() * 1000) - 302000))   # stale
    h.refused(bad, headers=hubspot_headers(key, "POST", url, bad,
                                           ts_ms=int(time.time() * 1000) + 302000))
    h.refused(bad, headers=hubspot_headers(key, "POST", url, bad, ts_ms=now // 1000))   # seconds
    h.refused(bad, method="PUT", headers=hubspot_headers(key, "POST", url, bad))        # method signed
    h.refused(bad, headers=hubspot_headers(key, "POST", url.replace("127.0.0.1", "localhost"), bad))
    h.refused(bad, headers=hubspot_headers(key, "POST", hook_path(h.e), bad))             # relative URL
    h.refused(bad, headers=hubspot_headers(key, "POST", url + "?x=1", bad))
    hd = hubspot_headers(key, "POST", url, bad)
    h.refused(bad, headers={"X-HubSpot-Signature-v3": hd["X-HubSpot-Signature-v3"]})
    h.refused(bad, headers={"X-HubSpot-Request-Timestamp": hd["X-HubSpot-Request-Timestamp"]})
    # v1 (sha256 hex of secret + body) is not accepted
    import hashlib
    h.refused(bad, headers={"X-HubSpot-Signature": hashlib.sha256(key.encode() + bad).hexdigest(),
                            "X-HubSpot-Signature-Version": "v1"})
    h.check_inbox(hidden=["x-hubspot-signature-v3"])


def test_hubspot_v3_query_and_decoded_escapes(hook):
    """The URL signed is the one the request was sent to, query included,
    with HubSpot's listed escapes decoded."""
    key = secret_value("hubq")
    h = hook({"provider": "hubspot", "key": key})
    sent = h.url() + "?portalId=62515&redirect=https%3A%2F%2Fexample.com%2Fa%3Fb"
    signed = h.url() + "?portalId=62515&redirect=https://example.com/a?b"
    body = payload("q")
    r = h.unauth.request("POST", sent, data=body, retry_429=False, timeout=15,
                         headers=dict({"Content-Type": "application/json"},
                                      **hubspot_headers(key, "POST", signed, body)))
    assert_status(r, 204)
    h.accepted.append(json.loads(body))
    body = payload("q2")
    r = h.unauth.request("POST", sent, data=body, retry_429=False, timeout=15,
                         headers=dict({"Content-Type": "application/json"},
                                      **hubspot_headers(key, "POST", h.url(), body)))
    assert_status(r, 401)
    assert r.content == h.ref401
    h.check_inbox()


def test_surveymonkey(hook):
    key = "apikey%s&apisecret%s" % (uuid.uuid4().hex[:8], uuid.uuid4().hex[:8])
    h = hook({"provider": "surveymonkey", "key": key})
    body = json.dumps({"name": "My Webhook", "event_type": "response_completed",
                       "object_id": "123"}).encode()
    h.ok(body, headers={"Sm-Signature": mac_b64(key, body, "sha1")})
    bad = payload()
    h.refused(bad, headers={"Sm-Signature": mac_b64(key.split("&")[1], bad, "sha1")})
    h.refused(bad, headers={"Sm-Signature": mac_b64(key.split("&")[0], bad, "sha1")})
    h.refused(bad + b" ", headers={"Sm-Signature": mac_b64(key, bad, "sha1")})
    h.refused(bad, headers={"Sm-Signature": mac_b64(key, bad, "sha256")})
    h.refused(bad)
    h.check_inbox(hidden=["sm-signature"])


def test_trello(hook):
    key = secret_value("trello")
    h = hook({"provider": "trello", "key": key})
    cb = h.url()
    body = json.dumps({"action": {"type": "updateCard"}, "model": {"id": "4d5ea62fd76aa1136000000c"}}).encode()
    h.ok(body, headers={"X-Trello-Webhook": mac_b64(key, body + cb.encode(), "sha1")})
    bad = payload()
    h.refused(bad, headers={"X-Trello-Webhook": mac_b64(key, bad, "sha1")})               # URL left out
    h.refused(bad, headers={"X-Trello-Webhook": mac_b64(key + "x", bad + cb.encode(), "sha1")})
    h.refused(bad + b" ", headers={"X-Trello-Webhook": mac_b64(key, bad + cb.encode(), "sha1")})
    h.refused(bad, headers={"X-Trello-Webhook": mac_b64(
        key, bad + cb.replace("127.0.0.1", "localhost").encode(), "sha1")})
    h.refused(bad, headers={"X-Trello-Webhook": mac_b64(key, bad + cb.encode(), "sha256")})
    h.refused(bad)
    h.check_inbox(hidden=["x-trello-webhook"])


@pytest.mark.parametrize("provider", ["shopify", "slack", "dropbox", "helpscout", "hubspot",
                                      "surveymonkey", "trello"])
def test_signed_provider_without_key_refuses(hook, provider):
    h = hook({"provider": provider})
    body = payload()
    now = str(int(time.time()))
    h.refused(body, headers={
        "X-Shopify-Hmac-Sha256": mac_b64("", body), "X-Dropbox-Signature": mac_hex("", body),
        "X-Slack-Request-Timestamp": now, "X-Slack-Signature": "v0=" + mac_hex("", b"v0:" + now.encode() + b":" + body),
        "X-HelpScout-Signature": mac_b64("", body, "sha1"), "Sm-Signature": mac_b64("", body, "sha1"),
        "X-Trello-Webhook": mac_b64("", body + h.url().encode(), "sha1")})
    h.refused(body)
    h.check_inbox()


# --------------------------------------------------------------------------
# Secret-URL providers and method-only providers


@pytest.mark.parametrize("provider", URL_TOKEN_PROVIDERS)
def test_secret_url_providers(hook, provider):
    tok = url_token()
    wh = {"provider": provider, "token": tok}
    if provider == "custom":
        wh["verify"] = "secret_url"
    h = hook(wh)
    sent = {"provider": provider, "id": uuid.uuid4().hex}
    if provider == "stripe":
        # Stripe signs with t=...,v1=...; exportd verifies Stripe by URL, so
        # an arbitrary Stripe-Signature is neither needed nor harmful
        sent = {"id": "evt_1", "object": "event", "type": "charge.succeeded"}
    body = json.dumps(sent).encode()
    h.ok(body, token=tok, headers={"Stripe-Signature": "t=1,v1=00"} if provider == "stripe" else None)
    h.refused(payload(), token=url_token())
    h.refused(payload(), token=tok[:-1])
    h.refused(payload())
    h.check_inbox()


def test_secret_url_provider_with_named_method(hook):
    """verify names another method: the URL token no longer counts."""
    tok, key = url_token(), secret_value("stripehm")
    h = hook({"provider": "stripe", "verify": "hmac", "algorithm": "sha256", "encoding": "hex",
              "header": "X-Sig", "key": key, "token": tok})
    body = payload()
    h.ok(body, headers={"X-Sig": mac_hex(key, body)})
    h.refused(payload(), token=tok)
    h.refused(payload())
    h.check_inbox()


@pytest.mark.parametrize("provider", METHOD_ONLY_PROVIDERS)
def test_method_only_providers(hook, provider):
    tok = url_token()
    # without a verify method nothing is accepted
    h0 = hook({"provider": provider, "token": tok})
    h0.refused(payload())
    h0.refused(payload(), token=tok)
    h0.refused(payload(), headers={"Authorization": "Bearer " + tok})
    h0.check_inbox()
    # with one, that method decides
    key = secret_value(provider)
    h = hook({"provider": provider, "verify": "hmac", "algorithm": "sha256",
              "encoding": "base64", "header": "Typeform-Signature", "key": key})
    body = payload(provider)
    h.ok(body, headers={"Typeform-Signature": "sha256=" + mac_b64(key, body)})
    h.refused(body, headers={"Typeform-Signature": "sha256=" + mac_b64(key + "0", body)})
    h.check_inbox(hidden=["typeform-signature"])


def test_publickey_not_implemented(hook):
    h = hook({"provider": "travis", "verify": "publickey"})
    h.refused(b"payload=%7B%7D", ct="application/x-www-form-urlencoded",
              headers={"Signature": "AAAA"})
    h.check_inbox()


# --------------------------------------------------------------------------
# The refusal says nothing


def test_refusals_are_identical(hook, ref401):
    """One body for a wrong key, a stale timestamp, a missing header, a wrong
    password, a missing token and an unknown key: nothing says which."""
    key, pw, tok = secret_value("k"), secret_value("p"), secret_value("t")
    bodies = []
    gh = hook({"provider": "github", "key": key})
    sl = hook({"provider": "slack", "key": key})
    ba = hook({"provider": "custom", "verify": "basic", "username": "u", "password": pw})
    tk = hook({"provider": "custom", "verify": "token", "tokenLocation": "header",
               "tokenHeaderName": "X-T", "tokenHeaderScheme": "none", "token": tok})
    nk = hook({"provider": "dropbox"})
    b = payload()
    for h, hd in [
        (gh, {"X-Hub-Signature-256": "sha256=" + mac_hex("x", b)}),
        (gh, {}),
        (gh, {"X-Hub-Signature-256": "garbage"}),
        (sl, slack_headers(key, b, ts=int(time.time()) - 1000)),
        (sl, {"X-Slack-Request-Timestamp": "abc", "X-Slack-Signature": "v0=00"}),
        (ba, {"Authorization": basic_auth("u", "wrong")}),
        (ba, {"Authorization": basic_auth("nobody", pw)}),
        (tk, {}),
        (tk, {"X-T": tok + "!"}),
        (nk, {"X-Dropbox-Signature": mac_hex("", b)}),
    ]:
        r = h.send(b, headers=hd)
        assert_status(r, 401)
        bodies.append(r.content)
    assert set(bodies) == {ref401}, "401 bodies differ by reason: %r" % sorted(set(bodies))
    for h in (gh, sl, ba, tk, nk):
        h.check_inbox()
