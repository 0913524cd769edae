# SPDX-License-Identifier: Apache-2.0
"""End-to-end tests of `pacer agent`: the real binary against a fake server
speaking the agent protocol (fake_server.py, docs/agent-protocol.md), with
real task processes.

The binary is PACER_AGENT_BIN (default <repo>/build/pacer); before src/cli
wires the command, build and point at the stand-in:
    ninja -C build src/agent/pacer-agent-test
    PACER_AGENT_BIN=build/src/agent/pacer-agent-test pytest-3 tests/e2e/test_agent.py
Without a binary that has the `agent` command every test here is skipped."""

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from fake_server import FakeServer

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
AGENT_BIN = (os.environ.get("PACER_AGENT_BIN") or os.environ.get("PACER_BIN")
             or str(REPO / "build" / "pacer"))
if not os.path.isabs(AGENT_BIN):
    AGENT_BIN = str(REPO / AGENT_BIN)

HOSTNAME = "node-test-1"
RESOURCES = "cpus:2;mem:2048;disk:1000"
STOP_TIMEOUT = 10
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "runtime error:", "ERROR: LeakSanitizer")


def _agent_command_available():
    if not (os.path.isfile(AGENT_BIN) and os.access(AGENT_BIN, os.X_OK)):
        return "no binary at %s" % AGENT_BIN
    try:
        r = subprocess.run([AGENT_BIN, "agent", "--help"], capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as e:
        return "cannot run %s: %s" % (AGENT_BIN, e)
    if r.returncode != 0 or b"pacer agent" not in r.stdout:
        return "%s has no `agent` command" % AGENT_BIN
    return None


_MISSING = _agent_command_available()
pytestmark = pytest.mark.skipif(
    _MISSING is not None,
    reason="%s (build src/agent/pacer-agent-test and set PACER_AGENT_BIN)" % _MISSING)


# -- processes ---------------------------------------------------------------

def proc_alive(pid):
    """True while pid runs (a zombie does not count)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def task_environ(pid):
    try:
        with open("/proc/%d/environ" % pid, "rb") as f:
            return f.read().split(b"\0")
    except OSError:
        return []


def wait_until(pred, timeout=15, what="condition"):
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %ss waiting for %s" % (timeout, what))
        time.sleep(0.05)


class Agent:
    def __init__(self, workdir, server_url, args=None, name="agent"):
        self.workdir = Path(workdir)
        self.server_url = server_url
        self.args = list(args) if args is not None else ["--resources", RESOURCES]
        self.name = name
        self.proc = None
        self.runs = 0
        self.stderr_paths = []

    def argv(self):
        return [AGENT_BIN, "agent", "--server", self.server_url, "--work-dir",
                str(self.workdir), "--hostname", HOSTNAME, "--log-level", "debug"] + self.args

    def start(self):
        self.runs += 1
        path = self.workdir.parent / ("%s.stderr.%d.log" % (self.name, self.runs))
        self.stderr_paths.append(path)
        with open(path, "wb") as err:
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
        if not self.alive():
            return self.proc.returncode if self.proc else None
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
        return json.loads((self.workdir / "agent.json").read_text())

    def stderr(self):
        return "".join(p.read_text(errors="replace") for p in self.stderr_paths if p.exists())


@pytest.fixture
def fake():
    srv = FakeServer(epoch=5).start()
    yield srv
    srv.stop()
    assert srv.protocol_errors == [], srv.protocol_errors


@pytest.fixture
def agents(tmp_path, fake):
    """Factory of agents against `fake`; at teardown every agent is stopped and
    every task process any of them started is killed."""
    started = []

    def make(args=None, server_url=None):
        a = Agent(tmp_path / ("work-%d" % len(started)), server_url or fake.url, args,
                  name="agent-%d" % len(started))
        started.append(a)
        return a.start()

    yield make
    problems = []
    for a in started:
        # a clean stop: SIGTERM, exit status 0 (and a leak check under ASan)
        if a.alive() and a.stop() != 0:
            problems.append("%s did not stop cleanly on SIGTERM (status %r)"
                            % (a.name, a.proc.returncode))
    pids = {u["pid"] for u in fake.applied() if u.get("pid")}
    for a in started:
        try:
            pids |= {t["pid"] for t in a.state()["tasks"] if t.get("pid")}
        except (OSError, ValueError):
            pass
    for pid in pids:
        # only processes that are still our tasks (pids get reused)
        if proc_alive(pid) and any(e.startswith(b"MESOS_TASK_ID=") for e in task_environ(pid)):
            try:
                os.killpg(pid, signal.SIGKILL)
            except OSError:
                pass
    for a in started:
        text = a.stderr()
        if any(m in text for m in SANITIZER_MARKERS):
            problems.append("sanitizer report in %s's stderr:\n%s" % (a.name, text[-4000:]))
    assert not problems, "\n".join(problems)


def launch_running(fake, task_id, cmd="sleep 600", **fields):
    fake.launch(task_id, cmd, **fields)
    u = fake.wait_update(task_id, "TASK_RUNNING")
    assert proc_alive(u["pid"])
    return u["pid"]


# -- tests -------------------------------------------------------------------

def test_registration_body(fake, agents):
    # a host name, resolved once at start-up; curl runs on the loop's thread
    port = fake.port
    agent = agents(["--resources", "cpus:2;mem:1024", "--attributes", "rack:r1;zone:a"],
                   server_url="http://localhost:%d" % port)
    reg = fake.wait_registration()
    assert "agentId" not in reg
    assert reg["hostname"] == HOSTNAME
    assert reg["attributes"] == "rack:r1;zone:a"
    # what --resources leaves out is detected from the machine
    assert reg["resources"].startswith("cpus:2;mem:1024;disk:")
    assert reg["resources"].endswith(";ports:[31000-32000]")
    assert reg["cgroups"] in ("v1", "v2", "none")
    assert reg["tasks"] == []
    fake.wait_stream()
    agent_id = fake.last_agent_id()
    wait_until(lambda: agent.state().get("agentId") == agent_id, what="agentId in agent.json")
    assert agent.state()["epoch"] == 5
    # heartbeats: empty update POSTs
    fake.wait_for(lambda: len(fake.update_posts) >= 2, what="heartbeats")
    assert all(b == {"epoch": 5, "updates": []} for _, b in fake.update_posts)
    assert len(os.listdir("/proc/%d/task" % agent.pid)) == 1, "the agent runs one thread"


def test_launch_reports_starting_then_running(fake, agents):
    agent = agents()
    fake.wait_stream()
    pid = launch_running(fake, "app.sleep1")
    ups = fake.updates_for("app.sleep1")
    assert [u["state"] for u in ups][:2] == ["TASK_STARTING", "TASK_RUNNING"]
    seqs = [u["seq"] for u in fake.applied()]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert ups[1]["pid"] == pid
    assert (agent.workdir / "tasks" / "app.sleep1").is_dir()
    # agent.json knows the task, for a restarted agent
    wait_until(lambda: [t["pid"] for t in agent.state()["tasks"]] == [pid],
               what="the task in agent.json")
    # a repeated launch is answered with the current state, not a second process
    n = len(ups)
    fake.launch("app.sleep1", "sleep 600")
    fake.wait_for(lambda: len(fake.updates_for("app.sleep1")) > n, what="the repeated answer")
    again = fake.updates_for("app.sleep1")[-1]
    assert again["state"] == "TASK_RUNNING" and again["pid"] == pid
    assert len(os.listdir("/proc/%d/task" % agent.pid)) == 1, "the agent runs one thread"


def test_task_environment(fake, agents):
    agent = agents()
    fake.wait_stream()
    fake.launch("web.env1", "env > $MESOS_SANDBOX/env.txt", appId="/prod/web",
                ports=[31005, 31006], portNames=["http", None], env={"A": "1"},
                labels={"owner": "ops"})
    done = fake.wait_update("web.env1", "TASK_FINISHED")
    assert done.get("exitCode") == 0
    lines = (agent.workdir / "tasks" / "web.env1" / "env.txt").read_text().splitlines()
    env = dict(line.split("=", 1) for line in lines if "=" in line)
    assert env["PORT0"] == "31005"
    assert env["PORT1"] == "31006"
    assert env["PORT"] == "31005"
    assert env["PORT_HTTP"] == "31005"
    assert env["MARATHON_APP_ID"] == "/prod/web"
    assert env["MARATHON_APP_VERSION"] == "2026-11-25T03:32:08.881Z"
    assert env["MESOS_TASK_ID"] == "web.env1"
    assert env["MESOS_SANDBOX"] == str(agent.workdir / "tasks" / "web.env1")
    assert env["HOST"] == HOSTNAME
    assert env["A"] == "1"
    assert env["MARATHON_APP_LABEL_OWNER"] == "ops"


def test_kill(fake, agents):
    agents()
    fake.wait_stream()
    pid = launch_running(fake, "app.kill1")
    fake.kill("app.kill1", grace=1)
    fake.wait_update("app.kill1", "TASK_KILLED")
    states = [u["state"] for u in fake.updates_for("app.kill1")]
    assert states.index("TASK_KILLING") < states.index("TASK_KILLED")
    wait_until(lambda: not proc_alive(pid), what="the task process to end")
    # a task the agent does not know is answered TASK_LOST
    fake.kill("app.nosuch")
    lost = fake.wait_update("app.nosuch", "TASK_LOST")
    assert lost["message"] == "unknown task"


def test_failing_command(fake, agents):
    agents()
    fake.wait_stream()
    fake.launch("app.fail1", "exit 3")
    failed = fake.wait_update("app.fail1", "TASK_FAILED")
    assert failed["exitCode"] == 3
    assert "3" in failed["message"]


def test_old_epoch_refused(fake, agents):
    agent = agents()
    fake.wait_stream()
    fake.launch("app.stale", "sleep 600", epoch=4)
    fake.launch("app.fresh", "true")
    fake.wait_update("app.fresh", "TASK_FINISHED")
    # a newer epoch raises the bar: epoch 5 is then refused too
    fake.push({"type": "ping", "epoch": 6})
    fake.launch("app.stale5", "sleep 600", epoch=5)
    fake.launch("app.fresh6", "true", epoch=6)
    fake.wait_update("app.fresh6", "TASK_FINISHED")
    assert fake.updates_for("app.stale") == []
    assert fake.updates_for("app.stale5") == []
    assert not (agent.workdir / "tasks" / "app.stale").exists()
    wait_until(lambda: agent.state()["epoch"] == 6, what="epoch 6 in agent.json")
    assert "refusing launch command of epoch 4" in agent.stderr()


def test_updates_resent_until_acked(fake, agents):
    agents()
    fake.wait_stream()
    with fake.lock:
        fake.fail_updates = 6
    launch_running(fake, "app.retry1")
    starting = fake.updates_for("app.retry1")[0]
    assert starting["state"] == "TASK_STARTING"
    with fake.lock:
        failed = [b for status, b in fake.update_posts if status == 500]
        sent_in = [b for _, b in fake.update_posts
                   if any(u["seq"] == starting["seq"] for u in b["updates"])]
    assert len(failed) == 6
    # the same update (same seq) went out again after the failures
    assert len(sent_in) >= 2
    assert all(u["state"] == "TASK_STARTING" for b in sent_in for u in b["updates"]
               if u["seq"] == starting["seq"])


def test_restart_reattaches(fake, agents):
    agent = agents()
    fake.wait_stream()
    agent_id = fake.last_agent_id()
    pid = launch_running(fake, "app.keep1")
    wait_until(lambda: [t["pid"] for t in agent.state()["tasks"]] == [pid],
               what="the task in agent.json")
    agent.kill9()
    assert proc_alive(pid)
    agent.start()
    reg = fake.wait_registration(2)
    assert reg["agentId"] == agent_id
    assert [(t["taskId"], t["state"], t["pid"]) for t in reg["tasks"]] == \
        [("app.keep1", "TASK_RUNNING", pid)]
    fake.wait_stream(n=2)
    time.sleep(0.5)
    assert proc_alive(pid)
    # not launched again
    assert [u["state"] for u in fake.updates_for("app.keep1")] == \
        ["TASK_STARTING", "TASK_RUNNING"]
    # and supervised again: a kill reaches the same process
    fake.kill("app.keep1", grace=1)
    fake.wait_update("app.keep1", "TASK_KILLED")
    wait_until(lambda: not proc_alive(pid), what="the task process to end")
    # once the terminal update is acked the task is forgotten
    wait_until(lambda: agent.state()["tasks"] == [], what="the task to leave agent.json")


def test_restart_reports_task_that_ended_meanwhile(fake, agents):
    agent = agents()
    fake.wait_stream()
    pid = launch_running(fake, "app.gone1")
    wait_until(lambda: [t["pid"] for t in agent.state()["tasks"]] == [pid],
               what="the task in agent.json")
    agent.kill9()
    os.killpg(pid, signal.SIGKILL)
    wait_until(lambda: not proc_alive(pid), what="the task process to end")
    agent.start()
    failed = fake.wait_update("app.gone1", "TASK_FAILED")
    assert "exit status unknown" in failed["message"]
    assert "exitCode" not in failed
    wait_until(lambda: agent.state()["tasks"] == [], what="the task to leave agent.json")


def test_server_unreachable_keeps_tasks(fake, agents):
    agent = agents()
    fake.wait_stream()
    agent_id = fake.last_agent_id()
    pid = launch_running(fake, "app.alone1")
    fake.stop()
    time.sleep(3)
    assert agent.alive()
    assert proc_alive(pid)
    n = len(fake.registrations)
    fake.start()
    reg = fake.wait_registration(n + 1)
    assert reg["agentId"] == agent_id
    assert [(t["taskId"], t["pid"]) for t in reg["tasks"]] == [("app.alone1", pid)]
    fake.wait_stream(n=2)
    assert proc_alive(pid)
    # the stream works again
    fake.kill("app.alone1", grace=1)
    fake.wait_update("app.alone1", "TASK_KILLED")


def test_reregisters_when_forgotten(fake, agents):
    agents()
    fake.wait_stream()
    agent_id = fake.last_agent_id()
    fake.forget(agent_id)
    reg = fake.wait_registration(2)
    assert reg["agentId"] == agent_id
    fake.wait_stream(n=1)
    assert any(status == 404 for status, _ in fake.update_posts)


@pytest.mark.parametrize("flag,value,bad", [
    ("--resources", "cpus:2;mems:10", "mems"),
    ("--resources", "cpus:x", "'x'"),
    ("--attributes", "rack", "rack"),
])
def test_malformed_flags_exit_2(tmp_path, flag, value, bad):
    r = subprocess.run([AGENT_BIN, "agent", "--server", "http://127.0.0.1:1", "--work-dir",
                        str(tmp_path / "w"), flag, value], capture_output=True, timeout=15)
    assert r.returncode == 2
    err = r.stderr.decode()
    assert bad in err and flag in err
    assert not (tmp_path / "w").exists()


def test_sigterm_leaves_tasks_running(fake, agents):
    agent = agents()
    fake.wait_stream()
    pid = launch_running(fake, "app.term1")
    assert agent.stop(signal.SIGTERM) == 0
    assert proc_alive(pid)
    assert [t["pid"] for t in agent.state()["tasks"]] == [pid]
