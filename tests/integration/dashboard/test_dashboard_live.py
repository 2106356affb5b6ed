"""/metrics matches the API, and the event stream pushes a change within a second.

The ACD side is real: a Distributor with the fake telephony of the property tests (agents'
phones answer when the test says so) against the test Redis.
"""

from __future__ import annotations

import math
from typing import Any

import pytest_twisted
from prometheus_client.parser import text_string_to_metric_families
from twisted.internet.task import Clock
from twisted.web.http_headers import Headers

from acd.distributor import Distributor
from acd.pooling.status import SiteStatus, StatusBoard
from acd.queues.store import QueueStore
from tests.doubles.telephony import FakeTelephony
from tests.fixtures.redis_server import RedisServer
from tests.harness.dashboard import (
    SETTINGS,
    TOKEN,
    Client,
    EventReader,
    call,
    pool_keys,
    reactor,
    start,
)
from tests.harness.reactor import poll

T0 = 1_735_801_200.0

SERIES = ("pln123_site_up", "pln123_queue_waiting_calls", "pln123_queue_longest_wait_seconds",
          "pln123_queue_expected_wait_seconds", "pln123_agents_lent", "pln123_calls_borrowed",
          "pln123_lending_enabled", "pln123_reserve_sl_agents",
          "pln123_agents", "pln123_service_level_ratio", "pln123_service_level2_ratio",
          "pln123_abandon_ratio", "pln123_asa_seconds", "pln123_calls_offered",
          "pln123_calls_answered", "pln123_calls_answered_in_sl", "pln123_calls_abandoned",
          "pln123_pooled_in", "pln123_pooled_out", "pln123_pool_trunk_failed")


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def value(table: dict[Any, float], name: str, **labels: str) -> float:
    return table[(name, tuple(sorted(labels.items())))]


@pytest_twisted.ensureDeferred
async def test_metrics_scrape_matches_the_api(fresh_redis: RedisServer) -> None:
    clock = Clock()
    clock.advance(T0)
    running = await start(fresh_redis.url, clock)
    telephony = FakeTelephony()
    queues = QueueStore(running.store, "palembang", SETTINGS)
    acd = Distributor("palembang", SETTINGS, queues, telephony, clock)
    try:
        await acd.login("1001")
        await acd.enqueue(call("a1", at=T0))            # rings 1001 at once
        clock.advance(5)
        telephony.answer("a1")                           # answered after 5 s: within SL
        await poll(lambda: bool(telephony.talks), 5, "the answer")
        await acd.settle()
        await acd.login("1002")
        await acd.pause("1002", "3")
        clock.advance(10)
        await acd.enqueue(call("a2", skill="billing", at=clock.seconds()))
        await acd.enqueue(call("a3", at=clock.seconds()))
        clock.advance(12)
        await acd.abandon("a3")
        await acd.settle()
        clock.advance(4)
        await StatusBoard(running.store).publish(
            SiteStatus("palembang", clock.seconds(), True), 60, pool_keys("palembang").alive)

        client = Client(running.url)
        assert (await client.get("/metrics")).code == 401
        scrape = await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert scrape.code == 200
        assert scrape.header("content-type").startswith("text/plain; version=0.0.4")
        table = samples(scrape.body.decode())
        names = {name for name, _ in table}
        for series in SERIES:
            assert any(n.startswith(series) for n in names), series
        api = (await client.get("/api/sites/palembang",
                                headers={"Authorization": f"Bearer {TOKEN}"})).json()
        medan = (await client.get("/api/sites/medan",
                                  headers={"Authorization": f"Bearer {TOKEN}"})).json()
        assert value(table, "pln123_site_up", site="palembang") == 1.0
        assert value(table, "pln123_site_up", site="medan") == 0.0 and medan["up"] is False
        for skill in api["skills"]:
            labels = {"site": "palembang", "skill": skill["skill"]}
            assert value(table, "pln123_queue_waiting_calls", **labels) == skill["waiting"]
            assert value(table, "pln123_queue_longest_wait_seconds",
                         **labels) == skill["longest_wait_s"]
            ewt = value(table, "pln123_queue_expected_wait_seconds", **labels)
            assert ewt == (math.inf if skill["ewt_s"] is None else skill["ewt_s"])
            for state, count in skill["agents"].items():
                assert value(table, "pln123_agents", state=state, **labels) == count
            for key, name in (("offered", "pln123_calls_offered_total"),
                              ("answered", "pln123_calls_answered_total"),
                              ("abandoned", "pln123_calls_abandoned_total")):
                assert value(table, name, **labels) == skill["today"][key]
            if skill["live"]["service_level"] is not None:
                assert value(table, "pln123_service_level_ratio", window="15m",
                             **labels) == skill["live"]["service_level"]
        general = {s["skill"]: s for s in api["skills"]}["general"]
        billing = {s["skill"]: s for s in api["skills"]}["billing"]
        # The figures themselves, so that "matches" is not two zeros agreeing.
        assert general["today"]["offered"] == 2 and general["today"]["answered"] == 1
        assert general["today"]["abandoned"] == 1 and general["live"]["service_level"] == 1.0
        assert general["live"]["abandon_rate"] == 0.5 and general["live"]["asa_s"] == 5.0
        assert billing["waiting"] == 1 and billing["longest_wait_s"] == 16.0
        assert general["agents"]["on_call"] == 1 and general["agents"]["paused"] == 1
        assert value(table, "pln123_asa_seconds", site="palembang", skill="general",
                     window="15m") == 5.0
        assert value(table, "pln123_abandon_ratio", site="palembang", skill="general",
                     window="today") == 0.5
    finally:
        acd.stop()
        await running.stop()


