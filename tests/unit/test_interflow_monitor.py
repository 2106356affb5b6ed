"""The interflow monitor and mover on a real Redis with a virtual clock: calls move when
the policy says so, keep their original place, re-evaluate on the clock, come back in
place when the trunk fails, and never visit a site twice."""

from __future__ import annotations

import pytest
import pytest_twisted
from twisted.internet.task import Clock

from acd.queues.records import CallState
from acd.settings import InterflowRule
from tests.fixtures.redis_server import RedisServer
from tests.property.acd_helpers import T0, virtual_clock
from tests.unit.interflow_helpers import (
    Site,
    agent,
    client,
    request,
    settings,
    start_site,
    stop_all,
)

pytestmark = pytest.mark.redis

ROSTER = (agent("1001", "palembang"), agent("2001", "medan"), agent("3001", "jakarta"))


async def three_sites(server: RedisServer, clock: Clock, **interflow: object
                      ) -> dict[str, Site]:
    config = settings(*ROSTER, **interflow)
    network: dict[str, Site] = {}
    for name in ("palembang", "medan", "jakarta"):
        await start_site(server, name, config, clock, network)
    return network


async def busy(site: Site, agent_id: str, call_id: str, clock: Clock) -> None:
    """The agent logs in and is put on a call of its own site's."""
    await site.distributor.login(agent_id)
    await site.distributor.enqueue(request(call_id, site.name, clock.seconds()))
    await site.settle()
    site.phone.answer(call_id)
    await site.settle()


async def publish(network: dict[str, Site]) -> None:
    for site in network.values():
        await site.publisher.publish()


async def tick(network: dict[str, Site], clock: Clock, seconds: float) -> None:
    for _ in range(int(seconds)):
        clock.advance(1)
        for site in network.values():
            await site.settle()


