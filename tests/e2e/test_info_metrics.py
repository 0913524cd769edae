# SPDX-License-Identifier: Apache-2.0
"""/ping, /v2/info, /v2/leader, /metrics, /metrics/prometheus, and the
command line (--help, unknown flags, bad values).

/v2/info is read by marathon-python's MarathonInfo, whose constructor takes
only the keys in data/marathon-python-keys.json (MarathonInfo, MarathonConfig,
MarathonZooKeeperConfig, MarathonHttpConfig, MarathonEventSubscriber): any
other key crashes it. Shapes: raml/info.raml, raml/leader.raml,
examples/info.json."""

import json
import os
import subprocess

import pytest
import requests

import pacer_helpers as H
from pacer_helpers import minimal_app

FLAGS = ["--listen", "--store", "--max-body-bytes", "--max-json-depth", "--max-header-bytes",
         "--idle-timeout", "--max-connections", "--help"]


def test_ping(server):
    r = server.get("/ping")
    assert r.status_code == 200
    assert r.text.strip() == "pong"
    assert r.headers.get("Content-Type", "").startswith("text/plain")


def test_info(server):
    r = server.get("/v2/info")
    assert r.status_code == 200
    assert "json" in r.headers.get("Content-Type", "")
    info = r.json()
    problems = []
    H.check_strict(info, "MarathonInfo", "info", problems)
    H.check_strict(info.get("marathon_config"), "MarathonConfig", "info.marathon_config", problems)
    H.check_strict(info.get("zookeeper_config"), "MarathonZooKeeperConfig", "info.zookeeper_config", problems)
    H.check_strict(info.get("http_config"), "MarathonHttpConfig", "info.http_config", problems)
    H.check_strict(info.get("event_subscriber"), "MarathonEventSubscriber", "info.event_subscriber", problems)
    assert not problems, "\n".join(problems)
    for k in ("name", "version", "buildref", "elected", "leader", "frameworkId", "marathon_config",
              "zookeeper_config", "http_config"):
        assert k in info, "info lacks %s: %s" % (k, info)
    assert isinstance(info["name"], str) and info["name"]
    assert isinstance(info["version"], str) and info["version"]
    assert info["elected"] is True
    assert info["leader"] == server.get("/v2/leader").json()["leader"]
    assert isinstance(info["marathon_config"], dict)
    assert isinstance(info["http_config"], dict)
    if "http_port" in info["http_config"]:
        assert info["http_config"]["http_port"] == server.port


def test_leader(server):
    r = server.get("/v2/leader")
    assert r.status_code == 200
    body = r.json()
    assert list(body) == ["leader"], body
    host, _, port = body["leader"].rpartition(":")
    assert host and port == str(server.port), body


def test_metrics_json_shape(server):
    server.create_app(minimal_app("/m1"))
    r = server.get("/metrics")
    assert r.status_code == 200
    assert "json" in r.headers.get("Content-Type", "")
    m = r.json()
    for k in ("version", "counters", "gauges", "histograms", "meters", "timers"):
        assert k in m, "metrics lack %s: %s" % (k, list(m))
    for k in ("counters", "gauges", "histograms", "meters", "timers"):
        assert isinstance(m[k], dict), (k, m[k])
    for name, c in m["counters"].items():
        assert isinstance(c, dict) and isinstance(c.get("count"), (int, float)), (name, c)
    for name, g in m["gauges"].items():
        assert isinstance(g, dict) and "value" in g, (name, g)


def prom(server):
    r = server.get("/metrics/prometheus")
    assert r.status_code == 200
    assert r.headers.get("Content-Type", "").startswith("text/plain"), r.headers.get("Content-Type")
    return H.Prom(r.text)


STATUS_KEYS = ("status", "code", "status_code")
ROUTE_KEYS = ("route", "path", "handler", "endpoint")


def request_counter(p):
    for fam in p.families("counter"):
        if "request" not in fam:
            continue
        samples = H.counter_samples(p, fam)
        if any(any(k in l for k in STATUS_KEYS) and any(k in l for k in ROUTE_KEYS) for l, _ in samples):
            return fam, samples
    pytest.fail("no request counter with route and status labels among counters %s" % p.families("counter"))


def label_of(labels, keys):
    for k in keys:
        if k in labels:
            return labels[k]
    return None


