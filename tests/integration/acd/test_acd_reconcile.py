"""Reconciliation after an AMI (re)connect, on a real Redis with a hand-driven telephony:
Asterisk lost calls without telling (a crash, a restart, a hang-up while the link was
down), and Redis is made to agree. Ghost calls end as their callers would have ended them
(counted like a hang-up), agents are freed by their own rules, and callers are matched by
their channel's Uniqueid, never by a name Asterisk hands out again after a restart."""

from __future__ import annotations

from dataclasses import replace

import pytest
import pytest_twisted
import redis
from twisted.internet.defer import Deferred, fail

from acd.agents.state import NO_ANSWER, AgentState, AgentStatus
from acd.intake import QueueRequest
from acd.queues.metrics import Counters, SiteMetrics
from acd.queues.records import CallState
from acd.store.keys import SiteKeys
from tests.doubles.acd import SITE, T0, agent, request, settings, virtual_clock
from tests.doubles.telephony import FakeTelephony
from tests.fixtures.redis_server import RedisServer
from tests.harness.acd import Acd, start_acd

pytestmark = pytest.mark.redis

CONFIG = settings(agent("1001"), agent("1002"))


def caller(call_id: str, uniqueid: str | None = None) -> QueueRequest:
    """A caller whose channel has a Uniqueid; its name repeats across restarts."""
    return replace(request(call_id), channel="Local/0711123@in-00000001;2",
                   uniqueid=uniqueid or f"1765000000.{call_id}")


def audit(server: RedisServer) -> list[dict[str, str]]:
    client = redis.Redis(unix_socket_path=str(server.unix_socket), decode_responses=True)
    return [fields for _, fields in client.xrange(SiteKeys(SITE, SITE).audit)]


async def counters(acd: Acd) -> Counters:
    return await SiteMetrics(acd.store, SITE, acd.queues.settings).interval("billing", T0)


async def status(acd: Acd, agent_id: str) -> AgentStatus:
    return (await acd.queues.agent(agent_id)).state.status


async def state(acd: Acd, call_id: str) -> CallState | None:
    call = await acd.queues.call(call_id)
    return None if call is None else call.state


async def talking_and_queued(server: RedisServer, phone: FakeTelephony) -> Acd:
    """1001 talks to c1, c2 waits (1002 is not logged in); the process is up."""
    acd = await start_acd(server, CONFIG, phone, virtual_clock())
    d = acd.distributor
    await d.reconcile()                       # the first login: nothing to recover
    await d.login("1001")
    await d.enqueue(caller("c1"))
    await d.enqueue(caller("c2"))
    await d.settle()
    phone.answer("c1")
    await d.settle()
    assert await state(acd, "c1") is CallState.CONNECTED
    assert await state(acd, "c2") is CallState.QUEUED
    return acd


@pytest_twisted.ensureDeferred
async def test_the_uniqueid_is_recorded_at_enqueue(fresh_redis: RedisServer) -> None:
    acd = await start_acd(fresh_redis, CONFIG, FakeTelephony(), virtual_clock())
    await acd.distributor.enqueue(caller("c1", "1765000000.42"))
    call = await acd.queues.call("c1")
    assert call is not None and call.fields["uniqueid"] == "1765000000.42"
    await acd.store.close()


@pytest_twisted.ensureDeferred
async def test_a_caller_who_hung_up_while_the_link_was_down_is_abandoned(
        fresh_redis: RedisServer) -> None:
    phone = FakeTelephony()
    acd = await talking_and_queued(fresh_redis, phone)
    phone.dead.add("1765000000.c2")         # no Hangup event ever reaches pln123
    await acd.distributor.reconcile()       # the AMI link is back
    await acd.distributor.settle()
    assert await state(acd, "c2") is CallState.ABANDONED
    assert await acd.queues.waiting(["billing"]) == {"billing": 0}
    c = await counters(acd)
    assert c.abandoned == 1                 # counted like any hang-up in the queue
    assert [e["event"] for e in audit(fresh_redis) if e["call"] == "c2"][-1] == "abandoned"
    assert await status(acd, "1001") is AgentStatus.ON_CALL   # the talk goes on
    await acd.store.close()


@pytest_twisted.ensureDeferred
async def test_callers_are_matched_by_uniqueid_never_by_a_name_that_came_back(
        fresh_redis: RedisServer) -> None:
    phone = FakeTelephony()
    acd = await talking_and_queued(fresh_redis, phone)
    # After an Asterisk restart a new caller has c2's channel name: c2 is still gone.
    phone.dead.add("1765000000.c2")
    await acd.distributor.reconcile()
    await acd.distributor.settle()
    assert await state(acd, "c2") is CallState.ABANDONED
    assert "Local/0711123@in-00000001;2" not in phone.asked_alive
    # The other way round: the name is gone, the Uniqueid lives (a renamed channel).
    await acd.distributor.enqueue(caller("c3"))
    phone.dead = {"Local/0711123@in-00000001;2"}
    await acd.distributor.reconcile()
    await acd.distributor.settle()
    assert await state(acd, "c3") is CallState.QUEUED
    await acd.store.close()


@pytest_twisted.ensureDeferred
async def test_after_an_asterisk_crash_the_next_process_ends_every_ghost(
        fresh_redis: RedisServer) -> None:
    """Asterisk died with every channel: the next process (or this one, for what it does
    not follow) ends the talk (1001 to wrap-up, then ready) and abandons the waiting call;
    a new caller is then served at once."""
    first = await talking_and_queued(fresh_redis, FakeTelephony())
    first.distributor.stop()
    await first.store.close()
    phone = FakeTelephony(dead={"1765000000.c1", "1765000000.c2"})
    clock = virtual_clock()
    second = await start_acd(fresh_redis, CONFIG, phone, clock)
    await second.distributor.reconcile()
    await second.distributor.settle()
    assert await state(second, "c1") is CallState.FINISHED
    assert await state(second, "c2") is CallState.ABANDONED
    assert await status(second, "1001") is AgentStatus.WRAP_UP
    clock.advance(10.0)                              # billing's wrap-up
    await second.distributor.settle()
    assert await status(second, "1001") is AgentStatus.READY
    await second.distributor.enqueue(caller("c3"))
    await second.distributor.settle()
    assert phone.ringing_agent("c3") == "1001"
    await second.store.close()


