"""The Distributor on a real Redis with a hand-driven telephony and a virtual clock."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest
import pytest_twisted
from structlog.testing import capture_logs
from twisted.internet.defer import Deferred, gatherResults
from twisted.internet.task import Clock

from acd.agents.state import NO_ANSWER, AgentEvent, AgentState, AgentStatus, IllegalTransition
from acd.distributor import UnknownAgent
from acd.queues.records import CallState
from acd.queues.scripts import ScriptError, ScriptRunner
from acd.queues.store import pool_rules
from acd.store.keys import SiteKeys
from acd.store.redis import RedisStore
from acd.telephony import Connection
from tests.doubles.acd import SITE, T0, agent, request, settings, virtual_clock
from tests.doubles.telephony import FakeTelephony
from tests.fixtures.redis_server import RedisServer
from tests.harness.acd import Acd, start_acd

pytestmark = pytest.mark.redis

READY = AgentState(AgentStatus.READY)
RESERVED = AgentState(AgentStatus.RESERVED)


@pytest_twisted.ensureDeferred
async def test_a_call_rings_the_longest_idle_ready_agent(fresh_redis: RedisServer) -> None:
    clock, phone = virtual_clock(), FakeTelephony()
    acd = await start_acd(fresh_redis, settings(agent("1001"), agent("1002")), phone, clock)
    d = acd.distributor
    assert await d.login("1002") == READY
    clock.advance(5)
    assert await d.login("1001") == READY
    placement = await d.enqueue(request("c1"))
    await d.settle()
    assert placement.position == 0
    assert phone.connected == [Connection("c1", "PJSIP/trunk-c1", "1002", "PJSIP/1002", 15.0,
                                          "071155500c1", caller_label="sumsel")]
    record = await acd.queues.agent("1002")
    assert (record.state, record.call) == (RESERVED, "c1")
    call = await acd.queues.call("c1")
    assert call is not None and (call.state, call.agent) == (CallState.RESERVED, "1002")
    await acd.store.close()


@pytest_twisted.ensureDeferred
async def test_waiting_calls_are_ordered_by_priority_then_enqueue_time(
    fresh_redis: RedisServer,
) -> None:
    clock, phone = virtual_clock(), FakeTelephony()
    acd = await start_acd(fresh_redis, settings(agent("1001")), phone, clock)
    d = acd.distributor
    positions = []
    for call_id, priority in (("c1", 5), ("c2", 5), ("c3", 1), ("c4", 9), ("c5", 1)):
        positions.append((await d.enqueue(request(call_id, priority=priority))).position)
        clock.advance(1)
    assert positions == [1, 2, 1, 4, 2]
    queue = await acd.queues.queue("billing")
    assert [(c, p) for c, p, _ in queue] == [("c3", 1), ("c5", 1), ("c1", 5), ("c2", 5),
                                             ("c4", 9)]
    assert queue[0][2] == T0 + 2
    assert await acd.queues.position("c2") == 4
    assert await acd.queues.waiting(["billing", "outage"]) == {"billing": 5, "outage": 0}
    assert await d.login("1001") == RESERVED
    await d.settle()
    assert [c.call_id for c in phone.connected] == ["c3"]
    await acd.store.close()


@pytest_twisted.ensureDeferred
async def test_a_ready_agent_takes_the_best_call_across_skills(fresh_redis: RedisServer) -> None:
    clock, phone = virtual_clock(), FakeTelephony()
    both = agent("1001", billing=5, outage=3)
    acd = await start_acd(fresh_redis, settings(both), phone, clock)
    d = acd.distributor
    await d.enqueue(request("b1", "billing", priority=5))
    clock.advance(1)
    await d.enqueue(request("o1", "outage", priority=5))
    clock.advance(1)
    await d.enqueue(request("o2", "outage", priority=2))
    await d.login("1001")
    await d.settle()
    assert [c.call_id for c in phone.connected] == ["o2"]   # priority first
    phone.caller_gone("o2")
    await d.settle()
    assert [c.call_id for c in phone.connected] == ["o2", "b1"]  # then the longest waiting
    await acd.store.close()


@pytest_twisted.ensureDeferred
async def test_answer_talk_wrap_up_then_ready_takes_the_next_call(
    fresh_redis: RedisServer,
) -> None:
    clock, phone = virtual_clock(), FakeTelephony()
    seen: list[tuple[str, AgentEvent, AgentStatus]] = []
    acd = await start_acd(fresh_redis, settings(agent("1001")), phone, clock,
                          observer=lambda _s, a, t: seen.append((a, t.event, t.after.status)))
    d = acd.distributor
    with capture_logs() as logs:
        await d.login("1001")
        await d.enqueue(request("c1"))
        await d.enqueue(request("c2"))
        await d.settle()
        clock.advance(4)
        phone.answer("c1")
        await d.settle()
        assert (await acd.queues.agent("1001")).state.status is AgentStatus.ON_CALL
        clock.advance(60)
        phone.hang_up("c1")
        await d.settle()
    # An agent's own command is an info line; what every answered call does, debug.
    levels = {e["agent_event"]: e["log_level"] for e in logs if e["event"] == "agent_changed"}
    assert levels.pop("login") == "info"
    assert set(levels.values()) == {"debug"}
    assert (await acd.queues.agent("1001")).state.status is AgentStatus.WRAP_UP
    call = await acd.queues.call("c1")
    assert call is not None and call.state is CallState.FINISHED
    clock.advance(9.9)
    await d.settle()
    assert "c2" not in phone.rings
    clock.advance(0.1)  # billing's wrap-up is 10 s
    await d.settle()
    assert phone.ringing_agent("c2") == "1001"
    assert seen == [
        ("1001", AgentEvent.LOGIN, AgentStatus.READY),
        ("1001", AgentEvent.RESERVE, AgentStatus.RESERVED),
        ("1001", AgentEvent.ANSWER, AgentStatus.ON_CALL),
        ("1001", AgentEvent.CALL_END, AgentStatus.WRAP_UP),
        ("1001", AgentEvent.WRAPUP_DONE, AgentStatus.READY),
        ("1001", AgentEvent.RESERVE, AgentStatus.RESERVED),
    ]
    await acd.store.close()


@pytest_twisted.ensureDeferred
async def test_ring_no_answer_requeues_at_the_head_and_pauses_the_agent(
    fresh_redis: RedisServer,
) -> None:
    clock, phone = virtual_clock(), FakeTelephony()
    acd = await start_acd(fresh_redis, settings(agent("1001"), agent("1002")), phone, clock)
    d = acd.distributor
    await d.login("1001")
    await d.enqueue(request("c1"))
    clock.advance(1)
    await d.enqueue(request("c2"))
    await d.settle()
    clock.advance(15)
    phone.no_answer("c1")
    await d.settle()
    record = await acd.queues.agent("1001")
    assert record.state == AgentState(AgentStatus.PAUSED, NO_ANSWER)
    assert [c for c, _, _ in await acd.queues.queue("billing")] == ["c1", "c2"]
    call = await acd.queues.call("c1")
    assert call is not None and call.enqueued_at == T0 and call.fields["no_answer"] == "1"
    await d.login("1002")
    await d.settle()
    assert phone.ringing_agent("c1") == "1002"
    await acd.store.close()


@pytest_twisted.ensureDeferred
async def test_caller_gone_while_ringing_frees_the_agent_without_penalty(
    fresh_redis: RedisServer,
) -> None:
    clock, phone = virtual_clock(), FakeTelephony()
    acd = await start_acd(fresh_redis, settings(agent("1001"), agent("1002")), phone, clock)
    d = acd.distributor
    await d.login("1001")
    clock.advance(1)
    await d.login("1002")
    await d.enqueue(request("c1"))
    await d.settle()
    assert phone.ringing_agent("c1") == "1001"
    clock.advance(3)
    phone.caller_gone("c1")
    await d.settle()
    record = await acd.queues.agent("1001")
    assert record.state == READY and record.idle_since == T0  # still first in line
    call = await acd.queues.call("c1")
    assert call is not None and call.state is CallState.ABANDONED
    await d.enqueue(request("c2"))
    await d.settle()
    assert phone.ringing_agent("c2") == "1001"
    await acd.store.close()


@pytest_twisted.ensureDeferred
async def test_logout_during_a_call_leaves_after_it(fresh_redis: RedisServer) -> None:
    clock, phone = virtual_clock(), FakeTelephony()
    acd = await start_acd(fresh_redis, settings(agent("1001")), phone, clock)
    d = acd.distributor
    await d.login("1001")
    await d.enqueue(request("c1"))
    await d.settle()
    phone.answer("c1")
    await d.settle()
    state = await d.logout("1001")
    assert state == AgentState(AgentStatus.ON_CALL, pending_logout=True)
    await d.enqueue(request("c2"))
    phone.hang_up("c1")
    await d.settle()
    assert (await acd.queues.agent("1001")).state == AgentState(AgentStatus.LOGGED_OUT)
    assert await acd.queues.position("c2") == 1
    await acd.store.close()


@pytest_twisted.ensureDeferred
async def test_after_escalation_the_most_skilled_agent_comes_first(
    fresh_redis: RedisServer,
) -> None:
    clock, phone = virtual_clock(), FakeTelephony()
    roster = (agent("1001", billing=2), agent("1002", billing=9), agent("1003", billing=5))
    acd = await start_acd(fresh_redis, settings(*roster), phone, clock)
    d = acd.distributor
    await d.login("1003")
    await d.enqueue(request("c1"))
    clock.advance(1)
    await d.login("1001")   # level 2, idle longest
    clock.advance(1)
    await d.login("1002")   # level 9
    await d.settle()
    clock.advance(30)
    phone.no_answer("c1")   # back in line after 32 s > escalation 30 s: the expert first
    await d.settle()
    assert phone.ringing_agent("c1") == "1002"
    await d.enqueue(request("c2"))   # a new call: the longest idle, whatever the level
    await d.settle()
    assert phone.ringing_agent("c2") == "1001"
    await acd.store.close()


@pytest_twisted.ensureDeferred
async def test_abandon_while_queued_and_illegal_operations(fresh_redis: RedisServer) -> None:
    clock, phone = virtual_clock(), FakeTelephony()
    acd = await start_acd(fresh_redis, settings(agent("1001")), phone, clock)
    d = acd.distributor
    await d.enqueue(request("c1"))
    assert await d.abandon("c1") is True
    assert await d.abandon("c1") is False
    assert await acd.queues.waiting(["billing"]) == {"billing": 0}
    with pytest.raises(IllegalTransition, match="logged_out cannot pause"):
        await d.pause("1001", "lunch")
    with pytest.raises(UnknownAgent):
        await d.login("9999")
    await d.login("1001")
    with pytest.raises(IllegalTransition):
        await d.login("1001")
    assert await d.pause("1001", "lunch") == AgentState(AgentStatus.PAUSED, "lunch")
    assert await d.pause("1001", "toilet") == AgentState(AgentStatus.PAUSED, "toilet")
    with pytest.raises(ValueError, match="this queue store serves 'palembang'"):
        await d.enqueue(replace(request("c9"), site="medan"))
    await acd.store.close()


@pytest_twisted.ensureDeferred
async def test_a_retried_enqueue_rings_nobody_twice(fresh_redis: RedisServer) -> None:
    clock, phone = virtual_clock(), FakeTelephony()
    acd = await start_acd(fresh_redis, settings(agent("1001"), agent("1002")), phone, clock)
    d = acd.distributor
    await d.login("1001")
    await d.login("1002")
    first = await d.enqueue(request("c1"))
    again = await d.enqueue(request("c1"))
    await d.settle()
    assert (first.position, again.position) == (0, 0)
    assert len(phone.connected) == 1
    await acd.store.close()


@pytest_twisted.ensureDeferred
async def test_two_processes_never_reserve_one_agent_twice(fresh_redis: RedisServer) -> None:
    clock, phone = virtual_clock(), FakeTelephony()
    roster = tuple(agent(str(1001 + i)) for i in range(5))
    config = settings(*roster)
    a = await start_acd(fresh_redis, config, phone, clock)
    b = await start_acd(fresh_redis, config, phone, clock)
    await gatherResults([a.distributor.login(s.id) for s in roster[:3]]
                        + [b.distributor.login(s.id) for s in roster[3:]])
    await gatherResults([(a if i % 2 else b).distributor.enqueue(request(f"c{i:02}"))
                         for i in range(20)])
    await a.distributor.settle()
    await b.distributor.settle()
    assert len(phone.connected) == 5   # FakeTelephony raises on a double booking
    assert len({c.agent_id for c in phone.connected}) == 5
    assert await a.queues.waiting(["billing"]) == {"billing": 15}
    await a.store.close()
    await b.store.close()


@pytest_twisted.ensureDeferred
async def test_resume_rearms_wrap_up_after_a_restart(fresh_redis: RedisServer) -> None:
    clock, phone = virtual_clock(), FakeTelephony()
    config = settings(agent("1001"))
    first = await start_acd(fresh_redis, config, phone, clock)
    await first.distributor.login("1001")
    await first.distributor.enqueue(request("c1"))
    await first.distributor.settle()
    phone.answer("c1")
    await first.distributor.settle()
    phone.hang_up("c1")
    await first.distributor.settle()
    first.distributor.stop()   # "killed" during wrap-up
    await first.store.close()
    clock.advance(4)
    second = await start_acd(fresh_redis, config, phone, clock)
    await second.distributor.resume()
    clock.advance(5.9)
    await second.distributor.settle()
    assert (await second.queues.agent("1001")).state.status is AgentStatus.WRAP_UP
    clock.advance(0.1)
    await second.distributor.settle()
    assert (await second.queues.agent("1001")).state == READY
    await second.store.close()


async def killed_while_ringing(fresh_redis: RedisServer, clock: Clock,
                               resumable: bool) -> tuple[Acd, FakeTelephony]:
    """c1 rings 1001 when its process dies; the next process's telephony still has that
    ring (`resumable`: Asterisk rings on) or not. Returns the new process, recovered."""
    config = settings(agent("1001"))
    first = await start_acd(fresh_redis, config, FakeTelephony(), clock)
    await first.distributor.login("1001")
    await first.distributor.enqueue(request("c1"))
    await first.distributor.settle()
    first.distributor.stop()
    await first.store.close()
    phone = FakeTelephony(resumable={"c1"} if resumable else set())
    second = await start_acd(fresh_redis, config, phone, clock)
    await second.distributor.recover()
    await second.distributor.settle()
    return second, phone


@pytest_twisted.ensureDeferred
async def test_a_ring_that_outlived_its_process_is_followed_by_the_next(
        fresh_redis: RedisServer) -> None:
    acd, phone = await killed_while_ringing(fresh_redis, virtual_clock(), resumable=True)
    [resumed] = phone.resumed
    assert (resumed.call_id, resumed.agent_id, resumed.caller_channel) == (
        "c1", "1001", "PJSIP/trunk-c1")
    assert phone.connected == []                   # followed, not rung again
    assert "c1" in acd.distributor.ringing
    phone.answer("c1")
    await acd.distributor.settle()
    record = await acd.queues.agent("1001")
    assert (record.state.status, record.call) == (AgentStatus.ON_CALL, "c1")
    await acd.store.close()


@pytest_twisted.ensureDeferred
async def test_a_ring_lost_with_its_process_requeues_and_pauses_the_agent(
        fresh_redis: RedisServer) -> None:
    acd, phone = await killed_while_ringing(fresh_redis, virtual_clock(), resumable=False)
    assert [c.call_id for c in phone.resumed] == ["c1"]
    record = await acd.queues.agent("1001")
    assert record.state == AgentState(AgentStatus.PAUSED, NO_ANSWER)
    assert await acd.queues.position("c1") == 1
    await acd.store.close()


@pytest_twisted.ensureDeferred
async def test_a_failing_operation_fails_alone_in_its_batch(fresh_redis: RedisServer) -> None:
    store = RedisStore(fresh_redis.unix_url)
    await store.start()
    keys = SiteKeys(SITE, SITE)   # a site in no pool is a pool of its own
    runner = ScriptRunner(store, keys.live, max_in_flight=1)
    head = "\x1f".join([keys.pool_prefix, SITE, "100", "20", "30", "0", f"{T0:.3f}",
                        pool_rules(settings().pooling, SITE)])
    first = runner.call("noop", head)
    await _next_turn()                          # first is on the wire: the next two wait
    bad = runner.call("remove_call", head)      # together; no call id: the Lua fails
    good = runner.call("noop", head)
    assert await first == 1
    with pytest.raises(ScriptError, match="remove_call"):
        await bad
    assert await good == 1
    assert runner.batches == 2
    with pytest.raises(KeyError):
        runner.call("flushall", head)
    await store.close()


@pytest_twisted.ensureDeferred
async def test_operations_asked_for_in_one_turn_share_one_round_trip(
        fresh_redis: RedisServer) -> None:
    store = RedisStore(fresh_redis.unix_url)
    await store.start()
    keys = SiteKeys(SITE, SITE)
    runner = ScriptRunner(store, keys.live)
    head = "\x1f".join([keys.pool_prefix, SITE, "100", "20", "30", "0", f"{T0:.3f}",
                        pool_rules(settings().pooling, SITE)])
    replies = await gatherResults([runner.call("noop", head) for _ in range(5)])
    assert replies == [1] * 5
    assert runner.batches == 1
    await store.close()


async def _next_turn() -> None:
    """One turn of the event loop: what the runner waits for before it sends a batch."""
    await Deferred.fromFuture(asyncio.ensure_future(asyncio.sleep(0)))
