"""Secrets: masking in every response, keep / erase / absent rules, never in
the data files nor in the server's logs."""

import json
import os
import stat
import subprocess

import pytest

PG_URL = os.environ.get("EXPORTD_DB", "") if os.environ.get("EXPORTD_DB", "").startswith("postgres") else ""

from apilib import (MASK, MISSING, assert_status, body_of, data_dir_bytes, del_path,
                    get_path, netsuite_distributed_body, secret_value, set_path,
                    without_server_fields)


def hmac_hook(secret):
    return {"name": "hmac hook", "type": "webhook",
            "webhook": {"provider": "custom", "verify": "hmac", "algorithm": "sha256",
                        "encoding": "hex", "header": "X-Signature", "key": secret}}


def token_hook(secret):
    return {"name": "token hook", "type": "webhook",
            "webhook": {"provider": "custom", "verify": "token", "tokenLocation": "header",
                        "tokenHeaderName": "X-Webhook-Token", "tokenHeaderScheme": "none",
                        "token": secret}}


def basic_hook(secret):
    return {"name": "basic hook", "type": "webhook",
            "webhook": {"provider": "custom", "verify": "basic", "username": "user",
                        "password": secret}}


def distributed_export(secret):
    return netsuite_distributed_body(name="dist", distributed={"bearerToken": secret})


CASES = {
    "webhook.key": hmac_hook,
    "webhook.token": token_hook,
    "webhook.password": basic_hook,
    "distributed.bearerToken": distributed_export,
}


@pytest.fixture(params=sorted(CASES))
def case(request, leak_watch):
    path = request.param
    make = CASES[path]

    def body(secret=None):
        s = secret or secret_value(path.replace(".", "-"))
        leak_watch.append(s)
        return make(s), s
    return path, body


def test_masked_in_every_response(case, fresh_api):
    path, make = case
    b, s = make()
    r = fresh_api.post("/v1/exports", json=b)
    assert_status(r, 201)
    e = body_of(r)
    assert get_path(e, path) == MASK
    assert s not in r.text
    # every other field as sent
    expected = json.loads(json.dumps(b))
    set_path(expected, path, MASK)
    expected.setdefault("adaptorType", "WebhookExport")
    assert without_server_fields(e) == expected
    # GET
    g = fresh_api.get("/v1/exports/" + e["_id"])
    assert get_path(body_of(g), path) == MASK and s not in g.text
    # list
    lst = fresh_api.get("/v1/exports")
    assert_status(lst, 200)
    assert [get_path(x, path) for x in body_of(lst)] == [MASK]
    assert s not in lst.text
    # PUT with a new real value
    b2, s2 = make()
    p = fresh_api.put("/v1/exports/" + e["_id"], json=b2)
    assert_status(p, 200)
    assert get_path(body_of(p), path) == MASK
    assert s2 not in p.text
    # clone
    c = fresh_api.post("/v1/exports/%s/clone" % e["_id"])
    assert_status(c, 201)
    assert get_path(body_of(c), path) == MASK
    assert s2 not in c.text and s not in c.text
    g = fresh_api.get("/v1/exports/" + body_of(c)["_id"])
    assert get_path(body_of(g), path) == MASK
    lst = fresh_api.get("/v1/exports")
    assert [get_path(x, path) for x in body_of(lst)] == [MASK, MASK]
    assert s2 not in lst.text


def test_keep_erase_absent(case, api):
    path, make = case
    b, s = make()
    e = api.create(b)
    # PUT "******": kept
    keep = json.loads(json.dumps(b))
    set_path(keep, path, MASK)
    u = api.replace(e["_id"], keep)
    assert get_path(u, path) == MASK
    assert get_path(api.fetch(e["_id"]), path) == MASK
    # PUT again with "******": still kept
    u = api.replace(e["_id"], keep)
    assert get_path(u, path) == MASK
    # PUT without it: erased
    drop = json.loads(json.dumps(b))
    del_path(drop, path)
    u = api.replace(e["_id"], drop)
    assert get_path(u, path) is MISSING
    assert get_path(api.fetch(e["_id"]), path) is MISSING
    # PUT "******" with nothing stored: absent
    u = api.replace(e["_id"], keep)
    assert get_path(u, path) is MISSING
    assert get_path(api.fetch(e["_id"]), path) is MISSING
    # a new real value is stored again
    b3, _ = make()
    u = api.replace(e["_id"], b3)
    assert get_path(u, path) == MASK
    assert get_path(api.fetch(e["_id"]), path) == MASK


def test_mask_on_create_means_absent(case, api):
    path, make = case
    b, _ = make()
    set_path(b, path, MASK)
    e = api.create(b)
    assert get_path(e, path) is MISSING
    assert get_path(api.fetch(e["_id"]), path) is MISSING


