"""Session fixtures with real servers: the Asterisk 22 sandbox and Redis in three topologies.

Redis: `redis_server` (one server), `redis_cluster` (3 primaries), `redis_sentinel` (a
primary, a replica, 3 sentinels), and `redis_topology`, parametrised over all three, for
tests that must hold on every topology. All are plain synchronous fixtures (pytest runs
with --reactor=asyncio; nothing here touches the reactor). A test that uses them (or the
`browser` of tests/browser) is marked `asterisk` / `redis` / `browser` automatically
(tests/fixtures/servers.py), so `-m "not asterisk"` deselects it even if its author forgot
the marker.

The folders say what their tests need: tests/unit nothing (its conftest refuses these
fixtures), tests/integration a real Redis or pln123 run as a process, tests/e2e the
Asterisk sandbox, tests/browser Chromium.

`./run test` spreads the tests over pytest-xdist workers; tests/fixtures/parallel.py keeps
together what must not be split or overlapped, and every worker starts its own servers (its
own sandbox namespace, free ports).

When a server cannot run on this machine (not root, no debootstrap, no redis-server), the
tests that need it are skipped with the reason, except under CI=true, where that is a
failure: CI must prove the end-to-end tests ran.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from tests.fixtures.asterisk_sandbox import SandboxSession, unavailable_reason
from tests.fixtures.availability import skip_or_fail
from tests.fixtures.parallel import make_scheduler, starts_first
from tests.fixtures.redis_cluster import LoopbackCluster, start_cluster
from tests.fixtures.redis_sentinel import SentinelGroup, start_sentinel_group
from tests.fixtures.redis_server import RedisServer, start_redis
from tests.fixtures.redis_topology import TOPOLOGIES, RedisTarget
from tests.fixtures.servers import marks_for
from tools.sandbox import Instance, SandboxError

TESTS = Path(__file__).resolve().parent
# What starting a Redis topology can raise besides the RuntimeErrors the fixtures raise.
_START_ERRORS = (RuntimeError, OSError, subprocess.SubprocessError, redis.RedisError)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        for mark in sorted(marks_for(getattr(item, "fixturenames", ()))):
            item.add_marker(mark)
    if hasattr(config, "workerinput"):  # a pytest-xdist worker: see tests/fixtures/parallel.py
        items.sort(key=lambda item: not (item.path.is_relative_to(TESTS) and starts_first(
            item.path.relative_to(TESTS).as_posix())))


@pytest.hookimpl(optionalhook=True)  # a hook of pytest-xdist, which `./run check` may lack
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Our groups under `--dist loadgroup` (tests/fixtures/parallel.py); else xdist's own."""
    return make_scheduler(config, log) if config.getvalue("dist") == "loadgroup" else None


@pytest.fixture(scope="session")
def sandbox_root(request: pytest.FixtureRequest) -> SandboxSession:
    """The cached sandbox root (built on first use, progress shown) and this session's namespace."""
    reason = unavailable_reason()
    if reason is not None:
        skip_or_fail(reason)
    capture = request.config.pluginmanager.getplugin("capturemanager")

    def report(line: str) -> None:
        # A first build takes a minute: show its progress through pytest's capture.
        if capture is None:
            print(f"[sandbox] {line}", flush=True)
            return
        with capture.global_and_fixture_disabled():
            print(f"\n[sandbox] {line}", end="", flush=True)

    try:
        return SandboxSession.create(report=report)
    except SandboxError as error:
        skip_or_fail(f"the Asterisk sandbox cannot be built: {error}")


@pytest.fixture(scope="session")
def asterisk_sandbox(sandbox_root: SandboxSession) -> Iterator[SandboxSession]:
    """The session's sandbox with `palembang` running; `.site("medan")` starts more on demand.

    Every instance runs in namespace `pytest-<pid>` on free ports and is stopped by PID at
    the end of the session.
    """
    try:
        sandbox_root.site("palembang")
        yield sandbox_root
    finally:
        sandbox_root.close()


@pytest.fixture
def asterisk_site(asterisk_sandbox: SandboxSession) -> Instance:
    """The running `palembang` instance (restarted if an earlier test stopped it)."""
    return asterisk_sandbox.site("palembang")


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A real redis-server for the session: `.url`, `.unix_url`, `.unix_socket`, `.port`."""
    try:
        server = start_redis(tmp_path_factory.mktemp("redis"))
    except RuntimeError as error:
        skip_or_fail(str(error))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def fresh_redis(redis_server: RedisServer) -> RedisServer:
    """The session's redis-server, emptied before the test."""
    redis_server.flushall()
    return redis_server


@pytest.fixture
def stoppable_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of the test's own, AOF on, for tests that stop and start it."""
    try:
        server = start_redis(tmp_path / "redis",
                             config_lines=("appendonly yes", "appendfsync always"))
    except _START_ERRORS as error:
        skip_or_fail(f"redis-server cannot start here: {error}")
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoopbackCluster]:
    """A 3-primary Redis Cluster on loopback for the session: `.url` is redis+cluster://."""
    try:
        cluster = start_cluster(tmp_path_factory.mktemp("redis-cluster"))
    except _START_ERRORS as error:
        skip_or_fail(f"a Redis Cluster cannot start here: {error}")
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def redis_sentinel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SentinelGroup]:
    """Primary, replica and 3 sentinels on loopback: `.url` is redis+sentinel://.../pln/0."""
    try:
        group = start_sentinel_group(tmp_path_factory.mktemp("redis-sentinel"))
    except _START_ERRORS as error:
        skip_or_fail(f"a Redis Sentinel group cannot start here: {error}")
    try:
        yield group
    finally:
        group.stop()


@pytest.fixture(params=TOPOLOGIES)
def redis_topology(request: pytest.FixtureRequest) -> RedisTarget:
    """Each topology in turn, emptied before the test; started on first use."""
    name = {"single": "redis_server", "cluster": "redis_cluster",
            "sentinel": "redis_sentinel"}[request.param]
    target: RedisTarget = request.getfixturevalue(name)
    target.flushall()
    return target
