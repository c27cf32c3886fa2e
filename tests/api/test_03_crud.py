"""Create / read / replace / delete success paths and document rules."""

import datetime as dt
import json
import re
import time

import pytest

from apilib import (ADAPTOR_TYPES, API_ID, CONN_A, CONN_B, HEX24, ISO_MS, MISSING,
                    adaptor_body, assert_error, assert_export_shape, assert_no_body,
                    assert_status, body_of, http_body, simple_body, webhook_body,
                    without_server_fields)


def _parse_ts(s):
    return dt.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.timezone.utc)


def _now():
    return dt.datetime.now(dt.timezone.utc)


def test_create_returns_stored_document(api):
    body = http_body(description="d", pageSize=50)
    r = api.post("/v1/exports", json=body)
    assert_status(r, 201)
    e = body_of(r)
    assert_export_shape(e)
    assert without_server_fields(e) == body
    assert set(e) == set(body) | {"_id", "createdAt", "lastModified", "apiIdentifier", "asynchronous"}
    assert api.fetch(e["_id"]) == e


def test_location_header(api):
    r = api.post("/v1/exports", json=http_body())
    assert_status(r, 201)
    e = body_of(r)
    loc = r.headers.get("Location")
    assert loc in ("/v1/exports/" + e["_id"], api.base_url + "/v1/exports/" + e["_id"]), loc
    assert_status(api.get(loc), 200)


def test_server_managed_field_values(api):
    before = _now() - dt.timedelta(seconds=5)
    e = api.create(http_body())
    after = _now() + dt.timedelta(seconds=5)
    assert HEX24.match(e["_id"])
    assert API_ID.match(e["apiIdentifier"])
    assert ISO_MS.match(e["createdAt"]) and ISO_MS.match(e["lastModified"])
    assert before <= _parse_ts(e["createdAt"]) <= after
    assert e["lastModified"] >= e["createdAt"]
    assert e["asynchronous"] is True
    assert "_sourceId" not in e
    # ObjectId: the first 4 bytes are the creation time in seconds
    oid_time = int(e["_id"][:8], 16)
    assert before.timestamp() - 1 <= oid_time <= after.timestamp() + 1


def test_ids_and_api_identifiers_are_unique(api):
    docs = [api.create(http_body()) for _ in range(20)]
    assert len({d["_id"] for d in docs}) == 20
    assert len({d["apiIdentifier"] for d in docs}) == 20


@pytest.mark.parametrize("adaptor", ADAPTOR_TYPES)
def test_create_each_adaptor_type(api, adaptor):
    body = adaptor_body(adaptor)
    e = api.create(body)
    assert_export_shape(e)
    assert e["adaptorType"] == adaptor
    assert without_server_fields(e) == body
    assert api.fetch(e["_id"]) == e


def test_client_sent_read_only_fields_ignored_on_post(api):
    forged = {
        "_id": "55ea776bb751843c37b7b366",
        "createdAt": "2001-01-01T00:00:00.000Z",
        "lastModified": "2001-01-01T00:00:00.000Z",
        "apiIdentifier": "e0000000000",
        "asynchronous": False,
        "_sourceId": "55ea776bb751843c37b7b367",
    }
    body = http_body(**forged)
    e = api.create(body)
    assert_export_shape(e)
    assert e["_id"] != forged["_id"]
    assert e["createdAt"] > "2020"
    assert e["lastModified"] > "2020"
    assert e["apiIdentifier"] != forged["apiIdentifier"]
    assert e["asynchronous"] is True
    assert "_sourceId" not in e
    assert_error(api.get("/v1/exports/" + forged["_id"]), 404, "not_found")
    assert api.fetch(e["_id"]) == e


def test_client_sent_read_only_fields_ignored_on_put(api):
    e = api.create(http_body())
    other = api.create(http_body(name="other"))
    time.sleep(0.01)
    body = http_body(name="renamed",
                     _id=other["_id"],
                     createdAt="2001-01-01T00:00:00.000Z",
                     lastModified="2001-01-01T00:00:00.000Z",
                     apiIdentifier="e0000000000",
                     asynchronous=False,
                     _sourceId=other["_id"])
    u = api.replace(e["_id"], body)
    assert u["_id"] == e["_id"]
    assert u["name"] == "renamed"
    assert u["createdAt"] == e["createdAt"]
    assert u["apiIdentifier"] == e["apiIdentifier"]
    assert u["asynchronous"] is True
    assert "_sourceId" not in u
    assert u["lastModified"] > e["lastModified"]
    assert api.fetch(e["_id"]) == u
    # the export whose id was in the body is untouched
    assert api.fetch(other["_id"]) == other


