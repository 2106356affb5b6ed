"""More concurrent Redis commands than the pool has connections wait for one instead of
failing: redis-py's default pool raised MaxConnectionsError on the 101st, which lost calls
in the 300-caller load test (docs/benchmarks.md)."""

from __future__ import annotations

import pytest
import pytest_twisted
from twisted.internet.defer import gatherResults

from acd.store.redis import Client, RedisStore
from acd.store.topology import MAX_CONNECTIONS
from tests.fixtures.redis_server import RedisServer

pytestmark = pytest.mark.redis


@pytest_twisted.ensureDeferred
async def test_more_concurrent_commands_than_connections_all_complete(
        fresh_redis: RedisServer) -> None:
    store = RedisStore(fresh_redis.url)
    await store.start()

    async def hold(client: Client) -> object:
        return await client.blpop(["pool-test-empty"], timeout=0.2)  # holds a connection

    try:
        results = await gatherResults([store.run(hold)
                                       for _ in range(MAX_CONNECTIONS + 100)])
        assert results == [None] * (MAX_CONNECTIONS + 100)
    finally:
        await store.close()
