# SPDX-License-Identifier: Apache-2.0
"""Validation of app definitions, one bad input per rule: the status (400 for
unparseable JSON, 422 otherwise), Marathon's message ("Invalid JSON" when a
value has the wrong JSON type, "Object is not valid" when a rule fails) and a
details[].path naming the field. After every rejected request nothing has
changed. Then the inputs Marathon accepts although they look odd: the pre-1.5
format and the definitions of Marathon's own system tests.

Rules and their paths are Marathon 1.11's (mesosphere/marathon):
- api/v2/validation/AppValidation.scala: cmd/args/container rule ("/"),
  health check port indices, at most one Mesos health check, readiness checks
  (portName must name a port, timeout < interval, at most one), networking
  rules, residency, single-instance and migration labels (all app level, "/").
- api/v2/validation/SchedulingValidation.scala: constraint arity (2 or 3),
  operators UNIQUE/CLUSTER/GROUP_BY/LIKE/UNLIKE/MAX_PER, value rules, LIKE
  regex compiles.
- state/PathId.scala: id segments match
  ^(([a-z0-9]|[a-z0-9][a-z0-9\\-]*[a-z0-9])\\.)*([a-z0-9]|[a-z0-9][a-z0-9\\-]*[a-z0-9])|(\\.|\\.\\.)$
  and the last segment is none of restart, tasks, versions.
- api/v2/validation/EnvVarValidation.scala: an env secret reference must name
  a declared secret.
- raml/types/*.raml: bounds (cpus >= 0.001, mem/disk/instances/gpus >= 0,
  backoffFactor >= 1, upgradeStrategy in [0, 1], ports 0..65535), enums.

A path ending in "*" is a prefix: the detail may name a sub-field."""

import json

import pytest

import pacer_helpers as H
from pacer_helpers import assert_marathon_python_ok, error_body

INVALID_JSON = "Invalid JSON"
NOT_VALID = "Object is not valid"
EITHER = (INVALID_JSON, NOT_VALID)
DEL = object()  # removes a key from the base app


def app_with(app_id, **kw):
    app = {"id": app_id, "cmd": "sleep 1000"}
    for k, v in kw.items():
        if v is DEL:
            app.pop(k, None)
        else:
            app[k] = v
    return app


def paths_match(paths, spec):
    specs = spec if isinstance(spec, tuple) else (spec,)
    for p in paths:
        for s in specs:
            if s.endswith("*") and p.startswith(s[:-1]):
                return True
            if p == s:
                return True
    return False


def check_rejected(srv, r, status, message, path, app_id=None, error_contains=None):
    statuses = status if isinstance(status, tuple) else (status,)
    assert r.status_code in statuses, "expected %s, got %d: %s" % (statuses, r.status_code, r.text[:800])
    body = error_body(r)
    if message is not None:
        msgs = message if isinstance(message, tuple) else (message,)
        assert body["message"] in msgs, "message %r, expected one of %r: %s" % (body["message"], msgs, body)
    if path is not None:
        paths = H.detail_paths(body)
        assert paths_match(paths, path), "details[].path %r do not name %r: %s" % (paths, path, body)
    if error_contains is not None:
        errs = " | ".join(H.all_detail_errors(body))
        assert error_contains in errs, "%r not among the errors: %s" % (error_contains, body)
    if isinstance(app_id, str) and app_id:
        canonical = app_id if app_id.startswith("/") else "/" + app_id
        assert canonical not in srv.app_ids(), "rejected app %s was created" % canonical
    return body


@pytest.fixture(scope="module")
def update_target(module_server):
    module_server.create_app(app_with("/v/update-target", portDefinitions=[{"port": 0, "name": "http"}]))
    return "/v/update-target"


@pytest.fixture
def srv(module_server, update_target):
    """The module's server; the test fails if a rejected request changed it."""
    before = H.stable_list(module_server.apps())
    yield module_server
    after = H.stable_list(module_server.apps())
    assert after == before, "a rejected request changed the app list"


# ---------------------------------------------------------------------------
# unparseable bodies: 400

