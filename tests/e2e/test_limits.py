# SPDX-License-Identifier: Apache-2.0
"""Limits (issue #2, points 5 and 6): body size, JSON nesting depth, header
size, idle and header timeouts, connection count, each answered with the
right 4xx and a clear message (or a closed connection where HTTP has no
answer), never a crash; slow or half-open clients do not stall others; the
thread count never grows with load.

No timing is asserted: timeouts here are generous upper bounds that only keep
a misbehaving server from hanging the suite."""

import json
import socket
import threading
import time
import weakref

import requests

import pacer_helpers as H
from pacer_helpers import minimal_app

WAIT = 15  # seconds: upper bound for anything that should happen "at once"


# ---------------------------------------------------------------------------
# raw HTTP

def connect(srv, timeout=WAIT):
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


class Closed(Exception):
    """The server closed (or reset) the connection before a full answer."""


_PENDING = weakref.WeakKeyDictionary()  # socket -> bytes read past the last response


def read_response(sock, timeout=WAIT):
    """One HTTP/1.1 response: (status, {lower-case header: value}, body).
    Bytes of a following (pipelined) response are kept for the next call."""
    status, headers, body, rest = _read_response(sock, timeout)
    _PENDING[sock] = rest
    return status, headers, body


def _read_response(sock, timeout):
    sock.settimeout(timeout)
    buf = _PENDING.pop(sock, b"")
    try:
        while b"\r\n\r\n" not in buf:
            chunk = sock.recv(65536)
            if not chunk:
                raise Closed(buf)
            buf += chunk
        head, _, rest = buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = b""
            while True:
                while b"\r\n" not in rest:
                    chunk = sock.recv(65536)
                    if not chunk:
                        raise Closed(buf)
                    rest += chunk
                size_line, _, rest = rest.partition(b"\r\n")
                size = int(size_line.split(b";")[0], 16)
                while len(rest) < size + 2:
                    chunk = sock.recv(65536)
                    if not chunk:
                        raise Closed(buf)
                    rest += chunk
                body += rest[:size]
                rest = rest[size + 2:]
                if size == 0:
                    break
            return status, headers, body, rest
        n = int(headers.get("content-length", "0"))
        while len(rest) < n:
            chunk = sock.recv(65536)
            if not chunk:
                raise Closed(buf)
            rest += chunk
        return status, headers, rest[:n], rest[n:]
    except (ConnectionResetError, BrokenPipeError) as e:
        raise Closed(buf) from e


def exchange(srv, data, timeout=WAIT):
    """Send raw bytes on a new connection and read one response."""
    with connect(srv, timeout) as s:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        return read_response(s, timeout)


