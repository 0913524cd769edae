# SPDX-License-Identifier: Apache-2.0
"""The /v2/apps endpoints as Marathon 1.11 clients use them: status codes,
headers, the app's fields and defaults, versions, updates, deletes, group
listings, filters and embeds.

References: raml/apps.raml, raml/types/app.raml (defaults), examples/app_list.json,
examples/deployments_result.json, clients/README.md."""

import re
import threading
from urllib.parse import urljoin

import pytest

import pacer_helpers as H
from pacer_helpers import assert_error, assert_marathon_python_ok, minimal_app

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def assert_deployment_result(r, status=200):
    assert r.status_code == status, (r.status_code, r.text)
    body = r.json()
    assert set(body) == {"deploymentId", "version"}, body
    assert UUID_RE.match(body["deploymentId"]), body
    assert H.VERSION_RE.match(body["version"]), body
    hdr = r.headers.get("Marathon-Deployment-Id")
    if hdr is not None:
        assert hdr == body["deploymentId"]
    return body


# ---------------------------------------------------------------------------
# POST /v2/apps

def test_create_status_location_header_and_body(server):
    r = server.post("/v2/apps", json=minimal_app("/created"))
    assert r.status_code == 201, r.text
    assert "json" in r.headers.get("Content-Type", "")
    body = r.json()
    assert body["id"] == "/created"
    assert body["cmd"] == "sleep 1000"
    # the deployment that creates it, also in the header
    assert isinstance(body["deployments"], list) and len(body["deployments"]) == 1
    dep = body["deployments"][0]
    assert set(dep) == {"id"} and UUID_RE.match(dep["id"]), dep
    assert r.headers.get("Marathon-Deployment-Id") == dep["id"]
    assert H.VERSION_RE.match(body["version"]), body["version"]
    assert_marathon_python_ok(body, "POST /v2/apps answer")
    # Location names the new app: a client can GET it
    loc = r.headers.get("Location")
    assert loc, "no Location header"
    assert loc.rstrip("/").endswith("/v2/apps/created"), loc
    g = server.session.get(urljoin(server.base + "/v2/apps", loc), timeout=H.HTTP_TIMEOUT)
    assert g.status_code == 200 and g.json()["app"]["id"] == "/created"


def test_deployment_listed_right_after_create(server):
    """marathon-python reads GET /v2/deployments right after POST: the
    deployment must already be there (clients/README.md)."""
    r = server.post("/v2/apps", json=minimal_app("/deployed"))
    assert r.status_code == 201, r.text
    dep_id = r.json()["deployments"][0]["id"]
    d = server.get("/v2/deployments")
    if d.status_code == 404:
        pytest.skip("GET /v2/deployments is not part of issue #2's endpoints yet")
    assert d.status_code == 200, d.text
    assert dep_id in [x["id"] for x in d.json()]


DEFAULTS = {
    "cpus": 1, "mem": 128, "disk": 0, "instances": 1,
    "backoffSeconds": 1, "backoffFactor": 1.15, "maxLaunchDelaySeconds": 300,
    "upgradeStrategy": {"minimumHealthCapacity": 1, "maximumOverCapacity": 1},
    "killSelection": "YOUNGEST_FIRST", "requirePorts": False,
    "labels": {}, "env": {},
}
# present or not, these must have Marathon's empty value when present
EMPTY_IF_PRESENT = {
    "constraints": [], "healthChecks": [], "readinessChecks": [], "dependencies": [],
    "fetch": [], "secrets": {}, "uris": [], "storeUrls": [], "acceptedResourceRoles": None,
    "gpus": 0, "executor": "", "taskKillGracePeriodSeconds": None, "user": None,
    "container": None, "args": None, "residency": None, "ipAddress": None,
}


