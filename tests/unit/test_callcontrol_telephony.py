"""AMITelephony's rules with a Clock and a recording AMI: timing, where an agent is rung
(their endpoint, or a lent agent through the trunk to their site), what their phone shows,
and what an unanswered ring means (the AMI conversation itself is tested on the sandbox in
tests/e2e/test_callcontrol_asterisk.py)."""

from __future__ import annotations

from typing import Any

import pytest
from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.task import Clock

from acd.telephony import Callback, Connection, RingOutcome
from ivr.ami import AsyncAGIRouter, EventDispatcher, Message
from ivr.ami.errors import AMIActionError
from ivr.ami.protocol import ListResult
from ivr.callcontrol.telephony import (
    ORIGINATE_GRACE_S,
    AMITelephony,
    call_of_leg,
    caller_id,
    leg_id,
)

CALL_ID = "0a1b2c3d4e5f"
TRUNKS = {"medan": "pln-medan", "jakarta": "pln-jakarta"}


class RecordingAMI:
    """Accepts every action ("queued"), remembers it, and never sends an outcome event
    unless the test does (`outcome`); actions named in `refuse` are answered with Error."""

    def __init__(self, refuse: tuple[str, ...] = ()) -> None:
        self.dispatcher = EventDispatcher()
        self.actions: list[tuple[str, dict[str, str]]] = []
        self.action_ids: list[str | None] = []
        self.refuse = refuse
        self.channels: list[Message] = []  # what CoreShowChannels lists

    def send_list_action(self, action: str, fields: Any = None,
                         timeout: float | None = None) -> Deferred[Any]:
        self.actions.append((action, dict(fields or {})))
        return succeed(ListResult(Message([("Response", "Success")]), list(self.channels)))

    def send_action(self, action: str, fields: Any = None, timeout: float | None = None,
                    *, action_id: str | None = None) -> Deferred[Any]:
        self.actions.append((action, dict(fields or {})))
        self.action_ids.append(action_id)
        if action in self.refuse:
            return fail(AMIActionError(action, Message([("Response", "Error"),
                                                        ("Message", "Originate failed")])))
        return succeed(Message([("Response", "Success")]))

    def outcome(self, index: int, response: str, *, reason: str = "",
                channel: str = "") -> None:
        """The OriginateResponse for the action at `index`."""
        headers = [("Event", "OriginateResponse"), ("ActionID", self.action_ids[index] or ""),
                   ("Response", response), ("Reason", reason)]
        if channel:
            headers.append(("Channel", channel))
        self.dispatcher.dispatch(Message(headers))

    def sent(self, action: str) -> list[dict[str, str]]:
        return [fields for name, fields in self.actions if name == action]


def telephony_on(ami: RecordingAMI, clock: Clock,
                 trunks: dict[str, str] | None = None) -> AMITelephony:
    router = AsyncAGIRouter(ami, ami.dispatcher, clock, lambda s: None)
    return AMITelephony(ami, router.sessions, clock,  # type: ignore[arg-type]
                        callback_dial="PJSIP/{number}@trunk", trunks=trunks)


def lent(agent_site: str = "medan", call_id: str = CALL_ID, label: str = "") -> Connection:
    return Connection(call_id, "Local/0711123@x-1;2", "1001", "PJSIP/1001", 5.0, "0811",
                      agent_site=agent_site, caller_label=label)


def connect(telephony: AMITelephony, connection: Connection) -> list[RingOutcome]:
    outcome: list[RingOutcome] = []
    telephony.connect(connection).addCallback(outcome.append)
    return outcome


def test_a_lost_originate_outcome_ends_the_ring_as_no_answer() -> None:
    clock = Clock()
    ami = RecordingAMI()
    router = AsyncAGIRouter(ami, ami.dispatcher, clock, lambda s: None)
    telephony = AMITelephony(ami, router.sessions, clock, callback_dial="PJSIP/{number}@trunk")  # type: ignore[arg-type]
    outcome: list[RingOutcome] = []
    telephony.connect(Connection("c1", "Local/0711123@x-1;2", "1001", "PJSIP/1001", 5.0,
                                 "0811")).addCallback(outcome.append)
    assert [a for a, _ in ami.actions] == ["Originate"]
    leg = ami.actions[0][1]["ChannelId"]
    clock.advance(5.0 + ORIGINATE_GRACE_S - 0.1)
    assert outcome == []
    clock.advance(0.2)
    assert outcome == [RingOutcome.NO_ANSWER]
    assert ami.actions[-1] == ("Hangup", {"Channel": leg})  # the agent's phone stops ringing