@pytest.mark.parametrize("raw", [
    '{"id": "/broken", ',
    '{"id": "/broken", "cmd": "sleep 1"} trailing',
    "{'id': '/broken'}",
    '{"id": "/broken", "cmd": "sleep 1",}',
    '\x00\x01\x02',
    '{"id": "/broken", "cmd": "\\ud800"',
], ids=["truncated", "trailing-garbage", "single-quotes", "trailing-comma", "binary", "unterminated"])
def test_unparseable_json_400(srv, raw):
    r = srv.post("/v2/apps", data=raw.encode("utf-8", "surrogatepass"),
                 headers={"Content-Type": "application/json"})
    check_rejected(srv, r, 400, INVALID_JSON, None)


def test_empty_body(srv):
    r = srv.post("/v2/apps", data=b"", headers={"Content-Type": "application/json"})
    check_rejected(srv, r, (400, 422), INVALID_JSON, None)


@pytest.mark.parametrize("raw", ['[{"id": "/x", "cmd": "a b"}]', '"an app"', "42", "null", "true"])
def test_body_not_an_object(srv, raw):
    r = srv.post("/v2/apps", data=raw, headers={"Content-Type": "application/json"})
    check_rejected(srv, r, (400, 422), INVALID_JSON, None)


def test_unparseable_json_on_put_and_patch(srv):
    srv.create_app(app_with("/v/parse-target"))
    try:
        for method in ("PUT", "PATCH"):
            r = srv.request(method, "/v2/apps/v/parse-target", data=b'{"cmd": ',
                            headers={"Content-Type": "application/json"})
            check_rejected(srv, r, 400, INVALID_JSON, None)
        r = srv.put("/v2/apps", data=b'[{"id": "/v/x"', headers={"Content-Type": "application/json"})
        check_rejected(srv, r, 400, INVALID_JSON, None)
    finally:
        assert srv.delete("/v2/apps/v/parse-target").status_code == 200


# ---------------------------------------------------------------------------
# wrong JSON types: 422 "Invalid JSON" with the field's path

WRONG_TYPES = [
    ("id-number", {"id": 5}, "/id"),
    ("cmd-number", {"cmd": 5}, "/cmd"),
    ("cpus-string", {"cpus": "1"}, "/cpus"),
    ("mem-bool", {"mem": True}, "/mem"),
    ("disk-string", {"disk": "0"}, "/disk"),
    ("instances-string", {"instances": "2"}, "/instances"),
    ("instances-fraction", {"instances": 1.5}, "/instances"),
    ("args-string", {"cmd": DEL, "args": "sleep 1"}, "/args"),
    ("args-numbers", {"cmd": DEL, "args": [1, 2]}, "/args*"),
    ("labels-array", {"labels": ["a"]}, "/labels"),
    ("labels-value-number", {"labels": {"a": 1}}, "/labels*"),
    ("env-value-number", {"env": {"A": 1}}, "/env*"),
    ("env-array", {"env": ["A=1"]}, "/env"),
    ("constraints-string", {"constraints": "hostname:UNIQUE"}, "/constraints"),
    ("constraint-number", {"constraints": [["hostname", 1]]}, "/constraints(0)*"),
    ("portDefinitions-object", {"portDefinitions": {"port": 80}}, "/portDefinitions"),
    ("port-string", {"portDefinitions": [{"port": "80"}]}, "/portDefinitions(0)/port"),
    ("healthChecks-object", {"healthChecks": {"path": "/"}}, "/healthChecks"),
    ("requirePorts-string", {"requirePorts": "yes"}, "/requirePorts"),
    ("upgradeStrategy-string", {"upgradeStrategy": {"minimumHealthCapacity": "1"}},
     "/upgradeStrategy/minimumHealthCapacity"),
    ("dependencies-string", {"dependencies": "/a"}, "/dependencies"),
    ("user-number", {"user": 5}, "/user"),
    ("backoffSeconds-string", {"backoffSeconds": "1"}, "/backoffSeconds"),
    ("container-string", {"container": "docker"}, "/container"),
    ("fetch-string", {"fetch": "http://x"}, "/fetch"),
    ("secrets-array", {"secrets": ["a"]}, "/secrets"),
]


@pytest.mark.parametrize("name,fields,path", WRONG_TYPES, ids=[w[0] for w in WRONG_TYPES])
def test_wrong_json_type(srv, name, fields, path):
    app_id = "/v/type-" + name.lower()
    body = app_with(app_id, **fields)
    r = srv.post("/v2/apps", json=body)
    check_rejected(srv, r, 422, INVALID_JSON, path, app_id=app_id)


