"""Webhook listener: challenges, success responses and body parsing
(export-model.md section 6, docs/webhooks.md "Parsing", "Templates",
"Responses").  Challenge answers are compared byte for byte; parsed records
are read back from the export's inbox."""

import json
import time
import uuid

import pytest

from apilib import (Api, assert_no_body, assert_status, body_of, hook_path, inbox_all,
                    mac_hex, secret_value, webhook_body)


def ctype(r):
    ct = r.headers.get("Content-Type")
    return None if ct is None else ct.split(";")[0].strip().lower()


def slack_headers(key, body, ts=None):
    ts = str(int(time.time()) if ts is None else ts)
    return {"X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": "v0=" + mac_hex(key, b"v0:" + ts.encode() + b":" + body)}


class Hook:
    """A webhook export verified by a secret URL (no signing needed), so that
    only the parsing and response rules are under test."""

    def __init__(self, api, unauth, **webhook):
        self.api, self.unauth = api, unauth
        self.token = uuid.uuid4().hex
        wh = {"provider": "custom", "verify": "secret_url", "token": self.token}
        wh.update(webhook)
        self.e = api.create(webhook_body(webhook=wh))
        self.id = self.e["_id"]

    def send(self, body, ct="application/json", method="POST", headers=None, params=None):
        h = {"Content-Type": ct} if ct else {}
        h.update(headers or {})
        if isinstance(body, str):
            body = body.encode()
        return self.unauth.request(method, hook_path(self.e, self.token), data=body, headers=h,
                                   params=params, retry_429=False, timeout=15)

    def records(self):
        return [x["record"] for x in inbox_all(self.api, self.id)]


@pytest.fixture
def hook(api, unauth):
    def make(**webhook):
        return Hook(api, unauth, **webhook)
    return make


# --------------------------------------------------------------------------
# Challenges


def test_slack_url_verification(api, unauth):
    key = secret_value("slackch")
    e = api.create(webhook_body(webhook={"provider": "slack", "key": key}))
    challenge = "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
    body = json.dumps({"token": "Jhj5dZrVaK7ZwHHjRyZWjbDl", "challenge": challenge,
                       "type": "url_verification"}).encode()
    hj = {"Content-Type": "application/json"}
    r = unauth.post(hook_path(e), data=body, headers=dict(hj, **slack_headers(key, body)),
                    retry_429=False, timeout=15)
    assert_status(r, 200)
    assert r.content == challenge.encode(), r.content
    assert ctype(r) == "text/plain", r.headers
    assert r.headers.get("X-Content-Type-Options") == "nosniff"
    # unsigned or badly signed: refused, not answered
    r = unauth.post(hook_path(e), data=body, headers=hj, retry_429=False, timeout=15)
    assert_status(r, 401)
    assert challenge.encode() not in r.content
    r = unauth.post(hook_path(e), data=body, retry_429=False, timeout=15,
                    headers=dict(hj, **slack_headers(key, body, ts=int(time.time()) - 600)))
    assert_status(r, 401)
    r = unauth.post(hook_path(e), data=body, retry_429=False, timeout=15,
                    headers=dict(hj, **slack_headers("wrong", body)))
    assert_status(r, 401)
    # a challenge is answered, never stored
    assert inbox_all(api, e["_id"]) == []


def test_dropbox_get_challenge(api, unauth):
    key = secret_value("dbch")
    e = api.create(webhook_body(webhook={"provider": "dropbox", "key": key}))
    r = unauth.get(hook_path(e), params={"challenge": "abc"}, retry_429=False, timeout=15)
    assert_status(r, 200)
    assert r.content == b"abc"
    assert ctype(r) == "text/plain"
    assert r.headers.get("X-Content-Type-Options") == "nosniff"
    odd = "a<b>&c d\"e'f+%/\u00e9"
    r = unauth.get(hook_path(e), params={"challenge": odd}, retry_429=False, timeout=15)
    assert_status(r, 200)
    assert r.content == odd.encode(), r.content
    # a GET that is no challenge: verified like any request (no signature: 401)
    r = unauth.get(hook_path(e), retry_429=False, timeout=15)
    assert_status(r, 401)
    # signed, but still no challenge: nothing to store on a GET -> 405
    r = unauth.get(hook_path(e), headers={"X-Dropbox-Signature": mac_hex(key, b"")},
                   retry_429=False, timeout=15)
    assert_status(r, 405)
    assert {m.strip() for m in r.headers.get("Allow", "").split(",")} == {"POST", "PUT"}
    assert inbox_all(api, e["_id"]) == []


