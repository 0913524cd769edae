# SPDX-License-Identifier: Apache-2.0
"""Health checks run by the real agent next to real tasks (issue #5, first
part): results in the task JSON (healthCheckResults) and the app's
tasksHealthy / tasksUnhealthy; a task failing its HTTP check is killed and
replaced after maxConsecutiveFailures; TCP and COMMAND checks passing and
failing; failures within the grace period do not count.

Fixtures: `cluster` (cluster_helpers.py) starts real agents and cleans up
every process."""

import time

import pacer_helpers as H
from cluster_helpers import WAIT, cluster, wait_until  # noqa: F401

# A tiny HTTP server on $PORT0, serving the sandbox: "/" answers 200, "/nope" 404.
HTTP_CMD = "exec python3 -m http.server --bind 127.0.0.1 $PORT0"

RESULT_KEYS = {"alive", "consecutiveFailures", "firstSuccess", "lastSuccess", "lastFailure",
               "lastFailureCause", "instanceId", "taskId"}


def new_id(prefix):
    return "/" + H.uid(prefix)


def check(protocol="HTTP", **kw):
    hc = {"protocol": protocol, "gracePeriodSeconds": 1, "intervalSeconds": 1,
          "timeoutSeconds": 2, "delaySeconds": 0, "maxConsecutiveFailures": 3}
    if protocol in ("HTTP", "TCP"):
        hc["portIndex"] = 0
    hc.update(kw)
    return hc


def app_def(app_id, cmd, checks, ports=1, **extra):
    app = {"id": app_id, "cmd": cmd, "cpus": 0.1, "mem": 32, "disk": 0, "instances": 1,
           "portDefinitions": [{"port": 0} for _ in range(ports)], "healthChecks": checks}
    app.update(extra)
    return app


def wait_app(cluster, app_id, pred, what, timeout=WAIT):
    def ok():
        app = cluster.app(app_id)
        return app if pred(app) else None
    return wait_until(ok, timeout, what=what)


def results(app):
    (task,) = app["tasks"]
    return task.get("healthCheckResults")


def test_http_check_healthy(cluster):
    cluster.agent("h1")
    app_id = new_id("hok")
    cluster.create_app(app_def(app_id, HTTP_CMD, [check(path="/")]))
    app = wait_app(cluster, app_id,
                   lambda a: a["tasksHealthy"] == 1 and len(a["tasks"]) == 1,
                   "the task to be healthy")
    assert app["tasksUnhealthy"] == 0, app
    (task,) = app["tasks"]
    (r,) = task["healthCheckResults"]
    assert set(r) == RESULT_KEYS, r
    assert r["alive"] is True and r["consecutiveFailures"] == 0, r
    assert r["firstSuccess"] and r["lastSuccess"], r
    assert r["lastFailure"] is None and r["lastFailureCause"] is None, r
    assert r["taskId"] == task["id"], r
    prefix, uuid = task["id"].rsplit(".", 1)
    assert r["instanceId"] == "%s.marathon-%s" % (prefix, uuid), r
    # the same in /v2/tasks
    (listed,) = cluster.tasks(app_id)
    assert listed["healthCheckResults"][0]["alive"] is True, listed
    # an app without health checks shows no results
    other = new_id("nohc")
    cluster.create_app(app_def(other, "sleep 1000", [], ports=0))
    app = cluster.wait_running(other, 1)
    assert "healthCheckResults" not in app["tasks"][0], app["tasks"][0]
    assert app["tasksHealthy"] == 0 and app["tasksUnhealthy"] == 0, app


def test_failing_http_check_kills_and_replaces(cluster):
    cluster.agent("h1")
    app_id = new_id("h404")
    cluster.create_app(app_def(app_id, HTTP_CMD,
                               [check(path="/nope", maxConsecutiveFailures=2)]))
    app = cluster.wait_running(app_id, 1)
    first = app["tasks"][0]["id"]
    seen = {}

    def replaced():
        app = cluster.app(app_id)
        for t in app["tasks"]:
            for r in t.get("healthCheckResults", []):
                if r["taskId"] == first and not r["alive"]:
                    seen["result"] = r
                    seen["unhealthy"] = seen.get("unhealthy") or app["tasksUnhealthy"]
        ids = [t["id"] for t in app["tasks"] if t["state"] == "TASK_RUNNING"]
        return ids and first not in ids
    wait_until(replaced, interval=0.05, what="the failing task to be killed and replaced")
    r = seen.get("result")
    assert r, "no failing result was ever shown for %s" % first
    assert r["lastFailureCause"] == "HTTP status 404", r
    assert r["lastSuccess"] is None and r["lastFailure"], r
    assert seen["unhealthy"] == 1, seen
    wait_until(lambda: all(t["id"] != first for t in cluster.tasks(app_id)),
               what="the killed task to be gone")


