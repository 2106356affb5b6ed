"""Phone awareness on a real Redis: a ready agent whose phone is unregistered or busy is
offered no caller, counted apart from the ready ones, and back at their place in line when
the phone is available again (acd/queues/lua/phones.lua, acd/agents/phones.py)."""

from __future__ import annotations

from typing import Any

import pytest
import pytest_twisted

from acd.agents.phones import PhoneWatch
from acd.agents.state import AgentState, AgentStatus
from acd.distributor import Distributor
from acd.queues.metrics import SiteMetrics
from acd.queues.records import CallState
from acd.queues.store import QueueStore
from acd.settings import AgentSpec, PoolingSettings
from acd.store.keys import SiteKeys
from acd.telephony import PhoneState
from tests.doubles.acd import SITE, T0, agent, request, settings, virtual_clock
from tests.doubles.telephony import FakeTelephony
from tests.fixtures.redis_server import RedisServer
from tests.harness.acd import Acd, start_acd

pytestmark = pytest.mark.redis

READY = AgentState(AgentStatus.READY)
AVAILABLE, BUSY, UNREGISTERED = PhoneState.AVAILABLE, PhoneState.BUSY, PhoneState.UNREGISTERED


async def ready_set(acd: Acd, skill: str = "billing") -> list[str]:
    keys = acd.queues.keys

    async def read(client: Any) -> list[str]:
        return [m.decode() if isinstance(m, bytes) else m
                for m in await client.zrange(keys.ready(skill), 0, -1)]

    return list(await acd.store.run(read))


async def agent_hash(acd: Acd, agent_id: str) -> dict[str, str]:
    key = acd.queues.keys.agent(agent_id)

    async def read(client: Any) -> dict[str, str]:
        raw = await client.hgetall(key)
        return {(k.decode() if isinstance(k, bytes) else k): (
            v.decode() if isinstance(v, bytes) else v) for k, v in raw.items()}

    return dict(await acd.store.run(read))


@pytest_twisted.ensureDeferred
async def test_the_next_caller_goes_to_another_agent_at_once_when_a_phone_unregisters(
    fresh_redis: RedisServer,
) -> None:
    clock, phone = virtual_clock(), FakeTelephony()
    acd = await start_acd(fresh_redis, settings(agent("1001"), agent("1002")), phone, clock)
    d = acd.distributor
    await d.login("1001")                      # the longest idle: first in line
    clock.advance(5)
    await d.login("1002")
    clock.advance(60)
    await d.phone_changed("1001", UNREGISTERED)
    assert await ready_set(acd) == ["1002"]
    record = await acd.queues.agent("1001")
    assert record.state == READY and record.idle_since == T0   # still ready, place kept
    assert record.phone is UNREGISTERED
    placement = await d.enqueue(request("c1"))
    await d.settle()
    assert placement.position == 0
    assert phone.ringing_agent("c1") == "1002"
    assert (await agent_hash(acd, "1001"))["phone"] == "unregistered"
    await acd.store.close()


@pytest_twisted.ensureDeferred
async def test_back_at_their_place_when_the_phone_returns_taking_a_waiting_call(
    fresh_redis: RedisServer,
) -> None:
    clock, phone = virtual_clock(), FakeTelephony()
    acd = await start_acd(fresh_redis, settings(agent("1001"), agent("1002")), phone, clock)
    d = acd.distributor
    await d.login("1001")
    await d.phone_changed("1001", UNREGISTERED)
    assert await ready_set(acd) == []
    assert (await d.enqueue(request("c1"))).position == 1      # nobody to offer it to
    await d.settle()
    assert "c1" not in phone.rings
    clock.advance(10)
    await d.phone_changed("1001", AVAILABLE)
    await d.settle()
    assert phone.ringing_agent("c1") == "1001"
    phone.caller_gone("c1")
    await d.settle()
    clock.advance(1)
    await d.login("1002")                                        # idle later than 1001
    assert await ready_set(acd) == ["1001", "1002"]
    record = await acd.queues.agent("1001")
    assert record.idle_since == T0
    await acd.store.close()


@pytest_twisted.ensureDeferred
async def test_an_agent_logging_in_with_no_phone_is_ready_but_offered_nothing(
    fresh_redis: RedisServer,
) -> None:
    clock, phone = virtual_clock(), FakeTelephony()
    acd = await start_acd(fresh_redis, settings(agent("1001")), phone, clock)
    d = acd.distributor
    await d.phone_changed("1001", UNREGISTERED)       # before the login: kept in Redis
    await d.enqueue(request("c1"))
    assert await d.login("1001") == READY             # takes no call
    await d.settle()
    assert "c1" not in phone.rings
    await d.phone_changed("1001", AVAILABLE)
    await d.settle()
    assert phone.ringing_agent("c1") == "1001"
    await acd.store.close()


@pytest_twisted.ensureDeferred
async def test_the_agents_own_call_makes_the_phone_busy_without_harm(
    fresh_redis: RedisServer,
) -> None:
    """Busy during the ACD's call changes nothing; still busy when the wrap-up ends: ready
    but not offered until the phone is free; free first: ready and offered as before."""
    clock, phone = virtual_clock(), FakeTelephony()
    acd = await start_acd(fresh_redis, settings(agent("1001")), phone, clock)
    d = acd.distributor
    await d.login("1001")
    await d.enqueue(request("c1"))
    await d.settle()
    await d.phone_changed("1001", BUSY)               # ringing, then talking
    phone.answer("c1")
    await d.settle()
    assert (await acd.queues.agent("1001")).state.status is AgentStatus.ON_CALL
    clock.advance(30)
    phone.hang_up("c1")
    await d.settle()
    await d.enqueue(request("c2"))
    clock.advance(10)                                  # billing's wrap-up is over
    await d.settle()
    assert (await acd.queues.agent("1001")).state == READY
    assert "c2" not in phone.rings                     # the phone still says busy
    await d.phone_changed("1001", AVAILABLE)
    await d.settle()
    assert phone.ringing_agent("c2") == "1001"
    phone.answer("c2")
    await d.settle()
    phone.hang_up("c2")                                # this time the phone is free first
    await d.settle()
    await d.phone_changed("1001", BUSY)
    await d.phone_changed("1001", AVAILABLE)
    clock.advance(10)
    await d.settle()
    assert await ready_set(acd) == ["1001"]
    call = await acd.queues.call("c2")
    assert call is not None and call.state is CallState.FINISHED
    await acd.store.close()


