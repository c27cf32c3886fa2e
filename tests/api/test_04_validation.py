"""422 validation: every rule of the contract, multi-error bodies, and that a
rejected write changes nothing."""

import time

import pytest

from apilib import (CONN_A, CONNECTED_ADAPTORS, adaptor_body, assert_errors, assert_status,
                    body_of, http_body, simple_body, webhook_body)

MRF = "missing_required_field"
INV = "invalid_field"


def check_422(api, body, expected):
    r = api.post("/v1/exports", json=body)
    return assert_errors(r, 422, expected)


def ftp_body(**extra):
    return adaptor_body("FTPExport", **extra)


# --------------------------------------------------------------------------
# name


def test_missing_name(api):
    b = http_body()
    del b["name"]
    check_422(api, b, [(MRF, "name")])


@pytest.mark.parametrize("name", [123, True, ["a"], {"a": "b"}, "", "n" * 256, "\u00e9" * 256, 1.5])
def test_invalid_name(api, name):
    check_422(api, http_body(name=name), [(INV, "name")])


# --------------------------------------------------------------------------
# adaptorType


@pytest.mark.parametrize("adaptor", ["Bogus", "httpexport", "HTTPEXPORT", "HTTP", "restexport",
                                     "", " HTTPExport", 5, ["HTTPExport"], True])
def test_invalid_adaptor_type(api, adaptor):
    errs = check_422(api, http_body(adaptorType=adaptor), [(INV, "adaptorType")])
    if isinstance(adaptor, str):
        assert errs[0]["message"] == "Invalid adaptorType"


def test_missing_adaptor_type_not_inferable(api):
    """Without adaptorType, a webhook or simple type, or a connection to
    derive it from, adaptorType is missing."""
    b = http_body()
    del b["adaptorType"], b["_connectionId"]
    check_422(api, b, [(MRF, "adaptorType")])
    check_422(api, {"name": "x", "type": "test", "test": {"limit": 1}},
              [(MRF, "adaptorType")])


# --------------------------------------------------------------------------
# _connectionId


@pytest.mark.parametrize("adaptor", CONNECTED_ADAPTORS)
def test_missing_connection_id(api, adaptor):
    b = adaptor_body(adaptor)
    del b["_connectionId"]
    check_422(api, b, [(MRF, "_connectionId")])


@pytest.mark.parametrize("conn", ["abc", "5f0a1b2c3d4e5f6a7b8c9d0", "5f0a1b2c3d4e5f6a7b8c9d0e0",
                                  "5f0a1b2c3d4e5f6a7b8c9d0g", "", 123, {"$oid": CONN_A}, [CONN_A]])
def test_malformed_connection_id(api, conn):
    check_422(api, http_body(_connectionId=conn), [(INV, "_connectionId")])


def test_connection_id_rejected_on_webhook(api):
    check_422(api, webhook_body(_connectionId=CONN_A), [(INV, "_connectionId")])
    check_422(api, webhook_body(_connectionId=CONN_A, adaptorType="WebhookExport"),
              [(INV, "_connectionId")])


def test_connection_id_optional_on_simple(api):
    r = api.post("/v1/exports", json=simple_body())
    assert_status(r, 201)


# --------------------------------------------------------------------------
# type and its blocks


@pytest.mark.parametrize("typ", ["realtime", "Webhook", "DELTA", "", 1, True, ["delta"], {"x": 1}])
def test_invalid_type(api, typ):
    check_422(api, http_body(type=typ), [(INV, "type")])


@pytest.mark.parametrize("typ,block", [
    ("delta", {"delta": {"dateField": "lastModifiedDate"}}),
    ("once", {"once": {"booleanField": "exported"}}),
    ("test", {"test": {"limit": 10}}),
    ("tranlinedelta", {}),
    ("blob", {}),
    ("stream", {}),
])
def test_valid_types_accepted(api, typ, block):
    b = ftp_body(type=typ, **block)
    r = api.post("/v1/exports", json=b)
    assert_status(r, 201)
    e = body_of(r)
    assert e["type"] == typ
    for k, v in block.items():
        assert e[k] == v


def test_delta_requires_date_field(api):
    check_422(api, ftp_body(type="delta"), [(MRF, "delta.dateField")])
    check_422(api, ftp_body(type="delta", delta={}), [(MRF, "delta.dateField")])
    check_422(api, ftp_body(type="delta", delta={"lagOffset": 100}), [(MRF, "delta.dateField")])


