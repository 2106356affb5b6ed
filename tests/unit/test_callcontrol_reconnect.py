"""AMITelephony after a reconnect, with a Clock and a recording AMI: what waited on events
the link lost (a caller's hang-up, a ring's outcome) is settled from what Asterisk lists,
and channels are matched by Uniqueid, so a name Asterisk hands out again after a restart
is never taken for the caller who had it before."""

from __future__ import annotations

from typing import Any

import pytest
from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.task import Clock

from acd.telephony import Connection, RingOutcome
from ivr.ami import AsyncAGIRouter, Message
from ivr.ami.errors import AMIActionError, AMINotConnected
from ivr.callcontrol.telephony import AMITelephony
from tests.unit.test_callcontrol_telephony import RecordingAMI

NAME = "Local/0711123@pln123-inbound-palembang-00000001;2"  # repeats after a restart
OLD_ID, NEW_ID = "1765000000.1", "1765000999.1"


class AsteriskAMI(RecordingAMI):
    """RecordingAMI that also answers CoreStatus with a start time the test sets."""

    def __init__(self) -> None:
        super().__init__()
        self.started = "2026-12-06 08:00:00"
        self.gone: set[str] = set()   # channels Getvar does not find

    def send_action(self, action: str, fields: Any = None, timeout: float | None = None,
                    *, action_id: str | None = None) -> Deferred[Any]:
        if action == "CoreStatus":
            date, time = self.started.split()
            return succeed(Message([("Response", "Success"), ("CoreStartupDate", date),
                                    ("CoreStartupTime", time)]))
        if action == "Getvar" and (fields or {}).get("Channel") in self.gone:
            self.actions.append((action, dict(fields or {})))
            return fail(AMIActionError(action, Message([("Response", "Error")])))
        return super().send_action(action, fields, timeout, action_id=action_id)


def channel(name: str, uniqueid: str, state: str = "6", app: str = "AGI",
            bridge: str = "") -> Message:
    return Message([("Event", "CoreShowChannel"), ("Channel", name), ("Uniqueid", uniqueid),
                    ("ChannelState", state), ("Application", app), ("BridgeId", bridge)])


def setup() -> tuple[AsteriskAMI, Clock, AsyncAGIRouter, AMITelephony]:
    ami, clock = AsteriskAMI(), Clock()
    router = AsyncAGIRouter(ami, ami.dispatcher, clock, lambda s: None)
    telephony = AMITelephony(ami, router.sessions, clock,  # type: ignore[arg-type]
                             callback_dial="PJSIP/{number}@trunk")
    return ami, clock, router, telephony


def resync(ami: AsteriskAMI, telephony: AMITelephony) -> None:
    done = telephony.resync(ami)  # type: ignore[arg-type]
    assert done.called


def hangup(ami: AsteriskAMI, name: str, uniqueid: str) -> None:
    ami.dispatcher.dispatch(Message([("Event", "Hangup"), ("Channel", name),
                                     ("Uniqueid", uniqueid)]))


def test_a_caller_is_followed_by_uniqueid_not_by_a_name_that_comes_back() -> None:
    ami, _clock, router, telephony = setup()
    router.adopt(NAME, OLD_ID, {})
    ended: list[None] = []
    telephony.when_call_ends("c1", NAME).addCallback(ended.append)
    hangup(ami, NAME, NEW_ID)           # another caller, after a restart, same name
    assert ended == []
    hangup(ami, NAME, OLD_ID)
    assert ended == [None]


def test_a_recorded_uniqueid_is_followed_without_a_session() -> None:
    ami, _clock, _router, telephony = setup()
    ended: list[None] = []
    telephony.when_call_ends("c1", OLD_ID).addCallback(ended.append)
    hangup(ami, NAME, OLD_ID)
    assert ended == [None]


def test_a_resync_ends_the_callers_asterisk_no_longer_has() -> None:
    ami, _clock, router, telephony = setup()
    router.adopt(NAME, OLD_ID, {})
    router.adopt("Local/0711123@x-00000002;2", "1765000000.2", {})
    gone: list[str] = []
    telephony.when_call_ends("c1", NAME).addCallback(lambda _: gone.append("c1"))
    telephony.when_call_ends("c2", "Local/0711123@x-00000002;2").addCallback(
        lambda _: gone.append("c2"))
    # c1 hung up while the link was down; a new caller got its name
    ami.channels = [channel(NAME, NEW_ID), channel("Local/0711123@x-00000002;2",
                                                   "1765000000.2")]
    resync(ami, telephony)
    assert gone == ["c1"]


