"""One site's ACD, built complete from its settings, a Redis store and a telephony.

The application (`pln123 serve`) builds it over Asterisk and the simulator over a virtual
clock: the same function, so whatever the simulator measures is the code that serves calls.
Everything is constructed in dependency order and handed finished to what needs it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from twisted.internet.defer import Deferred, gatherResults
from twisted.internet.interfaces import IReactorTime

from acd.agents.commands import agent_commands
from acd.distributor import Distributor, Observer
from acd.pooling.admission import Admission
from acd.pooling.keeper import PoolKeeper
from acd.pooling.publisher import StatusPublisher
from acd.pooling.rings import ring_requests
from acd.pooling.status import StatusBoard
from acd.queues.metrics import SiteMetrics
from acd.queues.records import Reservation
from acd.queues.scripts import ScriptRunner
from acd.queues.store import QueueStore
from acd.selfservice.models import TicketDesk
from acd.settings import AcdSettings
from acd.store.redis import RedisStore
from acd.store.stream import StreamConsumer
from acd.telephony import Telephony
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
    admission: Admission
    status: StatusPublisher
    keeper: PoolKeeper
    commands: StreamConsumer
    rings: StreamConsumer

    def start(self) -> Deferred[None]:
        """Publish the site's status, read agent commands and ring requests, keep the
        pool's reserve, re-arm wrap-up ends from Redis."""
        self.status.start()
        self.commands.start()
        self.rings.start()
        self.keeper.start()
        return self.distributor.resume()

    def quiesce(self) -> Deferred[None]:
        """First step of a stop: withdraw the status (the pool stops lending this site
        agents and sending it calls' rings) and stop every timer; calls stay in Redis for
        the next process."""
        withdrawn = self.status.stop()
        if self.room is not None:
            self.room.stop()
        self.keeper.stop()
        self.distributor.stop()
        return withdrawn

    def stop(self) -> Deferred[None]:
        """Last step: stop reading agent commands and ring requests."""
        return gatherResults([self.commands.stop(), self.rings.stop()]).addCallback(
            lambda _: None)

    def reconfigure(self, settings: AcdSettings, skills: tuple[str, ...]) -> None:
        """A reloaded config (SIGHUP): each piece swaps its settings; calls in progress go
        on."""
        self.metrics.reconfigure(settings)
        self.status.reconfigure(settings, skills)
        self.distributor.reconfigure(settings)
        self.admission.reconfigure(settings.pooling)
        self.keeper.reconfigure(settings, skills)
        if self.room is not None:
            self.room.reconfigure(settings)

    def settle(self) -> Deferred[None]:
        """Fires once nothing of this site's ACD is in flight (tests, a graceful stop)."""
        work = [self.distributor.settle()]
        if self.room is not None:
            work.append(self.room.settle())
        return gatherResults(work).addCallback(lambda _: None)


def build_acd(site: str, settings: AcdSettings, skills: tuple[str, ...], store: RedisStore,
              telephony: Telephony, clock: IReactorTime, *,
              tickets: TicketDesk | None = None,
              telephony_up: Callable[[], bool] = lambda: True,
              live_share_s: float = LIVE_SHARE_S,
              waiting_room: bool = True,
              observer: Observer | None = None,
              hand_over: Callable[[Reservation], None] | None = None,
              runner: ScriptRunner | None = None) -> AcdSite:
    """The site's ACD. `telephony_up` tells the published status whether calls can be
    carried out now. The simulator passes an `observer`, may leave the waiting room out,
    shares live figures for its status interval, hands reservations for another site's
    calls over directly (`hand_over`: every site's ACD runs in its one process) and has
    every site's script operations share one `runner` (one batch per turn of its loop)."""
    queues = QueueStore(store, site, settings, runner=runner)
    metrics = SiteMetrics(store, site, settings, share_s=live_share_s, queues=queues)
    board = StatusBoard(store)
    admission = Admission(site, settings.pooling, board, clock)
    room = (WaitingRoom(site, settings, queues, metrics, telephony, clock, tickets=tickets,
                        admission=admission)
            if waiting_room else None)
    distributor = Distributor(site, settings, queues, telephony, clock, observer=observer,
                              watcher=room, hand_over=hand_over)
    return AcdSite(
        name=site,
        queues=queues,
        metrics=metrics,
        distributor=distributor,
        room=room,
        admission=admission,
        status=StatusPublisher(site, settings, skills, metrics, board, clock, telephony_up,
                               queues.keys.alive),
        keeper=PoolKeeper(site, settings, skills, queues, clock, distributor.follow),
        commands=agent_commands(store, queues.keys, distributor),
        rings=ring_requests(store, queues.keys, distributor),
    )
