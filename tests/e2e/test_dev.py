# SPDX-License-Identifier: Apache-2.0
"""`pacer dev`, the single-machine mode `make run` starts: the server and one
agent in one process. The examples in examples/ deploy and run as they are."""

import json
import os
import signal
import time
from pathlib import Path

import pytest
import requests

import pacer_helpers as H

ROOT = Path(__file__).resolve().parents[2]


class DevProcess(H.PacerServer):
    def argv(self):
        return [H.PACER_BIN, "dev", "--listen", "127.0.0.1:%d" % self.port,
                "--data-dir", str(self.workdir / "data"),
                "--resources", "cpus:2;mem:1024;disk:1000;ports:[%d-%d]" % (self.ports, self.ports + 50)]


def wait_for(pred, timeout=20.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.1)
    raise AssertionError("timed out waiting for " + what)


def task_pids(data_dir):
    """Pids of processes whose working directory is a task sandbox under data_dir."""
    pids = []
    for p in Path("/proc").iterdir():
        if not p.name.isdigit():
            continue
        try:
            cwd = os.readlink(p / "cwd")
        except OSError:
            continue
        if cwd.startswith(str(data_dir)):
            pids.append(int(p.name))
    return pids


@pytest.fixture
def dev(tmp_path):
    d = DevProcess(tmp_path / "dev")
    d.ports = 36000 + (os.getpid() % 40) * 100
    d.start()
    yield d
    # tasks outlive the process by design: stop them through the API first
    for app in d.apps():
        d.delete("/v2/apps" + app["id"])
    try:
        wait_for(lambda: not d.get("/v2/tasks").json()["tasks"], what="tasks to stop")
    finally:
        d.stop()
        for pid in task_pids(d.workdir):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass


def test_examples_deploy_and_run(dev):
    web = json.loads((ROOT / "examples" / "web.json").read_text())
    r = dev.post("/v2/apps", json=web)
    assert r.status_code == 201, r.text
    tasks = wait_for(lambda: len([t for t in dev.get("/v2/apps/examples/web/tasks").json()["tasks"]
                                  if t["state"] == "TASK_RUNNING"]) == 2 and
                     dev.get("/v2/apps/examples/web/tasks").json()["tasks"], what="two web tasks")
    for t in tasks:
        port = t["ports"][0]
        assert dev.ports <= port <= dev.ports + 50
        body = wait_for(lambda: _get_ok("http://127.0.0.1:%d/" % port), what="the task's HTTP server")
        assert "Directory listing" in body
    worker = json.loads((ROOT / "examples" / "worker.json").read_text())
    assert dev.post("/v2/apps", json=worker).status_code == 201
    t = wait_for(lambda: [t for t in dev.get("/v2/apps/examples/worker/tasks").json()["tasks"]
                          if t["state"] == "TASK_RUNNING"], what="the worker")[0]
    out = dev.workdir / "data" / "agent" / "tasks" / t["id"] / "stdout"
    wait_for(lambda: out.exists() and ("as %s" % t["id"]) in out.read_text(), what="the worker's stdout")
    app = dev.app("/examples/web")
    assert app["tasksRunning"] == 2
    H.assert_marathon_python_ok(app)


def _get_ok(url):
    try:
        r = requests.get(url, timeout=1)
        return r.text if r.status_code == 200 else None
    except requests.RequestException:
        return None


def test_dev_restart_keeps_tasks(dev):
    app = {"id": "/keep", "cmd": "sleep 1000", "instances": 2, "cpus": 0.1, "mem": 16,
           "portDefinitions": []}
    assert dev.post("/v2/apps", json=app).status_code == 201
    wait_for(lambda: dev.app("/keep")["tasksRunning"] == 2, what="two tasks")
    before = sorted(t["id"] for t in dev.get("/v2/tasks").json()["tasks"])
    pids = sorted(task_pids(dev.workdir))
    assert len(pids) >= 2   # each task's shell and its command
    dev.restart(kill9=True)
    wait_for(lambda: dev.app("/keep")["tasksRunning"] == 2, what="tasks after restart")
    assert sorted(t["id"] for t in dev.get("/v2/tasks").json()["tasks"]) == before
    assert sorted(task_pids(dev.workdir)) == pids, "tasks were relaunched instead of kept"


def test_dev_threads_fixed(dev):
    app = {"id": "/t", "cmd": "sleep 1000", "instances": 5, "cpus": 0.1, "mem": 16,
           "portDefinitions": []}
    assert dev.post("/v2/apps", json=app).status_code == 201
    wait_for(lambda: dev.app("/t")["tasksRunning"] == 5, what="five tasks")
    assert dev.thread_count() == 2


def test_dev_bad_resources_exit_2(tmp_path):
    import subprocess
    r = subprocess.run([H.PACER_BIN, "dev", "--data-dir", str(tmp_path / "d"),
                        "--resources", "cpus:x"], capture_output=True, text=True, timeout=20)
    assert r.returncode == 2
    assert "cpus:x" in r.stderr