def test_hub_challenge(api, unauth):
    tok = secret_value("hub")
    e = api.create(webhook_body(webhook={
        "provider": "custom", "verify": "token", "tokenLocation": "header",
        "tokenHeaderName": "X-Token", "tokenHeaderScheme": "none", "token": tok}))
    q = {"hub.mode": "subscribe", "hub.challenge": "1158201444", "hub.verify_token": tok}
    r = unauth.get(hook_path(e), params=q, retry_429=False, timeout=15)
    assert_status(r, 200)
    assert r.content == b"1158201444"
    assert ctype(r) == "text/plain"
    assert r.headers.get("X-Content-Type-Options") == "nosniff"
    r = unauth.get(hook_path(e), params=dict(q, **{"hub.verify_token": tok + "x"}),
                   retry_429=False, timeout=15)
    assert_status(r, 401)
    assert b"1158201444" not in r.content
    r = unauth.get(hook_path(e), params={"hub.mode": "subscribe", "hub.challenge": "1"},
                   retry_429=False, timeout=15)
    assert_status(r, 401)
    assert inbox_all(api, e["_id"]) == []


def test_challenge_with_configured_json_response(api, unauth):
    key = secret_value("slackcfg")
    e = api.create(webhook_body(webhook={
        "provider": "slack", "key": key,
        "challengeSuccessStatusCode": 202,
        "challengeSuccessBody": '{"challenge":"{{challenge}}","ok":true}',
        "challengeSuccessMediaType": "json",
        "challengeResponseHeaders": [{"name": "X-Challenge", "value": "c-{{challenge}}"}]}))
    challenge = 'ab"c\\d</x>'
    body = json.dumps({"type": "url_verification", "challenge": challenge}).encode()
    r = unauth.post(hook_path(e), data=body, retry_429=False, timeout=15,
                    headers=dict({"Content-Type": "application/json"}, **slack_headers(key, body)))
    assert_status(r, 202)
    assert r.content == b'{"challenge":"ab\\"c\\\\d</x>","ok":true}', r.content
    assert json.loads(r.content) == {"challenge": challenge, "ok": True}
    assert ctype(r) == "application/json"
    assert r.headers.get("X-Challenge") == "c-" + challenge
    assert r.headers.get("X-Content-Type-Options") == "nosniff"
    assert inbox_all(api, e["_id"]) == []


def test_challenge_with_configured_xml_and_plaintext_response(api, unauth):
    tok = secret_value("hubx")
    common = {"provider": "custom", "verify": "token", "tokenLocation": "queryParam",
              "tokenQueryParamName": "t", "token": tok}
    ex = api.create(webhook_body(webhook=dict(common, **{
        "challengeSuccessBody": "<c v=\"{{hub.challenge}}\">{{hub.challenge}}</c>",
        "challengeSuccessMediaType": "xml"})))
    ep = api.create(webhook_body(webhook=dict(common, **{
        "challengeSuccessStatusCode": 201,
        "challengeSuccessBody": "challenge={{{hub.challenge}}}",
        "challengeSuccessMediaType": "plaintext"})))
    q = {"hub.mode": "subscribe", "hub.challenge": "a&b<\"'>", "hub.verify_token": tok}
    r = unauth.get(hook_path(ex), params=q, retry_429=False, timeout=15)
    assert_status(r, 200)
    assert r.content == b'<c v="a&amp;b&lt;&quot;&apos;&gt;">a&amp;b&lt;&quot;&apos;&gt;</c>', r.content
    assert ctype(r) == "application/xml"
    r = unauth.get(hook_path(ep), params=q, retry_429=False, timeout=15)
    assert_status(r, 201)
    assert r.content == b"challenge=a&b<\"'>", r.content
    assert ctype(r) == "text/plain"
    assert inbox_all(api, ex["_id"]) == [] and inbox_all(api, ep["_id"]) == []


# --------------------------------------------------------------------------
# Success responses

