"""An ended call's keys expire; a live call's never do.

Every way a call ends (the talk finished, an abandon in the queue or while the agent's
phone rang, the maximum wait, surge admission, the last callback attempt) sets the TTL in
the same script that ends it: the longest window that still reads the record
(`AcdSettings.ended_call_ttl_s`). While the call is live (queued, ringing, talking, waiting
for a callback retry) its record has no TTL. A loan leaves no member behind in the
pooling sets, and the loans and taken sets expire with the auto reserve's look-back.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import pytest
import pytest_twisted
import redis

from acd.agents.state import AgentEvent, AgentState, AgentStatus
from acd.queues.records import Queued, Reservation
from acd.queues.store import CallAction, QueueStore
from acd.settings import AcdSettings, AgentSpec, PoolingSettings, QueueSettings
from acd.store import keys
from acd.store.redis import RedisStore
from tests.doubles.acd import SITE, T0, request, settings
from tests.fixtures.redis_server import RedisServer

pytestmark = pytest.mark.redis

KEEP_S = 1800.0     # ended_call_keep_s of these tests
RESUME_S = 300.0    # abandon_resume_s
READY = AgentState(AgentStatus.READY)


@dataclass
class Site:
    store: RedisStore
    queues: QueueStore
    client: redis.Redis

    def pttl(self, call_id: str) -> int:
        return int(self.client.pttl(self.queues.keys.call(call_id)))

    async def login(self, agent: str = "1001", at: float = T0) -> int:
        changed = await self.queues.change(agent, 0, AgentEvent.LOGIN, READY, at,
                                           skills={"billing": 5})
        return changed.version

    async def reserved(self, call_id: str, at: float = T0 + 1) -> Reservation:
        await self.login()
        offer = await self.queues.offer(request(call_id), at)
        assert isinstance(offer, Reservation), offer
        assert self.pttl(call_id) == -1
        return offer

    async def queued(self, call_id: str) -> None:
        offer = await self.queues.offer(request(call_id), T0)
        assert isinstance(offer, Queued), offer
        assert self.pttl(call_id) == -1


@pytest_twisted.async_yield_fixture
async def site(fresh_redis: RedisServer) -> AsyncIterator[Site]:
    s = await _site(fresh_redis, settings(abandon_resume_s=RESUME_S, ended_call_keep_s=KEEP_S))
    yield s
    await s.store.close()


async def _site(server: RedisServer, config: AcdSettings) -> Site:
    store = RedisStore(server.unix_url)
    await store.start()
    client = redis.Redis(unix_socket_path=str(server.unix_socket), decode_responses=True)
    return Site(store, QueueStore(store, SITE, config), client)


async def finished(s: Site) -> None:
    res = await s.reserved("c1")
    on = await s.queues.change("1001", res.agent_version, AgentEvent.ANSWER,
                               AgentState(AgentStatus.ON_CALL), T0 + 3,
                               call_action=CallAction.ANSWER, call_id="c1")
    assert s.pttl("c1") == -1   # talking: live
    await s.queues.change("1001", on.version, AgentEvent.CALL_END,
                          AgentState(AgentStatus.WRAP_UP), T0 + 60,
                          call_action=CallAction.FINISH, call_id="c1")


async def abandoned_in_the_queue(s: Site) -> None:
    await s.queued("c1")
    assert await s.queues.remove_call("c1", T0 + 30)


async def abandoned_while_ringing(s: Site) -> None:
    res = await s.reserved("c1")
    await s.queues.change("1001", res.agent_version, AgentEvent.CALLER_GONE_WHILE_RINGING,
                          READY, T0 + 5, call_action=CallAction.ABANDON, call_id="c1")


async def at_the_maximum_wait(s: Site) -> None:
    await s.queued("c1")
    assert await s.queues.remove_call("c1", T0 + 900, max_wait_fallback="ticket")


async def turned_away_in_a_surge(s: Site) -> None:
    await s.queued("c1")
    assert await s.queues.remove_call("c1", T0 + 1, max_wait_fallback="apology", why="surge")


async def after_the_last_callback(s: Site) -> None:
    await s.queued("c1")
    assert await s.queues.mark_callback("c1", "0711555", T0 + 10)
    await s.login(at=T0 + 20)   # takes the call at once
    agent = await s.queues.agent("1001")
    assert agent.call == "c1" and agent.state.status is AgentStatus.RESERVED
    assert s.pttl("c1") == -1
    await s.queues.change("1001", agent.version, AgentEvent.CALLER_GONE_WHILE_RINGING, READY,
                          T0 + 40, call_action=CallAction.CALLBACK_FAIL, call_id="c1",
                          keep_idle=True)


ENDINGS: dict[str, tuple[Callable[[Site], Awaitable[None]], str]] = {
    "finished": (finished, "finished"),
    "abandoned in the queue": (abandoned_in_the_queue, "abandoned"),
    "abandoned while ringing": (abandoned_while_ringing, "abandoned"),
    "maximum wait": (at_the_maximum_wait, "finished"),
    "surge": (turned_away_in_a_surge, "finished"),
    "last callback attempt": (after_the_last_callback, "finished"),
}


@pytest.mark.parametrize("ending", list(ENDINGS))
@pytest_twisted.ensureDeferred
async def test_an_ended_call_carries_the_ttl_of_its_longest_window(site: Site,
                                                                   ending: str) -> None:
    end, state = ENDINGS[ending]
    await end(site)
    record = await site.queues.call("c1")
    assert record is not None and record.state.value == state
    assert (KEEP_S - 5) * 1000 < site.pttl("c1") <= KEEP_S * 1000
    k = site.queues.keys
    # no set of the site holds the call any more; the keys the call made (its record, the
    # abandoned caller's kept place) carry a TTL
    for key in site.client.scan_iter(match=k.prefix + "*"):
        kind = site.client.type(key)
        if kind == "set":
            assert not site.client.sismember(key, "c1"), key
        elif kind == "zset":
            assert site.client.zscore(key, "c1") is None, key
        if key.startswith((k.prefix + keys.CALL, k.prefix + keys.RESUME)):
            assert int(site.client.pttl(key)) > 0, key


@pytest_twisted.ensureDeferred
async def test_the_longer_abandon_resume_window_sets_the_ttl(fresh_redis: RedisServer) -> None:
    s = await _site(fresh_redis, settings(abandon_resume_s=1200, ended_call_keep_s=60))
    try:
        await abandoned_in_the_queue(s)
        assert 1_195_000 < s.pttl("c1") <= 1_200_000
        digits = re.sub(r"\D", "", request("c1").caller_number)
        place = s.queues.keys.resume("billing", digits)
        assert 1_195_000 < int(s.client.pttl(place)) <= 1_200_000   # the kept place too
    finally:
        await s.store.close()


@pytest_twisted.ensureDeferred
async def test_a_callback_waiting_for_its_retry_has_no_ttl(site: Site) -> None:
    await site.queued("c1")
    assert await site.queues.mark_callback("c1", "0711555", T0 + 10)
    assert await site.queues.remove_call("c1", T0 + 11) is False  # hung up on purpose
    await site.login(at=T0 + 20)
    agent = await site.queues.agent("1001")
    assert agent.call == "c1"
    await site.queues.change("1001", agent.version, AgentEvent.CALLER_GONE_WHILE_RINGING,
                             READY, T0 + 40, call_action=CallAction.CALLBACK_RETRY,
                             call_id="c1", keep_idle=True)
    record = await site.queues.call("c1")
    assert record is not None and record.state.value == "called_back"
    assert site.pttl("c1") == -1
    assert site.client.sismember(site.queues.keys.live, "c1")


@pytest_twisted.ensureDeferred
async def test_a_late_channel_update_does_not_bring_an_expired_call_back(site: Site) -> None:
    await site.queues.set_channel("gone", "PJSIP/trunk-2")
    assert site.client.exists(site.queues.keys.call("gone")) == 0


@pytest_twisted.ensureDeferred
async def test_a_loan_leaves_nothing_behind_and_its_sets_expire(
        fresh_redis: RedisServer) -> None:
    pool = ("palembang", "medan")
    config = AcdSettings(
        queues={"general": QueueSettings("general")},
        agents=(AgentSpec("2001", "Agent 2001", "medan", "PJSIP/2001", {"general": 5}),),
        pooling=PoolingSettings(pools={"national": pool}, default_reserve="0",
                                ring_stream=False),
        audit_maxlen=10_000, ended_call_keep_s=KEEP_S)
    store = RedisStore(fresh_redis.unix_url)
    await store.start()
    client = redis.Redis(unix_socket_path=str(fresh_redis.unix_socket), decode_responses=True)
    home, lender = QueueStore(store, "palembang", config), QueueStore(store, "medan", config)
    try:
        login = await lender.change("2001", 0, AgentEvent.LOGIN, READY, T0,
                                    skills={"general": 5})
        assert login.status is AgentStatus.READY
        res = await home.offer(request("p1", skill="general"), T0 + 1)
        assert isinstance(res, Reservation) and res.agent_site == "medan"
        on = await home.change("2001", res.agent_version, AgentEvent.ANSWER,
                               AgentState(AgentStatus.ON_CALL), T0 + 3,
                               call_action=CallAction.ANSWER, call_id="p1",
                               agent_site="medan")
        for key in (lender.keys.loans, home.keys.taken):
            assert keys.NET_KEEP_S * 1000 - 5000 < int(client.pttl(key)) <= \
                keys.NET_KEEP_S * 1000
        await home.change("2001", on.version, AgentEvent.CALL_END,
                          AgentState(AgentStatus.WRAP_UP), T0 + 60,
                          call_action=CallAction.FINISH, call_id="p1", agent_site="medan")
        assert (KEEP_S - 5) * 1000 < int(client.pttl(home.keys.call("p1"))) <= KEEP_S * 1000
        for key in (lender.keys.lent, home.keys.borrowed, home.keys.trunk("medan"),
                    home.keys.live):
            assert client.exists(key) == 0, key
    finally:
        await store.close()
