"""Agent commands from the CLI's stream reach the ACD once, in order, against real Redis."""

from __future__ import annotations

from typing import Any

import pytest_twisted
from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.task import deferLater

from acd.agents.commands import agent_commands
from acd.store.keys import SiteKeys
from acd.store.redis import RedisStore
from acd.store.stream import BLOCK_MS
from tests.fixtures.redis_server import RedisServer
from tests.harness.reactor import poll, reactor, within


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, ...]] = []

    def login(self, agent_id: str) -> Deferred[Any]:
        self.calls.append(("login", agent_id))
        return succeed(None)

    def logout(self, agent_id: str) -> Deferred[Any]:
        self.calls.append(("logout", agent_id))
        return succeed(None)

    def pause(self, agent_id: str, reason: str) -> Deferred[Any]:
        self.calls.append(("pause", agent_id, reason))
        return succeed(None)

    def ready(self, agent_id: str) -> Deferred[Any]:
        if agent_id == "9999":
            return fail(KeyError("unknown agent"))
        self.calls.append(("ready", agent_id))
        return succeed(None)


@pytest_twisted.ensureDeferred
async def test_commands_are_applied_once_in_order(fresh_redis: RedisServer) -> None:
    store = RedisStore(fresh_redis.url)
    await store.start()
    keys = SiteKeys("palembang", "national")
    key = keys.agent_commands

    async def add(fields: dict[str, str]) -> None:
        async def xadd(client: Any) -> None:
            await client.xadd(key, fields)

        await store.run(xadd)

    # Written while no pln123 ran: applied when one starts.
    await add({"agent": "1001", "action": "login", "reason": "", "source": "cli"})
    recorder, other = Recorder(), Recorder()
    first = agent_commands(store, keys, recorder)
    second = agent_commands(store, keys, other)  # a second process, same site
    first.start()
    second.start()
    try:
        for fields in ({"agent": "1001", "action": "pause", "reason": "42"},
                       {"agent": "9999", "action": "ready", "reason": ""},
                       {"agent": "1001", "action": "jump", "reason": ""},
                       {"agent": "1001", "action": "ready", "reason": ""}):
            await add(fields)
        await poll(lambda: len(recorder.calls) + len(other.calls) >= 3, 10, "3 commands")
        applied = sorted(recorder.calls + other.calls)
        assert applied == [("login", "1001"), ("pause", "1001", "42"), ("ready", "1001")]

        async def pending(client: Any) -> int:
            info = await client.xpending(key, "pln123")
            return int(info["pending"])

        # Refused commands are acknowledged too: nothing stays pending.
        left = -1
        for _ in range(50):
            left = await store.run(pending)
            if left == 0:
                break
            await deferLater(reactor, 0.1, lambda: None)
        assert left == 0
    finally:
        await first.stop()
        await second.stop()
        await store.close()


@pytest_twisted.ensureDeferred
async def test_stop_cancels_a_blocked_read_and_the_store_goes_on(fresh_redis: RedisServer
                                                                 ) -> None:
    store = RedisStore(fresh_redis.url)
    await store.start()
    keys = SiteKeys("palembang", "national")
    recorder = Recorder()
    consumer = agent_commands(store, keys, recorder)
    consumer.start()
    try:
        await deferLater(reactor, 0.3, lambda: None)   # its read is blocked in Redis now
        started = reactor.seconds()
        await within(consumer.stop(), BLOCK_MS / 1000, "the stop")
        assert reactor.seconds() - started < 1.0      # no wait for the block to run out

        # The cancelled read cost only its own connection: the next reader reads.
        async def xadd(client: Any) -> None:
            await client.xadd(keys.agent_commands, {"agent": "1001", "action": "login",
                                                    "reason": "", "source": "cli"})

        await store.run(xadd)
        consumer = agent_commands(store, keys, recorder)
        consumer.start()
        await poll(lambda: recorder.calls == [("login", "1001")], 10, "the login")
    finally:
        await consumer.stop()
        await store.close()