# -- lent agents: rung through the trunk -----------------------------------------------------


def test_a_lent_agent_is_rung_through_their_sites_trunk_and_bridged_here() -> None:
    ami = RecordingAMI()
    telephony = telephony_on(ami, Clock(), TRUNKS)
    outcome = connect(telephony, lent(label="Palembang 512345678901"))
    [originate] = ami.sent("Originate")
    assert originate["Channel"] == f"IAX2/pln-medan/agent-1001-{CALL_ID}"
    assert originate["CallerID"] == '"Palembang 512345678901" <0811>'
    assert (originate["Application"], originate["Timeout"]) == ("Wait", "5000")
    assert outcome == []
    ami.outcome(0, "Success", reason="4", channel="IAX2/pln-medan-4242")
    assert outcome == [RingOutcome.ANSWERED]
    assert ami.sent("Bridge") == [{"Channel1": "Local/0711123@x-1;2",
                                   "Channel2": "IAX2/pln-medan-4242", "Tone": "no"}]


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        ("3", RingOutcome.NO_ANSWER),      # rang (or timed out) without an answer
        ("5", RingOutcome.NO_ANSWER),      # busy: the far site's phone was busy/unreachable
        ("1", RingOutcome.TRUNK_FAILED),   # hung up unanswered
        ("0", RingOutcome.TRUNK_FAILED),   # never placed (trunk down), or the far site refused
        ("8", RingOutcome.TRUNK_FAILED),   # congestion
        ("", RingOutcome.TRUNK_FAILED),    # no reason given
    ],
)
def test_a_lent_agents_failed_ring_is_the_trunks_unless_the_phone_rang(
    reason: str, expected: RingOutcome
) -> None:
    ami = RecordingAMI()
    outcome = connect(telephony_on(ami, Clock(), TRUNKS), lent())
    ami.outcome(0, "Failure", reason=reason)
    assert outcome == [expected]
    assert ami.sent("Bridge") == []


@pytest.mark.parametrize("reason", ["0", "1", "3", "5", "8"])
def test_a_local_agents_failed_ring_is_always_no_answer(reason: str) -> None:
    ami = RecordingAMI()
    outcome = connect(telephony_on(ami, Clock(), TRUNKS), lent(agent_site=""))
    assert ami.sent("Originate")[0]["Channel"] == "PJSIP/1001"
    ami.outcome(0, "Failure", reason=reason)
    assert outcome == [RingOutcome.NO_ANSWER]


@pytest.mark.parametrize(
    ("trunks", "connection"),
    [
        (TRUNKS, lent(agent_site="bali")),                      # no trunk to that site
        ({}, lent()),                                           # no trunks at all
        ({"medan": "pln-medan/evil"}, lent()),                  # a peer that is no peer name
        ({"medan": "pln-medan,x"}, lent()),
        (TRUNKS, lent(call_id="call-1")),                       # ids the far site cannot take
        (TRUNKS, Connection(CALL_ID, "c", "10a1", "PJSIP/10a1", 5.0, agent_site="medan")),
    ],
)
def test_no_usable_trunk_fails_the_ring_without_originating(
    trunks: dict[str, str], connection: Connection
) -> None:
    ami = RecordingAMI()
    outcome = connect(telephony_on(ami, Clock(), trunks), connection)
    assert outcome == [RingOutcome.TRUNK_FAILED]
    assert ami.actions == []


def test_an_originate_asterisk_refuses_fails_a_lent_agent_as_the_trunk() -> None:
    ami = RecordingAMI(refuse=("Originate",))
    assert connect(telephony_on(ami, Clock(), TRUNKS), lent()) == [RingOutcome.TRUNK_FAILED]
    ami = RecordingAMI(refuse=("Originate",))
    assert connect(telephony_on(ami, Clock(), TRUNKS), lent(agent_site="")) == [
        RingOutcome.NO_ANSWER]  # a local agent: as before


def test_a_lost_outcome_of_a_lent_agents_ring_is_no_answer() -> None:
    clock = Clock()
    ami = RecordingAMI()
    outcome = connect(telephony_on(ami, clock, TRUNKS), lent())
    clock.advance(5.0 + ORIGINATE_GRACE_S + 0.1)
    assert outcome == [RingOutcome.NO_ANSWER]  # nothing says the trunk failed
    assert ami.actions[-1][0] == "Hangup"


