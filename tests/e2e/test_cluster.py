# SPDX-License-Identifier: Apache-2.0
"""The server's side of the cluster, end to end, with fake agents
(fake_agent.py) that speak docs/agent-protocol.md over HTTP and run nothing:
launches and kills on the command stream, status updates and their
idempotence, replacement of failed and lost tasks with backoff, the launch
queue and its refusal reasons, constraints, reconciliation at registration,
unknown tasks, unreachable agents, a server killed with -9, Marathon's task
endpoints and bad input.

Timeouts are generous and nothing here measures speed."""

import re
import time

import pytest

import pacer_helpers as H
from fake_agent import FakeAgent

WAIT = 15  # s: the longest wait for anything the server should do by itself

TASK_ID_RE = r"^%s\.([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$"


@pytest.fixture
def agents():
    """agents(server, hostname, **kw) -> a FakeAgent; all are closed at teardown
    (before the server, which is set up first)."""
    made = []

    def make(srv, hostname, **kw):
        a = FakeAgent(srv.base, hostname, **kw)
        made.append(a)
        return a

    yield make
    for a in made:
        a.close()


def wait_until(fn, timeout=WAIT, interval=0.05, what="condition"):
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = fn()
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %ss waiting for %s (last: %r)"
                                 % (timeout, what, last))
        time.sleep(interval)


def app_of(srv, app_id):
    return srv.app(app_id)


def running(srv, app_id):
    return app_of(srv, app_id)["tasksRunning"]


def wait_running(srv, app_id, n, timeout=WAIT):
    """Waits until the app shows n running tasks and n tasks in all; returns the app."""
    def ok():
        app = app_of(srv, app_id)
        return app if app["tasksRunning"] == n and len(app["tasks"]) == n else None
    return wait_until(ok, timeout, what="%s to run exactly %d tasks" % (app_id, n))


def task_ids(srv, app_id):
    return sorted(t["id"] for t in app_of(srv, app_id)["tasks"])


def all_tasks(srv, status=None):
    r = srv.get("/v2/tasks", params={"status": status} if status else None)
    assert r.status_code == 200, r.text
    return r.json()["tasks"]


def queue(srv):
    r = srv.get("/v2/queue")
    assert r.status_code == 200, r.text
    return r.json()["queue"]


def queue_item(srv, app_id):
    for it in queue(srv):
        if it["app"]["id"] == app_id:
            return it
    return None


def reject(item, reason, summary="rejectSummaryLastOffers"):
    for r in item["processedOffersSummary"][summary]:
        if r["reason"] == reason:
            return r
    raise AssertionError("no reason %s in %s" % (reason, item["processedOffersSummary"]))


def small_app(app_id, **extra):
    app = {"id": app_id, "cmd": "sleep 1000", "cpus": 0.1, "mem": 16, "disk": 0,
           "instances": 1, "portDefinitions": [{"port": 0, "name": "http"}]}
    app.update(extra)
    return app


def put_instances(srv, app_id, n):
    r = srv.put("/v2/apps" + app_id, json={"instances": n})
    assert r.status_code == 200, (r.status_code, r.text)


def update(tid, state, **kw):
    u = {"taskId": tid, "state": state}
    u.update(kw)
    return u


def launch_id(c):
    return c["task"]["taskId"]


def check_task_keys(tasks, where):
    problems = []
    for i, t in enumerate(tasks):
        H.check_strict(t, "MarathonTask", "%s[%d]" % (where, i), problems)
    assert not problems, "\n".join(problems)


# ---------------------------------------------------------------------------
# 1. launching

