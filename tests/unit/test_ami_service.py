"""AMIService driven by a fake endpoint and a Clock: login, resync, reconnect, backoff."""

from __future__ import annotations

import pytest
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure

from ivr.ami.errors import AMIConnectionLost, AMINotConnected
from ivr.ami.link import LinkState
from ivr.ami.protocol import AMIProtocol
from ivr.ami.service import AMICredentials, AMIService
from tests.doubles.ami import FakeEndpoint, Harness, sent


@pytest.fixture
def h() -> Harness:
    return Harness()


def test_logs_in_then_fires_resync_and_when_connected(h: Harness) -> None:
    connected: list[AMIProtocol] = []
    h.service.when_connected().addCallback(connected.append)
    assert not connected
    protocol, _ = h.connect_and_login()
    assert h.resyncs == [protocol.unwrap()]
    assert connected == [protocol.unwrap()]
    assert h.service.connections == 1


def test_reconnects_after_drop_with_backoff_and_relogs_in(h: Harness) -> None:
    protocol, transport = h.connect_and_login()
    pending = h.service.send_action("Ping")
    sent(transport)
    protocol.connectionLost(Failure(ConnectionError("asterisk restarted")))
    failures: list[Failure] = []
    pending.addErrback(failures.append)
    assert failures and failures[0].check(AMIConnectionLost)
    assert len(h.endpoint.attempts) == 1
    h.clock.advance(2.0)
    assert len(h.endpoint.attempts) == 2
    protocol2, transport2 = h.connect_and_login()
    assert h.resyncs == [protocol.unwrap(), protocol2.unwrap()]
    assert h.service.connections == 2
    # Nothing pending was replayed on the new connection: only Login was sent.
    assert sent(transport2) == []


def test_keeps_retrying_while_asterisk_is_down(h: Harness) -> None:
    for _ in range(5):
        h.endpoint.refuse()
        h.clock.advance(2.0)
    assert len(h.endpoint.attempts) == 6
    h.connect_and_login()
    assert len(h.resyncs) == 1


def test_failed_login_drops_and_retries(h: Harness) -> None:
    protocol, transport = h.endpoint.accept()
    login = sent(transport)[0]
    protocol.dataReceived(
        f"Response: Error\r\nActionID: {login['ActionID']}\r\n"
        "Message: Authentication failed\r\n\r\n".encode()
    )
    assert transport.disconnecting
    protocol.connectionLost(Failure(ConnectionError("closed")))
    assert h.resyncs == []
    assert h.service.protocol is None
    h.clock.advance(2.0)
    assert len(h.endpoint.attempts) == 2
    h.connect_and_login()
    assert len(h.resyncs) == 1


def test_connection_lost_during_login_retries(h: Harness) -> None:
    protocol, _transport = h.endpoint.accept()
    protocol.connectionLost(Failure(ConnectionError("asterisk stopping")))
    h.clock.advance(2.0)
    assert len(h.endpoint.attempts) == 2
    h.connect_and_login()
    assert len(h.resyncs) == 1


def test_login_failures_grow_the_backoff() -> None:
    clock = Clock()
    endpoint = FakeEndpoint()
    service = AMIService(endpoint, AMICredentials("u", "bad"), clock,  # type: ignore[arg-type]
                         retry_policy=lambda attempt: float(attempt))
    service.startService()
    for expected_delay in (1.0, 2.0, 3.0):
        proxy, transport = endpoint.accept()
        login = sent(transport)[0]
        proxy.dataReceived(f"Response: Error\r\nActionID: {login['ActionID']}\r\n\r\n".encode())
        proxy.connectionLost(Failure(ConnectionError("closed")))
        attempts = len(endpoint.attempts)
        clock.advance(expected_delay - 0.01)
        assert len(endpoint.attempts) == attempts
        clock.advance(0.01)
        assert len(endpoint.attempts) == attempts + 1


def test_send_without_connection_fails_at_once(h: Harness) -> None:
    failures: list[Failure] = []
    h.service.send_action("Ping").addErrback(failures.append)
    assert failures[0].check(AMINotConnected)


def test_ping_timeout_forces_reconnect(h: Harness) -> None:
    protocol, transport = h.connect_and_login()
    h.clock.advance(10)
    assert sent(transport)[0]["Action"] == "Ping"
    h.clock.advance(3)
    assert transport.disconnecting
    protocol.connectionLost(Failure(ConnectionError("aborted")))
    h.clock.advance(2.0)
    h.connect_and_login()
    assert len(h.resyncs) == 2


def test_resync_hook_failure_is_contained(h: Harness) -> None:
    def broken(protocol: AMIProtocol) -> None:
        raise RuntimeError("resync bug")

    h.service.add_resync_hook(broken)
    called: list[AMIProtocol] = []
    h.service.add_resync_hook(called.append)
    h.connect_and_login()
    assert len(called) == 1


def test_stop_service_stops_reconnecting(h: Harness) -> None:
    protocol, transport = h.connect_and_login()
    h.service.stopService()
    assert transport.disconnecting
    protocol.connectionLost(Failure(ConnectionError("closed")))
    h.clock.advance(60)
    assert len(h.endpoint.attempts) == 1


def test_secret_is_not_in_repr() -> None:
    assert "s3cret" not in repr(AMICredentials("pln123", "s3cret"))


def test_stop_during_login_then_late_disconnect_is_harmless(h: Harness) -> None:
    waiting: list[Failure] = []
    h.service.when_connected().addErrback(waiting.append)
    proxy, transport = h.endpoint.accept()  # login sent, no answer yet
    stopped: list[object] = []
    h.service.stopService().addCallback(stopped.append)
    assert waiting and waiting[0].check(AMINotConnected)
    assert transport.disconnecting and not stopped
    proxy.connectionLost(Failure(ConnectionError("closed late")))  # must not raise
    assert stopped == [None]
    h.clock.advance(60)
    assert len(h.endpoint.attempts) == 1
    assert h.resyncs == []


def test_stop_while_connecting_cancels_the_attempt(h: Harness) -> None:
    _factory, attempt = h.endpoint.attempts[-1]
    h.service.stopService()
    assert attempt.called  # cancelled: the service handled the CancelledError quietly
    assert h.clock.getDelayedCalls() == []
    h.clock.advance(60)
    assert len(h.endpoint.attempts) == 1


def test_connection_made_after_stop_is_closed_at_once() -> None:
    clock = Clock()
    endpoint = FakeEndpoint()
    service = AMIService(endpoint, AMICredentials("u", "s"), clock)  # type: ignore[arg-type]
    service.startService()
    factory, attempt = endpoint.attempts[-1]
    service.stopService()  # the attempt is cancelled, but its socket connects all the same
    assert service.state is LinkState.STOPPED
    protocol = factory.buildProtocol(None)
    transport = StringTransport()
    protocol.makeConnection(transport)
    attempt.callback(protocol)  # the cancelled attempt swallows the late result
    assert transport.disconnecting
    assert transport.value() == b""  # no login was sent
    assert service.protocol is None and service.state is LinkState.STOPPED
