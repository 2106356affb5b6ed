"""The ACD's scripts on every Redis topology: single server, Cluster (3 primaries), Sentinel.

On Cluster every key of a site hashes to one slot (`{palembang}`), so the scripts run
there as on a single server; the batched pipelines and the NOSCRIPT reload must work with
each client redis-py builds.
"""

from __future__ import annotations

import pytest
import pytest_twisted

from acd.agents.state import NO_ANSWER, AgentState, AgentStatus
from acd.distributor import Distributor
from acd.queues.metrics import SiteMetrics
from acd.queues.records import CallState
from acd.queues.store import QueueStore
from acd.store.redis import RedisStore
from tests.doubles.acd import SITE, T0, agent, request, settings, virtual_clock
from tests.doubles.telephony import FakeTelephony
from tests.fixtures.redis_topology import RedisTarget

pytestmark = pytest.mark.redis


@pytest_twisted.ensureDeferred
async def test_matching_requeue_and_counters_on_each_topology(
    redis_topology: RedisTarget,
) -> None:
    clock, phone = virtual_clock(), FakeTelephony()
    config = settings(agent("1001"), agent("1002"))
    store = RedisStore(redis_topology.url)
    await store.start()
    try:
        queues = QueueStore(store, SITE, config)
        d = Distributor(SITE, config, queues, phone, clock)
        await d.login("1001")
        await d.enqueue(request("c1"))
        await d.enqueue(request("c2"))
        await d.settle()
        phone.no_answer("c1")
        await d.settle()
        assert (await queues.agent("1001")).state == AgentState(AgentStatus.PAUSED, NO_ANSWER)
        assert [c for c, _, _ in await queues.queue("billing")] == ["c1", "c2"]
        await d.login("1002")
        await d.settle()
        phone.answer("c1")
        await d.settle()
        call = await queues.call("c1")
        assert call is not None and call.state is CallState.CONNECTED
        counters = await SiteMetrics(store, SITE, config).interval("billing", T0)
        assert (counters.offered, counters.answered, counters.ring_no_answer) == (2, 1, 1)
        # Redis forgets its scripts (restart, failover): the calls load them again.
        client = redis_topology.client()
        client.script_flush()
        client.close()
        assert await d.abandon("c2") is True
    finally:
        await store.close()