DOC = {"id": "A1", "customer": {"name": "Zo\u00eb \"Q\""}, "n": 3, "tags": ["a", "b"],
       "note": "a<b&c"}


def test_default_success_is_204_without_body(hook):
    h = hook()
    r = h.send(json.dumps(DOC))
    assert_status(r, 204)
    assert_no_body(r)
    assert r.headers.get("Content-Type") is None
    assert h.records() == [DOC]


def test_success_200_json_body_with_placeholders(hook):
    h = hook(successStatusCode=200,
             successBody='{"received":"{{id}}","who":"{{customer.name}}","n":{{n}},'
                         '"tags":{{{tags}}},"q":"{{q}}","none":"{{missing.path}}"}')
    r = h.send(json.dumps(DOC), params={"q": "from-query"})
    assert_status(r, 200)
    assert ctype(r) == "application/json", r.headers
    assert json.loads(r.content) == {"received": "A1", "who": "Zo\u00eb \"Q\"", "n": 3,
                                     "tags": ["a", "b"], "q": "from-query", "none": ""}, r.content
    assert h.records() == [DOC]


def test_success_202_xml_body(hook):
    h = hook(successStatusCode=202, successBody='<ack id="{{id}}">{{note}}</ack>',
             successMediaType="xml")
    r = h.send(json.dumps(DOC))
    assert_status(r, 202)
    assert r.content == b'<ack id="A1">a&lt;b&amp;c</ack>', r.content
    assert ctype(r) == "application/xml"
    assert h.records() == [DOC]


def test_success_plaintext_body(hook):
    h = hook(successStatusCode=200, successBody="ok {{id}} {{note}}", successMediaType="plaintext")
    r = h.send(json.dumps(DOC))
    assert_status(r, 200)
    assert r.content == b"ok A1 a<b&c"
    assert ctype(r) == "text/plain"


def test_success_200_without_body_and_204_ignores_body(hook):
    h = hook(successStatusCode=200)
    r = h.send(json.dumps(DOC))
    assert_status(r, 200)
    assert_no_body(r)
    assert r.headers.get("Content-Type") is None
    h2 = hook(successStatusCode=204, successBody='{"ignored":true}')
    r = h2.send(json.dumps(DOC))
    assert_status(r, 204)
    assert_no_body(r)
    assert h.records() == [DOC] and h2.records() == [DOC]


def test_success_response_headers(hook):
    h = hook(successStatusCode=200, successBody='{"id":"{{id}}"}', successResponseHeaders=[
        {"name": "X-Receipt", "value": "r-{{id}}"},
        {"name": "content-type", "value": "application/vnd.ack+json"},
        {"name": "X-Evil", "value": "{{inj}}"},
        {"name": "Bad Name", "value": "x"},
    ])
    doc = {"id": "A2", "inj": "a\r\nSet-Cookie: x=1"}
    r = h.send(json.dumps(doc))
    assert_status(r, 200)
    assert r.headers.get("X-Receipt") == "r-A2"
    assert r.headers.get("Content-Type") == "application/vnd.ack+json", r.headers
    assert r.headers.get("X-Evil") == "aSet-Cookie: x=1", r.headers
    assert "Set-Cookie" not in r.headers
    assert json.loads(r.content) == {"id": "A2"}
    # headers apply to a 204 too
    h2 = hook(successResponseHeaders=[{"name": "X-Receipt", "value": "r-{{id}}"}])
    r = h2.send(json.dumps(doc))
    assert_status(r, 204)
    assert r.headers.get("X-Receipt") == "r-A2"


# --------------------------------------------------------------------------
# Parsing by Content-Type

XML_BODY = ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<order id="7" xmlns="urn:x"><item sku="A">2</item><item sku="B">3</item>'
            '<note>hi &amp; bye</note><empty/><c><![CDATA[<raw>]]></c><!-- c --></order>')
XML_DOC = {"order": {"@id": "7", "item": [{"@sku": "A", "#text": "2"}, {"@sku": "B", "#text": "3"}],
                     "note": "hi & bye", "empty": "", "c": "<raw>"}}
CSV_BODY = 'id,name,note\r\n1,"Smith, J","say ""hi"""\r\n\r\n2,Bob,"multi\nline"\r\n'
CSV_ROWS = [{"id": "1", "name": "Smith, J", "note": 'say "hi"'},
            {"id": "2", "name": "Bob", "note": "multi\nline"}]
