#!/usr/bin/env python3
"""Issue #3's benchmark (median of 3 rounds each): launch N `sleep` tasks on one real agent through the
whole path (API -> placement -> command stream -> agent -> launcher -> exec ->
TASK_RUNNING reported and applied), beside a plain C loop of posix_spawn of
the same N processes (bench/spawn_bench's baseline). Prints one JSON line.

    bench/agent_bench.py PACER_BIN SPAWN_BENCH WORKDIR [N]
"""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def http(method, url, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read() or b"null")


def proc_status(pid, field):
    for line in open("/proc/%d/status" % pid):
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def wait(pred, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.02)
    return False


def main():
    pacer, spawn_bench, work = sys.argv[1], sys.argv[2], sys.argv[3]
    n = int(sys.argv[4]) if len(sys.argv) > 4 else 1000
    os.makedirs(work, exist_ok=True)

    # the baseline: a plain loop of posix_spawn + reap of the same processes
    # (its own sandboxes on tmpfs: deleting thousands of inodes on the agent's ext4 work
    # dir right before the run would slow the agent's file creation, not the baseline's)
    shm = "/dev/shm" if os.path.isdir("/dev/shm") else work
    rounds = 3
    out = subprocess.run([spawn_bench, str(n), str(rounds), shm], capture_output=True, text=True,
                         timeout=600).stdout
    plains = sorted(float(x) for x in re.findall(r"plain posix_spawn ([0-9.]+) s", out))
    plain_s = plains[len(plains) // 2]

    port = free_port()
    server = subprocess.Popen([pacer, "server", "--listen", "127.0.0.1:%d" % port,
                               "--store", "lmdb:%s/store" % work, "--log-level", "warn"])
    base = "http://127.0.0.1:%d" % port
    wait(lambda: _ok(base + "/ping"), 10)
    agent = subprocess.Popen([pacer, "agent", "--server", base, "--work-dir", work + "/agent",
                              "--resources", "cpus:%d;mem:%d;disk:1000;ports:[31000-32000]"
                              % (n, n * 2), "--log-level", "warn"])
    wait(lambda: len(http("GET", base + "/v1/agents")["agents"]) == 1, 10)
    threads_idle = proc_status(agent.pid, "Threads")
    times = []
    for r in range(rounds):
        app_id = "/bench/sleep%d" % r
        app = {"id": app_id, "cmd": "exec sleep 600", "instances": n, "cpus": 1,
               "mem": 1, "portDefinitions": []}
        t0 = time.monotonic()
        http("POST", base + "/v2/apps", app)
        # the list form carries the counts without every task's JSON: polling stays cheap
        ok = wait(lambda: http("GET", base + "/v2/apps?id=" + app_id)["apps"][0]["tasksRunning"]
                  == n, 300)
        times.append(time.monotonic() - t0)
        if r == rounds - 1:
            rss_kb = proc_status(agent.pid, "VmRSS")
            threads = proc_status(agent.pid, "Threads")
            server_threads = proc_status(server.pid, "Threads")
        http("DELETE", base + "/v2/apps" + app_id)
        wait(lambda: not http("GET", base + "/v2/tasks")["tasks"], 120)
    times.sort()
    elapsed = times[len(times) // 2]
    for p in (agent, server):
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=30)
    print(json.dumps({
        "tasks": n, "all_running": ok, "seconds_to_all_running": round(elapsed, 3),
        "launches_per_s": round(n / elapsed, 1),
        "plain_spawn_seconds": plain_s, "plain_spawn_per_s": round(n / plain_s, 1),
        "ratio": round((n / elapsed) / (n / plain_s), 3),
        "ratios_all_rounds": [round(plain_s / t, 3) for t in times],
        "agent_rss_mib": round(rss_kb / 1024, 1), "agent_threads": threads,
        "agent_threads_idle": threads_idle, "server_threads": server_threads,
    }))


def _ok(url):
    try:
        urllib.request.urlopen(url, timeout=1)
        return True
    except OSError:
        return False


if __name__ == "__main__":
    main()
