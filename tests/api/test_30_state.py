"""State API (spec §12): values kept under a key, per account and per export."""

import json

import pytest

from apilib import assert_error, assert_status, body_of, http_body


def put(a, path, value):
    return a.put(path, data=json.dumps(value).encode(), headers={"Content-Type": "application/json"})


@pytest.mark.parametrize("base", ["/v1", "/v1/exports/{id}"])
def test_put_get_keys_delete(fresh_api, base):
    a = fresh_api
    e = a.create(http_body())
    p = base.format(id=e["_id"]) + "/state"
    assert body_of(a.get(p)) == {"keys": []}
    r = put(a, p + "/cursor", {"last": "2026-01-01T00:00:00.000Z", "n": [1, 2]})
    assert r.status_code == 200 and r.text == "Created"
    assert r.headers["Content-Type"].startswith("text/plain")
    r = put(a, p + "/cursor", {"last": "x"})
    assert r.status_code == 200 and r.text == "OK"
    for v in (42, "text", [1, "a"], None, True):
        assert_status(put(a, p + "/scalar", v), 200)
        assert body_of(a.get(p + "/scalar")) == v
    assert body_of(a.get(p + "/cursor")) == {"last": "x"}
    assert body_of(a.get(p)) == {"keys": ["cursor", "scalar"]}
    r = a.delete(p + "/cursor")
    assert r.status_code == (204 if base == "/v1" else 200)
    assert_error(a.get(p + "/cursor"), 404, "not_found")
    assert_error(a.delete(p + "/cursor"), 404, "not_found")


def test_global_and_export_scopes_are_apart(fresh_api):
    a = fresh_api
    e = a.create(http_body())
    put(a, "/v1/state/k", 1)
    put(a, "/v1/exports/%s/state/k" % e["_id"], 2)
    assert body_of(a.get("/v1/state/k")) == 1
    assert body_of(a.get("/v1/exports/%s/state/k" % e["_id"])) == 2
    assert body_of(a.get("/v1/state")) == {"keys": ["k"]}


def test_delete_all_global(fresh_api):
    a = fresh_api
    e = a.create(http_body())
    for k in "abc":
        put(a, "/v1/state/" + k, k)
    put(a, "/v1/exports/%s/state/keep" % e["_id"], 1)
    r = a.delete("/v1/state")
    assert r.status_code == 204 and r.content == b""
    assert body_of(a.get("/v1/state")) == {"keys": []}
    assert body_of(a.get("/v1/exports/%s/state/keep" % e["_id"])) == 1
    assert a.delete("/v1/state").status_code == 204


def test_deleting_the_export_deletes_its_state(fresh_api):
    a = fresh_api
    e = a.create(http_body())
    put(a, "/v1/exports/%s/state/k" % e["_id"], 1)
    assert_status(a.delete("/v1/exports/" + e["_id"]), 204)
    assert_error(a.get("/v1/exports/%s/state/k" % e["_id"]), 404, "not_found")
    assert_error(a.get("/v1/exports/%s/state" % e["_id"]), 404, "not_found")
    assert_error(put(a, "/v1/exports/%s/state/k" % e["_id"], 1), 404, "not_found")


def test_account_isolation(fresh_api, other_api):
    a, b = fresh_api, other_api
    e = a.create(http_body())
    put(a, "/v1/state/mine", "a")
    put(a, "/v1/exports/%s/state/k" % e["_id"], 1)
    assert_error(b.get("/v1/state/mine"), 404, "not_found")
    assert body_of(b.get("/v1/state")) == {"keys": []}
    assert_error(b.get("/v1/exports/%s/state" % e["_id"]), 404, "not_found")
    assert_error(b.get("/v1/exports/%s/state/k" % e["_id"]), 404, "not_found")
    assert_error(put(b, "/v1/exports/%s/state/k" % e["_id"], 2), 404, "not_found")
    assert_error(b.delete("/v1/exports/%s/state/k" % e["_id"]), 404, "not_found")
    assert body_of(a.get("/v1/exports/%s/state/k" % e["_id"])) == 1


def test_key_rules(fresh_api):
    a = fresh_api
    assert_status(put(a, "/v1/state/" + "k" * 128, 1), 200)
    assert_error(put(a, "/v1/state/" + "k" * 129, 1), 404, "not_found")
    assert_error(put(a, "/v1/state/a%01b", 1), 404, "not_found")
    assert_error(put(a, "/v1/state/a%2Fb", 1), 404, "not_found")
    assert_status(put(a, "/v1/state/%C3%A9t%C3%A9", 1), 200)
    assert "été" in body_of(a.get("/v1/state"))["keys"]
    assert "k" * 129 not in body_of(a.get("/v1/state"))["keys"]


def test_bad_bodies_change_nothing(fresh_api):
    a = fresh_api
    put(a, "/v1/state/k", {"v": 1})
    for data in (b"", b"{", b"[1,", b"\xff"):
        assert_error(a.put("/v1/state/k", data=data, headers={"Content-Type": "application/json"}),
                     400, "invalid_json")
    assert_status(a.put("/v1/state/k", data=b"1", headers={"Content-Type": "text/csv"}), 415)
    assert body_of(a.get("/v1/state/k")) == {"v": 1}


def test_value_size_limit(server_factory):
    srv = server_factory(max_body=4 * 1048576)
    a = srv.api()
    ok = "x" * (1048576 - 2)
    assert_status(put(a, "/v1/state/big", ok), 200)
    assert body_of(a.get("/v1/state/big")) == ok
    assert_error(put(a, "/v1/state/big", ok + "y"), 413, "payload_too_large")
    assert body_of(a.get("/v1/state/big")) == ok


def test_unknown_export_and_methods(fresh_api, unauth):
    a = fresh_api
    assert_error(a.get("/v1/exports/%s/state" % ("b" * 24)), 404, "not_found")
    assert_error(put(a, "/v1/exports/%s/state/k" % ("b" * 24), 1), 404, "not_found")
    assert_status(a.post("/v1/state/k", json={}), 405)
    assert_status(a.put("/v1/state", json={}), 405)
    assert_error(unauth.get("/v1/state"), 401, "unauthorized")


def test_state_survives_restart(server_factory):
    srv = server_factory()
    a = srv.api()
    e = a.create(http_body())
    put(a, "/v1/state/g", [1])
    put(a, "/v1/exports/%s/state/x" % e["_id"], {"y": 2})
    srv.kill()
    srv.start()
    a = srv.api(a.account)
    assert body_of(a.get("/v1/state/g")) == [1]
    assert body_of(a.get("/v1/exports/%s/state/x" % e["_id"])) == {"y": 2}
