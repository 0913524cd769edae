# SPDX-License-Identifier: Apache-2.0
"""A stand-in for `pacer server`'s side of the agent protocol
(docs/agent-protocol.md), for tests of the real `pacer agent`.

    srv = FakeServer(epoch=5).start()
    ... start an agent with --server srv.url ...
    reg = srv.wait_registration()            # the body the agent POSTed
    srv.launch("web.1", cmd="sleep 600")     # into the agent's commands stream
    srv.wait_update("web.1", "TASK_RUNNING") # an update the server applied
    srv.stop(); srv.start()                  # unreachable for a while, same port

It records every registration, every POST of updates (including the ones it
answered with an error: see fail_updates), and the updates it applied in
order; it answers ackedSeq as the protocol says, 404 for agents it was told
to forget, and checks the shape of what the agent sends (problems end up in
`protocol_errors`). Plain stdlib: http.server's ThreadingHTTPServer."""

import json
import queue
import re
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

STATES = {"TASK_STAGING", "TASK_STARTING", "TASK_RUNNING", "TASK_FINISHED", "TASK_FAILED",
          "TASK_KILLING", "TASK_KILLED", "TASK_LOST"}
TIMESTAMP_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
COMMANDS_RE = re.compile(r"^/v1/agents/([^/]+)/commands$")
UPDATES_RE = re.compile(r"^/v1/agents/([^/]+)/updates$")


class AgentRecord:
    def __init__(self, agent_id):
        self.agent_id = agent_id
        self.acked = 0
        self.commands = queue.Queue()
        self.stream_gen = 0      # a newer stream closes the older one
        self.streams_opened = 0
        self.applied = []        # updates applied, in order
        self.last_heard = time.monotonic()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # quiet
        pass

    def _body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def _answer(self, status, obj):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        fake = self.server.fake
        raw = self._body()
        try:
            body = json.loads(raw)
        except ValueError:
            fake.error("POST %s: body is not JSON: %r" % (self.path, raw[:200]))
            return self._answer(400, {"message": "invalid JSON"})
        if self.path == "/v1/agents":
            status, ans = fake.on_register(body)
            return self._answer(status, ans)
        m = UPDATES_RE.match(self.path)
        if m:
            status, ans = fake.on_updates(m.group(1), body)
            return self._answer(status, ans)
        self._answer(404, {"message": "not found"})

    def do_GET(self):
        fake = self.server.fake
        m = COMMANDS_RE.match(self.path)
        if not m:
            return self._answer(404, {"message": "not found"})
        rec = fake.stream_open(m.group(1))
        if rec is None:
            return self._answer(404, {"message": "unknown agent"})
        gen = rec.stream_gen
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.close_connection = True
        next_ping = time.monotonic() + fake.ping_s
        try:
            self.wfile.flush()
            while not fake.stopping.is_set() and rec.stream_gen == gen:
                try:
                    cmd = rec.commands.get(timeout=0.1)
                except queue.Empty:
                    cmd = None
                    if time.monotonic() < next_ping:
                        continue
                    next_ping = time.monotonic() + fake.ping_s
                    cmd = {"type": "ping", "epoch": fake.epoch}
                line = (json.dumps(cmd) + "\n").encode()
                self.wfile.write(b"%x\r\n%s\r\n" % (len(line), line))
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
        except OSError:
            pass


