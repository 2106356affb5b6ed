"""The WaitingRoom on a real Redis with a fake telephony and a virtual clock: announcements
(times, positions, EWT), where they stop, and the maximum wait's fallbacks."""

from __future__ import annotations

from dataclasses import replace

import pytest
import pytest_twisted

from acd.queues.records import CallState
from acd.settings import AcdSettings, AgentSpec, QueueSettings
from tests.doubles.acd import SITE, T0, agent, request, settings, virtual_clock
from tests.fixtures.redis_server import RedisServer
from tests.integration.acd.waiting_helpers import audit, counters, start

pytestmark = pytest.mark.redis


@pytest_twisted.ensureDeferred
async def test_announced_on_entry_and_every_interval_position_only_when_unstaffed(
    fresh_redis: RedisServer,
) -> None:
    clock = virtual_clock()
    p = await start(fresh_redis, settings(announce_every_s=30.0), clock)
    await p.distributor.enqueue(request("c1"))
    await p.settle()
    clock.advance(1)
    await p.distributor.enqueue(request("c2"))
    await p.settle()
    for _ in range(61):
        clock.advance(1)
        await p.settle()
    assert p.phone.heard_by("c1") == [(T0, 1, None), (T0 + 30, 1, None), (T0 + 60, 1, None)]
    assert p.phone.heard_by("c2") == [(T0 + 1, 2, None), (T0 + 31, 2, None),
                                      (T0 + 61, 2, None)]
    assert p.room.watching == {"c1", "c2"}
    p.room.stop()
    await p.store.close()


@pytest_twisted.ensureDeferred
async def test_ewt_from_position_and_staffed_agents_announced_rounded_up(
    fresh_redis: RedisServer,
) -> None:
    clock = virtual_clock()
    p = await start(fresh_redis, settings(agent("1001"), agent("1002")), clock)
    d = p.distributor
    await d.login("1001")
    await d.login("1002")
    await d.enqueue(request("c1"))   # both agents ring: 2 staffed, nobody handled yet
    await d.enqueue(request("c2"))
    await p.settle()
    await d.enqueue(request("c3"))
    await d.enqueue(request("c4"))
    await d.enqueue(request("c5"))
    await p.settle()
    # EWT = position x AHT (180 s before any call was handled) / 2 agents, in whole minutes
    assert [p.phone.heard_by(c)[0][1:] for c in ("c3", "c4", "c5")] == [
        (1, 120.0), (2, 180.0), (3, 300.0)]
    p.room.stop()
    await p.store.close()


@pytest_twisted.ensureDeferred
async def test_silent_while_an_agent_rings_again_after_no_answer_and_stops_on_answer(
    fresh_redis: RedisServer,
) -> None:
    clock = virtual_clock()
    p = await start(fresh_redis, settings(agent("1001")), clock)
    d = p.distributor
    await d.login("1001")
    await d.pause("1001", "break")   # paused: not staffed for EWT
    await d.enqueue(request("c1"))
    await p.settle()
    assert p.phone.heard_by("c1") == [(T0, 1, None)]
    clock.advance(10)
    await d.ready("1001")            # rings for c1
    await p.settle()
    clock.advance(20)                # T0+30: the call is with an agent: nothing to say
    await p.settle()
    assert p.phone.heard_by("c1") == [(T0, 1, None)]
    assert p.room.watching == {"c1"}
    p.phone.no_answer("c1")          # back to its place, the agent paused
    await p.settle()
    clock.advance(30)                # T0+60
    await p.settle()
    assert p.phone.heard_by("c1") == [(T0, 1, None), (T0 + 60, 1, None)]
    await d.ready("1001")
    await p.settle()
    p.phone.answer("c1")
    await p.settle()
    clock.advance(30)                # T0+90: answered: the room lets it go
    await p.settle()
    assert p.phone.heard_by("c1") == [(T0, 1, None), (T0 + 60, 1, None)]
    assert p.room.watching == frozenset()
    assert clock.getDelayedCalls() == []            # no timer left behind
    await p.store.close()


