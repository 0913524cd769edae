# SPDX-License-Identifier: Apache-2.0
"""`pacer sim` against a real server: the CI-sized version of the x10 scale
scenario (bench/scale.py x10): 1,000 apps x 10 instances on 100 simulated
agents over a few multiplexed connections. No timing assertions: it checks
that every task runs, the counts agree on both sides, and the server stays
at its fixed thread count."""

import json
import signal
import subprocess
import threading
import time

import pacer_helpers as H

AGENTS = 100
APPS = 1000
INSTANCES = 10


def start_sim(server, tmp_path, agents, *extra):
    stats = tmp_path / "sim.json"
    log = open(tmp_path / "sim.log", "wb")
    proc = subprocess.Popen(
        [H.PACER_BIN, "sim", "--server", server.base, "--agents", str(agents), "--connections", "4",
         "--start-delay-ms", "50", "--report-ms", "100", "--stats-file", str(stats),
         "--attributes", "rack:r{i%10};zone:z{i%3}", *extra],
        stdout=log, stderr=subprocess.STDOUT)
    return proc, stats


def sim_state(stats):
    try:
        return json.loads(stats.read_text())
    except (OSError, ValueError):
        return {}


def wait_for(pred, timeout, what, proc=None):
    t0 = time.time()
    while time.time() - t0 < timeout:
        v = pred()
        if v:
            return v
        assert proc is None or proc.poll() is None, "pacer sim exited"
        time.sleep(0.1)
    raise AssertionError("timed out waiting for " + what)


def stop_sim(proc):
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=H.STOP_TIMEOUT) == 0


def test_sim_help():
    out = subprocess.run([H.PACER_BIN, "sim", "--help"], capture_output=True, text=True)
    assert out.returncode == 0
    assert "--connections" in out.stdout
    bad = subprocess.run([H.PACER_BIN, "sim", "--server", "http://127.0.0.1:1", "--agents", "2",
                          "--attributes", "rack:{x}"], capture_output=True, text=True)
    assert bad.returncode == 2
    assert "invalid template" in bad.stderr


def test_sim_agents_register_with_templates(server, tmp_path):
    proc, stats = start_sim(server, tmp_path, 12)
    try:
        wait_for(lambda: sim_state(stats).get("registered") == 12, 30, "registration", proc)
        agents = server.get("/v1/agents").json()["agents"]
        by_host = {a["hostname"]: a for a in agents}
        assert len(by_host) == 12
        assert by_host["sim-11"]["attributes"] == "rack:r1;zone:z2"
        assert by_host["sim-11"]["id"] == "agent-sim-11"
        assert all(a["connected"] and a["state"] == "ACTIVE" for a in agents)
    finally:
        stop_sim(proc)


def test_sim_x10_small(server, tmp_path):
    """1,000 apps x 10 instances on 100 agents: all 10,000 tasks run."""
    proc, stats = start_sim(server, tmp_path, AGENTS)
    threads = []
    done = threading.Event()

    def sample():
        while not done.is_set():
            threads.append(server.thread_count())
            done.wait(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        wait_for(lambda: sim_state(stats).get("registered") == AGENTS, 30, "registration", proc)
        apps = [{"id": "/ci/x10/app-%d" % i, "cmd": "sleep 3600", "cpus": 0.01, "mem": 16,
                 "instances": INSTANCES} for i in range(APPS)]
        r = server.put("/v2/apps", json=apps)
        assert r.status_code == 200, r.text
        total = APPS * INSTANCES
        wait_for(lambda: sim_state(stats).get("running", 0) >= total, 120, "all tasks running", proc)

        def server_running():
            listed = server.get("/v2/apps").json()["apps"]
            ours = [a for a in listed if a["id"].startswith("/ci/x10/")]
            ok = (len(ours) == APPS and all(a["tasksRunning"] == INSTANCES for a in ours)
                  and sum(a["tasksStaged"] for a in ours) == 0)
            return ok and ours
        ours = wait_for(server_running, 30, "the server to see every task running")
        assert sum(a["tasksRunning"] for a in ours) == total
        st = sim_state(stats)
        assert st["tasks"] == total and st["running"] == total
        assert st["launches"] == total and st["kills"] == 0

        # every agent got its share (spread placement)
        agents = server.get("/v1/agents").json()["agents"]
        assert len(agents) == AGENTS
        assert sum(a["used"]["instances"] for a in agents) == total
        assert max(a["used"]["instances"] for a in agents) <= 2 * total // AGENTS

        # scaling down: the sim answers the kills
        r = server.put("/v2/apps", json=[{"id": "/ci/x10/app-%d" % i, "instances": 5}
                                         for i in range(100)])
        assert r.status_code == 200, r.text
        wait_for(lambda: sim_state(stats).get("killed", 0) >= 500, 60, "kills", proc)
        wait_for(lambda: sim_state(stats).get("tasks") == total - 500, 30, "killed tasks forgotten",
                 proc)
    finally:
        done.set()
        sampler.join()
        stop_sim(proc)
    assert threads and set(threads) == {2}, threads


def test_sim_survives_server_restart(server, tmp_path):
    """kill -9 of the server: the agents register again with their tasks; none is lost."""
    proc, stats = start_sim(server, tmp_path, 10)
    try:
        wait_for(lambda: sim_state(stats).get("registered") == 10, 30, "registration", proc)
        r = server.put("/v2/apps", json=[{"id": "/ci/rs/app-%d" % i, "cmd": "sleep 3600",
                                          "cpus": 0.01, "mem": 16, "instances": 5}
                                         for i in range(20)])
        assert r.status_code == 200, r.text
        wait_for(lambda: sim_state(stats).get("running", 0) >= 100, 60, "tasks running", proc)
        regs = sim_state(stats)["registrations"]
        server.restart(kill9=True)
        wait_for(lambda: sim_state(stats).get("registrations", 0) >= regs + 10
                 and sim_state(stats).get("registered") == 10, 60, "registration again", proc)

        def all_running():
            listed = server.get("/v2/apps").json()["apps"]
            return sum(a["tasksRunning"] for a in listed if a["id"].startswith("/ci/rs/")) == 100
        wait_for(all_running, 30, "tasks running after the restart")
        time.sleep(1.5)
        st = sim_state(stats)
        assert st["launches"] == 100, "a task was lost and replaced"
        assert st["tasks"] == 100
    finally:
        stop_sim(proc)