def test_launch_three_instances_on_one_agent(server, agents):
    a = agents(server, "h1", resources="cpus:4;mem:4096;disk:1000;ports:[31000-31009]",
               heartbeat_interval=0.5)
    ans = a.start()
    assert ans["agentId"].startswith("agent-"), ans
    assert isinstance(ans["epoch"], int) and ans["epoch"] >= 1, ans
    assert ans["ackedSeq"] == 0, ans
    assert ans["heartbeatIntervalMs"] > 0, ans

    app_id = "/prod/web"
    server.create_app({"id": app_id, "cmd": "python3 -m http.server $PORT0",
                       "cpus": 0.25, "mem": 32, "disk": 0, "instances": 3,
                       "env": {"A": "1"}, "labels": {"owner": "ops"},
                       "portDefinitions": [{"port": 0, "name": "http"}]})
    launches = a.wait_commands("launch", 3, timeout=WAIT)
    version = app_of(server, app_id)["version"]
    uuids, ports = set(), set()
    for c in launches:
        assert c["epoch"] == ans["epoch"], c
        t = c["task"]
        assert t["appId"] == app_id, t
        assert t["cmd"] == "python3 -m http.server $PORT0", t
        assert t["cpus"] == 0.25 and t["mem"] == 32 and t["disk"] == 0, t
        assert t["env"] == {"A": "1"} and t["labels"] == {"owner": "ops"}, t
        assert t["version"] == version, (t, version)
        m = re.match(TASK_ID_RE % re.escape("prod_web"), t["taskId"])
        assert m, "task id %r is not Marathon 1.4's <app>.<uuid>" % t["taskId"]
        assert t["instanceId"] == "prod_web.marathon-" + m.group(1), t
        uuids.add(m.group(1))
        assert len(t["ports"]) == 1 and 31000 <= t["ports"][0] <= 31009, t
        assert t["portNames"] == ["http"], t
        ports.add(t["ports"][0])
    assert len(uuids) == 3 and len(ports) == 3, launches
    a.no_command("launch", within=1.5)

    app = app_of(server, app_id)
    assert app["tasksStaged"] == 3 and app["tasksRunning"] == 0, app
    for c in launches:
        a.send_updates([update(launch_id(c), "TASK_STARTING")])
        a.send_updates([update(launch_id(c), "TASK_RUNNING", pid=4242)])
    app = wait_running(server, app_id, 3)
    assert app["tasksStaged"] == 0, app
    by_id = {launch_id(c): c["task"] for c in launches}
    assert sorted(by_id) == sorted(t["id"] for t in app["tasks"]), app["tasks"]
    for t in app["tasks"]:
        assert t["appId"] == app_id, t
        assert t["state"] == "TASK_RUNNING", t
        assert t["host"] == "h1", t
        assert t["slaveId"] == a.agent_id, t
        assert t["ports"] == by_id[t["id"]]["ports"], t
        assert H.VERSION_RE.match(t["stagedAt"]) and H.VERSION_RE.match(t["startedAt"]), t
        assert t["stagedAt"] <= t["startedAt"], t
        assert t["version"] == version, t
    H.assert_marathon_python_ok(app)

    tasks = all_tasks(server)
    assert sorted(t["id"] for t in tasks) == sorted(by_id), tasks
    check_task_keys(tasks, "/v2/tasks")
    run = all_tasks(server, "running")
    assert sorted(t["id"] for t in run) == sorted(by_id), run
    assert all(t["state"] == "TASK_RUNNING" for t in run), run
    assert all_tasks(server, "staging") == []
    r = server.get("/v2/apps%s/tasks" % app_id)
    assert r.status_code == 200, r.text
    assert sorted(t["id"] for t in r.json()["tasks"]) == sorted(by_id)
    check_task_keys(r.json()["tasks"], "/v2/apps/{id}/tasks")


# ---------------------------------------------------------------------------
# 2. scaling

def test_scale_up_down_kill_selection_and_delete(server, agents):
    a = agents(server, "h1", auto=True, heartbeat_interval=0.5)
    a.start()

    # YOUNGEST_FIRST (the default)
    young = "/scale/young"
    server.create_app(small_app(young))
    order = [launch_id(a.wait_command("launch", WAIT))]
    wait_running(server, young, 1)
    for i in (2, 3):
        time.sleep(0.02)
        put_instances(server, young, i)
        order.append(launch_id(a.wait_command("launch", WAIT)))
        wait_running(server, young, i)
    stamps = {t["id"]: t["stagedAt"] for t in app_of(server, young)["tasks"]}
    assert stamps[order[0]] <= stamps[order[1]] <= stamps[order[2]], (order, stamps)
    put_instances(server, young, 1)
    killed = {c["taskId"] for c in a.wait_commands("kill", 2, WAIT)}
    assert killed == {order[1], order[2]}, "scaling 3 -> 1 killed %s, expected the two " \
        "youngest %s (oldest %s)" % (killed, order[1:], order[0])
    app = wait_running(server, young, 1)
    assert [t["id"] for t in app["tasks"]] == [order[0]], app["tasks"]
    assert app["instances"] == 1

    # OLDEST_FIRST
    old = "/scale/old"
    server.create_app(small_app(old, killSelection="OLDEST_FIRST"))
    order = [launch_id(a.wait_command("launch", WAIT))]
    wait_running(server, old, 1)
    for i in (2, 3):
        time.sleep(0.02)
        put_instances(server, old, i)
        order.append(launch_id(a.wait_command("launch", WAIT)))
        wait_running(server, old, i)
    put_instances(server, old, 1)
    killed = {c["taskId"] for c in a.wait_commands("kill", 2, WAIT)}
    assert killed == {order[0], order[1]}, "OLDEST_FIRST 3 -> 1 killed %s, expected the " \
        "two oldest %s" % (killed, order[:2])
    app = wait_running(server, old, 1)
    assert [t["id"] for t in app["tasks"]] == [order[2]], app["tasks"]
    a.no_command("launch", within=1.0)

    # scale up again, then DELETE kills everything of the app (and nothing else)
    put_instances(server, old, 2)
    order.append(launch_id(a.wait_command("launch", WAIT)))
    wait_running(server, old, 2)
    keep = task_ids(server, young)
    gone = task_ids(server, old)
    r = server.delete("/v2/apps" + old)
    assert r.status_code == 200, r.text
    killed = {c["taskId"] for c in a.wait_commands("kill", 2, WAIT)}
    assert killed == set(gone), (killed, gone)
    wait_until(lambda: sorted(t["id"] for t in all_tasks(server)) == keep,
               what="only %s's tasks to be left" % young)
    a.no_command("kill", within=1.0)
    a.no_command("launch", within=0.1)


