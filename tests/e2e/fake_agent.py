# SPDX-License-Identifier: Apache-2.0
"""A fake agent for the end-to-end tests of the server's side of the cluster.

It speaks docs/agent-protocol.md over HTTP and runs nothing: it registers
(POST /v1/agents), reads its NDJSON command stream (GET
/v1/agents/{id}/commands) on a background thread into a list, and sends
status updates and heartbeats (POST /v1/agents/{id}/updates) numbered with
an increasing seq.

    a = FakeAgent(server.base, "h1", resources="cpus:4;mem:4096;ports:[31000-31099]")
    a.register()                 # -> the answer: agentId, epoch, ackedSeq
    a.open_stream()
    cmd = a.wait_command("launch", timeout=10)
    a.send_updates([{"taskId": ..., "state": "TASK_RUNNING"}])

With auto=True it answers every launch with TASK_STARTING then TASK_RUNNING
and every kill with TASK_KILLED (a kill of a task it does not run is answered
with nothing). With heartbeat_interval set it sends an empty update every so
often on a thread of its own, so the server keeps it reachable.

`tasks` holds what the agent believes it runs: {taskId: state}.
"""

import json
import socket
import threading
import time
from datetime import datetime, timezone

import requests

HTTP_TIMEOUT = 15


def now_iso():
    t = datetime.now(timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (t.microsecond // 1000)


class AgentError(Exception):
    pass


class FakeAgent:
    def __init__(self, base, hostname, resources="cpus:8;mem:8192;disk:10000;ports:[31000-31099]",
                 attributes="", auto=False, heartbeat_interval=None):
        self.base = base.rstrip("/")
        self.hostname = hostname
        self.resources = resources
        self.attributes = attributes
        self.auto = auto
        self.agent_id = None
        self.epoch = None
        self.acked_seq = 0
        self.seq = 0
        self.tasks = {}               # taskId -> state the agent reports
        self.commands = []            # every command received, in order (pings too)
        self._taken = set()           # indexes of commands handed out by wait_command
        self._cond = threading.Condition()
        self._send_lock = threading.Lock()
        self._session = requests.Session()
        self._stream_resp = None
        self._reader = None
        self._stream_gen = 0
        self.stream_open = False
        self.stream_errors = []
        self._hb_stop = threading.Event()
        self._hb_thread = None
        self.heartbeat_interval = heartbeat_interval
        self.update_answers = []      # (status, body) of every POST .../updates
        self.closed = False

    # ------------------------------------------------------------------ register
    def registration_body(self, tasks=None, **override):
        body = {"hostname": self.hostname, "resources": self.resources,
                "attributes": self.attributes, "cgroups": "v2", "cgroupsProblem": "",
                "tasks": list(tasks) if tasks is not None else self.task_list()}
        if self.agent_id:
            body["agentId"] = self.agent_id
        body.update(override)
        return body

    def task_list(self):
        return [{"taskId": tid, "state": st, "pid": 1000 + i, "startedAt": now_iso()}
                for i, (tid, st) in enumerate(sorted(self.tasks.items()))]

    def register(self, tasks=None, expect=200, **override):
        """POST /v1/agents. tasks: a list of task ids or of task objects (default:
        what self.tasks holds). Returns the answer's JSON (or the response when
        expect is None)."""
        if tasks is not None:
            tasks = [t if isinstance(t, dict) else
                     {"taskId": t, "state": "TASK_RUNNING", "pid": 4242, "startedAt": now_iso()}
                     for t in tasks]
        body = self.registration_body(tasks, **override)
        r = self._session.post(self.base + "/v1/agents", json=body, timeout=HTTP_TIMEOUT)
        if expect is None:
            return r
        if r.status_code != expect:
            raise AgentError("registration answered %d, expected %d: %s"
                             % (r.status_code, expect, r.text[:1000]))
        ans = r.json()
        if r.status_code == 200:
            self.agent_id = ans["agentId"]
            self.epoch = ans["epoch"]
            self.acked_seq = ans["ackedSeq"]
        return ans

    # ------------------------------------------------------------------ commands
    def open_stream(self):
        """Opens (or reopens) the command stream; returns once the server answered 200."""
        self.close_stream()
        r = requests.get(self.base + "/v1/agents/%s/commands" % self.agent_id, stream=True,
                         timeout=(HTTP_TIMEOUT, None))
        if r.status_code != 200:
            body = r.text
            r.close()
            raise AgentError("commands stream answered %d: %s" % (r.status_code, body[:500]))
        self._stream_gen += 1
        self._stream_resp = r
        self.stream_open = True
        self._reader = threading.Thread(target=self._read, args=(r, self._stream_gen),
                                        name="fake-agent-%s" % self.hostname, daemon=True)
        self._reader.start()
        return r

    def _read(self, r, gen):
        buf = b""
        try:
            for chunk in r.iter_content(chunk_size=None):
                if not chunk:
                    continue
                buf += chunk
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    line = line.strip()
                    if line:
                        self._on_command(json.loads(line.decode()))
        except Exception as e:  # noqa: BLE001 - a broken stream ends the reader
            if gen == self._stream_gen and not self.closed:
                self.stream_errors.append(repr(e))
        finally:
            if gen == self._stream_gen:
                self.stream_open = False
            with self._cond:
                self._cond.notify_all()

    def _on_command(self, cmd):
        with self._cond:
            self.commands.append(cmd)
            self._cond.notify_all()
        if not self.auto or self.closed:
            return
        try:
            if cmd.get("type") == "launch":
                tid = cmd["task"]["taskId"]
                if tid in self.tasks:
                    self.send_updates([{"taskId": tid, "state": self.tasks[tid]}])
                else:
                    self.send_updates([{"taskId": tid, "state": "TASK_STARTING"}])
                    self.send_updates([{"taskId": tid, "state": "TASK_RUNNING"}])
            elif cmd.get("type") == "kill":
                tid = cmd["taskId"]
                if tid in self.tasks:
                    self.send_updates([{"taskId": tid, "state": "TASK_KILLED",
                                        "message": "killed by the server"}])
        except Exception as e:  # noqa: BLE001 - recorded for the test to see
            self.stream_errors.append("auto answer: %r" % e)

    def close_stream(self):
        r = self._stream_resp
        self._stream_resp = None
        if r is None:
            return
        self._stream_gen += 1
        self.stream_open = False
        _shutdown(r)
        if self._reader is not None:
            self._reader.join(timeout=5)
            self._reader = None

    def wait_command(self, type_=None, timeout=10, pred=None, include_taken=False):
        """The first command not yet handed out whose type is type_ (any but ping
        when None) and for which pred(cmd) holds. Raises AgentError on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for i, c in enumerate(self.commands):
                    if i in self._taken and not include_taken:
                        continue
                    if type_ is None and c.get("type") == "ping":
                        continue
                    if type_ is not None and c.get("type") != type_:
                        continue
                    if pred is not None and not pred(c):
                        continue
                    self._taken.add(i)
                    return c
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AgentError("no %s command within %ss on %s; got: %s"
                                     % (type_ or "non-ping", timeout, self.hostname,
                                        [c for c in self.commands if c.get("type") != "ping"]))
                self._cond.wait(min(left, 0.5))

    def wait_commands(self, type_, n, timeout=10, pred=None):
        deadline = time.monotonic() + timeout
        out = []
        for _ in range(n):
            out.append(self.wait_command(type_, max(0.01, deadline - time.monotonic()), pred))
        return out

    def no_command(self, type_=None, within=2.0, pred=None):
        """Asserts that no (untaken) command of this type arrives within `within` s."""
        try:
            c = self.wait_command(type_, within, pred)
        except AgentError:
            return
        raise AssertionError("unexpected %s command on %s: %s" % (type_ or "non-ping",
                                                                  self.hostname, c))

    def received(self, type_):
        with self._cond:
            return [c for c in self.commands if c.get("type") == type_]

    def launches(self, app_id=None):
        return [c for c in self.received("launch")
                if app_id is None or c["task"]["appId"] == app_id]

    def kills(self):
        return [c for c in self.received("kill")]

    def mark_all_taken(self):
        with self._cond:
            self._taken.update(range(len(self.commands)))

    # ------------------------------------------------------------------ updates
    def send_updates(self, updates, expect=200, raw_seq=False):
        """POST .../updates. Each update gets the next seq (unless raw_seq, when
        the caller gives seq), a timestamp and an empty message by default.
        Keeps self.tasks in step. Returns the answer's JSON (or the response when
        expect is None)."""
        with self._send_lock:
            out = []
            for u in updates:
                u = dict(u)
                if not raw_seq:
                    self.seq += 1
                    u["seq"] = self.seq
                u.setdefault("timestamp", now_iso())
                u.setdefault("message", "")
                out.append(u)
            body = {"epoch": self.epoch, "updates": out}
            r = self._session.post(self.base + "/v1/agents/%s/updates" % self.agent_id,
                                   json=body, timeout=HTTP_TIMEOUT)
            self.update_answers.append((r.status_code, r.text))
            if r.status_code == 200:
                for u in out:
                    st = u.get("state")
                    if st in ("TASK_STAGING", "TASK_STARTING", "TASK_RUNNING", "TASK_KILLING"):
                        self.tasks[u["taskId"]] = st
                    else:
                        self.tasks.pop(u["taskId"], None)
                self.acked_seq = r.json().get("ackedSeq", self.acked_seq)
        if expect is None:
            return r
        if r.status_code != expect:
            raise AgentError("updates answered %d, expected %d: %s"
                             % (r.status_code, expect, r.text[:1000]))
        return r.json()

    def heartbeat(self, expect=200):
        return self.send_updates([], expect=expect)

    def start_heartbeats(self, interval=0.5):
        self.stop_heartbeats()
        self._hb_stop = threading.Event()
        stop = self._hb_stop

        def run():
            while not stop.wait(interval):
                try:
                    self.heartbeat(expect=None)
                except Exception:  # noqa: BLE001 - the server may be restarting
                    pass

        self._hb_thread = threading.Thread(target=run, daemon=True,
                                           name="fake-agent-hb-%s" % self.hostname)
        self._hb_thread.start()

    def stop_heartbeats(self):
        self._hb_stop.set()
        if self._hb_thread is not None:
            self._hb_thread.join(timeout=HTTP_TIMEOUT + 1)
            self._hb_thread = None

    # ------------------------------------------------------------------ all at once
    def start(self, tasks=None):
        """register + open_stream (+ heartbeats when heartbeat_interval is set)."""
        ans = self.register(tasks=tasks)
        self.open_stream()
        if self.heartbeat_interval:
            self.start_heartbeats(self.heartbeat_interval)
        return ans

    def close(self):
        self.closed = True
        self.stop_heartbeats()
        self.close_stream()
        self._session.close()


def _shutdown(r):
    """Ends a streaming response from another thread: shuts its socket down so
    the blocked reader returns."""
    try:
        conn = getattr(r.raw, "_connection", None)
        sock = getattr(conn, "sock", None)
        if sock is None:
            fp = getattr(r.raw, "_fp", None)
            sock = getattr(getattr(getattr(fp, "fp", None), "raw", None), "_sock", None)
        if sock is not None:
            sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    try:
        r.close()
    except Exception:  # noqa: BLE001
        pass
