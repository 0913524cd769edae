# SPDX-License-Identifier: Apache-2.0
"""The event bus end to end: GET /v2/events (Server-Sent Events) with
Marathon's event shapes, filters, Last-Event-ID resume and resync, overflow
of a subscriber that does not read, and HTTP callbacks
(/v2/eventSubscriptions) with retries. Task state changes come from a fake
agent (fake_agent.py).

The SSE client here speaks HTTP/1.0 on a raw socket (the body then ends with
the connection, no chunking), so a test controls exactly when and whether
it reads."""

import http.server
import json
import socket
import threading
import time
import urllib.parse

import pytest

import pacer_helpers as H
from fake_agent import FakeAgent

WAIT = 15

STATUS_UPDATE_KEYS = {"slaveId", "taskId", "taskStatus", "message", "appId", "host",
                      "ipAddresses", "ports", "version", "eventType", "timestamp"}
INSTANCE_CHANGED_KEYS = {"instanceId", "condition", "runSpecId", "agentId", "host",
                         "runSpecVersion", "eventType", "timestamp"}


def wait_until(fn, timeout=WAIT, interval=0.05, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        last = fn()
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %ss waiting for %s (last: %r)"
                                 % (timeout, what, last))
        time.sleep(interval)


class SSE:
    """One /v2/events stream. events: [{"id", "event", "data", "t"}] in arrival
    order ("id" is None for events without an id: line); comments counts
    comment lines. With read=False nothing is read until drain()."""

    def __init__(self, srv, params=(), last_id=None, rcvbuf=None, read=True, accept=True):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.connect(("127.0.0.1", srv.port))
        q = urllib.parse.urlencode(list(params))
        req = "GET /v2/events%s HTTP/1.0\r\nHost: 127.0.0.1\r\n" % ("?" + q if q else "")
        if accept:
            req += "Accept: text/event-stream\r\n"
        if last_id is not None:
            req += "Last-Event-ID: %s\r\n" % last_id
        self.sock.sendall((req + "\r\n").encode())
        self.status = None
        self.headers = {}
        self.body = b""
        self.events = []
        self.comments = 0
        self.closed = False
        self._buf = b""
        self._head_done = False
        self._cond = threading.Condition()
        self._thread = None
        if read:
            self._thread = threading.Thread(target=self._run, daemon=True)
            self._thread.start()

    def _feed(self, data):
        with self._cond:
            self._buf += data
            if not self._head_done:
                if b"\r\n\r\n" not in self._buf:
                    return
                head, self._buf = self._buf.split(b"\r\n\r\n", 1)
                lines = head.decode().split("\r\n")
                self.status = int(lines[0].split()[1])
                for line in lines[1:]:
                    k, v = line.split(":", 1)
                    self.headers[k.strip().lower()] = v.strip()
                self._head_done = True
            if self.status != 200:
                self.body += self._buf
                self._buf = b""
                self._cond.notify_all()
                return
            while b"\n\n" in self._buf:
                block, self._buf = self._buf.split(b"\n\n", 1)
                ev = {"id": None, "event": None, "data": None, "t": time.monotonic()}
                is_event = False
                for line in block.decode().split("\n"):
                    if line.startswith(":"):
                        self.comments += 1
                    elif line.startswith("id: "):
                        ev["id"] = int(line[4:])
                    elif line.startswith("event: "):
                        ev["event"] = line[7:]
                        is_event = True
                    elif line.startswith("data: "):
                        ev["data"] = json.loads(line[6:])
                if is_event:
                    self.events.append(ev)
            self._cond.notify_all()

    def _run(self):
        try:
            while True:
                data = self.sock.recv(65536)
                if not data:
                    break
                self._feed(data)
        except OSError:
            pass
        with self._cond:
            self.closed = True
            self._cond.notify_all()

    def drain(self, timeout=WAIT):
        """Reads (without a thread) until the server closes the stream."""
        self.sock.settimeout(timeout)
        while True:
            data = self.sock.recv(1 << 20)
            if not data:
                break
            self._feed(data)
        self.closed = True

    def wait(self, pred, timeout=WAIT, what="an event"):
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for ev in self.events:
                    if pred(ev):
                        return ev
                left = deadline - time.monotonic()
                if left <= 0 or (self.closed and not any(pred(e) for e in self.events)):
                    raise AssertionError("no %s within %ss; got %s"
                                         % (what, timeout, [e["event"] for e in self.events]))
                self._cond.wait(min(left, 0.2))

    def wait_type(self, etype, timeout=WAIT, pred=None):
        return self.wait(lambda e: e["event"] == etype and (pred is None or pred(e["data"])),
                         timeout, what=etype)

    def wait_head(self, timeout=WAIT):
        deadline = time.monotonic() + timeout
        with self._cond:
            while self.status is None or (self.status != 200 and not self.closed):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("no answer head within %ss" % timeout)
                self._cond.wait(min(left, 0.2))
        return self.status

    def of_type(self, etype):
        with self._cond:
            return [e for e in self.events if e["event"] == etype]

    def ids(self):
        with self._cond:
            return [e["id"] for e in self.events if e["id"] is not None]

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        if self._thread:
            self._thread.join(timeout=5)