# ---------------------------------------------------------------------------
# rule violations: 422 "Object is not valid"

# (name, fields, message, path[, error substring])
RULES = [
    # ids
    ("id-uppercase", {"id": "/v/Upper"}, NOT_VALID, "/id"),
    ("id-underscore", {"id": "/v/under_score"}, NOT_VALID, "/id"),
    ("id-leading-dash", {"id": "/v/-lead"}, NOT_VALID, "/id"),
    ("id-trailing-dash", {"id": "/v/trail-"}, NOT_VALID, "/id"),
    ("id-space", {"id": "/v/with space"}, NOT_VALID, "/id"),
    ("id-double-dot-in-segment", {"id": "/v/a..b"}, NOT_VALID, "/id"),
    ("id-star", {"id": "/v/a*"}, NOT_VALID, "/id"),
    ("id-reserved-versions", {"id": "/v/versions"}, NOT_VALID, "/id",
     "must not end with any of the following reserved keywords: restart, tasks, versions"),
    ("id-reserved-tasks", {"id": "/v/tasks"}, NOT_VALID, "/id"),
    ("id-reserved-restart", {"id": "/v/restart"}, NOT_VALID, "/id"),
    ("id-root", {"id": "/"}, EITHER, ("/id", "/")),
    ("id-empty", {"id": ""}, EITHER, ("/id", "/")),
    ("id-missing", {"id": DEL}, EITHER, ("/id", "/")),
    # cmd / args / container
    ("cmd-and-args", {"args": ["sleep", "1"]}, NOT_VALID, "/",
     "AppDefinition must either contain one of 'cmd' or 'args', and/or a 'container'."),
    ("no-cmd-args-container", {"cmd": DEL}, NOT_VALID, "/",
     "AppDefinition must either contain one of 'cmd' or 'args', and/or a 'container'."),
    ("args-empty-no-cmd", {"cmd": DEL, "args": []}, NOT_VALID, "/"),
    ("cmd-empty", {"cmd": ""}, EITHER, ("/cmd", "/")),
    # resources
    ("cpus-too-small", {"cpus": 0.0001}, NOT_VALID, "/cpus"),
    ("cpus-zero", {"cpus": 0}, NOT_VALID, "/cpus"),
    ("cpus-negative", {"cpus": -1}, NOT_VALID, "/cpus"),
    ("mem-negative", {"mem": -1}, NOT_VALID, "/mem"),
    ("disk-negative", {"disk": -0.5}, NOT_VALID, "/disk"),
    ("instances-negative", {"instances": -1}, NOT_VALID, "/instances"),
    ("gpus-negative", {"gpus": -1}, NOT_VALID, "/gpus"),
    # upgrade strategy, backoff, grace period
    ("minimumHealthCapacity-above-1", {"upgradeStrategy": {"minimumHealthCapacity": 1.5, "maximumOverCapacity": 1}},
     NOT_VALID, "/upgradeStrategy/minimumHealthCapacity"),
    ("minimumHealthCapacity-negative", {"upgradeStrategy": {"minimumHealthCapacity": -0.1, "maximumOverCapacity": 1}},
     NOT_VALID, "/upgradeStrategy/minimumHealthCapacity"),
    ("maximumOverCapacity-above-1", {"upgradeStrategy": {"minimumHealthCapacity": 1, "maximumOverCapacity": 2}},
     NOT_VALID, "/upgradeStrategy/maximumOverCapacity"),
    ("maximumOverCapacity-negative", {"upgradeStrategy": {"minimumHealthCapacity": 1, "maximumOverCapacity": -1}},
     NOT_VALID, "/upgradeStrategy/maximumOverCapacity"),
    ("backoffFactor-below-1", {"backoffFactor": 0.5}, NOT_VALID, "/backoffFactor"),
    ("backoffSeconds-negative", {"backoffSeconds": -1}, NOT_VALID, "/backoffSeconds"),
    ("maxLaunchDelaySeconds-negative", {"maxLaunchDelaySeconds": -1}, NOT_VALID, "/maxLaunchDelaySeconds"),
    ("taskKillGracePeriodSeconds-negative", {"taskKillGracePeriodSeconds": -1}, NOT_VALID,
     "/taskKillGracePeriodSeconds"),
    # ports
    ("port-too-large", {"portDefinitions": [{"port": 70000}]}, NOT_VALID, "/portDefinitions(0)/port"),
    ("port-negative", {"portDefinitions": [{"port": -1}]}, NOT_VALID, "/portDefinitions(0)/port"),
    ("port-protocol", {"portDefinitions": [{"port": 0, "protocol": "sctp"}]}, EITHER, "/portDefinitions(0)*"),
    ("port-name-invalid", {"portDefinitions": [{"port": 0, "name": "Bad_Name"}]}, EITHER, "/portDefinitions(0)*"),
    ("port-names-duplicate", {"portDefinitions": [{"port": 0, "name": "a"}, {"port": 0, "name": "a"}]},
     NOT_VALID, "/portDefinitions*"),
    ("ports-duplicate", {"portDefinitions": [{"port": 8080}, {"port": 8080}]}, NOT_VALID, "/portDefinitions*"),
    ("legacy-ports-duplicate", {"ports": [8080, 8080]}, NOT_VALID, ("/", "/ports*", "/portDefinitions*")),
    ("legacy-port-too-large", {"ports": [70000]}, EITHER, ("/ports*", "/portDefinitions*")),
    ("ports-and-portDefinitions-differ", {"ports": [1000], "portDefinitions": [{"port": 2000}]},
     NOT_VALID, ("/", "/ports*", "/portDefinitions*")),
    # constraints
    ("constraint-operator", {"constraints": [["hostname", "BOGUS"]]}, EITHER, "/constraints(0)"),
    ("constraint-operator-lowercase", {"constraints": [["hostname", "unique"]]}, EITHER, "/constraints(0)"),
    ("constraint-arity-1", {"constraints": [["hostname"]]}, EITHER, "/constraints(0)"),
    ("constraint-arity-4", {"constraints": [["hostname", "CLUSTER", "a", "b"]]}, EITHER, "/constraints(0)"),
    ("constraint-like-bad-regex", {"constraints": [["hostname", "LIKE", "[a-"]]}, NOT_VALID, "/constraints(0)"),
    ("constraint-unlike-bad-regex", {"constraints": [["hostname", "UNLIKE", "(x"]]}, NOT_VALID, "/constraints(0)"),
    ("constraint-like-no-value", {"constraints": [["hostname", "LIKE"]]}, NOT_VALID, "/constraints(0)"),
    ("constraint-cluster-no-value", {"constraints": [["rack", "CLUSTER"]]}, NOT_VALID, "/constraints(0)"),
    ("constraint-unique-with-value", {"constraints": [["hostname", "UNIQUE", "x"]]}, NOT_VALID, "/constraints(0)"),
    ("constraint-group-by-not-number", {"constraints": [["rack", "GROUP_BY", "x"]]}, NOT_VALID, "/constraints(0)"),
    ("constraint-max-per-not-number", {"constraints": [["rack", "MAX_PER", "x"]]}, NOT_VALID, "/constraints(0)"),
    ("constraint-second-bad", {"constraints": [["hostname", "UNIQUE"], ["rack", "BOGUS"]]}, EITHER,
     "/constraints(1)"),
    # health checks
    ("healthcheck-protocol", {"healthChecks": [{"protocol": "FTP"}]}, EITHER, "/healthChecks(0)*"),
    ("healthcheck-portIndex-out-of-range", {"healthChecks": [{"protocol": "HTTP", "portIndex": 5}]},
     NOT_VALID, "/healthChecks(0)*",
     "Health check port indices must address an element of the ports array or container port mappings."),
    ("healthcheck-no-ports", {"portDefinitions": [], "healthChecks": [{"protocol": "TCP", "portIndex": 0}]},
     NOT_VALID, "/healthChecks(0)*"),
    ("healthcheck-command-without-command", {"healthChecks": [{"protocol": "COMMAND"}]}, EITHER,
     "/healthChecks(0)*"),
    ("healthcheck-negative-grace", {"healthChecks": [{"protocol": "HTTP", "gracePeriodSeconds": -1}]},
     NOT_VALID, "/healthChecks(0)*"),
    ("healthcheck-two-mesos", {"healthChecks": [{"protocol": "MESOS_HTTP", "portIndex": 0},
                                                {"protocol": "MESOS_TCP", "portIndex": 0}]},
     NOT_VALID, ("/", "/healthChecks")),
    ("healthcheck-ipv6-not-docker", {"healthChecks": [{"protocol": "HTTP", "portIndex": 0, "ipProtocol": "IPv6"}]},
     NOT_VALID, "/healthChecks(0)*"),
    # readiness checks
    ("readiness-unknown-portName", {"portDefinitions": [{"port": 0, "name": "http"}],
                                    "readinessChecks": [{"portName": "nope"}]},
     NOT_VALID, "/readinessChecks(0)*"),
    ("readiness-default-portName-missing", {"readinessChecks": [{}]}, NOT_VALID, "/readinessChecks(0)*"),
    ("readiness-timeout-not-below-interval", {"portDefinitions": [{"port": 0, "name": "http"}],
                                              "readinessChecks": [{"portName": "http", "intervalSeconds": 5,
                                                                   "timeoutSeconds": 5}]},
     NOT_VALID, "/readinessChecks(0)*"),
    ("readiness-two-checks", {"portDefinitions": [{"port": 0, "name": "http"}],
                              "readinessChecks": [{"portName": "http", "name": "a"},
                                                  {"portName": "http", "name": "b"}]},
     NOT_VALID, "/readinessChecks*"),
    ("readiness-protocol", {"portDefinitions": [{"port": 0, "name": "http"}],
                            "readinessChecks": [{"portName": "http", "protocol": "TCP"}]},
     EITHER, "/readinessChecks(0)*"),
    ("readiness-status-codes-empty", {"portDefinitions": [{"port": 0, "name": "http"}],
                                      "readinessChecks": [{"portName": "http", "httpStatusCodesForReady": []}]},
     EITHER, "/readinessChecks(0)*"),
    # env and secrets
    ("env-unknown-secret", {"env": {"PASSWORD": {"secret": "nosuch"}}}, NOT_VALID, "/env*"),
    ("env-secret-not-declared", {"env": {"PASSWORD": {"secret": "s1"}}, "secrets": {"s2": {"source": "/x"}}},
     NOT_VALID, "/env*"),
    ("env-object-without-secret", {"env": {"A": {"value": "x"}}}, EITHER, "/env*"),
    ("secret-without-source", {"secrets": {"s1": {}}}, EITHER, "/secrets*"),
    # enums
    ("killSelection", {"killSelection": "RANDOM"}, EITHER, "/killSelection"),
    ("network-mode", {"networks": [{"mode": "bogus"}]}, EITHER, "/networks(0)*"),
    ("unreachable-string", {"unreachableStrategy": "enabled"}, EITHER, "/unreachableStrategy*"),
    ("unreachable-negative", {"unreachableStrategy": {"inactiveAfterSeconds": -1, "expungeAfterSeconds": 60}},
     NOT_VALID, "/unreachableStrategy*"),
    ("unreachable-inactive-after-expunge", {"unreachableStrategy": {"inactiveAfterSeconds": 600,
                                                                    "expungeAfterSeconds": 60}},
     NOT_VALID, "/unreachableStrategy*"),
    # networking rules (app level)
    ("portMappings-with-host-network", {"networks": [{"mode": "host"}],
                                        "container": {"type": "DOCKER", "docker": {"image": "nginx"},
                                                      "portMappings": [{"containerPort": 80}]}},
     NOT_VALID, ("/", "/container*")),
    ("docker-network-and-networks", {"networks": [{"mode": "container/bridge"}],
                                     "container": {"type": "DOCKER",
                                                   "docker": {"image": "nginx", "network": "BRIDGE"}}},
     NOT_VALID, ("/", "/container*", "/networks*")),
    # container
    ("docker-without-docker", {"container": {"type": "DOCKER"}, "cmd": DEL}, NOT_VALID, ("/", "/container*")),
    ("docker-image-empty", {"container": {"type": "DOCKER", "docker": {"image": ""}}}, EITHER, "/container*"),
    ("container-type", {"container": {"type": "ROCKET", "docker": {"image": "x"}}}, EITHER, "/container*"),
    ("container-portMapping-port", {"networks": [{"mode": "container/bridge"}],
                                    "container": {"type": "DOCKER", "docker": {"image": "nginx"},
                                                  "portMappings": [{"containerPort": 70000}]}},
     EITHER, "/container*"),
    ("volume-mode", {"container": {"type": "MESOS", "volumes": [{"containerPath": "/a", "hostPath": "/b",
                                                                  "mode": "XX"}]}},
     EITHER, "/container*"),
    # fetch / uris / dependencies / roles
    ("fetch-uri-empty", {"fetch": [{"uri": ""}]}, EITHER, "/fetch*"),
    ("uris-and-fetch", {"uris": ["http://a/b"], "fetch": [{"uri": "http://c/d"}]}, NOT_VALID,
     ("/", "/uris*", "/fetch*")),
    ("dependency-invalid-id", {"dependencies": ["/Bad_Dep"]}, NOT_VALID, "/dependencies*"),
    ("acceptedResourceRoles-empty", {"acceptedResourceRoles": []}, NOT_VALID, "/acceptedResourceRoles*"),
    # labels with a meaning
    ("single-instance-label", {"labels": {"MARATHON_SINGLE_INSTANCE_APP": "true"}, "instances": 2},
     NOT_VALID, "/"),
    ("migration-label-incomplete", {"labels": {"DCOS_MIGRATION_API_VERSION": "v1"}}, NOT_VALID, "/"),
    ("residency-without-persistent-volumes", {"residency": {"relaunchEscalationTimeoutSeconds": 10,
                                                            "taskLostBehavior": "WAIT_FOREVER"}},
     NOT_VALID, "/"),
]