def test_a_caller_who_leaves_cancels_a_lent_agents_ring() -> None:
    ami = RecordingAMI()
    outcome = connect(telephony_on(ami, Clock(), TRUNKS), lent())
    leg = ami.sent("Originate")[0]["ChannelId"]
    ami.dispatcher.dispatch(Message([("Event", "Hangup"), ("Channel", "Local/0711123@x-1;2")]))
    assert outcome == [RingOutcome.CALLER_GONE]
    assert ami.sent("Hangup") == [{"Channel": leg}]  # the trunk leg, and with it the far Dial


def test_a_callback_rings_a_lent_agent_through_the_trunk_first() -> None:
    ami = RecordingAMI()
    telephony = telephony_on(ami, Clock(), TRUNKS)
    placed: list[Callback] = []
    telephony.connect_callback(lent(label="Medan 5"), "0811555").addCallback(placed.append)
    agent = ami.sent("Originate")[0]
    assert agent["Channel"] == f"IAX2/pln-medan/agent-1001-{CALL_ID}"
    assert agent["CallerID"] == '"Medan 5" <0811555>'
    ami.outcome(0, "Success", channel="IAX2/pln-medan-7")
    caller = ami.sent("Originate")[1]
    assert caller["Channel"] == "PJSIP/0811555@trunk"
    ami.outcome(1, "Success", channel="PJSIP/trunk-9")
    assert placed == [Callback(RingOutcome.ANSWERED, caller["ChannelId"])]
    assert ami.sent("Bridge") == [{"Channel1": "PJSIP/trunk-9", "Channel2": "IAX2/pln-medan-7",
                                   "Tone": "no"}]


@pytest.mark.parametrize(("reason", "expected"), [("1", RingOutcome.TRUNK_FAILED),
                                                  ("3", RingOutcome.NO_ANSWER)])
def test_a_callbacks_lent_agent_who_is_not_reached(reason: str,
                                                   expected: RingOutcome) -> None:
    ami = RecordingAMI()
    placed: list[Callback] = []
    telephony_on(ami, Clock(), TRUNKS).connect_callback(lent(), "0811555").addCallback(
        placed.append)
    ami.outcome(0, "Failure", reason=reason)
    assert placed == [Callback(expected)]
    assert len(ami.sent("Originate")) == 1  # the caller is never dialled


# -- the agent's display ----------------------------------------------------------------------


def test_a_local_agents_phone_shows_the_label_too() -> None:
    ami = RecordingAMI()
    connect(telephony_on(ami, Clock()), lent(agent_site="", label="Palembang 512345678901"))
    assert ami.sent("Originate")[0]["CallerID"] == '"Palembang 512345678901" <0811>'
    ami = RecordingAMI()
    connect(telephony_on(ami, Clock()), lent(agent_site=""))
    assert ami.sent("Originate")[0]["CallerID"] == "PLN123 <0811>"  # as before


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("Palembang 512345678901", '"Palembang 512345678901" <0811>'),
        ('Evil" <666>', '"Evil 666" <0811>'),
        ("Tebing-Tinggi St. 1", '"Tebing-Tinggi St. 1" <0811>'),
        ("  Banda\tAceh\x00 ", '"Banda Aceh" <0811>'),
        ("Pematang Siantar 5123456789012345678901234567890", '"Pematang Siantar '
         '51234567890123456789012" <0811>'),
        ("Bañjarmasin", '"Ba jarmasin" <0811>'),
        ("<>\"'", "PLN123 <0811>"),
        ("", "PLN123 <0811>"),
    ],
)
def test_the_label_is_cut_to_what_a_caller_id_takes(label: str, expected: str) -> None:
    assert caller_id(label, "0811") == expected
    name = expected.rpartition(" <")[0].strip('"')
    assert len(name) <= 40 and all(c.isascii() and (c.isalnum() or c in " .-") for c in name)


# -- a ring that outlived the process that started it ------------------------------------------


def leg(uniqueid: str, state: str, bridge: str = "",
        channel: str = "IAX2/pln-medan-77") -> Message:
    return Message([("Event", "CoreShowChannel"), ("Channel", channel),
                    ("Uniqueid", uniqueid), ("ChannelState", state), ("BridgeId", bridge),
                    ("Application", "Wait")])


# The waiting caller of `lent()`, still in Asterisk (a resumed ring needs them there).
CALLER = Message([("Event", "CoreShowChannel"), ("Channel", "Local/0711123@x-1;2"),
                  ("Uniqueid", "1765000000.7"), ("ChannelState", "6"), ("Application", "AGI")])


def resume(telephony: AMITelephony, connection: Connection) -> list[RingOutcome]:
    outcome: list[RingOutcome] = []
    telephony.resume_ring(connection).addCallback(outcome.append)
    return outcome


