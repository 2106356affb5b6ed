"""The AMI link's state table, and AMIService walking it with a fake endpoint and a Clock."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, MutableMapping
from typing import Any

import pytest
import structlog
from twisted.internet.defer import Deferred
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure

from ivr.ami.errors import AMINotConnected
from ivr.ami.link import TRANSITIONS, IllegalTransition, LinkEvent, LinkState, step
from ivr.ami.protocol import AMIProtocol
from tests.doubles.ami import SECRET, Harness, answer, refuse_login, sent

S, E = LinkState, LinkEvent

# (state before, event, state after): one line per row of the table
ROWS = [
    (S.STOPPED, E.START, S.CONNECTING),
    (S.CONNECTING, E.CONNECTED, S.LOGGING_IN),
    (S.CONNECTING, E.CONNECT_FAILED, S.RECONNECT_WAIT),
    (S.CONNECTING, E.STOP, S.STOPPED),
    (S.LOGGING_IN, E.LOGIN_ACCEPTED, S.RESYNCING),
    (S.LOGGING_IN, E.LOGIN_FAILED, S.RECONNECT_WAIT),
    (S.LOGGING_IN, E.LOST, S.RECONNECT_WAIT),
    (S.LOGGING_IN, E.STOP, S.STOPPING),
    (S.RESYNCING, E.RESYNCED, S.UP),
    (S.RESYNCING, E.LOST, S.RECONNECT_WAIT),
    (S.RESYNCING, E.STOP, S.STOPPING),
    (S.UP, E.LOST, S.RECONNECT_WAIT),
    (S.UP, E.STOP, S.STOPPING),
    (S.RECONNECT_WAIT, E.RETRY, S.CONNECTING),
    (S.RECONNECT_WAIT, E.STOP, S.STOPPED),
    (S.STOPPING, E.LOST, S.STOPPED),
]
ILLEGAL = [(s, e) for s, e in itertools.product(S, E) if (s, e) not in TRANSITIONS]


# -- the table ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("before", "event", "after"), ROWS,
                         ids=[f"{b}-{e}" for b, e, _ in ROWS])
def test_every_row(before: LinkState, event: LinkEvent, after: LinkState) -> None:
    assert step(before, event) is after


def test_the_rows_above_are_the_whole_table() -> None:
    assert {(b, e): a for b, e, a in ROWS} == TRANSITIONS


@pytest.mark.parametrize(("state", "event"), ILLEGAL, ids=[f"{s}-{e}" for s, e in ILLEGAL])
def test_everything_else_is_illegal(state: LinkState, event: LinkEvent) -> None:
    with pytest.raises(IllegalTransition) as raised:
        step(state, event)
    assert (raised.value.state, raised.value.event) == (state, event)


def test_every_state_is_reachable_and_every_running_state_can_stop() -> None:
    reached = {S.STOPPED}
    while True:
        more = {after for (before, _e), after in TRANSITIONS.items() if before in reached}
        if more <= reached:
            break
        reached |= more
    assert reached == set(S)
    for state in set(S) - {S.STOPPED, S.STOPPING}:
        assert (state, E.STOP) in TRANSITIONS


# -- the service walking it --------------------------------------------------------------------

class Recorded:
    """The harness plus every `ami_link_state` line logged since it started."""

    def __init__(self, logs: list[MutableMapping[str, Any]], **harness: Any) -> None:
        self.logs = logs
        self.h = Harness(**harness)

    def now(self) -> LinkState:
        """The service's state (a call, so that mypy does not narrow it between steps)."""
        return self.h.service.state

    def states(self) -> list[str]:
        """The link's states in order, starting from the first `before`."""
        lines = [line for line in self.logs if line["event"] == "ami_link_state"]
        for earlier, later in itertools.pairwise(lines):
            assert earlier["after"] == later["before"]
        return [lines[0]["before"], *(line["after"] for line in lines)] if lines else []


@pytest.fixture
def r() -> Iterator[Recorded]:
    with structlog.testing.capture_logs() as logs:
        recorded = Recorded(logs)
        yield recorded
        assert not any(SECRET in repr(line) for line in logs)  # never in a log line


def test_connect_and_login(r: Recorded) -> None:
    assert r.now() is S.CONNECTING
    r.h.connect_and_login()
    assert r.states() == ["stopped", "connecting", "logging_in", "resyncing", "up"]
    assert r.now() is S.UP
    line = next(line for line in r.logs if line["event"] == "ami_link_state")
    assert (line["before"], line["after"], line["cause"]) == ("stopped", "connecting", "start")


def test_login_refused_waits_then_tries_again(r: Recorded) -> None:
    protocol, transport = r.h.endpoint.accept()
    refuse_login(protocol, transport)
    assert r.now() is S.RECONNECT_WAIT
    assert transport.disconnecting and r.h.service.protocol is None
    protocol.connectionLost(Failure(ConnectionError("closed")))  # no event of the link
    assert r.now() is S.RECONNECT_WAIT
    r.h.clock.advance(2.0)
    r.h.connect_and_login()
    assert r.states() == ["stopped", "connecting", "logging_in", "reconnect_wait",
                          "connecting", "logging_in", "resyncing", "up"]
    (refused,) = [line for line in r.logs if line["event"] == "ami_login_failed"]
    assert refused["username"] == "pln123"


