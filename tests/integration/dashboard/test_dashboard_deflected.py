"""`deflected` from the IVR's counter to the dashboard: the site tile (15 minutes and
today), the site's API view and `/metrics` show the same count."""

from __future__ import annotations

import pytest_twisted
from twisted.internet.task import Clock

from acd.queues.deflections import RedisDeflections
from tests.fixtures.redis_server import RedisServer
from tests.harness.dashboard import TOKEN, Client, pool_keys, start
from tests.integration.dashboard.test_dashboard_live import samples, value

T0 = 1_735_801_200.0


@pytest_twisted.ensureDeferred
async def test_deflected_callers_on_the_tile_in_the_api_and_in_metrics(
        fresh_redis: RedisServer) -> None:
    clock = Clock()
    clock.advance(T0)
    running = await start(fresh_redis.url, clock)
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    try:
        palembang = RedisDeflections(running.store, pool_keys("palembang"), clock)
        medan = RedisDeflections(running.store, pool_keys("medan"), clock)
        await palembang.count("c1", "general")
        clock.advance(20 * 60)                  # out of the live window, still today
        await palembang.count("c2", "general")
        await palembang.count("c3", "billing")  # the agent key's skill, whatever it is
        await medan.count("c4", "general")
        client = Client(running.url)
        overview = (await client.get("/api/sites", headers=bearer)).json()
        tiles = {tile["site"]: tile for tile in overview["sites"]}
        assert (tiles["palembang"]["live"]["deflected"],
                tiles["palembang"]["today"]["deflected"]) == (2, 3)
        assert tiles["medan"]["today"]["deflected"] == 1
        view = (await client.get("/api/sites/palembang", headers=bearer)).json()
        assert view["today"]["deflected"] == 3
        by_skill = {s["skill"]: s["today"]["deflected"] for s in view["skills"]}
        assert (by_skill["general"], by_skill["billing"]) == (2, 1)
        scrape = await client.get("/metrics", headers=bearer)
        table = samples(scrape.body.decode())
        assert value(table, "pln123_calls_deflected_total", site="palembang") == 3.0
        assert value(table, "pln123_calls_deflected_total", site="medan") == 1.0
    finally:
        await running.stop()