def test_put_replaces_whole_document(api):
    e = api.create(http_body(description="gone soon", pageSize=10, extra={"a": 1}))
    body = http_body(name=e["name"])
    u = api.replace(e["_id"], body)
    assert "description" not in u and "pageSize" not in u and "extra" not in u
    assert without_server_fields(u) == body
    assert api.fetch(e["_id"]) == u


def test_put_updates_last_modified_only(api):
    e = api.create(http_body())
    time.sleep(0.01)
    u = api.replace(e["_id"], http_body(name=e["name"], _connectionId=CONN_B))
    assert u["_connectionId"] == api.connection(CONN_B)
    assert u["lastModified"] > e["lastModified"]
    for k in ("_id", "createdAt", "apiIdentifier", "asynchronous", "adaptorType"):
        assert u[k] == e[k], k
    g = api.fetch(e["_id"])
    assert g == u


def test_put_without_adaptor_type_keeps_stored_one(api):
    e = api.create(http_body())
    body = http_body(name="no-adaptor")
    del body["adaptorType"]
    u = api.replace(e["_id"], body)
    assert u["adaptorType"] == "HTTPExport"
    assert api.fetch(e["_id"])["adaptorType"] == "HTTPExport"


def test_put_same_adaptor_type_ok(api):
    e = api.create(webhook_body())
    u = api.replace(e["_id"], webhook_body(name="x", adaptorType="WebhookExport"))
    assert u["adaptorType"] == "WebhookExport"
    assert u["name"] == "x"


def test_delete(fresh_api):
    a = fresh_api.create(http_body())
    b = fresh_api.create(http_body())
    r = fresh_api.delete("/v1/exports/" + a["_id"])
    assert_status(r, 204)
    assert_no_body(r)
    assert_error(fresh_api.get("/v1/exports/" + a["_id"]), 404, "not_found")
    assert_error(fresh_api.delete("/v1/exports/" + a["_id"]), 404, "not_found")
    assert_error(fresh_api.put("/v1/exports/" + a["_id"], json=http_body()), 404, "not_found")
    assert_error(fresh_api.post("/v1/exports/%s/clone" % a["_id"]), 404, "not_found")
    items, _ = fresh_api.list_all()
    assert [x["_id"] for x in items] == [b["_id"]]
    assert_status(fresh_api.delete("/v1/exports/" + b["_id"]), 204)
    assert_status(fresh_api.get("/v1/exports"), 204)


def test_null_stripping_on_post(api):
    body = http_body(
        description=None,
        hooks={"preSavePage": {"_stackId": None, "function": None}},
        keep={"a": None, "b": 1, "c": {"d": None}},
        arr=[None, 1, "x", {"y": 2}, [None]],
        deep={"l1": {"l2": {"l3": None}}},
        halfDeep={"l1": {"l2": None, "v": False}},
    )
    e = api.create(body)
    assert "description" not in e
    assert "hooks" not in e
    assert e["keep"] == {"b": 1}
    assert e["arr"] == [None, 1, "x", {"y": 2}, [None]]
    assert "deep" not in e
    assert e["halfDeep"] == {"l1": {"v": False}}
    assert api.fetch(e["_id"]) == e


def test_null_stripping_on_put(api):
    e = api.create(http_body(description="x"))
    body = http_body(name=e["name"], description=None,
                     hooks={"preSavePage": {"_stackId": None, "function": None}},
                     obj={"k": None, "z": 0}, arr=[None, None])
    u = api.replace(e["_id"], body)
    assert "description" not in u
    assert "hooks" not in u
    assert u["obj"] == {"z": 0}
    assert u["arr"] == [None, None]
    assert api.fetch(e["_id"]) == u


def test_known_optional_fields_kept(api):
    body = http_body(
        description="a description",
        pageSize=20,
        isLookup=True,
        oneToMany=True,
        pathToMany="items",
        dataURITemplate="{{id}}",
        traceKeyTemplate="{{id}}",
        groupByFields=["a", "b"],
        hooks={"preSavePage": {"function": "fn", "_scriptId": "5f0a1b2c3d4e5f6a7b8c9d01"}},
        filter={"type": "expression", "expression": {"version": "1", "rules": ["equals", ["string", ["extract", "a"]], "x"]}},
        transform={"type": "expression", "expression": {"version": "1", "rules": [[{"extract": "a", "generate": "b"}]]}},
        mockOutput={"page_of_records": [{"record": {"id": 1}}]},
        settings={"k": "v"},
        sampleData="{\"a\":1}",
        _integrationId="5f0a1b2c3d4e5f6a7b8c9d02",
    )
    e = api.create(body)
    assert without_server_fields(e) == body


