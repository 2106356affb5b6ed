""""Pause after this call" is the ACD's: the agent_change script that lets the agent go from
their call (or its ring) takes the desktop's request from `SiteKeys.desktop` and pauses
them with its reason in the same step, so no waiting call rings them first, whether or
not anybody reads their desktop."""

from __future__ import annotations

from typing import Any

import pytest
import pytest_twisted

from acd.agents.state import NO_ANSWER, AgentEvent, AgentState, AgentStatus
from acd.store.keys import SiteKeys
from acd.store.redis import text
from tests.doubles.acd import SITE, T0, agent, request, settings, virtual_clock
from tests.doubles.telephony import FakeTelephony
from tests.fixtures.redis_server import RedisServer
from tests.harness.acd import Acd, start_acd

pytestmark = pytest.mark.redis

KEYS = SiteKeys(SITE, SITE)


async def ask_pause_after(acd: Acd, agent_id: str, reason: str) -> None:
    """What the desktop writes (pln123/web/desktop_actions.py)."""
    key = KEYS.desktop(agent_id)
    await acd.store.run(lambda client: client.hset(
        key, mapping={"pause_after": reason, "at": f"{T0:.3f}"}))


async def desktop_key(acd: Acd, agent_id: str) -> dict[str, str]:
    key = KEYS.desktop(agent_id)
    raw = await acd.store.run(lambda client: client.hgetall(key))
    return {text(k): text(v) for k, v in raw.items()}


async def audit(acd: Acd) -> list[dict[str, str]]:
    async def read(client: Any) -> list[dict[str, str]]:
        return [{text(k): text(v) for k, v in fields.items()}
                for _id, fields in await client.xrange(KEYS.audit)]

    return await acd.store.run(read)


@pytest_twisted.ensureDeferred
async def test_the_call_ends_straight_into_the_pause_the_agent_asked_for(
        fresh_redis: RedisServer) -> None:
    clock, phone = virtual_clock(), FakeTelephony()
    seen: list[tuple[AgentEvent, AgentState]] = []
    acd = await start_acd(fresh_redis, settings(agent("1001")), phone, clock,
                          observer=lambda _s, _a, t: seen.append((t.event, t.after)))
    d = acd.distributor
    await d.login("1001")
    await d.enqueue(request("c1"))
    await d.settle()
    phone.answer("c1")
    await d.settle()
    await ask_pause_after(acd, "1001", "2")
    await d.enqueue(request("c2"))   # waiting while the agent talks
    clock.advance(60)
    phone.hang_up("c1")
    await d.settle()

    record = await acd.queues.agent("1001")
    assert record.state == AgentState(AgentStatus.PAUSED, "2")
    assert await desktop_key(acd, "1001") == {}   # carried out: the page shows it no more
    clock.advance(60)   # well past billing's 10 s wrap-up: no timer makes them ready
    await d.settle()
    assert (await acd.queues.agent("1001")).state == AgentState(AgentStatus.PAUSED, "2")
    assert "c2" not in phone.rings
    assert seen[-2:] == [(AgentEvent.CALL_END, AgentState(AgentStatus.WRAP_UP)),
                         (AgentEvent.PAUSE, AgentState(AgentStatus.PAUSED, "2"))]
    ended = [e for e in await audit(acd) if e.get("event") == "call_end"]
    assert [(e["state"], e["reason"]) for e in ended] == [("paused", "2")]

    assert await d.ready("1001") == AgentState(AgentStatus.RESERVED)
    await d.settle()
    assert phone.ringing_agent("c2") == "1001"
    await acd.store.close()


@pytest_twisted.ensureDeferred
async def test_without_a_request_the_call_ends_in_wrap_up_as_ever(
        fresh_redis: RedisServer) -> None:
    clock, phone = virtual_clock(), FakeTelephony()
    acd = await start_acd(fresh_redis, settings(agent("1001"), agent("1002")), phone, clock)
    d = acd.distributor
    await d.login("1001")
    await d.login("1002")
    await ask_pause_after(acd, "1002", "1")   # another agent's request
    await d.enqueue(request("c1"))
    await d.settle()
    talking = phone.ringing_agent("c1")
    assert talking == "1001"
    phone.answer("c1")
    await d.settle()
    phone.hang_up("c1")
    await d.settle()
    assert (await acd.queues.agent("1001")).state == AgentState(AgentStatus.WRAP_UP)
    assert (await acd.queues.agent("1002")).state == AgentState(AgentStatus.READY)
    assert (await desktop_key(acd, "1002"))["pause_after"] == "1"
    await acd.store.close()


@pytest_twisted.ensureDeferred
async def test_a_caller_gone_while_ringing_leaves_the_agent_paused_as_asked(
        fresh_redis: RedisServer) -> None:
    clock, phone = virtual_clock(), FakeTelephony()
    acd = await start_acd(fresh_redis, settings(agent("1001")), phone, clock)
    d = acd.distributor
    await d.login("1001")
    await d.enqueue(request("c1"))
    await d.settle()
    await ask_pause_after(acd, "1001", "2")
    await d.enqueue(request("c2"))
    phone.caller_gone("c1")
    await d.settle()
    assert (await acd.queues.agent("1001")).state == AgentState(AgentStatus.PAUSED, "2")
    assert "c2" not in phone.rings
    assert await desktop_key(acd, "1001") == {}
    await acd.store.close()


@pytest_twisted.ensureDeferred
async def test_a_ring_no_answer_pauses_for_no_answer_and_takes_the_request(
        fresh_redis: RedisServer) -> None:
    clock, phone = virtual_clock(), FakeTelephony()
    acd = await start_acd(fresh_redis, settings(agent("1001")), phone, clock)
    d = acd.distributor
    await d.login("1001")
    await d.enqueue(request("c1"))
    await d.settle()
    await ask_pause_after(acd, "1001", "2")
    phone.no_answer("c1")
    await d.settle()
    assert (await acd.queues.agent("1001")).state == AgentState(AgentStatus.PAUSED,
                                                                NO_ANSWER)
    assert await desktop_key(acd, "1001") == {}   # paused already: nothing left to do
    await acd.store.close()
