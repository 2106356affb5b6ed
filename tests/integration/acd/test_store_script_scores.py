"""The scores the ACD's Lua scripts write are the ones acd/store/keys.py encodes and
decodes (the codecs alone: tests/unit/test_store_keys.py)."""

from __future__ import annotations

import pytest
import pytest_twisted

from acd.agents.state import AgentEvent, AgentState, AgentStatus
from acd.queues.store import QueueStore
from acd.store import keys
from acd.store.keys import queue_entry, queue_score, tier_entry, tier_score
from acd.store.redis import Client, RedisStore
from tests.doubles.acd import SITE, T0, request, settings
from tests.fixtures.redis_server import RedisServer


@pytest.mark.redis
@pytest_twisted.ensureDeferred
async def test_the_scripts_scores_are_the_codecs(fresh_redis: RedisServer) -> None:
    store = RedisStore(fresh_redis.unix_url)
    await store.start()
    try:
        queues = QueueStore(store, SITE, settings())
        k = queues.keys
        await queues.offer(request("c1", priority=3), T0 + 0.25)
        login = AgentState(AgentStatus.READY)
        await queues.change("1001", 0, AgentEvent.LOGIN, login, T0 + 1.5,
                            skills={"outage": 7})

        async def read(client: Client) -> list[float | None]:
            return [await client.zscore(k.queue("billing"), "c1"),
                    await client.zscore(k.tier("outage"), "1001"),
                    await client.zscore(k.ready("outage"), "1001")]

        queued, tier, ready = await store.run(read)
        assert queued is not None and tier is not None
        assert queued == queue_score(3, T0 + 0.25)
        assert queue_entry(queued) == (3, T0 + 0.25)
        assert tier == tier_score(7, T0 + 1.5)
        assert tier_entry(tier) == (7, T0 + 1.5)
        assert ready == keys.ms(T0 + 1.5)
    finally:
        await store.close()
