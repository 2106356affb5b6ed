"""Three sites' ACDs on one real Redis and one virtual clock, joined by a fake trunk.

Each site has what `pln123/site.py` builds (Distributor, status publisher, mover,
interflow monitor); the trunk is `MovingPhone.move`: it hands the caller to the target
site's mover (the receiving dialplan's AsyncAGI `moved`), or, for a target marked
unreachable, back to the home site's mover (the overflow context's `returned`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import redis
from twisted.internet.defer import Deferred, succeed
from twisted.internet.task import Clock

from acd.distributor import Distributor
from acd.intake import QueueRequest
from acd.interflow.monitor import InterflowMonitor
from acd.interflow.mover import CallMover
from acd.interflow.moves import MoveDesk
from acd.interflow.policy import Decision
from acd.interflow.publisher import StatusPublisher
from acd.interflow.status import StatusBoard
from acd.queues.metrics import SiteMetrics
from acd.queues.store import QueueStore
from acd.settings import AcdSettings, AgentSpec, InterflowRule, InterflowSettings, QueueSettings
from acd.store.redis import RedisStore
from tests.fixtures.redis_server import RedisServer
from tests.property.fake_telephony import FakeTelephony

SKILLS = ("general",)


def agent(agent_id: str, site: str) -> AgentSpec:
    return AgentSpec(agent_id, f"Agent {agent_id}", site, f"PJSIP/{agent_id}", {"general": 5})


def settings(*agents: AgentSpec, **interflow: object) -> AcdSettings:
    values: dict[str, object] = {
        "default": InterflowRule(threshold_s=60, accept_s=60, margin_s=15),
        "order": {"palembang": ("medan",), "medan": ("palembang",)},
        "hub": "jakarta", "reevaluate_s": 5.0}
    values.update(interflow)
    return AcdSettings(queues={"general": QueueSettings("general", wrapup_s=10.0)},
                       agents=agents, audit_maxlen=10_000,
                       interflow=InterflowSettings(**values))  # type: ignore[arg-type]


def request(call_id: str, site: str, entered_at: float) -> QueueRequest:
    return QueueRequest(call_id=call_id, site=site, channel=f"PJSIP/trunk-{call_id}",
                        skill="general", priority=5, language="id", area_code="0711",
                        region="Palembang", caller_number="0711555" + call_id[-4:].zfill(4),
                        idpel="123456789012", entered_at=entered_at)


@dataclass
class MovingPhone(FakeTelephony):
    network: dict[str, Site] = field(default_factory=dict)
    home: str = ""
    unreachable: set[str] = field(default_factory=set)
    moves: list[tuple[str, str]] = field(default_factory=list)
    ends: dict[str, Deferred[None]] = field(default_factory=dict)
    pending: list[Deferred[object]] = field(default_factory=list)  # arrivals in flight

    def move(self, call_id: str, caller_channel: str, target_site: str) -> Deferred[bool]:
        self.moves.append((call_id, target_site))
        if target_site in self.unreachable:   # the trunk call fails: AsyncAGI `returned`
            d = self.network[self.home].mover.returned(call_id, caller_channel)
        else:                                  # AsyncAGI `moved` at the target
            d = self.network[target_site].mover.arrive(call_id, f"IAX2/{target_site}-{call_id}")
        self.pending.append(d)  # type: ignore[arg-type]
        return succeed(True)

    def when_call_ends(self, call_id: str, caller_channel: str) -> Deferred[None]:
        if call_id in self.talks:
            return super().when_call_ends(call_id, caller_channel)
        return self.ends.setdefault(call_id, Deferred())


@dataclass
class Site:
    name: str
    store: RedisStore
    queues: QueueStore
    distributor: Distributor
    publisher: StatusPublisher
    mover: CallMover
    monitor: InterflowMonitor
    phone: MovingPhone
    decisions: list[tuple[str, Decision]]
    turned_away: list[str]

    async def settle(self) -> None:
        for _ in range(3):
            for site in self.phone.network.values():
                while site.phone.pending:
                    await site.phone.pending.pop()
                await site.distributor.settle()
                await site.monitor.settle()


async def start_site(server: RedisServer, name: str, config: AcdSettings, clock: Clock,
                     network: dict[str, Site], *, refuse_new: bool = False) -> Site:
    store = RedisStore(server.unix_url)
    await store.start()
    queues = QueueStore(store, name, config)
    phone = MovingPhone(network=network, home=name)
    metrics = SiteMetrics(store, name, config)
    board = StatusBoard(store)
    desk = MoveDesk(store)
    distributor = Distributor(name, config, queues, phone, clock)
    mover = CallMover(name, config, queues, desk, phone, clock, distributor.carry_out)
    decisions: list[tuple[str, Decision]] = []
    turned_away: list[str] = []

    def turn_away(call_id: str) -> Deferred[bool]:
        turned_away.append(call_id)
        return succeed(refuse_new)

    monitor = InterflowMonitor(name, config, queues, metrics, board, desk, mover, clock,
                               turn_away=turn_away,
                               observer=lambda c, d: decisions.append((c, d)))
    distributor.watcher = monitor
    publisher = StatusPublisher(name, config, SKILLS, metrics, board, clock, ami_up=lambda: True)
    site = Site(name, store, queues, distributor, publisher, mover, monitor, phone, decisions,
                turned_away)
    network[name] = site
    return site


async def stop_all(network: dict[str, Site]) -> None:
    for site in network.values():
        site.monitor.stop()
        site.distributor.stop()
        await site.store.close()


def client(server: RedisServer) -> redis.Redis:
    return redis.Redis(unix_socket_path=str(server.unix_socket), decode_responses=True)
