"""The call history on the sandbox: 20 callers with mixed outcomes through `pln123 serve`
and the sandbox Asterisk, archived by `pln123 archive` into a real PostgreSQL and into the
SQLite default at once, each archiver killed with SIGKILL half-way and started again.
Every call has one row, whose outcome and wait are the ACD's own; `pln123 report
interval` for the test's window equals the dashboard's `/api` figures, and its CSV header
is the one docs/reports.md documents."""

from __future__ import annotations

import csv
import io
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
import redis
from sqlalchemy import Engine, func, select

from acd.store.keys import SiteKeys
from acd.store.redis import RedisStore
from ivr.ami import variable_header
from pln123.cli.dashboard import dashboard_resource
from pln123.config import load_config
from pln123.history.database import default_url, open_engine
from pln123.history.reports import INTERVAL_COLUMNS
from pln123.history.schema import calls, events
from pln123.web.http import WebSite
from tests.doubles.config import shipped_data
from tests.e2e.serve_harness import REPO, ServeProcess, write_config
from tests.fixtures.postgres import PostgresServer, postgres_for_test
from tests.fixtures.redis_server import RedisServer
from tests.harness.ami import connect
from tests.harness.dashboard import Client
from tests.harness.reactor import reactor
from tools.sandbox import Instance

pytestmark = pytest.mark.asterisk

SITE = "palembang"
AGENTS = {"1101": "test-agent", "1102": "test-agent", "1103": "test-noanswer"}
CALLER_PREFIX = "08110004"                   # this test's callers: 0811000400 ... 0811000419
CALLERS = 20
IN_THE_MENU = 3                             # hangs up in the greeting: never reaches the ACD
GIVE_UP = {5, 9, 12, 14, 16, 17, 18, 19}   # these hang up 12 s after asking for an agent


@pytest.fixture
def postgres() -> Iterator[PostgresServer]:
    with postgres_for_test() as server:
        yield server


class ArchiveProcess:
    """`pln123 archive` into one database with its own consumer group; killed by PID."""

    def __init__(self, config: Path, redis_url: str, log: Path, group: str,
                 database: str | None, env: dict[str, str]):
        self.args = [sys.executable, "-m", "pln123.cli.main", "archive", "--config",
                     str(config), "--redis-url", redis_url, "--site", SITE, "--group", group,
                     "--batch", "5", *(["--database", database] if database else [])]
        self.log, self.env = log, {**os.environ, **env}
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(self.args, stdout=out, stderr=subprocess.STDOUT,
                                            cwd=REPO, env=self.env)

    def kill9(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


def count(engine: Engine, table: Any, *where: Any) -> int:
    try:
        with engine.connect() as connection:
            return int(connection.execute(
                select(func.count()).select_from(table).where(*where)).scalar() or 0)
    except Exception:  # noqa: BLE001 - not migrated yet
        return 0


async def until(predicate: Any, seconds: float, what: str) -> None:
    from twisted.internet.task import deferLater

    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds}s waiting for {what}")
        await deferLater(reactor, 0.1, lambda: None)


def report_csv(config: Path, start: float, end: float, env: dict[str, str],
               database: str | None, kind: str = "interval") -> list[list[str]]:
    done = subprocess.run(
        [sys.executable, "-m", "pln123.cli.main", "report", kind, "--config",
         str(config), "--from", f"{start:.3f}", "--to", f"{end:.3f}", "--site", SITE,
         "--format", "csv", *(["--database", database] if database else [])],
        capture_output=True, text=True, cwd=REPO, env={**os.environ, **env}, timeout=60,
        check=False)
    assert done.returncode == 0, done.stderr
    return list(csv.reader(io.StringIO(done.stdout)))