@pytest.fixture
def streams():
    made = []

    def make(*a, **kw):
        s = SSE(*a, **kw)
        made.append(s)
        return s

    yield make
    for s in made:
        s.close()


@pytest.fixture
def agents():
    made = []

    def make(srv, hostname, **kw):
        a = FakeAgent(srv.base, hostname, **kw)
        made.append(a)
        return a

    yield make
    for a in made:
        a.close()


def create_app(srv, app_id, instances=0, **extra):
    body = {"id": app_id, "cmd": "sleep 3600", "cpus": 0.01, "mem": 16,
            "instances": instances}
    body.update(extra)
    r = srv.post("/v2/apps", json=body)
    assert r.status_code == 201, r.text
    return r.json()


def scale(srv, app_id, instances, **extra):
    body = {"instances": instances}
    body.update(extra)
    r = srv.put("/v2/apps" + app_id, json=body)
    assert r.status_code in (200, 201), r.text
    return r.json()


# ---------------------------------------------------------------------------
# the stream and Marathon's shapes


def test_attached_first_then_app_events(server, streams):
    s = streams(server)
    first = s.wait(lambda e: True, what="a first event")
    assert s.status == 200
    assert s.headers["content-type"].startswith("text/event-stream")
    assert first["event"] == "event_stream_attached"
    assert set(first["data"]) == {"remoteAddress", "eventType", "timestamp"}
    assert H.VERSION_RE.match(first["data"]["timestamp"])
    assert first["id"] > 0

    app_id = "/" + H.uid()
    create_app(server, app_id, labels={"k": "v"})
    post = s.wait_type("api_post_event")
    d = post["data"]
    assert set(d) == {"clientIp", "uri", "appDefinition", "eventType", "timestamp"}
    assert d["uri"] == "/v2/apps"
    assert d["appDefinition"]["id"] == app_id
    assert d["appDefinition"]["labels"] == {"k": "v"}
    assert d["appDefinition"]["version"] == server.app(app_id)["version"]

    scale(server, app_id, 0, cmd="sleep 7200")
    upd = s.wait_type("api_post_event", pred=lambda d: d["uri"] == "/v2/apps" + app_id)
    assert upd["data"]["appDefinition"]["cmd"] == "sleep 7200"

    assert server.delete("/v2/apps" + app_id).status_code == 200
    term = s.wait_type("app_terminated_event")
    assert set(term["data"]) == {"appId", "eventType", "timestamp"}
    assert term["data"]["appId"] == app_id
    # ids increase by one, events in order
    ids = s.ids()
    assert ids == list(range(ids[0], ids[0] + len(ids))), ids


