"""Inbox cursors are parsed strictly and inbox bodies are always JSON
(src/api/inbox.c, src/util/number.c, docs/webhooks.md).

A cursor (the `after` and `limit` query parameters, the `cursor` of an ack)
is a decimal whole number: digits only, no sign, no blank, nothing after,
within int64. Anything else is a 400 `invalid_query_params` (query) or a
422 `invalid_field` with field `cursor` (ack body), and nothing is deleted.
Every value the server puts in an inbox body goes through the JSON
renderer, so the body parses whatever the request or the store held."""

import json
import os
import subprocess
import uuid

import pytest

from apilib import (BIN, REPO, Api, assert_error, assert_status, hook_path, inbox_all,
                    inbox_page, webhook_body)

# dump and restore of a SQLite store (EXPORTD_DB names a shared PostgreSQL one)
ON_SQLITE = pytest.mark.skipif(os.environ.get("EXPORTD_DB", "").startswith("postgres"),
                               reason="restores a SQLite store")

JSON_HDR = {"Content-Type": "application/json"}

BAD_CURSORS = ["\n5", " 5", "5 ", "\t5", "+5", "-1", "-0", "5x", "x5", "1.5", "1e3", "0x5",
               "99999999999999999999", "9223372036854775808", ""]


def url_hook(api):
    tok = uuid.uuid4().hex
    e = api.create(webhook_body(webhook={"provider": "custom", "verify": "secret_url",
                                         "token": tok}))
    return e, hook_path(e, tok)


def deliver(unauth, path, doc):
    r = unauth.post(path, data=json.dumps(doc).encode(), headers=JSON_HDR, retry_429=False,
                    timeout=15)
    assert_status(r, 204)


def json_of(r):
    """The body of a response that has one must be JSON, with the JSON type."""
    assert r.headers.get("Content-Type", "").startswith("application/json"), r.headers
    try:
        return json.loads(r.content.decode("utf-8"))
    except ValueError as exc:
        raise AssertionError("%s %s answered a body that is not JSON (%s): %r" % (
            r.request.method, r.request.url, exc, r.content[:300]))


def test_after_and_limit_are_strict(api, unauth):
    empty, _ = url_hook(api)
    full, p = url_hook(api)
    for i in range(3):
        deliver(unauth, p, {"i": i})
    for e in (empty, full):
        for bad in BAD_CURSORS:
            for name in ("after", "limit"):
                r = api.get("/v1/exports/%s/inbox" % e["_id"], params={name: bad})
                json_of(r)
                assert_error(r, 400, "invalid_query_params", name)


def test_after_is_echoed_as_a_json_string(api):
    e, _ = url_hook(api)
    r = inbox_page(api, e["_id"], after="5")
    assert_status(r, 200)
    assert json_of(r) == {"records": [], "cursor": "5", "more": False}
    # the cursor is a number: leading zeros are digits, and it comes back plain
    r = inbox_page(api, e["_id"], after="007")
    assert json_of(r) == {"records": [], "cursor": "7", "more": False}
    r = inbox_page(api, e["_id"], after=str(2 ** 63 - 1))
    assert json_of(r) == {"records": [], "cursor": str(2 ** 63 - 1), "more": False}
    r = inbox_page(api, e["_id"], after="0")
    assert json_of(r) == {"records": [], "cursor": None, "more": False}


def test_ack_cursor_is_strict(api, unauth):
    e, p = url_hook(api)
    for i in range(3):
        deliver(unauth, p, {"i": i})
    entries = inbox_all(api, e["_id"])
    first = entries[0]["cursor"]
    bad = [" " + first, "\n" + first, first + " ", "+" + first, first + "x", first + "\u0000",
           "-1", "1e3", "99999999999999999999", "", -1, 1.5, True, None, [], {},
           [int(first)]]
    for cursor in bad:
        r = api.post("/v1/exports/%s/inbox/ack" % e["_id"], json={"cursor": cursor})
        json_of(r)
        assert_error(r, 422, "invalid_field", "cursor")
    assert inbox_all(api, e["_id"]) == entries, "a refused ack deleted entries"
    # the cursor as the page gave it, or as a JSON number
    r = api.post("/v1/exports/%s/inbox/ack" % e["_id"], json={"cursor": first})
    assert json_of(r) == {"deleted": 1}
    r = api.post("/v1/exports/%s/inbox/ack" % e["_id"], json={"cursor": int(entries[1]["cursor"])})
    assert json_of(r) == {"deleted": 1}


def test_every_inbox_response_is_json(api, other_api, unauth):
    e, p = url_hook(api)
    for i in range(4):
        deliver(unauth, p, {"i": i, "text": "line\nbreak \"quoted\" \u2028 \\ end"})
    base = "/v1/exports/%s/inbox" % e["_id"]
    first = inbox_all(api, e["_id"])[0]["cursor"]
    queries = [{}, {"limit": "2"}, {"after": first}, {"after": "99999999"}, {"limit": "1000"}]
    queries += [{"after": b} for b in BAD_CURSORS] + [{"limit": b} for b in BAD_CURSORS]
    queries += [{"after": "%00"}, {"after": "\"}"}, {"after": "5\"],\"x\":[\""},
                {"after": "\n99999999"}, {"after": " 99999999"}, {"after": "99999999\t"}]
    for q in queries:
        r = api.get(base, params=q)
        doc = json_of(r)
        if r.status_code == 200:
            assert set(doc) == {"records", "cursor", "more"}, doc
    for who in (other_api, unauth):
        json_of(who.get(base))
    json_of(api.get("/v1/exports/%s/inbox" % ("0" * 24)))
    for body in (b"{}", b"[]", b"{", b'{"cursor":"\\n1"}', ('{"cursor":%s}' % first).encode()):
        json_of(api.post(base + "/ack", data=body, headers=JSON_HDR))
    page = json_of(api.get(base))
    assert [x["record"]["i"] for x in page["records"]] == [1, 2, 3]


@ON_SQLITE
def test_restored_request_id_is_escaped(server_factory, tmp_path):
    """A dump may carry any request id text; the inbox renders it as JSON."""
    src = server_factory()
    api, unauth = src.api(), Api(src.url, None)
    e, p = url_hook(api)
    deliver(unauth, p, {"i": 0})
    assert src.stop() == 0
    dump = tmp_path / "dump.jsonl"
    with open(dump, "wb") as f:
        subprocess.run([str(BIN), "dump", "--data-dir", str(src.data_dir)], stdout=f,
                       check=True, timeout=60, cwd=str(REPO))
    odd = 'id "with" quotes\\ and\nlines\u2028'
    lines = []
    for line in dump.read_text().splitlines():
        row = json.loads(line)
        if "request_id" in row:
            row["request_id"] = odd
        lines.append(json.dumps(row))
    dump.write_text("\n".join(lines) + "\n")
    dst = tmp_path / "restored"
    dst.mkdir()
    with open(dump, "rb") as f:
        cp = subprocess.run([str(BIN), "restore", "--data-dir", str(dst)], stdin=f,
                            capture_output=True, timeout=60, cwd=str(REPO))
    assert cp.returncode == 0, cp.stderr
    srv = server_factory(data_dir=dst)
    r = Api(srv.url, api.token).get("/v1/exports/%s/inbox" % e["_id"])
    assert_status(r, 200)
    page = json_of(r)
    assert [x["requestId"] for x in page["records"]] == [odd]
    assert [x["record"] for x in page["records"]] == [{"i": 0}]