def check_default_app(app, app_id):
    assert app["id"] == app_id
    assert app["cmd"] == "sleep 1000"
    for k, v in DEFAULTS.items():
        assert k in app, "default field %s missing: %s" % (k, app)
        assert app[k] == v, "%s: %r != Marathon default %r" % (k, app[k], v)
    for k, v in EMPTY_IF_PRESENT.items():
        if k in app and app[k] is not None:
            if k == "args" and app[k] == []:
                continue
            if v is None:
                pytest.fail("%s should not be set by default: %r" % (k, app[k]))
            assert app[k] == v or (isinstance(v, list) and app[k] == []), (k, app[k])
    # one default port definition, a tcp port (a service port Marathon assigns)
    pds = app["portDefinitions"]
    assert isinstance(pds, list) and len(pds) == 1, pds
    assert pds[0].get("protocol") == "tcp", pds
    assert isinstance(pds[0].get("port"), int) and 0 <= pds[0]["port"] <= 65535, pds
    us = app.get("unreachableStrategy")
    assert us == {"inactiveAfterSeconds": 0, "expungeAfterSeconds": 0}, us
    assert H.VERSION_RE.match(app["version"]), app["version"]
    assert app["versionInfo"] == {"lastScalingAt": app["version"],
                                  "lastConfigChangeAt": app["version"]}, app["versionInfo"]
    if "networks" in app:
        assert app["networks"] == [{"mode": "host"}], app["networks"]


def test_defaults_and_only_marathon_python_keys(server):
    server.create_app(minimal_app("/defaults"))
    app = server.app("/defaults")
    check_default_app(app, "/defaults")
    for k in ("tasksStaged", "tasksRunning", "tasksHealthy", "tasksUnhealthy"):
        assert app[k] == 0, (k, app)
    assert_marathon_python_ok(app, "GET /v2/apps/defaults")
    listed = server.apps()
    assert [a["id"] for a in listed] == ["/defaults"]
    check_default_app(listed[0], "/defaults")
    assert_marathon_python_ok(listed[0], "GET /v2/apps[0]")
    # the list embeds the counts by default (raml: apps.counts)
    assert listed[0]["tasksRunning"] == 0


def test_get_single_app_shape(server):
    server.create_app(minimal_app("/single"))
    r = server.get("/v2/apps/single")
    assert r.status_code == 200
    assert "json" in r.headers.get("Content-Type", "")
    body = r.json()
    assert list(body) == ["app"], list(body)
    app = body["app"]
    assert app["id"] == "/single"
    if "tasks" in app:
        assert app["tasks"] == []
    if "lastTaskFailure" in app:
        assert app["lastTaskFailure"] is None
    assert_marathon_python_ok(app)


def test_get_missing_app_404(server):
    r = server.get("/v2/apps/nope")
    assert_error(r, 404, message="App '/nope' does not exist")
    r = server.get("/v2/apps/a/b/nope")
    assert_error(r, 404, message="App '/a/b/nope' does not exist")


def test_duplicate_create_409(server):
    server.create_app(minimal_app("/dup"))
    r = server.post("/v2/apps", json=minimal_app("/dup", cmd="other"))
    assert_error(r, 409, message="An app with id [/dup] already exists.")
    assert server.app("/dup")["cmd"] == "sleep 1000"