def test_status_update_event_exact_fields(server, streams, agents):
    s = streams(server)
    s.wait_type("event_stream_attached")
    a = agents(server, "host-ev1.example.com")
    a.start()
    app_id = "/" + H.uid()
    create_app(server, app_id, instances=1, portDefinitions=[{"port": 0}])
    launch = a.wait_command("launch", timeout=WAIT)
    tid = launch["task"]["taskId"]
    a.send_updates([{"taskId": tid, "state": "TASK_RUNNING", "message": "up"}])

    running = s.wait_type("status_update_event", pred=lambda d: d["taskStatus"] == "TASK_RUNNING")
    d = running["data"]
    assert set(d) == STATUS_UPDATE_KEYS, d
    task = [t for t in server.app(app_id)["tasks"] if t["id"] == tid][0]
    assert d["taskId"] == tid
    assert d["appId"] == app_id
    assert d["slaveId"] == a.agent_id == task["slaveId"]
    assert d["host"] == "host-ev1.example.com" == task["host"]
    assert d["ports"] == task["ports"] and len(d["ports"]) == 1
    assert d["version"] == task["version"]
    assert d["message"] == "up"
    assert d["ipAddresses"] == []
    assert d["eventType"] == "status_update_event"
    assert H.VERSION_RE.match(d["timestamp"])
    # the launch itself was TASK_STAGING, before
    staging = s.wait_type("status_update_event", pred=lambda d: d["taskStatus"] == "TASK_STAGING")
    assert staging["id"] < running["id"]

    inst = s.wait_type("instance_changed_event", pred=lambda d: d["condition"] == "Running")
    d = inst["data"]
    assert set(d) == INSTANCE_CHANGED_KEYS, d
    uuid = tid.rsplit(".", 1)[1]
    assert d["instanceId"] == tid.rsplit(".", 1)[0] + ".marathon-" + uuid
    assert d["runSpecId"] == app_id and d["agentId"] == a.agent_id
    assert d["runSpecVersion"] == task["version"]
    assert inst["id"] == running["id"] + 1

    # a kill: TASK_KILLED reaches the stream with the agent's message
    assert server.delete("/v2/apps" + app_id).status_code == 200
    kill = a.wait_command("kill", timeout=WAIT)
    a.send_updates([{"taskId": kill["taskId"], "state": "TASK_KILLED", "message": "bye"}])
    killed = s.wait_type("status_update_event", pred=lambda d: d["taskStatus"] == "TASK_KILLED")
    assert killed["data"]["message"] == "bye"
    s.wait_type("instance_changed_event", pred=lambda d: d["condition"] == "Killed")


def test_filters(server, streams):
    only_types = streams(server, [("event_type", "app_terminated_event"),
                                  ("event_type", "event_stream_attached")])
    prod = streams(server, [("app_id", "/prod")])
    prod_posts = streams(server, [("app_id", "/prod/"), ("app_id", "/other"),
                                  ("event_type", "api_post_event")])
    for s in (only_types, prod, prod_posts):
        s.wait_type("event_stream_attached")  # its own, whatever the filter

    tag = H.uid("f")
    ids = ["/prod/%s/web" % tag, "/production/%s" % tag, "/other/%s" % tag, "/dev/%s" % tag]
    for i in ids:
        create_app(server, i)
    for i in ids:
        assert server.delete("/v2/apps" + i).status_code == 200
    # a marker every stream sees last
    marker = streams(server)
    marker.wait_type("event_stream_attached")
    for s in (only_types, prod):
        s.wait(lambda e: e["event"] == "event_stream_attached" and e["id"] >= marker.ids()[0])
    wait_until(lambda: len(prod_posts.of_type("api_post_event")) >= 2)

    def apps_of(s, etype):
        return [e["data"].get("appId") or e["data"]["appDefinition"]["id"]
                for e in s.of_type(etype)]

    assert only_types.of_type("api_post_event") == []
    assert apps_of(only_types, "app_terminated_event") == ids
    assert apps_of(prod, "api_post_event") == [ids[0]]
    assert apps_of(prod, "app_terminated_event") == [ids[0]]
    assert apps_of(prod_posts, "api_post_event") == [ids[0], ids[2]]
    assert prod_posts.of_type("app_terminated_event") == []
    assert {e["event"] for e in prod_posts.events} == {"api_post_event",
                                                       "event_stream_attached"}


@pytest.mark.parametrize("params,headers,needle", [
    ([("event_type", "no_such_event")], {}, "unknown event_type 'no_such_event'"),
    ([("app_id", "prod")], {}, "invalid app_id 'prod'"),
    ([("app_id", "/a//b")], {}, "invalid app_id"),
    ([], {"Last-Event-ID": "abc"}, "invalid Last-Event-ID 'abc'"),
    ([], {"Last-Event-ID": "-5"}, "invalid Last-Event-ID"),
])
def test_bad_requests(server, params, headers, needle):
    h = {"Accept": "text/event-stream"}
    h.update(headers)
    r = server.get("/v2/events", params=params, headers=h)
    assert r.status_code == 400, r.text
    assert needle in r.json()["message"]


