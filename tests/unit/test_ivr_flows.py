"""Self-service flows on their own: a minimal FlowCall, no CallSession, no menus."""

from __future__ import annotations

import pytest
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock

from acd.selfservice.models import Outage
from ivr.engine.flows import FlowCall, FlowResult, SelfService
from ivr.engine.journal import CallJournal
from ivr.engine.voice import Voice
from ivr.settings import Action, AreaCode, IVRSettings
from tests.doubles.ivr import Barge, MemoryTickets, Press, ScriptedChannel, Silence, Step

IDPEL = "512345678901"
AGENT = Action("queue", skill="general")


class StandIn:
    """Just what a flow may touch of a call, with everything it reports kept for asserts."""

    def __init__(self, *script: Step, outages: list[Outage] | None = None) -> None:
        self.clock = Clock()
        self.channel = ScriptedChannel(list(script))
        self.tickets = MemoryTickets(self.clock)
        self.journal = CallJournal("c-1", "palembang", "0711", self.clock)
        self.found = outages or []
        self.identified: list[str] = []
        self.call = FlowCall(
            call_id="c-1",
            site_name="palembang",
            area=AreaCode("0711", "Palembang"),
            caller_number="081122334455",
            settings=IVRSettings(greeting="welcome", root_menu="main", agent=AGENT,
                                 idpel_retries=2),
            voice=Voice(self.channel, "id"),
            journal=self.journal,
            tickets=self.tickets,
            outages=self.outages,
            outage_prompts=lambda outage: ["outage-notice", f"outage-{outage.id}"],
            identified=self.identified.append,
        )

    async def outages(self) -> list[Outage]:
        return self.found

    def run(self, target: str, category: str | None = None) -> FlowResult:
        done: list[FlowResult] = []
        flow = SelfService(self.call).run(Action("flow", target, category=category))
        Deferred.fromCoroutine(flow).addCallback(done.append)
        assert done, "the flow did not finish synchronously"
        return done[0]


def test_report_fault_creates_the_ticket_and_returns_the_key_pressed_over_it() -> None:
    call = StandIn(Press(IDPEL), Press("1"), Barge("3"))
    result = call.run("report_fault", "padam")
    assert result == FlowResult(follow_up=None, pressed="3")
    assert call.identified == [IDPEL]
    (ticket,) = call.tickets.tickets.values()
    assert (ticket.idpel, ticket.area_code, ticket.category, ticket.caller_number,
            ticket.site, ticket.call_id) == (
        IDPEL, "0711", "padam", "081122334455", "palembang", "c-1")
    assert call.journal.names() == ["flow_started", "idpel_confirmed", "ticket_created"]


def test_report_fault_without_an_idpel_asks_for_the_agent() -> None:
    call = StandIn(Silence(), Silence())
    assert call.run("report_fault") == FlowResult(follow_up=AGENT)
    assert call.identified == [] and call.tickets.tickets == {}
    assert call.journal.first("fallback") == {"flow": "report_fault",
                                              "action": "queue general (priority 5)"}


def test_a_confirmation_typed_ahead_with_the_idpel_confirms_nothing() -> None:
    call = StandIn(Press(IDPEL + "1"))  # "1" keyed before the read-back had begun
    assert call.run("report_fault") == FlowResult(follow_up=AGENT)
    assert call.tickets.tickets == {} and call.identified == []
    assert call.journal.first("type_ahead_discarded") == {"before": "idpel-confirm",
                                                          "keys": 1, "quiet": True}
    assert "idpel_confirmed" not in call.journal.names()
    # Discarded before the question, which was then still asked in full.
    commands = [(name, args[0]) for name, args in call.channel.commands]
    readback = commands.index(("STREAM FILE", "pln123/idpel-readback"))
    assert commands[readback - 2 : readback] == [("WAIT FOR DIGIT", 1000)] * 2
    assert commands[readback + 13] == ("GET DATA", "pln123/idpel-confirm")


def test_a_key_pressed_once_the_confirmation_is_asked_still_counts() -> None:
    call = StandIn(Press(IDPEL + "1"), Press("1"))
    result = call.run("report_fault", "padam")
    assert result.follow_up is None
    assert [t.idpel for t in call.tickets.tickets.values()] == [IDPEL]
    assert call.journal.names() == ["flow_started", "type_ahead_discarded",
                                    "idpel_confirmed", "ticket_created"]


def test_keys_that_never_stop_are_never_taken_as_a_confirmation() -> None:
    call = StandIn(Press(IDPEL + "1" * 200))
    assert call.run("report_fault") == FlowResult(follow_up=AGENT)
    assert call.tickets.tickets == {}
    first = call.journal.first("type_ahead_discarded")
    assert first is not None and first["quiet"] is False
    # Not even read back while keys keep coming: nothing to confirm against.
    assert "pln123/idpel-readback" not in call.channel.played()
    assert call.journal.first("idpel_not_confirmed") == {"key": "", "attempt": 1}


@pytest.mark.parametrize(("found", "heard"), [
    ([], ["pln123/no-outage"]),
    ([Outage("o-7", ("0711",), "Gardu", None, 0.0)],
     ["pln123/outage-notice", "pln123/outage-o-7"]),
])
def test_outage_info_plays_what_the_lookup_found(found: list[Outage],
                                                 heard: list[str]) -> None:
    call = StandIn(outages=found)
    assert call.run("outage_info") == FlowResult()
    assert call.channel.played() == heard


def test_ticket_status_returns_a_key_barged_into_the_answer() -> None:
    call = StandIn(Press("10000001#"), Barge("0"))
    call.tickets.create(IDPEL, "0711", "padam", "0811", "palembang", "x")
    assert call.run("ticket_status") == FlowResult(pressed="0")
    assert call.journal.first("ticket_status_read") == {"ticket": "10000001",
                                                        "status": "received"}


def test_flows_do_not_know_the_session() -> None:
    import ast
    import inspect

    import ivr.engine.flows

    tree = ast.parse(inspect.getsource(ivr.engine.flows))
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                 for alias in node.names}
    assert "ivr.engine.session" not in imported
