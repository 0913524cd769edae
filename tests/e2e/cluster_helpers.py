# SPDX-License-Identifier: Apache-2.0
"""A real cluster for the end-to-end tests: the `server` fixture of conftest.py
plus real `pacer agent` processes that run real task processes.

    cluster     a Cluster around a fresh server; cluster.agent("h1", ...) starts
                an agent with its own work dir and port range and waits until
                the server lists it

Teardown (in this order, so no test leaks a process or a cgroup):
  1. every app is deleted and /v2/tasks must become empty, and every task
     process must then be gone (a process that outlives the DELETE of its app
     is a Pacer bug and fails the test's teardown);
  2. the agents are stopped with SIGTERM (they leave tasks running by design)
     and must exit 0 without a sanitizer report;
  3. as a safety net every process whose cwd is under the test's tmp dir is
     killed with SIGKILL, and the empty task cgroups of this test's apps are
     removed.

Nothing here measures speed: waits poll every 0.1 s for up to WAIT s."""

import json
import os
import random
import signal
import subprocess
import time
from pathlib import Path

import pytest
import requests

import pacer_helpers as H

WAIT = 15          # s: the longest wait for anything the cluster does by itself
POLL = 0.1
STOP_TIMEOUT = 15

CGROUP_V1_ROOT = Path("/sys/fs/cgroup")


# ---------------------------------------------------------------------------
# polling and processes

def wait_until(fn, timeout=WAIT, interval=POLL, what="condition"):
    """Calls fn until it returns something true; returns that. On timeout an
    AssertionError names what was awaited and the last value seen."""
    deadline = time.monotonic() + timeout
    while True:
        last = fn()
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %ss waiting for %s (last: %r)"
                                 % (timeout, what, last))
        time.sleep(interval)


def proc_alive(pid):
    """True while pid runs (a zombie does not count)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def proc_environ(pid):
    try:
        with open("/proc/%d/environ" % pid, "rb") as f:
            raw = f.read()
    except OSError:
        return {}
    env = {}
    for item in raw.split(b"\0"):
        if b"=" in item:
            k, v = item.split(b"=", 1)
            env[k.decode(errors="replace")] = v.decode(errors="replace")
    return env


def proc_cwd(pid):
    try:
        return os.readlink("/proc/%d/cwd" % pid)
    except OSError:
        return None


def all_pids():
    out = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            out.append(int(name))
    return out


def pids_under(root, exclude=()):
    """Live processes whose cwd is at or below root (but not those in exclude)."""
    root = str(root).rstrip("/")
    skip = set(exclude) | {os.getpid()}
    out = []
    for pid in all_pids():
        if pid in skip:
            continue
        cwd = proc_cwd(pid)
        if cwd and (cwd == root or cwd.startswith(root + "/")) and proc_alive(pid):
            out.append(pid)
    return out


def pids_of_task(task_id):
    """Live processes that carry MESOS_TASK_ID=task_id (the task's process and
    its children)."""
    out = []
    for pid in all_pids():
        if pid == os.getpid():
            continue
        if proc_environ(pid).get("MESOS_TASK_ID") == task_id and proc_alive(pid):
            out.append(pid)
    return sorted(out)


def proc_argv(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return [a.decode(errors="replace") for a in f.read().split(b"\0")[:-1]]
    except OSError:
        return []


def settled_task_pids(task_id, leaf="sleep"):
    """The task's processes once its shell has started `leaf` (sh -c forks
    its last command). A process shows its MESOS_TASK_ID only once its exec
    has finished, which may be a moment after the agent reported it RUNNING;
    this waits for that too."""
    def ok():
        pids = pids_of_task(task_id)
        return pids if any(os.path.basename((proc_argv(p) or [""])[0]) == leaf
                           for p in pids) else None
    return wait_until(ok, what="task %s's process tree to include %r" % (task_id, leaf))


def listening(port, host="127.0.0.1"):
    """The HTTP status a GET / on port answers, or None."""
    try:
        r = requests.get("http://%s:%d/" % (host, port), timeout=2,
                           headers={"Connection": "close"})
        return r.status_code
    except requests.RequestException:
        return None


def own_cgroup_v1(controller):
    """This process's cgroup path in a v1 hierarchy (e.g. '/process_api/...')."""
    try:
        with open("/proc/self/cgroup") as f:
            for line in f:
                _, ctls, path = line.rstrip("\n").split(":", 2)
                if controller in ctls.split(","):
                    return path
    except OSError:
        pass
    return None


