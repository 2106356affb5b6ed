"""Repeat callers on a scripted channel with a Clock: a caller whose number has an open
ticket hears its latest status after the greeting, then an agent with one key, the status
again, or the main menu; one who hangs up after hearing it is counted `deflected`."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from structlog.testing import capture_logs
from twisted.internet.task import Clock

from acd.selfservice.models import Ticket
from ivr.engine.engine import IVREngine
from ivr.engine.repeat import LOOKUP_TIMEOUT_S
from ivr.engine.session import CallSession, IVRServices
from ivr.engine.ticket_news import ticket_news_prompts
from ivr.prompts.numbers import say_digits, say_time
from ivr.settings import RepeatCallers
from pln123.config import Config, load_config
from tests.doubles.config import SHIPPED as CONFIG
from tests.doubles.ivr import (
    Barge,
    HangUp,
    MemoryDeflections,
    MemoryIntake,
    MemoryLookup,
    MemoryOutages,
    MemoryTickets,
    Press,
    ScriptedChannel,
    Silence,
    Step,
)

WIB = ZoneInfo("Asia/Jakarta")
NOW = 1_800_000_000.0          # 2027-01-15 15:00 WIB
CALLER = "081122334455"
IDPEL = "512345678901"


def wib(day: int, hour: int, minute: int) -> float:
    return datetime(2027, 1, day, hour, minute, tzinfo=WIB).timestamp()


@pytest.fixture(scope="module")
def config() -> Config:
    return load_config(CONFIG)


class World:
    def __init__(self, config: Config, *, lookup: bool = True) -> None:
        self.config = config
        self.clock = Clock()
        self.clock.advance(NOW)
        self.intake = MemoryIntake()
        self.outages = MemoryOutages(self.clock)
        self.tickets = MemoryTickets(self.clock)
        self.lookup = MemoryLookup(self.tickets)
        self.deflections = MemoryDeflections()
        self.engine = IVREngine(
            config, "palembang",
            IVRServices(self.intake, self.outages, self.tickets,
                        lookup=self.lookup if lookup else None,
                        deflections=self.deflections),
            self.clock)

    def ticket(self, *, caller: str = CALLER, status: str = "dispatched",
               created_at: float = wib(15, 9, 5), status_at: float | None = wib(15, 10, 40),
               idpel: str = IDPEL) -> Ticket:
        number = str(10000001 + len(self.tickets.tickets))
        ticket = Ticket(number=number, idpel=idpel, area_code="0711", category="padam",
                        caller_number=caller, site="palembang", call_id="before",
                        created_at=created_at, status=status, status_at=status_at)
        self.tickets.tickets[number] = ticket
        return ticket

    def start(self, *script: Step, number: str = CALLER) -> tuple[ScriptedChannel, list[Any]]:
        channel = ScriptedChannel(list(script), env={
            "agi_extension": "0711123", "agi_arg_1": "0711", "agi_arg_2": "palembang",
            "agi_callerid": number})
        outcome: list[Any] = []
        self.engine.on_session(channel).addBoth(outcome.append)
        return channel, outcome

    def call(self, *script: Step, number: str = CALLER
             ) -> tuple[ScriptedChannel, CallSession, Any]:
        channel, outcome = self.start(*script, number=number)
        assert outcome, "the session did not finish synchronously"
        return channel, self.engine.finished[-1], outcome[0]


@pytest.fixture
def world(config: Config) -> World:
    return World(config)


def files(prompts: list[str]) -> list[str]:
    return [f"pln123/{p}" for p in prompts]


def test_the_status_sentence_names_the_ticket_its_day_status_and_time() -> None:
    ticket = Ticket("10000042", IDPEL, "0711", "padam", CALLER, "palembang", "c",
                    created_at=wib(15, 9, 5), status="dispatched",
                    status_at=wib(15, 10, 40))
    assert ticket_news_prompts(ticket, "id", WIB) == [
        "ticket-yours", "num-1", "num-0", "num-0", "num-0", "num-0", "num-0", "num-4", "num-2",
        "ticket-of-date", "num-5", "num-teen", "month-1",          # lima belas Januari
        "ticket-status-dispatched", "ticket-at-time", "num-10", "num-4", "num-x10"]
    english = ticket_news_prompts(ticket, "en", WIB)
    assert english[9:] == ["ticket-of-date", "num-15", "month-1", "ticket-status-dispatched",
                           "ticket-at-time", "num-10", "num-40"]


@pytest.mark.parametrize(("status", "fragment"), [
    ("received", "ticket-status-received"), ("dispatched", "ticket-status-dispatched"),
    ("on_site", "ticket-status-on-site"), ("resolved", "ticket-status-resolved")])
def test_every_status_apkt_reports_has_its_fragment(status: str, fragment: str,
                                                    config: Config) -> None:
    ticket = Ticket("10000001", IDPEL, "0711", "padam", CALLER, "palembang", "c",
                    created_at=wib(15, 9, 5), status=status, status_at=wib(15, 9, 5))
    prompts = ticket_news_prompts(ticket, "id", WIB)
    assert fragment in prompts
    # Every catalogue prompt it uses is in the shipped catalogue, in both languages.
    for prompt in prompts:
        if not prompt.startswith(("num-", "time-")):
            assert set(config.prompts[prompt].text) == {"id", "en"}, prompt


def test_a_status_from_another_day_says_that_day_and_no_time_without_one() -> None:
    later = Ticket("10000001", IDPEL, "0711", "padam", CALLER, "palembang", "c",
                   created_at=wib(14, 22, 0), status="on_site", status_at=wib(15, 7, 30))
    prompts = ticket_news_prompts(later, "id", WIB)
    tail = ["ticket-status-on-site", "ticket-on-date", "num-5", "num-teen", "month-1",
            "ticket-at-time", *say_time(7, 30, "id")]
    assert prompts[-len(tail):] == tail
    assert prompts[prompts.index("ticket-of-date"):][:4] == [
        "ticket-of-date", "num-4", "num-teen", "month-1"]   # filed the 14th
    unknown_time = dataclasses.replace(later, status_at=None)
    assert ticket_news_prompts(unknown_time, "id", WIB)[-1] == "ticket-status-on-site"
    with pytest.raises(ValueError, match="not digits"):
        ticket_news_prompts(dataclasses.replace(later, number="1000 01"), "id", WIB)


def test_a_repeat_caller_hears_the_status_and_reaches_an_agent_with_one_key(
        world: World) -> None:
    ticket = world.ticket()
    channel, session, outcome = world.call(Press("0"))
    assert outcome == "queued"
    news = files(ticket_news_prompts(ticket, "id", WIB))
    played = channel.played()
    assert played[0] == "pln123/welcome"
    assert played[1:len(news) + 1] == news
    assert played[len(news) + 1:] == ["pln123/repeat-caller-offer", "pln123/transfer-agent"]
    assert world.lookup.asked == [("caller", CALLER)]
    assert world.intake.requests[0].skill == "general"
    assert session.journal.first("ticket_update_heard") == {
        "ticket": ticket.number, "status": "dispatched", "hearing": 1}
    assert session.journal.first("repeat_caller_agent") == {
        "key": "0", "action": "queue general (priority 5)"}
    # An agent asked for: no outage notice, no menu, and no deflection.
    assert "menu_entered" not in session.journal.names()
    assert world.deflections.counted == []


def test_a_caller_who_hangs_up_after_hearing_it_is_deflected(world: World) -> None:
    ticket = world.ticket()
    channel, session, outcome = world.call(HangUp())   # during the offer, after the status
    assert outcome == "caller_hung_up"
    assert "pln123/ticket-status-dispatched" in channel.played()
    assert world.deflections.counted == [(session.call_id, "general")]
    assert session.journal.first("deflected") == {"ticket": ticket.number, "skill": "general"}
    assert session.journal.names()[-3:] == ["caller_hung_up", "deflected", "call_ended"]


def test_one_repeats_the_status_and_any_other_key_goes_to_the_main_menu(
        world: World) -> None:
    world.ticket()
    world.outages.items.append(
        dataclasses.replace(_outage(), area_codes=("0711",)))
    channel, session, outcome = world.call(Press("1"), Barge("5"), Press("0"))
    assert outcome == "queued"
    played = channel.played()
    assert played.count("pln123/ticket-yours") == 2   # "5" stopped the second at once
    assert played.count("pln123/repeat-caller-offer") == 1
    # The main menu, not the notice: the caller's own ticket said more than the area's.
    assert "pln123/outage-notice" not in played
    assert played[-2:] == ["pln123/menu-main", "pln123/transfer-agent"]
    assert [f["hearing"] for n, f in session.journal.events
            if n == "ticket_update_heard"] == [1, 2]
    assert session.journal.first("repeat_caller_menu") == {"key": "5"}
    assert world.deflections.counted == []   # reached an agent after all


def test_no_key_after_the_status_is_the_main_menu_and_a_hang_up_there_still_counts(
        world: World) -> None:
    world.ticket()
    channel, _session, outcome = world.call(Silence(), HangUp())
    assert outcome == "caller_hung_up"
    assert channel.played()[-2:] == ["pln123/repeat-caller-offer", "pln123/menu-main"]
    assert len(world.deflections.counted) == 1


def test_a_key_typed_in_the_greeting_still_hears_the_status_then_takes_its_choice(
        world: World) -> None:
    world.ticket()
    channel, _session, outcome = world.call(Barge("3"), Press("2"))
    assert outcome == "queued"
    played = channel.played()
    assert "pln123/ticket-status-dispatched" in played
    assert "pln123/repeat-caller-offer" not in played
    assert played[-2:] == ["pln123/menu-billing", "pln123/transfer-agent"]
    assert world.intake.requests[0].skill == "billing"


def test_the_agent_key_typed_in_the_greeting_is_an_agent_after_the_status(
        world: World) -> None:
    world.ticket()
    channel, _session, outcome = world.call(Barge("0"))
    assert outcome == "queued"
    played = channel.played()
    assert played[1] == "pln123/ticket-yours"
    assert played[-5:] == ["pln123/ticket-at-time", "pln123/num-10", "pln123/num-4",
                           "pln123/num-x10", "pln123/transfer-agent"]   # ... 10:40, then
    assert "pln123/repeat-caller-offer" not in played


def test_the_newest_open_ticket_is_read_and_closed_ones_never(world: World) -> None:
    world.ticket(created_at=wib(10, 8, 0), status="received", status_at=wib(10, 8, 0))
    newest = world.ticket(created_at=wib(14, 8, 0), status="on_site",
                          status_at=wib(15, 11, 0))
    world.ticket(created_at=wib(15, 8, 0), status="resolved", status_at=wib(15, 9, 0))
    _channel, session, _ = world.call(HangUp(), number="+6281122334455")
    assert session.journal.first("ticket_update_heard") == {
        "ticket": newest.number, "status": "on_site", "hearing": 1}


def test_a_caller_without_a_ticket_hears_the_greeting_the_notice_and_the_menu(
        world: World) -> None:
    world.ticket(caller="0819999999")
    world.outages.items.append(_outage())
    channel, session, outcome = world.call(Silence(), HangUp())
    assert outcome == "caller_hung_up"
    assert channel.played()[:3] == ["pln123/welcome", "pln123/outage-notice",
                                     "pln123/menu-main"]
    assert world.lookup.asked == [("caller", CALLER)]
    assert "ticket_update_heard" not in session.journal.names()
    assert world.deflections.counted == []


def test_a_stalled_lookup_costs_a_caller_at_most_the_timeout(world: World) -> None:
    world.ticket()
    world.lookup.stalled = True
    channel, outcome = world.start(Silence(), Press("0"))
    assert not outcome and channel.played() == ["pln123/welcome"]
    world.clock.advance(LOOKUP_TIMEOUT_S - 0.01)
    assert not outcome
    world.clock.advance(0.01)
    assert outcome == ["queued"]
    assert "pln123/ticket-yours" not in channel.played()


def test_a_caller_gone_during_the_greeting_leaves_nothing_waiting(world: World) -> None:
    world.ticket()
    world.lookup.stalled = True
    _channel, _session, outcome = world.call(HangUp(at_prompt=True))
    assert outcome == "caller_hung_up"
    with capture_logs() as logs:     # the late lookup times out, handled, nobody waiting
        world.clock.advance(LOOKUP_TIMEOUT_S)
    assert [entry["event"] for entry in logs] == ["ivr_ticket_lookup_unavailable"]
    assert world.deflections.counted == []


def test_a_broken_lookup_is_no_ticket(world: World) -> None:
    world.ticket()
    world.lookup.broken = True
    channel, _session, outcome = world.call(Silence(), Press("0"))
    assert outcome == "queued"
    assert channel.played()[:2] == ["pln123/welcome", "pln123/menu-main"]


def test_off_for_the_site_or_without_a_lookup_nobody_is_looked_up(config: Config) -> None:
    ivr = dataclasses.replace(config.ivr, repeat_callers=RepeatCallers(
        enabled=True, sites={"palembang": False}))
    off_here = World(dataclasses.replace(config, ivr=ivr))
    off_here.ticket()
    channel, _session, _ = off_here.call(Silence(), Press("0"))
    assert off_here.lookup.asked == [] and "pln123/ticket-yours" not in channel.played()
    on_elsewhere = dataclasses.replace(config.ivr, repeat_callers=RepeatCallers(
        enabled=False, sites={"palembang": True}))
    on_here = World(dataclasses.replace(config, ivr=on_elsewhere))
    on_here.ticket()
    on_here.call(HangUp())
    assert on_here.lookup.asked == [("caller", CALLER)]
    without = World(config, lookup=False)
    without.ticket()
    channel, _session, _ = without.call(Silence(), Press("0"))
    assert "pln123/ticket-yours" not in channel.played()


# -- the ticket status flow: by ticket number, by IDPEL, by the caller's number ---------------

def test_status_flow_by_the_callers_number_with_hash_alone(config: Config) -> None:
    world = World(dataclasses.replace(config, ivr=dataclasses.replace(
        config.ivr, repeat_callers=RepeatCallers(enabled=False))))
    ticket = world.ticket()
    channel, session, outcome = world.call(Press("4"), Press("#"), HangUp())
    assert outcome == "caller_hung_up"
    assert session.journal.first("ticket_status_read") == {
        "ticket": ticket.number, "status": "dispatched", "by": "caller_number"}
    assert files(ticket_news_prompts(ticket, "id", WIB))[0] in channel.played()
    assert world.deflections.counted == [(session.call_id, "general")]


def test_status_flow_by_idpel(world: World) -> None:
    ticket = world.ticket(caller="")            # filed from a withheld number
    channel, session, _ = world.call(Press("4"), Press(IDPEL + "#"), HangUp())
    assert ("idpel", IDPEL) in world.lookup.asked
    assert session.journal.first("ticket_status_read") == {
        "ticket": ticket.number, "status": "dispatched", "by": "idpel"}
    digits = files(say_digits(ticket.number, "id"))
    played = channel.played()
    start = played.index("pln123/ticket-yours")
    assert played[start + 1:start + 1 + len(digits)] == digits


def test_status_flow_by_ticket_number_reads_the_same_sentence(world: World) -> None:
    ticket = world.ticket(caller="0819999999", status="resolved", status_at=wib(15, 13, 5))
    channel, session, _ = world.call(Press("4"), Press(ticket.number + "#"), HangUp())
    assert session.journal.first("ticket_status_read") == {
        "ticket": ticket.number, "status": "resolved"}
    played = channel.played()
    assert played[played.index("pln123/ticket-status-resolved") + 1:][:1] == [
        "pln123/ticket-at-time"]
    assert "pln123/num-5" in played[played.index("pln123/ticket-of-date"):]


def test_status_flow_finds_nothing_by_an_unknown_idpel_or_a_withheld_number(
        world: World) -> None:
    world.ticket(caller="0819999999")
    _c, by_idpel, _ = world.call(Press("4"), Press("999999999999#"), HangUp())
    assert by_idpel.journal.first("ticket_not_found") == {"entered": "999999999999",
                                                          "by": "idpel"}
    _c, withheld, _ = world.call(Press("4"), Press("#"), HangUp(), number="anonymous")
    assert withheld.journal.first("ticket_not_found") == {"entered": "",
                                                          "by": "caller_number"}
    assert world.deflections.counted == []   # nothing was read to either


def _outage() -> Any:
    from acd.selfservice.models import Outage

    return Outage("o-1", ("0711",), "Gardu", None, NOW - 60)