# ---------------------------------------------------------------------------
# 3. failures

def test_failed_and_finished_tasks_are_replaced(server, agents):
    a = agents(server, "h1", heartbeat_interval=0.5)
    a.start()
    app_id = "/fail/app"
    server.create_app(small_app(app_id, backoffSeconds=5, backoffFactor=1.15,
                                maxLaunchDelaySeconds=300))
    first = launch_id(a.wait_command("launch", WAIT))
    a.send_updates([update(first, "TASK_STARTING")])
    a.send_updates([update(first, "TASK_RUNNING")])
    app = wait_running(server, app_id, 1)
    assert "lastTaskFailure" not in app, app
    version = app["version"]

    a.send_updates([update(first, "TASK_FAILED", message="exited with status 3", exitCode=3)])
    # during the backoff the app waits in the queue with a delay
    item = wait_until(lambda: queue_item(server, app_id), what="the app to be queued")
    assert item["count"] == 1, item
    assert item["delay"]["timeLeftSeconds"] > 0 and item["delay"]["overdue"] is False, item
    app = app_of(server, app_id)
    assert app["tasks"] == [] and app["tasksRunning"] == 0, app
    f = app.get("lastTaskFailure")
    assert f, "no lastTaskFailure after TASK_FAILED: %s" % app
    assert f["message"] == "exited with status 3", f
    assert f["taskId"] == first, f
    assert f["state"] == "TASK_FAILED", f
    assert f["host"] == "h1", f
    assert f["slaveId"] == a.agent_id, f
    assert f["appId"] == app_id, f
    assert H.VERSION_RE.match(f["timestamp"]), f
    assert f["version"] == version, f
    H.assert_marathon_python_ok(app)

    # the delay is reset through the API (Marathon's DELETE /v2/queue/{id}/delay): launch now
    r = server.delete("/v2/queue%s/delay" % app_id)
    assert r.status_code == 204, (r.status_code, r.text)
    second = launch_id(a.wait_command("launch", WAIT))
    assert second != first
    a.send_updates([update(second, "TASK_RUNNING")])
    app = wait_running(server, app_id, 1)
    assert [t["id"] for t in app["tasks"]] == [second]
    assert app["lastTaskFailure"]["taskId"] == first, app

    # a task that finishes is replaced too
    a.send_updates([update(second, "TASK_FINISHED", message="exited with status 0", exitCode=0)])
    third = launch_id(a.wait_command("launch", WAIT))
    assert third not in (first, second)
    a.send_updates([update(third, "TASK_RUNNING")])
    app = wait_running(server, app_id, 1)
    assert [t["id"] for t in app["tasks"]] == [third]


# ---------------------------------------------------------------------------
# 4. the launch queue

