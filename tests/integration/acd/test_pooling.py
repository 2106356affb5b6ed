"""National pooling on a real Redis: three sites of one pool, each with its own Distributor
(its own process), sharing one telephony double.

Local callers first; a ready agent of another site answers when the caller's own site has
none, in the caller's site's order, if the lender keeps its reserve; the reserve's `auto`
parts (net loans, the service level step); a supervisor's lending switch; a failed trunk;
trunk limits; the ring request another site's agent leaves in the call's site's stream;
a lease on agents lent to a site that stopped.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
import pytest_twisted

from acd.agents.state import AgentStatus
from acd.distributor import Distributor
from acd.intake import QueueRequest
from acd.pooling.lending import LendingBoard
from acd.pooling.rings import ring_requests
from acd.queues.records import Reservation
from acd.queues.store import QueueStore
from acd.settings import AcdSettings, AgentSpec, AutoReserve, PoolingSettings, QueueSettings
from acd.store.keys import SiteKeys
from acd.store.redis import RedisStore
from tests.doubles.acd import T0, virtual_clock
from tests.doubles.telephony import FakeTelephony
from tests.fixtures.redis_server import RedisServer
from tests.harness.reactor import poll

pytestmark = pytest.mark.redis

POOL = "national"
SITES = ("palembang", "medan", "makassar")


def roster(*agents: tuple[str, str]) -> tuple[AgentSpec, ...]:
    return tuple(AgentSpec(a, f"Agent {a}", site, f"PJSIP/{a}", {"general": 5})
                 for a, site in agents)


AGENTS = roster(("1001", "palembang"), ("2001", "medan"), ("2002", "medan"),
                ("3001", "makassar"), ("3002", "makassar"))


def pool(reserve: str = "0", **rules: object) -> AcdSettings:
    pooling = PoolingSettings(pools={POOL: SITES}, order={"palembang": ("medan",)},
                              default_reserve=reserve, ring_stream=False,
                              **rules)  # type: ignore[arg-type]
    return AcdSettings(queues={"general": QueueSettings("general", wrapup_s=5.0)},
                       agents=AGENTS, pooling=pooling, audit_maxlen=10_000)


@dataclass
class Pool:
    store: RedisStore
    settings: AcdSettings
    phone: FakeTelephony
    sites: dict[str, Distributor] = field(default_factory=dict)

    def __getitem__(self, site: str) -> Distributor:
        return self.sites[site]

    def keys(self, site: str) -> SiteKeys:
        return SiteKeys(site, POOL)

    async def settle(self) -> None:
        for _ in range(3):
            for distributor in self.sites.values():
                await distributor.settle()

    async def call(self, site: str, call_id: str, at: float = T0) -> int:
        request = QueueRequest(call_id, site, f"PJSIP/trunk-{call_id}", "general", 5, "id",
                               "0711", "Region", "0811" + call_id[-4:].zfill(4),
                               "512345678901", at)
        placement = await self[site].enqueue(request)
        await self.settle()
        return placement.position

    async def agent_site(self, call_id: str) -> str:
        for site in SITES:
            call = await self[site].queues.call(call_id)
            if call is not None:
                return call.fields.get("agent_site", "")
        raise KeyError(call_id)


@pytest_twisted.async_yield_fixture
async def started(fresh_redis: RedisServer) -> AsyncIterator[Pool]:
    yield await make_pool(fresh_redis, pool())


async def make_pool(server: RedisServer, settings: AcdSettings,
                    phone: FakeTelephony | None = None) -> Pool:
    store = RedisStore(server.unix_url)
    await store.start()
    p = Pool(store, settings, phone or FakeTelephony())

    def hand_over(res: Reservation) -> None:
        p.sites[res.call_site].take_over(res)

    clock = virtual_clock()
    for site in SITES:
        p.sites[site] = Distributor(site, settings, QueueStore(store, site, settings),
                                    p.phone, clock, hand_over=hand_over)
    async def alive(client: object) -> None:
        for site in SITES:
            await client.set(SiteKeys(site, POOL).alive, "1")  # type: ignore[attr-defined]

    await store.run(alive)
    return p


@pytest_twisted.ensureDeferred
async def test_a_ready_agent_of_the_sibling_answers_when_home_has_none(started: Pool) -> None:
    p = started
    await p["medan"].login("2001")
    await p["makassar"].login("3001")          # longer idle than medan's, but not a sibling
    assert await p.call("palembang", "c1") == 0
    connection = p.phone.rings["c1"][0]
    assert (connection.agent_id, connection.agent_site) == ("2001", "medan")
    assert connection.caller_label == "Region 512345678901"
    assert await p.agent_site("c1") == "medan"
    p.phone.answer("c1")
    await p.settle()
    record = await p["medan"].queues.agent("2001")
    assert (record.state.status, record.call, record.call_site) == (
        AgentStatus.ON_CALL, "c1", "palembang")
    call = await p["palembang"].queues.call("c1")
    assert call is not None and call.state.value == "connected"


@pytest_twisted.ensureDeferred
async def test_local_callers_come_first(started: Pool) -> None:
    p = started
    await p.call("palembang", "p1", at=T0)          # waits 30 s ...
    await p.call("medan", "m1", at=T0 + 29)         # ... this one 1 s
    await p["medan"].login("2001")                 # the next ready medan agent
    await p.settle()
    assert p.phone.rings["m1"][0].agent_id == "2001"
    assert "p1" not in p.phone.rings
    await p["makassar"].login("3001")              # nobody of makassar waits: lends
    await p.settle()
    assert p.phone.rings["p1"][0].agent_site == "makassar"


@pytest_twisted.ensureDeferred
async def test_a_reserve_of_one_lends_only_the_second_ready_agent(
        fresh_redis: RedisServer) -> None:
    p = await make_pool(fresh_redis, pool(reserve="1"))
    await p["makassar"].login("3001")
    assert await p.call("palembang", "c1") == 1    # one ready at makassar: kept
    await p["makassar"].login("3002")              # two ready: one may go
    await p.settle()
    assert p.phone.rings["c1"][0].agent_site == "makassar"
    assert await p.call("palembang", "c2") == 1    # back to one ready: kept
    ready = await p["makassar"].queues.agent("3001")
    assert ready.state.status is AgentStatus.READY


@pytest_twisted.ensureDeferred
async def test_a_supervisor_switches_lending_off_and_back_on(started: Pool) -> None:
    p = started
    board = LendingBoard(p.store, p.settings.pooling)
    await board.switch("medan", False)
    await p["medan"].login("2001")
    assert await p.call("palembang", "c1") == 1    # medan lends nobody now
    await board.switch("medan", True)
    lent = await p["medan"].queues.lend_spare(["general"], T0)   # the keeper's round
    assert [(r.call_id, r.agent_id, r.call_site) for r in lent] == [("c1", "2001",
                                                                      "palembang")]
    for reservation in lent:
        p["medan"].follow(reservation)
    await p.settle()
    assert p.phone.rings["c1"][0].agent_id == "2001"
    lending = await board.read("medan")
    assert (lending.lent_now, lending.off) == (1, False)
    assert (await board.read("palembang")).borrowed_now == 1


@pytest_twisted.ensureDeferred
async def test_a_failed_trunk_leaves_the_agent_ready_and_the_caller_in_place(
        started: Pool) -> None:
    p = started
    await p.call("palembang", "c0", at=T0)
    await p.call("palembang", "c1", at=T0 + 1)
    await p["medan"].login("2001")
    await p.settle()
    assert p.phone.rings["c0"][0].agent_site == "medan"
    p.phone.trunk_failed("c0")
    await p.settle()
    agent = await p["medan"].queues.agent("2001")
    # ready again (not paused), and at once on the next caller: c0 is not tried at medan
    # again, c1 is
    assert (agent.state.status, agent.call) == (AgentStatus.RESERVED, "c1")
    assert await p["palembang"].queues.queue("general") == [("c0", 5, T0)]
    call = await p["palembang"].queues.call("c0")
    assert call is not None and call.fields["refused"] == "medan"
    await p["makassar"].login("3001")              # another site may still take it
    await p.settle()
    assert p.phone.rings["c0"][0].agent_site == "makassar"


@pytest_twisted.ensureDeferred
async def test_the_trunk_limit_holds(fresh_redis: RedisServer) -> None:
    p = await make_pool(fresh_redis, pool(trunk_limit=1))
    await p["makassar"].login("3001")
    await p["makassar"].login("3002")
    assert await p.call("palembang", "c1") == 0    # one on the trunk to makassar
    assert await p.call("palembang", "c2") == 1    # the second waits: the limit is one
    p.phone.caller_gone("c1")                      # the first is over: the trunk has room,
    await p.settle()                               # and its agent, ready again, takes c2
    assert p.phone.rings["c2"][0].agent_site == "makassar"


@pytest_twisted.ensureDeferred
async def test_the_auto_reserve_follows_net_loans_and_the_service_level(
        fresh_redis: RedisServer) -> None:
    p = await make_pool(fresh_redis, pool(reserve="auto", auto=AutoReserve(
        every_s=300, min_answered=2, most=3)))
    queues = p["makassar"].queues
    keys = p.keys("makassar")
    for agent in ("3001", "3002"):   # they find nobody waiting: net loans count from now
        await p["makassar"].login(agent)

    async def loans(client: object) -> None:
        # Since then makassar lent six calls and had none of its own taken: r_net = 3.
        for n in range(6):
            await client.zadd(keys.loans, {f"x{n}": T0 + n / 1000})  # type: ignore[attr-defined]
        await client.hset(keys.rsl, mapping={"r": "2", "at": str(T0 - 600)})  # type: ignore[attr-defined]

    await p.store.run(loans)
    # r = min(r_net 3, r_sl 2) = 2: two ready is not more than two
    assert await p.call("palembang", "c1") == 1
    # the service level step: nobody of makassar was answered (fewer than min_answered),
    # so r_sl falls by one: r = 1, and the second ready agent may go
    assert await queues.reserve_tick(["general"], T0 + 1) == 1
    assert await queues.reserve_tick(["general"], T0 + 2) == 1   # once per every_s
    lent = await queues.lend_spare(["general"], T0 + 2)
    assert [r.call_id for r in lent] == ["c1"]


@pytest_twisted.ensureDeferred
async def test_a_ring_request_reaches_the_calls_site_through_its_stream(
        fresh_redis: RedisServer) -> None:
    settings = pool()
    settings = AcdSettings(queues=settings.queues, agents=settings.agents,
                           pooling=PoolingSettings(pools={POOL: SITES}))   # ring_stream on
    p = await make_pool(fresh_redis, settings)
    consumer = ring_requests(p.store, p.keys("palembang"), p["palembang"])
    consumer.start()
    try:
        await p.call("palembang", "c1")             # nobody ready anywhere: queued
        await p["medan"].login("2001")               # medan's agent takes it: a request
        await p.settle()
        await poll(lambda: "c1" in p.phone.rings and consumer.handled == 1, 10,
                   "the ring request to be rung")
        assert p.phone.rings["c1"][0].agent_id == "2001"
    finally:
        await consumer.stop()


@pytest_twisted.ensureDeferred
async def test_agents_lent_to_a_site_that_stopped_come_back(started: Pool) -> None:
    p = started
    # A reservation made for palembang's call while palembang's pln123 ran, then it stopped
    # before ringing (its alive key expired): after the lease the agent is free again.
    await p.call("palembang", "c1")
    await p["medan"].login("2001")
    await p.settle()
    assert "c1" in p.phone.rings
    p.phone.rings.pop("c1")                        # that process died with its ring

    async def stopped(client: object) -> None:
        await client.delete(p.keys("palembang").alive)  # type: ignore[attr-defined]

    await p.store.run(stopped)
    queues = p["medan"].queues
    assert await queues.release_lent(30.0, T0 + 10) == []       # within the lease
    assert await queues.release_lent(30.0, T0 + 60) == []       # released; nothing else
    agent = await queues.agent("2001")
    assert agent.state.status is AgentStatus.READY
    assert await p["palembang"].queues.queue("general") == [("c1", 5, T0)]