@pytest.mark.parametrize("case", RULES, ids=[c[0] for c in RULES])
def test_rule(srv, case):
    name, fields, message, path = case[:4]
    contains = case[4] if len(case) > 4 else None
    fields = dict(fields)
    fields.setdefault("id", "/v/rule-" + name.lower())
    app_id = fields["id"]
    r = srv.post("/v2/apps", json=_build(fields))
    if r.status_code == 201:  # wrongly accepted: remove it so only this test fails
        srv.delete("/v2/apps" + r.json()["id"])
    check_rejected(srv, r, 422, message, path, app_id=app_id if isinstance(app_id, str) else None,
                   error_contains=contains)


def _build(fields):
    app = {"cmd": "sleep 1000"}
    for k, v in fields.items():
        if v is DEL:
            app.pop(k, None)
        else:
            app[k] = v
    return app


# the same rules on the update path: the merged definition is validated
UPDATE_RULES = [
    ("cpus", {"cpus": 0}, NOT_VALID, "/cpus"),
    ("mem", {"mem": -5}, NOT_VALID, "/mem"),
    ("instances", {"instances": -1}, NOT_VALID, "/instances"),
    ("upgrade", {"upgradeStrategy": {"minimumHealthCapacity": 2, "maximumOverCapacity": 1}}, NOT_VALID,
     "/upgradeStrategy/minimumHealthCapacity"),
    ("constraint", {"constraints": [["hostname", "LIKE", "[a-"]]}, NOT_VALID, "/constraints(0)"),
    ("healthcheck-portIndex", {"healthChecks": [{"protocol": "HTTP", "portIndex": 3}]}, NOT_VALID,
     "/healthChecks(0)*"),
    ("readiness-portName", {"readinessChecks": [{"portName": "nope"}]}, NOT_VALID, "/readinessChecks(0)*"),
    ("env-secret", {"env": {"X": {"secret": "nosuch"}}}, NOT_VALID, "/env*"),
    ("wrong-type", {"cpus": "many"}, INVALID_JSON, "/cpus"),
    ("version-with-other-fields", {"version": "2015-09-25T15:13:48.343Z", "cmd": "sleep 5"}, NOT_VALID,
     ("/", "/version"),
     "The 'version' field may only be combined with the 'id' field."),
]


