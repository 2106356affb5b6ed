"""The menu engine on a scripted channel with a Clock: every branch of the IVR."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from twisted.internet.task import Clock

from ivr.engine.engine import IVREngine
from ivr.engine.session import CallSession, IVRServices
from ivr.prompts.numbers import say_time
from pln123.config import Config, load_config
from tests.doubles.ivr import (
    Barge,
    HangUp,
    MemoryIntake,
    MemoryOutages,
    MemoryTickets,
    Press,
    ScriptedChannel,
    Silence,
    Step,
)

CONFIG = Path(__file__).parents[2] / "deploy" / "config" / "pln.yaml"
IDPEL = "512345678901"


@pytest.fixture(scope="module")
def config() -> Config:
    return load_config(CONFIG)


class World:
    def __init__(self, config: Config):
        self.clock = Clock()
        self.clock.advance(1_800_000_000)  # 2027-01-15, 08:00 UTC
        self.intake = MemoryIntake()
        self.outages = MemoryOutages(self.clock)
        self.tickets = MemoryTickets(self.clock)
        self.engine = IVREngine(config, "palembang",
                                IVRServices(self.intake, self.outages, self.tickets),
                                self.clock)

    def call(self, *script: Step, area: str = "0711", number: str = "081122334455"
             ) -> tuple[ScriptedChannel, CallSession, Any]:
        channel = ScriptedChannel(
            list(script),
            env={"agi_extension": f"{area}123", "agi_arg_1": area, "agi_arg_2": "palembang",
                 "agi_callerid": number},
        )
        outcome: list[Any] = []
        self.engine.on_session(channel).addBoth(outcome.append)
        assert outcome, "the session did not finish synchronously"
        session = self.engine.finished[-1]
        return channel, session, outcome[0]


@pytest.fixture
def world(config: Config) -> World:
    return World(config)


def test_greeting_then_main_menu_then_agent_with_zero(world: World) -> None:
    channel, session, outcome = world.call(Silence(), Press("0"))
    assert outcome == "queued"
    assert channel.played()[:3] == ["pln123/welcome", "pln123/menu-main", "pln123/menu-main"]
    request = world.intake.requests[0]
    assert (request.skill, request.priority, request.area_code, request.region) == (
        "general", 5, "0711", "Palembang")
    assert request.caller_number == "081122334455"
    assert request.entered_at == 1_800_000_000
    assert session.journal.names()[-2:] == ["handed_off", "call_ended"]
    assert "pln123/transfer-agent" in channel.played()


def test_barge_in_at_greeting_is_the_first_menu_choice(world: World) -> None:
    channel, _session, outcome = world.call(Barge("3"), Press("2"))
    assert outcome == "queued"
    assert channel.played() == ["pln123/welcome", "pln123/menu-billing",
                                "pln123/transfer-agent"]
    assert world.intake.requests[0].skill == "billing"


def test_nine_at_greeting_switches_to_english(world: World) -> None:
    channel, session, _ = world.call(Barge("9"), Press("0"))
    assert ("SET VARIABLE", ("CHANNEL(language)", "en")) in channel.commands
    assert world.intake.requests[0].language == "en"
    assert session.journal.first("language_changed") == {"language": "en"}


def test_no_input_reprompts_then_fallback(world: World) -> None:
    channel, session, outcome = world.call(Silence(), Silence(), Silence())
    assert outcome == "queued"
    assert channel.played().count("pln123/menu-main") == 3
    assert session.journal.names().count("no_input") == 3
    assert session.journal.first("fallback") == {"menu": "main",
                                                 "action": "queue general (priority 5)"}


def test_invalid_digit_says_so_and_three_reach_the_fallback(world: World) -> None:
    channel, session, outcome = world.call(Press("7"), Press("6"), Press("5"))
    assert outcome == "queued"
    assert channel.played().count("pln123/invalid-choice") == 3
    assert [e for e in session.journal.names() if e in ("invalid_choice", "fallback")] == [
        "invalid_choice", "invalid_choice", "invalid_choice", "fallback"]


def test_star_goes_back_one_menu(world: World) -> None:
    channel, _session, _ = world.call(Press("3"), Press("*"), Press("0"))
    assert channel.played()[1:4] == ["pln123/menu-main", "pln123/menu-billing",
                                     "pln123/menu-main"]


def test_star_at_the_root_menu_reprompts(world: World) -> None:
    channel, session, outcome = world.call(Press("*"), Press("0"))
    assert outcome == "queued"
    assert channel.played().count("pln123/menu-main") == 2
    assert "fallback" not in session.journal.names()


def test_zero_asks_for_an_agent_from_a_submenu(world: World) -> None:
    _channel, _session, outcome = world.call(Press("2"), Press("0"))
    assert outcome == "queued"
    assert world.intake.requests[0].skill == "general"


def test_repeat_and_play(world: World) -> None:
    channel, session, _ = world.call(Press("8"), Press("3"), Press("1"), Silence(),
                                     Press("0"))
    played = channel.played()
    assert played.count("pln123/menu-main") == 2
    assert "pln123/billing-info" in played
    assert "fallback" not in session.journal.names()


def test_queue_option_with_priority(world: World) -> None:
    world.call(Press("2"), Press("3"))
    request = world.intake.requests[0]
    assert (request.skill, request.priority) == ("fault", 1)
    assert request.menu_path == "main:2>report:3"   # for the agent's screen


def test_report_fault_with_idpel_creates_a_ticket_and_reads_it_back(world: World) -> None:
    channel, session, outcome = world.call(
        Press("2"), Press("1"), Press(IDPEL + "#"), Press("1"), HangUp())
    assert outcome == "caller_hung_up"
    (ticket,) = world.tickets.tickets.values()
    assert (ticket.idpel, ticket.area_code, ticket.category, ticket.site) == (
        IDPEL, "0711", "padam", "palembang")
    assert ticket.call_id == session.call_id
    played = channel.played()
    readback = played.index("pln123/idpel-readback")
    assert played[readback + 1 : readback + 13] == [f"pln123/num-{d}" for d in IDPEL]
    assert played[readback + 13] == "pln123/idpel-confirm"
    created = played.index("pln123/ticket-created")
    assert played[created + 1 : created + 9] == [f"pln123/num-{d}" for d in ticket.number]
    assert session.journal.first("ticket_created") == {"ticket": ticket.number,
                                                       "category": "padam"}


def test_a_burst_typed_ahead_files_no_ticket(world: World) -> None:
    # Four times over: "report a fault, no power", the IDPEL, "1" to confirm; all in one
    # burst at the greeting, the caller never listening to a read-back.
    burst = "21" + "11".join([IDPEL] * 4) + "1"
    channel, session, outcome = world.call(Barge(burst))
    assert world.tickets.tickets == {}
    assert "idpel_confirmed" not in session.journal.names()
    assert session.journal.first("type_ahead_discarded") is not None
    assert outcome == "queued" and world.intake.requests[0].idpel is None
    assert channel.script == []  # every key of the burst was heard, and none confirmed


def test_typed_ahead_keys_are_discarded_before_each_confirmation(world: World) -> None:
    other = "598765432109"
    _channel, session, _ = world.call(
        Press("2"), Press("1"), Press(IDPEL + "2" + other), Press("2"),
        Press(other + "11"), Press("1"), HangUp())
    assert [(name, f) for name, f in session.journal.events
            if name in ("type_ahead_discarded", "idpel_not_confirmed", "idpel_confirmed")] == [
        ("type_ahead_discarded", {"before": "idpel-confirm", "keys": 13, "quiet": True}),
        ("idpel_not_confirmed", {"key": "2", "attempt": 1}),
        ("type_ahead_discarded", {"before": "idpel-confirm", "keys": 2, "quiet": True}),
        ("idpel_confirmed", {"idpel": other}),
    ]
    assert [t.idpel for t in world.tickets.tickets.values()] == [other]


@pytest.mark.parametrize(("caller_id", "recorded"), [
    ("0811 2233 4455", "081122334455"),
    ("<0811223344>", "0811223344"),
    ("+62 811-2233-4455", "+6281122334455"),
    ("0811" * 11, ""),  # 44 digits: no telephone number, recorded as unknown
    ("<script>", ""),
    ("anonymous", ""),
    ("", ""),
])
def test_any_caller_id_files_its_ticket_and_hears_the_number(
        world: World, caller_id: str, recorded: str) -> None:
    channel, session, outcome = world.call(
        Press("2"), Press("1"), Press(IDPEL), Press("1"), HangUp(), number=caller_id)
    assert outcome == "caller_hung_up"
    (ticket,) = world.tickets.tickets.values()
    assert ticket.caller_number == recorded
    assert "handed_off" not in session.journal.names()
    played = channel.played()
    created = played.index("pln123/ticket-created")
    assert played[created + 1 : created + 9] == [f"pln123/num-{d}" for d in ticket.number]


def test_idpel_wrong_length_reprompts(world: World) -> None:
    channel, session, _ = world.call(
        Press("2"), Press("1"), Press("12345#"), Press(IDPEL), Press("1"), HangUp())
    assert "pln123/idpel-wrong-length" in channel.played()
    assert session.journal.first("idpel_rejected") == {"length": 5, "attempt": 1}
    assert len(world.tickets.tickets) == 1


def test_idpel_reentered_after_pressing_two(world: World) -> None:
    other = "598765432109"
    _channel, session, _ = world.call(
        Press("2"), Press("1"), Press(IDPEL), Press("2"), Press(other), Press("1"),
        HangUp())
    assert session.idpel == other
    assert next(iter(world.tickets.tickets.values())).idpel == other


def test_idpel_given_up_goes_to_an_agent(world: World) -> None:
    _channel, session, outcome = world.call(
        Press("2"), Press("1"), Silence(), Silence(), Silence())
    assert outcome == "queued"
    assert world.tickets.tickets == {}
    assert world.intake.requests[0].idpel is None
    assert session.journal.names().count("idpel_rejected") == 3


def test_hangup_mid_idpel_entry_ends_cleanly(world: World) -> None:
    channel, session, outcome = world.call(Press("2"), Press("1"), HangUp())
    assert outcome == "caller_hung_up"
    assert session.journal.names()[-2:] == ["caller_hung_up", "call_ended"]
    assert world.engine.active == {}
    assert world.tickets.tickets == {} and world.intake.requests == []
    assert channel.commands[-1][0] == "GET DATA"


def test_outage_heard_before_the_menu_for_the_affected_area(world: World) -> None:
    restore = 1_800_000_000 + 3 * 3600 + 30 * 60  # 18:30 WIB
    world.outages.post(("0711", "0721"), "Gardu induk Keramasan", restore)
    channel, session, _ = world.call(Press("0"))
    played = channel.played()
    assert played[:2] == ["pln123/welcome", "pln123/outage-notice"]
    restore_at = played.index("pln123/outage-restore-at")
    spoken = [f"pln123/{p}" for p in say_time(18, 30, "id")]
    assert played[restore_at + 1 : restore_at + 1 + len(spoken)] == spoken
    assert played[restore_at + 1 + len(spoken)] == "pln123/menu-main"
    assert session.journal.first("outage_heard") == {"outage_id": "o-1"}


def test_no_outage_notice_for_another_area(world: World) -> None:
    world.outages.post(("0711",), "Gardu induk Keramasan", None)
    channel, session, _ = world.call(Press("0"), area="0721")
    assert "pln123/outage-notice" not in channel.played()
    assert "outage_heard" not in session.journal.names()


def test_outage_info_flow_and_no_outage(world: World) -> None:
    channel, session, _ = world.call(Press("1"), Silence(), Press("0"))
    assert "pln123/no-outage" in channel.played()
    assert "no_outage_heard" in session.journal.names()


def test_a_caller_in_an_outage_may_still_report_or_ask_for_an_agent(world: World) -> None:
    world.outages.post(("0711",), "Gardu induk Keramasan", None)
    _channel, _session, outcome = world.call(Silence(), Press("0"))
    assert outcome == "queued"


def test_broken_outage_board_still_serves_the_caller(world: World) -> None:
    world.outages.broken = True
    _channel, session, outcome = world.call(Press("0"))
    assert outcome == "queued"
    assert "outage_heard" not in session.journal.names()


def test_ticket_status(world: World) -> None:
    ticket = world.tickets.create(IDPEL, "0711", "padam", "0811", "palembang", "x")
    number = ticket.result.number  # type: ignore[attr-defined]
    channel, session, _ = world.call(Press("4"), Press(number + "#"), HangUp())
    assert "pln123/ticket-status-received" in channel.played()
    assert session.journal.first("ticket_status_read") == {"ticket": number,
                                                           "status": "received"}


def test_unknown_ticket(world: World) -> None:
    channel, session, _ = world.call(Press("4"), Press("99999999#"), HangUp())
    assert "pln123/ticket-not-found" in channel.played()
    assert session.journal.first("ticket_not_found") == {"entered": "99999999"}


def test_hash_can_be_a_menu_key_and_hangup(config: Config) -> None:
    from dataclasses import replace

    from pln123.config.model import Action

    menus = dict(config.menus)
    main = menus["main"]
    menus["main"] = replace(main, options={**main.options, "#": Action("hangup")})
    world = World(replace(config, menus=menus))
    channel, _session, outcome = world.call(Press("#"))
    assert outcome == "hung_up_by_ivr"
    assert channel.commands[-1] == ("HANGUP", ())
    assert "pln123/goodbye" in channel.played()


def test_area_from_the_dialled_number_when_no_argument(world: World) -> None:
    channel = ScriptedChannel([Press("0")],
                              env={"agi_extension": "0761123", "agi_callerid": "1"})
    world.engine.on_session(channel)
    assert world.intake.requests[0].area_code == "0761"
    assert world.intake.requests[0].region == "Pekanbaru"


def test_unknown_area_falls_back_to_the_site(world: World) -> None:
    world.call(Press("0"), area="0999")
    assert world.intake.requests[0].area_code == "0711"


def test_an_unexpected_error_hands_the_caller_to_an_agent(world: World) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("bug")

    world.tickets.create = broken  # type: ignore[method-assign]
    _channel, session, outcome = world.call(
        Press("2"), Press("1"), Press(IDPEL), Press("1"))
    assert outcome == "queued"
    assert world.intake.requests[0].idpel == IDPEL
    assert "handed_off" in session.journal.names()


def test_every_event_is_bound_to_one_call_id(world: World) -> None:
    import structlog

    with structlog.testing.capture_logs() as logs:
        _channel, session, _ = world.call(Press("3"), Press("2"))
    ivr_lines = [line for line in logs if line["event"].startswith("ivr_")]
    assert len(ivr_lines) >= 5
    assert {line["call_id"] for line in ivr_lines} == {session.call_id}
    assert [line["event"] for line in ivr_lines][:2] == ["ivr_call_started",
                                                        "ivr_greeting_played"]
    assert ivr_lines[-2]["event"] == "ivr_handed_off"


def test_at_the_production_level_a_call_logs_its_start_and_its_end_with_the_path(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    import io
    import json
    import sys

    import structlog

    from pln123.logs import configure_logging

    out = io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    saved = structlog.get_config()
    configure_logging("info")
    try:
        _channel, session, _ = world.call(Press("3"), Press("2"))
    finally:
        structlog.configure(**saved)
    ivr_lines = [line for line in map(json.loads, out.getvalue().splitlines())
                 if line["event"].startswith("ivr_call_")]
    assert [line["event"] for line in ivr_lines] == ["ivr_call_started", "ivr_call_ended"]
    assert {line["call_id"] for line in ivr_lines} == {session.call_id}
    path = ivr_lines[-1]["path"].split(",")
    assert path[0] == "call_started" and path[1].startswith("greeting_played")
    assert any(step.startswith("handed_off") for step in path) and path[-1] == "call_ended"
    assert not any(line["event"].startswith("ivr_")
                   and line["event"] not in ("ivr_call_started", "ivr_call_ended")
                   for line in map(json.loads, out.getvalue().splitlines()))


def test_hangup_during_the_greeting(world: World) -> None:
    channel, _session, outcome = world.call(HangUp(at_prompt=True))
    assert outcome == "caller_hung_up"
    assert channel.played() == ["pln123/welcome"]
    assert world.engine.active == {} and world.intake.requests == []


def test_a_past_restore_time_is_not_spoken(world: World) -> None:
    world.outages.post(("0711",), "Gardu induk Keramasan", 1_800_000_000 - 60)
    channel, _session, _ = world.call(Press("0"))
    assert "pln123/outage-notice" in channel.played()
    assert "pln123/outage-restore-at" not in channel.played()


def test_a_slow_outage_board_is_skipped_after_a_second(world: World) -> None:
    from twisted.internet.defer import Deferred

    world.outages.outages_for = lambda area: Deferred()  # type: ignore[method-assign]
    channel = ScriptedChannel([Press("0")], env={"agi_arg_1": "0711", "agi_callerid": "1"})
    done: list[object] = []
    world.engine.on_session(channel).addBoth(done.append)
    assert not done
    world.clock.advance(1.0)
    assert done == ["queued"]