FORM_BODY = "a=1&b=x+y&c=%C3%A9&hub.mode=subscribe&k=1&k=2&flag&e="
FORM_DOC = {"a": "1", "b": "x y", "c": "\u00e9", "hub.mode": "subscribe", "k": ["1", "2"],
            "flag": "", "e": ""}
TEXT_BODY = "line one\nline two {not json}"

BY_CONTENT_TYPE = [
    ("application/json", '{"a":1,"b":[1,2]}', [{"a": 1, "b": [1, 2]}]),
    ("application/json; charset=utf-8", '[{"a":1},{"a":2},3]', [{"a": 1}, {"a": 2}, {"data": 3}]),
    ("text/json", '{"t":true}', [{"t": True}]),
    ("application/vnd.api+json", '{"v":"x"}', [{"v": "x"}]),
    (None, '{"none":1}', [{"none": 1}]),
    ("application/xml", XML_BODY, [XML_DOC]),
    ("text/xml; charset=utf-8", XML_BODY, [XML_DOC]),
    ("application/atom+xml", "<feed><title>t</title></feed>", [{"feed": {"title": "t"}}]),
    ("application/x-www-form-urlencoded", FORM_BODY, [FORM_DOC]),
    ("text/csv", CSV_BODY, CSV_ROWS),
    ("application/csv", "\ufeffa,b\n1,2\n", [{"a": "1", "b": "2"}]),
    ("text/plain", TEXT_BODY, [{"data": TEXT_BODY}]),
]


@pytest.mark.parametrize("ct,body,expected", BY_CONTENT_TYPE,
                         ids=[str(c[0]) for c in BY_CONTENT_TYPE])
def test_parse_by_content_type(hook, ct, body, expected):
    h = hook()
    r = h.send(body, ct=ct)
    assert_status(r, 204)
    assert h.records() == expected


BY_MEDIA_TYPE = [
    ("json", '{"a":1}', [{"a": 1}]),
    ("xml", XML_BODY, [XML_DOC]),
    ("csv", CSV_BODY, CSV_ROWS),
    ("urlencoded", FORM_BODY, [FORM_DOC]),
    ("plaintext", TEXT_BODY, [{"data": TEXT_BODY}]),
    ("plaintext", '{"a":1}', [{"data": '{"a":1}'}]),
]


@pytest.mark.parametrize("sent_ct", [None, "application/json", "application/octet-stream"])
@pytest.mark.parametrize("media,body,expected", BY_MEDIA_TYPE,
                         ids=["json", "xml", "csv", "urlencoded", "plaintext", "plaintext-json"])
def test_parse_by_request_media_type(hook, media, body, expected, sent_ct):
    """requestMediaType wins over whatever Content-Type says."""
    h = hook(requestMediaType=media)
    r = h.send(body, ct=sent_ct)
    assert_status(r, 204)
    assert h.records() == expected


@pytest.mark.parametrize("ct", ["application/octet-stream", "image/png", "application/pdf",
                                "multipart/form-data; boundary=x"])
def test_unsupported_content_type(hook, ct):
    h = hook()
    r = h.send(b'{"a":1}', ct=ct)
    assert_status(r, 415)
    assert body_of(r)["errors"][0]["code"] == "unsupported_media_type"
    assert h.records() == []


def test_xml_sent_as_json_is_malformed(hook):
    h = hook()
    r = h.send(XML_BODY, ct="application/json")
    assert_status(r, 400)
    assert h.records() == []


def test_empty_body_is_success_without_records(hook):
    h = hook()
    for body in (b"", b"  \r\n\t"):
        r = h.send(body)
        assert_status(r, 204)
    assert h.records() == []


# --------------------------------------------------------------------------
# pathToRecords, includeParentData


