"""Callbacks on a real Redis with a fake telephony and a virtual clock: offered once when
the expected wait is long, the accepted call keeps its place and its hang-up is no abandon,
the agent is rung first and then the caller dialled, unanswered callbacks are retried and
finally recorded as failed."""

from __future__ import annotations

import pytest
import pytest_twisted

from acd.queues.records import CallState
from acd.settings import AcdSettings
from tests.doubles.acd import SITE, agent, request, settings, virtual_clock
from tests.fixtures.redis_server import RedisServer
from tests.integration.acd.waiting_helpers import Process, audit, counters, start

pytestmark = pytest.mark.redis

NUMBER = "08115550001"


def config(**overrides: float) -> AcdSettings:
    values = {"announce_every_s": 30.0, "callback_offer_ewt_s": 60.0,
              "callback_retry_s": 60.0, "callback_attempts": 2, **overrides}
    return settings(agent("1001"), **values)


async def accepted(p: Process, call_id: str) -> None:
    """`call_id` arrives and accepts the callback; later callers decline."""
    p.phone.accept_callback = NUMBER
    await p.distributor.enqueue(request(call_id))
    await p.settle()
    p.phone.accept_callback = None


def events(server: RedisServer, call_id: str) -> list[str]:
    return [e["event"] for e in audit(server) if e["call"] == call_id]


@pytest_twisted.ensureDeferred
async def test_offered_once_when_the_wait_is_long_declined_keeps_announcing(
    fresh_redis: RedisServer,
) -> None:
    clock = virtual_clock()
    p = await start(fresh_redis, config(), clock)   # nobody staffed: the EWT is unknown
    await p.distributor.enqueue(request("c1"))
    await p.settle()
    for _ in range(3):
        clock.advance(30)
        await p.settle()
    assert p.phone.offers == ["PJSIP/trunk-c1"]     # once, after the first announcement
    assert len(p.phone.heard_by("c1")) == 4
    assert p.room.watching == {"c1"}
    record = await p.queues.call("c1")
    assert record is not None and "callback" not in record.fields
    p.room.stop()
    await p.store.close()


@pytest_twisted.ensureDeferred
async def test_not_offered_while_the_expected_wait_is_short(fresh_redis: RedisServer) -> None:
    clock = virtual_clock()
    p = await start(fresh_redis, config(callback_offer_ewt_s=600.0), clock)
    await p.distributor.login("1001")
    await p.distributor.enqueue(request("c0"))    # the agent rings for c0: staffed, busy
    await p.distributor.enqueue(request("c1"))    # EWT 180 s < 600 s
    await p.settle()
    assert p.phone.heard_by("c1") and p.phone.offers == []
    p.room.stop()
    await p.store.close()


@pytest_twisted.ensureDeferred
async def test_accepted_callback_keeps_its_place_and_the_hang_up_is_no_abandon(
    fresh_redis: RedisServer,
) -> None:
    clock = virtual_clock()
    p = await start(fresh_redis, config(), clock)
    await accepted(p, "c1")
    await p.distributor.enqueue(request("c2"))
    await p.settle()
    assert [f[1:3] for f in p.phone.farewells] == [("PJSIP/trunk-c1", ["goodbye"])]
    assert p.room.watching == {"c2"}
    assert not await p.distributor.abandon("c1")  # the caller hangs up, as asked
    record = await p.queues.call("c1")
    assert record is not None and record.state is CallState.QUEUED
    assert record.fields["callback"] == NUMBER
    assert await p.queues.position("c1") == 1
    assert (await counters(p, clock.seconds())).abandoned == 0
    assert events(fresh_redis, "c1") == ["offered", "queued", "callback_accepted"]
    clock.advance(3600)                           # no announcements, no maximum wait
    await p.settle()
    assert len(p.phone.heard_by("c1")) == 1
    assert (await p.queues.call("c1")).state is CallState.QUEUED  # type: ignore[union-attr]
    p.room.stop()
    await p.store.close()


@pytest_twisted.ensureDeferred
async def test_too_late_when_an_agent_already_rings_for_the_call(
    fresh_redis: RedisServer,
) -> None:
    clock = virtual_clock()
    p = await start(fresh_redis, config(), clock)
    await p.distributor.login("1001")
    await p.distributor.enqueue(request("c1"))
    await p.settle()
    assert not await p.queues.mark_callback("c1", NUMBER, clock.seconds())
    with pytest.raises(ValueError, match="digits only"):
        await p.queues.mark_callback("c1", "0811;x", clock.seconds())
    p.room.stop()
    await p.store.close()


