"""Hardening of the webhook listener: what strangers, HEAD probes, body
credentials and amplifying deliveries may cost (docs/webhooks.md)."""

import json
import time
import uuid

from apilib import (Api, assert_error, assert_status, body_of, hook_path, inbox_all, mac_hex,
                    secret_value, url_hook, webhook_body)

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


# --------------------------------------------------------------------------
# 4. What one delivery may cost: records, stored bytes, parser memory


def peak_mb(srv):
    """The server's peak resident memory so far (VmHWM), in MiB."""
    with open("/proc/%d/status" % srv.proc.pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    raise AssertionError("no VmHWM in /proc/%d/status" % srv.proc.pid)


def post(unauth, path, body, ctype="application/json"):
    return unauth.post(path, data=body, headers={"Content-Type": ctype},
                       retry_429=False, timeout=60)


def warm(srv, api, unauth):
    """A first small delivery, so the peak that follows is the big one's."""
    e, p = url_hook(api)
    assert_status(post(unauth, p, b'{"warm":1}'), 204)
    return peak_mb(srv)


def parent_body(extra_bytes, n):
    """includeParentData: a parent of extra_bytes copied into n records."""
    doc = {"k%03d" % i: "v" * 40 for i in range(extra_bytes // 48)}
    doc["items"] = [{}] * n
    return json.dumps(doc, separators=(",", ":")).encode()


def wide_csv(rows=None):
    """10,000 long column names, then rows of empty cells (as many as fit
    in 1 MB by default): each small row becomes an object holding a copy
    of every name."""
    hdr = ",".join("column_name_%04d_xxxxxxxxxxxxxxxxxxxxxx" % i for i in range(10000))
    row = "," * 9999 + "\n"
    if rows is None:
        rows = (1040000 - len(hdr) - 1) // len(row)
    return (hdr + "\n" + row * rows).encode()


def test_records_and_stored_bytes_bounds_exact(server_factory):
    three = [{"a": "xxxx"}, {"a": "yyyy"}, {"a": "zzzz"}]
    size = sum(len(json.dumps(x, separators=(",", ":"))) for x in three)
    srv = server_factory(extra_args=["--listener-max-records", "3",
                                     "--listener-max-stored-bytes", str(size)])
    api, unauth = srv.api(), Api(srv.url, None)
    e, p = url_hook(api)
    # exactly at both bounds
    assert_status(post(unauth, p, json.dumps(three).encode()), 204)
    r = post(unauth, p, b'[{"a":1},{"a":2},{"a":3},{"a":4}]')
    assert_error(r, 413, "payload_too_large")
    assert "more than 3 records" in body_of(r)["errors"][0]["message"]
    # one byte past the stored bytes
    r = post(unauth, p, json.dumps([{"a": "xxxxx"}, {"a": "yyyy"}, {"a": "zzzz"}]).encode())
    assert_error(r, 413, "payload_too_large")
    assert "%d bytes" % size in body_of(r)["errors"][0]["message"]
    assert [x["record"] for x in inbox_all(api, e["_id"])] == three


def test_parent_data_amplification_refused_at_defaults(server_factory):
    """A 36 KB body whose parent would be copied into 10,000 records
    (62 MB stored) is refused at once; nothing is stored."""
    srv = server_factory()
    api, unauth = srv.api(), Api(srv.url, None)
    base = warm(srv, api, unauth)
    e, p = url_hook(api, pathToRecords="items", includeParentData=True)
    body = parent_body(6000, 10000)
    assert len(body) < 40000
    r = post(unauth, p, body)
    assert_error(r, 413, "payload_too_large")
    assert "16777216 bytes" in body_of(r)["errors"][0]["message"]
    grown = peak_mb(srv) - base
    assert grown < 24, "the refused delivery raised the peak RSS by %.0f MiB" % grown
    assert inbox_all(api, e["_id"]) == []
    # a parent that fits is copied into every record
    assert_status(post(unauth, p, b'{"batch":7,"items":[{"a":1},{"a":2,"batch":8}]}'), 204)
    assert [x["record"] for x in inbox_all(api, e["_id"])] == [
        {"a": 1, "batch": 7}, {"a": 2, "batch": 8}]


def test_stored_bytes_checked_while_rendering(server_factory):
    """Each CSV row stores every column name again: rendering stops at the
    first record past the stored bytes, long before all are made."""
    srv = server_factory(extra_args=["--listener-max-stored-bytes", "1048576"])
    api, unauth = srv.api(), Api(srv.url, None)
    base = warm(srv, api, unauth)
    e, p = url_hook(api)
    # 5 rows would store 2.4 MB; the third passes the bound
    r = post(unauth, p, wide_csv(5), "text/csv")
    assert_error(r, 413, "payload_too_large")
    assert "1048576 bytes" in body_of(r)["errors"][0]["message"]
    grown = peak_mb(srv) - base
    assert grown < 48, "the refused delivery raised the peak RSS by %.0f MiB" % grown
    assert inbox_all(api, e["_id"]) == []


def test_csv_parser_memory_bounded(server_factory):
    """1 MB of CSV that would take ~150 MiB as a document is refused
    within the parser's memory bound."""
    srv = server_factory()
    api, unauth = srv.api(), Api(srv.url, None)
    base = warm(srv, api, unauth)
    e, p = url_hook(api)
    r = post(unauth, p, wide_csv(), "text/csv")
    assert_error(r, 413, "payload_too_large")
    grown = peak_mb(srv) - base
    assert grown < 96, "the CSV delivery raised the peak RSS by %.0f MiB" % grown
    assert inbox_all(api, e["_id"]) == []


def test_xml_parser_memory_bounded(server_factory):
    srv = server_factory()
    api, unauth = srv.api(), Api(srv.url, None)
    base = warm(srv, api, unauth)
    e, p = url_hook(api)
    attrs = " ".join('a%d=""' % i for i in range(8))
    one = ("<e %s/>" % attrs).encode()
    r = post(unauth, p, b"<r>" + one * (1040000 // len(one)) + b"</r>", "application/xml")
    assert_error(r, 413, "payload_too_large")
    r = post(unauth, p, b"<r>" + b"<a/>" * 260000 + b"</r>", "application/xml")
    assert_error(r, 413, "payload_too_large")
    grown = peak_mb(srv) - base
    assert grown < 24, "the XML deliveries raised the peak RSS by %.0f MiB" % grown
    # an ordinary XML delivery still goes in
    assert_status(post(unauth, p, b"<r><id>1</id><id>2</id></r>", "application/xml"), 204)
    assert [x["record"] for x in inbox_all(api, e["_id"])] == [{"r": {"id": ["1", "2"]}}]


def test_full_inbox_refuses_before_rendering(server_factory):
    """With no room left, a delivery that would render 15 MB of records
    gets its 503 without them being made."""
    srv = server_factory(extra_args=["--inbox-max-records", "3"])
    api, unauth = srv.api(), Api(srv.url, None)
    e, p = url_hook(api, pathToRecords="items", includeParentData=True)
    assert_status(post(unauth, p, b'{"items":[{"i":0},{"i":1},{"i":2}]}'), 204)
    base = warm(srv, api, unauth)
    body = parent_body(1500, 10000)
    for _ in range(3):
        r = post(unauth, p, body)
        assert_error(r, 503, "unavailable")
        assert r.headers.get("Retry-After") == "5"
    grown = peak_mb(srv) - base
    assert grown < 32, "refused deliveries raised the peak RSS by %.0f MiB" % grown
    # one record too many is refused as before, and room once freed is used
    entries = inbox_all(api, e["_id"])
    assert [x["record"] for x in entries] == [{"i": 0}, {"i": 1}, {"i": 2}]
    assert body_of(api.post("/v1/exports/%s/inbox/ack" % e["_id"],
                            json={"cursor": entries[0]["cursor"]})) == {"deleted": 1}
    assert_error(post(unauth, p, b'{"items":[{"i":3},{"i":4}]}'), 503, "unavailable")
    # a delivery that could never fit is told so, full inbox or not
    r = post(unauth, p, json.dumps({"items": [{}] * 10001}).encode())
    assert_error(r, 413, "payload_too_large")
    assert_status(post(unauth, p, b'{"items":[{"i":3}]}'), 204)
    assert [x["record"]["i"] for x in inbox_all(api, e["_id"])] == [1, 2, 3]


def xml_attrs(n):
    """One element with n attributes: libxml2 compares them pairwise."""
    return b"<r " + b" ".join(b'a%d=""' % i for i in range(n)) + b"/>"


def test_xml_attributes_per_element_bounded(server_factory):
    """A body with one element of 60,000 attributes cost libxml2 tens of
    seconds of CPU, even when parsed only to look for a body token, so
    before verification. It is refused at once."""
    srv = server_factory()
    api, unauth = srv.api(), Api(srv.url, None)
    tok = secret_value("xmltok")
    e = api.create(webhook_body(webhook={"provider": "custom", "verify": "token",
                                         "path": "r.@token", "token": tok}))
    body = xml_attrs(60000)
    t0 = time.monotonic()
    r = unauth.post(hook_path(e), data=body, headers={"Content-Type": "application/xml"},
                    retry_429=False, timeout=15)
    took = time.monotonic() - t0
    assert_error(r, 401, "unauthorized")
    assert took < 5, "a refused XML body took %.1f s" % took
    # a verified sender's too many attributes: 413
    u, p = url_hook(api)
    r = post(unauth, p, xml_attrs(1001), "application/xml")
    assert_error(r, 413, "payload_too_large")
    assert "more than 1000 attributes" in body_of(r)["errors"][0]["message"]
    assert_status(post(unauth, p, xml_attrs(1000), "application/xml"), 204)
    assert len(inbox_all(api, u["_id"])[0]["record"]["r"]) == 1000
    # the token in an attribute verifies and is not stored
    r = unauth.post(hook_path(e), data=('<r token="%s" n="1"/>' % tok).encode(),
                    headers={"Content-Type": "application/xml"}, retry_429=False, timeout=15)
    assert_status(r, 204)
    assert [x["record"] for x in inbox_all(api, e["_id"])] == [{"r": {"@n": "1"}}]