def test_delta_date_field_invalid_on_http(api):
    check_422(api, http_body(type="delta", delta={"dateField": "updated"}), [(INV, "delta.dateField")])


def test_delta_on_http_without_date_field_ok(api):
    r = api.post("/v1/exports", json=http_body(type="delta"))
    assert_status(r, 201)
    r = api.post("/v1/exports", json=http_body(type="delta", delta={"lagOffset": 1000}))
    assert_status(r, 201)
    assert body_of(r)["delta"] == {"lagOffset": 1000}


def test_test_limit_required(api):
    check_422(api, ftp_body(type="test"), [(MRF, "test.limit")])
    check_422(api, ftp_body(type="test", test={}), [(MRF, "test.limit")])


@pytest.mark.parametrize("limit", [0, 101, -1, 1000, "5", 1.5, True, [5]])
def test_test_limit_invalid(api, limit):
    check_422(api, ftp_body(type="test", test={"limit": limit}), [(INV, "test.limit")])


@pytest.mark.parametrize("limit", [1, 100, 50])
def test_test_limit_bounds_ok(api, limit):
    r = api.post("/v1/exports", json=ftp_body(type="test", test={"limit": limit}))
    assert_status(r, 201)
    assert body_of(r)["test"] == {"limit": limit}


def test_once_boolean_field_required(api):
    check_422(api, ftp_body(type="once"), [(MRF, "once.booleanField")])
    check_422(api, ftp_body(type="once", once={}), [(MRF, "once.booleanField")])


@pytest.mark.parametrize("bf", [5, True, ["x"], {"a": "b"}])
def test_once_boolean_field_must_be_string(api, bf):
    check_422(api, ftp_body(type="once", once={"booleanField": bf}), [(INV, "once.booleanField")])


def test_webhook_type_requires_webhook_block(api):
    check_422(api, {"name": "w", "type": "webhook"}, [(MRF, "webhook")])
    check_422(api, {"name": "w", "type": "webhook", "adaptorType": "WebhookExport"}, [(MRF, "webhook")])


@pytest.mark.parametrize("typ,block", [
    ("delta", {"delta": {"dateField": "d"}}),
    ("test", {"test": {"limit": 1}}),
    ("simple", {"simple": {"file": {"type": "csv"}}}),
])
def test_webhook_export_requires_type_webhook(api, typ, block):
    b = {"name": "w", "adaptorType": "WebhookExport", "type": typ, "webhook": {"provider": "github"}}
    b.update(block)
    check_422(api, b, [(INV, "type")])


def test_webhook_export_without_type(api):
    r = api.post("/v1/exports", json={"name": "w", "adaptorType": "WebhookExport",
                                       "webhook": {"provider": "github"}})
    assert_status(r, 422)
    errs = body_of(r)["errors"]
    assert [e.get("field") for e in errs] == ["type"], errs
    assert errs[0]["code"] in (INV, MRF), errs


@pytest.mark.parametrize("typ,block", [
    ("webhook", {"webhook": {"provider": "github"}}),
    ("test", {"test": {"limit": 1}}),
])
def test_simple_export_requires_type_simple(api, typ, block):
    b = {"name": "s", "adaptorType": "SimpleExport", "type": typ, "simple": {"file": {"type": "csv"}}}
    b.update(block)
    check_422(api, b, [(INV, "type")])


# --------------------------------------------------------------------------
# Several failures at once


def test_multiple_errors_listed(api):
    check_422(api, {"name": "", "adaptorType": "HTTPExport", "_connectionId": "zz", "type": "nope"},
              [(INV, "name"), (INV, "_connectionId"), (INV, "type")])


def test_multiple_errors_with_invalid_adaptor_type(api):
    # rules that need a valid adaptorType wait for one; the others still run
    check_422(api, {"name": 123, "adaptorType": "httpexport", "_connectionId": "zz"},
              [(INV, "name"), (INV, "adaptorType"), (INV, "_connectionId")])


def test_multiple_errors_missing(api):
    check_422(api, {"adaptorType": "FTPExport", "type": "test", "ftp": {"directoryPath": "/"}},
              [(MRF, "name"), (MRF, "_connectionId"), (MRF, "test.limit")])


def test_multiple_errors_webhook(api):
    check_422(api, {"name": 7, "type": "webhook", "_connectionId": CONN_A},
              [(INV, "name"), (INV, "_connectionId"), (MRF, "webhook")])


