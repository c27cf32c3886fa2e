"""Connections (export-api.md §8, §9, §11): CRUD with the export rules,
validation, secrets, exports naming real connections, adaptorType derived,
delete in use, PATCH, dependencies and replaceConnection."""

import pytest

from apilib import (HEX24, MASK, assert_error, assert_status, body_of, data_dir_bytes,
                    secret_value)


def http_conn(name="c", token=None, **extra):
    body = {"name": name, "type": "http",
            "http": {"baseURI": "https://api.example.com", "mediaType": "json",
                     "auth": {"type": "token", "token": {"token": token or "tok"}}}}
    body.update(extra)
    return body


def has_error(resp, status, code, field):
    """The response is status and lists this error (among others, maybe)."""
    assert_status(resp, status)
    assert (code, field) in [(e["code"], e.get("field")) for e in resp.json()["errors"]], resp.text


def make_conn(api, body):
    r = api.post("/v1/connections", json=body)
    assert_status(r, 201)
    return body_of(r)


def test_crud_and_masking(api, leak_watch):
    s = secret_value("conn")
    leak_watch.append(s)
    r = api.post("/v1/connections", json=http_conn(token=s, extra={"kept": [1, None]},
                                                   note=None))
    assert_status(r, 201)
    c = body_of(r)
    assert HEX24.match(c["_id"])
    # a path, or an absolute URL when the server has --public-url
    assert r.headers["Location"] in ("/v1/connections/" + c["_id"],
                                     api.base_url + "/v1/connections/" + c["_id"])
    assert c["http"]["auth"]["token"]["token"] == MASK and s not in r.text
    assert "note" not in c and c["extra"] == {"kept": [1, None]}
    assert c["lastModifiedBy"] == api.get("/v1/tokenInfo").json()["_userId"]
    g = api.get("/v1/connections/" + c["_id"])
    assert_status(g, 200)
    assert g.json() == c and g.headers["ETag"] == r.headers["ETag"]
    # PUT with the mask keeps the secret (the connection stays valid)
    body = http_conn(name="renamed", token=MASK)
    u = api.put("/v1/connections/" + c["_id"], json=body, headers={"If-Match": g.headers["ETag"]})
    assert_status(u, 200)
    assert u.json()["name"] == "renamed" and u.json()["createdAt"] == c["createdAt"]
    stale = api.put("/v1/connections/" + c["_id"], json=body, headers={"If-Match": g.headers["ETag"]})
    assert_error(stale, 412, "conflict")
    # the mask with nothing stored is absent: token required
    r2 = api.post("/v1/connections", json=http_conn(token=MASK))
    assert_error(r2, 422, "missing_required_field", "http.auth.token.token")
    has_error(api.put("/v1/connections/" + c["_id"], json=dict(body, type="ftp")),
              422, "immutable_field", "type")
    assert_status(api.delete("/v1/connections/" + c["_id"]), 204)
    assert_error(api.get("/v1/connections/" + c["_id"]), 404, "not_found")


def test_secret_never_stored_plain(local_server, new_api, leak_watch):
    a = new_api()
    s = secret_value("rdbms")
    leak_watch.append(s)
    c = make_conn(a, {"name": "db", "type": "rdbms",
                      "rdbms": {"type": "postgresql", "host": "h", "database": "d", "user": "u",
                                "password": s}})
    assert c["rdbms"]["password"] == MASK
    enc = make_conn(a, {"name": "custom", "type": "http",
                        "http": {"baseURI": "http://x.example", "mediaType": "json",
                                 "encrypted": {"apiKey": s + "-enc"}}})
    assert enc["http"]["encrypted"] == MASK
    assert all(s.encode() not in b for b in data_dir_bytes(local_server.data_dir).values())
    out = local_server.cli("dump", check=True)
    assert s not in out.stdout