def test_wrong_accept_is_406(server):
    r = server.get("/v2/events", headers={"Accept": "application/json"})
    assert r.status_code == 406
    assert "text/event-stream" in r.json()["message"]


def test_idle_stream_gets_comments(start_server, streams):
    srv = start_server(args=["--event-keepalive", "1"])
    s = streams(srv)
    s.wait_type("event_stream_attached")
    wait_until(lambda: s.comments >= 2, timeout=5, what="two keepalive comments")


# ---------------------------------------------------------------------------
# resume


def test_resume_100_reconnects_without_gap(server, streams):
    """A steady stream of changes while a client reconnects 100 times with
    Last-Event-ID: with no filter every id arrives exactly once, in order."""
    stop = threading.Event()
    app_id = "/" + H.uid("steady")
    create_app(server, app_id)
    changes = []

    def writer():
        import requests
        sess = requests.Session()
        n = 0
        while not stop.is_set():
            n += 1
            r = sess.put(server.url("/v2/apps" + app_id), json={"cmd": "sleep %d" % n},
                         timeout=15)
            assert r.status_code == 200
            changes.append(n)
            time.sleep(0.005)

    t = threading.Thread(target=writer, daemon=True)
    t.start()
    try:
        seen = []
        last = None
        for i in range(100):
            s = streams(server, last_id=last)
            # read a few events (replayed or live), then go away mid-stream
            want = len(seen) + 1 + (i % 4)
            s.wait(lambda e: len(seen) + len(s.ids()) >= want, what="%d events" % want)
            s.close()
            got = s.ids()
            assert all(e["event"] != "event_stream_resync" for e in s.events)
            seen.extend(got)
            last = got[-1]
        stop.set()
        t.join(timeout=15)
    finally:
        stop.set()
    assert len(changes) > 20, "the writer made only %d changes" % len(changes)
    assert seen == list(range(seen[0], seen[0] + len(seen))), \
        "gap or reordering: %s" % [(a, b) for a, b in zip(seen, seen[1:]) if b != a + 1][:5]
    # the changes written meanwhile all came through: one api_post_event each
    final = streams(server, last_id=seen[0] - 1)
    final.wait(lambda e: e["id"] is not None and e["id"] >= seen[-1])
    posts = [e for e in final.of_type("api_post_event") if e["id"] <= seen[-1]]
    assert len(posts) >= 1
    assert sorted(set(seen)) == seen


def test_resync_when_id_left_the_ring(start_server, streams):
    srv = start_server(args=["--event-ring-size", "5"])
    s = streams(srv)
    old = s.wait_type("event_stream_attached")["id"]
    s.close()
    for i in range(8):
        create_app(srv, "/" + H.uid("ring"))
    again = streams(srv, last_id=old)
    first = again.wait(lambda e: True, what="a first event")
    assert first["event"] == "event_stream_resync", again.events
    assert first["id"] is None
    d = first["data"]
    assert d["lastEventId"] == str(old)
    assert d["reason"] == "gone"
    assert int(d["oldestEventId"]) > old + 1
    assert again.wait_type("event_stream_attached")["id"] > old
    # a position the ring still holds resumes without resync
    mid = again.ids()[-1]
    create_app(srv, "/" + H.uid("ring"))
    again.wait_type("api_post_event")
    ok = streams(srv, last_id=mid)
    ok.wait_type("event_stream_attached", pred=lambda d: True)
    assert ok.of_type("event_stream_resync") == []
    assert ok.ids()[0] == mid + 1


def test_ids_after_restart(start_server, streams):
    srv = start_server()
    s = streams(srv)
    before = s.wait_type("event_stream_attached")["id"]
    s.close()
    srv.restart(kill9=False)
    after_stream = streams(srv, last_id=before)
    first = after_stream.wait(lambda e: True, what="a first event")
    assert first["event"] == "event_stream_resync"
    assert first["data"]["reason"] == "restarted"
    after = after_stream.wait_type("event_stream_attached")["id"]
    assert after > before
    # an id never issued (from the future) is refused the same way, not trusted
    fut = streams(srv, last_id=after + 1000)
    assert fut.wait(lambda e: True)["event"] == "event_stream_resync"


