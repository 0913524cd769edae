# SPDX-License-Identifier: Apache-2.0
"""Deployments as records clients can follow (issue #4, first part): every
change answered with a deployment id is listed by GET /v2/deployments as soon
as it is answered, with Marathon's actions (StartApplication,
ScaleApplication, RestartApplication, StopApplication), shows in the app's
"deployments", and disappears once the app has converged (its instances of
the new version running, nothing older left; for a stop, nothing left).
DELETE /v2/deployments/{id} cancels (force=true, 202) or rolls back as a new
deployment; deployment_info / deployment_success go out on /v2/events.
Tasks are answered by fake agents (fake_agent.py)."""

import time

import pytest

import pacer_helpers as H
from fake_agent import FakeAgent
from test_events import SSE

WAIT = 15


def wait_until(fn, timeout=WAIT, interval=0.05, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        last = fn()
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %ss waiting for %s (last: %r)"
                                 % (timeout, what, last))
        time.sleep(interval)


@pytest.fixture
def agents():
    made = []

    def make(srv, hostname, **kw):
        a = FakeAgent(srv.base, hostname, **kw)
        made.append(a)
        a.start()
        return a

    yield make
    for a in made:
        a.close()


@pytest.fixture
def streams():
    made = []

    def make(*a, **kw):
        s = SSE(*a, **kw)
        made.append(s)
        return s

    yield make
    for s in made:
        s.close()


def deployments(srv):
    r = srv.get("/v2/deployments")
    assert r.status_code == 200, r.text
    return r.json()


def deployment(srv, dep_id):
    for d in deployments(srv):
        if d["id"] == dep_id:
            return d
    return None


def actions(d):
    return [(a["action"], a["app"]) for s in d["steps"] for a in s["actions"]]


def check_keys(d):
    """Every key within what marathon-python's MarathonDeployment knows."""
    p = []
    H.check_strict(d, "MarathonDeployment", "deployment", p)
    for i, s in enumerate(d["steps"]):
        H.check_strict(s, "MarathonDeploymentStep", "steps[%d]" % i, p)
        for k, a in enumerate(s["actions"]):
            H.check_strict(a, "MarathonDeploymentAction", "steps[%d].actions[%d]" % (i, k), p)
    for i, a in enumerate(d["currentActions"]):
        H.check_strict(a, "MarathonDeploymentAction", "currentActions[%d]" % i, p)
    assert not p, "\n".join(p)


def app_deployments(srv, app_id):
    return [x["id"] for x in srv.app(app_id)["deployments"]]


def create(srv, app_id, instances=1, cmd="sleep 3600"):
    r = srv.post("/v2/apps", json={"id": app_id, "cmd": cmd, "cpus": 0.01, "mem": 16,
                                   "instances": instances})
    assert r.status_code == 201, r.text
    return r.headers["Marathon-Deployment-Id"]


def put(srv, app_id, body):
    r = srv.put("/v2/apps" + app_id, json=body)
    assert r.status_code == 200, r.text
    dep = r.json()["deploymentId"]
    assert r.headers["Marathon-Deployment-Id"] == dep
    return dep


def gone(srv, dep_id, timeout=WAIT):
    wait_until(lambda: deployment(srv, dep_id) is None, timeout,
               what="deployment %s to finish" % dep_id)


def tasks_of(srv, app_id):
    return srv.app(app_id)["tasks"]


def test_start_is_listed_at_once_and_finishes_when_running(server, agents):
    agents(server, "h1", auto=True)
    app_id = "/" + H.uid()
    dep_id = create(server, app_id, instances=2)
    d = deployment(server, dep_id)  # right after the answer, as marathon-python reads it
    assert d is not None
    check_keys(d)
    assert set(d) == {"id", "version", "affectedApps", "affectedPods", "steps",
                      "currentActions", "currentStep", "totalSteps"}
    assert d["affectedApps"] == [app_id] and d["affectedPods"] == []
    assert actions(d) == [("StartApplication", app_id)]
    assert d["currentActions"] == [{"action": "StartApplication", "app": app_id,
                                    "readinessCheckResults": []}]
    assert d["currentStep"] == 1 and d["totalSteps"] == 1
    assert H.VERSION_RE.match(d["version"])
    gone(server, dep_id)
    app = server.app(app_id)
    assert app["tasksRunning"] == 2 and app["deployments"] == []
    assert [a for a in server.apps() if a["id"] == app_id][0]["deployments"] == []


def test_app_shows_its_running_deployment(server):
    # no agent: the deployment cannot finish
    app_id = "/" + H.uid()
    dep_id = create(server, app_id)
    assert app_deployments(server, app_id) == [dep_id]
    listed = [a for a in server.apps() if a["id"] == app_id][0]
    assert listed["deployments"] == [{"id": dep_id}]
    H.assert_marathon_python_ok(listed, "GET /v2/apps")
    # a newer change takes the app: the older deployment, left empty, is gone
    dep2 = put(server, app_id, {"cmd": "sleep 3601"})
    assert deployment(server, dep_id) is None
    assert app_deployments(server, app_id) == [dep2]
    assert actions(deployment(server, dep2)) == [("RestartApplication", app_id)]


def test_scale_is_scale_application(server, agents):
    agents(server, "h1", auto=True)
    app_id = "/" + H.uid()
    gone(server, create(server, app_id, instances=1))
    dep = put(server, app_id, {"instances": 3})
    assert actions(deployment(server, dep)) == [("ScaleApplication", app_id)]
    gone(server, dep)
    assert server.app(app_id)["tasksRunning"] == 3
    dep = put(server, app_id, {"instances": 1})
    assert actions(deployment(server, dep)) == [("ScaleApplication", app_id)]
    gone(server, dep)
    assert len(tasks_of(server, app_id)) == 1


