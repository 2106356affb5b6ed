"""`pln123 archive` as a process: killed with SIGKILL half-way through a stream and started
again, it loses no entry and stores none twice, on SQLite and on PostgreSQL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import redis
from sqlalchemy import Engine, func, select

from acd.store.keys import SiteKeys
from pln123.history import GROUP
from pln123.history.database import open_engine
from pln123.history.schema import calls, events
from tests.doubles.config import SHIPPED as CONFIG
from tests.fixtures.redis_server import RedisServer

REPO = Path(__file__).resolve().parents[3]
SITE = "palembang"
KEY = SiteKeys(SITE, "national").audit   # the shipped config pools every site in `national`
T0 = 1_735_801_200.0


def feed(client: redis.Redis, first: int, count: int) -> int:
    """Calls `first`.. as the ACD writes them: every third abandoned after 30 s, the others
    answered after 5 s and finished; the number of entries written."""
    written = 0
    with client.pipeline(transaction=False) as pipe:
        for index in range(first, first + count):
            call, at = f"c{index:05}", T0 + index
            base = {"site": SITE, "call": call, "skill": "general", "agent": ""}
            pipe.xadd(KEY, {**base, "event": "offered", "state": "new", "at": f"{at:.3f}",
                            "caller_number": f"0811{index:06}", "enqueued_at": f"{at:.3f}"})
            if index % 3 == 0:
                pipe.xadd(KEY, {**base, "event": "abandoned", "state": "abandoned",
                                "at": f"{at + 30:.3f}", "wait_ms": "30000", "in_sl": "0"})
                written += 2
            else:
                answered = {**base, "agent": "1101", "agent_site": SITE}
                pipe.xadd(KEY, {**answered, "event": "answered", "state": "connected",
                                "at": f"{at + 5:.3f}", "wait_ms": "5000", "in_sl": "1"})
                pipe.xadd(KEY, {**answered, "event": "finished", "state": "finished",
                                "at": f"{at + 65:.3f}"})
                written += 3
        pipe.execute()
    return written


def archive(server: RedisServer, url: str, log: Path, batch: int) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "pln123.cli.main", "archive", "--config", str(CONFIG),
             "--redis-url", server.url, "--database", url, "--site", SITE, "--batch",
             str(batch), "--consumer", "test"], stdout=out, stderr=subprocess.STDOUT, cwd=REPO)


def stored(engine: Engine) -> int:
    try:
        with engine.connect() as connection:
            return int(connection.execute(select(func.count()).select_from(events)).scalar()
                       or 0)
    except Exception:  # noqa: BLE001 - the archiver has not created the tables yet
        return 0


def wait_for(predicate: object, seconds: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}: {log.read_text()[-3000:]}")
        time.sleep(0.005)


def test_sigkill_half_way_loses_nothing_and_duplicates_nothing(
        fresh_redis: RedisServer, history_url: str, tmp_path: Path) -> None:
    client = redis.Redis(unix_socket_path=str(fresh_redis.unix_socket), decode_responses=True)
    first_half = feed(client, 0, 600)
    log = tmp_path / "archive.log"
    engine = open_engine(history_url)
    process = archive(fresh_redis, history_url, log, 10)   # small: many commits
    try:
        wait_for(lambda: stored(engine) >= 100, 60, "the first batches", log)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(10)
        at_kill = stored(engine)
        assert 100 <= at_kill < first_half, "killed half-way through the stream"
        # delivered to the killed consumer and not acknowledged: pending in Redis
        total = first_half + feed(client, 600, 600)
        process = archive(fresh_redis, history_url, log, 500)
        wait_for(lambda: stored(engine) >= total, 90, "every entry", log)
        wait_for(lambda: client.xpending(KEY, GROUP)["pending"] == 0, 30,
                 "every entry acknowledged", log)
        time.sleep(0.3)   # nothing more arrives (a duplicate would be a key violation)
        assert stored(engine) == total == client.xlen(KEY)
        with engine.connect() as connection:
            ids = [r for (r,) in connection.execute(select(events.c.entry_id))]
            rows = {r["call_id"]: r for r in connection.execute(select(calls)).mappings()}
        assert sorted(ids) == sorted(entry_id for entry_id, _ in client.xrange(KEY))
        assert len(rows) == 1200
        for index in range(1200):
            row = rows[f"c{index:05}"]
            if index % 3 == 0:
                assert (row["outcome"], row["wait_s"], row["ended_at"]) == (
                    "abandoned", 30.0, T0 + index + 30)
            else:
                assert (row["outcome"], row["wait_s"], row["talk_s"]) == (
                    "answered", 5.0, 60.0)
        process.send_signal(signal.SIGTERM)
        assert process.wait(20) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
        client.close()
        engine.dispose()