@pytest.mark.parametrize("case", UPDATE_RULES, ids=[c[0] for c in UPDATE_RULES])
@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_update_rule(srv, update_target, method, case):
    name, fields, message, path = case[:4]
    contains = case[4] if len(case) > 4 else None
    before = H.stable(srv.app(update_target))
    r = srv.request(method, "/v2/apps" + update_target, json=fields)
    check_rejected(srv, r, 422, message, path, error_contains=contains)
    assert H.stable(srv.app(update_target)) == before
    r = srv.get("/v2/apps%s/versions" % update_target)
    assert len(r.json()["versions"]) == 1, "a rejected update made a version"


def test_put_creating_invalid_app(srv):
    r = srv.put("/v2/apps/v/put-created-bad", json={"cmd": "sleep 1", "cpus": -2})
    check_rejected(srv, r, 422, NOT_VALID, "/cpus", app_id="/v/put-created-bad")


def test_put_path_id_invalid(srv):
    r = srv.put("/v2/apps/v/Bad_Id", json={"cmd": "sleep 1"})
    check_rejected(srv, r, (400, 422), None, None)
    assert srv.get("/v2/apps/v/Bad_Id").status_code in (400, 404)


def test_duplicate_409(srv):
    srv.create_app(app_with("/v/dup"))
    try:
        before = H.stable(srv.app("/v/dup"))
        r = srv.post("/v2/apps", json=app_with("/v/dup", mem=1))
        check_rejected(srv, r, 409, "An app with id [/v/dup] already exists.", None)
        assert H.stable(srv.app("/v/dup")) == before
        # the same id written relative
        r = srv.post("/v2/apps", json=app_with("v/dup"))
        check_rejected(srv, r, 409, "An app with id [/v/dup] already exists.", None)
    finally:
        assert srv.delete("/v2/apps/v/dup").status_code == 200


