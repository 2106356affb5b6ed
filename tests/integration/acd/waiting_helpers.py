"""Builders for the WaitingRoom tests: a Distributor with its waiting room."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import redis
from twisted.internet.defer import Deferred, succeed
from twisted.internet.task import Clock

from acd.distributor import Distributor
from acd.queues.metrics import Counters, SiteMetrics
from acd.queues.store import QueueStore
from acd.selfservice.tickets import RedisTicketDesk
from acd.settings import AcdSettings
from acd.store.keys import SiteKeys
from acd.store.redis import RedisStore
from acd.waiting.room import WaitingRoom
from tests.doubles.acd import SITE
from tests.doubles.telephony import FakeTelephony
from tests.fixtures.redis_server import RedisServer


@dataclass
class WaitingPhone(FakeTelephony):
    """FakeTelephony that also notes when announcements and farewells happen."""

    clock: Clock = field(default_factory=Clock)
    heard: list[tuple[float, str, int, float | None]] = field(default_factory=list)
    farewells: list[tuple[float, str, list[str], str, str]] = field(default_factory=list)

    def announce(self, caller_channel: str, position: int, ewt_s: float | None,
                 language: str) -> Deferred[None]:
        self.heard.append((self.clock.seconds(), caller_channel, position, ewt_s))
        return super().announce(caller_channel, position, ewt_s, language)

    def farewell(self, caller_channel: str, prompts: Sequence[str], language: str,
                 digits: str = "") -> Deferred[None]:
        self.farewells.append((self.clock.seconds(), caller_channel, list(prompts), language,
                               digits))
        return succeed(None)

    def heard_by(self, call_id: str) -> list[tuple[float, int, float | None]]:
        return [(t, p, e) for t, ch, p, e in self.heard if ch == f"PJSIP/trunk-{call_id}"]


@dataclass
class Surge:
    """Admission control as the pool's statuses would decide it: `over` or not."""

    over: bool = True
    asked: list[str] = field(default_factory=list)

    def over_capacity(self, skill: str) -> Deferred[bool]:
        self.asked.append(skill)
        return succeed(self.over)


@dataclass
class Process:
    """One pln123 process of the site: its store, distributor and waiting room."""

    store: RedisStore
    queues: QueueStore
    distributor: Distributor
    room: WaitingRoom
    phone: WaitingPhone
    tickets: RedisTicketDesk

    async def settle(self) -> None:
        for _ in range(3):   # a tick may lead to a distributor operation and back
            await self.distributor.settle()
            await self.room.settle()


async def start(server: RedisServer, config: AcdSettings, clock: Clock, *,
                admission: Surge | None = None) -> Process:
    store = RedisStore(server.unix_url)
    await store.start()
    queues = QueueStore(store, SITE, config)
    phone = WaitingPhone(clock=clock)
    tickets = RedisTicketDesk(store, clock)
    room = WaitingRoom(SITE, config, queues, SiteMetrics(store, SITE, config), phone, clock,
                       tickets=tickets, admission=admission)  # type: ignore[arg-type]
    distributor = Distributor(SITE, config, queues, phone, clock, watcher=room)
    return Process(store, queues, distributor, room, phone, tickets)


def audit(server: RedisServer) -> list[dict[str, str]]:
    client = redis.Redis(unix_socket_path=str(server.unix_socket), decode_responses=True)
    return [fields for _, fields in client.xrange(SiteKeys(SITE, SITE).audit)]


def keys(server: RedisServer, pattern: str) -> list[str]:
    client = redis.Redis(unix_socket_path=str(server.unix_socket), decode_responses=True)
    return sorted(client.keys(pattern))


async def counters(p: Process, t: float) -> Counters:
    return await SiteMetrics(p.store, SITE, p.queues.settings).interval("billing", t)