def test_queue_names_why_nothing_fits(server, agents):
    a = agents(server, "h1", resources="cpus:4;mem:1024;disk:1000;ports:[31000-31001]",
               auto=True, heartbeat_interval=0.5)
    a.start()
    cases = {
        "/q/cpus": ("InsufficientCpus", small_app("/q/cpus", cpus=100)),
        "/q/mem": ("InsufficientMemory", small_app("/q/mem", mem=100000)),
        "/q/ports": ("InsufficientPorts", small_app("/q/ports", portDefinitions=[
            {"port": 0, "name": "a"}, {"port": 0, "name": "b"}, {"port": 0, "name": "c"}])),
    }
    for _, app in cases.values():
        server.create_app(app)
    server.create_app(small_app("/q/fits", portDefinitions=[]))
    a.wait_command("launch", WAIT, pred=lambda c: c["task"]["appId"] == "/q/fits")
    wait_running(server, "/q/fits", 1)

    def all_queued():
        q = {it["app"]["id"]: it for it in queue(server)}
        return q if all(k in q and q[k]["processedOffersSummary"].get("rejectSummaryLastOffers")
                        for k in cases) else None
    q = wait_until(all_queued, what="the three apps in /v2/queue")
    assert "/q/fits" not in q, q
    for app_id, (reason, _) in cases.items():
        it = q[app_id]
        assert it["count"] == 1, it
        assert isinstance(it["delay"]["timeLeftSeconds"], int), it
        assert isinstance(it["delay"]["overdue"], bool), it
        assert H.VERSION_RE.match(it["since"]), it
        r = reject(it, reason)
        assert r["declined"] == 1, (app_id, it["processedOffersSummary"])
        others = [x for x in it["processedOffersSummary"]["rejectSummaryLastOffers"]
                  if x["reason"] != reason and x["declined"]]
        assert not others, (app_id, others)
        problems = []
        H.check_strict(it, "MarathonQueueItem", "queue[%s]" % app_id, problems)
        problems += H.marathon_python_problems(it["app"], "queue[%s].app" % app_id)
        assert not problems, "\n".join(problems)
    a.no_command("launch", within=1.0)

    r = server.delete("/v2/queue/q/cpus/delay")
    assert r.status_code == 204, (r.status_code, r.text)
    r = server.delete("/v2/queue/q/fits/delay")
    assert r.status_code == 404, (r.status_code, r.text)
    H.error_body(r)
    r = server.delete("/v2/queue/q/nothing/delay")
    assert r.status_code == 404, (r.status_code, r.text)


# ---------------------------------------------------------------------------
# 5. constraints

def test_constraints_over_three_agents(server, agents):
    specs = [("h1", "rack:r1;zone:a"), ("h2", "rack:r2;zone:a"), ("h3", "rack:r3;zone:b")]
    ags = {}
    for host, attrs in specs:
        ags[host] = agents(server, host, attributes=attrs, auto=True, heartbeat_interval=0.5,
                           resources="cpus:16;mem:16384;disk:1000;ports:[31000-31099]")
        ags[host].start()
    zone = {"h1": "a", "h2": "a", "h3": "b"}
    rack = {"h1": "r1", "h2": "r2", "h3": "r3"}

    apps = {
        "/c/unique": (4, [["hostname", "UNIQUE"]], 3),
        "/c/cluster": (2, [["rack", "CLUSTER", "r1"]], 2),
        "/c/groupby": (2, [["zone", "GROUP_BY"]], 2),
        "/c/like": (4, [["hostname", "LIKE", "h[12]"]], 4),
        "/c/unlike": (4, [["hostname", "UNLIKE", "h1"]], 4),
        "/c/maxper": (4, [["rack", "MAX_PER", "1"]], 3),
        "/c/is": (2, [["rack", "IS", "r2"]], 2),
    }
    for app_id, (n, cons, _) in apps.items():
        server.create_app(small_app(app_id, instances=n, constraints=cons))

    def hosts(app_id):
        return sorted(h for h, ag in ags.items() for _ in ag.launches(app_id))

    for app_id, (_, _, placed) in apps.items():
        wait_until(lambda: len(hosts(app_id)) >= placed, what="%d launches of %s" % (placed, app_id))
    for app_id in ("/c/unique", "/c/maxper"):
        wait_until(lambda: queue_item(server, app_id), what="%s in the queue" % app_id)
    for app_id, (_, _, placed) in apps.items():
        wait_running(server, app_id, placed)
    time.sleep(1.0)  # nothing more may come
    got = {app_id: hosts(app_id) for app_id in apps}
    for app_id, (_, _, placed) in apps.items():
        assert len(got[app_id]) == placed, got

    assert got["/c/unique"] == ["h1", "h2", "h3"], got
    assert got["/c/cluster"] == ["h1", "h1"], got
    assert sorted(zone[h] for h in got["/c/groupby"]) == ["a", "b"], got
    assert set(got["/c/like"]) <= {"h1", "h2"}, got
    assert "h1" not in got["/c/unlike"], got
    assert sorted(rack[h] for h in got["/c/maxper"]) == ["r1", "r2", "r3"], got
    assert got["/c/is"] == ["h2", "h2"], got

    for app_id in ("/c/unique", "/c/maxper"):
        it = queue_item(server, app_id)
        assert it and it["count"] == 1, it
        r = reject(it, "UnfulfilledConstraint")
        assert r["declined"] == 3, it["processedOffersSummary"]
    for app_id in ("/c/cluster", "/c/groupby", "/c/like", "/c/unlike", "/c/is"):
        assert queue_item(server, app_id) is None, queue(server)


# ---------------------------------------------------------------------------
# 6. idempotent updates

