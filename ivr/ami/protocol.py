"""One AMI connection: actions correlated by ActionID, lists collected, events dispatched.

Each action gets a Deferred and a timeout. Every pending action fails when the connection
closes and is never resent: after a reconnect the resync hook asks Asterisk what is true
instead (resending an Originate would ring a phone twice).
"""

from __future__ import annotations

import hashlib
import itertools
import re
import secrets
from dataclasses import dataclass, field
from typing import Any

import structlog
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.internet.protocol import Protocol
from twisted.internet.task import LoopingCall
from twisted.python.failure import Failure

from ivr.ami.actions import ACTION_ID_PREFIX, ActionRejected, Fields, encode_action
from ivr.ami.deadlines import DeadlineTimer
from ivr.ami.errors import (
    AMIActionError,
    AMIAuthError,
    AMIConnectionLost,
    AMITimeout,
)
from ivr.ami.events import EventDispatcher
from ivr.ami.framing import Framer, peek_event_name
from ivr.ami.message import Message

log = structlog.get_logger("ivr.ami")

DEFAULT_ACTION_TIMEOUT = 10.0
_ACTION_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}\Z")
AGI_EVENT_CLASS = "agi"


def events_mask(classes: str) -> str:
    """The `Events:` login value, always keeping class `agi` (AsyncAGI dies without it)."""
    wanted = [c.strip() for c in classes.split(",") if c.strip()]
    lowered = [c.lower() for c in wanted]
    if lowered in (["on"], ["all"]):
        return "on"
    if not wanted or "off" in lowered:
        raise ValueError("an Events mask of 'off' silently disables AsyncAGI; list classes")
    if AGI_EVENT_CLASS not in lowered:
        wanted.append(AGI_EVENT_CLASS)
    return ",".join(wanted)


@dataclass
class ListResult:
    """A list action's answer: the response, its items, and the closing event."""

    response: Message
    events: list[Message] = field(default_factory=list)
    complete: Message | None = None

    @property
    def cancelled(self) -> bool:
        return self.complete is not None and (
            (self.complete.get("EventList") or "").lower() == "cancelled"
        )


@dataclass
class _Pending:
    action: str
    deferred: Deferred[Any]
    deadline: float
    delay: float
    collect_list: bool
    result: ListResult | None = None