@pytest_twisted.ensureDeferred
async def test_a_ring_whose_caller_is_gone_frees_the_agent_as_a_hang_up_while_ringing(
        fresh_redis: RedisServer) -> None:
    clock = virtual_clock()
    first = await start_acd(fresh_redis, CONFIG, FakeTelephony(), clock)
    await first.distributor.login("1001")
    await first.distributor.enqueue(caller("c1"))
    await first.distributor.settle()
    first.distributor.stop()
    await first.store.close()
    phone = FakeTelephony(dead={"1765000000.c1"})
    second = await start_acd(fresh_redis, CONFIG, phone, clock)
    await second.distributor.reconcile()
    await second.distributor.settle()
    [resumed] = phone.resumed
    assert resumed.caller_channel == "1765000000.c1"   # telephony finds it by Uniqueid
    assert await status(second, "1001") is AgentStatus.READY   # not paused: not their fault
    assert await state(second, "c1") is CallState.ABANDONED
    await second.store.close()


@pytest_twisted.ensureDeferred
async def test_a_ring_whose_leg_is_gone_ends_as_a_ring_that_ended(
        fresh_redis: RedisServer) -> None:
    """The caller waits, the agent's leg is gone and its outcome with it: the rules for
    a ring no one answered (the call back at its place, the agent paused)."""
    clock = virtual_clock()
    first = await start_acd(fresh_redis, CONFIG, FakeTelephony(), clock)
    await first.distributor.login("1001")
    await first.distributor.enqueue(caller("c1"))
    await first.distributor.settle()
    first.distributor.stop()
    await first.store.close()
    second = await start_acd(fresh_redis, CONFIG, FakeTelephony(), clock)
    await second.distributor.reconcile()
    await second.distributor.settle()
    assert (await second.queues.agent("1001")).state == AgentState(AgentStatus.PAUSED,
                                                                    NO_ANSWER)
    assert await second.queues.position("c1") == 1
    await second.store.close()


@pytest_twisted.ensureDeferred
async def test_a_later_login_leaves_what_this_process_follows_and_fresh_reservations(
        fresh_redis: RedisServer) -> None:
    phone = FakeTelephony()
    clock = virtual_clock()
    acd = await start_acd(fresh_redis, CONFIG, phone, clock)
    d = acd.distributor
    await d.reconcile()
    await d.login("1001")
    await d.enqueue(caller("c1"))             # rings 1001, followed here
    await d.settle()
    await d.reconcile()                       # a reconnect: nothing to do for c1
    await d.settle()
    assert phone.resumed == []
    phone.answer("c1")
    await d.settle()
    await d.reconcile()                       # talking, followed here: left alone
    await d.settle()
    assert phone.asked_alive == []
    assert await status(acd, "1001") is AgentStatus.ON_CALL
    await acd.store.close()


@pytest_twisted.ensureDeferred
async def test_two_processes_reconciling_at_once_end_each_ghost_once(
        fresh_redis: RedisServer) -> None:
    first = await talking_and_queued(fresh_redis, FakeTelephony())
    first.distributor.stop()
    await first.store.close()
    clock = virtual_clock()
    dead = {"1765000000.c1", "1765000000.c2"}
    a = await start_acd(fresh_redis, CONFIG, FakeTelephony(dead=set(dead)), clock)
    b = await start_acd(fresh_redis, CONFIG, FakeTelephony(dead=set(dead)), clock)
    await a.distributor.reconcile()
    await b.distributor.reconcile()
    await a.distributor.settle()
    await b.distributor.settle()
    events = [(e["event"], e["call"]) for e in audit(fresh_redis)]
    assert events.count(("abandoned", "c2")) == 1
    assert sum(1 for e in audit(fresh_redis) if e["event"] == "call_end") == 1
    c = await counters(a)
    assert c.abandoned == 1
    assert await status(a, "1001") is AgentStatus.WRAP_UP
    await a.store.close()
    await b.store.close()


@pytest_twisted.ensureDeferred
async def test_a_link_lost_during_the_check_abandons_nobody(
        fresh_redis: RedisServer) -> None:
    class DownPhone(FakeTelephony):
        """Telephony whose link drops again: whether a caller lives is unknown."""

        def caller_alive(self, caller_channel: str) -> Deferred[bool]:
            return fail(ConnectionError("the AMI link is down"))

    phone = DownPhone()
    acd = await talking_and_queued(fresh_redis, phone)
    await acd.distributor.reconcile()
    await acd.distributor.settle()
    assert await state(acd, "c2") is CallState.QUEUED
    await acd.store.close()


@pytest_twisted.ensureDeferred
async def test_a_caller_who_took_a_callback_keeps_the_place_though_their_line_is_gone(
        fresh_redis: RedisServer) -> None:
    phone = FakeTelephony()
    acd = await talking_and_queued(fresh_redis, phone)
    assert await acd.queues.mark_callback("c2", "08111", T0)
    phone.dead.add("1765000000.c2")         # they hung up, as a callback's caller does
    await acd.distributor.reconcile()
    await acd.distributor.settle()
    assert await state(acd, "c2") is CallState.QUEUED
    assert await acd.queues.position("c2") == 1
    await acd.store.close()