def test_connection_lost_then_reconnect_with_backoff() -> None:
    with structlog.testing.capture_logs() as logs:
        r = Recorded(logs, retry_policy=lambda attempt: 1.5 * attempt)
        protocol, _ = r.h.connect_and_login()
        protocol.connectionLost(Failure(ConnectionError("asterisk restarted")))
        assert r.now() is S.RECONNECT_WAIT
        r.h.clock.advance(1.49)
        assert r.now() is S.RECONNECT_WAIT and len(r.h.endpoint.attempts) == 1
        r.h.clock.advance(0.01)
        assert r.now() is S.CONNECTING
        r.h.endpoint.refuse()  # still down: the second attempt waits longer
        r.h.clock.advance(2.99)
        assert r.now() is S.RECONNECT_WAIT
        r.h.clock.advance(0.01)
        r.h.connect_and_login()
    assert r.states() == ["stopped", "connecting", "logging_in", "resyncing", "up",
                          "reconnect_wait", "connecting", "reconnect_wait",
                          "connecting", "logging_in", "resyncing", "up"]
    assert r.h.service.connections == 2


def test_stop_while_waiting_to_reconnect(r: Recorded) -> None:
    r.h.endpoint.refuse()
    assert r.now() is S.RECONNECT_WAIT
    stopped: list[object] = []
    r.h.service.stopService().addCallback(stopped.append)
    assert stopped == [None]
    assert r.h.clock.getDelayedCalls() == []
    r.h.clock.advance(60)
    assert len(r.h.endpoint.attempts) == 1
    assert r.states() == ["stopped", "connecting", "reconnect_wait", "stopped"]


def test_stop_while_up(r: Recorded) -> None:
    protocol, transport = r.h.connect_and_login()
    stopped: list[object] = []
    r.h.service.stopService().addCallback(stopped.append)
    assert r.now() is S.STOPPING and r.h.service.protocol is None
    assert transport.disconnecting and not stopped
    protocol.connectionLost(Failure(ConnectionError("closed")))
    assert stopped == [None]
    r.h.clock.advance(60)
    assert len(r.h.endpoint.attempts) == 1
    assert r.states() == ["stopped", "connecting", "logging_in", "resyncing", "up",
                          "stopping", "stopped"]


def test_stop_while_connecting(r: Recorded) -> None:
    r.h.service.stopService()
    assert r.states() == ["stopped", "connecting", "stopped"]


def test_stop_during_login_waits_for_the_socket(r: Recorded) -> None:
    protocol, _transport = r.h.endpoint.accept()
    first = r.h.service.stopService()
    second = r.h.service.stopService()  # stopping already: waits for the same close
    done: list[object] = []
    first.addCallback(done.append)
    second.addCallback(done.append)
    assert done == []
    protocol.connectionLost(Failure(ConnectionError("closed")))
    assert done == [None, None]
    assert r.h.service.stopService().called  # stopped: nothing more to wait for
    assert r.states() == ["stopped", "connecting", "logging_in", "stopping", "stopped"]


def test_waiters_are_released_when_the_resync_is_done(r: Recorded) -> None:
    slow: Deferred[None] = Deferred()
    r.h.service.add_resync_hook(lambda protocol: slow)
    ready: list[AMIProtocol] = []
    r.h.service.when_connected().addCallback(ready.append)
    protocol, _transport = r.h.connect_and_login()
    assert r.now() is S.RESYNCING
    assert r.h.service.protocol is protocol  # the hooks (and others) may already send
    assert ready == []
    slow.callback(None)
    assert r.now() is S.UP and ready == [protocol]


def test_lost_during_the_resync_leaves_the_waiters_for_the_next_login(r: Recorded) -> None:
    slow: Deferred[None] = Deferred()
    r.h.service.add_resync_hook(lambda protocol: slow)
    ready: list[AMIProtocol] = []
    r.h.service.when_connected().addCallback(ready.append)
    protocol, _ = r.h.connect_and_login()
    protocol.connectionLost(Failure(ConnectionError("dropped")))
    slow.callback(None)  # the old resync ends after the drop: no step, no waiter fired
    assert r.now() is S.RECONNECT_WAIT and ready == []
    r.h.clock.advance(2.0)
    second, transport = r.h.endpoint.accept()
    answer(second, sent(transport)[0])
    assert r.now() is S.UP and ready == [second]


def test_callbacks_of_lost_actions_find_the_link_already_down(r: Recorded) -> None:
    protocol, _ = r.h.connect_and_login()
    seen: list[tuple[LinkState, bool]] = []

    def on_lost(failure: Failure) -> None:
        again = r.h.service.send_action("Ping")
        again.addErrback(lambda f: seen.append((r.now(),
                                                bool(f.check(AMINotConnected)))))

    r.h.service.send_action("Ping").addErrback(on_lost)
    protocol.connectionLost(Failure(ConnectionError("dropped")))
    assert seen == [(S.RECONNECT_WAIT, True)]


def test_a_connection_that_closed_before_it_was_reported_is_a_failed_attempt(
        r: Recorded) -> None:
    factory, attempt = r.h.endpoint.attempts[-1]
    protocol = factory.buildProtocol(None)
    protocol.makeConnection(StringTransport())
    protocol.connectionLost(Failure(ConnectionError("reset")))
    attempt.callback(protocol)
    assert r.now() is S.RECONNECT_WAIT
    r.h.clock.advance(2.0)
    r.h.connect_and_login()
    assert r.states()[-4:] == ["connecting", "logging_in", "resyncing", "up"]


def test_starting_twice_is_a_bug(r: Recorded) -> None:
    with pytest.raises(IllegalTransition):
        r.h.service.startService()
    assert r.now() is S.CONNECTING and len(r.h.endpoint.attempts) == 1
