# SPDX-License-Identifier: Apache-2.0
"""Shared helpers of the end-to-end tests: the server process, Marathon
client-compatibility checks, error-shape assertions, a Prometheus text
parser."""

import json
import os
import re
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

import requests

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
DATA = HERE / "data"
PACER_BIN = os.environ.get("PACER_BIN") or str(REPO / "build" / "pacer")
if not os.path.isabs(PACER_BIN):
    PACER_BIN = str(REPO / PACER_BIN)

# Generous: nothing here measures speed, these only keep a hung server from
# hanging the suite.
HTTP_TIMEOUT = 15
START_TIMEOUT = 15
STOP_TIMEOUT = 15

SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "runtime error:",
                     "ERROR: LeakSanitizer", "WARNING: ThreadSanitizer")

VERSION_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


def binary_available():
    return os.path.isfile(PACER_BIN) and os.access(PACER_BIN, os.X_OK)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def uid(prefix="app"):
    """A unique, valid Marathon path segment."""
    return "%s-%s" % (prefix, uuid.uuid4().hex[:12])


class ServerError(Exception):
    pass


class PacerServer:
    """One `pacer server` process on a fixed port and store directory.

    restart() keeps port and store, so it models a crash and restart of the
    same Marathon instance."""

    def __init__(self, workdir, args=(), env=None, port=None):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.store_dir = self.workdir / "store"
        self.store_dir.mkdir(exist_ok=True)
        self.port = port or free_port()
        self.extra_args = list(args)
        self.extra_env = dict(env or {})
        self.proc = None
        self.session = None
        self.runs = 0
        self.stderr_paths = []

    # -- process ---------------------------------------------------------
    @property
    def base(self):
        return "http://127.0.0.1:%d" % self.port

    @property
    def pid(self):
        return self.proc.pid

    def argv(self):
        return [PACER_BIN, "server", "--listen", "127.0.0.1:%d" % self.port,
                "--store", "lmdb:%s" % self.store_dir] + self.extra_args

    def start(self):
        self.runs += 1
        err = self.workdir / ("stderr.%d.log" % self.runs)
        out = self.workdir / ("stdout.%d.log" % self.runs)
        self.stderr_paths.append(err)
        env = dict(os.environ)
        env.update(self.extra_env)
        with open(err, "wb") as ferr, open(out, "wb") as fout:
            self.proc = subprocess.Popen(self.argv(), stdout=fout, stderr=ferr,
                                         stdin=subprocess.DEVNULL, env=env)
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            rc = self.proc.poll()
            if rc is not None:
                raise ServerError("pacer exited with %d before answering /ping; "
                                  "argv=%r\nstderr:\n%s"
                                  % (rc, self.argv(), self.stderr_tail()))
            try:
                r = requests.get(self.base + "/ping", timeout=1,
                                 headers={"Connection": "close"})
                if r.status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                self.proc.kill()
                self.proc.wait()
                raise ServerError("pacer did not answer GET /ping within %ds; stderr:\n%s"
                                  % (START_TIMEOUT, self.stderr_tail()))
            time.sleep(0.02)
        self.session = requests.Session()
        return self

    def stderr_text(self, all_runs=True):
        paths = self.stderr_paths if all_runs else self.stderr_paths[-1:]
        text = []
        for p in paths:
            try:
                text.append(p.read_text(errors="replace"))
            except OSError:
                pass
        return "\n".join(text)

    def stderr_tail(self, n=4000):
        return self.stderr_text(all_runs=False)[-n:]

    def sanitizer_report(self):
        text = self.stderr_text()
        for m in SANITIZER_MARKERS:
            if m in text:
                i = text.index(m)
                return text[max(0, i - 200):i + 3000]
        return None

    def kill9(self):
        if self.session:
            self.session.close()
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=STOP_TIMEOUT)

    def stop(self):
        """SIGTERM; returns the exit status (None if it had to be killed)."""
        if self.session:
            self.session.close()
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None

    def restart(self, kill9=True):
        if kill9:
            self.kill9()
        else:
            rc = self.stop()
            if rc != 0:
                raise ServerError("pacer exited with %r on SIGTERM; stderr:\n%s"
                                  % (rc, self.stderr_tail()))
        return self.start()

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def thread_count(self):
        return len(os.listdir("/proc/%d/task" % self.pid))

    # -- HTTP ------------------------------------------------------------
    def url(self, path):
        return self.base + path

    def request(self, method, path, **kw):
        kw.setdefault("timeout", HTTP_TIMEOUT)
        return self.session.request(method, self.url(path), **kw)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, **kw):
        return self.request("POST", path, **kw)

    def put(self, path, **kw):
        return self.request("PUT", path, **kw)

    def patch(self, path, **kw):
        return self.request("PATCH", path, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    # -- conveniences ----------------------------------------------------
    def create_app(self, app):
        r = self.post("/v2/apps", json=app)
        assert r.status_code == 201, (r.status_code, r.text)
        return r.json()

    def app(self, app_id, **kw):
        r = self.get("/v2/apps" + app_id, **kw)
        assert r.status_code == 200, (r.status_code, r.text)
        return r.json()["app"]

    def apps(self, **kw):
        r = self.get("/v2/apps", **kw)
        assert r.status_code == 200, (r.status_code, r.text)
        return r.json()["apps"]

    def app_ids(self):
        return sorted(a["id"] for a in self.apps())


# ---------------------------------------------------------------------------
# marathon-python compatibility

with open(DATA / "marathon-python-keys.json") as _f:
    MP_KEYS = json.load(_f)


def snake(name):
    """marathon-python's to_snake_case."""
    s1 = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z0-9])([A-Z])", r"\1_\2", s1).lower()