def test_updates_are_idempotent(server, agents):
    a = agents(server, "h1", heartbeat_interval=0.5)
    a.start()
    app_id = "/idem/app"
    server.create_app(small_app(app_id, backoffSeconds=1))
    tid = launch_id(a.wait_command("launch", WAIT))
    ans = a.send_updates([update(tid, "TASK_STARTING")])
    assert ans["ackedSeq"] == 1, ans
    ans = a.send_updates([update(tid, "TASK_RUNNING")])
    assert ans["ackedSeq"] == 2, ans
    app = wait_running(server, app_id, 1)
    started = app["tasks"][0]["startedAt"]

    # the very same update again: nothing changes
    ans = a.send_updates([update(tid, "TASK_RUNNING", seq=2)], raw_seq=True)
    assert ans["ackedSeq"] == 2, ans
    # an already applied seq with other content is not applied again
    ans = a.send_updates([update(tid, "TASK_FAILED", seq=2, message="late duplicate")],
                         raw_seq=True)
    assert ans["ackedSeq"] == 2, ans
    ans = a.send_updates([update(tid, "TASK_FAILED", seq=1, message="older")], raw_seq=True)
    assert ans["ackedSeq"] == 2, "ackedSeq went down: %s" % ans
    # a state going backwards is ignored
    a.seq = 2
    ans = a.send_updates([update(tid, "TASK_STARTING")])
    assert ans["ackedSeq"] == 3, ans
    app = app_of(server, app_id)
    assert app["tasksRunning"] == 1 and [t["id"] for t in app["tasks"]] == [tid], app
    assert app["tasks"][0]["state"] == "TASK_RUNNING", app["tasks"]
    assert app["tasks"][0]["startedAt"] == started
    assert "lastTaskFailure" not in app, app
    a.no_command("launch", within=1.0)
    assert a.heartbeat()["ackedSeq"] == 3

    # FAILED, then a late RUNNING for the same task: it stays failed and replaced
    ans = a.send_updates([update(tid, "TASK_FAILED", message="exited with status 1")])
    assert ans["ackedSeq"] == 4, ans
    ans = a.send_updates([update(tid, "TASK_RUNNING")])
    assert ans["ackedSeq"] == 5, ans
    new = launch_id(a.wait_command("launch", WAIT))
    assert new != tid
    a.send_updates([update(new, "TASK_RUNNING")])
    app = wait_running(server, app_id, 1)
    assert [t["id"] for t in app["tasks"]] == [new], app["tasks"]
    assert tid not in [t["id"] for t in all_tasks(server)]
    assert app["lastTaskFailure"]["taskId"] == tid, app
    # the same seq twice in one batch
    ans = a.send_updates([update(new, "TASK_RUNNING", seq=6),
                          update(new, "TASK_FAILED", seq=6, message="dup in batch")],
                         raw_seq=True)
    assert ans["ackedSeq"] == 6, ans
    app = app_of(server, app_id)
    assert [t["id"] for t in app["tasks"]] == [new] and app["tasksRunning"] == 1, app
    # ackedSeq comes back in a registration too, and never lower
    a.seq = 6
    a.tasks = {new: "TASK_RUNNING"}
    ans = a.register()
    assert ans["ackedSeq"] == 6, ans


# ---------------------------------------------------------------------------
# 7. unknown tasks

def test_unknown_task_is_killed_after_grace(start_server, agents):
    srv = start_server(args=["--unknown-task-grace", "1"])
    a = agents(srv, "h1", heartbeat_interval=0.5)
    ghost = "ghost_app.0b6e7b8e-1111-4222-8333-944445555666"
    ans = a.start(tasks=[ghost])
    kill = a.wait_command("kill", WAIT)
    assert kill["taskId"] == ghost, kill
    assert kill["epoch"] == ans["epoch"], kill
    assert all_tasks(srv) == []
    a.no_command("kill", within=2.5)


# ---------------------------------------------------------------------------
# 8. reconciliation

def test_reregistration_reconciles(server, agents):
    a = agents(server, "h1", auto=True, heartbeat_interval=0.5)
    a.start()
    app_id = "/rec/app"
    server.create_app(small_app(app_id, instances=2, backoffSeconds=1))
    t1, t2 = sorted(launch_id(c) for c in a.wait_commands("launch", 2, WAIT))
    wait_running(server, app_id, 2)

    # the agent comes back without t2: t2 is lost and replaced, t1 is kept
    del a.tasks[t2]
    ans = a.register()
    assert ans["agentId"] == a.agent_id
    new = launch_id(a.wait_command("launch", WAIT))
    assert new not in (t1, t2)
    app = wait_running(server, app_id, 2)
    assert sorted(t["id"] for t in app["tasks"]) == sorted([t1, new]), app["tasks"]
    f = app.get("lastTaskFailure")
    assert f and f["taskId"] == t2 and f["state"] == "TASK_LOST", app
    a.no_command("kill", within=1.5)

    # listing everything it runs keeps everything: no kill, no launch
    before = task_ids(server, app_id)
    a.register()
    a.no_command(None, within=2.5)
    assert task_ids(server, app_id) == before
    assert running(server, app_id) == 2


