"""Shared builders for the ACD tests: settings, requests, a store on the test Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest_twisted
from twisted.internet.task import Clock

from acd.distributor import Distributor
from acd.intake import QueueRequest
from acd.queues.store import QueueStore
from acd.settings import AcdSettings, AgentSpec, QueueSettings
from acd.store.redis import RedisStore
from tests.fixtures.redis_server import RedisServer
from tests.property.fake_telephony import FakeTelephony

SITE = "palembang"
T0 = 1_735_801_200.0  # 2025-01-02 14:00 WIB, on a 15-minute boundary


def virtual_clock() -> Clock:
    clock = Clock()
    clock.advance(T0)
    return clock


def agent(agent_id: str, **skills: int) -> AgentSpec:
    return AgentSpec(agent_id, f"Agent {agent_id}", SITE, f"PJSIP/{agent_id}",
                     skills or {"billing": 5})


def settings(*agents: AgentSpec, **overrides: float) -> AcdSettings:
    queues = {"billing": QueueSettings("billing", wrapup_s=10.0),
              "outage": QueueSettings("outage", wrapup_s=5.0)}
    values = {"service_level_s": 20.0, "escalation_s": 30.0, "ring_timeout_s": 15.0,
              "audit_maxlen": 10_000, **overrides}
    return AcdSettings(queues=queues, agents=agents, **values)  # type: ignore[arg-type]


def request(call_id: str, skill: str = "billing", priority: int = 5,
            entered_at: float = T0) -> QueueRequest:
    return QueueRequest(call_id=call_id, site=SITE, channel=f"PJSIP/trunk-{call_id}",
                        skill=skill, priority=priority, language="id", area_code="0711",
                        region="sumsel", caller_number="0711555" + call_id[-4:].zfill(4),
                        idpel=None, entered_at=entered_at)


@dataclass
class Acd:
    """One pln123 process's ACD: its own Redis store (own connections) and distributor."""

    store: RedisStore
    queues: QueueStore
    distributor: Distributor


async def start_acd(server: RedisServer | str, acd_settings: AcdSettings,
                    telephony: FakeTelephony, clock: Clock, **kwargs: object) -> Acd:
    """`server`: the test redis-server (reached on its unix socket) or any Redis URL."""
    store = RedisStore(server if isinstance(server, str) else server.unix_url)
    await store.start()
    queues = QueueStore(store, SITE, acd_settings)
    distributor = Distributor(SITE, acd_settings, queues, telephony, clock,
                              **kwargs)  # type: ignore[arg-type]
    return Acd(store, queues, distributor)


@pytest_twisted.async_yield_fixture
async def redis_store(fresh_redis: RedisServer) -> AsyncIterator[RedisStore]:
    store = RedisStore(fresh_redis.unix_url)
    await store.start()
    yield store
    await store.close()