def test_full_definition_round_trips(server):
    app = {
        "id": "/full/app",
        "cmd": "python3 -m http.server $PORT0",
        "cpus": 0.25, "mem": 64.5, "disk": 10, "gpus": 0, "instances": 3,
        "user": "nobody",
        "env": {"A": "1", "B": "two", "DB_PASSWORD": {"secret": "dbpass"}},
        "secrets": {"dbpass": {"source": "/db/password"}},
        "labels": {"owner": "zeus", "HAPROXY_GROUP": "external"},
        "constraints": [["hostname", "UNIQUE"], ["rack", "GROUP_BY", "3"],
                        ["zone", "LIKE", "us-.*"], ["host", "MAX_PER", "2"],
                        ["dc", "CLUSTER", "a"], ["x", "UNLIKE", "y"]],
        "portDefinitions": [{"port": 0, "protocol": "tcp", "name": "http", "labels": {"vip": "1.2.3.4:80"}},
                            {"port": 0, "protocol": "udp", "name": "dns"}],
        "requirePorts": False,
        "healthChecks": [{"protocol": "HTTP", "path": "/health", "portIndex": 0,
                          "gracePeriodSeconds": 30, "intervalSeconds": 10,
                          "timeoutSeconds": 5, "maxConsecutiveFailures": 2,
                          "ignoreHttp1xx": False},
                         {"protocol": "TCP", "portIndex": 1},
                         {"protocol": "COMMAND", "command": {"value": "true"}}],
        "readinessChecks": [{"name": "ready", "protocol": "HTTP", "path": "/ready",
                             "portName": "http", "intervalSeconds": 10, "timeoutSeconds": 3,
                             "httpStatusCodesForReady": [200, 204], "preserveLastResponse": True}],
        "upgradeStrategy": {"minimumHealthCapacity": 0.5, "maximumOverCapacity": 0.25},
        "backoffSeconds": 5, "backoffFactor": 2.0, "maxLaunchDelaySeconds": 600,
        "unreachableStrategy": {"inactiveAfterSeconds": 60, "expungeAfterSeconds": 120},
        "killSelection": "OLDEST_FIRST",
        "fetch": [{"uri": "https://example.com/a.tgz", "extract": True, "executable": False,
                   "cache": False}],
        "dependencies": ["/full/db"],
        "acceptedResourceRoles": ["*"],
        "taskKillGracePeriodSeconds": 30,
    }
    server.create_app(app)
    got = server.app("/full/app")
    for k, v in app.items():
        if k in ("fetch", "healthChecks", "readinessChecks", "portDefinitions", "constraints"):
            continue
        assert got[k] == v, (k, got.get(k), v)
    assert sorted(map(tuple, got["constraints"])) == sorted(map(tuple, app["constraints"]))
    assert [(p["name"], p["protocol"]) for p in got["portDefinitions"]] == [("http", "tcp"), ("dns", "udp")]
    assert got["portDefinitions"][0]["labels"] == {"vip": "1.2.3.4:80"}
    assert [h["protocol"] for h in got["healthChecks"]] == ["HTTP", "TCP", "COMMAND"]
    hc = got["healthChecks"][0]
    for k in ("path", "portIndex", "gracePeriodSeconds", "intervalSeconds", "timeoutSeconds",
              "maxConsecutiveFailures"):
        assert hc[k] == app["healthChecks"][0][k], (k, hc)
    assert got["healthChecks"][2]["command"] == {"value": "true"}
    rc = got["readinessChecks"][0]
    for k, v in app["readinessChecks"][0].items():
        assert rc[k] == v, (k, rc)
    f = got["fetch"][0]
    assert f["uri"] == "https://example.com/a.tgz" and f["extract"] is True and f["cache"] is False
    assert_marathon_python_ok(got)


def test_health_and_readiness_check_defaults(server):
    server.create_app(minimal_app("/hc", portDefinitions=[{"port": 0, "name": "api"}],
                                  healthChecks=[{"path": "/"}],
                                  readinessChecks=[{"portName": "api"}]))
    app = server.app("/hc")
    hc = app["healthChecks"][0]
    # raml/types/healthCheck.raml AppHealthCheck defaults
    assert hc["protocol"] == "HTTP"
    assert hc["gracePeriodSeconds"] == 300
    assert hc["intervalSeconds"] == 60
    assert hc["timeoutSeconds"] == 20
    assert hc["maxConsecutiveFailures"] == 3
    rc = app["readinessChecks"][0]
    # raml/types/readinessCheck.raml defaults
    assert rc["name"] == "readinessCheck"
    assert rc["protocol"] == "HTTP"
    assert rc["path"] == "/"
    assert rc["intervalSeconds"] == 30
    assert rc["timeoutSeconds"] == 10
    assert rc["httpStatusCodesForReady"] == [200]
    assert rc["preserveLastResponse"] is False
    assert app["portDefinitions"][0]["protocol"] == "tcp"
    assert_marathon_python_ok(app)


