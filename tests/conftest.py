"""Session fixtures with real servers: the Asterisk 22 sandbox and a redis-server.

Both are plain synchronous fixtures (pytest runs with --reactor=asyncio; nothing here
touches the reactor). A test that uses them is marked `asterisk` / `redis` automatically,
so `-m "not asterisk"` deselects it even if its author forgot the marker.

When a server cannot run on this machine (not root, no debootstrap, no redis-server), the
tests that need it are skipped with the reason, except under CI=true, where that is a
failure: CI must prove the end-to-end tests ran.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ivr.sandbox import Instance, SandboxError
from tests.fixtures.asterisk_sandbox import SandboxSession, unavailable_reason
from tests.fixtures.availability import skip_or_fail
from tests.fixtures.redis_server import RedisServer, start_redis

_MARK_BY_FIXTURE = {
    "asterisk_sandbox": "asterisk",
    "asterisk_site": "asterisk",
    "sandbox_root": "asterisk",
    "redis_server": "redis",
    "fresh_redis": "redis",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        for mark in {m for fixture, m in _MARK_BY_FIXTURE.items() if fixture in names}:
            item.add_marker(mark)


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
