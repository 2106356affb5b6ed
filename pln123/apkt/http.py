"""Posting one delivery to APKT over HTTP(S) with Twisted's own client (`Agent`).

Only the status code matters to the sender; the reply body is read (at most MAX_REPLY
bytes, so a misbehaving server cannot fill our memory) and dropped. The token is sent as a
bearer token and never logged: what is logged elsewhere is the path, the ticket and the
status code. Every request has a deadline (`timeout_s`): a hung APKT is a failed attempt,
retried with backoff, never a sender stuck for good.
"""

from __future__ import annotations

from io import BytesIO
from typing import Any, Protocol

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.internet.protocol import Protocol as WireProtocol
from twisted.python.failure import Failure
from twisted.web.client import Agent, FileBodyProducer, HTTPConnectionPool
from twisted.web.http_headers import Headers
from twisted.web.iweb import IResponse

from pln123.apkt.contract import Delivery

MAX_REPLY = 64 * 1024
USER_AGENT = b"pln123-apkt/1"


class Poster(Protocol):
    def post(self, delivery: Delivery) -> Deferred[int]:
        """The HTTP status APKT answered; fails on a network error or the deadline."""
        ...


class AgentPoster:
    def __init__(self, reactor: Any, base_url: str, token: str, *, timeout_s: float = 10.0):
        self.reactor = reactor
        self.clock: IReactorTime = reactor
        self.base_url = base_url.rstrip("/")
        self._token = token
        self.timeout_s = timeout_s
        pool = HTTPConnectionPool(reactor, persistent=True)
        pool.maxPersistentPerHost = 8
        self.agent = Agent(reactor, pool=pool, connectTimeout=timeout_s)

    def __repr__(self) -> str:   # the token stays out of any repr
        return f"AgentPoster({self.base_url!r})"

    def post(self, delivery: Delivery) -> Deferred[int]:
        headers = Headers({
            b"Content-Type": [b"application/json"],
            b"Authorization": [b"Bearer " + self._token.encode()],
            b"Idempotency-Key": [delivery.idempotency_key.encode()],
            b"User-Agent": [USER_AGENT],
        })
        producer = FileBodyProducer(BytesIO(delivery.body))
        d: Deferred[Any] = self.agent.request(
            b"POST", (self.base_url + delivery.path).encode(), headers, producer)
        d.addCallback(_drain)
        d.addTimeout(self.timeout_s, self.clock)
        return d


def _drain(response: IResponse) -> Deferred[int]:
    done: Deferred[int] = Deferred()
    response.deliverBody(_Discard(done, response.code))
    return done


class _Discard(WireProtocol):
    def __init__(self, done: Deferred[int], code: int):
        self.done = done
        self.code = code
        self.size = 0

    def dataReceived(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > MAX_REPLY and self.transport is not None:
            self.transport.stopProducing()  # type: ignore[attr-defined]

    def connectionLost(self, reason: Failure = Failure(ConnectionError())) -> None:  # noqa: B008
        if not self.done.called:
            self.done.callback(self.code)
