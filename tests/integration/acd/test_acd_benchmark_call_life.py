"""The call-life benchmark on a few calls: each step costs what the table says, and a
whole call stays within the round-trip budget (docs/benchmarks.md, "ACD routing")."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
import pytest_twisted

from benchmarks import call_life
from tests.fixtures.redis_server import RedisServer

pytestmark = pytest.mark.redis

BUDGET = 10   # round trips per call


@pytest_twisted.ensureDeferred
async def test_a_call_life_costs_at_most_the_budget(fresh_redis: RedisServer) -> None:
    life = await call_life.run_call_life(fresh_redis.unix_url, calls=3, wait_s=45.0)
    assert list(life.steps) == ["arrival", "announcement", "agent ready", "answer", "end"]
    assert all(step.times == 3 for step in life.steps.values())
    assert life.per_call(life.round_trips) <= BUDGET
    assert life.commands >= life.round_trips
    # every decision is one script call; the arrival also reads the pool's statuses
    assert life.steps["arrival"].operations["offer_call"] == 3
    for name in ("agent ready", "answer", "end"):
        assert life.steps[name].operations == {"agent_change": 3}, name
        assert life.steps[name].redis == {"EVALSHA": 3}, name
    match = re.fullmatch(r"round_trips_per_call=(\d+(?:\.\d+)?) "
                         r"commands_per_call=(\d+(?:\.\d+)?)", life.lines()[-1])
    assert match is not None, life.lines()[-1]
    assert float(match[1]) == life.per_call(life.round_trips)


@pytest_twisted.ensureDeferred
async def test_a_longer_wait_costs_one_round_trip_per_announcement(
        fresh_redis: RedisServer) -> None:
    short = await call_life.run_call_life(fresh_redis.unix_url, calls=2, wait_s=45.0)
    long = await call_life.run_call_life(fresh_redis.unix_url, calls=2, wait_s=105.0)
    assert long.steps["announcement"].times == 2 * 3
    assert long.per_call(long.round_trips) == short.per_call(short.round_trips) + 2


def test_the_command_starts_its_own_redis_and_prints_the_last_line() -> None:
    done = subprocess.run([sys.executable, "-m", "benchmarks.call_life", "--calls", "2"],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    last = done.stdout.strip().splitlines()[-1]
    found = re.fullmatch(r"round_trips_per_call=(\d+) commands_per_call=(\d+)", last)
    assert found, last
    assert 0 < int(found[1]) <= BUDGET
    assert int(found[2]) >= int(found[1])   # at least a command per round trip