def test_a_name_only_watcher_ends_when_asterisk_restarted() -> None:
    ami, _clock, _router, telephony = setup()
    resync(ami, telephony)                       # the first login: the start time
    ended: list[None] = []
    telephony.when_call_ends("c1", NAME).addCallback(ended.append)
    ami.channels = [channel(NAME, NEW_ID)]
    resync(ami, telephony)                       # a reconnect, same Asterisk: kept
    assert ended == []
    assert telephony.restarts == 0
    ami.started = "2026-12-06 08:05:00"
    resync(ami, telephony)                       # Asterisk started again: a new channel
    assert ended == [None]
    assert telephony.restarts == 1


def ringing(ami: AsteriskAMI, telephony: AMITelephony) -> tuple[list[RingOutcome], str]:
    outcome: list[RingOutcome] = []
    telephony.connect(Connection("c1", NAME, "1001", "Local/1001@agents", 8.0, "0811")
                      ).addCallback(outcome.append)
    [originate] = ami.sent("Originate")
    return outcome, originate["ChannelId"]


def test_a_ring_whose_leg_is_gone_ends_at_the_resync_not_at_its_timeout() -> None:
    ami, _clock, router, telephony = setup()
    router.adopt(NAME, OLD_ID, {})
    outcome, _leg = ringing(ami, telephony)
    ami.channels = [channel(NAME, OLD_ID)]       # the caller waits, the leg is gone
    resync(ami, telephony)
    assert outcome == [RingOutcome.NO_ANSWER]


def test_a_ring_answered_while_the_link_was_down_is_bridged_at_the_resync() -> None:
    ami, _clock, router, telephony = setup()
    router.adopt(NAME, OLD_ID, {})
    outcome, leg = ringing(ami, telephony)
    ami.channels = [channel(NAME, OLD_ID), channel("Local/1001@agents-00000009;1", leg,
                                                   app="Wait")]
    resync(ami, telephony)
    assert outcome == [RingOutcome.ANSWERED]
    assert ami.sent("Bridge") == [{"Channel1": NAME,
                                   "Channel2": "Local/1001@agents-00000009;1", "Tone": "no"}]


def test_a_ring_whose_caller_left_during_the_outage_is_caller_gone() -> None:
    ami, _clock, router, telephony = setup()
    router.adopt(NAME, OLD_ID, {})
    outcome, leg = ringing(ami, telephony)
    ami.channels = [channel("Local/1001@agents-00000009;1", leg, state="5", app="Wait")]
    resync(ami, telephony)
    assert outcome == [RingOutcome.CALLER_GONE]
    assert ami.sent("Hangup") == [{"Channel": leg}]   # the agent's phone stops ringing


def test_a_resumed_ring_whose_caller_is_gone_ends_the_leg() -> None:
    ami, _clock, _router, telephony = setup()
    leg = "pln123-0ld000-agent-3-call-c1"
    ami.channels = [channel("Local/1001@agents-00000003;1", leg, state="5", app="Wait")]
    outcome: list[RingOutcome] = []
    telephony.resume_ring(Connection("c1", OLD_ID, "1001", "Local/1001@agents", 8.0)
                          ).addCallback(outcome.append)
    assert outcome == [RingOutcome.CALLER_GONE]
    assert ami.sent("Hangup") == [{"Channel": leg}]


def test_caller_alive_asks_by_what_it_is_given_and_knows_a_dead_link_tells_nothing() -> None:
    ami, _clock, _router, telephony = setup()
    ami.gone = {OLD_ID}
    answers: list[bool] = []
    telephony.caller_alive(OLD_ID).addCallback(answers.append)
    telephony.caller_alive(NEW_ID).addCallback(answers.append)
    assert answers == [False, True]
    assert [f["Channel"] for f in ami.sent("Getvar")] == [OLD_ID, NEW_ID]
    ami.send_action = lambda *a, **k: fail(AMINotConnected("down"))  # type: ignore[method-assign]
    failures: list[Any] = []
    telephony.caller_alive(OLD_ID).addErrback(failures.append)
    assert len(failures) == 1 and failures[0].check(AMINotConnected)


@pytest.mark.parametrize("listed", [True, False])
def test_a_resync_keeps_what_is_still_there(listed: bool) -> None:
    ami, _clock, _router, telephony = setup()
    ended: list[None] = []
    telephony.when_call_ends("c1", OLD_ID).addCallback(ended.append)
    ami.channels = [channel(NAME, OLD_ID)] if listed else []
    resync(ami, telephony)
    assert ended == ([] if listed else [None])
