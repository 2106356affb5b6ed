"""Repeat callers against real Redis: the IVR finds a caller's open ticket by the number
they call from (in whichever form their network sends it) and by IDPEL through
`RedisTicketLookup`, reads its status, and a caller who hangs up after it is counted
`deflected` in the site's interval and minute counters, where the live figures read it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_twisted
from twisted.internet.task import Clock

from acd.queues.deflections import RedisDeflections
from acd.queues.metrics import SiteMetrics
from acd.selfservice.lookups import RedisTicketLookup
from acd.selfservice.tickets import RedisTicketDesk
from acd.store import RedisStore
from acd.store.keys import SiteKeys
from ivr.engine.engine import IVREngine
from ivr.engine.session import CallSession, IVRServices
from pln123.config import Config, load_config
from tests.doubles.config import SHIPPED as CONFIG
from tests.doubles.ivr import (
    HangUp,
    MemoryIntake,
    MemoryOutages,
    Press,
    ScriptedChannel,
    Step,
)
from tests.fixtures.redis_server import RedisServer
from tests.harness.reactor import poll

pytestmark = pytest.mark.redis

T0 = 1_735_801_200.0  # 2025-01-02 14:00 WIB
IDPEL = "512345678901"


@pytest_twisted.async_yield_fixture
async def store(fresh_redis: RedisServer) -> AsyncIterator[RedisStore]:
    store = RedisStore(fresh_redis.url)
    await store.start()
    yield store
    await store.close()


class Site:
    def __init__(self, store: RedisStore) -> None:
        self.config: Config = load_config(CONFIG)
        self.clock = Clock()
        self.clock.advance(T0)
        self.desk = RedisTicketDesk(store, self.clock)
        self.intake = MemoryIntake()
        self.keys = keys = SiteKeys("palembang",
                                    self.config.acd.pooling.pool_of("palembang"))
        self.metrics = SiteMetrics(store, "palembang", self.config.acd)
        self.engine = IVREngine(self.config, "palembang", IVRServices(
            self.intake, MemoryOutages(self.clock), self.desk,
            lookup=RedisTicketLookup(store, self.clock),
            deflections=RedisDeflections(store, keys, self.clock)), self.clock)

    async def call(self, number: str, *script: Step) -> tuple[ScriptedChannel, CallSession]:
        channel = ScriptedChannel(list(script), env={
            "agi_extension": "0711123", "agi_arg_1": "0711", "agi_callerid": number})
        outcome: Any = await self.engine.on_session(channel)
        session = self.engine.finished[-1]
        assert session.outcome == outcome
        return channel, session


@pytest_twisted.ensureDeferred
async def test_a_repeat_caller_is_found_by_their_number_and_counted_deflected(
        store: RedisStore, fresh_redis: RedisServer) -> None:
    site = Site(store)
    ticket = await site.desk.create(IDPEL, "0711", "padam", "+62 811-2233-4455", "palembang",
                                    "first-call")
    site.clock.advance(40 * 60)
    assert await site.desk.set_status(ticket.number, "dispatched")
    site.clock.advance(5 * 60)

    # The network sends the national form today: the same caller.
    channel, session = await site.call("081122334455", HangUp())
    assert session.outcome == "caller_hung_up"
    assert session.journal.first("ticket_update_heard") == {
        "ticket": ticket.number, "status": "dispatched", "hearing": 1}
    played = channel.played()
    # ... of 2 January: a crew was dispatched at 14:40 (WIB).
    assert played[played.index("pln123/ticket-status-dispatched") + 1:] == [
        "pln123/ticket-at-time", "pln123/num-4", "pln123/num-teen", "pln123/num-4",
        "pln123/num-x10", "pln123/repeat-caller-offer"]
    assert played.count("pln123/month-1") == 1

    async def deflected() -> int:
        return (await site.metrics.interval("general", site.clock.seconds())).deflected

    # Written after the caller left, fire and forget: read until it is there.
    interval = site.keys.interval("general", int(site.clock.seconds() // 900 * 900))
    counts = fresh_redis.client()
    await poll(lambda: int(counts.hget(interval, "deflected") or 0) == 1, 5, "the count")
    assert counts.ttl(interval) > 30 * 24 * 3600
    live = await site.metrics.live("general", site.clock.seconds())
    assert live.counters.deflected == 1 and live.counters.offered == 0

    # The same caller again, this time for an agent: heard it, pressed 0, queued.
    _channel, again = await site.call("6281122334455", Press("0"))
    assert again.outcome == "queued" and "repeat_caller_agent" in again.journal.names()
    assert [r.caller_number for r in site.intake.requests] == ["6281122334455"]
    assert await deflected() == 1


@pytest_twisted.ensureDeferred
async def test_no_ticket_means_the_menu_and_a_resolved_one_is_not_read(
        store: RedisStore) -> None:
    site = Site(store)
    ticket = await site.desk.create(IDPEL, "0711", "padam", "081122334455", "palembang", "x")
    assert await site.desk.set_status(ticket.number, "resolved")
    channel, session = await site.call("081122334455", Press("0"))
    assert channel.played()[:2] == ["pln123/welcome", "pln123/menu-main"]
    assert "ticket_update_heard" not in session.journal.names()
    channel, session = await site.call("0819999999", Press("0"))
    assert channel.played()[:2] == ["pln123/welcome", "pln123/menu-main"]


@pytest_twisted.ensureDeferred
async def test_the_status_flow_finds_a_ticket_by_idpel(store: RedisStore) -> None:
    site = Site(store)
    ticket = await site.desk.create(IDPEL, "0711", "padam", "", "palembang", "withheld")
    _channel, session = await site.call("0819999999", Press("4"), Press(IDPEL + "#"),
                                        HangUp())
    assert session.journal.first("ticket_status_read") == {
        "ticket": ticket.number, "status": "received", "by": "idpel"}
    assert session.journal.first("deflected") == {"ticket": ticket.number,
                                                  "skill": "general"}