@pytest_twisted.ensureDeferred
async def test_abandon_stops_the_announcements_at_once(fresh_redis: RedisServer) -> None:
    clock = virtual_clock()
    p = await start(fresh_redis, settings(), clock)
    await p.distributor.enqueue(request("c1"))
    await p.settle()
    clock.advance(12)
    assert await p.distributor.abandon("c1")
    assert p.room.watching == frozenset()
    assert clock.getDelayedCalls() == []
    clock.advance(60)
    await p.settle()
    assert p.phone.heard_by("c1") == [(T0, 1, None)]
    await p.store.close()


@pytest_twisted.ensureDeferred
async def test_each_process_announces_only_its_own_callers(fresh_redis: RedisServer) -> None:
    clock = virtual_clock()
    config = settings(agent("1001"))
    a = await start(fresh_redis, config, clock)
    b = await start(fresh_redis, config, clock)
    await a.distributor.enqueue(request("c1"))
    await b.distributor.enqueue(request("c2"))
    await a.settle()
    await b.settle()
    assert [h[1:3] for h in a.phone.heard] == [("PJSIP/trunk-c1", 1)]
    assert [h[1:3] for h in b.phone.heard] == [("PJSIP/trunk-c2", 2)]
    await b.distributor.login("1001")      # process b's agent takes a's caller
    await b.settle()
    b.phone.answer("c1")
    await b.settle()
    clock.advance(30)
    await a.settle()
    await b.settle()
    assert a.room.watching == frozenset()
    assert [h[1:3] for h in a.phone.heard] == [("PJSIP/trunk-c1", 1)]
    assert [h[1:3] for h in b.phone.heard] == [("PJSIP/trunk-c2", 2), ("PJSIP/trunk-c2", 1)]
    b.room.stop()
    await a.store.close()
    await b.store.close()


@pytest_twisted.ensureDeferred
async def test_adopt_after_a_restart_watches_only_waiting_calls(
    fresh_redis: RedisServer,
) -> None:
    clock = virtual_clock()
    config = settings()
    a = await start(fresh_redis, config, clock)
    await a.distributor.enqueue(request("c1"))
    await a.distributor.enqueue(request("c2"))
    await a.settle()
    assert await a.distributor.abandon("c2")
    a.room.stop()
    b = await start(fresh_redis, config, clock)   # the restarted process
    assert await b.room.adopt("c1")
    assert not await b.room.adopt("c2")
    assert not await b.room.adopt("nope")
    await b.settle()
    assert [h[1:3] for h in b.phone.heard] == [("PJSIP/trunk-c1", 1)]
    b.room.stop()
    await a.store.close()
    await b.store.close()


# -- the maximum wait ----------------------------------------------------------------------

def max_wait_settings(fallback: str, *agents: AgentSpec) -> AcdSettings:
    base = settings(*agents, announce_every_s=30.0)
    return replace(base, queues={**base.queues, "billing": QueueSettings(
        "billing", wrapup_s=10.0, max_wait_s=100.0, max_wait_fallback=fallback)})


@pytest_twisted.ensureDeferred
async def test_max_wait_callback_fallback_apology_then_hang_up(
    fresh_redis: RedisServer,
) -> None:
    clock = virtual_clock()
    config = max_wait_settings("callback", agent("1001"))
    p = await start(fresh_redis, config, clock)
    await p.distributor.enqueue(request("c1"))
    await p.settle()
    for _ in range(99):
        clock.advance(1)
        await p.settle()
    assert p.phone.farewells == []
    assert [t for t, _, _ in p.phone.heard_by("c1")] == [T0, T0 + 30, T0 + 60, T0 + 90]
    clock.advance(1)                                   # T0+100: the maximum wait
    await p.settle()
    assert p.phone.farewells == [(T0 + 100, "PJSIP/trunk-c1", ["queue-apology", "pln-mobile"],
                                  "id", "")]
    call = await p.queues.call("c1")
    assert call is not None and call.state is CallState.FINISHED
    assert call.fields["outcome"] == "max_wait"
    assert await p.queues.queue("billing") == []
    assert await p.queues.live_calls() == set()
    assert p.room.watching == frozenset()
    # no agent is reserved for it afterwards
    assert (await p.distributor.login("1001")).status.value == "ready"
    await p.settle()
    assert p.phone.connected == []
    c = await counters(p, T0)
    assert (c.offered, c.max_wait, c.abandoned, c.longest_wait) == (1, 1, 0, 100.0)
    event = [e for e in audit(fresh_redis) if e["event"] == "max_wait"]
    assert [(e["call"], e["state"], e["fallback"], e["waited"]) for e in event] == [
        ("c1", "finished", "apology", "100.000")]
    clock.advance(300)
    await p.settle()
    assert len(p.phone.heard_by("c1")) == 4
    await p.store.close()