# ---------------------------------------------------------------------------
# 9. unreachable agents

def test_unreachable_agent_tasks_replaced_and_extra_killed(start_server, agents):
    srv = start_server(args=["--agent-timeout", "2", "--unknown-task-grace", "2"])
    problems = []
    a = agents(srv, "h1", auto=True, heartbeat_interval=0.3)
    a.start()
    app_id = "/unr/app"
    # kept 30 s after it turns unreachable (replaced at once): visible meanwhile
    srv.create_app(small_app(app_id, unreachableStrategy={"inactiveAfterSeconds": 0,
                                                          "expungeAfterSeconds": 30}))
    old = launch_id(a.wait_command("launch", WAIT))
    wait_running(srv, app_id, 1)
    b = agents(srv, "h2", auto=True, heartbeat_interval=0.3)
    b.start()

    a.stop_heartbeats()
    seen = None
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline and not seen:
        for t in all_tasks(srv):
            if t["id"] == old and t["state"] == "TASK_UNREACHABLE":
                seen = t
        if b.launches(app_id):
            # replaced already: one more look
            ts = {t["id"]: t["state"] for t in all_tasks(srv)}
            if ts.get(old) == "TASK_UNREACHABLE":
                seen = True
            break
        time.sleep(0.02)
    if not seen:
        problems.append("task %s of the silent agent never showed TASK_UNREACHABLE in "
                        "GET /v2/tasks (it was dropped at once)" % old)
    new = launch_id(b.wait_command("launch", WAIT))
    assert new != old
    agents_by_host = {x["hostname"]: x for x in srv.get("/v1/agents").json()["agents"]}
    assert agents_by_host["h1"]["state"] == "UNREACHABLE", agents_by_host
    wait_until(lambda: any(t["id"] == new and t["state"] == "TASK_RUNNING"
                           for t in all_tasks(srv)), what="the replacement to run")
    assert running(srv, app_id) == 1

    # the agent comes back, still running the old task: one of the two is killed
    a.start_heartbeats(0.3)
    a.register()
    wait_until(lambda: a.kills() or b.kills(), what="a kill of the extra instance")
    killed = [c["taskId"] for c in a.kills() + b.kills()]
    assert len(killed) == 1 and killed[0] in (old, new), killed
    app = wait_running(srv, app_id, 1)
    assert app["instances"] == 1
    time.sleep(1.0)
    app = wait_running(srv, app_id, 1)
    assert [t["id"] for t in app["tasks"]] != killed, app["tasks"]
    assert len(a.tasks) + len(b.tasks) == 1, (a.tasks, b.tasks)
    agents_by_host = {x["hostname"]: x for x in srv.get("/v1/agents").json()["agents"]}
    assert agents_by_host["h1"]["state"] == "ACTIVE", agents_by_host
    assert not problems, "\n".join(problems)


def test_expunged_task_is_killed_when_its_agent_returns(start_server, agents):
    # the default unreachableStrategy (0/0): replaced and expunged at once, so
    # "it will be killed if it ever comes back" (Marathon's words), right away
    srv = start_server(args=["--agent-timeout", "2"])  # unknown-task grace stays 60 s
    a = agents(srv, "h1", auto=True, heartbeat_interval=0.3)
    a.start()
    b = agents(srv, "h2", auto=True, heartbeat_interval=0.3)
    b.start()
    app_id = "/exp/app"
    srv.create_app(small_app(app_id))
    wait_until(lambda: a.launches(app_id) or b.launches(app_id), what="the launch")
    host = a if a.launches(app_id) else b
    old = host.launches(app_id)[0]["task"]["taskId"]
    wait_running(srv, app_id, 1)
    host.stop_heartbeats()
    wait_until(lambda: old not in [t["id"] for t in all_tasks(srv)], what="the task expunged")
    host.start_heartbeats(0.3)
    host.register()
    wait_until(lambda: any(k["taskId"] == old for k in host.kills()), timeout=10,
               what="a kill of the expunged task, well before the 60 s unknown-task grace")


# ---------------------------------------------------------------------------
# 10. the server killed with -9

