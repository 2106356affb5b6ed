"""Re-evaluates where this process's waiting callers should be, on the clock.

A QueueWatcher beside the WaitingRoom: every call this process queues (or re-adopts, or
receives from another site) is evaluated at once and then every `reevaluate_s` while it
waits, with fresh inputs: its EWT at its position here, the other sites'
published statuses, the runtime threshold overrides and the trunks in use. `policy.decide`
decides; `CallMover` moves. Inputs shared by all calls are read at most once a second.

Admission control: at a new caller's first evaluation, if home and every live candidate
are over the national maximum EWT (`policy.over_capacity`), `turn_away` is called (the
WaitingRoom offers a callback, else a ticket or PLN Mobile): never a caller left waiting
for nothing.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import structlog
from twisted.internet.defer import Deferred, DeferredLock
from twisted.internet.interfaces import IDelayedCall, IReactorTime

from acd.background import Background
from acd.intake import QueueRequest
from acd.interflow.mover import CallMover, sites_of
from acd.interflow.moves import MoveDesk
from acd.interflow.policy import Decision, WaitingCall, decide, over_capacity
from acd.interflow.publisher import skill_status
from acd.interflow.status import SiteStatus, StatusBoard
from acd.queues.metrics import SiteMetrics, aht, ewt
from acd.queues.records import CallState
from acd.queues.store import QueueStore
from acd.settings import AcdSettings
from acd.store.clock import timestamp

log = structlog.get_logger("acd.interflow")

SHARED_READ_S = 1.0


@dataclass
class _Watch:
    call_id: str
    first: bool = True
    timer: IDelayedCall | None = None


class InterflowMonitor:
    def __init__(self, site: str, settings: AcdSettings, queues: QueueStore,
                 metrics: SiteMetrics, board: StatusBoard, desk: MoveDesk, mover: CallMover,
                 clock: IReactorTime, *,
                 turn_away: Callable[[str], Deferred[bool]] | None = None,
                 observer: Callable[[str, Decision], None] | None = None,
                 shared_read_s: float = SHARED_READ_S):
        self.site = site
        self.settings = settings
        self.queues = queues
        self.metrics = metrics
        self.board = board
        self.desk = desk
        self.mover = mover
        self.clock = clock
        self.turn_away = turn_away
        self.observer = observer
        self._watches: dict[str, _Watch] = {}
        self._cache: dict[str, tuple[float, Any]] = {}
        self._deciding = DeferredLock()
        self._shared_read_s = shared_read_s  # the simulator shares reads longer
        self._log = log.bind(site=site)
        self._background = Background(self._log, "interflow_failed")

    def reconfigure(self, settings: AcdSettings) -> None:
        """A reloaded config (SIGHUP): the next evaluation of each waiting call uses the
        new thresholds, order and limits. Turning interflow off stops watching at once."""
        self.settings = settings
        if not settings.interflow.enabled:
            self.stop()

    # -- QueueWatcher ----------------------------------------------------------------------

    def queued(self, request: QueueRequest, position: int) -> None:
        self.watch(request.call_id)

    def watch(self, call_id: str, *, new: bool = True) -> None:
        """Evaluate the call now and every `reevaluate_s` while it waits here. `new=False`
        (a caller re-adopted after a restart) skips the admission check."""
        if not self.settings.interflow.enabled or call_id in self._watches:
            return
        watch = _Watch(call_id, first=new)
        self._watches[call_id] = watch
        self._background.spawn(self._evaluate(watch))

    def left(self, call_id: str) -> None:
        watch = self._watches.pop(call_id, None)
        if watch is not None:
            self._cancel(watch)

    def adopted(self, call_id: str) -> None:
        self.watch(call_id, new=False)

    @property
    def watching(self) -> frozenset[str]:
        return frozenset(self._watches)

    def stop(self) -> None:
        for watch in list(self._watches.values()):
            self._cancel(watch)
        self._watches.clear()

    def settle(self) -> Deferred[None]:
        return self._background.settle()

    # -- evaluation ------------------------------------------------------------------------

    async def _evaluate(self, watch: _Watch) -> None:
        again = True
        try:
            again = await self._decide(watch)
        except Exception as error:  # noqa: BLE001 - one bad round must not stop the watch
            self._log.error("interflow_evaluation_failed", call_id=watch.call_id,
                            error=str(error), kind=type(error).__name__)
        if again and self._watches.get(watch.call_id) is watch:
            watch.timer = self.clock.callLater(self.settings.interflow.reevaluate_s,
                                               self._fire, watch)
        elif self._watches.get(watch.call_id) is watch:
            del self._watches[watch.call_id]

    async def _decide(self, watch: _Watch) -> bool:
        """One round for one call; False once the call needs no more watching."""
        record = await self.queues.call(watch.call_id)
        if record is None or record.state not in (CallState.QUEUED, CallState.RESERVED):
            return False
        if record.state is CallState.RESERVED or (record.fields.get("callback") or ""):
            return True   # an agent rings for it, or a callback keeps its place here
        position = await self.queues.position(watch.call_id)
        if position is None:
            return True
        now = timestamp(self.clock)
        view = await self.metrics.live(record.skill, now)
        home_ewt = ewt(position, view.serving, aht(view.counters) or self.metrics.default_aht_s)
        candidates = self.settings.interflow.candidates(self.site)
        statuses: dict[str, SiteStatus | None] = dict(await self._shared(
            "statuses", lambda: self.board.read(candidates)))
        statuses[self.site] = SiteStatus(self.site, now, True, {
            record.skill: skill_status(view, self.metrics.default_aht_s)})
        first, watch.first = watch.first, False
        moves = int(record.fields.get("moves") or 0)
        if (first and self.turn_away is not None and moves == 0
                and over_capacity(self.site, record.skill, home_ewt, statuses,
                                  self.settings.interflow)):
            self._log.info("interflow_surge_turn_away", call_id=watch.call_id,
                           ewt_s=None if math.isinf(home_ewt) else round(home_ewt, 1))
            if await self.turn_away(watch.call_id):
                return False
        overrides = await self._shared("overrides", self.board.thresholds)
        call = WaitingCall(watch.call_id, self.site, record.skill, home_ewt,
                           visited=sites_of(record.fields.get("visited", "")) or (self.site,),
                           refused=sites_of(record.fields.get("refused", "")), moves=moves)
        # One decision at a time in this process: each sees the moves made before it.
        await self._deciding.acquire()
        try:
            since = {c: s.published_at for c, s in statuses.items()
                     if s is not None and c != self.site}
            use = await self.desk.trunks_in_use(self.site, since)
            decision = decide(call, statuses, self.settings.interflow, overrides=overrides,
                              trunks_in_use={c: n for c, (n, _) in use.items()},
                              sent_since_status={c: n for c, (_, n) in use.items()})
            if self.observer is not None:
                self.observer(watch.call_id, decision)
            if decision.target is None:
                return True
            self._log.info("interflow_decided", call_id=watch.call_id, target=decision.target,
                           home_ewt_s=None if math.isinf(home_ewt) else round(home_ewt, 1),
                           target_ewt_s=round(decision.candidate_ewt_s, 1))
            moved = await self.mover.move(watch.call_id, decision.target)
        finally:
            self._deciding.release()
        return not moved

    async def _shared(self, name: str, read: Callable[[], Deferred[Any]]) -> Any:
        """A read shared by every call evaluated within the same second."""
        now = self.clock.seconds()
        cached = self._cache.get(name)
        if cached is not None and 0 <= now - cached[0] < self._shared_read_s:
            return cached[1]
        value = await read()
        self._cache[name] = (now, value)
        return value

    # -- plumbing --------------------------------------------------------------------------

    def _fire(self, watch: _Watch) -> None:
        watch.timer = None
        if self._watches.get(watch.call_id) is watch:
            self._background.spawn(self._evaluate(watch))

    def _cancel(self, watch: _Watch) -> None:
        if watch.timer is not None and watch.timer.active():
            watch.timer.cancel()
        watch.timer = None


class Watchers:
    """Several QueueWatchers behind the Distributor's one (the WaitingRoom, the monitor)."""

    def __init__(self, *watchers: Any):
        self.watchers = watchers

    def queued(self, request: QueueRequest, position: int) -> None:
        for watcher in self.watchers:
            watcher.queued(request, position)

    def left(self, call_id: str) -> None:
        for watcher in self.watchers:
            watcher.left(call_id)

    def adopted(self, call_id: str) -> None:
        for watcher in self.watchers:
            watcher.adopted(call_id)

