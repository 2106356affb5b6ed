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
from tests.doubles.acd import SITE, request
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



async def one_interval_by_the_book(d: Distributor, clock: Clock,
                                   phone: FakeTelephony) -> None:
    """One interval whose figures are worked out by hand (agents 1001 and 1002, only 1001
    logged in): c1 answered after 5 s, c3 and c2 abandoned after 10 s and 30 s, c4
    answered after 40 s; ends at T0+80 with 1001 talking to c4."""
    await d.login("1001")
    await d.enqueue(request("c1"))                    # T0: rings 1001 at once
    clock.advance(1)
    await d.enqueue(request("c2"))                    # T0+1: queued
    clock.advance(1)
    await d.enqueue(request("c3"))                    # T0+2: queued
    await d.settle()
    clock.advance(3)
    phone.answer("c1")                                # T0+5: wait 5 s, within T
    await d.settle()
    clock.advance(7)
    assert await d.abandon("c3")                      # T0+12: abandoned after 10 s
    clock.advance(19)
    assert await d.abandon("c2")                      # T0+31: abandoned after 30 s
    clock.advance(9)
    await d.enqueue(request("c4"))                    # T0+40: queued, 1001 talks
    clock.advance(25)
    phone.hang_up("c1")                               # T0+65: wrap-up 10 s
    await d.settle()
    clock.advance(10)                                 # T0+75: ready, takes c4
    await d.settle()
    clock.advance(5)
    phone.answer("c4")                                # T0+80: wait 40 s
    await d.settle()

@pytest_twisted.async_yield_fixture
async def redis_store(fresh_redis: RedisServer) -> AsyncIterator[RedisStore]:
    store = RedisStore(fresh_redis.unix_url)
    await store.start()
    yield store
    await store.close()
