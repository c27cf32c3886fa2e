"""The calls a real integrator.io client makes, made the way it makes them.

The Python client this mirrors talks to https:// base URLs only, through
urllib with the system's trust store (SSL_CERT_FILE here), and sends
`Content-Type: application/json` and `Accept: application/json` on every
request, bodies or none (clone, ping and invoke go without one). Its
export and connection calls - list with page/pageSize, CRUD, PATCH (RFC
6902), audit, dependencies, replaceConnection, clone, ping, invoke and the
virtual export - run here in a child process against exportd over TLS,
with a local source API for the connection to reach."""

import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from apilib import needs_binary
from pki import Pki

pytestmark = needs_binary

CLIENT = r'''
import json, sys
from urllib.request import Request, urlopen
from urllib.error import HTTPError

base, token, source = sys.argv[1], sys.argv[2], sys.argv[3]
assert base.startswith("https://")
HEADERS = {"Authorization": "Bearer " + token, "Content-Type": "application/json",
           "Accept": "application/json"}
calls = []

def call(method, path, data=None):
    body = json.dumps(data).encode() if data else None
    req = Request(base + path, data=body, headers=HEADERS, method=method)
    try:
        with urlopen(req, timeout=30) as resp:
            text = resp.read().decode()
            out = (resp.status, json.loads(text) if text else {})
    except HTTPError as e:
        out = (e.code, json.loads(e.read().decode() or "null"))
    calls.append([method, path, out[0]])
    return out

http = {"baseURI": source, "mediaType": "json",
        "ping": {"relativeURI": "/health", "method": "GET"}}
st, conn = call("POST", "/connections", {"type": "http", "name": "Shop", "http": http})
st, conn2 = call("POST", "/connections", {"type": "http", "name": "Shop 2", "http": http})
call("GET", "/connections/%s" % conn["_id"])
call("GET", "/connections?type=http")
call("POST", "/connections/%s/ping" % conn["_id"])
call("POST", "/connections/ping", {"type": "http", "name": "unsaved", "http": http})
call("PUT", "/connections/%s" % conn["_id"], {"type": "http", "name": "Shop", "http": http})
call("PATCH", "/connections/%s" % conn["_id"],
     [{"op": "replace", "path": "/name", "value": "Shop, renamed"}])
call("GET", "/connections/%s/audit" % conn["_id"])
exp = {"name": "Items", "_connectionId": conn["_id"],
       "http": {"method": "GET", "relativeURI": "/items"}}
st, e = call("POST", "/exports", exp)
call("GET", "/exports?page=1&pageSize=100")
call("GET", "/exports/%s" % e["_id"])
call("PUT", "/exports/%s" % e["_id"], dict(exp, name="Items, all"))
call("PATCH", "/exports/%s" % e["_id"],
     [{"op": "replace", "path": "/assistantMetadata", "value": {"by": "client"}}])
call("GET", "/exports/%s/audit" % e["_id"])
call("GET", "/exports/%s/dependencies" % e["_id"])
call("GET", "/connections/%s/dependencies" % conn["_id"])
call("PUT", "/exports/%s/replaceConnection" % e["_id"], {"_newConnectionId": conn2["_id"]})
st, clone = call("POST", "/exports/%s/clone" % e["_id"])
st, run = call("POST", "/exports/%s/invoke" % e["_id"])
st, virt = call("POST", "/connections/%s/export" % conn["_id"],
                {"export": {"http": {"method": "GET", "relativeURI": "/items"}}})
call("DELETE", "/exports/%s" % clone["_id"])
st, after = call("GET", "/exports/%s" % e["_id"])
json.dump({"calls": calls, "export": after, "run": run, "virtual": virt,
           "conn2": conn2["_id"]}, sys.stdout)
'''

ITEMS = [{"id": i, "sku": "S-%d" % i} for i in range(3)]


class Source(BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps(ITEMS if self.path.startswith("/items") else {"ok": True})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *a):
        pass


@pytest.fixture
def source():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Source)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield "http://127.0.0.1:%d" % srv.server_address[1]
    srv.shutdown()
    srv.server_close()


def test_client_calls_over_tls(server_factory, tmp_path, source):
    leaf = Pki(tmp_path / "pki").server("a")
    srv = server_factory(tls=leaf, extra_args=["--egress-allow", "127.0.0.1"])
    api = srv.api()
    env = dict(os.environ, SSL_CERT_FILE=str(leaf["ca"]))
    env.pop("SSL_CERT_DIR", None)
    cp = subprocess.run([sys.executable, "-c", CLIENT, srv.url + "/v1", api.token, source],
                        capture_output=True, text=True, timeout=120, env=env)
    assert cp.returncode == 0, cp.stderr
    out = json.loads(cp.stdout)
    statuses = [st for _, _, st in out["calls"]]
    want = [201, 201, 200, 200, 200, 200, 200, 204, 200,            # connections
            201, 200, 200, 200, 204, 200, 200, 200, 200,            # exports
            201, 200, 200, 204, 200]                                # clone, runs
    assert statuses == want, list(zip(out["calls"], want))
    e = out["export"]
    assert e["name"] == "Items, all" and e["assistantMetadata"] == {"by": "client"}
    assert e["_connectionId"] == out["conn2"]
    assert out["run"]["data"] == ITEMS and out["run"]["errors"] == []
    assert out["virtual"]["data"] == ITEMS and out["virtual"]["errors"] == []