def test_relative_ids_are_made_absolute(server):
    r = server.post("/v2/apps", json=minimal_app("relative"))
    assert r.status_code == 201, r.text
    assert r.json()["id"] == "/relative"
    r = server.post("/v2/apps", json=minimal_app("some/group/rel"))
    assert r.status_code == 201, r.text
    assert r.json()["id"] == "/some/group/rel"
    assert server.app_ids() == ["/relative", "/some/group/rel"]
    assert server.app("/some/group/rel")["id"] == "/some/group/rel"


def test_ids_with_dots_and_dashes(server):
    for app_id in ("/a.b-c/d-1", "/x0/9y", "/n.n.n"):
        server.create_app(minimal_app(app_id))
        assert server.app(app_id)["id"] == app_id


# ---------------------------------------------------------------------------
# PUT / PATCH /v2/apps/{id}

def test_put_partial_update_by_default(server):
    server.create_app(minimal_app("/upd", mem=64, labels={"a": "b"}))
    v0 = server.app("/upd")["version"]
    r = server.put("/v2/apps/upd", json={"cmd": "sleep 2000"})
    body = assert_deployment_result(r, 200)
    app = server.app("/upd")
    assert app["cmd"] == "sleep 2000"
    assert app["mem"] == 64 and app["labels"] == {"a": "b"}, "partial update lost fields"
    assert app["version"] == body["version"] != v0
    assert_marathon_python_ok(app)


def test_put_partial_update_false_replaces(server):
    server.create_app(minimal_app("/repl", mem=64, labels={"a": "b"}, instances=2))
    r = server.put("/v2/apps/repl?partialUpdate=false", json={"cmd": "sleep 3"})
    assert_deployment_result(r, 200)
    app = server.app("/repl")
    assert app["cmd"] == "sleep 3"
    assert app["mem"] == 128 and app["labels"] == {} and app["instances"] == 1, app
    # query booleans are case-insensitive
    server.put("/v2/apps/repl", json={"mem": 32})
    r = server.put("/v2/apps/repl?partialUpdate=FALSE", json={"cmd": "sleep 4"})
    assert_deployment_result(r, 200)
    assert server.app("/repl")["mem"] == 128


def test_put_creates_missing_app(server):
    r = server.put("/v2/apps/made/by/put", json={"cmd": "sleep 5", "mem": 16})
    assert r.status_code == 201, r.text
    body = r.json()
    assert "deploymentId" in body and "version" in body, body
    app = server.app("/made/by/put")
    assert app["id"] == "/made/by/put" and app["mem"] == 16 and app["cpus"] == 1


def test_put_id_in_body_is_the_path_id(server):
    server.create_app(minimal_app("/pathid"))
    r = server.put("/v2/apps/pathid", json={"id": "/pathid", "instances": 2})
    assert_deployment_result(r, 200)
    assert server.app("/pathid")["instances"] == 2


def test_put_invalid_change_leaves_app_unchanged(server):
    server.create_app(minimal_app("/keep"))
    before = server.app("/keep")
    r = server.put("/v2/apps/keep", json={"cpus": -1})
    assert_error(r, 422, message="Object is not valid", path="/cpus")
    r = server.put("/v2/apps/keep", json={"upgradeStrategy": {"minimumHealthCapacity": 2,
                                                              "maximumOverCapacity": 1}})
    assert_error(r, 422, message="Object is not valid", path="/upgradeStrategy/minimumHealthCapacity")
    r = server.put("/v2/apps/keep", json={"constraints": [["hostname", "BOGUS"]]})
    assert_error(r, 422, path="/constraints(0)")
    assert H.stable(server.app("/keep")) == H.stable(before)


