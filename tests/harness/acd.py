"""A site's ACD on the test Redis: its own store (own connections) and distributor."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest_twisted
from twisted.internet.task import Clock

from acd.distributor import Distributor
from acd.queues.store import QueueStore
from acd.settings import AcdSettings
from acd.store.redis import RedisStore
from tests.doubles.acd import SITE
from tests.doubles.telephony import FakeTelephony
from tests.fixtures.redis_server import RedisServer


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
