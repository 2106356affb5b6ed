"""The AMI link that stays up: reconnect with backoff, re-login, keepalive, resync.

Built on Twisted's ClientService, whose `prepareConnection` is where login happens: a
connection only counts as up once Asterisk accepted us. After every (re)connect the resync
hooks run, because events during the outage are lost and must be recovered by asking
(`CoreShowChannels`), never by replaying actions.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import structlog
from twisted.application.internet import ClientService, backoffPolicy
from twisted.application.service import Service
from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.interfaces import IProtocol, IReactorTime, IStreamClientEndpoint
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
    """Tells the service when its connection goes, so actions stop being accepted at once."""

    def __init__(self, owner: AMIService, *args: Any):
        super().__init__(*args)
        self._owner = owner

    def connectionLost(self, reason: Failure = Failure(ConnectionError())) -> None:  # noqa: B008
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
        self.protocol: AMIProtocol | None = None
        self.connections = 0
        self._resync_hooks: list[ResyncHook] = []
        self._client: ClientService | None = None
        self._waiters: list[Deferred[AMIProtocol]] = []
        self._login_failures = 0

    def add_resync_hook(self, hook: ResyncHook) -> None:
        """`hook(protocol)` runs after every successful login, the first one included."""
        self._resync_hooks.append(hook)

    def startService(self) -> None:
        super().startService()  # type: ignore[no-untyped-call]
        self._client = ClientService(
            self.endpoint,
            _AMIFactory(self),
            retryPolicy=self._retry_delay,
            clock=self.clock,
            prepareConnection=self._prepare,
        )
        self._client.startService()

    def stopService(self) -> Deferred[None]:
        super().stopService()  # type: ignore[no-untyped-call]
        client, self._client = self._client, None
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            waiter.errback(AMINotConnected("the AMI service stopped"))
        if client is None:
            return succeed(None)
        result: Deferred[None] = client.stopService()
        return result

    def _retry_delay(self, attempt: int) -> float:
        delay = self.retry_policy(max(attempt, self._login_failures))
        log.warning("ami_reconnect_scheduled", attempt=attempt, delay_s=round(delay, 2))
        return delay

    def _prepare(self, protocol: IProtocol) -> Deferred[object]:
        # ClientService hands us its reconnecting proxy; work with the real protocol.
        real: AMIProtocol = protocol.unwrap()  # type: ignore[attr-defined]
        return Deferred.fromCoroutine(self._login_and_resync(real))

    async def _login_and_resync(self, protocol: AMIProtocol) -> None:
        """Log in; on failure drop the link instead of failing `prepareConnection`.

        ClientService's state machine has no transition for a disconnect while it waits to
        retry (twisted _client_service: Waiting + _clientDisconnected raises NoTransition),
        which is exactly what a refused login leads to. So the attempt always "succeeds"
        here and a failed login closes the connection, which ClientService then retries
        with our backoff (`_login_failures` keeps it growing across such attempts).
        """
        creds = self.credentials
        try:
            if creds.md5:
                await protocol.login_md5(creds.username, creds.secret, creds.events)
            else:
                await protocol.login(creds.username, creds.secret, creds.events)
        except (AMIError, ValueError) as err:
            self._login_failures += 1
            log.error("ami_login_failed", username=creds.username, error=str(err),
                      failures=self._login_failures)
            if protocol.transport is not None:
                protocol.transport.abortConnection()  # type: ignore[attr-defined]
            return
        self._login_failures = 0
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
            waiter.callback(protocol)

    def _lost(self, protocol: AMIProtocol, reason: Failure) -> None:
        if self.protocol is protocol:
            self.protocol = None
            report = log.warning if self.running else log.info
            report("ami_disconnected", reason=reason.getErrorMessage())

    def when_connected(self) -> Deferred[AMIProtocol]:
        """Fires with the logged-in protocol (at once if there is one)."""
        if self.protocol is not None:
            return succeed(self.protocol)
        if self._client is None:
            return fail(AMINotConnected("the AMI service is not running"))
        waiter: Deferred[AMIProtocol] = Deferred()
        self._waiters.append(waiter)
        return waiter

    def _current(self) -> AMIProtocol:
        if self.protocol is None:
            raise AMINotConnected("not connected to Asterisk")
        return self.protocol

    def send_action(
        self, action: str, fields: Fields | None = None, timeout: float | None = None
    ) -> Deferred[Any]:
        """Send on the current connection; fail at once (never queue) when there is none."""
        try:
            protocol = self._current()
        except AMINotConnected as err:
            return fail(err)
        return protocol.send_action(action, fields, timeout)

    def command(self, command: str, timeout: float | None = None) -> Deferred[list[str]]:
        """A CLI command's output lines (needs the `command` write class: not for pln123)."""
        try:
            protocol = self._current()
        except AMINotConnected as err:
            return fail(err)
        return protocol.command(command, timeout)

    def send_list_action(
        self, action: str, fields: Fields | None = None, timeout: float | None = None
    ) -> Deferred[ListResult]:
        try:
            protocol = self._current()
        except AMINotConnected as err:
            return fail(err)
        return protocol.send_list_action(action, fields, timeout)

