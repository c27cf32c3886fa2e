"""Hardening of the webhook listener: what strangers, HEAD probes, body
credentials and amplifying deliveries may cost (docs/webhooks.md)."""

import json
import uuid

from apilib import (Api, assert_error, assert_status, body_of, hook_path, inbox_all, mac_hex,
                    secret_value, webhook_body)

JSON_HDR = {"Content-Type": "application/json"}


def github_hook(api):
    key = secret_value("hard")
    e = api.create(webhook_body(webhook={"provider": "github", "key": key}))
    return e, key


def signed(unauth, e, key, doc, sig_key=None):
    body = json.dumps(doc).encode()
    sig = "sha256=" + mac_hex(sig_key or key, body)
    return unauth.post(hook_path(e), data=body, retry_429=False, timeout=15,
                       headers=dict(JSON_HDR, **{"X-Hub-Signature-256": sig}))


# --------------------------------------------------------------------------
# 1. Failed verifications never spend the export's bucket


def test_strangers_do_not_spend_the_exports_bucket(server_factory):
    """25 forged deliveries, then signed ones: every signed one is taken."""
    srv = server_factory(extra_args=["--listener-rate-limit-burst", "5",
                                     "--listener-rate-limit-rate", "1"])
    api, unauth = srv.api(), Api(srv.url, None)
    e, key = github_hook(api)
    for i in range(25):
        r = signed(unauth, e, key, {"forged": i}, sig_key="not-the-key")
        assert_error(r, 401, "unauthorized")
    for i in range(5):
        assert_status(signed(unauth, e, key, {"i": i}), 204)
    assert [x["record"] for x in inbox_all(api, e["_id"])] == [{"i": i} for i in range(5)]


def test_failed_verifications_limited_per_address(server_factory):
    srv = server_factory(extra_args=["--listener-rate-limit-burst", "5",
                                     "--listener-rate-limit-rate", "1",
                                     "--listener-failed-rate-limit-burst", "3",
                                     "--listener-failed-rate-limit-rate", "1"])
    api, unauth = srv.api(), Api(srv.url, None)
    e, key = github_hook(api)
    other, okey = github_hook(api)
    statuses = [signed(unauth, e, key, {"forged": i}, sig_key="x").status_code for i in range(25)]
    assert statuses[:3] == [401] * 3, statuses
    assert set(statuses[3:]) == {429}, statuses
    r = signed(unauth, other, okey, {"forged": 1}, sig_key="x")
    assert_error(r, 429, "rate_limited")
    ra = r.headers.get("Retry-After")
    assert ra is not None and ra.isdigit() and int(ra) >= 1, r.headers
    # the same address, correctly signed: accepted, up to the export's own bucket
    for i in range(5):
        assert_status(signed(unauth, e, key, {"i": i}), 204)
    assert_error(signed(unauth, e, key, {"i": 5}), 429, "rate_limited")
    assert_status(signed(unauth, other, okey, {"o": 1}), 204)
    assert [x["record"] for x in inbox_all(api, e["_id"])] == [{"i": i} for i in range(5)]
    assert [x["record"] for x in inbox_all(api, other["_id"])] == [{"o": 1}]


# --------------------------------------------------------------------------
# 2. HEAD stores nothing, on any URL of the export


def test_head_stores_nothing(api, unauth):
    tok = uuid.uuid4().hex
    e = api.create(webhook_body(webhook={"provider": "custom", "verify": "secret_url", "token": tok}))
    g, key = github_hook(api)
    body = b'{"a":1}'
    for path in (hook_path(e, tok), hook_path(e), hook_path(e, tok[::-1]), hook_path(g)):
        r = unauth.request("HEAD", path, data=body, retry_429=False, timeout=15,
                           headers=dict(JSON_HDR, **{"X-Hub-Signature-256": "sha256=" + mac_hex(key, body)}))
        assert_status(r, 200)
        assert r.content == b""
    assert inbox_all(api, e["_id"]) == []
    assert inbox_all(api, g["_id"]) == []
    # the same body by POST is stored: HEAD was not refused for its body
    r = unauth.post(hook_path(e, tok), data=body, headers=JSON_HDR, retry_429=False, timeout=15)
    assert_status(r, 204)
    assert [x["record"] for x in inbox_all(api, e["_id"])] == [{"a": 1}]


# --------------------------------------------------------------------------
# 3. A credential sent in the body is not stored


BODY_CREDENTIAL_CASES = [
    # (webhook block without the token, content type, body template, records expected)
    ({"provider": "custom", "verify": "token", "path": "auth.token"}, "application/json",
     '{"auth":{"token":"%s","user":"u"},"x":1}', [{"auth": {"user": "u"}, "x": 1}]),
    ({"provider": "custom", "verify": "token", "tokenLocation": "body", "path": "token",
      "pathToRecords": "items", "includeParentData": True}, "application/json",
     '{"token":"%s","batch":7,"items":[{"a":1},{"a":2}]}',
     [{"a": 1, "batch": 7}, {"a": 2, "batch": 7}]),
    ({"provider": "custom", "verify": "token", "path": "token"},
     "application/x-www-form-urlencoded", "token=%s&text=hi", [{"text": "hi"}]),
    ({"provider": "custom", "verify": "token", "path": "r.token"}, "application/xml",
     "<r><token>%s</token><v>1</v></r>", [{"r": {"v": "1"}}]),
    ({"provider": "slack"}, "application/json",
     '{"token":"%s","event":{"type":"message"}}', [{"event": {"type": "message"}}]),
    ({"provider": "slack"}, "application/x-www-form-urlencoded",
     "token=%s&command=%%2Fdo&text=x", [{"command": "/do", "text": "x"}]),
    ({"provider": "slack", "path": "meta.verification"}, "application/json",
     '{"meta":{"verification":"%s"},"token":"not-the-credential"}',
     [{"meta": {}, "token": "not-the-credential"}]),
]


def test_body_credential_not_stored(local_server, api, unauth, leak_watch):
    ids = []
    for wh, ctype, tmpl, want in BODY_CREDENTIAL_CASES:
        tok = secret_value("bodytok")
        leak_watch.append(tok)
        e = api.create(webhook_body(webhook=dict(wh, token=tok)))
        r = unauth.post(hook_path(e), data=(tmpl % tok).encode(), headers={"Content-Type": ctype},
                        retry_429=False, timeout=15)
        assert_status(r, 204)
        entries = inbox_all(api, e["_id"])
        assert [x["record"] for x in entries] == want, (wh, entries)
        assert tok not in json.dumps(entries)
        # a wrong token is still refused: the field is removed only after verification
        r = unauth.post(hook_path(e), data=(tmpl % "wrong").encode(),
                        headers={"Content-Type": ctype}, retry_429=False, timeout=15)
        assert_error(r, 401, "unauthorized")
        ids.append((e["_id"], tok, len(want)))
    dump = local_server.cli("dump").stdout
    for export_id, tok, n in ids:
        assert dump.count(export_id) >= n + 1, "the dump lacks the records of %s" % export_id
        assert tok not in dump, "a body credential is in the dump"
