"""Timeouts share one reactor timer (DeadlineTimer) yet fire exactly as timers of their own:
at each deadline, in deadline order, with nothing left armed once the link or the session
is gone."""

from __future__ import annotations

import pytest
from twisted.internet.defer import Deferred, succeed
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure

from ivr.ami.agi import AGISession, AGITimeout, AsyncAGIRouter
from ivr.ami.deadlines import DeadlineTimer
from ivr.ami.errors import AMIConnectionLost, AMITimeout
from ivr.ami.events import EventDispatcher
from ivr.ami.message import Message
from ivr.ami.protocol import AMIProtocol


def protocol(clock: Clock) -> tuple[AMIProtocol, StringTransport]:
    proto = AMIProtocol(clock, EventDispatcher(), action_timeout=10)
    transport = StringTransport()
    proto.makeConnection(transport)
    proto.dataReceived(b"Asterisk Call Manager/10.0.0\r\n")
    return proto, transport


def answer_all(proto: AMIProtocol, transport: StringTransport) -> None:
    for block in transport.value().split(b"\r\n\r\n"):
        if block:
            action_id = Message.from_wire(block)["ActionID"]
            proto.dataReceived(f"Response: Success\r\nActionID: {action_id}\r\n\r\n".encode())
    transport.clear()


def test_one_timer_covers_many_actions_and_each_times_out_at_its_own_deadline() -> None:
    clock = Clock()
    proto, _transport = protocol(clock)
    failed: list[tuple[str, float]] = []

    def timed_out(failure: Failure, name: str) -> None:
        failure.trap(AMITimeout)
        failed.append((name, clock.seconds()))

    for name, after in (("Ping", 0.0), ("Status", 0.3), ("Ping", 0.4)):
        clock.advance(after)
        proto.send_action(name).addErrback(timed_out, name)
    assert len(clock.getDelayedCalls()) == 1
    clock.advance(9.3)  # t = 10.0: the first action's deadline, to the tick
    assert failed == [("Ping", 10.0)]
    clock.advance(0.3)  # t = 10.3
    assert [name for name, _at in failed] == ["Ping", "Status"]
    assert [at for _name, at in failed] == pytest.approx([10.0, 10.3])
    clock.advance(0.4)  # t = 10.7
    assert [at for _name, at in failed] == pytest.approx([10.0, 10.3, 10.7])
    assert proto.pending_count() == 0


def test_a_shorter_timeout_sent_later_still_fires_first() -> None:
    clock = Clock()
    proto, _transport = protocol(clock)
    slow = proto.send_action("Status")             # deadline 10
    clock.advance(1)
    quick = proto.send_action("Ping", timeout=2)   # deadline 3
    order: list[str] = []
    slow.addErrback(lambda f: order.append("slow"))
    quick.addErrback(lambda f: order.append("quick"))
    clock.advance(2)
    assert order == ["quick"]
    clock.advance(7)
    assert order == ["quick", "slow"]


def test_answered_actions_never_time_out_and_the_timer_fires_once_for_nothing() -> None:
    clock = Clock()
    proto, transport = protocol(clock)
    results = [proto.send_action("Ping") for _ in range(3)]
    answer_all(proto, transport)
    assert all(d.called for d in results)
    clock.advance(10)
    assert clock.getDelayedCalls() == []
    # and a later action gets its own full timeout
    late = proto.send_action("Ping")
    late.addErrback(lambda f: None)
    clock.advance(9.9)
    assert not late.called
    clock.advance(0.1)
    assert late.called


def test_connection_lost_leaves_no_timer() -> None:
    clock = Clock()
    proto, _transport = protocol(clock)
    d = proto.send_action("Ping")
    proto.connectionLost(Failure(ConnectionError("gone")))
    assert d.called
    d.addErrback(lambda f: f.trap(AMIConnectionLost))
    assert clock.getDelayedCalls() == []


class _Sender:
    def __init__(self) -> None:
        self.sent: list[dict[str, str]] = []

    def send_action(self, action: str, fields: object = None,
                    timeout: float | None = None) -> Deferred[Message]:
        assert isinstance(fields, dict)
        self.sent.append(fields)
        return succeed(Message([("Response", "Success")]))


def agi_session(clock: Clock) -> tuple[AGISession, AsyncAGIRouter, _Sender]:
    sender = _Sender()
    router = AsyncAGIRouter(sender, EventDispatcher(), clock, lambda s: None,
                            command_timeout=30)
    return router.adopt("PJSIP/a-1", "1.1", {}), router, sender


def test_agi_commands_share_a_timer_and_time_out_at_their_deadlines() -> None:
    clock = Clock()
    session, _router, _sender = agi_session(clock)
    first = session.stream_file("pln123/a")
    clock.advance(5)
    second = session.get_data("pln123/b", 2000, 1)  # timeout 2 + 30 s: deadline 37
    timed_out: list[float] = []

    def note(failure: Failure) -> None:
        failure.trap(AGITimeout)
        timed_out.append(clock.seconds())

    first.addErrback(note)
    second.addErrback(note)
    assert len(clock.getDelayedCalls()) == 1
    clock.advance(25)
    assert timed_out == [30.0]
    clock.advance(7)
    assert timed_out == [30.0, 37.0]


def test_an_ended_session_leaves_no_timer() -> None:
    clock = Clock()
    session, _router, _sender = agi_session(clock)
    d = session.stream_file("pln123/a")
    d.addErrback(lambda f: None)
    session._end("hangup")
    assert clock.getDelayedCalls() == []


def test_deadline_timer_never_fires_after_a_deadline_it_was_asked_to_cover() -> None:
    clock = Clock()
    clock.advance(0.1)
    fired: list[float] = []

    def expire(now: float) -> float | None:
        fired.append(clock.seconds())
        return None

    timer = DeadlineTimer(clock, expire)
    timer.cover(0.3)  # 0.3 - 0.1 in floats is a hair over 0.2
    clock.advance(0.2)
    assert fired == [clock.seconds()]
    assert not timer.armed