# ---------------------------------------------------------------------------
# overflow


def test_overflow_of_a_reader_that_never_reads(start_server, streams):
    buffer = 65536
    srv = start_server(args=["--event-subscriber-buffer", str(buffer)])
    good = streams(srv)
    good.wait_type("event_stream_attached")
    slow = streams(srv, rcvbuf=4096, read=False)
    good.wait_type("event_stream_attached", pred=lambda d: True)
    wait_until(lambda: len(good.of_type("event_stream_attached")) >= 2)

    app_id = "/" + H.uid("big")
    create_app(srv, app_id)
    big = {"L%03d" % i: "x" * 20 for i in range(80)}  # ~3.5 KB per api_post_event
    sent = []
    overflowed = False
    for n in range(3000):
        t0 = time.monotonic()
        r = srv.put("/v2/apps" + app_id, json={"labels": dict(big, n=str(n))})
        assert r.status_code == 200, r.text
        sent.append((n, t0))
        if n % 50 == 49:
            m = srv.get("/metrics/events").text
            if "pacer_event_stream_overflows_total 1" in m:
                overflowed = True
                break
    assert overflowed, "the slow subscriber was never cut off"
    assert len(sent) > buffer // 4096

    # the reader that keeps up got every change, in order and on time
    last_n = str(sent[-1][0])
    good.wait_type("api_post_event",
                   pred=lambda d: d["appDefinition"]["labels"].get("n") == last_n)
    posts = [e for e in good.of_type("api_post_event")
             if e["data"]["appDefinition"]["id"] == app_id and "n" in
             e["data"]["appDefinition"]["labels"]]
    assert [int(e["data"]["appDefinition"]["labels"]["n"]) for e in posts] == \
        [n for n, _ in sent]
    lags = [e["t"] - t0 for e, (_, t0) in zip(posts, sent)]
    assert max(lags) < 2.0, "events reached the reader late: %.3f s" % max(lags)
    assert good.of_type("event_stream_overflow") == []
    assert all(e["data"]["appDefinition"].get("version") for e in posts)

    # the slow one, once it reads, finds the explicit overflow event at the end
    slow.drain()
    assert slow.events, "nothing at all reached the slow reader"
    assert slow.events[-1]["event"] == "event_stream_overflow", slow.events[-3:]
    d = slow.events[-1]["data"]
    assert d["limitBytes"] == buffer and d["pendingBytes"] > buffer
    # and the others were told it left
    good.wait_type("event_stream_detached")


def test_largest_event_of_the_1000_app_group_stays_small(server, streams):
    """api_post_event of the largest app of the 1000-app group is under 4 KB
    (trimmed to id and version when its definition alone would pass it)."""
    path = H.REPO.parent / "shared" / "marathon" / "real-groups" / "155_1000.json"
    if not path.exists():
        pytest.skip("%s not found" % path)
    group = json.loads(path.read_text())
    apps = []

    def walk(g):
        apps.extend(g.get("apps", []))
        for sub in g.get("groups", []):
            walk(sub)
    walk(group)
    largest = max(apps, key=lambda a: len(json.dumps(a)))
    s = streams(server)
    s.wait_type("event_stream_attached")
    body = dict(largest)
    body["instances"] = 0
    r = server.post("/v2/apps", json=body)
    assert r.status_code == 201, r.text
    ev = s.wait_type("api_post_event")
    size = len("id: %d\nevent: api_post_event\ndata: " % ev["id"]) + \
        len(json.dumps(ev["data"], separators=(",", ":"))) + 2
    assert size < 4096, size
    if ev["data"].get("appDefinitionTrimmed"):
        assert set(ev["data"]["appDefinition"]) == {"id", "version"}
    assert ev["data"]["appDefinition"]["id"] == server.app(body["id"] if body["id"].startswith("/")
                                                          else "/" + body["id"])["id"]
    m = server.get("/metrics/events").text
    largest_seen = [int(l.split()[1]) for l in m.splitlines()
                    if l.startswith("pacer_events_largest_bytes ")][0]
    assert largest_seen < 4096