def unknown_keys(obj, cls):
    allowed = {snake(k) for k in MP_KEYS[cls]["keys"]}
    return sorted(k for k in obj if snake(k) not in allowed)


def check_strict(obj, cls, where, problems):
    if obj is None:
        return
    if not isinstance(obj, dict):
        problems.append("%s: expected an object for %s, got %r" % (where, cls, obj))
        return
    if MP_KEYS[cls]["strict"]:
        bad = unknown_keys(obj, cls)
        if bad:
            problems.append("%s: keys %s are unknown to marathon-python's %s"
                            % (where, bad, cls))


def marathon_python_problems(app, where="app"):
    """Every key that would make marathon-python's MarathonApp.from_json raise."""
    p = []
    check_strict(app, "MarathonApp", where, p)
    check_strict(app.get("versionInfo"), "MarathonAppVersionInfo", where + ".versionInfo", p)
    check_strict(app.get("upgradeStrategy"), "MarathonUpgradeStrategy", where + ".upgradeStrategy", p)
    us = app.get("unreachableStrategy")
    if isinstance(us, dict):
        check_strict(us, "MarathonUnreachableStrategy", where + ".unreachableStrategy", p)
    check_strict(app.get("residency"), "Residency", where + ".residency", p)
    for i, pd in enumerate(app.get("portDefinitions") or []):
        check_strict(pd, "PortDefinition", "%s.portDefinitions[%d]" % (where, i), p)
    for i, rc in enumerate(app.get("readinessChecks") or []):
        check_strict(rc, "ReadinessCheck", "%s.readinessChecks[%d]" % (where, i), p)
    for name, s in (app.get("secrets") or {}).items():
        check_strict(s, "Secret", "%s.secrets.%s" % (where, name), p)
    c = app.get("container")
    if c is not None:
        check_strict(c, "MarathonContainer", where + ".container", p)
        for i, pm in enumerate(c.get("portMappings") or []):
            check_strict(pm, "MarathonContainerPortMapping",
                         "%s.container.portMappings[%d]" % (where, i), p)
        for i, v in enumerate(c.get("volumes") or []):
            check_strict(v, "MarathonContainerVolume", "%s.container.volumes[%d]" % (where, i), p)
        d = c.get("docker")
        if isinstance(d, dict):
            for i, pm in enumerate(d.get("portMappings") or []):
                check_strict(pm, "MarathonContainerPortMapping",
                             "%s.container.docker.portMappings[%d]" % (where, i), p)
    for i, t in enumerate(app.get("tasks") or []):
        check_strict(t, "MarathonTask", "%s.tasks[%d]" % (where, i), p)
    for i, d in enumerate(app.get("deployments") or []):
        check_strict(d, "MarathonDeployment", "%s.deployments[%d]" % (where, i), p)
    check_strict(app.get("lastTaskFailure"), "MarathonTaskFailure", where + ".lastTaskFailure", p)
    ts = app.get("taskStats")
    if ts is not None:
        check_strict(ts, "MarathonTaskStats", where + ".taskStats", p)
        for k, v in ts.items():
            if isinstance(v, dict):
                check_strict(v, "MarathonTaskStatsType", "%s.taskStats.%s" % (where, k), p)
                st = v.get("stats")
                if isinstance(st, dict):
                    check_strict(st, "MarathonTaskStatsStats", "%s.taskStats.%s.stats" % (where, k), p)
                    check_strict(st.get("counts"), "MarathonTaskStatsCounts",
                                 "%s.taskStats.%s.stats.counts" % (where, k), p)
                    check_strict(st.get("lifeTime"), "MarathonTaskStatsLifeTime",
                                 "%s.taskStats.%s.stats.lifeTime" % (where, k), p)
    return p


