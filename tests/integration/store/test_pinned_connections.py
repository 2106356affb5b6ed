"""The script runner's kept connections, against a real redis-server: one connection
reused without the pool, an error reply keeps it, a killed connection is replaced through
the client's retry without losing the command, a restarted store starts afresh."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_twisted
from redis.exceptions import NoScriptError

from acd.store.pinned import PinnedConnections
from acd.store.redis import Client, RedisStore
from tests.fixtures.redis_server import RedisServer

pytestmark = pytest.mark.redis


@pytest_twisted.async_yield_fixture
async def store(fresh_redis: RedisServer) -> AsyncIterator[RedisStore]:
    started = RedisStore(fresh_redis.url)
    await started.start()
    yield started
    await started.close()


async def _run(store: RedisStore, pinned: PinnedConnections, *args: Any) -> Any:
    async def command(client: Client) -> Any:
        return await pinned.execute(client, *args)

    return await store.run(command)


async def _pool_use(store: RedisStore) -> tuple[int, int]:
    """(connections checked out, connections idle in the pool)."""
    async def read(client: Client) -> tuple[int, int]:
        pool: Any = client.connection_pool
        return len(pool._in_use_connections), len(pool._available_connections)

    return await store.run(read)


@pytest_twisted.ensureDeferred
async def test_commands_reuse_one_kept_connection(store: RedisStore) -> None:
    pinned = PinnedConnections()
    ids = {await _run(store, pinned, "CLIENT", "ID") for _ in range(20)}
    assert len(ids) == 1
    in_use, _idle = await _pool_use(store)
    assert in_use == 1  # kept out of the pool between commands
    round_trips = store.traffic.round_trips
    assert await _run(store, pinned, "ECHO", "kept") == "kept"
    assert store.traffic.round_trips == round_trips + 1  # counted like any command


@pytest_twisted.ensureDeferred
async def test_an_error_reply_keeps_the_connection(store: RedisStore) -> None:
    pinned = PinnedConnections()
    first = await _run(store, pinned, "CLIENT", "ID")
    with pytest.raises(NoScriptError):
        await _run(store, pinned, "EVALSHA", "0" * 40, 0)
    assert await _run(store, pinned, "CLIENT", "ID") == first


@pytest_twisted.ensureDeferred
async def test_a_killed_connection_is_replaced_and_the_command_still_runs(
        store: RedisStore) -> None:
    pinned = PinnedConnections()
    kept = await _run(store, pinned, "CLIENT", "ID")

    async def kill(client: Client) -> Any:
        return await client.execute_command("CLIENT", "KILL", "ID", kept)

    async def counter(client: Client) -> Any:
        return await client.get("pinned-test-counter")

    assert await store.run(kill) == 1
    # The kept connection is dead: the command goes again through the client.
    assert await _run(store, pinned, "INCR", "pinned-test-counter") == 1
    assert await store.run(counter) == "1"  # run once, not lost, not doubled
    assert await _run(store, pinned, "CLIENT", "ID") != kept
    in_use, _idle = await _pool_use(store)
    assert in_use == 1  # the dead one went back to the pool, one is kept


@pytest_twisted.ensureDeferred
async def test_a_restarted_store_forgets_the_old_clients_connections(
        store: RedisStore) -> None:
    pinned = PinnedConnections()
    first = await _run(store, pinned, "CLIENT", "ID")
    await store.close()
    await store.start()
    assert await _run(store, pinned, "CLIENT", "ID") != first
    in_use, _idle = await _pool_use(store)
    assert in_use == 1