def test_error_details_shape(srv):
    """Every detail names a path and lists its errors (clients print them)."""
    r = srv.post("/v2/apps", json={"id": "/v/many", "cmd": "x y", "cpus": 0, "mem": -1, "instances": -1,
                                   "upgradeStrategy": {"minimumHealthCapacity": 3, "maximumOverCapacity": 1}})
    body = check_rejected(srv, r, 422, NOT_VALID, None)
    paths = set(H.detail_paths(body))
    for p in ("/cpus", "/mem", "/instances", "/upgradeStrategy/minimumHealthCapacity"):
        assert p in paths, "all violations are reported, %s missing: %s" % (p, body)


# ---------------------------------------------------------------------------
# accepted although unusual

def _created(srv, app):
    r = srv.post("/v2/apps", json=app)
    assert r.status_code == 201, "Marathon accepts this definition; got %d: %s" % (r.status_code, r.text[:1000])
    got = srv.app(r.json()["id"])
    assert_marathon_python_ok(got)
    return got


@pytest.fixture
def fresh(server):
    return server


def test_boundary_values_accepted(fresh):
    got = _created(fresh, app_with("/edge", cpus=0.001, mem=0, disk=0, instances=0, gpus=0,
                                   backoffFactor=1.0, backoffSeconds=0, maxLaunchDelaySeconds=0,
                                   upgradeStrategy={"minimumHealthCapacity": 0, "maximumOverCapacity": 0},
                                   taskKillGracePeriodSeconds=0, portDefinitions=[]))
    assert got["cpus"] == 0.001 and got["mem"] == 0 and got["instances"] == 0
    assert got["portDefinitions"] == []
    assert got["upgradeStrategy"] == {"minimumHealthCapacity": 0, "maximumOverCapacity": 0}
    _created(fresh, app_with("/edge2", portDefinitions=[{"port": 65535}, {"port": 0}, {"port": 0}],
                             upgradeStrategy={"minimumHealthCapacity": 1, "maximumOverCapacity": 1}))
    _created(fresh, app_with("/edge3", cmd=DEL, args=["sleep", "1"]))
    _created(fresh, app_with("/edge4", unreachableStrategy="disabled"))
    _created(fresh, app_with("/edge5", constraints=[["hostname", "GROUP_BY"], ["rack", "MAX_PER", "1"],
                                                    ["a", "UNLIKE", "b.*"]]))