@pytest_twisted.ensureDeferred
async def test_agent_first_then_the_caller_is_dialled_and_talks(
    fresh_redis: RedisServer,
) -> None:
    clock = virtual_clock()
    p = await start(fresh_redis, config(), clock)
    await accepted(p, "c1")
    await p.distributor.login("1001")
    await p.settle()
    assert p.phone.ringing_agent("c1") == "1001"
    assert p.phone.callbacks == {"c1": NUMBER}
    p.phone.answer("c1")                          # the agent, then the caller, answered
    await p.settle()
    assert (await p.queues.call("c1")).state is CallState.CONNECTED  # type: ignore[union-attr]
    # A restarted process must follow the caller's new channel, not the one that hung up.
    assert (await p.queues.call("c1")).fields["channel"] == f"Local/{NUMBER}@callback"  # type: ignore[union-attr]
    p.phone.hang_up("c1")
    await p.settle()
    record = await p.queues.call("c1")
    assert record is not None and record.state is CallState.FINISHED
    assert (await p.queues.agent("1001")).state.status.value == "wrap_up"
    p.room.stop()
    p.distributor.stop()
    await p.store.close()


@pytest_twisted.ensureDeferred
async def test_unanswered_callback_retried_at_its_place_then_recorded_failed(
    fresh_redis: RedisServer,
) -> None:
    clock = virtual_clock()
    p = await start(fresh_redis, config(), clock)
    d = p.distributor
    await accepted(p, "c1")
    await d.enqueue(request("c2"))
    await p.settle()
    await d.login("1001")
    await p.settle()
    p.phone.caller_gone("c1")          # the agent answered, the caller did not
    await p.settle()
    record = await p.queues.call("c1")
    assert record is not None and record.state is CallState.CALLED_BACK
    assert await p.queues.queue("billing") == []          # out of line until the retry ...
    assert p.phone.ringing_agent("c2") == "1001"           # ... and the agent was released
    clock.advance(60)
    await p.settle()
    assert [c for c, _, _ in await p.queues.queue("billing")] == ["c1"]
    p.phone.no_answer("c2")            # c2 goes back behind c1: c1 kept its place
    await p.settle()
    assert [c for c, _, _ in await p.queues.queue("billing")] == ["c1", "c2"]
    await d.ready("1001")
    await p.settle()
    assert p.phone.ringing_agent("c1") == "1001"
    p.phone.caller_gone("c1")          # the second and last attempt
    await p.settle()
    record = await p.queues.call("c1")
    assert record is not None and record.state is CallState.FINISHED
    assert record.fields["outcome"] == "callback_failed"
    assert record.fields["callback_tries"] == "2"
    assert "c1" not in await p.queues.live_calls()
    trail = [e for e in events(fresh_redis, "c1") if e.startswith(("callback", "queued"))]
    assert trail == ["queued", "callback_accepted", "callback_retry", "queued",
                     "callback_failed"]
    assert p.phone.ringing_agent("c2") == "1001"           # the agent goes on with c2
    assert d.callbacks.waiting == frozenset()
    p.room.stop()
    await p.store.close()


@pytest_twisted.ensureDeferred
async def test_a_restarted_process_retries_the_waiting_callback(
    fresh_redis: RedisServer,
) -> None:
    clock = virtual_clock()
    cfg = config(callback_attempts=3)
    p = await start(fresh_redis, cfg, clock)
    await accepted(p, "c1")
    await p.distributor.login("1001")
    await p.settle()
    p.phone.caller_gone("c1")
    await p.settle()
    p.distributor.stop()                # the process dies with its retry timer
    q = await start(fresh_redis, cfg, clock)
    await q.distributor.pause("1001", "break")
    await q.distributor.recover()
    assert q.distributor.callbacks.waiting == {"c1"}
    clock.advance(60)
    await q.settle()
    assert await q.queues.position("c1") == 1
    assert SITE in q.queues.keys.prefix
    p.room.stop()
    q.room.stop()
    await p.store.close()
    await q.store.close()
