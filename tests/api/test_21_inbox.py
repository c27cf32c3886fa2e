"""The durable inbox of webhook exports (docs/webhooks.md, src/api/inbox.c):
GET /v1/exports/{id}/inbox?after=&limit= and POST /v1/exports/{id}/inbox/ack;
inbox capacity (--inbox-max-records) and the per-export listener rate limit
(--listener-rate-limit-burst / --listener-rate-limit-rate)."""

import datetime
import json
import time

from apilib import (ISO_MS, Api, assert_error, assert_status, basic_auth, body_of, hook_path,
                    inbox_ack, inbox_all, inbox_page, mac_hex, secret_value, url_hook,
                    webhook_body)

JSON_HDR = {"Content-Type": "application/json"}


def deliver(unauth, path, doc, headers=None, expect=204):
    r = unauth.post(path, data=json.dumps(doc).encode(), headers=dict(JSON_HDR, **(headers or {})),
                    retry_429=False, timeout=15)
    if expect is not None:
        assert_status(r, expect)
    return r


def parse_iso(s):
    return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()


# --------------------------------------------------------------------------
# Entries


def test_entries_in_arrival_order_with_metadata(api, unauth):
    key = secret_value("inbox")
    e = api.create(webhook_body(webhook={"provider": "github", "key": key}))
    sent, rids = [], []
    t0 = time.time()
    for i in range(5):
        doc = [{"i": i, "part": 0}, {"i": i, "part": 1}] if i == 2 else {"i": i}
        body = json.dumps(doc).encode()
        r = unauth.post(hook_path(e), data=body, retry_429=False, timeout=15, headers={
            "Content-Type": "application/json",
            "X-Hub-Signature-256": "sha256=" + mac_hex(key, body),
            "X-Hub-Signature": "sha1=" + mac_hex(key, body, "sha1"),
            "X-GitHub-Event": "push", "X-GitHub-Delivery": "d-%d" % i,
            "Authorization": "Bearer not-for-the-inbox", "Cookie": "session=not-for-the-inbox"})
        assert_status(r, 204)
        rid = r.headers.get("X-Request-Id")
        assert rid, "delivery response without X-Request-Id"
        for rec in (doc if isinstance(doc, list) else [doc]):
            sent.append(rec)
            rids.append(rid)
        time.sleep(0.002)
    t1 = time.time()
    entries = inbox_all(api, e["_id"])
    assert [x["record"] for x in entries] == sent
    assert [x["requestId"] for x in entries] == rids
    assert len(set(rids)) == 5
    cursors = [int(x["cursor"]) for x in entries]
    assert cursors == sorted(cursors) and len(set(cursors)) == len(cursors), cursors
    last = None
    for x in entries:
        assert set(x) == {"cursor", "receivedAt", "requestId", "headers", "record"}, x
        assert ISO_MS.match(x["receivedAt"]), x["receivedAt"]
        ts = parse_iso(x["receivedAt"])
        assert t0 - 2 <= ts <= t1 + 2, (x["receivedAt"], t0, t1)
        assert last is None or ts >= last, "receivedAt goes backwards"
        last = ts
        h = x["headers"]
        assert isinstance(h, dict)
        assert h.get("x-github-event") == "push", h
        assert h.get("content-type") == "application/json", h
        lower = {k.lower() for k in h}
        for banned in ("authorization", "cookie", "x-hub-signature-256", "x-hub-signature"):
            assert banned not in lower, "%s kept in the inbox: %r" % (banned, h)
        assert "not-for-the-inbox" not in json.dumps(h)
    assert [x["headers"]["x-github-delivery"] for x in entries] == ["d-0", "d-1", "d-2", "d-2", "d-3", "d-4"]