def test_patch_app(server):
    server.create_app(minimal_app("/pat", mem=64, env={"A": "1"}))
    r = server.patch("/v2/apps/pat", json={"instances": 4, "env": {"B": "2"}})
    body = assert_deployment_result(r, 200)
    app = server.app("/pat")
    assert app["instances"] == 4 and app["mem"] == 64 and app["cmd"] == "sleep 1000"
    assert app["env"] == {"B": "2"}, "a patched field is replaced as a whole"
    assert app["version"] == body["version"]


def test_patch_missing_app_404(server):
    r = server.patch("/v2/apps/ghost", json={"instances": 2})
    assert_error(r, 404, message="App '/ghost' does not exist")
    assert server.apps() == []


def test_scale_only_change_keeps_last_config_change(server):
    server.create_app(minimal_app("/scale"))
    a0 = server.app("/scale")
    r = server.put("/v2/apps/scale", json={"instances": 5})
    b = assert_deployment_result(r)
    a1 = server.app("/scale")
    assert a1["version"] == b["version"] != a0["version"]
    assert a1["versionInfo"]["lastScalingAt"] == a1["version"]
    assert a1["versionInfo"]["lastConfigChangeAt"] == a0["versionInfo"]["lastConfigChangeAt"]
    r = server.put("/v2/apps/scale", json={"cmd": "sleep 7"})
    b = assert_deployment_result(r)
    a2 = server.app("/scale")
    assert a2["version"] == b["version"] != a1["version"]
    assert a2["versionInfo"]["lastConfigChangeAt"] == a2["version"]
    assert a2["versionInfo"]["lastScalingAt"] == a2["version"]
    # versions are ordered in time
    assert a0["version"] < a1["version"] < a2["version"]


# ---------------------------------------------------------------------------
# versions and rollback

def test_versions_list_and_definition(server):
    server.create_app(minimal_app("/ver", cmd="sleep 1"))
    v1 = server.app("/ver")["version"]
    server.put("/v2/apps/ver", json={"cmd": "sleep 2"})
    v2 = server.app("/ver")["version"]
    server.put("/v2/apps/ver", json={"instances": 3})
    v3 = server.app("/ver")["version"]
    r = server.get("/v2/apps/ver/versions")
    assert r.status_code == 200, r.text
    body = r.json()
    assert list(body) == ["versions"]
    assert body["versions"] == [v3, v2, v1], "versions, newest first"
    for v in body["versions"]:
        assert H.VERSION_RE.match(v)
    r = server.get("/v2/apps/ver/versions/" + v1)
    assert r.status_code == 200, r.text
    old = r.json()
    assert old["id"] == "/ver" and old["cmd"] == "sleep 1" and old["version"] == v1
    assert_marathon_python_ok(old, "GET versions/{v1}")
    r = server.get("/v2/apps/ver/versions/" + v2)
    assert r.json()["cmd"] == "sleep 2" and r.json()["instances"] == 1
    r = server.get("/v2/apps/ver/versions/2001-01-01T00:00:00.000Z")
    assert_error(r, 404)
    r = server.get("/v2/apps/nothere/versions")
    assert_error(r, 404, message="App '/nothere' does not exist")


def test_rollback_to_version(server):
    server.create_app(minimal_app("/rb", cmd="sleep 1", mem=32))
    v1 = server.app("/rb")["version"]
    server.put("/v2/apps/rb", json={"cmd": "sleep 2", "mem": 64})
    assert server.app("/rb")["cmd"] == "sleep 2"
    r = server.put("/v2/apps/rb", json={"version": v1})
    body = assert_deployment_result(r, 200)
    app = server.app("/rb")
    assert app["cmd"] == "sleep 1" and app["mem"] == 32
    assert app["version"] == body["version"]
    # unknown version: 404, nothing changes
    r = server.put("/v2/apps/rb", json={"version": "2001-01-01T00:00:00.000Z"})
    assert_error(r, 404)
    assert H.stable(server.app("/rb")) == H.stable(app)