def test_server_kill9_restart_keeps_tasks(server, agents):
    a = agents(server, "h1", auto=True, heartbeat_interval=0.5)
    first = a.start()
    app_id = "/crash/app"
    server.create_app(small_app(app_id, instances=2))
    a.wait_commands("launch", 2, WAIT)
    before = task_ids(server, app_id)
    wait_running(server, app_id, 2)
    time.sleep(0.5)  # the RUNNING records reach the store

    a.stop_heartbeats()
    a.close_stream()
    server.restart(kill9=True)
    a.mark_all_taken()
    n_before = len(a.commands)
    ans = a.register()
    assert ans["agentId"] == a.agent_id, ans
    assert ans["epoch"] > first["epoch"], (first, ans)
    a.open_stream()
    a.start_heartbeats(0.5)
    a.no_command(None, within=3.0)
    assert task_ids(server, app_id) == before
    assert sorted(t["id"] for t in all_tasks(server)) == before
    assert running(server, app_id) == 2
    after = a.commands[n_before:]
    assert after, "no command (not even a ping) on the new stream"
    assert all(c["epoch"] == ans["epoch"] for c in after), after
    # kill one: the kill and the replacement's launch carry the new epoch
    r = server.delete("/v2/apps%s/tasks/%s" % (app_id, before[0]))
    assert r.status_code == 200, r.text
    k = a.wait_command("kill", WAIT)
    assert k["taskId"] == before[0] and k["epoch"] == ans["epoch"], k
    l = a.wait_command("launch", WAIT)
    assert l["epoch"] == ans["epoch"], l
    wait_running(server, app_id, 2)


def test_acked_seq_survives_restart(server, agents):
    """ackedSeq is the highest seq the server applied for the agent; it never goes down."""
    a = agents(server, "h1", auto=True)
    a.start()
    server.create_app(small_app("/acked/app"))
    a.wait_command("launch", WAIT)
    wait_running(server, "/acked/app", 1)
    acked_before = a.heartbeat()["ackedSeq"]
    assert acked_before == 2, acked_before
    time.sleep(0.5)
    a.close_stream()
    server.restart(kill9=True)
    ans = a.register()
    assert ans["ackedSeq"] >= acked_before, \
        "ackedSeq went down across a server restart: %d before, %d in the registration " \
        "answer after" % (acked_before, ans["ackedSeq"])


# ---------------------------------------------------------------------------
# 11. Marathon's task endpoints

def test_task_endpoints(server, agents):
    h1 = agents(server, "h1", auto=True, heartbeat_interval=0.5)
    h2 = agents(server, "h2", auto=True, heartbeat_interval=0.5)
    h1.start()
    h2.start()
    app_id = "/t/app"
    server.create_app(small_app(app_id, instances=2, constraints=[["hostname", "UNIQUE"]]))
    wait_running(server, app_id, 2)
    on = {t["host"]: t["id"] for t in app_of(server, app_id)["tasks"]}
    assert sorted(on) == ["h1", "h2"], on
    h1.mark_all_taken()
    h2.mark_all_taken()

    # one task by id: killed and replaced
    r = server.delete("/v2/apps%s/tasks/%s" % (app_id, on["h1"]))
    assert r.status_code == 200, r.text
    assert r.json()["task"]["id"] == on["h1"], r.text
    assert h1.wait_command("kill", WAIT)["taskId"] == on["h1"]
    repl = launch_id(h1.wait_command("launch", WAIT))
    assert repl != on["h1"]
    wait_running(server, app_id, 2)
    h2.no_command(None, within=0.5)

    # unknown task ids
    r = server.delete("/v2/apps%s/tasks/t_app.00000000-0000-4000-8000-000000000000" % app_id)
    assert r.status_code == 404, (r.status_code, r.text)
    H.error_body(r)
    r = server.delete("/v2/apps/t/none/tasks/t_none.00000000-0000-4000-8000-000000000000")
    assert r.status_code == 404, (r.status_code, r.text)

    # all tasks on one host
    r = server.delete("/v2/apps%s/tasks" % app_id, params={"host": "h1"})
    assert r.status_code == 200, r.text
    assert h1.wait_command("kill", WAIT)["taskId"] == repl
    repl2 = launch_id(h1.wait_command("launch", WAIT))
    wait_running(server, app_id, 2)
    h2.no_command("kill", within=0.5)

    # scale=true lowers instances by the number killed
    r = server.delete("/v2/apps%s/tasks" % app_id, params={"host": "h2", "scale": "true"})
    assert r.status_code == 200, r.text
    assert h2.wait_command("kill", WAIT)["taskId"] == on["h2"]
    wait_until(lambda: app_of(server, app_id)["instances"] == 1, what="instances 1")
    app = wait_running(server, app_id, 1)
    assert [t["id"] for t in app["tasks"]] == [repl2], app["tasks"]
    h2.no_command("launch", within=1.0)

    # POST /v2/tasks/delete
    r = server.post("/v2/tasks/delete", json={"ids": [repl2]})
    assert r.status_code == 200, r.text
    assert h1.wait_command("kill", WAIT)["taskId"] == repl2
    # the replacement may go to either host (the killed task may still hold h1)
    known = {on["h1"], on["h2"], repl, repl2}
    repl3 = wait_until(lambda: [launch_id(c) for c in h1.launches() + h2.launches()
                                if launch_id(c) not in known], what="a replacement launch")[0]
    app = wait_running(server, app_id, 1)
    assert [t["id"] for t in app["tasks"]] == [repl3]
    delete_body = r.json()

    # GET /v1/agents
    r = server.get("/v1/agents")
    assert r.status_code == 200, r.text
    lst = {x["hostname"]: x for x in r.json()["agents"]}
    assert sorted(lst) == ["h1", "h2"], lst
    assert lst["h1"]["id"] == h1.agent_id and lst["h2"]["id"] == h2.agent_id
    for host, x in lst.items():
        assert x["state"] == "ACTIVE", x
        assert x["total"]["cpus"] == 8 and x["total"]["mem"] == 8192, x
        assert x["total"]["disk"] == 10000 and x["total"]["ports"] == 100, x
    busy = app["tasks"][0]["host"]
    idle = "h2" if busy == "h1" else "h1"
    assert lst[busy]["used"]["instances"] == 1 and lst[idle]["used"]["instances"] == 0, lst
    assert lst[busy]["used"]["cpus"] == pytest.approx(0.1), lst
    assert lst[busy]["used"]["mem"] == 16 and lst[busy]["used"]["ports"] == 1, lst
    assert lst[idle]["used"]["cpus"] == 0 and lst[idle]["used"]["mem"] == 0, lst
    assert lst[idle]["used"]["ports"] == 0, lst

    # Marathon answers POST /v2/tasks/delete with the killed tasks (task.TaskList)
    assert isinstance(delete_body.get("tasks"), list), \
        "POST /v2/tasks/delete answered %r, Marathon answers {\"tasks\": [...]}" % delete_body