def test_path_to_records_json(hook):
    doc = {"data": {"items": [{"id": 1}, {"id": 2}, "x", None, [1]]}, "meta": {"page": 1}}
    h = hook(pathToRecords="data.items")
    assert_status(h.send(json.dumps(doc)), 204)
    assert h.records() == [{"id": 1}, {"id": 2}, {"data": "x"}, {"data": None}, {"data": [1]}]
    # an object at the path is one record; a number segment indexes an array
    h = hook(pathToRecords="data.items.1")
    assert_status(h.send(json.dumps(doc)), 204)
    assert h.records() == [{"id": 2}]
    h = hook(pathToRecords="meta")
    assert_status(h.send(json.dumps(doc)), 204)
    assert h.records() == [{"page": 1}]
    # a literal dotted key
    h = hook(pathToRecords="a.b")
    assert_status(h.send('{"a.b":[{"x":1},{"x":2}]}'), 204)
    assert h.records() == [{"x": 1}, {"x": 2}]
    # an array payload: its elements, the path is not applied
    h = hook(pathToRecords="data.items")
    assert_status(h.send('[{"k":1},{"k":2}]'), 204)
    assert h.records() == [{"k": 1}, {"k": 2}]
    # an empty array: no records
    h = hook(pathToRecords="items")
    assert_status(h.send('{"items":[]}'), 204)
    assert h.records() == []


def test_path_to_records_xml(hook):
    body = ('<orders batch="b1"><order id="1"><sku>A</sku></order>'
            '<order id="2"><sku>B</sku></order></orders>')
    h = hook(pathToRecords="orders.order", requestMediaType="xml")
    assert_status(h.send(body, ct=None), 204)
    assert h.records() == [{"@id": "1", "sku": "A"}, {"@id": "2", "sku": "B"}]
    h = hook(pathToRecords="orders.order")
    assert_status(h.send(body, ct="application/xml"), 204)
    assert h.records() == [{"@id": "1", "sku": "A"}, {"@id": "2", "sku": "B"}]


def test_path_to_records_csv_rows_are_records(hook):
    h = hook(pathToRecords="rows", requestMediaType="csv")
    assert_status(h.send("a,b\n1,2\n3,4\n", ct=None), 204)
    assert h.records() == [{"a": "1", "b": "2"}, {"a": "3", "b": "4"}]
    h = hook(pathToRecords="rows")
    assert_status(h.send("a,b\n1,2\n3,4\n", ct="text/csv"), 204)
    assert h.records() == [{"a": "1", "b": "2"}, {"a": "3", "b": "4"}]


def test_include_parent_data(hook):
    doc = {"batch": "b1", "source": "s", "items": [{"id": 1}, {"id": 2, "source": "own"}]}
    h = hook(pathToRecords="items", includeParentData=True)
    assert_status(h.send(json.dumps(doc)), 204)
    assert h.records() == [{"id": 1, "batch": "b1", "source": "s"},
                           {"id": 2, "source": "own", "batch": "b1"}]
    # only the one parent, not its ancestors
    doc = {"top": "t", "data": {"shop": {"n": "x"}, "orders": [{"id": 1}, 5]}}
    h = hook(pathToRecords="data.orders", includeParentData=True)
    assert_status(h.send(json.dumps(doc)), 204)
    assert h.records() == [{"id": 1, "shop": {"n": "x"}}, {"data": 5, "shop": {"n": "x"}}]
    # without the flag, nothing is copied
    h = hook(pathToRecords="data.orders")
    assert_status(h.send(json.dumps(doc)), 204)
    assert h.records() == [{"id": 1}, {"data": 5}]
    # XML too
    h = hook(pathToRecords="orders.order", includeParentData=True, requestMediaType="xml")
    assert_status(h.send('<orders batch="b1"><order id="1"/><order id="2"/></orders>', ct=None), 204)
    assert h.records() == [{"@id": "1", "@batch": "b1"}, {"@id": "2", "@batch": "b1"}]


# --------------------------------------------------------------------------
# Bodies that cannot be parsed: 400, nothing stored

BILLION_LAUGHS = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
                  '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
                  '<lolz>&lol2;</lolz>')
XXE = ('<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
       '<r>&x;</r>')