# ---------------------------------------------------------------------------
# batch PUT / PATCH /v2/apps

def test_batch_put_creates_and_updates_in_one_deployment(server):
    r = server.put("/v2/apps", json=[minimal_app("/batch/a"), minimal_app("/batch/b", mem=16)])
    body = assert_deployment_result(r, 200)
    a, b = server.app("/batch/a"), server.app("/batch/b")
    assert a["version"] == b["version"] == body["version"]
    assert b["mem"] == 16
    r = server.put("/v2/apps", json=[{"id": "/batch/a", "instances": 2},
                                     minimal_app("/batch/c")])
    body2 = assert_deployment_result(r, 200)
    assert body2["deploymentId"] != body["deploymentId"]
    assert server.app("/batch/a")["instances"] == 2
    assert server.app("/batch/a")["cmd"] == "sleep 1000", "batch PUT is a partial update too"
    assert server.app_ids() == ["/batch/a", "/batch/b", "/batch/c"]


def test_batch_patch(server):
    server.put("/v2/apps", json=[minimal_app("/bp/x"), minimal_app("/bp/y")])
    r = server.patch("/v2/apps", json=[{"id": "/bp/x", "cpus": 0.3},
                                       {"id": "/bp/y", "instances": 2}])
    assert_deployment_result(r, 200)
    assert server.app("/bp/x")["cpus"] == 0.3
    assert server.app("/bp/y")["instances"] == 2
    before = H.stable_list(server.apps())
    # one unknown id: the whole operation fails (raml: apps.raml patch)
    r = server.patch("/v2/apps", json=[{"id": "/bp/x", "cpus": 0.5}, {"id": "/bp/none", "cpus": 1}])
    assert_error(r, (404, 422))
    assert H.stable_list(server.apps()) == before


def test_batch_with_one_invalid_app_changes_nothing(server):
    r = server.put("/v2/apps", json=[minimal_app("/bi/ok"), minimal_app("/bi/bad", cpus=-1)])
    body = assert_error(r, 422)
    assert any("cpus" in p for p in H.detail_paths(body)), body
    assert server.apps() == []


# ---------------------------------------------------------------------------
# DELETE

def test_delete(server):
    server.create_app(minimal_app("/del"))
    server.create_app(minimal_app("/keepme"))
    r = server.delete("/v2/apps/del")
    assert_deployment_result(r, 200)
    assert_error(server.get("/v2/apps/del"), 404, message="App '/del' does not exist")
    assert_error(server.delete("/v2/apps/del"), 404, message="App '/del' does not exist")
    assert server.app_ids() == ["/keepme"]
    r = server.get("/v2/apps/del/versions")
    assert_error(r, 404)
    # the id can be used again
    server.create_app(minimal_app("/del"))


def test_marathon_python_style_requests(server):
    """marathon-python: double slashes, force=True; marathon-consul: an
    Authorization header although authentication is off."""
    auth = {"Authorization": "Basic dXNlcjpwYXNz"}
    r = server.post("/v2/apps", json=minimal_app("/mp"), headers=auth)
    assert r.status_code == 201, r.text
    r = server.get("/v2/apps//mp", headers=auth)
    assert r.status_code == 200 and r.json()["app"]["id"] == "/mp"
    r = server.get("//v2//apps/mp", headers=auth)
    assert r.status_code == 200 and r.json()["app"]["id"] == "/mp"
    r = server.put("/v2/apps//mp?force=True", json={"instances": 2}, headers=auth)
    assert_deployment_result(r, 200)
    r = server.get("/v2/apps//mp?embed=apps.tasks", headers=auth)
    assert r.status_code == 200
    r = server.get("/v2/apps?embed=apps.tasks&label=consul", headers=auth)
    assert r.status_code == 200 and r.json() == {"apps": []}
    r = server.delete("/v2/apps//mp?force=True", headers=auth)
    assert_deployment_result(r, 200)
    assert server.apps() == []
    # go-marathon: DELETE without force behaves as force=true
    server.create_app(minimal_app("/gm"))
    assert_deployment_result(server.delete("/v2/apps/gm"), 200)
    # force=false and FALSE are accepted too
    server.create_app(minimal_app("/gm2"))
    r = server.put("/v2/apps/gm2?force=FALSE", json={"instances": 0})
    assert_deployment_result(r, 200)