def wait_closed(sock, timeout):
    """True when the server closes the connection (an answer before the close,
    e.g. 408, is allowed); False if it stays open for `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sock.settimeout(max(0.1, deadline - time.monotonic()))
        try:
            data = sock.recv(65536)
        except socket.timeout:
            return False
        except (ConnectionResetError, BrokenPipeError):
            return True
        if not data:
            return True
        status = data.split(b" ", 2)[1] if data.startswith(b"HTTP/") else b""
        assert status in (b"408", b"400"), "unexpected answer to a silent client: %r" % data[:200]
    return False


def json_message(body):
    doc = json.loads(body)
    assert isinstance(doc, dict) and isinstance(doc.get("message"), str) and doc["message"], doc
    return doc


def ping_ok(srv):
    r = requests.get(srv.url("/ping"), timeout=WAIT, headers={"Connection": "close"})
    assert r.status_code == 200 and r.text.strip() == "pong"


def big_app(app_id, size):
    app = minimal_app(app_id, labels={"pad": ""})
    pad = size - len(json.dumps(app))
    app["labels"]["pad"] = "x" * max(0, pad)
    return json.dumps(app).encode()


# ---------------------------------------------------------------------------
# body size

def test_body_size_limit(start_server):
    srv = start_server(args=["--max-body-bytes", "1024"])
    small = big_app("/small", 900)
    r = srv.post("/v2/apps", data=small, headers={"Content-Type": "application/json"})
    assert r.status_code == 201, r.text
    large = big_app("/large", 4096)
    r = srv.post("/v2/apps", data=large, headers={"Content-Type": "application/json"})
    assert r.status_code == 413, r.text
    json_message(r.content)
    assert srv.get("/v2/apps/large").status_code == 404
    # also on PUT
    r = srv.put("/v2/apps/small", data=big_app("/small", 4096), headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    assert srv.app("/small")["labels"]["pad"] == json.loads(small)["labels"]["pad"]
    ping_ok(srv)


def test_body_size_declared_but_not_sent(start_server):
    """A Content-Length over the limit is refused at once, without waiting for
    (or reading) a gigabyte."""
    srv = start_server(args=["--max-body-bytes", "1024"])
    # the part sent is already over the limit
    status, _, body = exchange(srv, b"POST /v2/apps HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                    b"Content-Length: 1000000000\r\n\r\n{" + b" " * 2000, timeout=5)
    assert status == 413
    json_message(body)
    # only the headers are sent (curl waits for an answer to Expect: 100-continue)
    status, _, body = exchange(srv, b"POST /v2/apps HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                    b"Content-Length: 1000000000\r\nExpect: 100-continue\r\n\r\n", timeout=5)
    assert status == 413, "a declared Content-Length over the limit is not refused before the body"
    json_message(body)
    ping_ok(srv)


def test_body_size_chunked(start_server):
    srv = start_server(args=["--max-body-bytes", "1024"])
    body = big_app("/chunked", 6000)
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 500]), body[i:i + 500]) for i in range(0, len(body), 500))
    req = (b"POST /v2/apps HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
           b"Transfer-Encoding: chunked\r\n\r\n" + chunks + b"0\r\n\r\n")
    status, _, rbody = exchange(srv, req)
    assert status == 413
    json_message(rbody)
    assert srv.get("/v2/apps/chunked").status_code == 404
    # a small chunked body is fine
    body = json.dumps(minimal_app("/chunked-ok")).encode()
    req = (b"POST /v2/apps HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
           b"Transfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n" % (len(body), body))
    status, _, _ = exchange(srv, req)
    assert status == 201
    ping_ok(srv)


def test_limit_from_environment(start_server):
    srv = start_server(env={"PACER_MAX_BODY_BYTES": "1024"})
    r = srv.post("/v2/apps", data=big_app("/env-large", 4096), headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    r = srv.post("/v2/apps", data=big_app("/env-small", 500), headers={"Content-Type": "application/json"})
    assert r.status_code == 201


def test_default_body_limit_allows_large_batches(server):
    """The default (16 MiB) takes a batch of 3000 apps (about 1 MB, like
    Marathon's real group trees of 1000 apps); a body just over the default is
    refused."""
    batch = [minimal_app("/big/g%02d/app-%04d" % (i % 20, i),
                         labels={"HAPROXY_GROUP": "external", "owner": "team-%d" % (i % 7),
                                 "HAPROXY_0_VHOST": "app-%04d.example.com" % i},
                         env={"JAVA_OPTS": "-Xmx512m -Dconfig=/etc/app-%04d.conf" % i},
                         portDefinitions=[{"port": 0, "name": "http"}],
                         healthChecks=[{"protocol": "HTTP", "path": "/health", "portIndex": 0}])
             for i in range(3000)]
    data = json.dumps(batch).encode()
    assert len(data) > 900 * 1000
    r = server.put("/v2/apps", data=data, headers={"Content-Type": "application/json"})
    assert r.status_code == 200, r.text[:300]
    assert len(server.apps()) == 3000
    status, _, body = exchange(server, b"POST /v2/apps HTTP/1.1\r\nHost: x\r\n"
                                       b"Content-Type: application/json\r\n"
                                       b"Content-Length: %d\r\n\r\n" % (16 * 1024 * 1024 + 1)
                               + b" " * (16 * 1024 * 1024 + 1))
    assert status == 413
    json_message(body)
    ping_ok(server)


# ---------------------------------------------------------------------------
# JSON depth

def nested_app(app_id, depth):
    inner = "1"
    for _ in range(depth):
        inner = '{"a":%s}' % inner
    return ('{"id":"%s","cmd":"sleep 1","x":%s}' % (app_id, inner)).encode()


def test_json_depth_limit(start_server):
    srv = start_server(args=["--max-json-depth", "8"])
    r = srv.post("/v2/apps", data=b"[" * 50 + b"]" * 50, headers={"Content-Type": "application/json"})
    assert r.status_code == 400, r.text
    doc = json_message(r.content)
    text = json.dumps(doc).lower()
    assert any(w in text for w in ("depth", "deep", "nest")), "message does not say why: %s" % doc
    r = srv.post("/v2/apps", data=nested_app("/deep", 20), headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    assert srv.get("/v2/apps/deep").status_code == 404
    # within the limit: accepted (the unknown field is ignored)
    r = srv.post("/v2/apps", json=minimal_app("/shallow", healthChecks=[{"protocol": "COMMAND",
                                                                         "command": {"value": "true"}}]))
    assert r.status_code == 201, r.text
    ping_ok(srv)


def test_deep_json_default_limit_no_crash(server):
    """100000 levels of nesting under the default limit: 400, not a stack
    overflow."""
    for data in (b"[" * 100000, b"[" * 100000 + b"]" * 100000, b'{"a":' * 100000):
        r = server.post("/v2/apps", data=data, headers={"Content-Type": "application/json"})
        assert r.status_code == 400, r.text[:300]
        json_message(r.content)
    r = server.put("/v2/apps", data=b"[" * 100000, headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    ping_ok(server)
    assert server.apps() == []


# ---------------------------------------------------------------------------
# headers

def test_header_size_limit(start_server):
    srv = start_server(args=["--max-header-bytes", "4096"])
    status, _, _ = exchange(srv, b"GET /ping HTTP/1.1\r\nHost: x\r\nX-Small: " + b"a" * 1000 + b"\r\n\r\n")
    assert status == 200
    status, _, body = exchange(srv, b"GET /ping HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 8000 + b"\r\n\r\n")
    assert status == 431
    many = b"".join(b"X-H%d: %s\r\n" % (i, b"v" * 40) for i in range(300))
    status, _, _ = exchange(srv, b"GET /ping HTTP/1.1\r\nHost: x\r\n" + many + b"\r\n")
    assert status == 431
    ping_ok(srv)


def test_default_header_limit(server):
    r = server.get("/ping", headers={"X-Big": "a" * 40000})
    assert r.status_code == 431
    r = server.get("/v2/apps", headers={"Authorization": "Bearer " + "t" * 8000})
    assert r.status_code == 200, "an 8 KB token is within the default limit"
    ping_ok(server)


def test_long_request_line(start_server):
    srv = start_server(args=["--max-header-bytes", "4096"])
    try:
        status, _, _ = exchange(srv, b"GET /v2/apps/" + b"a" * 10000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        assert status in (414, 431, 400)
    except Closed:
        pass
    ping_ok(srv)


# ---------------------------------------------------------------------------
# malformed requests

def test_malformed_requests_do_not_crash(server):
    garbage = [
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 64,  # a TLS ClientHello
        b"GARBAGE\r\n\r\n",
        b"GET\r\n\r\n",
        b"GET / HTTP/9.9\r\n\r\n",
        b"GET /ping HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
        b"POST /v2/apps HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
        b"POST /v2/apps HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"GET /ping HTTP/1.1\r\nNo-Colon-Header\r\n\r\n",
        b"GET /v2/apps/%zz HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /v2/apps/%00x HTTP/1.1\r\nHost: x\r\n\r\n",
        b"BREW /ping HTTP/1.1\r\nHost: x\r\n\r\n",
    ]
    for data in garbage:
        try:
            status, _, _ = exchange(server, data, timeout=5)
            assert status != 500 and status < 600, (data[:40], status)
        except Closed:
            pass
        except socket.timeout:
            pass  # an incomplete request may wait for more; the idle timeout ends it
        ping_ok(server)


def test_pipelined_requests(server):
    with connect(server) as s:
        s.sendall(b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\nGET /v2/apps HTTP/1.1\r\nHost: x\r\n\r\n"
                  b"GET /v2/leader HTTP/1.1\r\nHost: x\r\n\r\n")
        a = read_response(s)
        b = read_response(s)
        c = read_response(s)
    assert a[0] == 200 and a[2].strip() == b"pong"
    assert b[0] == 200 and json.loads(b[2]) == {"apps": []}
    assert c[0] == 200 and "leader" in json.loads(c[2])


def test_http10_and_connection_close(server):
    status, _, body = exchange(server, b"GET /ping HTTP/1.0\r\n\r\n")
    assert status == 200 and body.strip() == b"pong"
    with connect(server) as s:
        s.sendall(b"GET /ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert read_response(s)[0] == 200
        assert wait_closed(s, WAIT), "Connection: close was not honoured"


# ---------------------------------------------------------------------------
# timeouts and slow clients

def test_idle_timeout_closes_silent_connection(start_server):
    srv = start_server(args=["--idle-timeout", "1"])
    with connect(srv) as s:
        assert wait_closed(s, WAIT), "a silent connection stayed open past --idle-timeout 1"
    # an idle keep-alive connection after a request, too
    with connect(srv) as s:
        s.sendall(b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
        assert read_response(s)[0] == 200
        assert wait_closed(s, WAIT), "an idle keep-alive connection stayed open"
    ping_ok(srv)


def test_header_timeout_closes_partial_request(start_server):
    srv = start_server(args=["--idle-timeout", "1"])
    with connect(srv) as s:
        s.sendall(b"GET /ping HTTP/1.1\r\nHost: x\r\n")
        assert wait_closed(s, WAIT), "a client that never finishes its headers was not cut off"
    with connect(srv) as s:
        s.sendall(b"POST /v2/apps HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"id\":")
        assert wait_closed(s, WAIT), "a client that never finishes its body was not cut off"
    assert srv.apps() == []
    ping_ok(srv)


def test_idle_timeout_keeps_active_connection(start_server):
    srv = start_server(args=["--idle-timeout", "2"])
    with connect(srv) as s:
        for _ in range(6):
            s.sendall(b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
            assert read_response(s)[0] == 200
            time.sleep(0.5)


def test_stalled_clients_do_not_block_others(server):
    """Half-open clients (partial headers, partial body, nothing at all) hold
    connections; other clients are answered meanwhile."""
    stalled = []
    try:
        for i in range(30):
            s = connect(server)
            if i % 3 == 0:
                s.sendall(b"GET /v2/apps HTTP/1.1\r\nHost: x\r\nX-Partial: ")
            elif i % 3 == 1:
                s.sendall(b"POST /v2/apps HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                          b"Content-Length: 5000\r\n\r\n{\"id\": \"/stall%d\"" % i)
            stalled.append(s)
        for i in range(20):
            r = requests.get(server.url("/ping"), timeout=WAIT)
            assert r.status_code == 200
            r = requests.post(server.url("/v2/apps"), json=minimal_app("/live/a%d" % i), timeout=WAIT)
            assert r.status_code == 201, r.text
        # a slowloris dripping a byte at a time
        drip = connect(server)
        stalled.append(drip)
        req = b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n"
        for k, byte in enumerate(req[:-1]):
            drip.sendall(bytes([byte]))
            if k % 8 == 0:
                assert requests.get(server.url("/v2/apps/live/a0"), timeout=WAIT).status_code == 200
        drip.sendall(req[-1:])
        assert read_response(drip)[0] == 200, "the slow but live client gets its answer"
    finally:
        for s in stalled:
            s.close()
    assert len(server.apps()) == 20
    ping_ok(server)


# ---------------------------------------------------------------------------
# connections

def test_max_connections(start_server):
    limit = 4
    srv = start_server(args=["--max-connections", str(limit)])
    held = []
    try:
        for _ in range(limit):
            s = connect(srv)
            s.sendall(b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
            assert read_response(s)[0] == 200
            held.append(s)
        for _ in range(limit):
            try:
                s = connect(srv, timeout=WAIT)
            except (ConnectionRefusedError, ConnectionResetError, socket.timeout):
                continue  # refused: fine
            with s:
                try:
                    s.sendall(b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
                    status, _, _ = read_response(s, timeout=WAIT)
                    assert status == 503, "a connection over --max-connections was served (%d)" % status
                except (Closed, BrokenPipeError, ConnectionResetError):
                    pass  # closed: fine
                except socket.timeout:
                    raise AssertionError("a connection over --max-connections was neither refused nor "
                                         "closed nor answered within %ds" % WAIT)
        # the held connections keep working
        for s in held:
            s.sendall(b"GET /v2/apps HTTP/1.1\r\nHost: x\r\n\r\n")
            assert read_response(s)[0] == 200
    finally:
        for s in held:
            s.close()
    # once they are gone, new clients get in again
    deadline = time.monotonic() + WAIT
    while True:
        try:
            ping_ok(srv)
            break
        except (requests.RequestException, AssertionError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_many_connections_default_limit(server):
    """500 open connections are fine under the default limit (4096), and the
    server answers each."""
    socks = []
    try:
        for _ in range(500):
            socks.append(connect(server))
        for s in socks[::25]:
            s.sendall(b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
            assert read_response(s)[0] == 200
        ping_ok(server)
    finally:
        for s in socks:
            s.close()
    ping_ok(server)


# ---------------------------------------------------------------------------
# threads

def test_thread_count_fixed_under_load(server):
    before = server.thread_count()
    samples = []
    stop = threading.Event()

    def sampler():
        while not stop.is_set():
            try:
                samples.append(server.thread_count())
            except FileNotFoundError:
                return
            time.sleep(0.005)

    errors = []
    per_client = 2000 // 32 + 1

    def client(c):
        s = requests.Session()
        try:
            for i in range(per_client):
                k = i % 8
                if k == 0:
                    r = s.post(server.url("/v2/apps"), json=minimal_app("/load/c%d/a%d" % (c, i)), timeout=60)
                    ok = r.status_code == 201
                elif k == 1:
                    r = s.get(server.url("/v2/apps"), timeout=60)
                    ok = r.status_code == 200
                elif k == 2:
                    r = s.post(server.url("/v2/apps"), data=b"{bad", timeout=60,
                               headers={"Content-Type": "application/json"})
                    ok = r.status_code == 400
                elif k == 3:
                    r = s.get(server.url("/v2/apps/nope/x%d" % i), timeout=60)
                    ok = r.status_code == 404
                elif k == 4:
                    r = requests.get(server.url("/ping"), headers={"Connection": "close"}, timeout=60)
                    ok = r.status_code == 200
                elif k == 5:
                    r = s.get(server.url("/metrics"), timeout=60)
                    ok = r.status_code == 200
                elif k == 6:
                    r = s.put(server.url("/v2/apps/load/c%d/a0" % c), json={"instances": i}, timeout=60)
                    ok = r.status_code == 200
                else:
                    r = s.get(server.url("/v2/info"), timeout=60)
                    ok = r.status_code == 200
                if not ok:
                    errors.append((c, i, r.status_code, r.text[:200]))
        except requests.RequestException as e:
            errors.append((c, "exception", repr(e)))
        finally:
            s.close()

    st = threading.Thread(target=sampler)
    st.start()
    clients = [threading.Thread(target=client, args=(c,)) for c in range(32)]
    for t in clients:
        t.start()
    for t in clients:
        t.join(timeout=150)
    stop.set()
    st.join()
    assert not any(t.is_alive() for t in clients), "clients hung"
    assert not errors, errors[:5]
    after = server.thread_count()
    assert after == before, "threads: %d before, %d after load" % (before, after)
    assert samples and max(samples) == before, \
        "threads grew under load: %d at start, up to %d" % (before, max(samples))