@pytest_twisted.ensureDeferred
async def test_twenty_calls_archived_once_and_reported_as_the_acd_counted(
        asterisk_site: Instance, fresh_redis: RedisServer, postgres: PostgresServer,
        tmp_path: Path) -> None:
    pooling = {**shipped_data()["acd"]["pooling"], "enabled": False}
    config_path = write_config(
        tmp_path,
        [{"id": a, "name": f"Agent {a}", "site": SITE, "endpoint": f"Local/{a}@{context}",
          "skills": {"general": 5}} for a, context in AGENTS.items()],
        {"ring_timeout_s": 5, "queues": {"general": {"wrapup_s": 1}}, "pooling": pooling},
    )
    config = load_config(config_path)
    keys = SiteKeys(SITE, config.acd.pooling.pool_of(SITE))   # pooling off: a pool of its own
    pg_url = postgres.create_database("history")
    state = {"STATE_DIRECTORY": str(tmp_path / "state")}   # the SQLite default's folder
    archivers = [
        ArchiveProcess(config_path, fresh_redis.url, tmp_path / "archive-pg.log", "history",
                       pg_url, {}),
        ArchiveProcess(config_path, fresh_redis.url, tmp_path / "archive-sqlite.log",
                       "history-sqlite", None, state),
    ]
    engines = [open_engine(pg_url), open_engine(default_url(state))]
    serve = ServeProcess(config_path, asterisk_site, fresh_redis.url, tmp_path / "serve.log")
    client = redis.Redis(unix_socket_path=str(fresh_redis.unix_socket), decode_responses=True)
    admin = await connect(asterisk_site, user="sandbox-admin", events="call")
    store = RedisStore(fresh_redis.url)
    await store.start()
    port = reactor.listenTCP(0, WebSite(dashboard_resource(config, store, reactor, reactor)),
                             interface="127.0.0.1")
    start = time.time()
    try:
        serve.start()
        for archiver in archivers:
            archiver.start()
        for agent in AGENTS:
            subprocess.run(
                [sys.executable, "-m", "pln123.cli.main", "agent", "login", agent,
                 "--config", str(config_path), "--redis-url", fresh_redis.url],
                check=True, cwd=REPO, capture_output=True)
        for index in range(CALLERS):
            await admin.send_action("Originate", {
                "Channel": f"Local/0711123@pln123-inbound-{SITE}",
                "Context": "test-caller", "Exten": "s", "Priority": "1",
                "CallerID": f'"Pelanggan" <{CALLER_PREFIX}{index:02d}>', "Async": "true",
                "Variable": variable_header(
                    {"HANGUP_AFTER": "2", "HOLD": "5"} if index == IN_THE_MENU else {
                        "DTMF": "0", "PAUSE": f"{1 + 0.4 * index:g}",
                        "HOLD": "12" if index in GIVE_UP else "90"}),
            })

        def offered_archived(engine: Engine) -> int:
            return count(engine, events, events.c.event == "offered")

        # Each archiver is killed half-way through the calls, and started again.
        for archiver, engine, at in zip(archivers, engines, (4, 9), strict=True):
            await until(lambda e=engine, n=at: offered_archived(e) >= n, 60,  # type: ignore[misc]
                        f"{at} calls archived")
            archiver.kill9()
            assert offered_archived(engine) < CALLERS, "killed half-way"
            archiver.start()

        def ours(entry: dict[str, str]) -> bool:
            """Not another test's caller: one left in the shared sandbox may enter AsyncAGI
            when this serve connects, and add an `ivr` entry (and a row) of its own."""
            return entry["event"] != "ivr" or entry.get("caller_number", "").startswith(
                CALLER_PREFIX)

        def all_ended() -> bool:
            entries = [e["event"] for _, e in client.xrange(keys.audit) if ours(e)]
            return (entries.count("ivr") == CALLERS and entries.count("offered") == CALLERS - 1
                    and client.scard(keys.live) == 0)

        try:
            await until(all_ended, 150, "every call ended")
        except AssertionError as error:
            events_now = [e["event"] for _, e in client.xrange(keys.audit)]
            raise AssertionError(f"{error}: {events_now.count('ivr')} left the IVR, "
                                 f"{events_now.count('offered')} offered, "
                                 f"{client.scard(keys.live)} live") from None
        entries = client.xlen(keys.audit)
        for engine in engines:
            await until(lambda e=engine: count(e, events) >= entries, 60,  # type: ignore[misc]
                        "every entry archived")
        end = time.time()

        # -- one row per call, with the ACD's own outcome and wait -----------------------
        audit = [e for _, e in client.xrange(keys.audit)]
        offered_ids = {e["call"] for e in audit if e["event"] == "offered"}
        all_ids = sorted(e["call"] for e in audit if e["event"] == "ivr" and ours(e))
        foreign = {e["call"] for e in audit if not ours(e)}
        for engine in engines:
            assert count(engine, events) == entries   # nothing lost, nothing twice
            with engine.connect() as connection:
                rows = {r["call_id"]: r for r in connection.execute(select(calls)).mappings()
                        if r["call_id"] not in foreign}
            assert sorted(rows) == all_ids and len(all_ids) == CALLERS
            for call_id, row in rows.items():
                if call_id not in offered_ids:   # the caller who hung up in the greeting
                    assert (row["outcome"], row["offered_at"]) == ("ivr_caller_hung_up", None)
                    assert row["entered_at"] is not None and row["caller_number"]
                    continue
                assert row["entered_at"] <= row["offered_at"]
                record = client.hgetall(keys.prefix + "call:" + call_id)
                enqueued = float(record["enqueued_at"])
                if record.get("answered_at"):
                    assert row["outcome"] == "answered", call_id
                    assert row["wait_s"] == pytest.approx(
                        float(record["answered_at"]) - enqueued, abs=1e-3)
                    assert row["agent"] == record["agent"]
                else:
                    assert (record["state"], row["outcome"]) == ("abandoned", "abandoned")
                    assert row["wait_s"] == pytest.approx(
                        float(record["ended_at"]) - enqueued, abs=1e-3)
        outcomes = [r["outcome"] for r in rows.values()]
        assert outcomes.count("answered") >= 3 and outcomes.count("abandoned") >= 2, outcomes

        # -- `pln123 report interval` equals /api for the window ----------------------------
        web = Client(f"http://127.0.0.1:{port.getHost().port}")
        token = config.dashboard.read_wallboard_token()  # type: ignore[union-attr]
        assert (await web.get(f"/wallboard?token={token}")).code in (200, 302, 303)
        reply = await web.get(f"/api/sites/{SITE}")
        assert reply.code == 200, reply.body
        today = reply.json()["today"]
        reports = [report_csv(config_path, start, end, {}, pg_url),
                   report_csv(config_path, start, end, state, None)]
        assert reports[0] == reports[1]   # PostgreSQL and the SQLite default agree
        header, *lines = reports[0]
        assert header == list(INTERVAL_COLUMNS)
        docs = (REPO / "docs" / "reports.md").read_text(encoding="utf-8").splitlines()
        assert ",".join(header) in docs
        (total,) = [dict(zip(header, line, strict=True)) for line in lines
                    if line[0] == "total" and line[1] == SITE and line[2] == "all"]
        for name in ("offered", "answered", "answered_in_sl", "abandoned", "abandoned_in_sl",
                     "pooled_in", "pooled_out"):
            assert int(total[name]) == today[name], name
        for name in ("service_level", "service_level_2", "abandon_rate"):
            assert total[name] == ("" if today[name] is None else f"{today[name]:.4f}"), name
        assert total["asa_s"] == ("" if today["asa_s"] is None else f"{today['asa_s']:.3f}")
        assert today["offered"] == CALLERS - 1
        # the call-back list: every abandoned caller, with their number
        _header, *back = report_csv(config_path, start, end, {}, pg_url, "abandoned")
        assert sorted(line[3] for line in back) == sorted(
            r["caller_number"] for r in rows.values() if r["outcome"] == "abandoned")
    finally:
        for archiver in archivers:
            archiver.stop()
        serve.stop()
        listed = await admin.send_list_action("CoreShowChannels")
        for event in listed.events:   # leave no caller of this test behind
            if f"pln123-inbound-{SITE}" in (event.get("Channel") or ""):
                await admin.send_action("Hangup", {"Channel": event["Channel"]}).addErrback(
                    lambda _failure: None)
        await admin.stopService()
        await port.stopListening()
        await store.close()
        client.close()
        for engine in engines:
            engine.dispose()
