# SPDX-License-Identifier: Apache-2.0
"""End to end with nothing faked (issue #3): the real `pacer server`, real
`pacer agent`s (each with its own work dir, port range and host name h1, h2,
h3) and real task processes, checked in /proc and in the agents' sandboxes.

What is covered: launching, scaling and deleting (processes appear, answer on
their PORT0, disappear); the environment a task sees; a task killed from
outside is replaced; an agent and the server killed with -9 and restarted keep
the very same task processes; constraints over three agents; the launch queue's
reasons; failing commands with backoff; the memory cgroup of a task (and every
process of the task in it, children forked at start-up included); fetching a
file URL; the kill grace period against a task that ignores SIGTERM; killing one
task with scale=true; SIGTERM before SIGKILL; POST /v2/apps/{id}/restart; an
agent that was unreachable comes back with a task that was replaced meanwhile.

Fixtures: `server` (conftest.py) and `cluster` (cluster_helpers.py), whose
teardown deletes every app, requires every task process to be gone, stops the
agents with SIGTERM and kills whatever is left in the test's tmp dir.

Timeouts are generous (WAIT s, polling every 0.1 s); nothing measures speed.
Short fixed windows (STEADY) only give the cluster a chance to do something
it must not do."""

import os
import signal
import stat
import time
from pathlib import Path

import pytest

import pacer_helpers as H
from cluster_helpers import (WAIT, cluster, listening, make_cluster,  # noqa: F401
                             pids_of_task, proc_alive, proc_argv, proc_cgroup_v1, proc_cwd,
                             proc_environ, settled_task_pids, wait_until)

STEADY = 2.0  # s: a window in which something must NOT happen

# A tiny HTTP server on $PORT0, serving the sandbox.
HTTP_CMD = "exec python3 -m http.server --bind 127.0.0.1 $PORT0"


def new_id(prefix):
    return "/" + H.uid(prefix)


def app_def(app_id, cmd="sleep 1000", **extra):
    app = {"id": app_id, "cmd": cmd, "cpus": 0.1, "mem": 32, "disk": 0,
           "instances": 1, "portDefinitions": []}
    app.update(extra)
    return app


def ids(tasks):
    return sorted(t["id"] for t in tasks)


def check_task_process(cluster, task):
    """The task runs as a real process: alive, in its sandbox, with its id in
    its environment. Returns its pid."""
    pid = cluster.main_pid(task)
    assert pid, "no live process for task %s (agent.json: %s)" % (
        task["id"], cluster.agent_of_task(task).state())
    # the environment shows once the exec has finished (RUNNING may come a moment before)
    wait_until(lambda: proc_environ(pid).get("MESOS_TASK_ID") or not proc_alive(pid),
               what="process %d to show its environment" % pid)
    env = proc_environ(pid)
    assert env.get("MESOS_TASK_ID") == task["id"], (pid, env.get("MESOS_TASK_ID"))
    sandbox = cluster.sandbox(task)
    assert sandbox.is_dir(), sandbox
    assert proc_cwd(pid) == str(sandbox), (proc_cwd(pid), str(sandbox))
    return pid


