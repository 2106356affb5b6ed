"""A command goes out without redis-py's write timer when the write cannot wait, and a
Redis that stops answering still fails a command within the command timeout."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Awaitable
from typing import Any

import pytest
import pytest_twisted
import redis.asyncio.connection as redis_connection
from redis.exceptions import TimeoutError as RedisTimeout

from acd.store import RedisStore, RetryPolicy
from acd.store.writes import QUICK_WRITE_MAX, QuickWrites
from tests.fixtures.redis_server import RedisServer

pytestmark = pytest.mark.redis


@pytest_twisted.ensureDeferred
async def test_small_writes_go_out_untimed_and_large_ones_keep_the_timer(
        fresh_redis: RedisServer, monkeypatch: pytest.MonkeyPatch) -> None:
    timed: list[float] = []
    real_wait_for = asyncio.wait_for

    def counting_wait_for(awaitable: Awaitable[Any], timeout: float | None) -> Any:
        timed.append(timeout or 0.0)
        return real_wait_for(awaitable, timeout)

    monkeypatch.setattr(redis_connection.asyncio, "wait_for", counting_wait_for)
    store = RedisStore(fresh_redis.url, command_timeout_s=2.0)
    await store.start()
    try:
        for n in range(20):
            await store.run(lambda client, n=n: client.set(f"quick-{n}", "x" * 100))
        assert timed == []
        large = "y" * (QUICK_WRITE_MAX + 1)
        await store.run(lambda client: client.set("quick-large", large))
        assert timed == [2.0]
        assert await store.run(lambda client: client.get("quick-large")) == large

        def sockets_timeouts(client: Any) -> set[float | None]:
            connections = client.connection_pool._available_connections
            assert all(isinstance(c, QuickWrites) for c in connections)
            return {c.socket_timeout for c in connections}

        assert store._client is not None
        assert sockets_timeouts(store._client) == {2.0}   # reads stay timed
    finally:
        await store.close()


@pytest_twisted.ensureDeferred
async def test_a_redis_that_stops_answering_fails_the_command_in_time(
        stoppable_redis: RedisServer) -> None:
    store = RedisStore(stoppable_redis.url, command_timeout_s=0.5,
                       retry=RetryPolicy(retries=0))
    await store.start()
    pid = stoppable_redis.pid
    assert pid is not None
    try:
        await store.run(lambda client: client.set("before", "1"))
        os.kill(pid, signal.SIGSTOP)
        started = time.monotonic()
        try:
            with pytest.raises(RedisTimeout):
                await store.run(lambda client: client.set("after", "1"))
            assert time.monotonic() - started < 3.0
        finally:
            os.kill(pid, signal.SIGCONT)
        assert await store.run(lambda client: client.get("before")) == "1"
    finally:
        await store.close()
