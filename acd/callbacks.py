"""Callback retries: a called-back caller who did not answer is tried again later.

Why it is shaped like this: between two attempts the call waits in Redis as `called_back`,
out of its queue (so no agent is reserved for it meanwhile) but with its enqueue time
kept, and `callback_requeue` offers it again at that place, i.e. at the head of the queue
it had reached. Only the wait itself lives in this process: a timer on the injected clock
per call. A restart loses the timers, so `recover` arms one for every `called_back` call
of the site; several processes may do so at once, the script lets only the first one
through (the others get None) and nobody is offered twice.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import structlog
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.python.failure import Failure

from acd.queues.records import CallState, Offer
from acd.queues.store import QueueStore
from acd.store.clock import timestamp
from acd.telephony import Callback, RingOutcome

log = structlog.get_logger("acd.callbacks")

Tracked = Callable[[Deferred[Any]], Deferred[Any]]


class CallbackRetries:
    """Timers that put unanswered callbacks back in line after `delay_s`."""

    def __init__(self, queues: QueueStore, clock: IReactorTime, delay_s: float, *,
                 track: Tracked, follow: Callable[[Offer], None]):
        self.queues = queues
        self.clock = clock
        self.delay_s = delay_s
        self._track = track      # the Distributor's in-flight count (its settle())
        self._follow = follow    # ring the agent if the retry was reserved at once
        self._timers: dict[str, IDelayedCall] = {}

    @property
    def waiting(self) -> frozenset[str]:
        return frozenset(self._timers)

    def arm(self, call_id: str, delay_s: float | None = None) -> None:
        self.cancel(call_id)
        self._timers[call_id] = self.clock.callLater(
            self.delay_s if delay_s is None else delay_s, self._due, call_id)

    def cancel(self, call_id: str) -> None:
        timer = self._timers.pop(call_id, None)
        if timer is not None and timer.active():
            timer.cancel()

    def stop(self) -> None:
        """Cancel every timer (the calls stay `called_back` in Redis for `recover`)."""
        for call_id in list(self._timers):
            self.cancel(call_id)

    def recover(self) -> Deferred[None]:
        """After a restart: a retry, one full interval from now, for each waiting callback."""
        async def recover() -> None:
            for call_id in sorted(await self._track(self.queues.live_calls())):
                record = await self._track(self.queues.call(call_id))
                if record is not None and record.state is CallState.CALLED_BACK:
                    self.arm(call_id)

        return Deferred.fromCoroutine(recover())

    def _due(self, call_id: str) -> None:
        self._timers.pop(call_id, None)
        d = self._track(self.queues.requeue_callback(call_id, timestamp(self.clock)))
        d.addCallbacks(self._requeued, self._failed, callbackArgs=(call_id,),
                       errbackArgs=(call_id,))

    def _requeued(self, offer: Offer | None, call_id: str) -> None:
        log.info("callback_requeued", call_id=call_id,
                 outcome=type(offer).__name__.lower() if offer else "gone")
        if offer is not None:
            self._follow(offer)

    def _failed(self, failure: Failure, call_id: str) -> None:
        """Redis did not answer: try again later rather than leave the call waiting forever."""
        log.error("callback_requeue_failed", call_id=call_id, error=failure.getErrorMessage())
        self.arm(call_id)


def as_callback(result: Callback | RingOutcome) -> Callback:
    """A failed connect_callback (the errback's NO_ANSWER) as a Callback, like any other."""
    return result if isinstance(result, Callback) else Callback(result)
