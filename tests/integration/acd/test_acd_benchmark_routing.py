"""The ACD routing benchmark's core on a tiny site: same phases, same last line."""

from __future__ import annotations

import re

import pytest
import pytest_twisted

from benchmarks import acd_routing
from tests.fixtures.redis_server import RedisServer

pytestmark = pytest.mark.redis

LAST = re.compile(r"decisions_per_s=(\d+) p50_ms=(\d+\.\d+) p99_ms=(\d+\.\d+) "
                  r"floor_p50_ms=(\d+\.\d+) round_trips_per_call=(\d+(?:\.\d+)?) "
                  r"commands_per_call=(\d+(?:\.\d+)?)")


@pytest_twisted.ensureDeferred
async def test_a_tiny_run_ends_with_the_summary_line(fresh_redis: RedisServer) -> None:
    result = await acd_routing.run_benchmark(
        fresh_redis.unix_url, agents=8, waiting=12, latency_calls=20, decisions=60,
        concurrency=4, life_calls=2)
    assert (result.agents, result.waiting, result.decisions) == (8, 12, 60)
    assert len(result.latencies_ms) == 20 and len(result.floor_ms) == 20
    assert result.batches >= 1 and result.decisions_per_s > 0
    lines = result.lines()
    match = LAST.fullmatch(lines[-1])
    assert match is not None, lines[-1]
    assert float(match[2]) <= float(match[3])
    assert 0 < float(match[5]) <= float(match[6])
    assert lines[0] == "site=palembang agents=8 waiting=12 skills=4"
