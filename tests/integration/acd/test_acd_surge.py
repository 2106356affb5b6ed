"""Surge admission control in the WaitingRoom: when the pool's expected wait is over the
national maximum (acd.pooling.admission), a new caller gets, at their first tick, a
callback that keeps the place if they take it, else a ticket (with an IDPEL) or the apology
and PLN Mobile; never a caller left waiting; counted as `surge`, not as abandoned or max
wait. A caller re-adopted after a restart, or one an agent already rings for, is not
judged."""

from __future__ import annotations

from dataclasses import replace

import pytest
import pytest_twisted

from acd.queues.records import CallState
from tests.doubles.acd import T0, agent, request, settings, virtual_clock
from tests.fixtures.redis_server import RedisServer
from tests.integration.acd.waiting_helpers import Surge, audit, counters, start

pytestmark = pytest.mark.redis


@pytest_twisted.ensureDeferred
async def test_turned_away_caller_who_takes_the_callback_keeps_the_place(
    fresh_redis: RedisServer,
) -> None:
    clock = virtual_clock()
    surge = Surge()
    p = await start(fresh_redis, settings(), clock, admission=surge)
    p.phone.accept_callback = "07115550001"
    await p.distributor.enqueue(request("c1"))
    await p.settle()
    assert surge.asked == ["billing"]
    call = await p.queues.call("c1")
    assert call is not None and call.state is CallState.QUEUED
    assert call.fields["callback"] == "07115550001"
    assert [f[2] for f in p.phone.farewells] == [["goodbye"]]
    assert p.room.watching == frozenset()
    await p.store.close()


@pytest_twisted.ensureDeferred
async def test_declined_callback_gives_a_ticket_with_idpel_else_pln_mobile(
    fresh_redis: RedisServer,
) -> None:
    clock = virtual_clock()
    p = await start(fresh_redis, settings(), clock, admission=Surge())
    await p.distributor.enqueue(replace(request("c1"), idpel="123456789012"))
    await p.distributor.enqueue(request("c2"))
    await p.settle()
    by_channel = {f[1]: f for f in p.phone.farewells}
    _, _, prompts, _, number = by_channel["PJSIP/trunk-c1"]
    assert prompts == ["queue-apology", "ticket-created"] and number.isdigit()
    ticket = await p.tickets.find(number)
    assert ticket is not None and ticket.category == "surge"
    assert by_channel["PJSIP/trunk-c2"][2] == ["queue-apology", "pln-mobile"]
    for call_id in ("c1", "c2"):
        call = await p.queues.call(call_id)
        assert call is not None and call.state is CallState.FINISHED
        assert call.fields["outcome"] == "surge"
    c = await counters(p, T0)
    assert (c.offered, c.surge, c.abandoned, c.max_wait) == (2, 2, 0, 0)
    assert {e["call"]: e["fallback"] for e in audit(fresh_redis) if e["event"] == "surge"} \
        == {"c1": "ticket", "c2": "apology"}
    assert await p.queues.live_calls() == set()
    await p.store.close()


@pytest_twisted.ensureDeferred
async def test_a_call_already_with_an_agent_or_under_capacity_is_not_turned_away(
        fresh_redis: RedisServer) -> None:
    clock = virtual_clock()
    surge = Surge()
    p = await start(fresh_redis, settings(agent("1001")), clock, admission=surge)
    await p.distributor.login("1001")
    await p.distributor.enqueue(request("c1"))    # an agent rings at once: not judged
    await p.settle()
    assert surge.asked == [] and p.phone.farewells == []
    surge.over = False
    await p.distributor.enqueue(request("c2"))    # queued, the pool copes: it waits
    await p.settle()
    assert surge.asked == ["billing"] and p.phone.farewells == []
    call = await p.queues.call("c2")
    assert call is not None and call.state is CallState.QUEUED
    assert await p.room.adopt("c2")                # re-adopted: no second judgement
    await p.settle()
    assert surge.asked == ["billing"]
    await p.store.close()