def test_an_agents_leg_names_the_call_it_rings_for() -> None:
    ami = RecordingAMI()
    connect(telephony_on(ami, Clock(), TRUNKS), lent())
    uniqueid = ami.sent("Originate")[0]["ChannelId"]
    assert uniqueid.startswith("pln123-") and call_of_leg(uniqueid) == CALL_ID
    assert call_of_leg("1712345678.42") is None        # Asterisk's own ids
    assert call_of_leg("pln123-ab12cd-callback-3") is None
    assert leg_id("pln123-x-agent-1", "c" * 65) == "pln123-x-agent-1"  # too long: left out


def test_a_leg_the_agent_answered_while_nobody_followed_it_is_bridged_now() -> None:
    ami = RecordingAMI()
    ami.channels = [CALLER, leg(f"pln123-0ld000-agent-3-call-{CALL_ID}", "6"),
                    leg("pln123-0ld000-agent-4-call-other", "6", channel="IAX2/x-1")]
    outcome = resume(telephony_on(ami, Clock(), TRUNKS), lent())
    assert outcome == [RingOutcome.ANSWERED]
    assert ami.sent("Bridge") == [{"Channel1": "Local/0711123@x-1;2",
                                   "Channel2": "IAX2/pln-medan-77", "Tone": "no"}]
    assert ami.sent("Originate") == []                  # the phone is not rung again


def test_a_leg_already_bridged_by_the_old_process_is_answered_as_it_is() -> None:
    ami = RecordingAMI()
    ami.channels = [CALLER, leg(f"pln123-0ld000-agent-3-call-{CALL_ID}", "6", bridge="b-1")]
    assert resume(telephony_on(ami, Clock(), TRUNKS), lent()) == [RingOutcome.ANSWERED]
    assert ami.sent("Bridge") == []


@pytest.mark.parametrize(("response", "reason", "expected"), [
    ("Success", "4", RingOutcome.ANSWERED),
    ("Failure", "3", RingOutcome.NO_ANSWER),        # rang out
    ("Failure", "0", RingOutcome.TRUNK_FAILED),     # as for a ring this process started
])
def test_a_leg_still_ringing_is_followed_to_its_outcome(
        response: str, reason: str, expected: RingOutcome) -> None:
    ami = RecordingAMI()
    uniqueid = f"pln123-0ld000-agent-3-call-{CALL_ID}"
    ami.channels = [CALLER, leg(uniqueid, "5")]
    outcome = resume(telephony_on(ami, Clock(), TRUNKS), lent())
    assert outcome == []
    ami.dispatcher.dispatch(Message([                 # the old process's ActionID
        ("Event", "OriginateResponse"), ("ActionID", "pln123-0ld000-orig-3"),
        ("Response", response), ("Reason", reason), ("Channel", "IAX2/pln-medan-77"),
        ("Uniqueid", uniqueid)]))
    assert outcome == [expected]
    assert len(ami.sent("Bridge")) == (1 if expected is RingOutcome.ANSWERED else 0)


def test_a_caller_who_leaves_while_a_resumed_ring_rings_cancels_it() -> None:
    ami = RecordingAMI()
    uniqueid = f"pln123-0ld000-agent-3-call-{CALL_ID}"
    ami.channels = [CALLER, leg(uniqueid, "5")]
    outcome = resume(telephony_on(ami, Clock(), TRUNKS), lent())
    ami.dispatcher.dispatch(Message([("Event", "Hangup"), ("Channel", "Local/0711123@x-1;2")]))
    assert outcome == [RingOutcome.CALLER_GONE]
    assert ami.sent("Hangup") == [{"Channel": uniqueid}]


def test_a_resumed_ring_whose_outcome_never_comes_ends_as_no_answer() -> None:
    clock = Clock()
    ami = RecordingAMI()
    uniqueid = f"pln123-0ld000-agent-3-call-{CALL_ID}"
    ami.channels = [CALLER, leg(uniqueid, "5")]
    outcome = resume(telephony_on(ami, clock, TRUNKS), lent())
    clock.advance(5.0 + ORIGINATE_GRACE_S + 0.1)
    assert outcome == [RingOutcome.NO_ANSWER]
    assert ami.sent("Hangup") == [{"Channel": uniqueid}]


def test_no_leg_left_the_outcome_went_with_the_old_process() -> None:
    ami = RecordingAMI()
    ami.channels = [CALLER]
    assert resume(telephony_on(ami, Clock(), TRUNKS), lent()) == [RingOutcome.NO_ANSWER]
    assert [a for a, _ in ami.actions] == ["CoreShowChannels"]
