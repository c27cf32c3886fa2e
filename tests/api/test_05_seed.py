"""The seed examples of integrator.io's export.md, verbatim."""

import time

from apilib import (API_ID, HEX24, ISO_MS, MASK, assert_error, assert_status, body_of,
                    secret_value)

SEED_PUT_ID = "55ea776bb751843c37b7b366"


def seed_create_body(key):
    return {
        "name": "GitHub Event Listener",
        "type": "webhook",
        "hooks": {"preSavePage": {"_stackId": None, "function": None}},
        "webhook": {"provider": "github", "key": key},
    }


def seed_put_body():
    return {
        "_id": SEED_PUT_ID,
        "lastModified": "2017-04-16T18:56:15.879Z",
        "name": "GitHub Event Listener (updated!)",
        "type": "webhook",
        "hooks": {"preSavePage": {"_stackId": None, "function": None}},
        "webhook": {"provider": "github", "key": "******"},
    }


SERVER_KEYS = {"_id", "createdAt", "lastModified", "apiIdentifier", "asynchronous", "adaptorType"}


def _check_seed_shape(doc, name):
    assert set(doc) == SERVER_KEYS | {"name", "type", "webhook"}, sorted(doc)
    assert HEX24.match(doc["_id"])
    assert API_ID.match(doc["apiIdentifier"])
    assert ISO_MS.match(doc["createdAt"]) and ISO_MS.match(doc["lastModified"])
    assert doc["asynchronous"] is True
    assert doc["adaptorType"] == "WebhookExport"
    assert doc["name"] == name
    assert doc["type"] == "webhook"
    assert doc["webhook"] == {"provider": "github", "key": MASK}
    assert "hooks" not in doc


def test_seed_get_shape(api, leak_watch):
    key = secret_value("seed")
    leak_watch.append(key)
    r = api.post("/v1/exports", json=seed_create_body(key))
    assert_status(r, 201)
    created = body_of(r)
    _check_seed_shape(created, "GitHub Event Listener")
    assert key not in r.text
    g = api.get("/v1/exports/" + created["_id"])
    assert_status(g, 200)
    assert body_of(g) == created
    assert key not in g.text


def test_seed_put(api, leak_watch):
    key = secret_value("seedput")
    leak_watch.append(key)
    created = api.create(seed_create_body(key))
    time.sleep(0.01)
    r = api.put("/v1/exports/" + created["_id"], json=seed_put_body())
    assert_status(r, 200)
    u = body_of(r)
    _check_seed_shape(u, "GitHub Event Listener (updated!)")
    assert u["_id"] == created["_id"]                  # the path wins
    assert u["lastModified"] != "2017-04-16T18:56:15.879Z"
    assert u["lastModified"] > created["lastModified"]
    assert u["createdAt"] == created["createdAt"]
    assert u["apiIdentifier"] == created["apiIdentifier"]
    assert key not in r.text
    assert api.fetch(created["_id"]) == u
    # the body's _id did not create or touch anything
    assert_error(api.get("/v1/exports/" + SEED_PUT_ID), 404, "not_found")


def test_seed_put_keeps_key_while_omission_erases_it(api, leak_watch):
    key = secret_value("seedkeep")
    leak_watch.append(key)
    kept = api.create(seed_create_body(key))
    erased = api.create(seed_create_body(key))
    # "******" keeps the stored key
    u = api.replace(kept["_id"], seed_put_body())
    assert u["webhook"] == {"provider": "github", "key": MASK}
    # a PUT without the key erases it
    body = seed_put_body()
    del body["webhook"]["key"]
    v = api.replace(erased["_id"], body)
    assert v["webhook"] == {"provider": "github"}
    assert api.fetch(erased["_id"])["webhook"] == {"provider": "github"}
    # "******" with nothing stored stays absent
    w = api.replace(erased["_id"], seed_put_body())
    assert w["webhook"] == {"provider": "github"}
    # and the kept one still has it after another masked round trip
    again = api.replace(kept["_id"], seed_put_body())
    assert again["webhook"] == {"provider": "github", "key": MASK}
    assert api.fetch(kept["_id"])["webhook"] == {"provider": "github", "key": MASK}


def test_seed_put_sent_to_an_absent_id_is_404(fresh_api):
    r = fresh_api.put("/v1/exports/" + SEED_PUT_ID, json=seed_put_body())
    assert_error(r, 404, "not_found")
    assert_status(fresh_api.get("/v1/exports"), 204)
