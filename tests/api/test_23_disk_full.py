"""A full disk under the SQLite store: writes answer 503 with Retry-After
(nothing acknowledged is lost, reads go on), and the server recovers by
itself once there is room again. The data dir is a small tmpfs mounted for
the test (the suite runs as root)."""

import os
import subprocess
import tempfile

import pytest

from apilib import EXTERNAL, Api, assert_status, body_of, http_body, unique, webhook_body

pytestmark = pytest.mark.skipif(EXTERNAL, reason="needs the local binary and its data dir")


@pytest.fixture
def small_disk():
    d = tempfile.mkdtemp(prefix="exportd-full.")
    cp = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=6m,mode=0755", "tmpfs", d],
                        capture_output=True, text=True)
    assert cp.returncode == 0, "cannot mount a tmpfs (the suite runs as root): " + cp.stderr
    try:
        yield d
    finally:
        subprocess.run(["umount", "-l", d], capture_output=True)
        os.rmdir(d)


def fill(path):
    """Take every free byte of the file system with one file."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (1 << 20, 65536, 4096, 1):
            while True:
                try:
                    os.write(fd, b"\0" * size)
                except OSError:
                    break
    finally:
        os.close(fd)


def test_full_disk_is_503_then_recovers(server_factory, small_disk):
    data = os.path.join(small_disk, "data")
    db = "sqlite:%s/exportd.db" % data
    s = server_factory(data_dir=data, extra_args=["--db", db])
    cli = s.cli
    s.cli = lambda *a, check=True: cli(*(list(a) + ["--db", db]), check=check)
    tok = s.create_token(unique("full"))
    api = Api(s.url, tok["token"])
    hook = api.create(webhook_body(webhook={
        "provider": "custom", "verify": "token", "tokenLocation": "header",
        "tokenHeaderName": "X-Token", "tokenHeaderScheme": "none", "token": "t0k3n"}))
    kept = [api.create(http_body(name="before"))["_id"]]

    filler = os.path.join(small_disk, "filler")
    fill(filler)
    big = "x" * 60000
    refused = None
    for i in range(400):
        r = api.post("/v1/exports", json=http_body(name="n%d" % i, pad=big))
        if r.status_code == 201:
            kept.append(body_of(r)["_id"])
            continue
        refused = r
        break
    assert refused is not None, "the disk never filled up"
    assert refused.status_code == 503, (refused.status_code, refused.content)
    assert refused.headers.get("Retry-After"), refused.headers
    assert body_of(refused)["errors"][0]["code"] == "unavailable"
    # while full: more writes and deliveries are 503, reads go on
    assert api.post("/v1/exports", json=http_body(pad=big)).status_code == 503
    d = api.post("/v1/exports/%s/data" % hook["_id"], json={"n": 1, "pad": big},
                 headers={"X-Token": "t0k3n"})
    assert d.status_code == 503, (d.status_code, d.content)
    for eid in kept:
        assert_status(api.get("/v1/exports/" + eid), 200)

    # room again: the same server takes writes without a restart
    os.unlink(filler)
    r = api.post("/v1/exports", json=http_body(name="after"))
    assert_status(r, 201)
    kept.append(body_of(r)["_id"])
    assert_status(api.post("/v1/exports/%s/data" % hook["_id"], json={"n": 2},
                           headers={"X-Token": "t0k3n"}), 204)

    # and every acknowledged write survives a crash
    s.kill()
    s.start()
    api = Api(s.url, tok["token"])
    for eid in kept:
        assert_status(api.get("/v1/exports/" + eid), 200)
    assert "disk is full" in s.stderr_text()