# ---------------------------------------------------------------------------
# 12. bad input

def test_bad_agent_input(server, agents):
    problems = []

    def expect(r, statuses, what):
        if r.status_code not in statuses:
            problems.append("%s answered %d, expected %s: %s"
                            % (what, r.status_code, statuses, r.text[:300]))
        elif r.status_code >= 400:
            H.error_body(r)

    # registration: what does not parse is refused and nothing is registered
    a = agents(server, "h1")
    r = a.register(expect=None, resources="cpus:x;mem:1024")
    H.assert_error(r, 422, path="/resources")
    assert server.get("/v1/agents").json()["agents"] == []
    r = server.post("/v1/agents", json={"resources": "cpus:1;mem:64"})
    H.assert_error(r, 422)
    r = server.post("/v1/agents", json={"hostname": "h9", "resources": "cpus:1;mem:64",
                                        "tasks": "none"})
    H.assert_error(r, 422)
    assert server.get("/v1/agents").json()["agents"] == []

    # unknown agents
    ghost = "agent-00000000-0000-4000-8000-000000000000"
    r = server.post("/v1/agents/%s/updates" % ghost, json={"epoch": 1, "updates": []})
    assert r.status_code == 404, (r.status_code, r.text)
    H.error_body(r)
    r = server.get("/v1/agents/%s/commands" % ghost, timeout=5)
    assert r.status_code == 404, (r.status_code, r.text)
    H.error_body(r)

    # updates whose body is not an object, or whose updates are not an array
    b = agents(server, "h2")
    b.register()
    url = "/v1/agents/%s/updates" % b.agent_id
    r = server.post(url, json={"epoch": 1, "updates": {"seq": 1}})
    H.assert_error(r, (400, 422))
    r = server.post(url, data="{not json", headers={"Content-Type": "application/json"})
    assert r.status_code in (400, 422), (r.status_code, r.text)
    for bad in ([], [{"seq": 1, "taskId": "x.1", "state": "TASK_RUNNING"}], "updates", 42):
        expect(server.post(url, json=bad), (400, 422),
               "POST /v1/agents/{id}/updates with body %r" % (bad,))
    r = server.post(url, json={"epoch": 1, "updates": []})
    assert r.status_code == 200 and r.json()["ackedSeq"] == 0, r.text

    # a known agent registering again with resources that do not parse
    r = b.register(expect=None, resources="cpus:x;mem:1024")
    expect(r, (422,), "re-registration of a known agent with resources 'cpus:x;mem:1024'")
    assert not problems, "\n".join(problems)
