"""The Redis memory benchmark on a few hundred calls: once the windows pass, every key the
calls wrote has expired by itself, DBSIZE is the baseline's and used_memory is within the
bound of it (docs/benchmarks.md, "Redis memory")."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
import pytest_twisted

from benchmarks import redis_memory
from tests.fixtures.redis_server import RedisServer

pytestmark = pytest.mark.redis


@pytest_twisted.ensureDeferred
async def test_memory_comes_back_once_the_calls_windows_pass(fresh_redis: RedisServer) -> None:
    run = await redis_memory.run_redis_memory(fresh_redis.unix_url, calls=300, keep_s=2.0)
    assert run.ttl_s == 2.0
    assert sum(n for name, n in run.outcomes.items() if name != "redials") == 300
    assert run.outcomes["abandoned (queued)"] > 0 and run.outcomes["abandoned (ringing)"] > 0
    # the calls' keys were there at the end of the run, and are gone, all by expiry
    assert run.end.kinds["call"] > 0 and run.end.kinds["resume"] > 0
    assert run.after.kinds["call"] == run.after.kinds["resume"] == 0
    assert run.after.kinds == run.baseline.kinds
    assert run.dbsize_delta == 0
    assert abs(run.memory_delta) <= redis_memory.BOUND_BYTES
    assert run.within_bound
    assert run.call_record_bytes > 0 and run.audit_entry_bytes > 0


def test_the_command_starts_its_own_redis_and_prints_the_last_line() -> None:
    done = subprocess.run([sys.executable, "-m", "benchmarks.redis_memory", "--calls", "200",
                           "--keep", "1"],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    last = done.stdout.strip().splitlines()[-1]
    found = re.fullmatch(r"calls=200 used_memory_delta_bytes=(-?\d+) dbsize_delta=0", last)
    assert found, last
    assert abs(int(found[1])) <= redis_memory.BOUND_BYTES
