"""The AMI link that stays up: reconnect with backoff, re-login, keepalive, resync.

Modelled on Twisted's ClientService (endpoint, backoff policy, injected clock) but with our
own small loop: ClientService's state machine raises NoTransition when a connection drops
while it waits to retry or after it stopped (both happen to an AMI client: a refused login
closes the socket a second later; a service stopped mid-login keeps its socket until the
peer closes it). Here every state a disconnect can meet is handled.

A connection only counts as up once Asterisk accepted the login. After every (re)login the
resync hooks run, because events during the outage are lost and must be recovered by
asking (`CoreShowChannels`), never by replaying actions.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import structlog
from twisted.application.internet import backoffPolicy
from twisted.application.service import Service
from twisted.internet.defer import CancelledError, Deferred, fail, succeed
from twisted.internet.interfaces import IDelayedCall, IReactorTime, IStreamClientEndpoint
from twisted.internet.protocol import Factory
from twisted.python.failure import Failure

from ivr.ami.actions import Fields
from ivr.ami.errors import AMIError, AMINotConnected
from ivr.ami.events import EventDispatcher
from ivr.ami.protocol import DEFAULT_ACTION_TIMEOUT, AMIProtocol, ListResult

log = structlog.get_logger("ivr.ami.service")

ResyncHook = Callable[[AMIProtocol], Awaitable[object] | object]


@dataclass(frozen=True)
class AMICredentials:
    username: str
    secret: str = field(repr=False)  # never in a repr, so never in a log line
    md5: bool = False
    events: str = "call,agi,user,dtmf,system"


class _AMIFactory(Factory):
    def __init__(self, owner: AMIService):
        self.owner = owner

    def buildProtocol(self, addr: Any) -> AMIProtocol:
        owner = self.owner
        protocol = _TrackedProtocol(owner, owner.clock, owner.dispatcher, owner.action_timeout)
        protocol.factory = self
        return protocol


class _TrackedProtocol(AMIProtocol):
    """Tells the service when its connection goes, so it stops sending and reconnects."""

    def __init__(self, owner: AMIService, *args: Any):
        super().__init__(*args)
        self._owner = owner

    def connectionLost(self, reason: Failure = Failure(ConnectionError())) -> None:  # noqa: B008
        super().connectionLost(reason)
        self._owner._lost(self, reason)


class AMIService(Service):
    """Keeps one logged-in AMI connection to one Asterisk; owns the event subscriptions."""

    def __init__(
        self,
        endpoint: IStreamClientEndpoint,
        credentials: AMICredentials,
        clock: IReactorTime,
        *,
        dispatcher: EventDispatcher | None = None,
        action_timeout: float = DEFAULT_ACTION_TIMEOUT,
        ping_interval: float = 10.0,
        ping_timeout: float = 5.0,
        retry_policy: Callable[[int], float] | None = None,
    ):
        self.endpoint = endpoint
        self.credentials = credentials
        self.clock = clock
        self.dispatcher = dispatcher or EventDispatcher()
        self.action_timeout = action_timeout
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.retry_policy = retry_policy or backoffPolicy(initialDelay=0.5, maxDelay=10.0)
        self.protocol: AMIProtocol | None = None  # the logged-in connection, if any
        self.connections = 0
        self._resync_hooks: list[ResyncHook] = []
        self._waiters: list[Deferred[AMIProtocol]] = []
        self._failures = 0  # consecutive failed attempts: the backoff's input
        self._login_failures = 0
        self._connecting: Deferred[Any] | None = None
        self._retry: IDelayedCall | None = None
        self._live: AMIProtocol | None = None  # the connected socket, logged in or not
        self._closed: list[Deferred[None]] = []

    def add_resync_hook(self, hook: ResyncHook) -> None:
        """`hook(protocol)` runs after every successful login, the first one included."""
        self._resync_hooks.append(hook)

    # -- the loop ---------------------------------------------------------------------------

    def startService(self) -> None:
        super().startService()  # type: ignore[no-untyped-call]
        self._connect()

    def _connect(self) -> None:
        self._retry = None
        attempt: Deferred[Any] = self.endpoint.connect(_AMIFactory(self))
        self._connecting = attempt
        attempt.addCallbacks(self._connected, self._connect_failed)

    def _connected(self, protocol: AMIProtocol) -> None:
        self._connecting = None
        real = protocol.unwrap()
        self._live = real
        if not self.running:  # stopped while the TCP connection was being made
            _abort(real)
            return
        Deferred.fromCoroutine(self._login_and_resync(real))

    def _connect_failed(self, failure: Failure) -> None:
        self._connecting = None
        if failure.check(CancelledError) or not self.running:
            return
        self._failures += 1
        log.warning("ami_connect_failed", error=failure.getErrorMessage(),
                    attempt=self._failures)
        self._schedule_retry()

    def _schedule_retry(self) -> None:
        delay = self.retry_policy(max(self._failures, 1))
        log.warning("ami_reconnect_scheduled", attempt=self._failures, delay_s=round(delay, 2))
        self._retry = self.clock.callLater(delay, self._connect)

    async def _login_and_resync(self, protocol: AMIProtocol) -> None:
        creds = self.credentials
        try:
            if creds.md5:
                await protocol.login_md5(creds.username, creds.secret, creds.events)
            else:
                await protocol.login(creds.username, creds.secret, creds.events)
        except (AMIError, ValueError) as err:
            self._login_failures += 1
            self._failures += 1
            log.error("ami_login_failed", username=creds.username, error=str(err),
                      failures=self._login_failures)
            _abort(protocol)  # the disconnect schedules the retry
            return
        if not self.running or protocol is not self._live:
            return
        self._failures = self._login_failures = 0
        self.protocol = protocol
        self.connections += 1
        protocol.start_keepalive(self.ping_interval, self.ping_timeout)
        log.info("ami_connected", connections=self.connections, banner=protocol.framer.banner)
        for hook in list(self._resync_hooks):
            try:
                result = hook(protocol)
                if isinstance(result, Awaitable):
                    await result
            except Exception:
                log.exception("ami_resync_hook_failed", hook=getattr(hook, "__qualname__", ""))
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if self.protocol is protocol:
                waiter.callback(protocol)
            else:
                self._waiters.append(waiter)

    def _lost(self, protocol: AMIProtocol, reason: Failure) -> None:
        if protocol is not self._live:
            return
        self._live = None
        was_up = self.protocol is protocol
        self.protocol = None
        if not self.running:
            log.info("ami_disconnected", reason=reason.getErrorMessage())
            closed, self._closed = self._closed, []
            for d in closed:
                d.callback(None)
            return
        if was_up:
            log.warning("ami_disconnected", reason=reason.getErrorMessage())
            self._failures = max(self._failures, 1)
        self._schedule_retry()

    def stopService(self) -> Deferred[None]:
        super().stopService()  # type: ignore[no-untyped-call]
        if self._retry is not None and self._retry.active():
            self._retry.cancel()
        self._retry = None
        if self._connecting is not None:
            self._connecting.cancel()
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            waiter.errback(AMINotConnected("the AMI service stopped"))
        if self._live is None:
            return succeed(None)
        closed: Deferred[None] = Deferred()
        self._closed.append(closed)
        self._live.transport.loseConnection()  # type: ignore[union-attr]
        return closed

    # -- using the link -----------------------------------------------------------------

    def when_connected(self) -> Deferred[AMIProtocol]:
        """Fires with the logged-in protocol (at once if there is one)."""
        if self.protocol is not None:
            return succeed(self.protocol)
        if not self.running:
            return fail(AMINotConnected("the AMI service is not running"))
        waiter: Deferred[AMIProtocol] = Deferred()
        self._waiters.append(waiter)
        return waiter

    def send_action(
        self,
        action: str,
        fields: Fields | None = None,
        timeout: float | None = None,
        *,
        action_id: str | None = None,
    ) -> Deferred[Any]:
        """Send on the current connection; fail at once (never queue) when there is none."""
        if self.protocol is None:
            return fail(AMINotConnected("not connected to Asterisk"))
        return self.protocol.send_action(action, fields, timeout, action_id=action_id)

    def command(self, command: str, timeout: float | None = None) -> Deferred[list[str]]:
        """A CLI command's output lines (needs the `command` write class: not for pln123)."""
        if self.protocol is None:
            return fail(AMINotConnected("not connected to Asterisk"))
        return self.protocol.command(command, timeout)

    def send_list_action(
        self, action: str, fields: Fields | None = None, timeout: float | None = None
    ) -> Deferred[ListResult]:
        if self.protocol is None:
            return fail(AMINotConnected("not connected to Asterisk"))
        return self.protocol.send_list_action(action, fields, timeout)


def _abort(protocol: AMIProtocol) -> None:
    if protocol.transport is not None:
        protocol.transport.abortConnection()  # type: ignore[attr-defined]