def proc_cgroup_v1(pid, controller):
    try:
        with open("/proc/%d/cgroup" % pid) as f:
            for line in f:
                _, ctls, path = line.rstrip("\n").split(":", 2)
                if controller in ctls.split(","):
                    return path
    except OSError:
        pass
    return None


# ---------------------------------------------------------------------------
# an agent

SANITIZER_MARKERS = H.SANITIZER_MARKERS


class PacerAgent:
    """One `pacer agent` process with its own work dir, host name and port range."""

    def __init__(self, server_url, workdir, hostname, resources, attributes=None,
                 extra_args=()):
        self.server_url = server_url
        self.workdir = Path(workdir)
        self.hostname = hostname
        self.resources = resources
        self.attributes = attributes
        self.extra_args = list(extra_args)
        self.proc = None
        self.runs = 0
        self.stderr_paths = []

    def argv(self):
        a = [H.PACER_BIN, "agent", "--server", self.server_url,
             "--work-dir", str(self.workdir), "--hostname", self.hostname,
             "--resources", self.resources, "--log-level", "debug"]
        if self.attributes:
            a += ["--attributes", self.attributes]
        return a + self.extra_args

    def start(self):
        self.runs += 1
        log = self.workdir.parent / ("%s.stderr.%d.log" % (self.hostname, self.runs))
        self.stderr_paths.append(log)
        with open(log, "wb") as err:
            self.proc = subprocess.Popen(self.argv(), stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=err)
        return self

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM):
        """Signals the agent; returns its exit status (None if it had to be killed)."""
        if self.proc is None:
            return None
        if not self.alive():
            return self.proc.returncode
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None

    def kill9(self):
        self.proc.kill()
        self.proc.wait()

    def state(self):
        """agent.json, or {} while it does not exist (yet)."""
        try:
            return json.loads((self.workdir / "agent.json").read_text())
        except (OSError, ValueError):
            return {}

    def task_pid(self, task_id):
        for t in self.state().get("tasks", []):
            if t.get("taskId") == task_id:
                return t.get("pid")
        return None

    def sandbox(self, task_id):
        return self.workdir / "tasks" / task_id

    def stderr_text(self):
        out = []
        for p in self.stderr_paths:
            try:
                out.append(p.read_text(errors="replace"))
            except OSError:
                pass
        return "\n".join(out)

    def stderr_tail(self, n=3000):
        return self.stderr_text()[-n:]

    def registrations(self):
        """How many times (over all runs) the agent logged a registration."""
        return self.stderr_text().count("registered with '")

    def wait_registrations(self, n):
        def ok():
            if not self.alive():
                raise AssertionError("agent %s exited with %r:\n%s"
                                     % (self.hostname, self.proc.returncode, self.stderr_tail()))
            return self.registrations() >= n
        wait_until(ok, what="agent %s to register (%d times in all)" % (self.hostname, n))


# ---------------------------------------------------------------------------
# the cluster