def test_empty_object(api):
    check_422(api, {}, [(MRF, "name"), (MRF, "adaptorType")])


def test_multiple_errors_once_and_name(api):
    check_422(api, ftp_body(name="n" * 300, type="once", once={"booleanField": 1}),
              [(INV, "name"), (INV, "once.booleanField")])


# --------------------------------------------------------------------------
# PUT rules


def test_adaptor_type_immutable(api):
    e = api.create(http_body())
    r = api.put("/v1/exports/" + e["_id"], json=adaptor_body("FTPExport"))
    assert_errors(r, 422, [("immutable_field", "adaptorType")])
    assert api.fetch(e["_id"]) == e
    w = api.create(webhook_body())
    r = api.put("/v1/exports/" + w["_id"], json=simple_body(adaptorType="SimpleExport"))
    assert_status(r, 422)
    got = [(x["code"], x.get("field")) for x in body_of(r)["errors"]]
    assert ("immutable_field", "adaptorType") in got, got
    assert api.fetch(w["_id"]) == w


def test_put_invalid_adaptor_type(api):
    e = api.create(http_body())
    r = api.put("/v1/exports/" + e["_id"], json=http_body(adaptorType="Nope"))
    assert_status(r, 422)
    assert [x.get("field") for x in body_of(r)["errors"]] == ["adaptorType"]
    assert api.fetch(e["_id"]) == e


@pytest.mark.parametrize("mutate,expected", [
    (lambda b: b.pop("name"), [(MRF, "name")]),
    (lambda b: b.update(name=""), [(INV, "name")]),
    (lambda b: b.pop("_connectionId"), [(MRF, "_connectionId")]),
    (lambda b: b.update(_connectionId="bad"), [(INV, "_connectionId")]),
    (lambda b: b.update(type="weird"), [(INV, "type")]),
    (lambda b: b.update(type="test"), [(MRF, "test.limit")]),
    (lambda b: b.update(type="test", test={"limit": 0}), [(INV, "test.limit")]),
    (lambda b: b.update(type="delta", delta={"dateField": "x"}), [(INV, "delta.dateField")]),
    (lambda b: b.update(type="once"), [(MRF, "once.booleanField")]),
    (lambda b: b.update(name=5, type="once"), [(INV, "name"), (MRF, "once.booleanField")]),
])
def test_rejected_put_changes_nothing(api, mutate, expected):
    e = api.create(http_body(description="keep me"))
    etag = api.get("/v1/exports/" + e["_id"]).headers.get("ETag")
    time.sleep(0.005)
    b = http_body(name="changed")
    mutate(b)
    r = api.put("/v1/exports/" + e["_id"], json=b)
    assert_errors(r, 422, expected)
    g = api.get("/v1/exports/" + e["_id"])
    assert body_of(g) == e
    assert g.headers.get("ETag") == etag


def test_webhook_put_validation(api):
    w = api.create(webhook_body())
    r = api.put("/v1/exports/" + w["_id"], json={"name": "w2", "type": "webhook"})
    assert_errors(r, 422, [(MRF, "webhook")])
    r = api.put("/v1/exports/" + w["_id"], json=webhook_body(_connectionId=CONN_A))
    assert_errors(r, 422, [(INV, "_connectionId")])
    r = api.put("/v1/exports/" + w["_id"], json=webhook_body(type="delta", delta={"dateField": "x"}))
    assert_errors(r, 422, [(INV, "type")])
    assert api.fetch(w["_id"]) == w


def test_rejected_post_creates_nothing(fresh_api):
    for body in ({}, http_body(name=""), http_body(adaptorType="X"), http_body(type="test"),
                 webhook_body(_connectionId=CONN_A)):
        r = fresh_api.post("/v1/exports", json=body)
        assert_status(r, 422)
    assert_status(fresh_api.get("/v1/exports"), 204)


def test_error_messages_present(api):
    r = api.post("/v1/exports", json={})
    for e in body_of(r)["errors"]:
        assert isinstance(e["message"], str) and len(e["message"]) > 3


@pytest.mark.parametrize("block", ["webhook", "simple", "delta", "test", "once", "distributed"])
def test_type_blocks_are_objects_on_any_type(api, block):
    check_422(api, http_body(**{block: "x"}), [(INV, block)])