def test_restart_until_old_tasks_are_replaced(server, agents):
    a = agents(server, "h1")  # answers only what the test sends
    app_id = "/" + H.uid()
    dep = create(server, app_id, cmd="sleep 3600")
    old = a.wait_command("launch", timeout=WAIT)["task"]["taskId"]
    a.send_updates([{"taskId": old, "state": "TASK_RUNNING"}])
    gone(server, dep)

    dep = put(server, app_id, {"cmd": "sleep 3602"})
    assert actions(deployment(server, dep)) == [("RestartApplication", app_id)]
    new = a.wait_command("launch", timeout=WAIT,
                         pred=lambda c: c["task"]["taskId"] != old)["task"]["taskId"]
    a.wait_command("kill", timeout=WAIT, pred=lambda c: c["taskId"] == old)
    a.send_updates([{"taskId": new, "state": "TASK_RUNNING"}])
    time.sleep(0.5)
    assert deployment(server, dep) is not None, "finished while the old task still runs"
    a.send_updates([{"taskId": old, "state": "TASK_KILLED"}])
    gone(server, dep)
    ts = tasks_of(server, app_id)
    assert [t["id"] for t in ts] == [new]
    # POST .../restart is a RestartApplication too
    r = server.post("/v2/apps%s/restart" % app_id)
    assert r.status_code == 200, r.text
    assert actions(deployment(server, r.json()["deploymentId"])) == [
        ("RestartApplication", app_id)]


def test_delete_is_stop_until_tasks_are_gone(server, agents):
    a = agents(server, "h1")
    app_id = "/" + H.uid()
    dep = create(server, app_id)
    tid = a.wait_command("launch", timeout=WAIT)["task"]["taskId"]
    a.send_updates([{"taskId": tid, "state": "TASK_RUNNING"}])
    gone(server, dep)
    r = server.delete("/v2/apps" + app_id)
    assert r.status_code == 200, r.text
    dep = r.json()["deploymentId"]
    assert actions(deployment(server, dep)) == [("StopApplication", app_id)]
    a.wait_command("kill", timeout=WAIT, pred=lambda c: c["taskId"] == tid)
    time.sleep(0.5)
    assert deployment(server, dep) is not None, "finished while the task still runs"
    a.send_updates([{"taskId": tid, "state": "TASK_KILLED"}])
    gone(server, dep)


def test_batch_is_one_deployment(server):
    ids = ["/" + H.uid(), "/" + H.uid()]
    create(server, ids[0])
    r = server.put("/v2/apps", json=[{"id": ids[0], "instances": 2},
                                     {"id": ids[1], "cmd": "sleep 1", "instances": 0}])
    assert r.status_code == 200, r.text
    d = deployment(server, r.json()["deploymentId"])
    check_keys(d)
    assert sorted(actions(d)) == sorted([("ScaleApplication", ids[0]),
                                         ("StartApplication", ids[1])])
    assert sorted(d["affectedApps"]) == sorted(ids)
    # both apps show the one deployment; the first cannot converge (no agent), so it stays
    time.sleep(0.5)
    assert app_deployments(server, ids[0]) == app_deployments(server, ids[1]) == [d["id"]]


def test_force_delete_cancels(server):
    app_id = "/" + H.uid()
    dep = create(server, app_id)
    before = server.app(app_id)
    r = server.delete("/v2/deployments/" + dep, params={"force": "true"})
    assert r.status_code == 202, r.text
    assert r.json()["deploymentId"] == dep and H.VERSION_RE.match(r.json()["version"])
    assert deployment(server, dep) is None
    assert H.stable(server.app(app_id)) == H.stable(before)
    assert server.app(app_id)["deployments"] == []


def test_delete_rolls_back_as_a_new_deployment(server):
    app_id = "/" + H.uid()
    create(server, app_id, cmd="sleep 100")
    dep = put(server, app_id, {"cmd": "sleep 200"})
    assert server.app(app_id)["cmd"] == "sleep 200"
    r = server.delete("/v2/deployments/" + dep)
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"deploymentId", "version"}
    assert body["deploymentId"] != dep
    assert server.app(app_id)["cmd"] == "sleep 100"
    assert deployment(server, dep) is None
    d = deployment(server, body["deploymentId"])
    assert actions(d) == [("RestartApplication", app_id)]
    assert app_deployments(server, app_id) == [body["deploymentId"]]


def test_rolling_back_a_start_deletes_the_app(server):
    app_id = "/" + H.uid()
    dep = create(server, app_id)
    r = server.delete("/v2/deployments/" + dep)
    assert r.status_code == 200, r.text
    assert server.get("/v2/apps" + app_id).status_code == 404
    assert actions(deployment(server, r.json()["deploymentId"])) == [("StopApplication", app_id)]


def test_unknown_deployment_is_404(server):
    r = server.delete("/v2/deployments/nope")
    assert r.status_code == 404
    assert r.json() == {"message": "DeploymentPlan nope does not exist"}
    r = server.delete("/v2/deployments/nope", params={"force": "true"})
    assert r.status_code == 404


def test_events(server, agents, streams):
    s = streams(server)
    s.wait_type("event_stream_attached")
    agents(server, "h1", auto=True)
    app_id = "/" + H.uid()
    dep = create(server, app_id)
    info = s.wait_type("deployment_info", pred=lambda d: d["plan"]["id"] == dep)["data"]
    assert info["plan"]["steps"] == [{"actions": [{"action": "StartApplication",
                                                   "app": app_id}]}]
    assert info["currentStep"] == {"actions": [{"action": "StartApplication", "app": app_id}]}
    ok = s.wait_type("deployment_success", pred=lambda d: d["id"] == dep)
    assert ok["data"]["plan"]["id"] == dep
    gone(server, dep, timeout=2)
