"""AMIProtocol on a StringTransport with a Clock: correlation, lists, timeouts, login."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure

from ivr.ami.actions import ActionRejected
from ivr.ami.errors import AMIActionError, AMIAuthError, AMIConnectionLost, AMITimeout
from ivr.ami.events import EventDispatcher
from ivr.ami.message import Message
from ivr.ami.protocol import AMIProtocol, ListResult, events_mask

BANNER = b"Asterisk Call Manager/10.0.0\r\n"


class Harness:
    def __init__(self) -> None:
        self.clock = Clock()
        self.dispatcher = EventDispatcher()
        self.protocol = AMIProtocol(self.clock, self.dispatcher, action_timeout=5)
        self.transport = StringTransport()
        self.protocol.makeConnection(self.transport)
        self.protocol.dataReceived(BANNER)

    def sent(self) -> list[Message]:
        """Every action written so far, parsed back; clears the transport."""
        raw = self.transport.value()
        self.transport.clear()
        return [Message.from_wire(b) for b in raw.split(b"\r\n\r\n") if b]

    def last_action_id(self) -> str:
        return self.sent()[-1]["ActionID"]

    def receive(self, *lines: str) -> None:
        self.protocol.dataReceived(("\r\n".join(lines) + "\r\n\r\n").encode())


def result_of(d: Deferred[Any]) -> Any:
    box: list[Any] = []
    d.addBoth(box.append)
    assert box, "Deferred has not fired"
    if isinstance(box[0], Failure):
        box[0].raiseException()
    return box[0]


def failure_of(d: Deferred[Any]) -> Failure:
    box: list[Any] = []
    d.addBoth(box.append)
    assert box and isinstance(box[0], Failure), f"expected a failure, got {box}"
    return box[0]


@pytest.fixture
def h() -> Harness:
    return Harness()


def test_response_fires_the_deferred_with_the_same_action_id(h: Harness) -> None:
    first = h.protocol.send_action("Ping")
    second = h.protocol.send_action("Ping")
    ids = [m["ActionID"] for m in h.sent()]
    assert ids[0] != ids[1]
    h.receive("Response: Success", f"ActionID: {ids[1]}", "Ping: Pong")
    assert not first.called
    assert result_of(second).get("Ping") == "Pong"
    h.receive("Response: Success", f"ActionID: {ids[0]}", "Ping: Pong")
    assert result_of(first).response == "Success"
    assert h.protocol.pending_count() == 0


def test_error_response_fails_with_the_message(h: Harness) -> None:
    d = h.protocol.send_action("Hangup", {"Channel": "PJSIP/x-1"})
    h.receive("Response: Error", f"ActionID: {h.last_action_id()}", "Message: No such channel")
    failure = failure_of(d)
    assert failure.check(AMIActionError)
    assert "No such channel" in str(failure.value)


def test_plain_login_sends_events_mask_with_agi(h: Harness) -> None:
    d = Deferred.fromCoroutine(h.protocol.login("pln123", "s3cret", events="call,user"))
    login = h.sent()[0]
    assert login["Action"] == "Login"
    assert login["Username"] == "pln123"
    assert login["Secret"] == "s3cret"
    assert login["Events"] == "call,user,agi"
    h.receive("Response: Success", f"ActionID: {login['ActionID']}",
              "Message: Authentication accepted")
    assert result_of(d).response == "Success"


def test_failed_login_raises_auth_error(h: Harness) -> None:
    d = Deferred.fromCoroutine(h.protocol.login("pln123", "wrong"))
    h.receive("Response: Error", f"ActionID: {h.last_action_id()}",
              "Message: Authentication failed")
    assert failure_of(d).check(AMIAuthError)


def test_md5_login_never_sends_the_secret(h: Harness) -> None:
    d = Deferred.fromCoroutine(h.protocol.login_md5("pln123", "s3cret"))
    challenge = h.sent()[0]
    assert challenge["Action"] == "Challenge"
    assert challenge["AuthType"] == "MD5"
    h.receive("Response: Success", f"ActionID: {challenge['ActionID']}", "Challenge: 840712345")
    raw = h.transport.value()
    assert b"s3cret" not in raw
    login = h.sent()[0]
    assert login["AuthType"] == "MD5"
    assert login["Key"] == hashlib.md5(b"840712345s3cret").hexdigest()
    h.receive("Response: Success", f"ActionID: {login['ActionID']}")
    assert result_of(d).response == "Success"


def test_events_mask() -> None:
    assert events_mask("on") == "on"
    assert events_mask("call, user") == "call,user,agi"
    assert events_mask("agi,call") == "agi,call"
    with pytest.raises(ValueError, match="AsyncAGI"):
        events_mask("off")
    with pytest.raises(ValueError):
        events_mask("")


def test_list_action_collects_items_until_complete(h: Harness) -> None:
    d = h.protocol.send_list_action("CoreShowChannels")
    action_id = h.last_action_id()
    seen: list[Message] = []
    h.dispatcher.subscribe_all(seen.append)
    h.receive("Response: Success", f"ActionID: {action_id}", "EventList: start",
              "Message: Channels will follow")
    h.receive("Event: CoreShowChannel", f"ActionID: {action_id}", "Channel: PJSIP/a-1")
    h.receive("Event: Newchannel", "Channel: PJSIP/other-2")  # unrelated, dispatched
    h.receive("Event: CoreShowChannel", f"ActionID: {action_id}", "Channel: PJSIP/b-2")
    assert not d.called
    h.receive("Event: CoreShowChannelsComplete", f"ActionID: {action_id}",
              "EventList: Complete", "ListItems: 2")
    result: ListResult = result_of(d)
    assert [e["Channel"] for e in result.events] == ["PJSIP/a-1", "PJSIP/b-2"]
    assert result.complete is not None and result.complete["ListItems"] == "2"
    assert not result.cancelled
    assert [m.event for m in seen] == ["Newchannel"]


def test_list_action_cancelled_and_case_insensitive(h: Harness) -> None:
    d = h.protocol.send_list_action("Status")
    action_id = h.last_action_id()
    h.receive("Response: Success", f"ActionID: {action_id}", "EventList: Start")
    h.receive("Event: StatusComplete", f"ActionID: {action_id}", "EventList: cancelled")
    assert result_of(d).cancelled


def test_list_action_with_empty_answer(h: Harness) -> None:
    d = h.protocol.send_list_action("QueueStatus")
    h.receive("Response: Success", f"ActionID: {h.last_action_id()}", "Message: nothing")
    result = result_of(d)
    assert result.events == [] and result.complete is None


def test_command_output_as_lines(h: Harness) -> None:
    d = h.protocol.command("core show version")
    action = h.sent()[0]
    assert action["Command"] == "core show version"
    h.receive("Response: Success", f"ActionID: {action['ActionID']}",
              "Message: Command output follows",
              "Output: Asterisk 22.10.1 built by x", "Output: second line")
    assert result_of(d) == ["Asterisk 22.10.1 built by x", "second line"]


def test_timeout_fails_and_late_answer_is_dropped(h: Harness) -> None:
    d = h.protocol.send_action("Ping", timeout=2)
    action_id = h.last_action_id()
    h.clock.advance(1.9)
    assert not d.called
    h.clock.advance(0.2)
    assert failure_of(d).check(AMITimeout)
    assert h.protocol.pending_count() == 0
    h.receive("Response: Success", f"ActionID: {action_id}")  # late: logged, no crash


def test_list_timeout_covers_the_whole_list(h: Harness) -> None:
    d = h.protocol.send_list_action("CoreShowChannels", timeout=3)
    action_id = h.last_action_id()
    h.receive("Response: Success", f"ActionID: {action_id}", "EventList: start")
    h.clock.advance(3)
    assert failure_of(d).check(AMITimeout)
    assert h.protocol._open_lists == 0


def test_connection_lost_fails_every_pending_action_and_resends_nothing(h: Harness) -> None:
    pending = [h.protocol.send_action("Ping") for _ in range(3)]
    h.transport.clear()
    h.protocol.connectionLost(Failure(ConnectionError("gone")))
    for d in pending:
        assert failure_of(d).check(AMIConnectionLost)
    assert h.transport.value() == b""
    assert h.clock.getDelayedCalls() == []


def test_rejected_action_writes_nothing(h: Harness) -> None:
    with pytest.raises(ActionRejected):
        h.protocol.send_action("Originate", {"CallerID": "x\r\n\r\nAction: Command"})
    assert h.transport.value() == b""
    assert h.protocol.pending_count() == 0
    assert h.clock.getDelayedCalls() == []


def test_cancelling_the_deferred_forgets_the_action(h: Harness) -> None:
    d = h.protocol.send_action("Ping")
    d.addErrback(lambda f: None)
    d.cancel()
    assert h.protocol.pending_count() == 0
    assert h.clock.getDelayedCalls() == []


def test_events_reach_named_and_catch_all_handlers(h: Harness) -> None:
    named: list[str] = []
    everything: list[str] = []
    sub = h.dispatcher.subscribe("hangup", lambda m: named.append(m["Channel"]))
    h.dispatcher.subscribe_all(lambda m: everything.append(m.event or ""))
    h.receive("Event: Hangup", "Channel: PJSIP/a-1")
    h.receive("Event: Newstate", "Channel: PJSIP/a-1")
    sub.cancel()
    h.receive("Event: Hangup", "Channel: PJSIP/b-1")
    assert named == ["PJSIP/a-1"]
    assert everything == ["Hangup", "Newstate", "Hangup"]


def test_handler_exception_is_contained(h: Harness) -> None:
    got: list[str] = []

    def broken(message: Message) -> None:
        raise RuntimeError("bug in a handler")

    h.dispatcher.subscribe("Hangup", broken)
    h.dispatcher.subscribe("Hangup", lambda m: got.append(m["Channel"]))
    h.receive("Event: Hangup", "Channel: PJSIP/a-1")
    h.receive("Event: Hangup", "Channel: PJSIP/b-1")
    assert got == ["PJSIP/a-1", "PJSIP/b-1"]
    assert h.transport.connected


def test_failing_deferred_from_a_handler_is_contained(h: Harness) -> None:
    failed: Deferred[None] = Deferred()
    h.dispatcher.subscribe("Hangup", lambda m: failed)
    h.receive("Event: Hangup", "Channel: PJSIP/a-1")
    failed.errback(RuntimeError("async bug"))
    assert h.transport.connected


def test_unwanted_events_are_skipped_without_parsing(h: Harness) -> None:
    h.dispatcher.subscribe("Hangup", lambda m: None)
    h.receive("Event: VarSet", "Variable: X")
    h.receive("Event: Hangup", "Channel: a/b")
    assert h.protocol.events_skipped == 1


def test_keepalive_timeout_aborts_the_connection(h: Harness) -> None:
    h.protocol.start_keepalive(interval=10, timeout=3)
    h.clock.advance(10)
    ping = h.sent()[0]
    assert ping["Action"] == "Ping"
    h.receive("Response: Success", f"ActionID: {ping['ActionID']}", "Ping: Pong")
    h.clock.advance(10)
    assert h.sent()[0]["Action"] == "Ping"
    h.clock.advance(3)  # no pong
    assert h.transport.disconnecting