@pytest_twisted.ensureDeferred
async def test_over_threshold_moves_to_the_ready_sibling_keeping_its_enqueue_time(
    fresh_redis: RedisServer,
) -> None:
    clock = virtual_clock()
    net = await three_sites(fresh_redis, clock)
    pal, medan = net["palembang"], net["medan"]
    await busy(pal, "1001", "p0", clock)          # palembang's only agent is talking
    await medan.distributor.login("2001")          # medan's agent is ready
    await publish(net)
    clock.advance(2)
    await pal.distributor.enqueue(request("c1", "palembang", T0))
    await pal.settle()
    await medan.settle()
    assert pal.phone.moves == [("c1", "medan")]
    assert medan.phone.ringing_agent("c1") == "2001"   # queued at medan, agent rings
    r = client(fresh_redis)
    home = r.hgetall("acd:{palembang}:call:c1")
    there = r.hgetall("acd:{medan}:call:c1")
    assert home["state"] == CallState.MOVED and home["moved_to"] == "medan"
    assert there["moved_from"] == "palembang" and there["visited"] == "palembang,medan"
    assert float(there["enqueued_at"]) == float(home["enqueued_at"]) == T0 + 2
    assert there["idpel"] == "123456789012" and there["area_code"] == "0711"
    assert r.zscore("acd:trunk:{palembang>medan}", "c1") is not None
    minute = int((T0 + 2) // 60 * 60)
    assert r.hget(f"acd:{{palembang}}:m1:general:{minute}", "interflow_out") == "1"
    assert r.hget(f"acd:{{medan}}:m1:general:{minute}", "interflow_in") == "1"
    pal.phone.ends["c1"].callback(None)            # the moved call ends at home
    await pal.phone.ends["c1"]                     # (the release chained on it)
    assert r.zscore("acd:trunk:{palembang>medan}", "c1") is None
    await stop_all(net)


@pytest_twisted.ensureDeferred
async def test_reevaluated_every_n_seconds_moves_once_a_sibling_can_do_better(
    fresh_redis: RedisServer,
) -> None:
    clock = virtual_clock()
    net = await three_sites(fresh_redis, clock, reevaluate_s=5.0)
    pal, medan = net["palembang"], net["medan"]
    await busy(pal, "1001", "p0", clock)
    await publish(net)                              # medan and jakarta: nobody staffed
    await pal.distributor.enqueue(request("c1", "palembang", T0))
    await pal.settle()
    assert pal.phone.moves == [] and pal.monitor.watching == {"c1"}
    await medan.distributor.login("2001")
    await medan.publisher.publish()
    await tick(net, clock, 4)
    assert pal.phone.moves == []                    # not before the next evaluation
    await tick(net, clock, 1)
    assert pal.phone.moves == [("c1", "medan")]
    assert [d.target for c, d in pal.decisions if c == "c1"] == [None, "medan"]
    await stop_all(net)


@pytest_twisted.ensureDeferred
async def test_a_call_answered_soon_at_home_stays(fresh_redis: RedisServer) -> None:
    clock = virtual_clock()
    net = await three_sites(fresh_redis, clock, default=InterflowRule(threshold_s=200))
    pal, medan = net["palembang"], net["medan"]
    await busy(pal, "1001", "p0", clock)            # EWT at home 180 s: under 200
    await medan.distributor.login("2001")
    await publish(net)
    await pal.distributor.enqueue(request("c1", "palembang", T0))
    await pal.settle()
    await tick(net, clock, 12)
    assert pal.phone.moves == []
    assert "threshold" in pal.decisions[-1][1].reason
    await stop_all(net)


@pytest_twisted.ensureDeferred
async def test_failed_trunk_call_returns_the_call_to_its_place_and_tries_elsewhere(
    fresh_redis: RedisServer,
) -> None:
    clock = virtual_clock()
    net = await three_sites(fresh_redis, clock, reevaluate_s=5.0)
    pal, medan, jak = net["palembang"], net["medan"], net["jakarta"]
    pal.phone.unreachable.add("medan")
    await busy(pal, "1001", "p0", clock)
    await medan.distributor.login("2001")
    await publish(net)
    await pal.distributor.enqueue(request("c1", "palembang", T0))
    await pal.settle()
    clock.advance(1)
    await pal.distributor.enqueue(request("c2", "palembang", T0 + 1))
    await pal.settle()
    assert ("c1", "medan") in pal.phone.moves
    queue = await pal.queues.queue("general")
    assert [c for c, _, _ in queue][:2] == ["c1", "c2"]    # c1 back in front of c2
    r = client(fresh_redis)
    assert r.hget("acd:{palembang}:call:c1", "refused") == "medan"
    assert r.zcard("acd:trunk:{palembang>medan}") == 0
    await jak.distributor.login("3001")
    await jak.publisher.publish()
    await tick(net, clock, 5)
    assert pal.phone.moves.count(("c1", "medan")) == 1    # never medan again
    assert ("c1", "jakarta") in pal.phone.moves
    await stop_all(net)


@pytest_twisted.ensureDeferred
async def test_home_sibling_hub_at_most_two_moves_never_back(fresh_redis: RedisServer) -> None:
    clock = virtual_clock()
    rule = InterflowRule(threshold_s=60, accept_s=10_000, margin_s=0)
    net = await three_sites(fresh_redis, clock, default=rule, reevaluate_s=5.0)
    pal, medan, jak = net["palembang"], net["medan"], net["jakarta"]
    await busy(medan, "2001", "m0", clock)          # medan staffed, its agent talking
    await publish(net)                              # palembang and jakarta: nobody
    await pal.distributor.enqueue(request("c1", "palembang", T0))
    await pal.settle()
    assert pal.phone.moves == [("c1", "medan")]     # EWT inf at home, 180 s at medan
    assert await medan.queues.position("c1") == 1   # waits at medan, re-evaluated there
    await tick(net, clock, 5)
    assert medan.phone.moves == []                  # palembang visited, jakarta unstaffed
    assert "palembang: visited" in medan.decisions[-1][1].reason
    await jak.distributor.login("3001")
    await publish(net)
    await tick(net, clock, 5)
    assert medan.phone.moves == [("c1", "jakarta")]
    r = client(fresh_redis)
    assert r.hget("acd:{jakarta}:call:c1", "visited") == "palembang,medan,jakarta"
    assert r.hget("acd:{jakarta}:call:c1", "moves") == "2"
    assert jak.phone.ringing_agent("c1") == "3001"
    await stop_all(net)


@pytest_twisted.ensureDeferred
async def test_a_site_that_is_down_gets_no_calls_and_the_trunk_limit_holds(
    fresh_redis: RedisServer,
) -> None:
    clock = virtual_clock()
    net = await three_sites(fresh_redis, clock, trunk_limit=1)
    pal, medan = net["palembang"], net["medan"]
    await busy(pal, "1001", "p0", clock)
    await medan.distributor.login("2001")
    await publish(net)
    await medan.publisher.stop()                   # medan's pln123 stops: status withdrawn
    await pal.distributor.enqueue(request("c1", "palembang", T0))
    await pal.settle()
    assert pal.phone.moves == []
    assert "medan: down" in pal.decisions[-1][1].reason
    await medan.publisher.publish()                # back up
    r = client(fresh_redis)
    r.zadd("acd:trunk:{palembang>medan}", {"other": T0 - 60})  # the one slot is taken
    await tick(net, clock, 5)
    assert pal.phone.moves == []
    assert "medan: trunk full" in pal.decisions[-1][1].reason
    r.zrem("acd:trunk:{palembang>medan}", "other")
    await tick(net, clock, 5)
    assert pal.phone.moves == [("c1", "medan")]
    await stop_all(net)


@pytest_twisted.ensureDeferred
async def test_receiving_site_keeps_its_own_callers_in_order(fresh_redis: RedisServer) -> None:
    clock = virtual_clock()
    rule = InterflowRule(threshold_s=60, accept_s=10_000, margin_s=0)
    net = await three_sites(fresh_redis, clock, default=rule)
    pal, medan = net["palembang"], net["medan"]
    await busy(medan, "2001", "m0", clock)
    await pal.distributor.enqueue(request("c1", "palembang", T0))   # nobody at palembang
    await pal.settle()
    clock.advance(3)
    await medan.distributor.enqueue(request("m1", "medan", T0 + 3))
    clock.advance(1)
    await medan.distributor.enqueue(request("m2", "medan", T0 + 4))
    await medan.settle()
    await publish(net)
    await tick(net, clock, 5)
    assert pal.phone.moves == [("c1", "medan")]
    queue = await medan.queues.queue("general")
    assert [c for c, _, _ in queue] == ["c1", "m1", "m2"]   # its original time: first
    await stop_all(net)


@pytest_twisted.ensureDeferred
async def test_surge_turns_new_callers_away_when_every_site_is_over_the_maximum(
    fresh_redis: RedisServer,
) -> None:
    clock = virtual_clock()
    net = await three_sites(fresh_redis, clock, national_max_ewt_s=100)
    pal = net["palembang"]
    await busy(pal, "1001", "p0", clock)            # home EWT 180 s > 100; nobody elsewhere
    await publish(net)
    await pal.distributor.enqueue(request("c1", "palembang", T0))
    await pal.settle()
    assert pal.turned_away == ["c1"]
    await stop_all(net)


@pytest_twisted.ensureDeferred
async def test_callers_evaluated_together_do_not_all_rush_to_one_site(
    fresh_redis: RedisServer,
) -> None:
    clock = virtual_clock()
    net = await three_sites(fresh_redis, clock)
    pal, medan = net["palembang"], net["medan"]
    await medan.distributor.login("2001")         # one ready agent at medan, nobody else
    await publish(net)
    for n in range(5):                            # nobody at palembang: EWT infinite
        await pal.distributor.enqueue(request(f"c{n}", "palembang", T0))
    await pal.settle()
    # the first takes medan's ready agent; a second would wait AHT (180 s) there, over
    # medan's accept threshold, though medan's status has not been republished yet
    assert [target for _, target in pal.phone.moves] == ["medan"]
    await stop_all(net)
