"""Server-Sent Events: the views pushed to browsers within a second of a change.

Redis holds the truth and many processes change it, so there is no single place to hear
every change from; instead one `Feed` per dashboard polls each view somebody watches once
a second (on the injected clock), however many browsers watch it, and pushes the view's
JSON to its watchers when it differs from what they were last sent (`generated_at` aside).
A comment line every `keepalive_s` keeps proxies from closing a quiet stream.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import structlog
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import LoopingCall
from twisted.web.server import NOT_DONE_YET, Request

log = structlog.get_logger("pln123.web.sse")

Compute = Callable[[str], Deferred[dict[str, Any]]]


@dataclass(eq=False)
class Watcher:
    push: Callable[[bytes], None]
    sent: str = ""           # the view last sent, without generated_at
    sent_at: float = 0.0


@dataclass
class _View:
    watchers: list[Watcher] = field(default_factory=list)
    busy: bool = False


def comparable(view: dict[str, Any]) -> str:
    return json.dumps({k: v for k, v in view.items() if k != "generated_at"}, sort_keys=True)


class Feed:
    def __init__(self, clock: IReactorTime, compute: Compute, *, every_s: float = 1.0,
                 keepalive_s: float = 15.0):
        self.clock = clock
        self.compute = compute
        self.every_s = every_s
        self.keepalive_s = keepalive_s
        self._views: dict[str, _View] = {}
        self._loop: LoopingCall | None = None

    def subscribe(self, view: str, push: Callable[[bytes], None]) -> Callable[[], None]:
        """Watch `view` ("overview" or "site:<name>"); returns the unsubscribe function."""
        watcher = Watcher(push)
        entry = self._views.setdefault(view, _View())
        entry.watchers.append(watcher)
        if self._loop is None:
            self._loop = LoopingCall(self._tick)
            self._loop.clock = self.clock
            self._loop.start(self.every_s, now=False)
        self._refresh(view)   # the first snapshot at once, not after a second

        def unsubscribe() -> None:
            current = self._views.get(view)
            if current is not None and watcher in current.watchers:
                current.watchers.remove(watcher)
                if not current.watchers:
                    del self._views[view]
            if not self._views and self._loop is not None:
                self._loop.stop()
                self._loop = None

        return unsubscribe

    @property
    def watched(self) -> list[str]:
        return sorted(self._views)

    def _tick(self) -> None:
        for view in list(self._views):
            self._refresh(view)

    def _refresh(self, view: str) -> None:
        entry = self._views.get(view)
        if entry is None or entry.busy:
            return
        entry.busy = True
        d = self.compute(view)

        def done(data: dict[str, Any]) -> None:
            entry.busy = False
            key, now = comparable(data), self.clock.seconds()
            message = b"event: view\ndata: " + json.dumps(
                data, ensure_ascii=False, allow_nan=False).encode() + b"\n\n"
            for watcher in list(entry.watchers):
                if watcher.sent != key:
                    watcher.sent, watcher.sent_at = key, now
                    watcher.push(message)
                elif now - watcher.sent_at >= self.keepalive_s:
                    watcher.sent_at = now
                    watcher.push(b": keepalive\n\n")

        def failed(failure: Any) -> None:
            entry.busy = False
            log.warning("dashboard_view_failed", view=view, error=str(failure.value))

        d.addCallbacks(done, failed)


def stream(request: Request, feed: Feed, view: str) -> object:
    """Turn `request` into an event stream of `view` until the browser goes away."""
    request.setHeader(b"Content-Type", b"text/event-stream; charset=utf-8")
    request.setHeader(b"Cache-Control", b"no-store")
    request.setHeader(b"X-Accel-Buffering", b"no")   # a reverse proxy must not buffer it
    request.write(b"retry: 2000\n\n")

    def push(chunk: bytes) -> None:
        if not request.finished and not getattr(request, "_disconnected", False):
            request.write(chunk)

    unsubscribe = feed.subscribe(view, push)
    request.notifyFinish().addBoth(lambda _: unsubscribe())
    return NOT_DONE_YET
