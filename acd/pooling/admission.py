"""Surge admission control, judged on the pool's expected wait.

With pooling, a new caller is answered by whichever agent of the pool frees first (their
own site's first), so the wait worth judging is the pool's: every waiting caller of the
skill at every live site of the pool ahead of the new one, served at the pool's combined
rate. Only when that is over the national maximum is a new caller told there is no
reasonable wait anywhere (a callback, a ticket or PLN Mobile instead). With pooling off
(`acd.pooling.enabled: false`) every site answers only its own callers and nobody is
turned away: each caller waits for their own site's agents.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IReactorTime
from twisted.python.failure import Failure

from acd.pooling.status import SiteStatus, StatusBoard
from acd.settings import PoolingSettings

STATUS_REUSE_S = 1.0   # the pool's statuses: one read a second serves every new caller
# (or one per publication period, if the sites publish less often: nothing newer to read)


def pooled_ewt(skill: str, statuses: Mapping[str, SiteStatus | None]) -> float:
    """The expected wait of one more caller of `skill`, the live sites' queues together:
    callers ahead (waiting, less ready agents) over the sites' combined service rate."""
    waiting = ready = 0
    rate = 0.0
    for status in statuses.values():
        if status is None or not status.ami_up:
            continue
        figures = status.skill(skill)
        waiting += figures.waiting
        ready += figures.ready
        if figures.per_call_s > 0 and not math.isinf(figures.per_call_s):
            rate += 1 / figures.per_call_s
    ahead = waiting + 1 - ready
    if ahead <= 0:
        return 0.0
    return math.inf if rate <= 0 else ahead / rate


class Admission:
    """Whether a new caller of a site should be turned away (the pool is over capacity)."""

    def __init__(self, site: str, pooling: PoolingSettings, board: StatusBoard,
                 clock: IReactorTime):
        self.site = site
        self.pooling = pooling
        self.board = board
        self.clock = clock
        self._read: tuple[float, dict[str, SiteStatus | None]] | None = None
        self._reading: list[Deferred[dict[str, SiteStatus | None]]] | None = None

    def reconfigure(self, pooling: PoolingSettings) -> None:
        self.pooling = pooling

    def over_capacity(self, skill: str) -> Deferred[bool]:
        async def judge() -> bool:
            if not self.pooling.enabled:
                return False  # every site on its own: there is no national wait to judge
            statuses = await self._statuses()
            if all(status is None for status in statuses.values()):
                return False  # nothing known (Redis trouble, first seconds): let them wait
            return pooled_ewt(skill, statuses) > self.pooling.national_max_ewt_s

        return Deferred.fromCoroutine(judge())

    def _statuses(self) -> Deferred[dict[str, SiteStatus | None]]:
        """The pool's statuses: read again once they may have changed; new callers who
        come while a read is on its way share it."""
        now = self.clock.seconds()
        reuse_s = max(STATUS_REUSE_S, self.pooling.status_every_s)
        if self._read is not None and 0 <= now - self._read[0] < reuse_s:
            return succeed(self._read[1])
        waiter: Deferred[dict[str, SiteStatus | None]] = Deferred()
        if self._reading is not None:
            self._reading.append(waiter)
            return waiter
        self._reading = [waiter]

        def share(statuses: dict[str, SiteStatus | None] | Failure) -> None:
            waiters, self._reading = self._reading or [], None
            if not isinstance(statuses, Failure):
                self._read = (now, statuses)
            for d in waiters:
                if isinstance(statuses, Failure):
                    d.errback(statuses)
                else:
                    d.callback(statuses)

        self.board.read(self.pooling.members(self.site)).addBoth(share)
        return waiter