class Cluster:
    def __init__(self, server, tmp_path):
        self.server = server
        self.root = Path(tmp_path)
        self.agents = {}                 # hostname -> PacerAgent
        self.port_base = 20000 + 500 * random.randrange(0, 20)
        self.app_ids = set()

    # -- agents ----------------------------------------------------------
    def agent(self, hostname, cpus=4, mem=4096, disk=10000, attributes=None, wait=True):
        """Starts an agent on its own work dir and port range and waits until
        the server lists it ACTIVE and connected."""
        k = len(self.agents)
        lo = self.port_base + 100 * k
        resources = "cpus:%s;mem:%s;disk:%s;ports:[%d-%d]" % (cpus, mem, disk, lo, lo + 99)
        a = PacerAgent(self.server.base, self.root / ("agent-" + hostname), hostname,
                       resources, attributes)
        self.agents[hostname] = a
        a.start()
        if wait:
            self.wait_agent(hostname)
        return a

    def agents_json(self):
        r = self.server.get("/v1/agents")
        assert r.status_code == 200, (r.status_code, r.text)
        return r.json()["agents"]

    def agent_json(self, hostname):
        for x in self.agents_json():
            if x["hostname"] == hostname:
                return x
        return None

    def wait_agent(self, hostname):
        a = self.agents[hostname]

        def ok():
            if not a.alive():
                raise AssertionError("agent %s exited with %r:\n%s"
                                     % (hostname, a.proc.returncode, a.stderr_tail()))
            x = self.agent_json(hostname)
            return x if x and x.get("state") == "ACTIVE" and x.get("connected") else None
        return wait_until(ok, what="agent %s to be ACTIVE and connected" % hostname)

    def agent_of_task(self, task):
        return self.agents[task["host"]]

    # -- apps and tasks --------------------------------------------------
    def create_app(self, app):
        self.app_ids.add(app["id"])
        return self.server.create_app(app)

    def app(self, app_id):
        return self.server.app(app_id)

    def put_app(self, app_id, body):
        r = self.server.put("/v2/apps" + app_id, json=body)
        assert r.status_code == 200, (r.status_code, r.text)
        return r.json()

    def scale(self, app_id, n):
        return self.put_app(app_id, {"instances": n})

    def tasks(self, app_id=None):
        r = self.server.get("/v2/tasks")
        assert r.status_code == 200, (r.status_code, r.text)
        ts = r.json()["tasks"]
        if app_id is not None:
            ts = [t for t in ts if t["appId"] == app_id]
        return ts

    def queue(self):
        r = self.server.get("/v2/queue")
        assert r.status_code == 200, (r.status_code, r.text)
        return r.json()["queue"]

    def queue_item(self, app_id):
        for it in self.queue():
            if it["app"]["id"] == app_id:
                return it
        return None

    def wait_running(self, app_id, n, timeout=WAIT):
        """Waits until the app shows n running tasks and n tasks in all, each of
        them TASK_RUNNING with a live process; returns the app."""
        def ok():
            app = self.app(app_id)
            ts = app["tasks"]
            if app["tasksRunning"] != n or len(ts) != n:
                return None
            if any(t["state"] != "TASK_RUNNING" for t in ts):
                return None
            if any(not self.main_pid(t) for t in ts):
                return None
            return app
        return wait_until(ok, timeout, what="%s to run exactly %d tasks" % (app_id, n))

    def main_pid(self, task):
        """The task's process as its agent records it (agent.json), if alive."""
        pid = self.agent_of_task(task).task_pid(task["id"])
        return pid if pid and proc_alive(pid) else None

    def sandbox(self, task):
        return self.agent_of_task(task).sandbox(task["id"])

    def wait_gone(self, pids, what="processes to end"):
        pids = list(pids)
        wait_until(lambda: not [p for p in pids if proc_alive(p)],
                   what="%s %s" % (what, pids))

    def delete_app(self, app_id):
        r = self.server.delete("/v2/apps" + app_id, params={"force": "true"})
        assert r.status_code == 200, (r.status_code, r.text)
        return r.json()

    # -- teardown --------------------------------------------------------
    def teardown(self):
        problems = []
        agents_ok = all(a.alive() for a in self.agents.values())
        server_ok = self.server.alive()

        # 1. delete every app; all tasks and their processes must go
        if server_ok and self.server.session is not None:
            try:
                for app in self.server.apps():
                    self.server.delete("/v2/apps" + app["id"], params={"force": "true"})
                wait_until(lambda: self.tasks() == [], what="/v2/tasks to be empty")
            except Exception as e:  # noqa: BLE001 - reported, cleanup goes on
                if agents_ok:
                    problems.append("after DELETE of every app: %s" % e)
            if agents_ok and not problems:
                try:
                    wait_until(lambda: not pids_under(self.root, self.own_pids()), timeout=5,
                               what="no task process to be left")
                except AssertionError:
                    left = pids_under(self.root, self.own_pids())
                    problems.append(
                        "task processes survived the DELETE of their apps although "
                        "/v2/tasks is empty: %s" % describe(left))
            if agents_ok and not problems:
                try:
                    wait_until(lambda: not self.task_cgroups(), timeout=5,
                               what="the task cgroups to be removed")
                except AssertionError:
                    problems.append(
                        "task cgroups left behind after every task ended: %s"
                        % ", ".join(str(d) for d in self.task_cgroups()))

        # 2. stop the agents
        for host, a in self.agents.items():
            was_alive = a.alive()
            rc = a.stop()
            if was_alive and rc != 0:
                problems.append("agent %s exited with %r on SIGTERM\n%s"
                                % (host, rc, a.stderr_tail()))
            text = a.stderr_text()
            for m in SANITIZER_MARKERS:
                if m in text:
                    i = text.index(m)
                    problems.append("sanitizer report in agent %s's stderr:\n%s"
                                    % (host, text[max(0, i - 200):i + 3000]))
                    break

        # 3. safety net: kill whatever still runs in our sandboxes
        kill_under(self.root, self.own_pids())
        self.remove_cgroups()
        if problems:
            raise AssertionError("\n\n".join(problems))

    def own_pids(self):
        """The agents' and the server's own processes (not tasks)."""
        out = {a.pid for a in self.agents.values() if a.alive()}
        if self.server.alive():
            out.add(self.server.pid)
        return out

    def task_cgroups(self):
        """The v1 task cgroups (directories under <controller>/<our cgroup>/pacer/)
        of this test's apps that exist now."""
        prefixes = tuple(a.strip("/").replace("/", "_") + "." for a in self.app_ids)
        out = []
        if not prefixes or not CGROUP_V1_ROOT.is_dir():
            return out
        for ctl_dir in sorted(CGROUP_V1_ROOT.iterdir()):
            own = own_cgroup_v1(ctl_dir.name)
            if own is None:
                continue
            parent = Path(str(ctl_dir) + own.rstrip("/")) / "pacer"
            try:
                names = os.listdir(parent)
            except OSError:
                continue
            out += [parent / n for n in sorted(names)
                    if n.startswith(prefixes) and (parent / n).is_dir()]
        return out

    def remove_cgroups(self):
        """rmdir the (empty) task cgroups of this test's apps."""
        for d in self.task_cgroups():
            try:
                os.rmdir(d)
            except OSError:
                pass