def test_unknown_fields_ignored(fresh):
    """Marathon ignores keys it does not know (older and newer clients send
    them); they must not be echoed back to marathon-python."""
    got = _created(fresh, app_with("/unknown", someFutureField={"x": 1}, tty=True))
    assert "someFutureField" not in got


def test_legacy_ports(fresh):
    got = _created(fresh, app_with("/legacy-ports", ports=[0, 0]))
    assert len(got["portDefinitions"]) == 2
    assert all(p["protocol"] == "tcp" for p in got["portDefinitions"])
    got = _created(fresh, app_with("/legacy-required", ports=[31000], requirePorts=True))
    assert [p["port"] for p in got["portDefinitions"]] == [31000]
    assert got["requirePorts"] is True


def test_legacy_uris(fresh):
    got = _created(fresh, app_with("/legacy-uris", uris=["https://example.com/a.tgz", "http://x/y.zip"]))
    uris = [f["uri"] for f in got.get("fetch", [])] or got.get("uris")
    assert uris == ["https://example.com/a.tgz", "http://x/y.zip"], got


def test_legacy_docker_bridge_network(fresh):
    got = _created(fresh, {
        "id": "/legacy-bridge", "cmd": "nginx", "cpus": 0.1, "mem": 32,
        "container": {"type": "DOCKER", "docker": {
            "image": "nginx:alpine", "network": "BRIDGE",
            "portMappings": [{"containerPort": 80, "hostPort": 0, "servicePort": 0, "protocol": "tcp",
                              "name": "http"}]}},
    })
    c = got["container"]
    pms = c.get("portMappings") or c["docker"].get("portMappings")
    assert [(p["containerPort"], p.get("name")) for p in pms] == [(80, "http")], c
    assert got.get("networks", [{"mode": "container/bridge"}]) == [{"mode": "container/bridge"}], got
    assert "portDefinitions" not in got or got["portDefinitions"] == []