def test_credentials_never_kept(api, unauth):
    """Whatever header carried the credential, it is not in the inbox."""
    pw, key, tok = secret_value("ibp"), secret_value("ibk"), secret_value("ibt")
    cases = [
        ({"provider": "custom", "verify": "basic", "username": "u", "password": pw},
         lambda b: {"Authorization": basic_auth("u", pw)}, pw),
        ({"provider": "custom", "verify": "hmac", "algorithm": "sha256", "encoding": "hex",
          "header": "X-Mac", "key": key}, lambda b: {"X-Mac": mac_hex(key, b)}, None),
        ({"provider": "custom", "verify": "token", "tokenLocation": "header",
          "tokenHeaderName": "X-Pass", "tokenHeaderScheme": "none", "token": tok},
         lambda b: {"X-Pass": tok}, tok),
        ({"provider": "custom", "verify": "token", "tokenLocation": "queryParam",
          "tokenQueryParamName": "qp", "token": tok}, None, tok),
    ]
    for wh, hdr, secret in cases:
        e = api.create(webhook_body(webhook=wh))
        body = b'{"x":1}'
        headers = dict(JSON_HDR, **{"X-Trace": "keep-me"})
        params = None
        if hdr is None:
            params = {"qp": tok}
        else:
            headers.update(hdr(body))
        r = unauth.post(hook_path(e), data=body, headers=headers, params=params,
                        retry_429=False, timeout=15)
        assert_status(r, 204)
        entries = inbox_all(api, e["_id"])
        assert len(entries) == 1 and entries[0]["record"] == {"x": 1}
        h = entries[0]["headers"]
        assert h.get("x-trace") == "keep-me", h
        sig = hdr(body) if hdr else {}
        for name, value in sig.items():
            assert name.lower() not in {k.lower() for k in h}, (name, h)
            assert value not in json.dumps(h)
        if secret:
            assert secret not in json.dumps(entries)


def test_inboxes_are_per_export(api, unauth):
    a, pa = url_hook(api)
    b, pb = url_hook(api)
    deliver(unauth, pa, {"to": "a"})
    deliver(unauth, pb, {"to": "b"})
    deliver(unauth, pa, {"to": "a2"})
    assert [x["record"] for x in inbox_all(api, a["_id"])] == [{"to": "a"}, {"to": "a2"}]
    assert [x["record"] for x in inbox_all(api, b["_id"])] == [{"to": "b"}]


# --------------------------------------------------------------------------
# Paging


def test_paging_after_limit_more(api, unauth):
    e, p = url_hook(api)
    r = inbox_page(api, e["_id"])
    assert_status(r, 200)
    assert body_of(r) == {"records": [], "cursor": None, "more": False}
    for i in range(7):
        deliver(unauth, p, {"i": i})
    pages, after = [], None
    while True:
        r = inbox_page(api, e["_id"], after=after, limit=3)
        assert_status(r, 200)
        page = body_of(r)
        pages.append(page)
        assert len(page["records"]) <= 3
        if page["records"]:
            assert page["cursor"] == page["records"][-1]["cursor"]
        if not page["more"]:
            break
        after = page["cursor"]
        assert len(pages) < 10
    assert [len(pg["records"]) for pg in pages] == [3, 3, 1]
    assert [pg["more"] for pg in pages] == [True, True, False]
    assert [x["record"]["i"] for pg in pages for x in pg["records"]] == list(range(7))
    last = pages[-1]["cursor"]
    # past the end: nothing, the cursor stays where it was
    r = inbox_page(api, e["_id"], after=last, limit=3)
    assert_status(r, 200)
    assert body_of(r) == {"records": [], "cursor": last, "more": False}
    # exactly the rest: more is false
    r = inbox_page(api, e["_id"], limit=7)
    assert body_of(r)["more"] is False and len(body_of(r)["records"]) == 7
    r = inbox_page(api, e["_id"], limit=6)
    assert body_of(r)["more"] is True and len(body_of(r)["records"]) == 6
    # default page holds all seven
    r = inbox_page(api, e["_id"])
    assert [x["record"]["i"] for x in body_of(r)["records"]] == list(range(7))
    # a cursor from the middle
    mid = pages[0]["records"][1]["cursor"]
    r = inbox_page(api, e["_id"], after=mid, limit=2)
    assert [x["record"]["i"] for x in body_of(r)["records"]] == [2, 3]
    # reading does not consume
    assert len(inbox_all(api, e["_id"])) == 7


