"""Event subscriptions: by name, or catch-all, with failures contained per handler.

One handler raising must not stop the others nor the connection (starpy swallowed such
errors silently, panoramisk closed the transport): it is logged with its traceback and
delivery continues.
"""

from __future__ import annotations

from collections.abc import Callable

import structlog
from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

from ivr.ami.message import Message

EventHandler = Callable[[Message], object]

log = structlog.get_logger("ivr.ami.events")


class Subscription:
    """Returned by `subscribe`; `cancel()` stops delivery to that handler."""

    def __init__(self, dispatcher: EventDispatcher, key: str | None, handler: EventHandler):
        self._dispatcher = dispatcher
        self._key = key
        self._handler = handler

    def cancel(self) -> None:
        self._dispatcher._remove(self._key, self._handler)


class EventDispatcher:
    """Routes events to handlers; survives reconnects because the service owns it."""

    def __init__(self) -> None:
        self._by_name: dict[str, list[EventHandler]] = {}
        self._catch_all: list[EventHandler] = []
        self._wanted: frozenset[bytes] = frozenset()

    def subscribe(self, event: str, handler: EventHandler) -> Subscription:
        key = event.lower()
        self._by_name.setdefault(key, []).append(handler)
        self._refresh()
        return Subscription(self, key, handler)

    def subscribe_all(self, handler: EventHandler) -> Subscription:
        self._catch_all.append(handler)
        return Subscription(self, None, handler)

    def _remove(self, key: str | None, handler: EventHandler) -> None:
        handlers = self._catch_all if key is None else self._by_name.get(key, [])
        if handler in handlers:
            handlers.remove(handler)
        if key is not None and not handlers:
            self._by_name.pop(key, None)
        self._refresh()

    def _refresh(self) -> None:
        self._wanted = frozenset(name.encode() for name in self._by_name)

    def wants(self, event_name: bytes) -> bool:
        """Cheap pre-check on the raw event name, so unwanted events are never parsed."""
        return bool(self._catch_all) or event_name.lower() in self._wanted

    def dispatch(self, message: Message) -> None:
        name = (message.event or "").lower()
        for handler in (*self._by_name.get(name, ()), *self._catch_all):
            try:
                result = handler(message)
            except Exception:
                log.exception("ami_event_handler_failed", ami_event=message.event,
                              handler=_name(handler))
                continue
            if isinstance(result, Deferred):
                result.addErrback(_log_async_failure, message.event, _name(handler))


def _name(handler: EventHandler) -> str:
    return getattr(handler, "__qualname__", repr(handler))


def _log_async_failure(failure: Failure, event: str | None, handler: str) -> None:
    log.error("ami_event_handler_failed", ami_event=event, handler=handler,
              exc_info=(failure.type, failure.value, failure.getTracebackObject()))
