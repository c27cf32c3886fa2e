"""GET/PUT /v1/exports/{id}/distributed."""

import time

import pytest

from apilib import (ANY, MASK, adaptor_body, assert_errors, assert_error, assert_status,
                    body_of, http_body, netsuite_distributed_body,
                    salesforce_distributed_body, secret_value, webhook_body)

NS_CONFIG = {
    "recordType": "salesorder",
    "executionContext": ["userinterface", "webservices"],
    "executionType": ["create", "edit"],
    "disabled": False,
    "qualifier": ["total", ">=", "1000"],
    "hooks": {"preSend": {"fileInternalId": "123", "function": "preSend"}},
    "settings": {"k": 1.5},
    "sublists": ["item"],
}
SF_CONFIG = {
    "referencedFields": ["Owner.Name"],
    "disabled": True,
    "qualifier": "Amount > 100",
    "batchSize": 50,
}


def dpath(e):
    return "/v1/exports/%s/distributed" % e["_id"]


def test_get_unset_is_empty_object(api):
    e = api.create(netsuite_distributed_body())
    r = api.get(dpath(e))
    assert_status(r, 200)
    assert body_of(r) == {}
    assert r.headers.get("ETag")


def test_put_netsuite(api):
    e = api.create(netsuite_distributed_body())
    etag0 = api.get("/v1/exports/" + e["_id"]).headers.get("ETag")
    time.sleep(0.01)
    r = api.put(dpath(e), json=NS_CONFIG)
    assert_status(r, 200)
    assert body_of(r) == NS_CONFIG
    assert r.headers.get("ETag")
    r = api.get(dpath(e))
    assert_status(r, 200)
    assert body_of(r) == NS_CONFIG
    g = api.get("/v1/exports/" + e["_id"])
    doc = body_of(g)
    assert doc["netsuite"] == {"type": "distributed", "distributed": NS_CONFIG}
    assert doc["lastModified"] > e["lastModified"]
    assert doc["createdAt"] == e["createdAt"]
    assert g.headers.get("ETag") != etag0
    rest = {k: v for k, v in doc.items() if k not in ("netsuite", "lastModified")}
    assert rest == {k: v for k, v in e.items() if k not in ("netsuite", "lastModified")}


def test_put_replaces(api):
    e = api.create(netsuite_distributed_body())
    api.put(dpath(e), json=NS_CONFIG)
    r = api.put(dpath(e), json={"recordType": "customer"})
    assert_status(r, 200)
    assert body_of(r) == {"recordType": "customer"}
    assert body_of(api.get(dpath(e))) == {"recordType": "customer"}
    assert api.fetch(e["_id"])["netsuite"]["distributed"] == {"recordType": "customer"}


def test_put_salesforce(api):
    e = api.create(salesforce_distributed_body())
    assert body_of(api.get(dpath(e))) == {}
    r = api.put(dpath(e), json=SF_CONFIG)
    assert_status(r, 200)
    assert body_of(r) == SF_CONFIG
    assert body_of(api.get(dpath(e))) == SF_CONFIG
    doc = api.fetch(e["_id"])
    assert doc["salesforce"] == {"type": "distributed", "sObjectType": "Account", "distributed": SF_CONFIG}
    assert "netsuite" not in doc


def test_inline_block_visible(api):
    e = api.create(netsuite_distributed_body(netsuite={"type": "distributed", "distributed": {"recordType": "invoice"}}))
    assert body_of(api.get(dpath(e))) == {"recordType": "invoice"}
    # a whole-document PUT without the block clears it
    api.replace(e["_id"], netsuite_distributed_body(name=e["name"]))
    assert body_of(api.get(dpath(e))) == {}


def test_put_strips_nulls(api):
    e = api.create(netsuite_distributed_body())
    r = api.put(dpath(e), json={"recordType": "x", "qualifier": None, "hooks": {"preSend": {"function": None}}})
    assert_status(r, 200)
    assert body_of(r) == {"recordType": "x"}


def test_put_keeps_export_secret(api, leak_watch):
    s = secret_value("bt")
    leak_watch.append(s)
    e = api.create(netsuite_distributed_body(distributed={"bearerToken": s}))
    r = api.put(dpath(e), json={"recordType": "salesorder"})
    assert_status(r, 200)
    assert s not in r.text
    doc = api.fetch(e["_id"])
    assert doc["distributed"] == {"bearerToken": MASK}
    assert doc["netsuite"]["distributed"] == {"recordType": "salesorder"}


@pytest.mark.parametrize("make", [
    lambda: http_body(),
    lambda: webhook_body(),
    lambda: adaptor_body("NetSuiteExport"),
    lambda: adaptor_body("SalesforceExport"),
    lambda: adaptor_body("FTPExport", type="distributed"),
    lambda: http_body(type="distributed"),
    lambda: adaptor_body("NetSuiteExport", type="test", test={"limit": 1}),
], ids=["http", "webhook", "netsuite-restlet", "salesforce-soql", "ftp-distributed",
        "http-distributed", "netsuite-test"])
def test_not_distributed_is_422_invalid_type(api, make):
    e = api.create(make())
    assert_errors(api.get(dpath(e)), 422, [("invalid_type", ANY)])
    assert_errors(api.put(dpath(e), json={"recordType": "x"}), 422, [("invalid_type", ANY)])
    assert api.fetch(e["_id"]) == e


def test_put_body_must_be_object(api):
    e = api.create(netsuite_distributed_body())
    for raw in (b"[]", b"1", b"\"s\"", b"null"):
        r = api.put(dpath(e), data=raw, headers={"Content-Type": "application/json"})
        assert_error(r, 400, "invalid_json")
    assert body_of(api.get(dpath(e))) == {}


def test_deleted_export_has_no_distributed(api):
    e = api.create(netsuite_distributed_body())
    api.put(dpath(e), json=NS_CONFIG)
    assert_status(api.delete("/v1/exports/" + e["_id"]), 204)
    assert_error(api.get(dpath(e)), 404, "not_found")
    assert_error(api.put(dpath(e), json=NS_CONFIG), 404, "not_found")
