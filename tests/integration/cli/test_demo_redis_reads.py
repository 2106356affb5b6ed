"""What the demo prints and how the load test counts calls, read from a real Redis: every key
under the site's pool's hash tag (`acd:{<pool>}:<site>:...`), found by SCAN patterns."""

from __future__ import annotations

import redis

from acd.store.keys import SiteKeys
from tools.demo.figures import SiteFigures, site_figures
from tools.loadtest.outcomes import pooled, records_by_number
from tools.redis_server import RedisServer


def test_figures_and_records_are_read_under_the_pools_hash_tag(fresh_redis: RedisServer
                                                                ) -> None:
    client = redis.Redis.from_url(fresh_redis.url, decode_responses=True)
    palembang, medan = SiteKeys("palembang", "national"), SiteKeys("medan", "national")
    elsewhere = SiteKeys("palembang", "palembang")  # the same site in a pool of its own
    for keys, answered in ((palembang, 4), (elsewhere, 100)):
        for start in (900, 1800):
            client.hset(keys.interval("general", start), mapping={
                "offered": 3, "answered": answered // 2, "abandoned": 1, "pooled_in": 2})
        client.hset(keys.minute("general", 1800), mapping={"offered": 50, "answered": 50})
        client.zadd(keys.queue("general"), {"c1": 1.0, "c2": 2.0})
    client.hset(medan.interval("fault", 900), mapping={"offered": 1, "pooled_out": 4})
    client.hset(palembang.call("a1"), mapping={"caller_number": "0813", "site": "palembang",
                                               "agent_site": "medan", "answered_at": "9"})
    client.hset(elsewhere.call("b1"), mapping={"caller_number": "0814", "site": "palembang"})
    client.hset(medan.call("m1"), mapping={"caller_number": "0815", "site": "medan"})

    assert site_figures(client, palembang) == SiteFigures(
        "palembang", offered=6, answered=4, abandoned=2, pooled_in=4, pooled_out=0, waiting=2)
    assert site_figures(client, medan).lent == 4
    records = records_by_number(client, [palembang, medan])
    assert set(records) == {"0813", "0815"}
    assert pooled(["0813", "0815"], records) == 1
    client.close()
