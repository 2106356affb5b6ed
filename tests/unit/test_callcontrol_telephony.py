"""AMITelephony's timing rules with a Clock (the AMI conversation itself is tested on the
sandbox in tests/e2e/test_callcontrol_asterisk.py)."""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import Deferred, succeed
from twisted.internet.task import Clock

from acd.telephony import Connection, RingOutcome
from ivr.ami import AsyncAGIRouter, EventDispatcher, Message
from ivr.callcontrol.telephony import ORIGINATE_GRACE_S, AMITelephony


class RecordingAMI:
    """Accepts every action ("queued"), remembers it, and never sends an outcome event."""

    def __init__(self) -> None:
        self.dispatcher = EventDispatcher()
        self.actions: list[tuple[str, dict[str, str]]] = []

    def send_action(self, action: str, fields: Any = None, timeout: float | None = None,
                    *, action_id: str | None = None) -> Deferred[Any]:
        self.actions.append((action, dict(fields or {})))
        return succeed(Message([("Response", "Success")]))


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