@pytest.mark.parametrize("body,code,field", [
    ({"type": "http"}, "missing_required_field", "name"),
    ({"name": "x"}, "missing_required_field", "type"),
    ({"name": "x", "type": "nope", "nope": {}}, "invalid_field", "type"),
    ({"name": "x", "type": "http"}, "missing_required_field", "http"),
    ({"name": "x", "type": "http", "http": {"mediaType": "json"}}, "missing_required_field", "http.baseURI"),
    ({"name": "x", "type": "http", "http": {"baseURI": "ftp://a", "mediaType": "json"}}, "invalid_field", "http.baseURI"),
    ({"name": "x", "type": "http", "http": {"baseURI": "https://a", "mediaType": "yaml"}}, "invalid_field", "http.mediaType"),
    ({"name": "x", "type": "http", "http": {"baseURI": "https://a", "mediaType": "json",
                                            "auth": {"type": "basic"}}}, "missing_required_field", "http.auth.basic.username"),
    ({"name": "x", "type": "http", "http": {"baseURI": "https://a", "mediaType": "json",
                                            "auth": {"type": "oauth", "oauth": {"grantType": "clientcredentials"}}}},
     "missing_required_field", "http.auth.oauth.tokenURI"),
    ({"name": "x", "type": "rdbms", "rdbms": {"type": "postgresql", "host": "h", "database": "d"}},
     "missing_required_field", "rdbms.user"),
    ({"name": "x", "type": "rdbms", "rdbms": {"type": "db2", "host": "h", "database": "d", "user": "u"}},
     "invalid_field", "rdbms.type"),
    ({"name": "x", "type": "rest", "rest": {"baseURI": "https://a", "mediaType": "json"}},
     "missing_required_field", "rest.authType"),
])
def test_validation(fresh_api, body, code, field):
    has_error(fresh_api.post("/v1/connections", json=body), 422, code, field)
    assert_status(fresh_api.get("/v1/connections"), 204)


def test_list_filters_and_isolation(fresh_api, other_api):
    a = [make_conn(fresh_api, http_conn(name="n%d" % i)) for i in range(3)]
    f = make_conn(fresh_api, {"name": "files", "type": "ftp", "ftp": {"hostURI": "h"}})
    r = fresh_api.get("/v1/connections", params={"limit": 2})
    assert_status(r, 200)
    assert [c["_id"] for c in r.json()] == [a[0]["_id"], a[1]["_id"]] and "next" in r.headers["Link"]
    nxt = fresh_api.get(r.headers["Link"].split(">")[0][1:])
    assert [c["_id"] for c in nxt.json()] == [a[2]["_id"], f["_id"]]
    assert [c["_id"] for c in fresh_api.get("/v1/connections", params={"type": "ftp"}).json()] == [f["_id"]]
    p = fresh_api.get("/v1/connections", params={"include": "type", "name": "n1"}).json()
    assert p == [{"_id": a[1]["_id"], "name": "n1", "type": "http"}]
    assert_status(other_api.get("/v1/connections"), 204)
    assert_error(other_api.get("/v1/connections/" + f["_id"]), 404, "not_found")
    assert_error(other_api.delete("/v1/connections/" + f["_id"]), 404, "not_found")


