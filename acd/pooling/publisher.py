"""Each site's status, computed from its live figures and published on the clock.

What other sites decide on must be fresh and must vanish when this site cannot serve: the
status is rewritten every `status_every_s` with a TTL of `status_ttl_s`, says whether the
AMI link is up, and is withdrawn on a clean stop. Several pln123 processes of one site may
publish: they write the same figures from the same Redis.
"""

from __future__ import annotations

from collections.abc import Callable

import structlog
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import LoopingCall

from acd.agents.state import AgentStatus
from acd.pooling.status import SiteStatus, SkillStatus, StatusBoard
from acd.queues.metrics import LiveView, SiteMetrics, aht, ewt
from acd.settings import AcdSettings
from acd.store.clock import timestamp

log = structlog.get_logger("acd.pooling.status")


def skill_status(view: LiveView, default_aht_s: float) -> SkillStatus:
    """A skill's figures as other sites see them; EWT for a new caller (at the end).

    The new caller is served at once while ready agents outnumber the callers ahead of it
    (EWT 0); otherwise it waits for the completions ahead of it."""
    agents = view.agents
    ahead = view.waiting + 1 - agents.get(AgentStatus.READY, 0)
    staffed = view.phone_down + sum(n for status, n in agents.items()
                                    if status is not AgentStatus.LOGGED_OUT)
    return SkillStatus(
        staffed=staffed,
        ready=agents.get(AgentStatus.READY, 0),
        on_call=agents.get(AgentStatus.RESERVED, 0) + agents.get(AgentStatus.ON_CALL, 0),
        wrap_up=agents.get(AgentStatus.WRAP_UP, 0),
        paused=agents.get(AgentStatus.PAUSED, 0),
        waiting=view.waiting,
        ewt_s=ewt(max(0, ahead), view.serving, aht(view.counters) or default_aht_s),
        per_call_s=ewt(1, view.serving, aht(view.counters) or default_aht_s),
        longest_wait_s=round(view.longest_waiting_s, 3),
    )


class StatusPublisher:
    def __init__(self, site: str, settings: AcdSettings, skills: tuple[str, ...],
                 metrics: SiteMetrics, board: StatusBoard, clock: IReactorTime,
                 ami_up: Callable[[], bool], alive_key: str):
        self.site = site
        self.alive_key = alive_key
        self.settings = settings
        self.skills = skills
        self.metrics = metrics
        self.board = board
        self.clock = clock
        self.ami_up = ami_up
        self._loop = LoopingCall(self.publish)
        self._loop.clock = clock
        self._log = log.bind(site=site)

    def start(self) -> None:
        if not self._loop.running:
            self._loop.start(self.settings.pooling.status_every_s, now=True)\
                .addErrback(lambda f: self._log.error("status_loop_failed",
                                                      error=f.getErrorMessage()))

    def reconfigure(self, settings: AcdSettings, skills: tuple[str, ...]) -> None:
        """A reloaded config (SIGHUP): the next status covers `skills` and lives
        `status_ttl_s`; a new `status_every_s` restarts the loop on the new period."""
        period_changed = (settings.pooling.status_every_s
                          != self.settings.pooling.status_every_s)
        self.settings = settings
        self.skills = skills
        if period_changed and self._loop.running:
            self._loop.stop()
            self.start()

    def stop(self) -> Deferred[None]:
        """Stop publishing and withdraw the status: down for the others at once."""
        if self._loop.running:
            self._loop.stop()
        return self.board.withdraw(self.site, self.alive_key).addErrback(
            lambda f: self._log.warning("status_withdraw_failed", error=f.getErrorMessage()))

    def current(self) -> Deferred[SiteStatus]:
        async def build() -> SiteStatus:
            now = timestamp(self.clock)
            skills = {}
            in_, out = 0, 0
            views = await self.metrics.lives(self.skills, now)   # one round trip
            for skill in self.skills:
                view = views[skill]
                skills[skill] = skill_status(view, self.metrics.default_aht_s)
                in_ += view.counters.pooled_in
                out += view.counters.pooled_out
            return SiteStatus(self.site, now, self.ami_up(), skills, in_, out)

        return Deferred.fromCoroutine(build())

    def publish(self) -> Deferred[None]:
        """One round; a failure is logged and the next round tries again (never stops)."""
        async def publish() -> None:
            try:
                status = await self.current()
                await self.board.publish(status, self.settings.pooling.status_ttl_s,
                                         self.alive_key)
            except Exception as error:  # noqa: BLE001 - Redis down: the status expires
                self._log.warning("status_not_published", error=str(error))

        return Deferred.fromCoroutine(publish())