def test_port_definitions_with_bridge_network_become_port_mappings(fresh):
    # Marathon's normalization: port definitions apply to host networking only;
    # on a bridge network each one becomes a port mapping, and nothing is lost.
    got = _created(fresh, {"id": "/bridge-pd", "cmd": "x y", "networks": [{"mode": "container/bridge"}],
                           "container": {"type": "DOCKER", "docker": {"image": "nginx"}},
                           "portDefinitions": [{"port": 0}, {"port": 0}]})
    assert got["portDefinitions"] == []
    assert len(got["container"]["portMappings"]) == 2, got["container"]


def test_legacy_docker_host_and_user_network(fresh):
    got = _created(fresh, {"id": "/legacy-host", "cmd": "x y",
                           "container": {"type": "DOCKER", "docker": {"image": "nginx", "network": "HOST"}}})
    assert got.get("networks", [{"mode": "host"}]) == [{"mode": "host"}]
    got = _created(fresh, {"id": "/legacy-user", "cmd": "x y",
                           "container": {"type": "DOCKER", "docker": {"image": "nginx", "network": "USER"}},
                           "ipAddress": {"networkName": "dcos"}})
    assert got.get("networks") in (None, [{"mode": "container", "name": "dcos"}]), got


SYSTEM_APPS = sorted(p.name for p in (H.DATA / "system-apps").glob("*.json"))


@pytest.mark.parametrize("name", SYSTEM_APPS)
def test_marathon_system_test_apps_accepted(fresh, name):
    app = json.loads((H.DATA / "system-apps" / name).read_text())
    got = _created(fresh, app)
    want_id = app["id"] if app["id"].startswith("/") else "/" + app["id"]
    assert got["id"] == want_id
    for k in ("cpus", "mem", "instances", "cmd"):
        if k in app:
            assert got[k] == app[k], (k, got[k], app[k])
    # and the definition can be sent back unchanged (marathon-python's update)
    sendable = {k: v for k, v in got.items() if k not in H.VOLATILE and k not in ("version", "versionInfo")}
    r = fresh.put("/v2/apps" + want_id, json=sendable)
    assert r.status_code == 200, "PUT of its own GET answer failed: %s" % r.text[:1000]


def test_example_apps_create_batch(fresh):
    """examples/apps_create.json with PUT /v2/apps."""
    batch = [{"id": "/test/sleep60", "cmd": "sleep 60", "cpus": 0.3, "instances": 2, "mem": 9,
              "dependencies": ["/test/sleep120", "/other/namespace/or/app"]},
             {"id": "/test/sleep120", "cmd": "sleep 120", "cpus": 0.3, "instances": 2, "mem": 9}]
    r = fresh.put("/v2/apps", json=batch)
    assert r.status_code == 200, r.text
    assert fresh.app_ids() == ["/test/sleep120", "/test/sleep60"]
    assert fresh.app("/test/sleep60")["dependencies"] == ["/test/sleep120", "/other/namespace/or/app"]