def describe(pids):
    out = []
    for p in pids:
        try:
            with open("/proc/%d/cmdline" % p, "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            cmd = "?"
        out.append("%d (%s, task %s)" % (p, cmd, proc_environ(p).get("MESOS_TASK_ID")))
    return ", ".join(out) or "none"


def kill_under(root, exclude=()):
    for _ in range(3):
        pids = pids_under(root, exclude)
        if not pids:
            return
        for p in pids:
            try:
                os.kill(p, signal.SIGKILL)
            except OSError:
                pass
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(proc_alive(p) for p in pids):
            time.sleep(0.05)


@pytest.fixture
def cluster(server, tmp_path):
    c = Cluster(server, tmp_path)
    try:
        yield c
    finally:
        c.teardown()


@pytest.fixture
def make_cluster(start_server, tmp_path):
    """make_cluster(server_args) -> a Cluster around a server started with
    extra flags (e.g. a short --agent-timeout); torn down like `cluster`."""
    made = []

    def make(args=()):
        srv = start_server(args=list(args))
        c = Cluster(srv, tmp_path / ("cluster-%d" % len(made)))
        c.root.mkdir(parents=True, exist_ok=True)
        made.append(c)
        return c

    try:
        yield make
    finally:
        errors = []
        for c in made:
            try:
                c.teardown()
            except AssertionError as e:
                errors.append(str(e))
        if errors:
            raise AssertionError("\n\n".join(errors))