def test_prometheus_request_counters(server):
    p0 = prom(server)
    fam, s0 = request_counter(p0)
    ok0 = sum(v for l, v in s0 if label_of(l, STATUS_KEYS) == "200")
    for _ in range(7):
        assert server.get("/v2/apps").status_code == 200
    assert server.get("/v2/apps/missing").status_code == 404
    assert server.post("/v2/apps", json=minimal_app("/pm")).status_code == 201
    p1 = prom(server)
    _, s1 = request_counter(p1)
    ok1 = sum(v for l, v in s1 if label_of(l, STATUS_KEYS) == "200")
    assert ok1 - ok0 >= 7, "%s with status 200 grew by %s after 7 GETs" % (fam, ok1 - ok0)
    statuses = {label_of(l, STATUS_KEYS) for l, v in s1 if v > 0}
    assert {"200", "201", "404"} <= statuses, statuses
    routes = {label_of(l, ROUTE_KEYS) for l, v in s1 if v > 0}
    assert len(routes) >= 2, "requests are counted by route: %s" % routes
    # a route label is a route, not the raw path: ids do not create new series
    for i in range(5):
        server.get("/v2/apps/distinct-%d" % i)
    _, s2 = request_counter(prom(server))
    assert not any("distinct-" in (label_of(l, ROUTE_KEYS) or "") for l, _ in s2), \
        "route label holds raw paths (unbounded series)"


def check_histogram(p, fam):
    buckets = [(l, v) for l, v in p.of(fam + "_bucket")]
    assert buckets, "%s has no _bucket samples" % fam
    assert any(l.get("le") == "+Inf" for l, _ in buckets), "%s lacks le=\"+Inf\"" % fam
    assert p.of(fam + "_sum"), "%s lacks _sum" % fam
    assert p.of(fam + "_count"), "%s lacks _count" % fam
    # buckets of one series are cumulative, +Inf equals _count
    series = {}
    for l, v in buckets:
        key = tuple(sorted((k, x) for k, x in l.items() if k != "le"))
        le = float("inf") if l["le"] == "+Inf" else float(l["le"])
        series.setdefault(key, []).append((le, v))
    counts = {tuple(sorted(l.items())): v for l, v in p.of(fam + "_count")}
    for key, bs in series.items():
        bs.sort()
        vals = [v for _, v in bs]
        assert vals == sorted(vals), "%s buckets are not cumulative: %s" % (fam, bs)
        if key in counts:
            assert bs[-1][1] == counts[key], "%s: +Inf bucket != _count" % fam
    return sum(v for _, v in p.of(fam + "_count"))


def test_prometheus_latency_histogram(server):
    p0 = prom(server)
    fams = [f for f in p0.families("histogram") if "request" in f or "http" in f]
    assert fams, "no request latency histogram among %s" % p0.families("histogram")
    fam = fams[0]
    c0 = check_histogram(p0, fam)
    for _ in range(5):
        server.get("/v2/apps")
    c1 = check_histogram(prom(server), fam)
    assert c1 - c0 >= 5


def test_prometheus_store_commits(server):
    p0 = prom(server)
    counters = [f for f in p0.families("counter")
                if "commit" in f and not any(w in f for w in ("fail", "error", "abort"))]
    assert counters, "no store commit counter among %s" % p0.families("counter")
    hist = [f for f in p0.families("histogram") if "commit" in f]
    assert hist, "no commit latency histogram among %s" % p0.families("histogram")
    before = sum(v for _, v in H.counter_samples(p0, counters[0]))
    for i in range(3):
        assert server.post("/v2/apps", json=minimal_app("/commit/a%d" % i)).status_code == 201
    p1 = prom(server)
    after = sum(v for _, v in H.counter_samples(p1, counters[0]))
    assert after - before >= 1, "%s did not grow after 3 creates" % counters[0]
    check_histogram(p1, hist[0])


def apps_gauge(p):
    fams = [f for f in p.families("gauge") if "app" in f]
    assert fams, "no apps gauge among %s" % p.families("gauge")
    return fams


def test_prometheus_apps_gauge(server):
    fams = apps_gauge(prom(server))
    for i in range(3):
        server.create_app(minimal_app("/g/a%d" % i))
    p = prom(server)
    matching = [f for f in fams if p.total(f) == 3]
    assert matching, "no apps gauge equals 3: %s" % {f: p.total(f) for f in fams}
    server.delete("/v2/apps/g/a1")
    p = prom(server)
    assert any(p.total(f) == 2 for f in matching), {f: p.total(f) for f in matching}
    # it is restored after a restart
    server.restart(kill9=True)
    p = prom(server)
    assert any(p.total(f) == 2 for f in matching)