class FakeServer:
    def __init__(self, epoch=5, heartbeat_ms=200, ping_s=1.0, port=0):
        self.epoch = epoch
        self.heartbeat_ms = heartbeat_ms
        self.ping_s = ping_s
        self.port = port
        self.lock = threading.Condition()
        self.agents = {}
        self.registrations = []   # bodies, in order
        self.update_posts = []    # (status, body) of every POST of updates
        self.protocol_errors = []
        self.fail_updates = 0     # answer the next N update POSTs with 500
        self.last_id = None
        self.stopping = threading.Event()
        self.httpd = None
        self.thread = None

    # -- life ------------------------------------------------------------
    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def start(self):
        self.stopping.clear()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.fake = self
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        """Stops listening and ends every commands stream; state is kept."""
        if not self.httpd:
            return
        self.stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)
        self.httpd = None
        time.sleep(0.3)  # streams notice the flag within 0.1 s and close

    # -- protocol ----------------------------------------------------------
    def error(self, text):
        with self.lock:
            self.protocol_errors.append(text)

    def on_register(self, body):
        problems = []
        for key in ("hostname", "resources", "attributes", "cgroups", "cgroupsProblem"):
            if not isinstance(body.get(key), str):
                problems.append("%s is not a string" % key)
        if not isinstance(body.get("tasks"), list):
            problems.append("tasks is not a list")
        else:
            for t in body["tasks"]:
                if not isinstance(t.get("taskId"), str) or t.get("state") not in STATES \
                        or not TIMESTAMP_RE.match(str(t.get("startedAt"))):
                    problems.append("bad task %r" % (t,))
        if "agentId" in body and not isinstance(body["agentId"], str):
            problems.append("agentId is not a string")
        with self.lock:
            self.registrations.append(body)
            if problems:
                self.protocol_errors.append("registration: " + "; ".join(problems))
            agent_id = body.get("agentId") or "agent-" + str(uuid.uuid4())
            rec = self.agents.get(agent_id)
            if rec is None:
                rec = self.agents[agent_id] = AgentRecord(agent_id)
            rec.last_heard = time.monotonic()
            self.last_id = agent_id
            self.lock.notify_all()
            return 200, {"agentId": agent_id, "epoch": self.epoch,
                         "heartbeatIntervalMs": self.heartbeat_ms, "ackedSeq": rec.acked}

    def stream_open(self, agent_id):
        with self.lock:
            rec = self.agents.get(agent_id)
            if rec is not None:
                rec.stream_gen += 1
                rec.streams_opened += 1
                self.lock.notify_all()
            return rec

    def on_updates(self, agent_id, body):
        with self.lock:
            rec = self.agents.get(agent_id)
            if self.fail_updates > 0:
                self.fail_updates -= 1
                self.update_posts.append((500, body))
                self.lock.notify_all()
                return 500, {"message": "injected failure"}
            if rec is None:
                self.update_posts.append((404, body))
                self.lock.notify_all()
                return 404, {"message": "unknown agent"}
            self.update_posts.append((200, body))
            rec.last_heard = time.monotonic()
            if not isinstance(body.get("epoch"), int) or not isinstance(body.get("updates"), list):
                self.protocol_errors.append("updates body lacks epoch or updates: %r" % body)
                return 400, {"message": "bad body"}
            last = None
            for u in body["updates"]:
                seq = u.get("seq")
                if not isinstance(seq, int) or u.get("state") not in STATES \
                        or not isinstance(u.get("taskId"), str) \
                        or not isinstance(u.get("message"), str) \
                        or not TIMESTAMP_RE.match(str(u.get("timestamp"))):
                    self.protocol_errors.append("bad update %r" % (u,))
                    continue
                if last is not None and seq <= last:
                    self.protocol_errors.append("seq not increasing in one batch: %r" % body)
                last = seq
                if seq > rec.acked:
                    rec.applied.append(u)
                    rec.acked = seq
            self.lock.notify_all()
            return 200, {"ackedSeq": rec.acked}

    # -- test controls -----------------------------------------------------
    def forget(self, agent_id):
        """As a server that lost its record: the agent's next POST gets 404
        (its open stream is left alone, so the 404 is what it notices)."""
        with self.lock:
            self.agents.pop(agent_id, None)

    def push(self, cmd, agent_id=None):
        with self.lock:
            rec = self.agents[agent_id or self.last_agent_id()]
        rec.commands.put(cmd)

    def launch(self, task_id, cmd=None, epoch=None, agent_id=None, **fields):
        task = {"taskId": task_id, "instanceId": "inst-" + task_id, "appId": "/test/app",
                "version": "2026-11-25T03:32:08.881Z", "cmd": cmd, "args": None,
                "user": None, "env": {}, "labels": {}, "cpus": 0.1, "mem": 32, "disk": 0,
                "gpus": 0, "ports": [], "portNames": [], "fetch": [],
                "killGracePeriodSeconds": 2}
        task.update(fields)
        self.push({"type": "launch", "epoch": self.epoch if epoch is None else epoch,
                   "task": task}, agent_id)

    def kill(self, task_id, grace=1, epoch=None, agent_id=None):
        self.push({"type": "kill", "epoch": self.epoch if epoch is None else epoch,
                   "taskId": task_id, "gracePeriodSeconds": grace}, agent_id)

    def last_agent_id(self):
        """The id the last registration was answered with, or None."""
        with self.lock:
            return self.last_id

    def wait_for(self, pred, timeout=15, what="condition"):
        """Waits until pred() (called under the lock) is true; returns its value."""
        deadline = time.monotonic() + timeout
        with self.lock:
            while True:
                v = pred()
                if v:
                    return v
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("timed out after %ss waiting for %s"
                                         % (timeout, what() if callable(what) else what))
                self.lock.wait(min(left, 0.1))

    def wait_registration(self, n=1, timeout=15):
        """Waits for the n-th registration (1-based) and returns its body."""
        return self.wait_for(lambda: len(self.registrations) >= n and self.registrations[n - 1],
                             timeout, "registration #%d" % n)

    def wait_stream(self, agent_id=None, n=1, timeout=15):
        def opened():
            rec = self.agents.get(agent_id or self.last_agent_id())
            return rec is not None and rec.streams_opened >= n
        return self.wait_for(opened, timeout, "commands stream #%d" % n)

    def applied(self, agent_id=None):
        with self.lock:
            ids = [agent_id] if agent_id else list(self.agents)
            out = []
            for i in ids:
                if i in self.agents:
                    out.extend(self.agents[i].applied)
            return out

    def updates_for(self, task_id):
        return [u for u in self.applied() if u["taskId"] == task_id]

    def wait_update(self, task_id, state, timeout=15):
        def found():
            for rec in self.agents.values():
                for u in rec.applied:
                    if u["taskId"] == task_id and u["state"] == state:
                        return u
            return None
        return self.wait_for(found, timeout, lambda: "%s of task %s (applied: %s)"
                             % (state, task_id, [u["state"] for u in self.updates_for(task_id)]))