# ---------------------------------------------------------------------------
# HTTP callbacks


class Receiver:
    """An HTTP server that records POSTed events; it answers 500 while
    failing() is true."""

    def __init__(self):
        self.lock = threading.Lock()
        self.ok = []          # events answered 200, in arrival order
        self.failed = 0
        self.fail_until = 0.0
        rec = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(n))
                with rec.lock:
                    bad = time.monotonic() < rec.fail_until
                    if bad:
                        rec.failed += 1
                    else:
                        rec.ok.append(body)
                self.send_response(500 if bad else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d/callback" % self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def events(self, etype=None):
        with self.lock:
            return [e for e in self.ok if etype is None or e["eventType"] == etype]

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def test_callbacks_with_retries(start_server, receiver):
    srv = start_server()
    r = srv.post("/v2/eventSubscriptions", params={"callbackUrl": receiver.url,
                                                   "event_type": "api_post_event"})
    assert r.status_code == 200, r.text
    d = r.json()
    assert d["eventType"] == "subscribe_event" and d["callbackUrl"] == receiver.url
    assert set(d) == {"clientIp", "callbackUrl", "eventType", "timestamp"}
    assert srv.get("/v2/eventSubscriptions").json() == {"callbackUrls": [receiver.url]}

    ids = ["/" + H.uid("cb") for _ in range(3)]
    create_app(srv, ids[0])
    wait_until(lambda: len(receiver.events()) >= 1, what="the first callback")
    # the receiver fails for a while: deliveries are retried, in order
    receiver.fail_until = time.monotonic() + 2.0
    create_app(srv, ids[1])
    create_app(srv, ids[2])
    wait_until(lambda: len(receiver.events()) >= 3, timeout=20, what="three callbacks")
    got = [e["appDefinition"]["id"] for e in receiver.events()]
    assert got == ids, got
    assert receiver.failed >= 2
    assert {e["eventType"] for e in receiver.events()} == {"api_post_event"}
    m = srv.get("/metrics/events").text
    assert "pacer_event_callback_delivered_total 3" in m
    failed = [int(l.split()[1]) for l in m.splitlines()
              if l.startswith("pacer_event_callback_failed_total ")][0]
    assert failed >= 2

    # durable: still there after a restart, and still delivering
    srv.restart(kill9=True)
    assert srv.get("/v2/eventSubscriptions").json() == {"callbackUrls": [receiver.url]}
    create_app(srv, "/" + H.uid("cb"))
    wait_until(lambda: len(receiver.events()) >= 4, what="a callback after restart")

    r = srv.delete("/v2/eventSubscriptions", params={"callbackUrl": receiver.url})
    assert r.status_code == 200
    assert r.json()["eventType"] == "unsubscribe_event"
    assert srv.get("/v2/eventSubscriptions").json() == {"callbackUrls": []}
    create_app(srv, "/" + H.uid("cb"))
    time.sleep(0.5)
    assert len(receiver.events()) == 4


def test_callbacks_without_filter_get_subscribe_event(server, receiver):
    r = server.post("/v2/eventSubscriptions", params={"callbackUrl": receiver.url})
    assert r.status_code == 200
    wait_until(lambda: receiver.events("subscribe_event"), what="the subscribe_event")
    create_app(server, "/" + H.uid("cb"))
    wait_until(lambda: receiver.events("api_post_event"), what="an api_post_event")


@pytest.mark.parametrize("params,needle", [
    ({}, "'callbackUrl' is required"),
    ({"callbackUrl": "ftp://example.com/x"}, "scheme must be http or https"),
    ({"callbackUrl": "not a url"}, "invalid callbackUrl"),
    ({"callbackUrl": "http://no-such-host.invalid/x"}, "cannot resolve"),
    ({"callbackUrl": "http://127.0.0.1:1/x", "event_type": "bogus"}, "unknown event_type"),
])
def test_bad_subscriptions(server, params, needle):
    r = server.post("/v2/eventSubscriptions", params=params)
    assert r.status_code == 400, r.text
    assert needle in r.json()["message"]
    assert server.get("/v2/eventSubscriptions").json() == {"callbackUrls": []}
