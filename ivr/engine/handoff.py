"""Getting a caller into the ACD's queue while Redis is away: try again until it answers.

The caller who asked for an agent already hears the queue's music; an enqueue that fails
(Redis restarting, a failover, a network cut) must not leave them there with nothing in
Redis to ever find them. So the hand-off keeps offering the same request (the same call
id, the same `entered_at`: the ACD does not offer a call id twice, so a retry after a lost
reply is harmless) with a capped exponential backoff plus jitter, the policy the AMI link
reconnects with. It stops when the ACD takes the call, when the caller hangs up, or when
the configured limit (`ivr.handoff_timeout_s`) has passed: then the session apologises
and hangs up rather than leave music playing for nobody.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from structlog.typing import FilteringBoundLogger
from twisted.application.internet import backoffPolicy
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import deferLater

from acd.intake import CallIntake, QueuePlacement, QueueRequest

Backoff = Callable[[int], float]  # failed attempts so far (0 = the first) -> seconds


def _jitter() -> float:
    # Up to half a second: callers who failed together spread out before they retry.
    return random.uniform(0.0, 0.5)  # noqa: S311 - spreading retries, not a secret


HANDOFF_BACKOFF: Backoff = backoffPolicy(initialDelay=0.5, maxDelay=5.0, factor=2.0,
                                         jitter=_jitter)
"""0.5 s, 1 s, 2 s, 4 s, then every 5 s (each plus jitter): soon after Redis is back the
caller is queued, and a long outage costs one attempt per caller every few seconds."""


@dataclass(frozen=True)
class HandOffResult:
    """How the hand-off ended: `placement` once the ACD took the call, else None (the
    limit passed, the ACD refused the request, or the caller left: `caller_gone`)."""

    placement: QueuePlacement | None
    attempts: int
    caller_gone: bool = False


class PatientHandOff:
    """Offers one request to the intake until it is taken, the caller left or time is up."""

    def __init__(self, intake: CallIntake, clock: IReactorTime, limit_s: float,
                 backoff: Backoff, still_there: Callable[[], bool],
                 log: FilteringBoundLogger):
        self.intake = intake
        self.clock = clock
        self.limit_s = limit_s
        self.backoff = backoff
        self.still_there = still_there
        self.log = log

    async def enqueue(self, request: QueueRequest) -> HandOffResult:
        deadline = self.clock.seconds() + self.limit_s
        attempts = 0
        while True:
            if not self.still_there():
                return HandOffResult(None, attempts, caller_gone=True)
            attempts += 1
            try:
                placement = await self.intake.enqueue(request)
            except ValueError as error:
                # The request itself was refused: no later attempt can succeed.
                self.log.error("ivr_handoff_refused", attempt=attempts, error=str(error))
                return HandOffResult(None, attempts)
            except Exception as error:  # noqa: BLE001 - whatever Redis raised: try again
                left = deadline - self.clock.seconds()
                if left <= 0:
                    self.log.error("ivr_handoff_gave_up", attempts=attempts,
                                   limit_s=self.limit_s, error=_described(error))
                    return HandOffResult(None, attempts)
                delay = min(self.backoff(attempts - 1), left)
                self.log.warning("ivr_handoff_retry", attempt=attempts,
                                 delay_s=round(delay, 3), error=_described(error))
                await deferLater(self.clock, delay)
                continue
            if attempts > 1:
                self.log.info("ivr_handoff_recovered", attempts=attempts)
            return HandOffResult(placement, attempts)


def _described(error: Exception) -> str:
    """The error's kind and first line, cut short: enough to tell an outage from a bug."""
    text = str(error).splitlines()[0] if str(error) else ""
    return f"{type(error).__name__}: {text[:200]}"
