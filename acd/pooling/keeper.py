"""The periodic side of pooling at one site: the auto reserve's step, lending what a
lower reserve frees, and taking back agents lent to a site that stopped.

Every `every_s` (on the injected clock) each process of the site asks the script to:
step the auto reserve's service-level part (the script lets one process per period do it),
lend this site's ready agents beyond its reserve to the pool's waiting calls (a reserve
that fell, lending switched back on by a supervisor: nobody else would notice until the
next agent became ready), and release this site's agents reserved for a call of a site
whose pln123 stopped before it could ring them (after the ring timeout and a grace).
"""

from __future__ import annotations

from collections.abc import Callable

import structlog
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import LoopingCall

from acd.gather import gather
from acd.queues.records import Reservation
from acd.queues.store import QueueStore
from acd.settings import AcdSettings
from acd.store.clock import timestamp

log = structlog.get_logger("acd.pooling")

KEEP_EVERY_S = 60.0   # how often a process asks; the auto reserve steps every `every_s`
LEASE_GRACE_S = 30.0  # beyond the ring timeout, before a lent agent's ring counts as lost


class PoolKeeper:
    def __init__(self, site: str, settings: AcdSettings, skills: tuple[str, ...],
                 queues: QueueStore, clock: IReactorTime,
                 follow: Callable[[Reservation], None], *, every_s: float = KEEP_EVERY_S):
        self.site = site
        self.settings = settings
        self.skills = skills
        self.queues = queues
        self.clock = clock
        self.follow = follow      # the Distributor's: ring, or hand to the call's site
        self.every_s = every_s
        self._loop = LoopingCall(self.keep)
        self._loop.clock = clock
        self._log = log.bind(site=site)

    def start(self) -> None:
        if self.settings.pooling.enabled and not self._loop.running:
            self._loop.start(self.every_s, now=True).addErrback(
                lambda f: self._log.error("pool_keeper_failed", error=f.getErrorMessage()))

    def stop(self) -> None:
        if self._loop.running:
            self._loop.stop()

    def reconfigure(self, settings: AcdSettings, skills: tuple[str, ...]) -> None:
        self.settings = settings
        self.skills = skills

    def keep(self) -> Deferred[None]:
        """One round; a failure is logged and the next round tries again."""
        async def keep() -> None:
            now = timestamp(self.clock)
            skills = list(self.skills)
            lease = self.settings.ring_timeout_s + LEASE_GRACE_S
            try:
                # Asked for together: one batch of the script runs them in this order.
                reserve, lent, released = await gather(
                    self.queues.reserve_tick(skills, now),
                    self.queues.lend_spare(skills, now),
                    self.queues.release_lent(lease, now))
            except Exception as error:  # noqa: BLE001 - Redis down: the next round
                self._log.warning("pool_keeper_round_failed", error=str(error))
                return
            for reservation in [*lent, *released]:
                self.follow(reservation)
            if lent or released:
                self._log.info("pool_kept", r_sl=reserve, lent=len(lent),
                               released=len(released))

        return Deferred.fromCoroutine(keep())
