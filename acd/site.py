"""One site's ACD, built complete from its settings, a Redis store and a telephony.

The application (`pln123 serve`) builds it over Asterisk and the simulator over a virtual
clock: the same function, so whatever the simulator measures is the code that serves calls.
Everything is constructed in dependency order and handed finished to what needs it; the
only loop in the graph (a failed interflow move puts the call back through the Distributor,
which watches waiting calls through the interflow monitor that moves them) is closed by the
mover's `carry_out` calling the Distributor once calls flow, after this function returned.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from twisted.internet.defer import Deferred, gatherResults
from twisted.internet.interfaces import IReactorTime

from acd.agents.commands import AgentCommandConsumer
from acd.distributor import Distributor, Observer
from acd.intake import QueuePlacement, QueueRequest
from acd.interflow.arrivals import CallArrivals
from acd.interflow.monitor import SHARED_READ_S, InterflowMonitor, Watchers
from acd.interflow.mover import CallMover
from acd.interflow.moves import MoveDesk
from acd.interflow.publisher import StatusPublisher
from acd.interflow.status import StatusBoard
from acd.queues.metrics import SiteMetrics
from acd.queues.records import Offer
from acd.queues.store import QueueStore
from acd.selfservice.models import TicketDesk
from acd.settings import AcdSettings
from acd.store.redis import RedisStore
from acd.telephony import Telephony
from acd.waiting.resume import ResumeStore
from acd.waiting.room import WaitingRoom

LIVE_SHARE_S = 1.0  # a skill's live figures: one read a second serves every caller of it


@dataclass(frozen=True)
class AcdSite:
    """The pieces of one site's ACD; `start` and `stop` run them in their order.

    `room` is None where nobody hears announcements (a simulation without a waiting room).
    """

    name: str
    queues: QueueStore
    metrics: SiteMetrics
    distributor: Distributor
    room: WaitingRoom | None
    mover: CallMover
    interflow: InterflowMonitor
    arrivals: CallArrivals
    status: StatusPublisher
    commands: AgentCommandConsumer

    def start(self) -> Deferred[None]:
        """Publish the site's status, read agent commands, re-arm wrap-up ends from Redis."""
        self.status.start()
        self.commands.start()
        return self.distributor.resume()

    def quiesce(self) -> Deferred[None]:
        """First step of a stop: withdraw the status (other sites stop sending calls here)
        and stop every timer; calls stay in Redis for the next process."""
        withdrawn = self.status.stop()
        if self.room is not None:
            self.room.stop()
        self.interflow.stop()
        self.distributor.stop()
        return withdrawn

    def stop(self) -> Deferred[None]:
        """Last step: stop reading agent commands."""
        return self.commands.stop()

    def reconfigure(self, settings: AcdSettings, skills: tuple[str, ...]) -> None:
        """A reloaded config (SIGHUP): each piece swaps its settings; calls in progress go
        on. Interflow turned on now also watches the callers already waiting here."""
        interflow_was_on = self.interflow.settings.interflow.enabled
        self.metrics.reconfigure(settings)
        self.status.reconfigure(settings, skills)
        self.distributor.reconfigure(settings)
        self.mover.reconfigure(settings)
        self.interflow.reconfigure(settings)
        if self.room is not None:
            self.room.reconfigure(settings)
            if settings.interflow.enabled and not interflow_was_on:
                for call_id in self.room.watching:
                    self.interflow.adopted(call_id)

    def settle(self) -> Deferred[None]:
        """Fires once nothing of this site's ACD is in flight (tests, a graceful stop)."""
        work = [self.distributor.settle(), self.interflow.settle()]
        if self.room is not None:
            work.append(self.room.settle())
        return gatherResults(work).addCallback(lambda _: None)


def build_acd(site: str, settings: AcdSettings, skills: tuple[str, ...], store: RedisStore,
              telephony: Telephony, clock: IReactorTime, *,
              languages: tuple[str, ...], default_language: str,
              tickets: TicketDesk | None = None,
              telephony_up: Callable[[], bool] = lambda: True,
              live_share_s: float = LIVE_SHARE_S,
              waiting_room: bool = True,
              observer: Observer | None = None,
              shared_read_s: float = SHARED_READ_S) -> AcdSite:
    """The site's ACD. `telephony_up` tells the published status whether calls can be
    carried out now; the simulator passes an `observer`, may leave the waiting room out,
    and shares live figures and interflow reads for its status interval."""
    queues = QueueStore(store, site, settings)
    metrics = SiteMetrics(store, site, settings, share_s=live_share_s)
    room = (WaitingRoom(site, settings, queues, metrics, telephony, clock, tickets=tickets)
            if waiting_room else None)
    desk = MoveDesk(store)
    board = StatusBoard(store)

    def carry_out(request: QueueRequest, offer: Offer) -> QueuePlacement:
        return distributor.carry_out(request, offer)

    mover = CallMover(site, settings, queues, desk, telephony, clock, carry_out)
    interflow = InterflowMonitor(site, settings, queues, metrics, board, desk, mover, clock,
                                 turn_away=room.turn_away if room is not None else None,
                                 shared_read_s=shared_read_s)
    watchers = (room, interflow) if room is not None else (interflow,)
    distributor = Distributor(site, settings, queues, telephony, clock, observer=observer,
                              watcher=Watchers(*watchers),
                              resume=ResumeStore(store, site, settings.abandon_resume_s))
    return AcdSite(
        name=site,
        queues=queues,
        metrics=metrics,
        distributor=distributor,
        room=room,
        mover=mover,
        interflow=interflow,
        arrivals=CallArrivals(site, mover, desk, telephony, languages, default_language),
        status=StatusPublisher(site, settings, skills, metrics, board, clock, telephony_up),
        commands=AgentCommandConsumer(store, site, distributor),
    )