MALFORMED = [
    ("json", None, b'{"a":1'),
    ("json", None, b'{"a":1,"a":2}'),
    ("json", None, b'"just a string"'),
    ("json", None, b"123"),
    ("json", None, b'{"a":"\xff\xfe"}'),
    ("json", None, b"[" * 200 + b"]" * 200),
    ("json", None, b"{'a':1}"),
    ("xml", None, b"<a><b></a>"),
    ("xml", None, b"not xml at all"),
    ("xml", None, BILLION_LAUGHS.encode()),
    ("xml", None, XXE.encode()),
    ("csv", None, b"a,b\n1,2,3\n"),
    ("csv", None, b"a,b\n1\n"),
    ("csv", None, b"a,a\n1,2\n"),
    ("urlencoded", None, b"a=%ZZ"),
    ("urlencoded", None, b"a=%FF%FE"),
    ("plaintext", None, b"caf\xe9 latin-1"),
    ("json", "items", b'{"other":[1]}'),
    ("json", "items", b'{"items":null}'),
    ("json", "items", b'{"items":7}'),
    ("json", "items", b'{"items":"str"}'),
    ("xml", "r.missing", b"<r><x>1</x></r>"),
]


@pytest.mark.parametrize("media,path,body", MALFORMED, ids=[
    "json-truncated", "json-dupkeys", "json-scalar-string", "json-scalar-number", "json-not-utf8",
    "json-too-deep", "json-single-quotes", "xml-unbalanced", "xml-text", "xml-billion-laughs",
    "xml-xxe", "csv-long-row", "csv-short-row", "csv-dup-columns", "form-bad-escape",
    "form-not-utf8", "text-not-utf8", "path-missing", "path-null", "path-number", "path-string",
    "xml-path-missing"])
def test_malformed_body_400_nothing_stored(hook, media, path, body):
    wh = {"requestMediaType": media}
    if path:
        wh["pathToRecords"] = path
    h = hook(**wh)
    r = h.send(body, ct=None)
    assert_status(r, 400)
    err = body_of(r)["errors"]
    assert len(err) == 1 and err[0]["code"] and err[0]["message"]
    assert b"passwd" not in r.content and b"root:" not in r.content
    # the same export still takes a good delivery afterwards
    good = {"json": b'{"items":[{"ok":1}]}', "xml": b"<r><missing><ok>1</ok></missing></r>",
            "csv": b"ok\n1\n", "urlencoded": b"ok=1", "plaintext": b"ok"}[media]
    assert_status(h.send(good, ct=None), 204)
    assert len(h.records()) == 1


def test_malformed_by_content_type(hook):
    """The same refusals when the media type comes from Content-Type."""
    h = hook()
    for ct, body in [("application/json", b'{"a":'), ("application/xml", b"<a>"),
                     ("text/csv", b"a,b\n1,2,3\n"),
                     ("application/x-www-form-urlencoded", b"a=%G0")]:
        r = h.send(body, ct=ct)
        assert_status(r, 400)
    assert h.records() == []


def test_too_many_records_413(hook):
    h = hook()
    r = h.send("[" + ",".join(["{}"] * 10001) + "]")
    assert_status(r, 413)
    assert h.records() == []
    r = h.send("[" + ",".join(['{"i":%d}' % i for i in range(10000)]) + "]")
    assert_status(r, 204)
    recs = h.records()
    assert len(recs) == 10000 and recs[0] == {"i": 0} and recs[-1] == {"i": 9999}


# --------------------------------------------------------------------------
# --listener-max-body


def test_listener_max_body_413(server_factory):
    srv = server_factory(extra_args=["--listener-max-body", "4096"])
    api = srv.api()
    unauth = Api(srv.url, None)
    h = Hook(api, unauth)

    def body_of_size(n):
        pad = n - len('{"p":""}')
        return ('{"p":"%s"}' % ("x" * pad)).encode()
    exact, over = body_of_size(4096), body_of_size(4097)
    assert len(exact) == 4096 and len(over) == 4097
    assert_status(h.send(exact), 204)
    r = h.send(over)
    assert_status(r, 413)
    assert body_of(r)["errors"][0]["code"] == "payload_too_large"
    r = h.send(body_of_size(200000))
    assert_status(r, 413)
    recs = h.records()
    assert len(recs) == 1 and len(recs[0]["p"]) == 4096 - 8
    # the listener cap is not the API's cap: a bigger export body is fine
    r = api.post("/v1/exports", json=webhook_body(description="d" * 9000,
                                                  webhook={"provider": "github", "key": "k"}))
    assert_status(r, 201)
    # and the server still answers deliveries on the same export
    assert_status(h.send(b'{"after":1}'), 204)
    assert len(h.records()) == 2