def test_unknown_fields_kept_all_types(api):
    unknown = {
        "xString": "text with \"quotes\", \\backslash\\, \n newline, \t tab, \u00e9\u00fc\u2603 \U0001F600",
        "xEmptyString": "",
        "xInt": 42,
        "xNeg": -7,
        "xZero": 0,
        "xFloat": 0.1,
        "xExp": -2.5e-08,
        "xThird": 1 / 3,
        "xBig": 123456789012345678,
        "x2p53plus1": 9007199254740993,
        "xMinInt": -9223372036854775808,
        "xTrue": True,
        "xFalse": False,
        "xArr": [1, "two", 3.5, True, False, None, [], [1, [2, [3]]], {"k": "v"}],
        "xEmptyArr": [],
        "xNested": {"a": {"b": {"c": [{"d": {"e": "deep"}}]}}, "n": 1.5},
        "http": {"method": "GET", "relativeURI": "/items", "xUnknownInBlock": {"q": [1, 2]}},
    }
    body = http_body(**unknown)
    e = api.create(body)
    for k, v in unknown.items():
        assert e[k] == v, k
        assert type(e[k]) is type(v), (k, type(e[k]))
    g = api.fetch(e["_id"])
    assert g == e
    for k in ("xInt", "xBig", "x2p53plus1", "xMinInt", "xZero"):
        assert type(g[k]) is int, k
    for k in ("xFloat", "xExp", "xThird"):
        assert type(g[k]) is float, k
    # and they survive a PUT that carries them back
    u = api.replace(e["_id"], without_server_fields(g))
    assert without_server_fields(u) == body


def test_numbers_round_trip_textually(api):
    raw = (b'{"name":"nums","adaptorType":"HTTPExport","_connectionId":"' + CONN_A.encode() + b'",'
           b'"n1":0.1,"n2":1.5,"n3":-0.25,"n4":100,"n5":123456789012345678}')
    r = api.post("/v1/exports", data=raw, headers={"Content-Type": "application/json"})
    assert_status(r, 201)
    for resp in (r, api.get("/v1/exports/" + body_of(r)["_id"])):
        text = resp.content.decode()
        for key, lit in (("n1", "0.1"), ("n2", "1.5"), ("n3", "-0.25"), ("n4", "100"),
                         ("n5", "123456789012345678")):
            assert re.search(r'"%s"\s*:\s*%s\s*[,}]' % (key, re.escape(lit)), text), (key, text)


def test_adaptor_type_inferred_for_webhook(api):
    body = webhook_body()
    e = api.create(body)
    assert e["adaptorType"] == "WebhookExport"
    assert "_connectionId" not in e
    assert api.fetch(e["_id"])["adaptorType"] == "WebhookExport"


def test_adaptor_type_inferred_for_simple(api):
    e = api.create(simple_body())
    assert e["adaptorType"] == "SimpleExport"
    assert e["simple"] == {"file": {"type": "csv"}}


def test_server_fields_survive_put(api):
    orig = api.create(http_body())
    r = api.post("/v1/exports/%s/clone" % orig["_id"])
    assert_status(r, 201)
    clone = body_of(r)
    assert clone["_sourceId"] == orig["_id"]
    time.sleep(0.01)
    body = http_body(name="after-put")      # no server fields at all
    u = api.replace(clone["_id"], body)
    assert u["createdAt"] == clone["createdAt"]
    assert u["apiIdentifier"] == clone["apiIdentifier"]
    assert u["_sourceId"] == orig["_id"]
    assert u["asynchronous"] is True
    u2 = api.replace(clone["_id"], http_body(name="again", _sourceId=None))
    assert u2["_sourceId"] == orig["_id"]
    assert api.fetch(clone["_id"]) == u2


def test_name_length_limits_ok(api):
    e = api.create(http_body(name="n" * 255))
    assert e["name"] == "n" * 255
    # 255 characters, 510 bytes of UTF-8
    e = api.create(http_body(name="\u00e9" * 255))
    assert e["name"] == "\u00e9" * 255


def test_get_returns_same_bytes_as_post_body(api):
    r = api.post("/v1/exports", json=http_body(extra={"z": [1, {"y": None, "x": "v"}]}))
    assert_status(r, 201)
    g = api.get("/v1/exports/" + body_of(r)["_id"])
    assert json.loads(g.content) == json.loads(r.content)