def test_paging_bad_parameters(api):
    e, _ = url_hook(api)
    for params in ({"limit": "0"}, {"limit": "-1"}, {"limit": "abc"}, {"after": "xyz"},
                   {"after": "-5"}, {"after": "1.5"}):
        r = api.get("/v1/exports/%s/inbox" % e["_id"], params=params)
        assert_error(r, 400, "invalid_query_params", list(params)[0])


# --------------------------------------------------------------------------
# Ack


def test_ack_deletes_up_to_cursor(api, unauth):
    e, p = url_hook(api)
    for i in range(6):
        deliver(unauth, p, {"i": i})
    entries = inbox_all(api, e["_id"])
    r = inbox_ack(api, e["_id"], entries[2]["cursor"])
    assert_status(r, 200)
    assert body_of(r) == {"deleted": 3}
    assert [x["record"]["i"] for x in inbox_all(api, e["_id"])] == [3, 4, 5]
    # acking again deletes nothing
    r = inbox_ack(api, e["_id"], entries[2]["cursor"])
    assert_status(r, 200)
    assert body_of(r) == {"deleted": 0}
    # an older cursor deletes nothing either
    assert body_of(inbox_ack(api, e["_id"], entries[0]["cursor"])) == {"deleted": 0}
    assert body_of(inbox_ack(api, e["_id"], entries[5]["cursor"])) == {"deleted": 3}
    assert inbox_all(api, e["_id"]) == []
    # cursors are never reused
    deliver(unauth, p, {"i": 6})
    after = inbox_all(api, e["_id"])
    assert [x["record"] for x in after] == [{"i": 6}]
    assert int(after[0]["cursor"]) > int(entries[5]["cursor"])


def test_ack_bad_bodies(api, unauth):
    e, p = url_hook(api)
    deliver(unauth, p, {"i": 0})
    r = api.post("/v1/exports/%s/inbox/ack" % e["_id"], json={})
    assert_error(r, 422, "missing_required_field", "cursor")
    r = api.post("/v1/exports/%s/inbox/ack" % e["_id"], json={"cursor": "abc"})
    assert_error(r, 422, "invalid_field", "cursor")
    r = api.post("/v1/exports/%s/inbox/ack" % e["_id"], data=b"[1]",
                 headers={"Content-Type": "application/json"})
    assert_status(r, 400)
    assert len(inbox_all(api, e["_id"])) == 1


# --------------------------------------------------------------------------
# Who may read


def test_inbox_needs_the_owner_token(api, other_api, unauth, base_url):
    e, p = url_hook(api)
    deliver(unauth, p, {"secret": "owner-only"})
    missing = other_api.get("/v1/exports/%s/inbox" % ("0123456789abcdef01234567"))
    assert_status(missing, 404)
    r = other_api.get("/v1/exports/%s/inbox" % e["_id"])
    assert_status(r, 404)
    assert r.content == missing.content
    r = inbox_ack(other_api, e["_id"], "999999999")
    assert_status(r, 404)
    assert b"owner-only" not in r.content
    r = unauth.get("/v1/exports/%s/inbox" % e["_id"])
    assert_status(r, 401)
    assert r.headers.get("WWW-Authenticate", "").lower().startswith("bearer")
    r = unauth.post("/v1/exports/%s/inbox/ack" % e["_id"], json={"cursor": "999999999"})
    assert_status(r, 401)
    r = Api(base_url, "not-a-real-token").get("/v1/exports/%s/inbox" % e["_id"])
    assert_status(r, 401)
    # nothing was deleted by the refused acks
    assert [x["record"] for x in inbox_all(api, e["_id"])] == [{"secret": "owner-only"}]