def steady(fn, seconds=STEADY, what="state"):
    """fn must keep returning something true for `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        v = fn()
        assert v, "%s changed within %ss" % (what, seconds)
        time.sleep(0.1)


def reject(item, reason):
    for r in item["processedOffersSummary"].get("rejectSummaryLastOffers", []):
        if r["reason"] == reason:
            return r
    return None


# ---------------------------------------------------------------------------
# 1. launch, scale, delete

def test_launch_scale_and_delete_real_processes(cluster):
    a = cluster.agent("h1")
    lo = cluster.port_base
    app_id = new_id("web")
    cluster.create_app(app_def(app_id, HTTP_CMD, instances=2, mem=64,
                               portDefinitions=[{"port": 0, "name": "http"}]))
    app = cluster.wait_running(app_id, 2)
    assert app["tasksRunning"] == 2, app
    pids = {}
    for t in app["tasks"]:
        assert t["host"] == "h1", t
        pids[t["id"]] = check_task_process(cluster, t)
        assert len(t["ports"]) == 1 and lo <= t["ports"][0] <= lo + 99, t
    assert len(set(pids.values())) == 2, pids
    ports = sorted(t["ports"][0] for t in app["tasks"])
    assert len(set(ports)) == 2, ports
    for p in ports:
        wait_until(lambda: listening(p) == 200, what="the task on port %d to answer" % p)

    # scale up to 4: the two first processes are untouched
    cluster.scale(app_id, 4)
    app = cluster.wait_running(app_id, 4)
    assert set(pids) <= set(ids(app["tasks"])), (pids, ids(app["tasks"]))
    for t in app["tasks"]:
        pid = check_task_process(cluster, t)
        if t["id"] in pids:
            assert pid == pids[t["id"]], "task %s has a new process" % t["id"]
        pids[t["id"]] = pid
    ports = {t["id"]: t["ports"][0] for t in app["tasks"]}
    assert len(set(ports.values())) == 4, ports
    for p in ports.values():
        wait_until(lambda: listening(p) == 200, what="the task on port %d to answer" % p)

    # back to 1: three processes end, one keeps running as it was
    cluster.scale(app_id, 1)
    app = cluster.wait_running(app_id, 1)
    (kept,) = app["tasks"]
    assert kept["id"] in pids, kept
    assert check_task_process(cluster, kept) == pids[kept["id"]]
    gone = [pids[i] for i in pids if i != kept["id"]]
    cluster.wait_gone(gone, "the scaled-down task processes to end")
    for i in pids:
        if i != kept["id"]:
            assert pids_of_task(i) == [], "task %s still has processes" % i
            wait_until(lambda: listening(ports[i]) is None,
                       what="port %d to stop answering" % ports[i])
    assert listening(ports[kept["id"]]) == 200
    assert ids(cluster.tasks()) == [kept["id"]]

    # DELETE stops everything
    cluster.delete_app(app_id)
    wait_until(lambda: cluster.tasks() == [], what="/v2/tasks to be empty")
    cluster.wait_gone([pids[kept["id"]]], "the last task process to end")
    assert pids_of_task(kept["id"]) == []
    r = cluster.server.get("/v2/apps" + app_id)
    assert r.status_code == 404, r.text
    assert a.alive()


# ---------------------------------------------------------------------------
# 2. the environment as the task sees it

def test_task_environment(cluster):
    a = cluster.agent("h1")
    app_id = new_id("envapp")
    cluster.create_app(app_def(
        app_id, "env > $MESOS_SANDBOX/env.txt; sleep 1000", cpus=0.25, mem=48,
        portDefinitions=[{"port": 0, "name": "http"}, {"port": 0}],
        env={"GREETING": "hello world", "APP_MODE": "test"},
        labels={"owner": "ops", "tier": "web"}))
    app = cluster.wait_running(app_id, 1)
    (task,) = app["tasks"]
    (listed,) = cluster.tasks(app_id)
    path = a.workdir / "tasks" / task["id"] / "env.txt"
    wait_until(lambda: path.is_file() and "MESOS_TASK_ID=" in path.read_text(),
               what="%s to be written" % path)
    time.sleep(0.2)  # env writes it at once; let the write finish
    env = dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)

    p0, p1 = task["ports"]
    problems = []

    def expect(name, want):
        got = env.get(name)
        if got != want:
            problems.append("%s=%r, expected %r" % (name, got, want))

    expect("HOST", "h1")
    expect("PORT0", str(p0))
    expect("PORT1", str(p1))
    expect("PORT", str(p0))
    expect("PORTS", "%d,%d" % (p0, p1))
    expect("PORT_HTTP", str(p0))
    # Marathon names a port by the port asked for: the app's service port, not the host port
    for sp, hp in zip(app["portDefinitions"], (p0, p1)):
        expect("PORT_%d" % sp["port"], str(hp))
    if "PORT_%d" % p0 in env and p0 not in [d["port"] for d in app["portDefinitions"]]:
        problems.append("PORT_%d is set: a host port must not name a variable" % p0)
    expect("MARATHON_APP_ID", app_id)
    expect("MARATHON_APP_VERSION", app["version"])
    expect("MARATHON_APP_RESOURCE_CPUS", "0.25")
    expect("MARATHON_APP_RESOURCE_MEM", "48.0")
    expect("MARATHON_APP_LABEL_OWNER", "ops")
    expect("MARATHON_APP_LABEL_TIER", "web")
    expect("MESOS_TASK_ID", listed["id"])
    expect("MESOS_TASK_ID", task["id"])
    expect("MESOS_SANDBOX", str(a.workdir / "tasks" / task["id"]))
    expect("GREETING", "hello world")
    expect("APP_MODE", "test")
    labels = sorted((env.get("MARATHON_APP_LABELS") or "").split())
    if labels != ["OWNER", "TIER"]:
        problems.append("MARATHON_APP_LABELS=%r, expected the names OWNER and TIER"
                        % env.get("MARATHON_APP_LABELS"))
    assert not problems, "\n".join(problems) + "\n--- env.txt ---\n" + path.read_text()
    # the process itself has the same environment
    pid = check_task_process(cluster, task)
    assert proc_environ(pid).get("PORT0") == str(p0)


# ---------------------------------------------------------------------------
# 3. a task killed from outside is replaced

def test_task_killed_from_outside_is_replaced(cluster):
    cluster.agent("h1")
    app_id = new_id("victim")
    cluster.create_app(app_def(app_id, backoffSeconds=1))
    app = cluster.wait_running(app_id, 1)
    (old,) = app["tasks"]
    pid = check_task_process(cluster, old)
    os.kill(pid, signal.SIGKILL)

    def replaced():
        ts = cluster.app(app_id)["tasks"]
        return ts if len(ts) == 1 and ts[0]["id"] != old["id"] \
            and ts[0]["state"] == "TASK_RUNNING" else None
    wait_until(replaced, what="a new task replacing %s" % old["id"])
    app = cluster.wait_running(app_id, 1)
    (new,) = app["tasks"]
    new_pid = check_task_process(cluster, new)
    assert new_pid != pid
    assert not proc_alive(pid)
    wait_until(lambda: pids_of_task(old["id"]) == [], timeout=5,
               what="no process of the killed task %s to be left (its shell's child)"
               % old["id"])
    f = app.get("lastTaskFailure")
    assert f, "no lastTaskFailure after the task's process was killed: %s" % app
    assert f["taskId"] == old["id"], f
    assert f["state"] == "TASK_FAILED", f
    assert "signal 9" in f["message"] or "Killed" in f["message"], f
    assert f["host"] == "h1" and f["appId"] == app_id, f
    assert old["id"] not in ids(cluster.tasks())


# ---------------------------------------------------------------------------
# 4. an agent killed with -9 and restarted keeps its tasks

def test_agent_kill9_restart_reattaches(cluster):
    a = cluster.agent("h1")
    app_id = new_id("survivor")
    cluster.create_app(app_def(app_id, instances=2))
    app = cluster.wait_running(app_id, 2)
    before = {t["id"]: check_task_process(cluster, t) for t in app["tasks"]}
    procs_before = {i: settled_task_pids(i) for i in before}

    a.kill9()
    assert all(proc_alive(p) for p in before.values()), "tasks died with their agent"
    a.start()
    a.wait_registrations(2)
    cluster.wait_agent("h1")

    def same():
        ts = cluster.tasks()
        return (ids(ts) == sorted(before)
                and all(t["state"] == "TASK_RUNNING" for t in ts)
                and all(proc_alive(p) for p in before.values()))
    wait_until(same, what="the same tasks RUNNING after the agent's restart")
    steady(same, what="the tasks (ids, states, processes)")
    for i in before:
        assert pids_of_task(i) == procs_before[i], "task %s was relaunched" % i
        assert a.task_pid(i) == before[i], a.state()
    assert cluster.app(app_id)["tasksRunning"] == 2
    assert "launching task" not in a.stderr_text().split("registered with '")[-1], \
        "the restarted agent launched something:\n" + a.stderr_tail()

    # supervised again: scaling down reaches the very same processes
    cluster.scale(app_id, 0)
    wait_until(lambda: cluster.tasks() == [], what="/v2/tasks to be empty")
    cluster.wait_gone(before.values(), "the re-attached task processes to end")


# ---------------------------------------------------------------------------
# 5. the server killed with -9 and restarted on the same store

def test_server_kill9_restart_keeps_tasks(cluster, server):
    a = cluster.agent("h1")
    app_id = new_id("steady")
    cluster.create_app(app_def(app_id, instances=2))
    app = cluster.wait_running(app_id, 2)
    before = {t["id"]: check_task_process(cluster, t) for t in app["tasks"]}
    procs_before = {i: settled_task_pids(i) for i in before}
    regs = a.registrations()

    server.restart(kill9=True)
    a.wait_registrations(regs + 1)
    cluster.wait_agent("h1")

    def same():
        app = cluster.app(app_id)
        return (app["tasksRunning"] == 2 and ids(app["tasks"]) == sorted(before)
                and ids(cluster.tasks()) == sorted(before)
                and all(proc_alive(p) for p in before.values()))
    wait_until(same, what="the same two tasks running after the server's restart")
    steady(same, what="the tasks (ids, states, processes)")
    for i in before:
        assert pids_of_task(i) == procs_before[i], "task %s was relaunched" % i
    assert "killing task" not in a.stderr_text(), a.stderr_tail()
    app = cluster.app(app_id)
    assert app["instances"] == 2 and app["tasksRunning"] == 2, app

    # the restarted server still runs the cluster
    cluster.scale(app_id, 3)
    app = cluster.wait_running(app_id, 3)
    assert set(before) < set(ids(app["tasks"])), app["tasks"]
    for t in app["tasks"]:
        check_task_process(cluster, t)


# ---------------------------------------------------------------------------
# 6. constraints over three agents

def test_constraints_on_three_agents(cluster):
    specs = [("h1", "rack:r1;zone:a"), ("h2", "rack:r2;zone:a"), ("h3", "rack:r3;zone:b")]
    for host, attrs in specs:
        cluster.agent(host, attributes=attrs)
    zone = {"h1": "a", "h2": "a", "h3": "b"}
    rack = {"h1": "r1", "h2": "r2", "h3": "r3"}
    apps = {  # name: (instances, constraints, placed)
        "unique": (4, [["hostname", "UNIQUE"]], 3),
        "cluster": (2, [["rack", "CLUSTER", "r2"]], 2),
        "groupby": (2, [["zone", "GROUP_BY"]], 2),
        "maxper": (3, [["rack", "MAX_PER", "1"]], 3),
        "like": (4, [["hostname", "LIKE", "h[12]"]], 4),
        "unlike": (3, [["hostname", "UNLIKE", "h1"]], 3),
        "is": (2, [["zone", "IS", "b"]], 2),
    }
    app_ids = {name: new_id("c-" + name) for name in apps}
    for name, (n, cons, _) in apps.items():
        cluster.create_app(app_def(app_ids[name], instances=n, constraints=cons))

    hosts = {}
    for name, (_, _, placed) in apps.items():
        app = cluster.wait_running(app_ids[name], placed)
        for t in app["tasks"]:
            check_task_process(cluster, t)  # the process runs on that agent
        hosts[name] = sorted(t["host"] for t in app["tasks"])

    item = wait_until(lambda: cluster.queue_item(app_ids["unique"]),
                      what="the 4th instance of the UNIQUE app in /v2/queue")
    assert item["count"] == 1, item
    r = wait_until(lambda: reject(cluster.queue_item(app_ids["unique"]),
                                  "UnfulfilledConstraint"),
                   what="UnfulfilledConstraint in the queue item")
    assert r["declined"] >= 1, item
    time.sleep(1.0)  # nothing more may be placed
    for name, (_, _, placed) in apps.items():
        app = cluster.app(app_ids[name])
        assert app["tasksRunning"] == placed and len(app["tasks"]) == placed, (name, app)

    problems = []
    if hosts["unique"] != ["h1", "h2", "h3"]:
        problems.append("UNIQUE hostname: %s" % hosts["unique"])
    if hosts["cluster"] != ["h2", "h2"]:
        problems.append("CLUSTER rack r2: %s" % hosts["cluster"])
    if sorted(zone[h] for h in hosts["groupby"]) != ["a", "b"]:
        problems.append("GROUP_BY zone: %s" % hosts["groupby"])
    if sorted(rack[h] for h in hosts["maxper"]) != ["r1", "r2", "r3"]:
        problems.append("MAX_PER rack 1: %s" % hosts["maxper"])
    if not set(hosts["like"]) <= {"h1", "h2"}:
        problems.append("LIKE hostname h[12]: %s" % hosts["like"])
    if "h1" in hosts["unlike"]:
        problems.append("UNLIKE hostname h1: %s" % hosts["unlike"])
    if hosts["is"] != ["h3", "h3"]:
        problems.append("IS zone b: %s" % hosts["is"])
    assert not problems, "\n".join(problems)
    for name in ("cluster", "groupby", "maxper", "like", "unlike", "is"):
        assert cluster.queue_item(app_ids[name]) is None, (name, cluster.queue())


# ---------------------------------------------------------------------------
# 7. the queue says why nothing fits, and the app launches once it fits

def test_queue_insufficient_cpus_then_fits(cluster):
    a = cluster.agent("h1", cpus=2)
    app_id = new_id("big")
    cluster.create_app(app_def(app_id, cpus=3))

    item = wait_until(lambda: (lambda it: it if it and reject(it, "InsufficientCpus")
                               else None)(cluster.queue_item(app_id)),
                      what="the app in /v2/queue with InsufficientCpus")
    assert item["count"] == 1, item
    assert reject(item, "InsufficientCpus")["declined"] >= 1, item
    steady(lambda: cluster.tasks(app_id) == [], what="no task of the app")
    assert not (a.workdir / "tasks").exists() or os.listdir(a.workdir / "tasks") == [], \
        "something was launched: %s" % os.listdir(a.workdir / "tasks")
    app = cluster.app(app_id)
    assert app["tasksRunning"] == 0 and app["tasks"] == [], app

    cluster.put_app(app_id, {"cpus": 0.5})
    app = cluster.wait_running(app_id, 1)
    assert app["cpus"] == 0.5
    check_task_process(cluster, app["tasks"][0])
    wait_until(lambda: cluster.queue_item(app_id) is None, what="the app to leave the queue")


# ---------------------------------------------------------------------------
# 8. a failing command is replaced with backoff

def test_failing_command_backoff(cluster):
    cluster.agent("h1")
    app_id = new_id("failer")
    cluster.create_app(app_def(app_id, "exit 3", backoffSeconds=1, backoffFactor=2,
                               maxLaunchDelaySeconds=60))
    f = wait_until(lambda: cluster.app(app_id).get("lastTaskFailure"),
                   what="a lastTaskFailure")
    assert f["state"] == "TASK_FAILED", f
    assert "exited with status 3" in f["message"], f
    assert f["appId"] == app_id and f["host"] == "h1", f
    first = f["taskId"]

    # it is replaced (again and again), and the queue shows the growing delay
    wait_until(lambda: cluster.app(app_id)["lastTaskFailure"]["taskId"] != first,
               what="a replacement of %s to fail too" % first)

    def delayed():
        it = cluster.queue_item(app_id)
        return it if it and it["delay"]["overdue"] is False \
            and it["delay"]["timeLeftSeconds"] >= 2 else None
    item = wait_until(delayed, what="the queue to show a backoff delay of 2 s or more")
    assert item["count"] == 1, item
    app = cluster.app(app_id)
    assert app["tasksRunning"] == 0, app
    f = app["lastTaskFailure"]
    assert f["state"] == "TASK_FAILED" and "exited with status 3" in f["message"], f


# ---------------------------------------------------------------------------
# 9. cgroups

def _cgroup2_mount():
    with open("/proc/self/mountinfo") as fh:
        for line in fh:
            f = line.split()
            dash = f.index("-")
            if f[dash + 1] == "cgroup2":
                return f[4]
    return None


def test_memory_cgroup_limit(cluster):
    mem_root = Path("/sys/fs/cgroup/memory")
    if not mem_root.is_dir() or not os.access(mem_root, os.W_OK):
        pytest.skip("/sys/fs/cgroup/memory does not exist or is not writable here")
    cluster.agent("h1")
    ag = cluster.agent_json("h1")
    assert ag["cgroups"] in ("v1", "v2"), ag
    app_id = new_id("memcap")
    cluster.create_app(app_def(app_id, mem=64))
    app = cluster.wait_running(app_id, 1)
    (task,) = app["tasks"]
    pid = check_task_process(cluster, task)
    if ag["cgroups"] == "v1":
        own = proc_cgroup_v1(os.getpid(), "memory")
        path = proc_cgroup_v1(pid, "memory")
        assert path and path != own, "the task is not in a cgroup of its own: %s" % path
        assert path.endswith("/" + task["id"]), path
        cg = mem_root / path.lstrip("/")
        limit = cg / "memory.limit_in_bytes"
        assert int(limit.read_text()) == 64 * 1024 * 1024, (limit, limit.read_text())
    else:
        with open("/proc/%d/cgroup" % pid) as fh:
            path = [l.split(":", 2)[2].strip() for l in fh if l.startswith("0::")][0]
        cg = Path(_cgroup2_mount()) / path.lstrip("/")
        assert (cg / "memory.max").read_text().strip() == str(64 * 1024 * 1024)
    assert str(pid) in (cg / "cgroup.procs").read_text().split()

    # the cgroup goes away with the task
    cluster.delete_app(app_id)
    wait_until(lambda: cluster.tasks() == [], what="/v2/tasks to be empty")
    cluster.wait_gone([pid])
    wait_until(lambda: not cg.exists(), what="the task's cgroup %s to be removed" % cg)


def test_every_task_process_is_in_the_task_cgroup(cluster):
    """The memory limit holds for the whole task: a child the task's program
    forks at once (timeout(1) forks its command first thing) must be in the
    task's cgroup too, not left in the agent's."""
    mem_root = Path("/sys/fs/cgroup/memory")
    if not mem_root.is_dir() or not os.access(mem_root, os.W_OK):
        pytest.skip("/sys/fs/cgroup/memory does not exist or is not writable here")
    cluster.agent("h1")
    if cluster.agent_json("h1")["cgroups"] != "v1":
        pytest.skip("the agent does not use cgroups v1 here")
    app_id = new_id("forker")
    n = 40
    cluster.create_app(app_def(app_id, "timeout 1000 sleep 1000", instances=n,
                               cpus=0.05, mem=16))
    app = cluster.wait_running(app_id, n, timeout=30)
    agent_cg = proc_cgroup_v1(cluster.agents["h1"].pid, "memory")
    outside = []
    for t in app["tasks"]:
        for p in settled_task_pids(t["id"]):
            cg = proc_cgroup_v1(p, "memory")
            if cg is not None and not cg.endswith("/" + t["id"]):
                outside.append("pid %d %s of task %s is in memory cgroup %r%s" % (
                    p, proc_argv(p), t["id"], cg,
                    " (the agent's own)" if cg == agent_cg else ""))
    assert not outside, "%d processes of %d tasks are outside their task cgroup:\n%s" % (
        len(outside), n, "\n".join(outside))


# ---------------------------------------------------------------------------
# 10. fetch a local file URL

def test_fetch_file_url(cluster, tmp_path):
    tool = tmp_path / "tool.sh"
    tool.write_text("#!/bin/sh\necho \"fetched $MESOS_TASK_ID\" > marker.txt\n")
    tool.chmod(0o644)  # only the fetcher's "executable" makes it runnable
    cluster.agent("h1")
    app_id = new_id("fetcher")
    cluster.create_app(app_def(app_id, "./tool.sh && sleep 1000",
                               fetch=[{"uri": "file://%s" % tool, "executable": True}]))
    app = cluster.wait_running(app_id, 1)
    (task,) = app["tasks"]
    sandbox = cluster.sandbox(task)
    marker = sandbox / "marker.txt"
    wait_until(lambda: marker.is_file() and marker.read_text().strip(),
               what="%s to be written by the fetched tool" % marker)
    assert marker.read_text().strip() == "fetched " + task["id"]
    fetched = sandbox / "tool.sh"
    assert fetched.read_text() == tool.read_text()
    assert fetched.stat().st_mode & stat.S_IXUSR
    assert cluster.app(app_id).get("lastTaskFailure") is None


# ---------------------------------------------------------------------------
# 11. the kill grace period against a task that ignores SIGTERM

def test_kill_grace_sigkills_a_task_ignoring_sigterm(cluster):
    a = cluster.agent("h1")
    app_id = new_id("stubborn")
    cluster.create_app(app_def(app_id, "trap '' TERM; sleep 1000",
                               taskKillGracePeriodSeconds=1))
    app = cluster.wait_running(app_id, 1)
    (task,) = app["tasks"]
    check_task_process(cluster, task)
    procs = settled_task_pids(task["id"])
    rec = [t for t in a.state()["tasks"] if t["taskId"] == task["id"]]
    assert rec and rec[0].get("killGracePeriodSeconds") == 1, rec
    cluster.scale(app_id, 0)
    wait_until(lambda: cluster.tasks() == [], what="/v2/tasks to be empty")
    cluster.wait_gone(procs, "the SIGTERM-ignoring processes to be killed")
    assert pids_of_task(task["id"]) == []
    app = cluster.app(app_id)
    assert app["instances"] == 0 and app["tasksRunning"] == 0, app


# ---------------------------------------------------------------------------
# 12. kill one task with scale=true

def test_kill_one_task_and_scale(cluster):
    cluster.agent("h1")
    app_id = new_id("shrink")
    cluster.create_app(app_def(app_id, instances=2))
    app = cluster.wait_running(app_id, 2)
    victim, other = app["tasks"]
    vpid = check_task_process(cluster, victim)
    opid = check_task_process(cluster, other)

    r = cluster.server.delete("/v2/apps%s/tasks/%s" % (app_id, victim["id"]),
                              params={"scale": "true"})
    assert r.status_code == 200, (r.status_code, r.text)
    body = r.json()
    # Marathon answers a DeploymentResult when scale=true
    assert isinstance(body.get("deploymentId"), str) and H.VERSION_RE.match(
        body.get("version", "")), body
    wait_until(lambda: cluster.app(app_id)["instances"] == 1, what="instances 1")
    cluster.wait_gone([vpid], "the killed task's process to end")
    app = cluster.wait_running(app_id, 1)
    assert ids(app["tasks"]) == [other["id"]], app["tasks"]

    def unchanged():
        app = cluster.app(app_id)
        return (app["instances"] == 1 and ids(app["tasks"]) == [other["id"]]
                and proc_alive(opid))
    steady(unchanged, what="the app (one instance, the other task)")
    assert pids_of_task(victim["id"]) == []


# ---------------------------------------------------------------------------
# 13. a task that handles SIGTERM gets it before any SIGKILL

def test_kill_sends_sigterm_first(cluster):
    cluster.agent("h1")
    app_id = new_id("polite")
    cluster.create_app(app_def(
        app_id, "trap 'echo term > got_term; exit 0' TERM; sleep 1000 & wait",
        taskKillGracePeriodSeconds=10))
    app = cluster.wait_running(app_id, 1)
    (task,) = app["tasks"]
    check_task_process(cluster, task)
    sandbox = cluster.sandbox(task)
    procs = settled_task_pids(task["id"])
    cluster.scale(app_id, 0)
    wait_until(lambda: cluster.tasks() == [], what="/v2/tasks to be empty")
    cluster.wait_gone(procs, "the task's processes to end")
    assert (sandbox / "got_term").is_file(), \
        "the task was not sent SIGTERM before it ended: %s" % os.listdir(sandbox)


# ---------------------------------------------------------------------------
# 14. POST /v2/apps/{id}/restart replaces every task

def test_restart_replaces_every_task(cluster):
    cluster.agent("h1")
    app_id = new_id("restart")
    cluster.create_app(app_def(app_id, instances=2))
    app = cluster.wait_running(app_id, 2)
    old = {t["id"]: check_task_process(cluster, t) for t in app["tasks"]}
    r = cluster.server.post("/v2/apps%s/restart" % app_id)
    assert r.status_code == 200, (r.status_code, r.text)
    body = r.json()
    assert isinstance(body.get("deploymentId"), str), body
    version = body["version"]

    def replaced():
        app = cluster.app(app_id)
        ts = app["tasks"]
        return app if (app["tasksRunning"] == 2 and len(ts) == 2
                       and not set(ids(ts)) & set(old)
                       and all(t["version"] == version for t in ts)) else None
    try:
        wait_until(replaced, what="both tasks to be replaced by tasks of version %s" % version)
    except AssertionError as e:
        app = cluster.app(app_id)
        raise AssertionError("%s\napp version %s, versionInfo %s, tasks %s" % (
            e, app["version"], app["versionInfo"],
            [(t["id"], t["version"]) for t in app["tasks"]]))
    cluster.wait_gone(old.values(), "the old task processes to end")
    app = cluster.wait_running(app_id, 2)
    for t in app["tasks"]:
        check_task_process(cluster, t)


# ---------------------------------------------------------------------------
# 15. an unreachable agent comes back with a task that was replaced meanwhile

def test_unreachable_agent_returns_extra_task_killed(make_cluster):
    c = make_cluster(["--agent-timeout", "2", "--unknown-task-grace", "2"])
    c.agent("h1")
    c.agent("h2")
    app_id = new_id("unreach")
    c.create_app(app_def(app_id, constraints=[["hostname", "UNIQUE"]]))
    app = c.wait_running(app_id, 1)
    (old,) = app["tasks"]
    old_procs = settled_task_pids(old["id"])
    check_task_process(c, old)
    gone_agent = c.agents[old["host"]]
    assert gone_agent.stop() == 0  # SIGTERM: its task keeps running
    assert all(proc_alive(p) for p in old_procs)

    def replaced():
        ts = c.tasks(app_id)
        return [t for t in ts if t["id"] != old["id"] and t["state"] == "TASK_RUNNING"]
    (new,) = wait_until(replaced, what="a replacement on the other agent")
    assert new["host"] != old["host"], new
    new_pid = check_task_process(c, new)
    agent_state = c.agent_json(old["host"])["state"]
    assert agent_state == "UNREACHABLE", agent_state

    # the agent comes back, still running the old task: exactly one instance is left,
    # and the processes of the other one really end
    gone_agent.start()
    gone_agent.wait_registrations(2)
    c.wait_agent(old["host"])

    def one_left():
        app = c.app(app_id)
        ts = app["tasks"]
        if len(ts) != 1 or app["tasksRunning"] != 1:
            return None
        loser = old["id"] if ts[0]["id"] == new["id"] else new["id"]
        return ts[0] if not pids_of_task(loser) else None
    kept = wait_until(one_left, what="one instance left, the other one's processes gone")
    assert kept["id"] in (old["id"], new["id"]), kept
    app = c.wait_running(app_id, 1)
    assert app["instances"] == 1, app
    if kept["id"] == new["id"]:
        assert proc_alive(new_pid) and not any(proc_alive(p) for p in old_procs)
    steady(lambda: ids(c.tasks(app_id)) == [kept["id"]] and pids_of_task(kept["id"]),
           what="the one instance left")