def test_prometheus_threads_gauge(server):
    p = prom(server)
    fams = [f for f in p.families("gauge") if "thread" in f]
    assert fams, "no threads gauge among %s" % p.families("gauge")
    n = server.thread_count()
    assert any(p.total(f) == n for f in fams), ("threads gauge vs /proc", {f: p.total(f) for f in fams}, n)


# ---------------------------------------------------------------------------
# command line

def run(args, timeout=10, env=None):
    e = dict(os.environ)
    e.update(env or {})
    try:
        return subprocess.run([H.PACER_BIN] + args, capture_output=True, timeout=timeout, env=e,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        pytest.fail("pacer %s did not exit within %ds (it should refuse to start)" % (" ".join(args), timeout))


def test_help():
    for args in (["server", "--help"], ["--help"]):
        p = run(args)
        assert p.returncode == 0, (args, p.returncode, p.stderr)
        text = (p.stdout + p.stderr).decode()
        assert text.strip(), "no help text"
    text = (run(["server", "--help"]).stdout + run(["server", "--help"]).stderr).decode()
    for flag in FLAGS:
        assert flag in text, "--help does not mention %s" % flag
    assert "PACER_" in text, "--help does not mention the PACER_<NAME> environment variables"


def test_unknown_flag(tmp_path):
    p = run(["server", "--listen", "127.0.0.1:%d" % H.free_port(), "--store", "lmdb:%s" % tmp_path,
             "--bogus-flag"])
    assert p.returncode != 0
    assert b"bogus-flag" in p.stderr, p.stderr


@pytest.mark.parametrize("store", ["nosuch:/tmp/x", "lmdb:", "/tmp/no-scheme", "lmdb:/proc/pacer-cannot-create"])
def test_bad_store(tmp_path, store):
    p = run(["server", "--listen", "127.0.0.1:%d" % H.free_port(), "--store", store])
    assert p.returncode != 0, "pacer started with --store %s" % store
    assert p.stderr.strip(), "no message for a bad --store"


def test_store_is_a_file(tmp_path):
    f = tmp_path / "file"
    f.write_text("not a directory")
    p = run(["server", "--listen", "127.0.0.1:%d" % H.free_port(), "--store", "lmdb:%s" % f])
    assert p.returncode != 0
    assert p.stderr.strip()


@pytest.mark.parametrize("flag,value", [("--max-body-bytes", "abc"), ("--max-body-bytes", "-5"),
                                        ("--max-json-depth", "deep"), ("--idle-timeout", "x"),
                                        ("--max-connections", "-1"), ("--listen", "nonsense"),
                                        ("--listen", "127.0.0.1:99999")])
def test_bad_flag_values(tmp_path, flag, value):
    args = ["server", "--listen", "127.0.0.1:%d" % H.free_port(), "--store", "lmdb:%s" % tmp_path]
    args += [flag, value]
    p = run(args)
    assert p.returncode != 0, "pacer accepted %s %s" % (flag, value)
    assert p.stderr.strip()


def test_bad_env_value(tmp_path):
    p = run(["server", "--listen", "127.0.0.1:%d" % H.free_port(), "--store", "lmdb:%s" % tmp_path],
            env={"PACER_MAX_BODY_BYTES": "lots"})
    assert p.returncode != 0
    assert p.stderr.strip()


def test_port_in_use(server, tmp_path):
    p = run(["server", "--listen", "127.0.0.1:%d" % server.port, "--store", "lmdb:%s" % tmp_path])
    assert p.returncode != 0
    assert p.stderr.strip()
    assert server.get("/ping").status_code == 200


def test_sigterm_with_open_connections(start_server):
    """SIGTERM while clients hold connections (one idle keep-alive, one half
    a request) still exits 0, promptly."""
    import socket
    srv = start_server()
    s = requests.Session()
    raw = socket.create_connection(("127.0.0.1", srv.port))
    try:
        assert s.get(srv.url("/v2/apps"), timeout=H.HTTP_TIMEOUT).status_code == 200
        raw.sendall(b"GET /ping HTTP/1.1\r\nHost: x\r\n")
        rc = srv.stop()
        assert rc == 0, "exit status %r on SIGTERM with open connections" % rc
    finally:
        s.close()
        raw.close()
    srv.start()  # the fixture stops it again


def test_json_content_type_and_body_encoding(server):
    server.create_app(minimal_app("/utf", labels={"name": "caf\u00e9 \u2603"}, env={"E": "\u00fc"}))
    r = server.get("/v2/apps/utf")
    assert r.json()["app"]["labels"]["name"] == "caf\u00e9 \u2603"
    json.loads(r.content.decode("utf-8"))
