"""The AMI link that stays up: reconnect with backoff, re-login, keepalive, resync.

Modelled on Twisted's ClientService (endpoint, backoff policy, injected clock) but with our
own small loop: ClientService's state machine raises NoTransition when a connection drops
while it waits to retry or after it stopped (both happen to an AMI client: a refused login
closes the socket a second later; a service stopped mid-login keeps its socket until the
peer closes it). The link's state is the explicit table in `ivr.ami.link` (why a table
and not Automat is said there); every change is logged as `ami_link_state`. The service
holds at most one connection at a time and lets go of it when it leaves it, so a late
disconnect from a connection it no longer holds is simply ignored.

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
from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.interfaces import IDelayedCall, IReactorTime, IStreamClientEndpoint
from twisted.internet.protocol import Factory
from twisted.python.failure import Failure

from ivr.ami.actions import Fields
from ivr.ami.errors import AMIError, AMINotConnected
from ivr.ami.events import EventDispatcher
from ivr.ami.link import LOGGED_IN, LinkEvent, LinkState, step
from ivr.ami.protocol import DEFAULT_ACTION_TIMEOUT, AMIProtocol, ListResult

log = structlog.get_logger("ivr.ami.service")

ResyncHook = Callable[[AMIProtocol], Awaitable[object] | object]


@dataclass(frozen=True)
class AMICredentials:
    username: str
    secret: str = field(repr=False)  # never in a repr, so never in a log line
    md5: bool = False
    events: str = "call,agi,user,system"


class _AMIFactory(Factory):
    def __init__(self, owner: AMIService):
        self.owner = owner

    def buildProtocol(self, addr: Any) -> AMIProtocol:
        owner = self.owner
        protocol = _TrackedProtocol(owner, owner.clock, owner.dispatcher, owner.action_timeout)
        protocol.factory = self
        return protocol


class _TrackedProtocol(AMIProtocol):
    """Tells the service when its connection comes and goes, so it logs in or reconnects."""

    def __init__(self, owner: AMIService, *args: Any):
        super().__init__(*args)
        self._owner = owner

    def connectionMade(self) -> None:
        super().connectionMade()
        self._owner._made(self)

    def connectionLost(self, reason: Failure = Failure(ConnectionError())) -> None:  # noqa: B008
        # The service first, so that whoever a failed pending action calls back finds the
        # link already reconnecting (or stopped), not still holding a dead connection.
        self._owner._lost(self, reason)
        super().connectionLost(reason)


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
        self.connections = 0
        self._state = LinkState.STOPPED
        self._resync_hooks: list[ResyncHook] = []
        self._waiters: list[Deferred[AMIProtocol]] = []
        self._failures = 0  # consecutive failed attempts: the backoff's input
        self._login_failures = 0
        self._connecting: Deferred[Any] | None = None
        self._retry: IDelayedCall | None = None
        self._live: AMIProtocol | None = None  # the connection the link holds, logged in or not
        self._closed: list[Deferred[None]] = []

    @property
    def state(self) -> LinkState:
        """Where the link is in `ivr.ami.link`'s table; only the link's own events move it."""
        return self._state

    @property
    def protocol(self) -> AMIProtocol | None:
        """The logged-in connection, if there is one (during the resync too)."""
        return self._live if self._state in LOGGED_IN else None

    def add_resync_hook(self, hook: ResyncHook) -> None:
        """`hook(protocol)` runs after every successful login, the first one included."""
        self._resync_hooks.append(hook)

    def _step(self, event: LinkEvent) -> None:
        before = self._state
        self._state = step(before, event)
        log.info("ami_link_state", before=str(before), after=str(self._state),
                 cause=str(event))

    # -- the loop ---------------------------------------------------------------------------

    def startService(self) -> None:
        self._step(LinkEvent.START)  # before `running` changes: starting twice is a bug
        super().startService()  # type: ignore[no-untyped-call]
        self._connect()

    def _connect(self) -> None:
        attempt: Deferred[Any] = self.endpoint.connect(_AMIFactory(self))
        self._connecting = attempt
        attempt.addCallbacks(self._connected, self._connect_failed)

    def _retry_now(self) -> None:
        self._retry = None
        self._step(LinkEvent.RETRY)
        self._connect()

    def _made(self, protocol: AMIProtocol) -> None:
        """A socket that connects when no attempt is wanted (after a stop) is closed at once."""
        if self._state is not LinkState.CONNECTING:
            _abort(protocol)

    def _connected(self, protocol: AMIProtocol) -> None:
        self._connecting = None
        real = protocol.unwrap()
        if self._state is not LinkState.CONNECTING:  # an attempt that outlived a stop
            _abort(real)
            return
        if not real.connected_ok:  # closed again before the endpoint reported it
            self._attempt_failed("connection closed at once")
            return
        self._live = real
        self._step(LinkEvent.CONNECTED)
        Deferred.fromCoroutine(self._login_and_resync(real))

    def _connect_failed(self, failure: Failure) -> None:
        self._connecting = None
        if self._state is not LinkState.CONNECTING:  # cancelled by stopService
            return
        self._attempt_failed(failure.getErrorMessage())

    def _attempt_failed(self, error: str) -> None:
        self._failures += 1
        log.warning("ami_connect_failed", error=error, attempt=self._failures)
        self._step(LinkEvent.CONNECT_FAILED)
        self._schedule_retry()

    def _schedule_retry(self) -> None:
        delay = self.retry_policy(max(self._failures, 1))
        log.warning("ami_reconnect_scheduled", attempt=self._failures, delay_s=round(delay, 2))
        self._retry = self.clock.callLater(delay, self._retry_now)

    def _holds(self, protocol: AMIProtocol, state: LinkState) -> bool:
        """Still this connection's turn: the link holds it and is where the step left it."""
        return protocol is self._live and self._state is state

    async def _login_and_resync(self, protocol: AMIProtocol) -> None:
        creds = self.credentials
        try:
            if creds.md5:
                await protocol.login_md5(creds.username, creds.secret, creds.events)
            else:
                await protocol.login(creds.username, creds.secret, creds.events)
        except (AMIError, ValueError) as err:
            if not self._holds(protocol, LinkState.LOGGING_IN):
                return  # the connection closed or the service stopped: handled there
            self._login_failures += 1
            self._failures += 1
            log.error("ami_login_failed", username=creds.username, error=str(err),
                      failures=self._login_failures)
            self._live = None  # let go first: its disconnect is no event of the link
            self._step(LinkEvent.LOGIN_FAILED)
            _abort(protocol)
            self._schedule_retry()
            return
        if not self._holds(protocol, LinkState.LOGGING_IN):
            return
        self._failures = self._login_failures = 0
        self.connections += 1
        self._step(LinkEvent.LOGIN_ACCEPTED)
        protocol.start_keepalive(self.ping_interval, self.ping_timeout)
        log.info("ami_connected", connections=self.connections, banner=protocol.framer.banner)
        for hook in list(self._resync_hooks):
            try:
                result = hook(protocol)
                if isinstance(result, Awaitable):
                    await result
            except Exception:
                log.exception("ami_resync_hook_failed", hook=getattr(hook, "__qualname__", ""))
        if not self._holds(protocol, LinkState.RESYNCING):
            return  # lost or stopped meanwhile: the waiters wait for the next login
        self._step(LinkEvent.RESYNCED)
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            waiter.callback(protocol)

    def _lost(self, protocol: AMIProtocol, reason: Failure) -> None:
        if protocol is not self._live:
            return  # a connection the link already let go of
        self._live = None
        before = self._state
        self._step(LinkEvent.LOST)
        if self._state is LinkState.STOPPED:
            log.info("ami_disconnected", reason=reason.getErrorMessage())
            closed, self._closed = self._closed, []
            for d in closed:
                d.callback(None)
            return
        if before is LinkState.LOGGING_IN:
            self._failures += 1
        else:
            log.warning("ami_disconnected", reason=reason.getErrorMessage())
            self._failures = max(self._failures, 1)
        self._schedule_retry()

    def stopService(self) -> Deferred[None]:
        super().stopService()  # type: ignore[no-untyped-call]
        if self._state is LinkState.STOPPED:
            return succeed(None)
        if self._state is not LinkState.STOPPING:
            self._step(LinkEvent.STOP)
            if self._retry is not None and self._retry.active():
                self._retry.cancel()
            self._retry = None
            if self._connecting is not None:
                self._connecting.cancel()  # its errback finds the link stopped: quiet
            waiters, self._waiters = self._waiters, []
            for waiter in waiters:
                waiter.errback(AMINotConnected("the AMI service stopped"))
            if self._live is None:
                return succeed(None)
            self._live.transport.loseConnection()  # type: ignore[union-attr]
        closed: Deferred[None] = Deferred()
        self._closed.append(closed)
        return closed

    # -- using the link -----------------------------------------------------------------

    def when_connected(self) -> Deferred[AMIProtocol]:
        """Fires with the logged-in protocol (at once if there is one)."""
        if self.protocol is not None:
            return succeed(self.protocol)
        if self._state in (LinkState.STOPPED, LinkState.STOPPING):
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