def test_wrong_method_405(server):
    server.create_app(minimal_app("/m"))
    assert server.post("/v2/apps/m", json={}).status_code == 405
    assert server.delete("/v2/apps").status_code == 405
    assert server.post("/v2/leader").status_code == 405
    assert server.post("/v2/info").status_code == 405
    assert server.app_ids() == ["/m"]


# ---------------------------------------------------------------------------
# group listing, filters, embeds

def test_group_listing(server):
    for i in ("/grp/a", "/grp/b", "/grp/sub/c", "/other/d", "/grpx/e"):
        server.create_app(minimal_app(i))
    # Marathon's AppsResource.show answers a group listing as {"*": [apps]}
    # (ListApps pattern ^((?:.+/)|)\*$, `Json.obj("*" -> ...)`).
    r = server.get("/v2/apps/grp/*")
    assert r.status_code == 200, r.text
    body = r.json()
    assert list(body) == ["*"], body
    assert sorted(a["id"] for a in body["*"]) == ["/grp/a", "/grp/b", "/grp/sub/c"]
    for a in body["*"]:
        assert_marathon_python_ok(a)
        assert a["tasks"] == [], "the group listing embeds tasks"
    r = server.get("/v2/apps/grp/sub/*")
    assert sorted(a["id"] for a in r.json()["*"]) == ["/grp/sub/c"]
    r = server.get("/v2/apps/*")
    assert len(r.json()["*"]) == 5


def _ids(server, query):
    r = server.get("/v2/apps?" + query)
    assert r.status_code == 200, (query, r.text)
    return sorted(a["id"] for a in r.json()["apps"])


def test_filters_id_and_cmd(server):
    server.create_app(minimal_app("/us-east/db/memsql", cmd="java -jar memsql.jar"))
    server.create_app(minimal_app("/us-east/web", cmd="python3 web.py"))
    server.create_app(minimal_app("/eu/web", cmd="java -jar web.jar"))
    assert _ids(server, "id=/us-east") == ["/us-east/db/memsql", "/us-east/web"]
    assert _ids(server, "id=web") == ["/eu/web", "/us-east/web"]
    assert _ids(server, "id=/us-east/db/memsql") == ["/us-east/db/memsql"]
    assert _ids(server, "cmd=java") == ["/eu/web", "/us-east/db/memsql"]
    assert _ids(server, "cmd=python3") == ["/us-east/web"]
    # Marathon's search() compares case-insensitively
    assert _ids(server, "cmd=JAVA") == ["/eu/web", "/us-east/db/memsql"]
    assert _ids(server, "id=US-EAST/WEB") == ["/us-east/web"]
    assert _ids(server, "cmd=java&id=eu") == ["/eu/web"]
    assert _ids(server, "id=nomatch") == []


