# SPDX-License-Identifier: Apache-2.0
"""A 2xx answer means the change is committed: kill -9 and a restart on the
same store lose nothing acknowledged (issue #2, point 4). Concurrent writers:
every acknowledged create survives, racing creates of one id give exactly one
201, concurrent updates of one app all succeed with distinct versions."""

import threading

import requests

import pacer_helpers as H
from pacer_helpers import minimal_app


def snapshot(srv):
    """Everything a client can read about the apps, without fields that
    describe deployments in progress."""
    state = {}
    for a in srv.apps():
        app_id = a["id"]
        versions = srv.get("/v2/apps%s/versions" % app_id).json()["versions"]
        defs = {}
        for v in versions:
            r = srv.get("/v2/apps%s/versions/%s" % (app_id, v))
            assert r.status_code == 200, r.text
            defs[v] = H.stable(r.json())
        state[app_id] = {"app": H.stable(srv.app(app_id)), "listed": H.stable(a),
                         "versions": versions, "definitions": defs}
    return state


def test_kill9_restart_keeps_everything(server):
    server.create_app(minimal_app("/d/one"))
    server.create_app({"id": "/d/two", "cmd": "python3 -m http.server $PORT0", "cpus": 0.2, "mem": 48,
                       "instances": 2, "labels": {"a": "b"}, "env": {"X": "y"},
                       "constraints": [["hostname", "UNIQUE"]],
                       "portDefinitions": [{"port": 0, "name": "http"}],
                       "healthChecks": [{"protocol": "HTTP", "path": "/", "portIndex": 0}],
                       "upgradeStrategy": {"minimumHealthCapacity": 0.5, "maximumOverCapacity": 0.5}})
    server.create_app(minimal_app("/d/three"))
    server.create_app(minimal_app("/d/deleted"))
    assert server.put("/v2/apps/d/one", json={"cmd": "sleep 2"}).status_code == 200
    assert server.put("/v2/apps/d/one", json={"instances": 3}).status_code == 200
    assert server.patch("/v2/apps/d/three", json={"mem": 64}).status_code == 200
    assert server.put("/v2/apps", json=[{"id": "/d/two", "instances": 1},
                                        minimal_app("/d/batch")]).status_code == 200
    assert server.delete("/v2/apps/d/deleted").status_code == 200
    before = snapshot(server)
    assert sorted(before) == ["/d/batch", "/d/one", "/d/three", "/d/two"]
    assert len(before["/d/one"]["versions"]) == 3

    server.restart(kill9=True)
    after = snapshot(server)
    assert sorted(after) == sorted(before)
    for app_id in before:
        assert after[app_id] == before[app_id], "app %s differs after kill -9 and restart" % app_id
    assert H.stable(server.app("/d/two"))["versionInfo"] == before["/d/two"]["app"]["versionInfo"]
    r = server.get("/v2/apps/d/deleted")
    assert r.status_code == 404

    # it keeps working on the recovered store, and a clean restart keeps it too
    server.create_app(minimal_app("/d/after"))
    assert server.put("/v2/apps/d/one", json={"cmd": "sleep 9"}).status_code == 200
    server.restart(kill9=False)
    assert server.app("/d/one")["cmd"] == "sleep 9"
    assert "/d/after" in server.app_ids()
    # the version history goes on from where it was
    assert len(server.get("/v2/apps/d/one/versions").json()["versions"]) == 4


def test_restart_on_empty_store(server):
    server.restart(kill9=True)
    assert server.apps() == []
    server.restart(kill9=False)
    assert server.apps() == []


def test_concurrent_creates_survive_kill9(server):
    """64 threads each create 20 distinct apps; kill -9 right after the last
    answer; every app that got 201 is there after the restart."""
    n_threads, per_thread = 64, 20
    acked = [[] for _ in range(n_threads)]
    failures = []
    barrier = threading.Barrier(n_threads)

    def writer(t):
        s = requests.Session()
        try:
            barrier.wait(timeout=30)
            for i in range(per_thread):
                app_id = "/cw/t%02d/app-%02d" % (t, i)
                r = s.post(server.url("/v2/apps"), json=minimal_app(app_id, labels={"t": str(t)}),
                           timeout=60)
                if r.status_code == 201:
                    acked[t].append(app_id)
                else:
                    failures.append((app_id, r.status_code, r.text[:200]))
        except Exception as e:  # noqa: BLE001 - reported below
            failures.append(("thread %d" % t, "exception", repr(e)))
        finally:
            s.close()

    threads = [threading.Thread(target=writer, args=(t,)) for t in range(n_threads)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=180)
    assert not any(th.is_alive() for th in threads), "writers hung"
    server.kill9()
    server.start()
    assert not failures, "creates failed: %s" % failures[:10]
    want = sorted(a for lst in acked for a in lst)
    assert len(want) == n_threads * per_thread
    got = server.app_ids()
    missing = sorted(set(want) - set(got))
    assert not missing, "%d acknowledged apps lost after kill -9, e.g. %s" % (len(missing), missing[:5])
    assert got == want
    # and what was acknowledged was all of each app
    app = server.app("/cw/t07/app-13")
    assert app["labels"] == {"t": "7"} and app["cmd"] == "sleep 1000"