@pytest_twisted.ensureDeferred
async def test_a_phone_going_down_while_paused_keeps_them_out_after_unpause(
    fresh_redis: RedisServer,
) -> None:
    clock, phone = virtual_clock(), FakeTelephony()
    acd = await start_acd(fresh_redis, settings(agent("1001")), phone, clock)
    d = acd.distributor
    await d.login("1001")
    await d.pause("1001", "break")
    await d.phone_changed("1001", UNREGISTERED)
    await d.ready("1001")
    assert await ready_set(acd) == []
    await d.phone_changed("1001", AVAILABLE)
    assert await ready_set(acd) == ["1001"]
    await acd.store.close()


@pytest_twisted.ensureDeferred
async def test_the_figures_do_not_count_an_agent_whose_phone_is_down_as_ready(
    fresh_redis: RedisServer,
) -> None:
    clock, phone = virtual_clock(), FakeTelephony()
    acd_settings = settings(agent("1001"), agent("1002"), agent("1003"))
    acd = await start_acd(fresh_redis, acd_settings, phone, clock)
    d = acd.distributor
    for agent_id in ("1001", "1002", "1003"):
        await d.login(agent_id)
    await d.pause("1003", "break")
    await d.phone_changed("1003", UNREGISTERED)    # paused: still counted paused
    await d.phone_changed("1001", UNREGISTERED)
    metrics = SiteMetrics(acd.store, SITE, acd_settings, queues=acd.queues)
    view = await metrics.live("billing", T0 + 1)
    assert view.agents.get(AgentStatus.READY) == 1
    assert view.agents.get(AgentStatus.PAUSED) == 1
    assert view.phone_down == 1
    assert view.serving == 1
    await d.phone_changed("1001", AVAILABLE)
    view = await metrics.live("billing", T0 + 2)
    assert (view.agents.get(AgentStatus.READY), view.phone_down) == (2, 0)
    await acd.store.close()


@pytest_twisted.ensureDeferred
async def test_a_site_lends_no_agent_whose_phone_is_down(fresh_redis: RedisServer) -> None:
    """The reserve counts the ready set: an agent out of it is neither lent nor counted."""
    clock, phone = virtual_clock(), FakeTelephony()
    agents = (AgentSpec("1001", "A", "palembang", "PJSIP/1001", {"billing": 5}),
              AgentSpec("2001", "B", "medan", "PJSIP/2001", {"billing": 5}),
              AgentSpec("2002", "C", "medan", "PJSIP/2002", {"billing": 5}))
    pooling = PoolingSettings(pools={"national": ("palembang", "medan")},
                              order={"palembang": ("medan",)}, default_reserve="1",
                              ring_stream=False)
    acd_settings = settings(*agents, pooling=pooling)  # type: ignore[arg-type]
    home = await start_acd(fresh_redis, acd_settings, phone, clock)
    medan = Distributor("medan", acd_settings, QueueStore(home.store, "medan", acd_settings),
                        phone, clock, hand_over=home.distributor.take_over)

    async def alive(client: Any) -> None:
        for site in ("palembang", "medan"):
            await client.set(SiteKeys(site, "national").alive, "1")

    await home.store.run(alive)
    await medan.login("2001")
    await medan.login("2002")
    await medan.phone_changed("2002", UNREGISTERED)   # one ready agent left: the reserve
    assert (await home.distributor.enqueue(request("c1"))).position == 1
    await medan.phone_changed("2002", AVAILABLE)      # two again: one may go
    await medan.settle()
    await home.distributor.settle()
    assert phone.rings["c1"][0].agent_site == "medan"
    await home.store.close()


@pytest_twisted.ensureDeferred
async def test_the_watch_writes_the_roster_phones_and_corrects_a_stale_state(
    fresh_redis: RedisServer,
) -> None:
    clock, phone = virtual_clock(), FakeTelephony()
    local = AgentSpec("2001", "Local", SITE, "Local/2001@agents", {"billing": 5})
    acd = await start_acd(fresh_redis, settings(agent("1001"), local), phone, clock)
    d = acd.distributor
    roster = d.roster
    watch = PhoneWatch(lambda: {a: roster.phone(a) or "" for a in roster.known()},
                       d.phone_changed, clock)
    await d.login("1001")
    await d.login("2001")
    watch.changed("PJSIP/1001", UNREGISTERED)
    await d.settle()
    assert await ready_set(acd) == ["2001"]
    # a new process (a restart) hears nothing of 1001's phone coming back, until it reads
    # every phone again after its login to Asterisk
    fresh = PhoneWatch(lambda: {a: roster.phone(a) or "" for a in roster.known()},
                       d.phone_changed, clock)
    fresh.snapshot({})
    await d.settle()
    assert sorted(await ready_set(acd)) == ["1001", "2001"]
    assert "phone" not in await agent_hash(acd, "2001")   # a Local agent: never written
    await acd.store.close()