def test_filters_label_selectors(server):
    server.create_app(minimal_app("/l/prod-web", labels={"env": "production", "tier": "frontend"}))
    server.create_app(minimal_app("/l/stage-db", labels={"env": "stage", "tier": "backend"}))
    server.create_app(minimal_app("/l/dev", labels={"env": "dev", "my_label": ""}))
    server.create_app(minimal_app("/l/none"))
    q = lambda s: _ids(server, "label=" + s)  # noqa: E731 (requests encodes it)
    assert q("env") == ["/l/dev", "/l/prod-web", "/l/stage-db"]
    assert q("my_label") == ["/l/dev"]
    assert q("my_label,env") == ["/l/dev"]
    assert q("env==production") == ["/l/prod-web"]
    assert q("env!=production") == ["/l/dev", "/l/stage-db"]
    assert q("tier!=frontend") == ["/l/stage-db"]
    assert q("env in (stage,production)") == ["/l/prod-web", "/l/stage-db"]
    assert q("env in (stage, production)") == ["/l/prod-web", "/l/stage-db"]
    assert q("env notin (stage,production)") == ["/l/dev"]
    assert q("env==production,tier==frontend") == ["/l/prod-web"]
    assert q("env==production,tier==backend") == []
    assert q("nolabel") == []
    r = server.get("/v2/apps", params={"label": "env==production"})
    assert sorted(a["id"] for a in r.json()["apps"]) == ["/l/prod-web"]


EMBEDS = ["apps.tasks", "apps.counts", "apps.deployments", "apps.lastTaskFailure",
          "apps.failures", "apps.taskStats", "apps.readiness"]


@pytest.mark.parametrize("embed", EMBEDS)
def test_embed(server, embed):
    server.create_app(minimal_app("/emb", labels={"HAPROXY_GROUP": "external"}))
    r = server.get("/v2/apps?embed=" + embed)
    assert r.status_code == 200, r.text
    (app,) = r.json()["apps"]
    assert_marathon_python_ok(app, "embed=" + embed)
    assert app["labels"] == {"HAPROXY_GROUP": "external"}
    if embed in ("apps.tasks", "apps.failures"):
        assert app["tasks"] == [], "marathon-lb needs tasks on every app"
    if embed in ("apps.counts", "apps.failures"):
        for k in ("tasksStaged", "tasksRunning", "tasksHealthy", "tasksUnhealthy"):
            assert app[k] == 0
    if embed in ("apps.deployments", "apps.failures", "apps.tasks"):
        assert isinstance(app["deployments"], list)
        for d in app["deployments"]:
            assert set(d) == {"id"}
    if embed in ("apps.lastTaskFailure", "apps.failures"):
        assert app.get("lastTaskFailure") is None, "no task ever failed"
    if embed == "apps.readiness":
        assert app.get("readinessCheckResults", []) == []


def test_embed_several_and_on_single_app(server):
    server.create_app(minimal_app("/emb2"))
    r = server.get("/v2/apps?embed=apps.tasks&embed=apps.counts&embed=apps.deployments")
    (app,) = r.json()["apps"]
    assert app["tasks"] == [] and app["tasksRunning"] == 0 and isinstance(app["deployments"], list)
    assert_marathon_python_ok(app)
    r = server.get("/v2/apps/emb2?embed=app.tasks&embed=app.counts&embed=app.taskStats")
    assert r.status_code == 200
    app = r.json()["app"]
    assert app["tasks"] == [] and app["tasksRunning"] == 0
    assert_marathon_python_ok(app)


def test_empty_list(server):
    r = server.get("/v2/apps")
    assert r.status_code == 200
    assert r.json() == {"apps": []}


def test_concurrent_readers_see_consistent_list(server):
    """Reads never see a half-applied batch: a batch PUT of 10 apps appears
    all at once."""
    seen = []
    stop = threading.Event()

    def reader():
        import requests
        s = requests.Session()
        while not stop.is_set():
            r = s.get(server.url("/v2/apps?id=/atomic"), timeout=H.HTTP_TIMEOUT)
            seen.append(len(r.json()["apps"]))
        s.close()

    t = threading.Thread(target=reader)
    t.start()
    try:
        for round_ in range(5):
            batch = [minimal_app("/atomic/r%d/a%d" % (round_, i)) for i in range(10)]
            assert_deployment_result(server.put("/v2/apps", json=batch))
    finally:
        stop.set()
        t.join()
    assert all(n % 10 == 0 for n in seen), sorted(set(seen))
