# SPDX-License-Identifier: Apache-2.0
"""Fixtures of the end-to-end suite: each starts the real `pacer server` binary
on a free port with its own LMDB store, waits for GET /ping, and on teardown
stops it with SIGTERM and requires a clean exit (status 0, no sanitizer
report in its stderr).

    server          a fresh server for one test
    module_server   one server shared by a module (use unique app ids)
    start_server    factory: start_server(args=[...], env={...}) for servers
                    with non-default flags (limits); all are stopped at teardown

The binary is PACER_BIN, default <repo>/build/pacer. Without it every test
here is skipped."""

import pytest

import pacer_helpers as H


def pytest_collection_modifyitems(config, items):
    if H.binary_available():
        return
    skip = pytest.mark.skip(reason="pacer binary not found at %s (build it with "
                                   "`ninja -C build`, or set PACER_BIN)" % H.PACER_BIN)
    for item in items:
        if "tests/e2e" in str(item.fspath).replace("\\", "/"):
            item.add_marker(skip)


def _start(workdir, args=(), env=None):
    srv = H.PacerServer(workdir, args=args, env=env)
    try:
        srv.start()
    except H.ServerError as e:
        pytest.fail(str(e), pytrace=False)
    return srv


def _stop_and_check(srv):
    """SIGTERM must stop the server with status 0 and nothing in its stderr
    may be a sanitizer report. Raises AssertionError otherwise."""
    problems = []
    was_alive = srv.alive()
    rc = srv.stop()
    if not was_alive and srv.proc is not None:
        problems.append("pacer was no longer running at teardown (exit status %r)"
                        % srv.proc.returncode)
    elif rc is None:
        problems.append("pacer did not exit within %ds of SIGTERM (killed)" % H.STOP_TIMEOUT)
    elif rc != 0:
        problems.append("pacer exited with status %d on SIGTERM" % rc)
    report = srv.sanitizer_report()
    if report:
        problems.append("sanitizer report in pacer's stderr:\n" + report)
    if problems:
        raise AssertionError("\n".join(problems) + "\n--- stderr tail ---\n" + srv.stderr_tail())


@pytest.fixture
def server(tmp_path):
    srv = _start(tmp_path / "pacer")
    yield srv
    _stop_and_check(srv)


@pytest.fixture(scope="module")
def module_server(tmp_path_factory):
    srv = _start(tmp_path_factory.mktemp("pacer-module"))
    yield srv
    _stop_and_check(srv)


@pytest.fixture
def start_server(tmp_path):
    started = []

    def start(args=(), env=None):
        srv = _start(tmp_path / ("pacer-%d" % len(started)), args=args, env=env)
        started.append(srv)
        return srv

    yield start
    errors = []
    for srv in started:
        try:
            _stop_and_check(srv)
        except AssertionError as e:
            errors.append(str(e))
    if errors:
        raise AssertionError("\n\n".join(errors))
