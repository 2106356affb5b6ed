"""Abandon-resume: a redial from the same number within the window gets the old place back."""

from __future__ import annotations

from dataclasses import replace

import pytest
import pytest_twisted
import redis
from twisted.internet.task import Clock

from tests.doubles.acd import SITE, T0, request, settings, virtual_clock
from tests.fixtures.redis_server import RedisServer
from tests.integration.acd.waiting_helpers import Process, audit, counters, keys, start

pytestmark = pytest.mark.redis

CALLER = "+62 711-5550001"


async def waiting_line(fresh_redis: RedisServer, window_s: float = 300.0
                       ) -> tuple[Process, Clock]:
    """c1 (CALLER) at T0 and c2 at T0+10 queue; c1 hangs up at T0+20."""
    clock = virtual_clock()
    p = await start(fresh_redis, settings(abandon_resume_s=window_s), clock)
    await p.distributor.enqueue(replace(request("c1"), caller_number=CALLER))
    clock.advance(10)
    await p.distributor.enqueue(request("c2"))
    clock.advance(10)
    assert await p.distributor.abandon("c1")
    return p, clock


@pytest_twisted.ensureDeferred
async def test_a_redial_within_the_window_gets_the_old_place(fresh_redis: RedisServer) -> None:
    p, clock = await waiting_line(fresh_redis)
    clock.advance(60)
    placement = await p.distributor.enqueue(replace(request("c3", priority=7),
                                                    caller_number="62711 5550001"))
    assert placement.position == 1                     # ahead of c2 again
    assert await p.queues.queue("billing") == [("c3", 5, T0), ("c2", 5, T0 + 10)]
    call = await p.queues.call("c3")
    assert call is not None and call.fields["resumed_from"] == "c1"
    assert keys(fresh_redis, "acd:*resume*") == []     # consumed
    c = await counters(p, T0)
    assert (c.offered, c.abandoned) == (3, 1)          # the abandon stays an abandon
    assert [e["event"] for e in audit(fresh_redis) if e["call"] == "c1"][-1] == "abandoned"
    # a second redial while c3 waits starts afresh
    assert (await p.distributor.enqueue(replace(request("c4"), caller_number=CALLER))
            ).position == 3
    p.room.stop()
    await p.store.close()


@pytest_twisted.ensureDeferred
async def test_the_key_is_per_site_and_expires_with_the_window(
    fresh_redis: RedisServer,
) -> None:
    p, _ = await waiting_line(fresh_redis, window_s=120.0)
    key = f"acd:{{{SITE}}}:{SITE}:resume:billing:627115550001"
    assert keys(fresh_redis, "acd:*resume*") == [key]
    client = redis.Redis(unix_socket_path=str(fresh_redis.unix_socket))
    assert 110_000 < client.pttl(key) <= 120_000
    p.room.stop()
    await p.store.close()


@pytest_twisted.ensureDeferred
async def test_a_redial_after_the_window_queues_at_the_back(fresh_redis: RedisServer) -> None:
    p, clock = await waiting_line(fresh_redis, window_s=300.0)
    clock.advance(301)
    placement = await p.distributor.enqueue(replace(request("c3"), caller_number=CALLER))
    assert placement.position == 2
    p.room.stop()
    await p.store.close()


@pytest_twisted.ensureDeferred
async def test_another_number_or_another_skill_does_not_take_the_place(
    fresh_redis: RedisServer,
) -> None:
    p, clock = await waiting_line(fresh_redis)
    clock.advance(5)
    other = await p.distributor.enqueue(replace(request("c3"), caller_number="07115550002"))
    assert other.position == 2
    outage = await p.distributor.enqueue(replace(request("c4", skill="outage"),
                                                 caller_number=CALLER))
    assert outage.position == 1 and (await p.queues.queue("outage"))[0][2] == T0 + 25
    # the billing place is still kept for a billing redial
    assert (await p.distributor.enqueue(replace(request("c5"), caller_number=CALLER))
            ).position == 1
    p.room.stop()
    await p.store.close()


@pytest_twisted.ensureDeferred
async def test_withheld_numbers_never_resume(fresh_redis: RedisServer) -> None:
    clock = virtual_clock()
    p = await start(fresh_redis, settings(), clock)
    for number in ("", "anonymous"):
        call_id = f"w{len(number)}"
        await p.distributor.enqueue(replace(request(call_id), caller_number=number))
        assert await p.distributor.abandon(call_id)
    assert keys(fresh_redis, "acd:*resume*") == []
    clock.advance(10)
    await p.distributor.enqueue(request("c1"))
    placement = await p.distributor.enqueue(replace(request("w2"), caller_number="anonymous"))
    assert placement.position == 2
    # Only the digits count: the same caller written two ways takes the place back.
    await p.distributor.enqueue(replace(request("d1"), caller_number="+62 (711) 1"))
    assert await p.distributor.abandon("d1")
    clock.advance(5)
    again = await p.distributor.enqueue(replace(request("d2"), caller_number="62-711-1"))
    assert again.position == 2   # behind c1 (earlier), ahead of w2 (later)
    p.room.stop()
    await p.store.close()


@pytest_twisted.ensureDeferred
async def test_a_call_not_queued_when_abandoned_keeps_no_place(
    fresh_redis: RedisServer,
) -> None:
    clock = virtual_clock()
    p = await start(fresh_redis, settings(), clock)
    assert not await p.distributor.abandon("unknown")
    assert keys(fresh_redis, "acd:*resume*") == []
    await p.store.close()