def test_exports_reference_real_connections(fresh_api, other_api):
    c = make_conn(fresh_api, http_conn())
    theirs = make_conn(other_api, http_conn())
    ftp = make_conn(fresh_api, {"name": "f", "type": "ftp", "ftp": {}})
    # adaptorType derived from the connection
    r = fresh_api.post("/v1/exports", json={"name": "e", "_connectionId": c["_id"],
                                             "http": {"method": "GET", "relativeURI": "/x"}})
    assert_status(r, 201)
    e = r.json()
    assert e["adaptorType"] == "HTTPExport"
    for bad in (theirs["_id"], "0123456789abcdef01234567", ftp["_id"]):
        r = fresh_api.post("/v1/exports", json={"name": "e", "adaptorType": "HTTPExport",
                                                 "_connectionId": bad})
        assert_error(r, 422, "invalid_ref", "_connectionId")
        assert r.json()["errors"][-1]["message"] == "Invalid reference: _connectionId"
        assert_error(fresh_api.put("/v1/exports/" + e["_id"], json={
            "name": "e", "adaptorType": "HTTPExport", "_connectionId": bad}), 422, "invalid_ref",
            "_connectionId")
    assert fresh_api.get("/v1/exports/" + e["_id"]).json()["_connectionId"] == c["_id"]
    # legacy installers: a rest connection, then an export with a rest block
    rest = make_conn(fresh_api, {"name": "slack", "type": "rest", "rest": {
        "baseURI": "https://slack.com/api", "mediaType": "urlencoded", "authType": "token",
        "bearerToken": "xoxb"}})
    assert rest["rest"]["bearerToken"] == MASK
    r = fresh_api.post("/v1/exports", json={"name": "legacy", "_connectionId": rest["_id"],
                                             "rest": {"relativeURI": "/users.list", "method": "GET"}})
    assert_status(r, 201)
    assert r.json()["adaptorType"] == "RESTExport"
    # clone: connectionMap targets must be real too
    cl = fresh_api.post("/v1/exports/%s/clone" % e["_id"], json={"connectionMap": {c["_id"]: theirs["_id"]}})
    assert_error(cl, 422, "invalid_ref", "_connectionId")
    c2 = make_conn(fresh_api, http_conn(name="c2"))
    cl = fresh_api.post("/v1/exports/%s/clone" % e["_id"], json={"connectionMap": {c["_id"]: c2["_id"]}})
    assert_status(cl, 201)
    assert cl.json()["_connectionId"] == c2["_id"]
    # delete in use: 409, nothing changed
    d = fresh_api.delete("/v1/connections/" + c["_id"])
    assert_error(d, 409, "conflict")
    assert "1 export" in d.json()["errors"][0]["message"]
    deps = fresh_api.get("/v1/connections/%s/dependencies" % c["_id"]).json()
    assert deps == {"exports": [{"id": e["_id"], "name": "e"}]}
    assert fresh_api.get("/v1/exports/%s/dependencies" % e["_id"]).json() == {
        "connections": [{"id": c["_id"], "name": "c"}]}
    # replaceConnection
    for body, code, field in (({}, "missing_required_field", "_newConnectionId"),
                              ({"_newConnectionId": ftp["_id"]}, "invalid_ref", "_connectionId"),
                              ({"_newConnectionId": theirs["_id"]}, "invalid_ref", "_connectionId")):
        assert_error(fresh_api.put("/v1/exports/%s/replaceConnection" % e["_id"], json=body),
                     422, code, field)
    r = fresh_api.put("/v1/exports/%s/replaceConnection" % e["_id"], json={"_newConnectionId": c2["_id"]})
    assert_status(r, 200)
    assert r.json()["_connectionId"] == c2["_id"]
    assert fresh_api.get("/v1/connections/%s/dependencies" % c["_id"]).json() == {}
    assert_status(fresh_api.delete("/v1/connections/" + c["_id"]), 204)
    hook = fresh_api.post("/v1/exports", json={"name": "h", "type": "webhook",
                                                "webhook": {"provider": "github"}}).json()
    assert fresh_api.get("/v1/exports/%s/dependencies" % hook["_id"]).json() == {}
    assert_error(fresh_api.put("/v1/exports/%s/replaceConnection" % hook["_id"],
                               json={"_newConnectionId": c2["_id"]}), 422, "invalid_type",
                 "adaptorType")


