"""The store counts what crossed the wire: a single command is one round trip, a pipeline
one round trip carrying each of its commands, and a batch of Lua operations one EVALSHA."""

from __future__ import annotations

import pytest
import pytest_twisted

from acd.store.redis import Client, RedisStore
from tests.fixtures.redis_server import RedisServer

pytestmark = pytest.mark.redis


@pytest_twisted.ensureDeferred
async def test_round_trips_and_commands_are_counted_at_the_connection(
        fresh_redis: RedisServer) -> None:
    store = RedisStore(fresh_redis.url)
    await store.start()   # PING (and the connection's handshake) counted too
    traffic = store.traffic
    assert traffic.counting
    try:
        before = traffic.snapshot()
        traffic.trace = []
        await store.run(lambda client: client.set("traffic-a", "1"))

        async def piped(client: Client) -> object:
            async with client.pipeline(transaction=False) as pipe:
                pipe.get("traffic-a")
                pipe.get("traffic-b")
                pipe.incr("traffic-c")   # redis-py sends INCRBY
                return await pipe.execute()

        assert await store.run(piped) == ["1", None, 1]

        async def two_in_turn(client: Client) -> object:
            await client.get("traffic-a")
            return await client.get("traffic-c")

        assert await store.run(two_in_turn) == "1"
        round_trips, commands = traffic.snapshot()
        assert (round_trips - before[0], commands - before[1]) == (4, 6)
        assert traffic.trace == [("SET",), ("GET", "GET", "INCRBY"), ("GET",), ("GET",)]
    finally:
        traffic.trace = None
        await store.close()


@pytest_twisted.ensureDeferred
async def test_a_store_counts_only_its_own_connections(fresh_redis: RedisServer) -> None:
    first, second = RedisStore(fresh_redis.url), RedisStore(fresh_redis.url)
    await first.start()
    await second.start()
    try:
        before = second.traffic.snapshot()
        for _ in range(3):
            await first.run(lambda client: client.get("traffic-a"))
        assert second.traffic.snapshot() == before
        assert first.traffic.round_trips >= 3
    finally:
        await first.close()
        await second.close()
