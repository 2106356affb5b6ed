"""The IVR end to end: real Asterisk 22 (sandbox), the sites' rendered dialplans,
synthesised Indonesian/English prompts, real Redis, and scripted callers keying DTMF.

Callers key early on purpose (barge-in), so the tests take seconds, not the length of
every prompt; DTMF strings use SendDTMF syntax, `w` being a 0.5 s pause.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted

from pln123.config import Config, load_config
from tests.e2e.ivr_harness import RunningIVR, admin, start_ivr
from tests.fixtures.asterisk_sandbox import SandboxSession
from tests.fixtures.redis_server import RedisServer
from tests.harness.ami import connect
from tests.harness.reactor import poll, reactor, within
from tools.sandbox import Instance

pytestmark = pytest.mark.asterisk

CONFIG = Path(__file__).parents[2] / "deploy" / "config" / "pln.yaml"
IDPEL = "512345678901"


@pytest.fixture(scope="module")
def config() -> Config:
    return load_config(CONFIG)


async def with_ivr(config: Config, site: Instance, redis: RedisServer,
                   body: Callable[[RunningIVR], Awaitable[None]]) -> None:
    running = await start_ivr(config, site, redis.url)
    try:
        await body(running)
    finally:
        await running.stop()


@pytest_twisted.ensureDeferred
async def test_report_a_fault_with_idpel_and_get_a_ticket(
        config: Config, asterisk_site: Instance, fresh_redis: RedisServer) -> None:
    async def body(ivr: RunningIVR) -> None:
        number = await ivr.call("0711", f"2www1www{IDPEL}wwww1", pause=1.5, hold=25)
        await poll(lambda: (s := ivr.session_for(number)) is not None
                   and "ticket_created" in s.journal.names(), 45, "a ticket")
        session = ivr.session_for(number)
        assert session is not None
        created = session.journal.first("ticket_created")
        assert created is not None and created["category"] == "padam"
        ticket = await ivr.tickets.find(created["ticket"])
        assert ticket is not None
        assert (ticket.idpel, ticket.area_code, ticket.site, ticket.caller_number) == (
            IDPEL, "0711", "palembang", number)
        assert ticket.call_id == session.call_id
        names = session.journal.names()
        assert names.index("idpel_confirmed") < names.index("ticket_created")
        assert session.journal.first("idpel_confirmed") == {"idpel": IDPEL}

    await with_ivr(config, asterisk_site, fresh_redis, body)


@pytest_twisted.ensureDeferred
async def test_a_long_dtmf_burst_files_no_ticket(
        config: Config, asterisk_site: Instance, fresh_redis: RedisServer) -> None:
    # Four times over: "report a fault, no power", the IDPEL, "1" to confirm; one burst
    # of 57 keys (half a second each) from the greeting on, never a pause to listen.
    burst = "21" + "11".join([IDPEL] * 4) + "1"

    async def body(ivr: RunningIVR) -> None:
        number = await ivr.call("0711", burst, pause=1, hangup_after=40)
        session = await ivr.wait_finished(number, 60)
        names = session.journal.names()
        assert "ticket_created" not in names and "idpel_confirmed" not in names
        assert "type_ahead_discarded" in names
        assert session.outcome == "caller_hung_up"
        assert await ivr.tickets.find("10000001") is None  # not one number was taken

    await with_ivr(config, asterisk_site, fresh_redis, body)


@pytest_twisted.ensureDeferred
async def test_outage_notice_for_0711_but_not_for_061(
        config: Config, asterisk_sandbox: SandboxSession, fresh_redis: RedisServer) -> None:
    palembang = asterisk_sandbox.site("palembang")
    medan = asterisk_sandbox.site("medan")
    south = await start_ivr(config, palembang, fresh_redis.url)
    north = await start_ivr(config, medan, fresh_redis.url)
    try:
        outage = await south.outages.post(("0711", "0721"), "Gangguan gardu induk Keramasan",
                                          reactor.seconds() + 7200)
        caller_0711 = await south.call("0711", "0ww1", pause=1)
        caller_061 = await north.call("061", "0", pause=1)
        heard = await south.wait_finished(caller_0711, 30)
        not_heard = await north.wait_finished(caller_061, 30)
        assert heard.journal.first("outage_heard") == {"outage_id": outage.id}
        assert "outage_heard" not in not_heard.journal.names()
        # Both may still ask for an agent after (or without) the notice.
        assert heard.outcome == not_heard.outcome == "queued"
        assert [r.area_code for r in south.intake.requests] == ["0711"]
        assert [r.area_code for r in north.intake.requests] == ["061"]
        assert north.intake.requests[0].region == "Medan"
    finally:
        await south.stop()
        await north.stop()


@pytest_twisted.ensureDeferred
async def test_nine_switches_to_english(
        config: Config, asterisk_site: Instance, fresh_redis: RedisServer) -> None:
    async def body(ivr: RunningIVR) -> None:
        number = await ivr.call("0711", "9", pause=1, hold=20)
        await poll(lambda: (s := ivr.session_for(number)) is not None
                   and "language_changed" in s.journal.names(), 20, "the switch")
        session = ivr.session_for(number)
        assert session is not None
        manager = await admin(asterisk_site)
        try:
            reply = await within(manager.send_action(
                "Getvar", {"Channel": session.channel.channel,
                           "Variable": "CHANNEL(language)"}), 5, "Getvar")
            assert reply.get("Value") == "en"
        finally:
            await manager.stopService()
        await ivr.ivr.ami.send_action("PlayDTMF", {
            "Channel": session.channel.channel.replace(";2", ";1"), "Digit": "0"})
        finished = await ivr.wait_finished(number, 30)
        assert finished.outcome == "queued"
        assert ivr.intake.requests[0].language == "en"

    await with_ivr(config, asterisk_site, fresh_redis, body)


@pytest_twisted.ensureDeferred
async def test_three_invalid_digits_reach_the_fallback(
        config: Config, asterisk_site: Instance, fresh_redis: RedisServer) -> None:
    async def body(ivr: RunningIVR) -> None:
        number = await ivr.call("0711", "7www6www5", pause=1)
        session = await ivr.wait_finished(number, 40)
        events = [e for e in session.journal.names()
                  if e in ("invalid_choice", "fallback", "handed_off")]
        assert events == ["invalid_choice"] * 3 + ["fallback", "handed_off"]
        assert [f["key"] for name, f in session.journal.events
                if name == "invalid_choice"] == ["7", "6", "5"]
        assert session.outcome == "queued"
        assert ivr.intake.requests[0].skill == "general"

    await with_ivr(config, asterisk_site, fresh_redis, body)


@pytest_twisted.ensureDeferred
async def test_hang_up_in_the_middle_of_idpel_entry(
        config: Config, asterisk_site: Instance, fresh_redis: RedisServer) -> None:
    async def body(ivr: RunningIVR) -> None:
        number = await ivr.call("0711", "2www1www5123", pause=1, hangup_after=7)
        session = await ivr.wait_finished(number, 30)
        assert session.outcome == "caller_hung_up"
        assert session.journal.names()[-2:] == ["caller_hung_up", "call_ended"]
        assert "flow_started" in session.journal.names()
        assert ivr.intake.requests == []
        channel: Any = session.channel
        assert channel.pending_count() == 0
        assert channel.channel not in ivr.ivr.router.sessions
        assert session.call_id not in ivr.ivr.engine.active

    await with_ivr(config, asterisk_site, fresh_redis, body)


@pytest_twisted.ensureDeferred
async def test_ticket_status_is_read_back(
        config: Config, asterisk_site: Instance, fresh_redis: RedisServer) -> None:
    async def body(ivr: RunningIVR) -> None:
        ticket = await ivr.tickets.create(IDPEL, "0711", "padam", "0811", "palembang", "t1")
        await ivr.tickets.set_status(ticket.number, "dispatched")
        number = await ivr.call("0711", f"4www{ticket.number}#", pause=1, hold=15)
        await poll(lambda: (s := ivr.session_for(number)) is not None
                   and "ticket_status_read" in s.journal.names(), 30, "the status")
        session = ivr.session_for(number)
        assert session is not None
        assert session.journal.first("ticket_status_read") == {
            "ticket": ticket.number, "status": "dispatched"}

    await with_ivr(config, asterisk_site, fresh_redis, body)


@pytest_twisted.ensureDeferred
async def test_fifty_callers_at_once_reach_their_menus_within_two_seconds(
        config: Config, asterisk_site: Instance, fresh_redis: RedisServer) -> None:
    async def body(ivr: RunningIVR) -> None:
        started: dict[str, float] = {}
        first_prompt: dict[str, float] = {}

        def on_agi_start(message: Any) -> None:
            started.setdefault(message.get("Channel") or "", reactor.seconds())

        def on_exec_start(message: Any) -> None:
            first_prompt.setdefault(message.get("Channel") or "", reactor.seconds())

        ivr.ivr.ami.dispatcher.subscribe("AsyncAGIStart", on_agi_start)
        # AGIExecStart is not sent to pln123's rendered user: observed as sandbox-admin.
        observer = await connect(asterisk_site, user="sandbox-admin", events="agi")
        observer.dispatcher.subscribe("AGIExecStart", on_exec_start)
        try:
            numbers = [await ivr.call("0711", "1", pause=1, hold=10) for _ in range(50)]
            await poll(lambda: all((s := ivr.session_for(n)) is not None
                                   and "menu_entered" in s.journal.names() for n in numbers),
                       40, "50 callers in their menus")
        finally:
            await observer.stopService()
        # Answered and greeted at once: the first prompt starts within 2 s of the answer.
        delays = [first_prompt[c] - started[c] for c in started]
        assert len(delays) == 50
        assert max(delays) <= 2.0, f"first prompt after {max(delays):.2f} s"
        # A caller who keys 1 a second into the greeting is in the menu within 2 s.
        menu_delays = []
        for n in numbers:
            session = ivr.session_for(n)
            assert session is not None
            entered = session.journal.at("menu_entered")
            assert entered is not None
            menu_delays.append(entered - session.entered_at)
        assert max(menu_delays) <= 2.0, f"menu reached after {max(menu_delays):.2f} s"

    await with_ivr(config, asterisk_site, fresh_redis, body)