def assert_marathon_python_ok(app, where="app"):
    problems = marathon_python_problems(app, where)
    assert not problems, "\n".join(problems)


# ---------------------------------------------------------------------------
# Marathon error bodies

def error_body(r):
    ctype = r.headers.get("Content-Type", "")
    assert "json" in ctype, "error answer is not JSON (%r): %s" % (ctype, r.text[:500])
    body = r.json()
    assert isinstance(body, dict), body
    assert isinstance(body.get("message"), str) and body["message"], body
    for d in body.get("details") or []:
        assert isinstance(d, dict), body
        assert isinstance(d.get("path"), str), body
        assert isinstance(d.get("errors"), list) and d["errors"], body
        assert all(isinstance(e, str) and e for e in d["errors"]), body
    return body


def detail_paths(body):
    return [d["path"] for d in body.get("details") or []]


def assert_error(r, status, message=None, path=None, path_prefix=None):
    """status: int or tuple of ints; message: str or tuple of accepted strings;
    path: an exact details[].path that must appear; path_prefix: some
    details[].path must start with it (one of a tuple)."""
    statuses = status if isinstance(status, tuple) else (status,)
    assert r.status_code in statuses, "expected %s, got %d: %s" % (statuses, r.status_code, r.text[:1000])
    body = error_body(r)
    if message is not None:
        msgs = message if isinstance(message, tuple) else (message,)
        assert body["message"] in msgs, "message %r not in %r (%s)" % (body["message"], msgs, body)
    paths = detail_paths(body)
    if path is not None:
        exact = path if isinstance(path, tuple) else (path,)
        assert any(p in exact for p in paths), "no details[].path in %r: %s" % (exact, body)
    if path_prefix is not None:
        prefixes = path_prefix if isinstance(path_prefix, tuple) else (path_prefix,)
        assert any(p.startswith(pre) for p in paths for pre in prefixes), \
            "no details[].path starting with %r: %s" % (prefixes, body)
    return body


def all_detail_errors(body):
    return [e for d in body.get("details") or [] for e in d["errors"]]


# ---------------------------------------------------------------------------
# Prometheus text exposition format

_SAMPLE_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+\S+)?$')
_LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*,?')


class Prom:
    def __init__(self, text):
        self.text = text
        self.types = {}      # family -> type
        self.samples = []    # (name, {labels}, value)
        for line in text.splitlines():
            line = line.strip()
            if not line:
                continue
            if line.startswith("#"):
                parts = line.split(None, 3)
                if len(parts) >= 4 and parts[1] == "TYPE":
                    self.types[parts[2]] = parts[3].strip()
                continue
            m = _SAMPLE_RE.match(line)
            assert m, "not a valid exposition line: %r" % line
            labels = dict((k, v) for k, v in _LABEL_RE.findall(m.group(3) or ""))
            v = m.group(4)
            value = float("inf") if v == "+Inf" else float("-inf") if v == "-Inf" else float(v)
            self.samples.append((m.group(1), labels, value))

    def families(self, type_=None, contains=()):
        out = []
        for fam, t in self.types.items():
            if type_ and t != type_:
                continue
            if all(c in fam for c in contains):
                out.append(fam)
        return sorted(out)

    def of(self, name):
        return [(l, v) for n, l, v in self.samples if n == name]

    def total(self, name, **match):
        return sum(v for l, v in self.of(name)
                   if all(l.get(k) == val for k, val in match.items()))


def counter_samples(prom, fam):
    s = prom.of(fam)
    if not s and not fam.endswith("_total"):
        s = prom.of(fam + "_total")
    return s


VOLATILE = ("deployments", "tasks", "tasksStaged", "tasksRunning", "tasksHealthy",
            "tasksUnhealthy", "taskStats", "lastTaskFailure", "readinessCheckResults")


def stable(app):
    """The app without the fields that change as deployments progress."""
    return {k: v for k, v in app.items() if k not in VOLATILE}


def stable_list(apps):
    return sorted((stable(a) for a in apps), key=lambda a: a["id"])


def minimal_app(app_id, **extra):
    app = {"id": app_id, "cmd": "sleep 1000"}
    app.update(extra)
    return app
