"""The discrete-event loop: advance the virtual clocks, let the real ACD finish, repeat.

Why it works with a real Redis: the ACD does its I/O on the asyncio loop, while everything
that *happens* (arrivals, rings, talks, wrap-ups, announcements, patience) is a timer on
an injected `twisted.internet.task.Clock`. So the loop takes the earliest timer of any
world, advances every world's clock to it (lockstep: the policies see the same moments),
and then waits until no Redis command of any world is in flight (`QuiescentStore`): only
then has the ACD decided everything that follows from that moment, and the next moment
may come. The virtual time of a decision is the time of the event that caused it, never
the wall clock, which the simulation reads only for the progress line.

`time_step_s` > 0 lets events less than that apart share one step (each then sees the
clock at the step's end): fewer round trips for a long, busy day at the price of that much
timing resolution. The validation tests run with 0 (every event at its exact time).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import IO, Any, TypeVar

from twisted.internet.base import DelayedCall
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock

from acd.store.redis import Client, RedisStore

T = TypeVar("T")


class QuiescentStore(RedisStore):
    """A RedisStore that knows how many commands are in flight and says when none is.

    A command's count drops before its reply is handed on, but the code that receives the
    reply runs in the same callback chain and counts its next command at once; `quiet`
    therefore checks again one loop turn later before it fires.
    """

    def __init__(self, url: str, password: str | None = None):
        super().__init__(url, password)
        self.in_flight = 0
        self._quiet: list[Deferred[None]] = []

    def run(self, command: Callable[[Client], Awaitable[T]]) -> Deferred[T]:
        self.in_flight += 1
        d = super().run(command)

        def done(result: T) -> T:
            self._finished()
            return result

        return d.addBoth(done)

    def soon(self, work: Callable[[], object]) -> None:
        """Work put off to the next turn (a batch about to be sent) counts as in flight."""
        self.in_flight += 1

        def run() -> None:
            try:
                work()
            finally:
                self._finished()

        super().soon(run)

    def _finished(self) -> None:
        self.in_flight -= 1
        if self.in_flight == 0 and self._quiet:
            asyncio.get_running_loop().call_soon(self._check)

    def _check(self) -> None:
        if self.in_flight == 0:
            waiters, self._quiet = self._quiet, []
            for waiter in waiters:
                waiter.callback(None)

    def quiet(self) -> Deferred[None]:
        """Fires once no command is in flight (checked one loop turn later, to be sure)."""
        d: Deferred[None] = Deferred()
        self._quiet.append(d)
        asyncio.get_running_loop().call_soon(self._check)
        return d


class EventClock(Clock):
    """Twisted's `Clock` with its timers in a heap.

    Why: `Clock` keeps one list and re-sorts all of it on every `callLater` and after every
    timer that fires; a simulated contact centre holds thousands of timers (shift ends,
    patience, talks, announcements), which made sorting the simulator's main cost. Same
    interface and same `DelayedCall`s (cancel, reset, delay, active), so the ACD cannot
    tell; cancelled or moved timers are skipped when they come up (lazy deletion).
    """

    def __init__(self) -> None:
        super().__init__()
        self._heap: list[tuple[float, int, DelayedCall]] = []
        self._seq = itertools.count()

    def callLater(self, delay: float, callable: Callable[..., Any], *args: object,
                  **kw: object) -> DelayedCall:
        call = DelayedCall(self.seconds() + delay, callable, args, kw, self._cancelled,
                           self._moved, seconds=self.seconds)
        heapq.heappush(self._heap, (call.getTime(), next(self._seq), call))
        return call

    def _cancelled(self, call: DelayedCall) -> None:
        """Left in the heap; skipped when it comes up."""

    def _moved(self, call: DelayedCall) -> None:
        heapq.heappush(self._heap, (call.getTime(), next(self._seq), call))

    def _prune(self) -> None:
        heap = self._heap
        while heap:
            at, _, call = heap[0]
            if call.cancelled or call.called or call.getTime() != at:
                heapq.heappop(heap)
            else:
                return

    def next_time(self) -> float | None:
        self._prune()
        return self._heap[0][0] if self._heap else None

    def getDelayedCalls(self) -> list[DelayedCall]:
        self._prune()
        return sorted({id(c): c for _, _, c in self._heap if c.active()}.values(),
                      key=lambda c: c.getTime())

    def advance(self, amount: float) -> None:
        self.rightNow += amount
        heap = self._heap
        while heap:
            at, _, call = heap[0]
            if call.cancelled or call.called or call.getTime() != at:
                heapq.heappop(heap)
                continue
            if at > self.rightNow:
                break
            heapq.heappop(heap)
            call.called = 1
            call.func(*call.args, **call.kw)


class Clocks:
    """The worlds' clocks: the loop advances them together."""

    def __init__(self, clocks: Sequence[EventClock]):
        self.clocks = list(clocks)

    def next_time(self) -> float | None:
        times = [t for t in (c.next_time() for c in self.clocks) if t is not None]
        return min(times) if times else None

    def advance_to(self, t: float) -> None:
        for clock in self.clocks:
            clock.advance(max(0.0, t - clock.seconds()))


class Progress:
    """A plain-text progress bar on stderr: redrawn in place on a terminal, else a line
    every 10 %."""

    def __init__(self, total_s: float, label: str, stream: IO[str] | None = None,
                 width: int = 30, *, lines: bool = False):
        """`lines`: a line per 10 % even on a terminal (several processes share it)."""
        self.total = total_s
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.width = width
        self.started = time.monotonic()   # wall clock: only for the display
        self.tty = self.stream.isatty() and not lines
        self._shown = -1

    def update(self, done_s: float) -> None:
        pct = int(100 * min(1.0, done_s / self.total)) if self.total else 100
        if pct == self._shown or (not self.tty and pct % 10 and pct != 100):
            return
        self._shown = pct
        filled = self.width * pct // 100
        hours, minutes = divmod(int(done_s) // 60, 60)
        line = (f"{self.label} [{'#' * filled}{'.' * (self.width - filled)}] {pct:3d}% "
                f"sim {hours:02d}:{minutes:02d} wall {time.monotonic() - self.started:5.1f}s")
        if self.tty:
            self.stream.write("\r" + line + ("\n" if pct == 100 else ""))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()


async def run_clocks(clocks: Clocks, store: QuiescentStore, until: float, *,
                     time_step_s: float = 0.0,
                     progress: Callable[[float], None] | None = None) -> int:
    """Advance the clocks event by event up to `until` (epoch s); the number of steps."""
    steps = 0
    await store.quiet()
    while True:
        t = clocks.next_time()
        if t is None or t > until:
            break
        if time_step_s > 0:
            now = min(c.seconds() for c in clocks.clocks)
            t = min(until, max(t, now + time_step_s))
        clocks.advance_to(t)
        await store.quiet()
        steps += 1
        if progress is not None and steps % 256 == 0:
            progress(t)
    clocks.advance_to(until)
    await store.quiet()
    if progress is not None:
        progress(until)
    return steps