def test_tcp_checks(cluster):
    cluster.agent("h1")
    ok_id, bad_id = new_id("tcpok"), new_id("tcpbad")
    cluster.create_app(app_def(ok_id, HTTP_CMD, [check("TCP")]))
    # nothing listens on the port; maxConsecutiveFailures 0: never killed
    cluster.create_app(app_def(bad_id, "sleep 1000", [check("TCP", maxConsecutiveFailures=0)]))
    app = wait_app(cluster, ok_id, lambda a: a["tasksHealthy"] == 1, "the TCP check to pass")
    assert results(app)[0]["alive"] is True
    app = wait_app(cluster, bad_id, lambda a: a["tasksUnhealthy"] == 1, "the TCP check to fail")
    (r,) = results(app)
    assert r["alive"] is False and r["consecutiveFailures"] >= 1, r
    assert "cannot connect" in r["lastFailureCause"], r
    task_id = app["tasks"][0]["id"]
    time.sleep(2.5)
    app = cluster.app(bad_id)
    assert [t["id"] for t in app["tasks"]] == [task_id], app["tasks"]
    assert app["tasksUnhealthy"] == 1, app


def test_command_checks(cluster):
    cluster.agent("h1")
    ok_id, bad_id = new_id("cmdok"), new_id("cmdbad")
    # runs in the sandbox with the task's environment
    cluster.create_app(app_def(
        ok_id, "touch ready && exec sleep 1000",
        [check("COMMAND", command={"value": 'test -f ready && test "$MARATHON_APP_ID" = '
                                            + ok_id})], ports=0))
    cluster.create_app(app_def(bad_id, "sleep 1000",
                               [check("COMMAND", command={"value": "exit 3"},
                                      maxConsecutiveFailures=0)], ports=0))
    app = wait_app(cluster, ok_id, lambda a: a["tasksHealthy"] == 1,
                   "the COMMAND check to pass")
    assert results(app)[0]["alive"] is True
    app = wait_app(cluster, bad_id, lambda a: a["tasksUnhealthy"] == 1,
                   "the COMMAND check to fail")
    (r,) = results(app)
    assert r["alive"] is False, r
    assert r["lastFailureCause"] == "command exited with status 3", r


def test_grace_period_honoured(cluster):
    cluster.agent("h1")
    app_id = new_id("grace")
    # fails every second, but within a 30 s grace period nothing counts
    cluster.create_app(app_def(app_id, HTTP_CMD,
                               [check(path="/nope", gracePeriodSeconds=30,
                                      maxConsecutiveFailures=1)]))
    app = cluster.wait_running(app_id, 1)
    task_id = app["tasks"][0]["id"]
    deadline = time.monotonic() + 4
    while time.monotonic() < deadline:
        app = cluster.app(app_id)
        assert [t["id"] for t in app["tasks"]] == [task_id], app["tasks"]
        assert app["tasksUnhealthy"] == 0 and app["tasksHealthy"] == 0, app
        assert results(app) == [], results(app)
        time.sleep(0.2)


def test_health_kills_rate_limited_per_app(cluster):
    cluster.agent("h1")
    app_id = new_id("hrate")
    # every instance fails at once: one kill for health per app per 10 s
    cluster.create_app(app_def(app_id, HTTP_CMD, [check(path="/nope", gracePeriodSeconds=0,
                                                        maxConsecutiveFailures=1)],
                               instances=2))
    cluster.wait_running(app_id, 2)
    seen, gone = set(), []

    def poll():
        now = {t["id"] for t in cluster.tasks(app_id)}
        for i in seen - now:
            if i not in gone:
                gone.append(i)
        seen.update(now)
        return gone
    wait_until(poll, what="the first kill for health")
    deadline = time.monotonic() + 7
    while time.monotonic() < deadline:
        poll()
        assert len(gone) == 1, "a second kill within 7 s of the first: %s" % gone
        time.sleep(0.2)
    wait_until(lambda: len(poll()) >= 2, timeout=10, what="the second kill, 10 s later")