@pytest_twisted.ensureDeferred
async def test_max_wait_callback_fallback_offers_a_callback_that_keeps_the_place(
    fresh_redis: RedisServer,
) -> None:
    clock = virtual_clock()
    config = max_wait_settings("callback", agent("1001"))
    p = await start(fresh_redis, config, clock)
    await p.distributor.enqueue(request("c1"))
    await p.distributor.enqueue(request("c2"))
    await p.settle()
    for _ in range(99):
        clock.advance(1)
        await p.settle()
    assert p.phone.farewells == []          # declined at the first offer (no answer given)
    p.phone.accept_callback = "07115550001"  # at the maximum wait the caller accepts
    clock.advance(1)
    await p.settle()
    assert [f[2] for f in p.phone.farewells][:1] == [["goodbye"]]
    call = await p.queues.call("c1")
    assert call is not None and call.state is CallState.QUEUED
    assert call.fields.get("callback") == "07115550001"
    assert [call_id for call_id, _p, _t in await p.queues.queue("billing")][:1] == ["c1"]
    assert not await p.distributor.abandon("c1")  # its hang-up is no abandon
    await p.store.close()


@pytest_twisted.ensureDeferred
async def test_max_wait_ticket_fallback_files_a_ticket_and_reads_its_number(
    fresh_redis: RedisServer,
) -> None:
    clock = virtual_clock()
    p = await start(fresh_redis, max_wait_settings("ticket"), clock)
    await p.distributor.enqueue(replace(request("c1"), idpel="123456789012"))
    await p.distributor.enqueue(request("c2"))            # no IDPEL: the apology
    await p.settle()
    clock.advance(100)
    await p.settle()
    by_channel = {f[1]: f for f in p.phone.farewells}
    _, _, prompts, _, number = by_channel["PJSIP/trunk-c1"]
    assert prompts == ["queue-apology", "ticket-created"] and number.isdigit()
    ticket = await p.tickets.find(number)
    assert ticket is not None
    assert (ticket.idpel, ticket.call_id, ticket.category, ticket.site) == (
        "123456789012", "c1", "max_wait", SITE)
    assert by_channel["PJSIP/trunk-c2"][2:] == (["queue-apology", "pln-mobile"], "id", "")
    fallbacks = {e["call"]: e["fallback"] for e in audit(fresh_redis)
                 if e["event"] == "max_wait"}
    assert fallbacks == {"c1": "ticket", "c2": "apology"}
    await p.store.close()


@pytest_twisted.ensureDeferred
async def test_max_wait_waits_while_an_agent_rings_then_applies(
    fresh_redis: RedisServer,
) -> None:
    clock = virtual_clock()
    config = max_wait_settings("callback", agent("1001"))
    p = await start(fresh_redis, config, clock)
    d = p.distributor
    await d.login("1001")
    await d.pause("1001", "break")
    await d.enqueue(request("c1"))
    await p.settle()
    clock.advance(95)
    await d.ready("1001")                             # rings for c1 at T0+95
    await p.settle()
    clock.advance(5)                                  # T0+100: ringing, no fallback
    await p.settle()
    assert p.phone.farewells == []
    clock.advance(10)
    p.phone.no_answer("c1")                           # T0+110: back in the queue
    await p.settle()
    clock.advance(20)                                 # the next tick: the fallback
    await p.settle()
    assert [f[0] for f in p.phone.farewells] == [T0 + 130]
    await p.store.close()
