"""The ACD's scripts count one interval's figures by the book, and every state change is in
the bounded audit stream (the formulas on hand-computed numbers: tests/unit/test_acd_metrics.py)."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest_twisted
import redis

from acd.agents.state import AgentStatus
from acd.queues.metrics import (
    Counters,
    SiteMetrics,
    abandon_rate,
    aht,
    asa,
    service_level,
    service_level_2,
)
from acd.store.keys import SiteKeys
from tests.doubles.acd import SITE, T0, agent, request, settings, virtual_clock
from tests.doubles.telephony import FakeTelephony
from tests.fixtures.redis_server import RedisServer
from tests.harness.acd import one_interval_by_the_book, start_acd


@pytest_twisted.ensureDeferred
async def test_the_scripts_count_one_interval_by_the_book(fresh_redis: RedisServer) -> None:
    clock, phone = virtual_clock(), FakeTelephony()
    config = settings(agent("1001"), agent("1002"))
    acd = await start_acd(fresh_redis, config, phone, clock)
    d = acd.distributor
    await one_interval_by_the_book(d, clock, phone)

    metrics = SiteMetrics(acd.store, SITE, config)
    counters = await metrics.interval("billing", T0 + 100)
    assert counters == Counters(offered=4, answered=2, answered_in_sl=1, answer_wait_sum=45.0,
                                abandoned=2, abandoned_in_sl=1, handled=1, handle_sum=70.0,
                                longest_wait=40.0)
    assert (service_level(counters), service_level_2(counters), asa(counters),
            aht(counters), abandon_rate(counters)) == (0.5, 0.5, 22.5, 70.0, 0.5)
    live = await metrics.live("billing", T0 + 80)
    assert live.counters == replace(counters, longest_wait=0.0)  # live: the oldest waiting
    assert live.agents == {AgentStatus.ON_CALL: 1}   # 1002 never logged in
    assert await metrics.expected_wait("billing", 2, T0 + 80) == 2 * 70.0 / 1
    assert math.isinf(await metrics.expected_wait("outage", 1, T0 + 80))
    assert (await metrics.live("billing", T0 + 80 + 16 * 60)).counters == Counters()
    await acd.store.close()


@pytest_twisted.ensureDeferred
async def test_every_state_change_is_in_the_bounded_audit_stream(
    fresh_redis: RedisServer,
) -> None:
    clock, phone = virtual_clock(), FakeTelephony()
    acd = await start_acd(fresh_redis, settings(agent("1001"), audit_maxlen=100), phone, clock)
    d = acd.distributor
    await d.login("1001")
    await d.enqueue(request("c1"))
    await d.settle()
    clock.advance(2)
    phone.answer("c1")
    await d.settle()
    clock.advance(30)
    phone.hang_up("c1")
    await d.settle()
    client = redis.Redis(unix_socket_path=str(fresh_redis.unix_socket), decode_responses=True)
    entries = [fields for _, fields in client.xrange(SiteKeys(SITE, SITE).audit)]
    assert [(e["event"], e["call"], e["agent"], e["state"]) for e in entries] == [
        ("login", "", "1001", "ready"),
        ("offered", "c1", "", "new"),
        ("reserve", "c1", "1001", "reserved"),
        ("answered", "c1", "1001", "connected"),
        ("answer", "c1", "1001", "on_call"),
        ("finished", "c1", "1001", "finished"),
        ("call_end", "c1", "1001", "wrap_up"),
    ]
    assert all(e["site"] == SITE for e in entries)
    assert [float(e["at"]) for e in entries] == [T0, T0, T0, T0 + 2, T0 + 2, T0 + 32, T0 + 32]
    assert entries[2]["skill"] == "billing"
    for i in range(300):
        await d.enqueue(request(f"x{i:03}"))
    assert client.xlen(SiteKeys(SITE, SITE).audit) < 300   # MAXLEN ~ 100 trims (approximately)
    client.close()
    await acd.store.close()
