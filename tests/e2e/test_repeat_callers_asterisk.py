"""Repeat callers end to end: the sandbox Asterisk, the rendered dialplan, the synthesised
prompts and real Redis. Two callers with an open ticket on their number, at once: one
hears its status and reaches an agent with one key, the other hangs up after hearing it
and is counted `deflected` in the site's counters."""

from __future__ import annotations

import pytest
import pytest_twisted

from acd.store.keys import INTERVAL_S, SiteKeys
from pln123.config import load_config
from tests.doubles.config import SHIPPED as CONFIG
from tests.e2e.ivr_harness import prompts_played, start_ivr
from tests.fixtures.redis_server import RedisServer
from tests.harness.reactor import poll, reactor
from tools.sandbox import Instance

pytestmark = pytest.mark.asterisk

IDPEL = "512345678901"
STATUS = ("pln123/ticket-yours", "pln123/ticket-status-dispatched", "pln123/ticket-at-time")


@pytest_twisted.ensureDeferred
async def test_a_repeat_caller_hears_the_status_then_an_agent_or_hangs_up_deflected(
        asterisk_site: Instance, fresh_redis: RedisServer) -> None:
    config = load_config(CONFIG)
    ivr = await start_ivr(config, asterisk_site, fresh_redis.url, repeat_callers=True)
    # What the IVR plays, as Asterisk runs it.
    observer, played = await prompts_played(asterisk_site)
    try:
        wants_agent, satisfied = ivr.new_number(), ivr.new_number()
        for number in (wants_agent, satisfied):
            ticket = await ivr.tickets.create(IDPEL, "0711", "padam", number, "palembang",
                                              f"earlier-{number}")
            assert await ivr.tickets.set_status(ticket.number, "dispatched")
        for number in (wants_agent, satisfied):
            await ivr.call("0711", number=number, hold=40)

        def channel(number: str) -> str:
            session = ivr.session_for(number)
            return session.channel.channel if session is not None else ""

        await poll(lambda: all("pln123/repeat-caller-offer" in played.get(channel(n), [])
                               for n in (wants_agent, satisfied)), 40, "both offers")
        for number in (wants_agent, satisfied):
            heard = played[channel(number)]
            assert all(prompt in heard for prompt in STATUS), heard
            assert heard[0] == "pln123/welcome" and heard[1] == STATUS[0], heard
        # One key for an agent; the other caller hangs up, answered.
        await ivr.ivr.ami.send_action("PlayDTMF", {
            "Channel": channel(wants_agent).replace(";2", ";1"), "Digit": "0",
            "Duration": "250"})
        await ivr.ivr.ami.send_action("Hangup", {"Channel": channel(satisfied)})
        queued = await ivr.wait_finished(wants_agent, 30)
        gone = await ivr.wait_finished(satisfied, 30)
        assert queued.outcome == "queued"
        assert [r.caller_number for r in ivr.intake.requests] == [wants_agent]
        assert "repeat_caller_agent" in queued.journal.names()
        assert "deflected" not in queued.journal.names()
        assert gone.outcome == "caller_hung_up" and "deflected" in gone.journal.names()

        keys = SiteKeys("palembang", config.acd.pooling.pool_of("palembang"))
        counts = fresh_redis.client()
        now = reactor.seconds()
        names = [keys.interval("general", int(t // INTERVAL_S * INTERVAL_S))
                 for t in (gone.entered_at, now)]

        def counted() -> int:
            return sum(int(counts.hget(name, "deflected") or 0) for name in set(names))

        await poll(lambda: counted() == 1, 10, "one deflected caller counted")
    finally:
        await observer.stopService()
        await ivr.stop()