class AMIProtocol(Protocol):
    """Speaks AMI over one transport; knows nothing of reconnecting (the service does)."""

    def __init__(
        self,
        clock: IReactorTime,
        dispatcher: EventDispatcher,
        action_timeout: float = DEFAULT_ACTION_TIMEOUT,
    ):
        self.clock = clock
        self.dispatcher = dispatcher
        self.action_timeout = action_timeout
        self.framer = Framer()
        self._pending: dict[str, _Pending] = {}
        self._ids = itertools.count(1)
        self._prefix = f"{ACTION_ID_PREFIX}{secrets.token_hex(3)}"
        self._keepalive: LoopingCall | None = None
        self._timeouts = DeadlineTimer(clock, self._expire)  # one timer for every action
        self._open_lists = 0  # lists whose items are arriving: their events must be parsed
        self.connected_ok = False
        self._packets_read = 0
        self._skipped_late = 0

    def unwrap(self) -> AMIProtocol:
        """This protocol itself, also when reached through ClientService's proxy."""
        return self

    # -- wire ------------------------------------------------------------------------------

    def connectionMade(self) -> None:
        self.connected_ok = True

    def dataReceived(self, data: bytes) -> None:
        for block in self.framer.feed(data, self._skippable):
            self._packets_read += 1
            self._packet(block)

    def _skippable(self, event_name: bytes) -> bool:
        """An event nobody subscribed to, while no list action collects items: drop it."""
        return not self._open_lists and not self.dispatcher.wants(event_name)

    @property
    def packets_received(self) -> int:
        """Every packet framed, whether parsed or dropped unread."""
        return self._packets_read + self.framer.skipped

    @property
    def events_skipped(self) -> int:
        return self.framer.skipped + self._skipped_late

    def _packet(self, block: bytes) -> None:
        name = peek_event_name(block)
        if (
            name is not None
            and not self.dispatcher.wants(name)
            and not (self._open_lists and b"ActionID" in block)
        ):
            self._skipped_late += 1
            return
        message = Message.from_wire(block)
        if message.event is not None:
            # Only list items need the ActionID: don't build the header index otherwise.
            if self._open_lists:
                action_id = message.action_id
                pending = self._pending.get(action_id) if action_id is not None else None
                if pending is not None and pending.result is not None:
                    self._list_item(action_id, pending, message)
                    return
            self.dispatcher.dispatch(message)
            return
        action_id = message.action_id
        pending = self._pending.get(action_id) if action_id is not None else None
        if pending is None:
            log.warning("ami_unmatched_response", action_id=action_id,
                        response=message.response)
            return
        self._response(action_id, pending, message)

    def _response(self, action_id: str | None, pending: _Pending, message: Message) -> None:
        assert action_id is not None
        if not message.is_success():
            error_type = AMIAuthError if pending.action.lower() == "login" else AMIActionError
            self._finish(action_id, Failure(error_type(pending.action, message)))
            return
        list_start = (message.get("EventList") or "").lower() == "start"
        if pending.collect_list and list_start:
            pending.result = ListResult(response=message)
            self._open_lists += 1
            return
        if pending.collect_list:
            self._finish(action_id, ListResult(response=message))
        else:
            self._finish(action_id, message)

    def _list_item(self, action_id: str | None, pending: _Pending, message: Message) -> None:
        assert action_id is not None and pending.result is not None
        state = (message.get("EventList") or "").lower()
        if state in ("complete", "cancelled"):
            pending.result.complete = message
            self._finish(action_id, pending.result)
        else:
            pending.result.events.append(message)

    def _finish(self, action_id: str, outcome: object) -> None:
        pending = self._pending.pop(action_id)
        if pending.result is not None:
            self._open_lists -= 1
        if isinstance(outcome, Failure):
            pending.deferred.errback(outcome)
        else:
            pending.deferred.callback(outcome)

    def connectionLost(self, reason: Failure = Failure(ConnectionError())) -> None:  # noqa: B008
        self.connected_ok = False
        self.stop_keepalive()
        for action_id in list(self._pending):
            action = self._pending[action_id].action
            self._finish(action_id, Failure(AMIConnectionLost(
                f"{action}: connection closed before the answer ({reason.getErrorMessage()})"
            )))
        self._timeouts.cancel()

    # -- actions ---------------------------------------------------------------------------

    def next_action_id(self) -> str:
        return f"{self._prefix}-{next(self._ids)}"

    def send_action(
        self,
        action: str,
        fields: Fields | None = None,
        timeout: float | None = None,
        *,
        collect_list: bool = False,
        action_id: str | None = None,
    ) -> Deferred[Any]:
        """Send `action`; the Deferred fires with the response Message (or a ListResult).

        Raises ActionRejected synchronously, before anything is written, for unsafe input.
        `action_id` lets a caller correlate later events that echo it (OriginateResponse).
        """
        if action_id is None:
            action_id = self.next_action_id()
        elif action_id in self._pending or not _ACTION_ID.match(action_id):
            raise ActionRejected(f"{action_id!r} is in use or not [A-Za-z0-9._:-]{{1,64}}",
                                 "ActionID")
        payload = encode_action(action, action_id, fields)
        deferred: Deferred[Any] = Deferred(lambda _d: self._cancel(action_id))
        delay = self.action_timeout if timeout is None else timeout
        deadline = self.clock.seconds() + delay
        self._pending[action_id] = _Pending(action, deferred, deadline, delay, collect_list)
        self._timeouts.cover(deadline, delay)
        assert self.transport is not None
        self.transport.write(payload)
        return deferred

    def send_list_action(
        self, action: str, fields: Fields | None = None, timeout: float | None = None
    ) -> Deferred[ListResult]:
        """An action answered by `EventList: start`, items, then `EventList: Complete`."""
        return self.send_action(action, fields, timeout, collect_list=True)

    def _expire(self, now: float) -> float | None:
        """Fail every action past its deadline (in deadline order, then in the order they
        were sent, as timers of their own would); the next deadline, if any."""
        due = sorted((pending.deadline, order, action_id)
                     for order, (action_id, pending) in enumerate(self._pending.items())
                     if pending.deadline <= now)
        for _deadline, _order, action_id in due:
            self._timed_out(action_id)
        return min((pending.deadline for pending in self._pending.values()), default=None)

    def _timed_out(self, action_id: str) -> None:
        pending = self._pending.get(action_id)
        if pending is None:
            return
        delay = pending.delay
        log.warning("ami_action_timeout", action=pending.action, action_id=action_id,
                    timeout_s=delay)
        self._finish(action_id, Failure(AMITimeout(f"{pending.action}: no answer in {delay}s")))

    def _cancel(self, action_id: str) -> None:
        pending = self._pending.pop(action_id, None)
        if pending is None:
            return
        if pending.result is not None:
            self._open_lists -= 1
        if not self._pending:
            self._timeouts.cancel()

    def pending_count(self) -> int:
        return len(self._pending)

    def command(self, command: str, timeout: float | None = None) -> Deferred[list[str]]:
        """Run a CLI command; Asterisk >= 14 returns one `Output:` header per line."""
        d: Deferred[Message] = self.send_action("Command", {"Command": command}, timeout)
        return d.addCallback(lambda response: response.getall("Output"))

    # -- login -----------------------------------------------------------------------------

    async def login(self, username: str, secret: str, events: str = "on") -> Message:
        """Plain-text login. The secret goes on the wire only: never into a log line."""
        response: Message = await self.send_action(
            "Login", {"Username": username, "Secret": secret, "Events": events_mask(events)}
        )
        log.info("ami_logged_in", username=username, auth="plain")
        return response

    async def login_md5(self, username: str, secret: str, events: str = "on") -> Message:
        """Challenge/response login: the secret itself never crosses the wire."""
        challenge: Message = await self.send_action("Challenge", {"AuthType": "MD5"})
        nonce = challenge.get("Challenge") or ""
        key = hashlib.md5((nonce + secret).encode(), usedforsecurity=False).hexdigest()
        response: Message = await self.send_action(
            "Login",
            {"AuthType": "MD5", "Username": username, "Key": key,
             "Events": events_mask(events)},
        )
        log.info("ami_logged_in", username=username, auth="md5")
        return response

    # -- keepalive -------------------------------------------------------------------------

    def start_keepalive(self, interval: float, timeout: float) -> None:
        """Ping every `interval`; no Pong within `timeout` drops the link so it reconnects.

        A half-open TCP connection (Asterisk host gone, no RST) otherwise looks alive forever.
        """
        self.stop_keepalive()
        self._keepalive = LoopingCall(self._ping, timeout)
        self._keepalive.clock = self.clock
        self._keepalive.start(interval, now=False)

    def stop_keepalive(self) -> None:
        if self._keepalive is not None and self._keepalive.running:
            self._keepalive.stop()
        self._keepalive = None

    def _ping(self, timeout: float) -> None:
        d = self.send_action("Ping", timeout=timeout)
        d.addErrback(self._ping_failed)

    def _ping_failed(self, failure: Failure) -> None:
        if failure.check(AMIConnectionLost):
            return
        log.warning("ami_keepalive_failed", error=failure.getErrorMessage())
        if self.transport is not None:
            self.transport.abortConnection()  # type: ignore[attr-defined]