def test_patch(fresh_api):
    import datetime
    c = make_conn(fresh_api, http_conn())
    soon = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=30)
            ).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    later = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=3)
             ).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    etag = fresh_api.get("/v1/connections/" + c["_id"]).headers["ETag"]
    r = fresh_api.request("PATCH", "/v1/connections/" + c["_id"], json=[
        {"op": "replace", "path": "/name", "value": "patched"},
        {"op": "add", "path": "/http.ping.successValues", "value": ["ok"]},
        {"op": "replace", "path": "/debugDate", "value": soon}], headers={"If-Match": etag})
    assert_status(r, 204)
    assert r.content == b"" and r.headers["ETag"] != etag
    g = fresh_api.get("/v1/connections/" + c["_id"]).json()
    assert g["name"] == "patched" and g["http"]["ping"]["successValues"] == ["ok"]
    assert g["debugDate"] == soon and g["http"]["auth"]["token"]["token"] == MASK
    assert_error(fresh_api.request("PATCH", "/v1/connections/" + c["_id"], json=[
        {"op": "replace", "path": "/name", "value": "x"}], headers={"If-Match": etag}), 412, "conflict")
    for ops, status, code, field in (
            ({"op": "replace"}, 400, "invalid_json", None),
            ([1], 400, "invalid_json", None),
            ([{"op": "replace", "path": "/type", "value": "ftp"}], 422, "invalid_field", "/type"),
            ([{"op": "move", "path": "/name", "value": "y"}], 422, "invalid_field", "/name"),
            ([{"op": "replace", "path": "/name", "value": 5}], 422, "invalid_field", "/name"),
            ([{"op": "replace", "path": "/debugDate", "value": later}], 422, "invalid_field", "/debugDate"),
            ([{"op": "replace", "path": "/name", "value": "ok"},
              {"op": "remove", "path": "/http/auth/token/token"}], 422, "invalid_field", "/http/auth/token/token")):
        assert_error(fresh_api.request("PATCH", "/v1/connections/" + c["_id"], json=ops), status, code, field)
    assert fresh_api.get("/v1/connections/" + c["_id"]).json() == g
    e = fresh_api.create({"name": "e", "_connectionId": c["_id"], "http": {"method": "GET"}})
    r = fresh_api.request("PATCH", "/v1/exports/" + e["_id"], json=[
        {"op": "replace", "path": "/assistantMetadata", "value": {"a": 1}},
        {"op": "replace", "path": "/debugUntil", "value": soon}])
    assert_status(r, 204)
    g = fresh_api.get("/v1/exports/" + e["_id"]).json()
    assert g["assistantMetadata"] == {"a": 1} and g["debugUntil"] == soon
    # debugUntil is ignored on PUT, and kept
    u = fresh_api.replace(e["_id"], {"name": "e2", "_connectionId": c["_id"], "debugUntil": later,
                                     "adaptorType": "HTTPExport"})
    assert u["debugUntil"] == soon
    r = fresh_api.request("PATCH", "/v1/exports/" + e["_id"], json=[{"op": "remove", "path": "/debugUntil"}])
    assert_status(r, 204)
    assert "debugUntil" not in fresh_api.get("/v1/exports/" + e["_id"]).json()
    assert_error(fresh_api.request("PATCH", "/v1/exports/" + e["_id"], json=[
        {"op": "replace", "path": "/netsuite.distributed.disabled", "value": "yes"}]),
        422, "invalid_field", "/netsuite.distributed.disabled")


def test_connection_writes_are_audited_with_secrets_masked(fresh_api, leak_watch):
    """Create, PUT, PATCH and DELETE of a connection each leave one entry
    (spec §10), under /v1/connections/{_id}/audit; a changed secret shows
    only as "******"."""
    a = fresh_api
    s1, s2 = secret_value("caud1"), secret_value("caud2")
    leak_watch.extend([s1, s2])
    c = make_conn(a, http_conn(name="aud", token=s1))
    assert_status(a.put("/v1/connections/" + c["_id"], json=http_conn(name="aud", token=s2)), 200)
    assert_status(a.request("PATCH", "/v1/connections/" + c["_id"],
                            json=[{"op": "replace", "path": "/name", "value": "aud2"}]), 204)
    assert_status(a.delete("/v1/connections/" + c["_id"]), 204)
    r = a.get("/v1/connections/%s/audit" % c["_id"])
    assert_status(r, 200)
    assert s1 not in r.text and s2 not in r.text
    got = r.json()
    assert [x["event"] for x in got] == ["delete", "update", "update", "create"]
    assert all(x["resourceType"] == "connection" and x["_resourceId"] == c["_id"] for x in got)
    assert {"fieldPath": "http.auth.token.token", "oldValue": MASK, "newValue": MASK} in \
        got[2]["fieldChanges"]
    assert {"fieldPath": "name", "oldValue": "aud", "newValue": "aud2"} in got[1]["fieldChanges"]
    assert [x["event"] for x in body_of(a.get("/v1/audit", params={"resourceType": "connection"}))] \
        == ["delete", "update", "update", "create"]
    # a deleted connection's entries stay readable; an unknown id is 404
    assert_error(a.get("/v1/connections/0123456789abcdef01234567/audit"), 404, "not_found")