def test_other_fields_of_block_unaffected_by_keep(api, leak_watch):
    s = secret_value("wk")
    leak_watch.append(s)
    e = api.create(hmac_hook(s))
    body = hmac_hook(MASK)
    body["webhook"]["algorithm"] = "sha512"
    body["webhook"]["header"] = "X-Other"
    u = api.replace(e["_id"], body)
    assert u["webhook"] == {"provider": "custom", "verify": "hmac", "algorithm": "sha512",
                            "encoding": "hex", "header": "X-Other", "key": MASK}


def test_all_secrets_in_one_export(api, leak_watch):
    k, t, p = (secret_value("k"), secret_value("t"), secret_value("p"))
    leak_watch.extend([k, t, p])
    e = api.create({"name": "all", "type": "webhook",
                    "webhook": {"provider": "custom", "verify": "token", "key": k, "token": t,
                                "username": "u", "password": p}})
    assert e["webhook"] == {"provider": "custom", "verify": "token", "key": MASK, "token": MASK,
                            "username": "u", "password": MASK}
    # keep one, erase one, keep one
    u = api.replace(e["_id"], {"name": "all", "type": "webhook",
                               "webhook": {"provider": "custom", "verify": "token", "key": MASK,
                                           "password": MASK, "username": "u"}})
    assert u["webhook"] == {"provider": "custom", "verify": "token", "key": MASK,
                            "username": "u", "password": MASK}


def test_non_secret_fields_not_masked(api):
    e = api.create({"name": "n", "type": "webhook",
                    "webhook": {"provider": "custom", "verify": "basic", "username": "alice",
                                "header": "X-H", "path": "a.b"},
                    "settings": {"password": "not-a-secret-field"}})
    assert e["webhook"]["username"] == "alice"
    assert e["settings"] == {"password": "not-a-secret-field"}


def test_error_responses_do_not_echo_secrets(api, leak_watch):
    s = secret_value("err")
    leak_watch.append(s)
    b = hmac_hook(s)
    b["name"] = 5
    r = api.post("/v1/exports", json=b)
    assert_status(r, 422)
    assert s not in r.text
    raw = ('{"name":"x","type":"webhook","webhook":{"key":"%s"' % s).encode()
    r = api.post("/v1/exports", data=raw, headers={"Content-Type": "application/json"})
    assert_status(r, 400)
    assert s not in r.text


def test_secrets_not_in_data_files(local_server, api, leak_watch):
    secrets = [secret_value("db%d" % i) for i in range(8)]
    leak_watch.extend(secrets)
    ids = []
    for i, make in enumerate((hmac_hook, token_hook, basic_hook, distributed_export)):
        e = api.create(make(secrets[i]))
        ids.append(e["_id"])
        api.replace(e["_id"], make(secrets[i + 4]))   # a second value, old one gone
        c = api.post("/v1/exports/%s/clone" % e["_id"])
        assert_status(c, 201)
    files = data_dir_bytes(local_server.data_dir)
    if PG_URL:
        # the whole PostgreSQL database, as pg_dump sees it
        files["pg_dump"] = subprocess.run(["pg_dump", "--no-owner", PG_URL],
                                          capture_output=True, check=True,
                                          timeout=120).stdout
    else:
        assert "exportd.db" in files, sorted(files)
    for name, data in files.items():
        for s in secrets:
            assert s.encode() not in data, "secret found in %s" % name
            assert s.encode("utf-16-le") not in data, "secret (utf-16) found in %s" % name


def test_secret_key_file_mode(local_server):
    p = local_server.data_dir / "secret.key"
    assert p.exists()
    mode = stat.S_IMODE(os.stat(p).st_mode)
    assert mode == 0o600, oct(mode)
    assert p.stat().st_size > 0


def test_secrets_and_tokens_not_in_stderr(local_server, api, leak_watch):
    s = secret_value("log")
    leak_watch.append(s)
    e = api.create(hmac_hook(s))
    api.replace(e["_id"], hmac_hook(s))
    api.get("/v1/exports/" + e["_id"])
    bad = hmac_hook(s)
    bad["name"] = ""
    api.post("/v1/exports", json=bad)
    api.post("/v1/exports", data=('{"webhook":{"key":"%s"' % s).encode(),
             headers={"Content-Type": "application/json"})
    api.get("/v1/exports/" + e["_id"], token=api.token + "x")   # 401 with a near-token
    err = local_server.stderr_text()
    assert err.strip(), "no access log on stderr"
    for x in leak_watch:
        assert x not in err, "secret in stderr"
    for tok in local_server.tokens:
        assert tok not in err, "bearer token in stderr"