def test_deleting_export_deletes_inbox(api, unauth):
    e, p = url_hook(api)
    for i in range(3):
        deliver(unauth, p, {"i": i})
    assert len(inbox_all(api, e["_id"])) == 3
    assert_status(api.delete("/v1/exports/" + e["_id"]), 204)
    assert_error(inbox_page(api, e["_id"]), 404, "not_found")
    assert_error(inbox_ack(api, e["_id"], "999999999"), 404, "not_found")
    # a delivery to the deleted export recreates nothing
    r = deliver(unauth, p, {"i": 99}, expect=404)
    assert_status(r, 404)
    assert_status(inbox_page(api, e["_id"]), 404)
    assert_status(api.get("/v1/exports/" + e["_id"]), 404)


# --------------------------------------------------------------------------
# Capacity


def test_inbox_full_503_nothing_dropped(server_factory):
    srv = server_factory(extra_args=["--inbox-max-records", "5"])
    api, unauth = srv.api(), Api(srv.url, None)
    e, p = url_hook(api)
    other, po = url_hook(api)
    for i in range(5):
        deliver(unauth, p, {"i": i})
    for doc in ({"i": 5}, [{"i": 6}, {"i": 7}]):
        r = deliver(unauth, p, doc, expect=503)
        ra = r.headers.get("Retry-After")
        assert ra is not None and ra.isdigit() and int(ra) >= 1, r.headers
        assert body_of(r)["errors"]
    entries = inbox_all(api, e["_id"])
    assert [x["record"] for x in entries] == [{"i": i} for i in range(5)]
    # another export has its own room
    deliver(unauth, po, {"o": 1})
    # after an ack there is room again, exactly as much as was freed
    assert body_of(inbox_ack(api, e["_id"], entries[1]["cursor"])) == {"deleted": 2}
    deliver(unauth, p, [{"i": 10}, {"i": 11}, {"i": 12}], expect=503)
    deliver(unauth, p, [{"i": 10}, {"i": 11}])
    deliver(unauth, p, {"i": 12}, expect=503)
    assert [x["record"]["i"] for x in inbox_all(api, e["_id"])] == [2, 3, 4, 10, 11]
    assert [x["record"] for x in inbox_all(api, other["_id"])] == [{"o": 1}]
    # the count survives a restart
    srv.restart()
    api = Api(srv.url, api.token)
    unauth = Api(srv.url, None)
    deliver(unauth, p, {"i": 13}, expect=503)
    assert [x["record"]["i"] for x in inbox_all(api, e["_id"])] == [2, 3, 4, 10, 11]


# --------------------------------------------------------------------------
# Per-export listener rate limit


def test_listener_rate_limit_per_export(server_factory):
    srv = server_factory(extra_args=["--listener-rate-limit-burst", "5",
                                     "--listener-rate-limit-rate", "1"])
    api, unauth = srv.api(), Api(srv.url, None)
    a, pa = url_hook(api)
    b, pb = url_hook(api)
    statuses = [deliver(unauth, pa, {"i": i}, expect=None).status_code for i in range(6)]
    assert statuses == [204] * 5 + [429], statuses
    r = deliver(unauth, pa, {"i": 99}, expect=429)
    assert_error(r, 429, "rate_limited")
    ra = r.headers.get("Retry-After")
    assert ra is not None and ra.isdigit() and int(ra) >= 1, r.headers
    # another export is unaffected
    deliver(unauth, pb, {"b": 1})
    # the bearer API is not the listener's bucket either
    assert_status(inbox_page(api, a["_id"]), 200)
    assert [x["record"] for x in inbox_all(api, a["_id"])] == [{"i": i} for i in range(5)]
    assert [x["record"] for x in inbox_all(api, b["_id"])] == [{"b": 1}]
    # refilled at one per second
    time.sleep(1.2)
    deliver(unauth, pa, {"i": 5})
    assert [x["record"]["i"] for x in inbox_all(api, a["_id"])] == list(range(6))
