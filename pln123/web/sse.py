"""Server-Sent Events: the views pushed to browsers within a second of a change.

Redis holds the truth and many processes change it, so there is no single place to hear
every change from; instead one `Feed` per dashboard polls each view somebody watches once
a second (on the injected clock), however many browsers watch it, and pushes the view's
JSON to its watchers when it differs from what they were last sent (`generated_at` aside).
A comment line every `keepalive_s` keeps proxies from closing a quiet stream.

A stream ends when its session does (logout, expiry, eviction) and when its reader stops
reading: each stream is a push producer on its connection, so when the socket's buffer
is full twisted.web pauses it and it sends nothing more (each view is whole, so only the
newest one not yet sent is kept, and sent on resume); a reader paused for longer than
`stall_s` is disconnected. What waits for a slow reader is one socket buffer and one view.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import structlog
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IPushProducer, IReactorTime
from twisted.internet.task import LoopingCall
from twisted.web.server import NOT_DONE_YET, Request
from zope.interface import implementer

log = structlog.get_logger("pln123.web.sse")

Compute = Callable[[str], Deferred[dict[str, Any]]]
STALL_S = 30.0   # a reader that has not taken data for this long is dropped


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


def stream(request: Request, feed: Feed, view: str, *,
           alive: Callable[[], bool] | None = None,
           on_end: Callable[[Callable[[], None]], Callable[[], None]] | None = None,
           stall_s: float = STALL_S) -> object:
    """Turn `request` into an event stream of `view` until the browser goes away, stops
    reading, or (`alive()` false, or `on_end`'s callback called) its session ends."""
    request.setHeader(b"Content-Type", b"text/event-stream; charset=utf-8")
    request.setHeader(b"Cache-Control", b"no-store")
    request.setHeader(b"X-Accel-Buffering", b"no")   # a reverse proxy must not buffer it
    request.write(b"retry: 2000\n\n")
    events = _Stream(request, feed.clock, alive or (lambda: True), stall_s)
    request.registerProducer(events, True)
    events.unsubscribe = feed.subscribe(view, events.push)
    if on_end is not None:
        events.cancel_watch = on_end(events.end)
    request.notifyFinish().addBoth(lambda _: events.gone())
    return NOT_DONE_YET


@implementer(IPushProducer)
class _Stream:
    """One browser's stream: paused while its socket is full, ended when told."""

    def __init__(self, request: Request, clock: IReactorTime, alive: Callable[[], bool],
                 stall_s: float):
        self.request = request
        self.clock = clock
        self.alive = alive
        self.stall_s = stall_s
        self.paused_at: float | None = None
        self.pending: bytes | None = None     # the newest view not sent while paused
        self.unsubscribe: Callable[[], None] = lambda: None
        self.cancel_watch: Callable[[], None] = lambda: None
        self.closed = False

    def push(self, chunk: bytes) -> None:
        if self.closed:
            return
        if not self.alive():
            self.end()
            return
        if self.paused_at is None:
            self.request.write(chunk)
            return
        if self.clock.seconds() - self.paused_at >= self.stall_s:
            log.info("dashboard_stream_dropped", reason="the reader stopped reading",
                     paused_s=round(self.clock.seconds() - self.paused_at, 1))
            self._close(abort=True)
            return
        if not chunk.startswith(b":"):
            self.pending = chunk          # keepalives need not wait

    def pauseProducing(self) -> None:
        if self.paused_at is None:
            self.paused_at = self.clock.seconds()

    def resumeProducing(self) -> None:
        self.paused_at = None
        chunk, self.pending = self.pending, None
        if chunk is not None and not self.closed:
            self.request.write(chunk)

    def stopProducing(self) -> None:
        self.gone()

    def end(self) -> None:
        """The session ended: finish the stream cleanly."""
        self._close(abort=False)

    def gone(self) -> None:
        """The connection went away (or is going): stop feeding it."""
        if not self.closed:
            self.closed = True
            self.unsubscribe()
            self.cancel_watch()

    def _close(self, *, abort: bool) -> None:
        if self.closed:
            return
        self.gone()
        request = self.request
        if request.finished or getattr(request, "_disconnected", False):
            return
        request.unregisterProducer()
        if abort:
            transport: Any = request.channel.transport if request.channel else None
            if transport is not None:
                transport.abortConnection()
            return
        request.finish()
