#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Event bus benchmark (issue #6): event lag with many SSE subscribers.

Against a running server on --port: creates --apps apps /bench/ev/app-<i>,
attaches --filtered subscribers (subscriber i: app_id=/bench/ev/app-<i>) and
--unfiltered ones, then runs loadgen (--loadgen) with one keep-alive
connection per app, each PUTting its own app as fast as the server answers,
for --duration seconds. Every PUT is committed (fsync) and then produces one
api_post_event.

Lag = arrival at the subscriber (wall clock) - the event's "timestamp"
(taken when the event is made, right after the commit; millisecond
precision, so p50 below 1 ms reads as 0 or 1). Prints one JSON line with
p50/p99/max lag over all deliveries, events/s, deliveries/s, server CPU per
delivery and the largest event (from /metrics/events).

Not part of the test suite: bench/run events runs it."""

import argparse
import http.client
import json
import os
import selectors
import socket
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone


def ts_ms(s):
    return datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=timezone.utc).timestamp() * 1000.0


def cpu_ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        parts = f.read().rsplit(")", 1)[1].split()
    return int(parts[11]) + int(parts[12])


class Sub:
    def __init__(self, port, query):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.sendall(("GET /v2/events%s HTTP/1.0\r\nAccept: text/event-stream\r\n\r\n"
                           % query).encode())
        self.sock.setblocking(False)
        self.buf = b""
        self.head = False
        self.attached = False
        self.n = 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--pid", type=int, default=0)
    ap.add_argument("--apps", type=int, default=1000)
    ap.add_argument("--filtered", type=int, default=1000)
    ap.add_argument("--unfiltered", type=int, default=10)
    ap.add_argument("--duration", type=float, default=10)
    ap.add_argument("--loadgen", required=True)
    a = ap.parse_args()

    conn = http.client.HTTPConnection("127.0.0.1", a.port)
    for i in range(a.apps):
        body = json.dumps({"id": "/bench/ev/app-%d" % i, "cmd": "sleep 3600", "cpus": 0.01,
                           "mem": 16, "instances": 0})
        conn.request("POST", "/v2/apps", body, {"Content-Type": "application/json"})
        r = conn.getresponse()
        r.read()
        if r.status not in (201, 409):
            sys.exit("cannot create app %d: %d" % (i, r.status))

    sel = selectors.DefaultSelector()
    subs = []
    for i in range(a.filtered):
        subs.append(Sub(a.port, "?app_id=/bench/ev/app-%d" % (i % a.apps)))
    for _ in range(a.unfiltered):
        subs.append(Sub(a.port, ""))
    for s in subs:
        sel.register(s.sock, selectors.EVENT_READ, s)

    lags = []
    largest = 0
    stop = [False]
    marker = b'"timestamp":"'

    def pump(until):
        while time.monotonic() < until and not stop[0]:
            for key, _ in sel.select(timeout=0.05):
                s = key.data
                try:
                    data = s.sock.recv(1 << 20)
                except BlockingIOError:
                    continue
                if not data:
                    sel.unregister(s.sock)
                    continue
                now = time.time() * 1000.0
                s.buf += data
                if not s.head:
                    if b"\r\n\r\n" not in s.buf:
                        continue
                    s.buf = s.buf.split(b"\r\n\r\n", 1)[1]
                    s.head = True
                while b"\n\n" in s.buf:
                    frame, s.buf = s.buf.split(b"\n\n", 1)
                    if frame.startswith(b":"):
                        continue
                    if b"event: api_post_event" in frame:
                        k = frame.rfind(marker)
                        ts = frame[k + len(marker):k + len(marker) + 24].decode()
                        lags.append(now - ts_ms(ts))
                        s.n += 1
                    elif b"event_stream_attached" in frame:
                        s.attached = True

    # everyone attached before the load starts
    deadline = time.monotonic() + 30
    while not all(s.attached for s in subs) and time.monotonic() < deadline:
        pump(time.monotonic() + 0.2)
    lags.clear()

    cpu0 = cpu_ticks(a.pid) if a.pid else 0
    t0 = time.monotonic()
    lg = subprocess.Popen([a.loadgen, "-p", str(a.port), "-c", str(a.apps), "-d",
                           str(a.duration), "-m", "PUT", "-u", "/v2/apps/bench/ev/app-{c}",
                           "-b", '{"cmd":"sleep {n}"}'], stdout=subprocess.PIPE, text=True)
    done = threading.Event()
    out = {}

    def wait_lg():
        out["lg"] = lg.communicate()[0]
        done.set()

    threading.Thread(target=wait_lg, daemon=True).start()
    while not done.is_set():
        pump(time.monotonic() + 0.2)
    pump(time.monotonic() + 1.0)  # the tail
    secs = time.monotonic() - t0
    cpu1 = cpu_ticks(a.pid) if a.pid else 0

    conn.request("GET", "/metrics/events")
    m = conn.getresponse().read().decode()
    for line in m.splitlines():
        if line.startswith("pacer_events_largest_bytes "):
            largest = int(line.split()[1])
    lgj = json.loads(out["lg"].strip().splitlines()[-1])
    lags.sort()
    n = len(lags)
    pct = lambda p: round(lags[min(n - 1, int(p * n))], 1) if n else None
    hz = os.sysconf("SC_CLK_TCK")
    print(json.dumps({
        "subscribers_filtered": a.filtered, "subscribers_unfiltered": a.unfiltered,
        "changes": lgj.get("requests"), "changes_per_s": lgj.get("req_per_s"),
        "deliveries": n, "deliveries_per_s": round(n / secs),
        "lag_ms_p50": pct(0.50), "lag_ms_p99": pct(0.99), "lag_ms_max": pct(1.0),
        "server_cpu_us_per_delivery": round((cpu1 - cpu0) / hz * 1e6 / n, 2) if n and a.pid else None,
        "largest_event_bytes": largest,
    }))


if __name__ == "__main__":
    main()