def test_racing_creates_of_one_id(server):
    """Creates of the same id at the same time: exactly one 201, the others 409."""
    racers = 8
    for round_ in range(15):
        app_id = "/race/r%02d" % round_
        results = []
        barrier = threading.Barrier(racers)

        def racer(k):
            s = requests.Session()
            try:
                barrier.wait(timeout=30)
                r = s.post(server.url("/v2/apps"), json=minimal_app(app_id, env={"K": str(k)}), timeout=60)
                results.append((k, r.status_code, r.text))
            finally:
                s.close()

        threads = [threading.Thread(target=racer, args=(k,)) for k in range(racers)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(timeout=60)
        codes = sorted(c for _, c, _ in results)
        assert codes == [201] + [409] * (racers - 1), (app_id, results)
        winner = [k for k, c, _ in results if c == 201][0]
        for k, c, text in results:
            if c == 409:
                assert "An app with id [%s] already exists." % app_id in text
        assert server.app(app_id)["env"] == {"K": str(winner)}, "the stored app is the winner's"
    server.restart(kill9=True)
    assert len(server.app_ids()) == 15


def test_concurrent_updates_of_one_app(server):
    server.create_app(minimal_app("/cu", labels={}))
    v0 = server.app("/cu")["version"]
    n_threads, per_thread = 8, 5
    results = []
    errors = []
    barrier = threading.Barrier(n_threads)

    def updater(t):
        s = requests.Session()
        try:
            barrier.wait(timeout=30)
            for i in range(per_thread):
                method = "PUT" if (t + i) % 2 else "PATCH"
                r = s.request(method, server.url("/v2/apps/cu"),
                              json={"env": {"WRITER": "%d-%d" % (t, i)}}, timeout=60)
                if r.status_code == 200:
                    results.append(("%d-%d" % (t, i), r.json()["version"]))
                else:
                    errors.append((t, i, r.status_code, r.text[:200]))
        finally:
            s.close()

    threads = [threading.Thread(target=updater, args=(t,)) for t in range(n_threads)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=120)
    assert not errors, errors[:5]
    assert len(results) == n_threads * per_thread
    versions = [v for _, v in results]
    assert len(set(versions)) == len(versions), "two updates got the same version"
    assert all(v > v0 for v in versions)
    app = server.app("/cu")
    latest = max(results, key=lambda x: x[1])
    assert app["version"] == latest[1], "the app is not at its newest version"
    assert app["env"] == {"WRITER": latest[0]}, "the newest version does not hold the newest write"
    listed = server.get("/v2/apps/cu/versions").json()["versions"]
    assert listed == sorted(listed, reverse=True)
    assert listed[0] == latest[1]
    for v in versions:
        if v in listed:
            assert server.get("/v2/apps/cu/versions/" + v).status_code == 200
    before = H.stable(app)
    server.restart(kill9=True)
    assert H.stable(server.app("/cu")) == before


def test_writes_while_reading_do_not_wait_on_each_other(server):
    """Reads keep being answered while many writes are in flight (a request
    never waits behind a write of the whole state). No timing is asserted,
    only that every read and write completes."""
    for b in range(5):
        r = server.put("/v2/apps", json=[minimal_app("/bulk/b%03d/a%d" % (b, k)) for k in range(5)])
        assert r.status_code == 200, r.text
    stop = threading.Event()
    reads, errors = [], []

    def reader():
        s = requests.Session()
        while not stop.is_set():
            try:
                r = s.get(server.url("/v2/apps/bulk/b000/a0"), timeout=30)
                reads.append(r.status_code)
            except requests.RequestException as e:
                errors.append(repr(e))
        s.close()

    def writer(t):
        s = requests.Session()
        for i in range(25):
            r = s.post(server.url("/v2/apps"), json=minimal_app("/rw/w%d/a%d" % (t, i)), timeout=60)
            if r.status_code != 201:
                errors.append((r.status_code, r.text[:200]))
        s.close()

    rt = [threading.Thread(target=reader) for _ in range(4)]
    wt = [threading.Thread(target=writer, args=(t,)) for t in range(16)]
    for th in rt + wt:
        th.start()
    for th in wt:
        th.join(timeout=120)
    stop.set()
    for th in rt:
        th.join(timeout=30)
    assert not errors, errors[:5]
    assert reads and set(reads) == {200}
    assert len([a for a in server.app_ids() if a.startswith("/rw/")]) == 16 * 25