@pytest_twisted.ensureDeferred
async def test_a_loan_between_two_sites_in_the_api_and_in_metrics(
        fresh_redis: RedisServer) -> None:
    """Medan's agent becomes ready while a Palembang caller waits and nobody at Palembang
    is: the matching script lends them, Palembang rings them (it holds the caller), and the
    dashboard shows Medan lending one agent and Palembang borrowing one call, now and
    counted, in the API and in /metrics alike."""
    clock = Clock()
    clock.advance(T0)
    running = await start(fresh_redis.url, clock)
    at_palembang, at_medan = FakeTelephony(), FakeTelephony()
    palembang = Distributor("palembang", SETTINGS,
                            QueueStore(running.store, "palembang", SETTINGS), at_palembang, clock)
    medan = Distributor("medan", SETTINGS, QueueStore(running.store, "medan", SETTINGS),
                        at_medan, clock, hand_over=palembang.take_over)
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    client = Client(running.url)

    async def scrape() -> dict[Any, float]:
        reply = await client.get("/metrics", headers=bearer)
        assert reply.code == 200
        return samples(reply.body.decode())

    async def pooling(site: str) -> dict[str, Any]:
        view = (await client.get(f"/api/sites/{site}", headers=bearer)).json()
        return dict(view["pooling"])

    try:
        board = StatusBoard(running.store)
        for site in ("palembang", "medan"):   # only a live site is lent an agent
            await board.publish(SiteStatus(site, T0, True), 600, pool_keys(site).alive)
        await palembang.enqueue(call("p1", at=T0))
        clock.advance(3)
        await medan.login("2001")
        await poll(lambda: "p1" in at_palembang.rings, 5, "Palembang ringing Medan's agent")
        assert at_palembang.ringing_agent("p1") == "2001" and not at_medan.rings
        clock.advance(2)
        at_palembang.answer("p1")
        await poll(lambda: at_palembang.can_hang_up("p1"), 5, "the answer")
        await palembang.settle()
        await medan.settle()

        lender, borrower = await pooling("medan"), await pooling("palembang")
        assert (lender["lent_now"], lender["lent_15m"], lender["lent_today"]) == (1, 1, 1)
        assert (lender["borrowed_now"], lender["borrowed_today"]) == (0, 0)
        assert (borrower["borrowed_now"], borrower["borrowed_15m"],
                borrower["borrowed_today"]) == (1, 1, 1)
        assert (borrower["lent_now"], borrower["lent_today"]) == (0, 0)
        table = await scrape()
        assert value(table, "pln123_agents_lent", site="medan") == 1.0
        assert value(table, "pln123_agents_lent", site="palembang") == 0.0
        assert value(table, "pln123_calls_borrowed", site="palembang") == 1.0
        assert value(table, "pln123_calls_borrowed", site="medan") == 0.0
        assert value(table, "pln123_pooled_out_total", site="medan", skill="general") == 1.0
        assert value(table, "pln123_pooled_in_total", site="palembang", skill="general") == 1.0
        assert value(table, "pln123_pooled_in_total", site="medan", skill="general") == 0.0
        assert value(table, "pln123_lending_enabled", site="medan") == 1.0

        # The call ends: nothing lent now, the loan stays counted.
        clock.advance(60)
        at_palembang.hang_up("p1")
        await palembang.settle()
        await medan.settle()
        await poll(lambda: not at_palembang.talks, 5, "the end of the call")
        lender = await pooling("medan")
        assert (lender["lent_now"], lender["lent_15m"], lender["lent_today"]) == (0, 1, 1)
        assert (await pooling("palembang"))["borrowed_now"] == 0

        # A national supervisor keeps Medan's agents home: /metrics says so at once.
        await client.login("nas")
        assert (await client.post("/api/sites/medan/lending", {"on": False})).code == 200
        table = await scrape()
        assert value(table, "pln123_lending_enabled", site="medan") == 0.0
        assert value(table, "pln123_lending_enabled", site="palembang") == 1.0
        assert (await pooling("medan"))["lending_on"] is False
    finally:
        palembang.stop()
        medan.stop()
        await running.stop()


@pytest_twisted.ensureDeferred
async def test_events_push_a_new_call_within_a_second(fresh_redis: RedisServer) -> None:
    running = await start(fresh_redis.url, reactor)   # the real clock: SSE ticks each second
    queues = QueueStore(running.store, "palembang", SETTINGS)
    client = Client(running.url)
    await client.login("nas")
    reader = EventReader()
    response = await client.agent.request(
        b"GET", f"{running.url}/api/events?site=palembang".encode(),
        Headers({"Cookie": [client.cookie], "Accept": ["text/event-stream"]}))
    try:
        assert response.code == 200
        assert response.headers.getRawHeaders("content-type") == [
            "text/event-stream; charset=utf-8"]
        response.deliverBody(reader)
        await poll(lambda: len(reader.views) >= 1, 5, "the first snapshot")
        assert reader.views[0]["calls"] == []
        assert running.dashboard.parts.feed.watched == ["site:palembang"]
        now = reactor.seconds()
        await queues.offer(call("live-1", number="0711999", at=now), now)
        await poll(lambda: any(v["calls"] for v in reader.views), 1.5, "the call pushed")
        pushed = next(v for v in reader.views if v["calls"])
        assert pushed["calls"][0]["caller_number"] == "0711999"
        assert reactor.seconds() - now <= 1.5
        unknown = await client.get("/api/events?site=bandung")
        assert unknown.code == 404
    finally:
        response._transport.stopProducing()
        await poll(lambda: running.dashboard.parts.feed.watched == [], 5, "unsubscribed")
        await running.stop()
