"""Test doubles for the AMI service's unit tests: an endpoint the test connects by hand,
and a harness that drives AMIService with a Clock (no socket, no Asterisk)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.error import ConnectionRefusedError
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure

from ivr.ami.message import Message
from ivr.ami.protocol import AMIProtocol
from ivr.ami.service import AMICredentials, AMIService

BANNER = b"Asterisk Call Manager/10.0.0\r\n"
SECRET = "s3cret"


class FakeEndpoint:
    """Records connection attempts; the test decides how each one ends."""

    def __init__(self) -> None:
        self.attempts: list[tuple[Any, Deferred[Any]]] = []

    def connect(self, factory: Any) -> Deferred[Any]:
        d: Deferred[Any] = Deferred()
        self.attempts.append((factory, d))
        return d

    def accept(self) -> tuple[AMIProtocol, StringTransport]:
        factory, d = self.attempts[-1]
        proxy = factory.buildProtocol(None)
        transport = StringTransport()
        proxy.makeConnection(transport)
        proxy.dataReceived(BANNER)
        d.callback(proxy)
        # The proxy stands in for the protocol exactly as the reactor would see it.
        return proxy, transport

    def refuse(self) -> None:
        _factory, d = self.attempts[-1]
        d.errback(Failure(ConnectionRefusedError()))


def sent(transport: StringTransport) -> list[Message]:
    raw = transport.value()
    transport.clear()
    return [Message.from_wire(b) for b in raw.split(b"\r\n\r\n") if b]


def answer(protocol: AMIProtocol, action: Message, *lines: str) -> None:
    text = "\r\n".join(["Response: Success", f"ActionID: {action['ActionID']}", *lines])
    protocol.dataReceived(text.encode() + b"\r\n\r\n")


def refuse_login(protocol: AMIProtocol, transport: StringTransport) -> None:
    login = sent(transport)[0]
    assert login["Action"] == "Login"
    protocol.dataReceived(
        f"Response: Error\r\nActionID: {login['ActionID']}\r\n"
        "Message: Authentication failed\r\n\r\n".encode()
    )


class Harness:
    def __init__(self, retry_policy: Callable[[int], float] = lambda attempt: 2.0) -> None:
        self.clock = Clock()
        self.endpoint = FakeEndpoint()
        self.resyncs: list[AMIProtocol] = []
        self.service = AMIService(
            self.endpoint,  # type: ignore[arg-type]
            AMICredentials("pln123", SECRET),
            self.clock,
            ping_interval=10,
            ping_timeout=3,
            retry_policy=retry_policy,
        )
        self.service.add_resync_hook(self.resyncs.append)
        self.service.startService()

    def connect_and_login(self) -> tuple[AMIProtocol, StringTransport]:
        protocol, transport = self.endpoint.accept()
        login = sent(transport)[0]
        assert login["Action"] == "Login"
        answer(protocol, login, "Message: Authentication accepted")
        return protocol, transport
