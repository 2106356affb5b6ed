"""The archiver on a real Redis and both databases: the history adds up to the ACD's own
counters, and every audit entry is stored exactly once, even when an acknowledgement is
lost after the commit, or Redis forgets the consumer group."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest_twisted
import redis
from sqlalchemy import Engine, func, select
from twisted.internet.task import deferLater

from acd.queues.metrics import SiteMetrics
from acd.store.keys import INTERVAL_S, SiteKeys
from acd.store.redis import RedisStore
from pln123.history import GROUP
from pln123.history.archiver import Archiver, Stream
from pln123.history.database import migrate, open_engine
from pln123.history.reports import Window, agent_report, call_report, counters_of
from pln123.history.reports import interval_hashes as rebuild
from pln123.history.schema import calls, events
from pln123.history.writer import HistoryWriter
from tests.doubles.acd import SITE, T0, agent, settings, virtual_clock
from tests.doubles.telephony import FakeTelephony
from tests.fixtures.redis_server import RedisServer
from tests.harness.acd import one_interval_by_the_book, start_acd
from tests.harness.reactor import reactor

STREAM = Stream(SITE, SITE, SiteKeys(SITE, SITE).audit)


def engine_for(url: str) -> Engine:
    engine = open_engine(url)
    migrate(engine)
    return engine


async def archived(archiver: Archiver, count: int, seconds: float = 20.0) -> None:
    """Run `archiver` until `count` entries were written or skipped, then stop it."""
    archiver.start()
    deadline = reactor.seconds() + seconds
    while archiver.stored + archiver.skipped < count:
        assert reactor.seconds() < deadline, f"archived {archiver.stored} of {count}"
        await deferLater(reactor, 0.05, lambda: None)
    await archiver.stop()


def audit_length(server: RedisServer) -> int:
    client = redis.Redis(unix_socket_path=str(server.unix_socket))
    try:
        return int(client.xlen(STREAM.key))
    finally:
        client.close()


def rows_of(engine: Engine, table: Any) -> list[dict[str, Any]]:
    with engine.connect() as connection:
        return [dict(r) for r in connection.execute(select(table)).mappings()]


@pytest_twisted.ensureDeferred
async def test_the_history_adds_up_to_the_acds_counters(fresh_redis: RedisServer,
                                                         history_url: str) -> None:
    clock, phone = virtual_clock(), FakeTelephony()
    config = settings(agent("1001"), agent("1002"))
    acd = await start_acd(fresh_redis, config, phone, clock)
    d = acd.distributor
    await one_interval_by_the_book(d, clock, phone)
    clock.advance(20)
    phone.hang_up("c4")                               # T0+100
    await d.settle()

    engine = engine_for(history_url)
    store = RedisStore(fresh_redis.unix_url)
    await store.start()
    total = audit_length(fresh_redis)
    await archived(Archiver(store, HistoryWriter(engine), [STREAM], reactor,
                            consumer="test"), total)

    with engine.connect() as connection:
        found = [dict(r) for r in connection.execute(
            select(events.c.site, events.c.at, events.c.event, events.c.skill,
                   events.c.agent_site, events.c.wait_ms, events.c.in_sl, events.c.detail)
            .where(events.c.subject == "call")).mappings()]
    rebuilt = rebuild(found)
    acd_counters = await SiteMetrics(acd.store, SITE, config).interval("billing", T0)
    # The agent's handle time is the agent's side, not a call event: left out here.
    assert counters_of(rebuilt[(int(T0 // INTERVAL_S * INTERVAL_S), SITE, "billing")]) == \
        replace(acd_counters, handled=0, handle_sum=0.0)

    window = Window(T0, T0 + 3600)
    by_call = {row["call_id"]: row for row in call_report(engine, window)}
    assert {c: (r["outcome"], r["wait_s"], r["in_sl"]) for c, r in by_call.items()} == {
        "c1": ("answered", 5.0, True), "c2": ("abandoned", 30.0, False),
        "c3": ("abandoned", 10.0, True), "c4": ("answered", 40.0, False)}
    assert by_call["c1"]["talk_s"] == 60.0 and by_call["c1"]["agent"] == "1001"
    assert by_call["c4"]["ended_at"] == T0 + 100
    (row,) = [r for r in agent_report(engine, Window(T0, T0 + 110)) if r["agent"] == "1001"]
    # talk 60 + 20 s; wrap-up 10 s after c1, and c4's first 10 s up to the window's end
    assert (row["calls"], row["talk_s"], row["wrap_up_s"]) == (2, 80.0, 20.0)
    assert row["aht_s"] == 50.0
    assert row["ringing_s"] == 10.0   # c1 and c4 rang 5 s each
    await store.close()
    await acd.store.close()
    engine.dispose()


@pytest_twisted.ensureDeferred
async def test_a_lost_acknowledgement_stores_nothing_twice(fresh_redis: RedisServer,
                                                          history_url: str) -> None:
    client = redis.Redis(unix_socket_path=str(fresh_redis.unix_socket), decode_responses=True)
    for index in range(30):
        client.xadd(STREAM.key, {"event": "offered", "site": SITE, "call": f"c{index}",
                                 "agent": "", "skill": "billing", "state": "new",
                                 "at": f"{T0 + index:.3f}", "caller_number": f"0711{index}"})
    engine = engine_for(history_url)
    store = RedisStore(fresh_redis.unix_url)
    await store.start()

    class LosesFirstAck(Archiver):
        lost = False

        async def _ack(self, entries: Any) -> None:
            if not self.lost:   # committed, then the process "dies" before XACK
                self.lost = True
                raise ConnectionError("the acknowledgement was lost")
            await super()._ack(entries)

    first = LosesFirstAck(store, HistoryWriter(engine), [STREAM], reactor, consumer="a",
                          batch=10, retry_s=0.01)
    await archived(first, 40)   # 10 stored, then the same 10 again (skipped), then 20
    assert (first.stored, first.skipped) == (30, 10)
    assert client.xpending(STREAM.key, GROUP)["pending"] == 0

    # Redis comes back without the group (no persistence): everything is read again,
    # nothing is stored twice.
    client.xgroup_destroy(STREAM.key, GROUP)
    again = Archiver(store, HistoryWriter(engine), [STREAM], reactor, consumer="b")
    await archived(again, 30)
    assert (again.stored, again.skipped) == (0, 30)
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(events)).scalar() == 30
        assert connection.execute(select(func.count()).select_from(calls)).scalar() == 30
    client.close()
    await store.close()
    engine.dispose()


@pytest_twisted.ensureDeferred
async def test_entries_another_consumer_left_pending_are_taken_over(
        fresh_redis: RedisServer, history_url: str) -> None:
    client = redis.Redis(unix_socket_path=str(fresh_redis.unix_socket), decode_responses=True)
    client.xgroup_create(STREAM.key, GROUP, id="0", mkstream=True)
    for index in range(5):
        client.xadd(STREAM.key, {"event": "login", "site": SITE, "agent": f"a{index}",
                                 "state": "ready", "subject": "agent", "at": f"{T0:.3f}"})
    # a consumer on another host read them and died before committing
    client.xreadgroup(GROUP, "archive-gone", {STREAM.key: ">"})
    engine = engine_for(history_url)
    store = RedisStore(fresh_redis.unix_url)
    await store.start()
    import pln123.history.archiver as archiver_module

    idle, archiver_module.CLAIM_IDLE_MS = archiver_module.CLAIM_IDLE_MS, 0
    try:
        archiver = Archiver(store, HistoryWriter(engine), [STREAM], reactor,
                            consumer="archive-here")
        await archived(archiver, 5)
    finally:
        archiver_module.CLAIM_IDLE_MS = idle
    assert archiver.stored == 5
    assert client.xpending(STREAM.key, GROUP)["pending"] == 0
    assert {r["agent"] for r in rows_of(engine, events)} == {f"a{i}" for i in range(5)}
    client.close()
    await store.close()
    engine.dispose()
