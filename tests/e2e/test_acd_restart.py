"""Crash safety: `kill -9` pln123 while 10 callers wait and 3 talk; the new
process re-adopts the waiting callers from Asterisk and Redis and serves them in their
original order; the talking calls are neither lost nor duplicated."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted

from acd.queues.store import QueueStore
from acd.store.redis import RedisStore
from ivr.ami import Message, variable_header
from pln123.config import load_config
from tests.e2e.serve_harness import REPO, ServeProcess, write_config
from tests.fixtures.redis_server import RedisServer
from tests.harness.ami import connect
from tests.harness.reactor import poll
from tools.sandbox import Instance

pytestmark = pytest.mark.asterisk

AGENTS = ["1101", "1102", "1103"]


@pytest_twisted.ensureDeferred
async def test_kill_9_with_callers_waiting_and_talking(
        asterisk_site: Instance, fresh_redis: RedisServer, tmp_path: Path) -> None:
    config_path = write_config(
        tmp_path,
        [{"id": a, "name": f"Agent {a}", "site": "palembang",
          "endpoint": f"Local/{a}@test-agent-long", "skills": {"general": 5}} for a in AGENTS],
        {"ring_timeout_s": 10, "queues": {"general": {"wrapup_s": 0}}},
    )
    config = load_config(config_path)
    serve = ServeProcess(config_path, asterisk_site, fresh_redis.url, tmp_path / "serve.log")
    store = RedisStore(fresh_redis.url)
    await store.start()
    queues = QueueStore(store, "palembang", config.acd)
    admin = await connect(asterisk_site, user="sandbox-admin", events="call")
    bridged: list[str] = []

    def on_bridge(event: Message) -> None:
        channel = event.get("Channel") or ""
        if "pln123-inbound" in channel and channel not in bridged:
            bridged.append(channel)

    admin.dispatcher.subscribe("BridgeEnter", on_bridge)
    try:
        serve.start()
        for agent in AGENTS:
            subprocess.run(
                [sys.executable, "-m", "pln123.cli.main", "agent", "login", agent,
                 "--config", str(config_path), "--redis-url", fresh_redis.url],
                check=True, cwd=REPO, capture_output=True)
        for index in range(13):
            await admin.send_action("Originate", {
                "Channel": "Local/0711123@pln123-inbound-palembang",
                "Context": "test-caller", "Exten": "s", "Priority": "1",
                "CallerID": f'"Pelanggan" <08110003{index:02d}>', "Async": "true",
                "Variable": variable_header({"DTMF": "0", "PAUSE": f"{1 + 0.5 * index:g}",
                                             "HOLD": "120"}),
            })
        waiting: list[Any] = []

        async def queue_filled() -> bool:
            waiting[:] = await queues.queue("general")
            return len(waiting) == 10 and len(bridged) == 3

        await poll_async(queue_filled, 40, "3 callers talking and 10 waiting")
        order = [call_id for call_id, _priority, _at in waiting]
        channels = [(await queues.call(call_id)).fields["channel"]  # type: ignore[union-attr]
                    for call_id in order]

        serve.kill9()
        serve.start()
        # The three conversations end (25 s talk); the next three in line are served, in order.
        await poll(lambda: len(bridged) >= 6, 60, "the next three callers served")
        assert bridged[3:6] == channels[:3]
        remaining = [call_id for call_id, _p, _a in await queues.queue("general")]
        assert remaining == order[3:]
        assert len(set(bridged)) == len(bridged)  # nobody served twice
        assert "acd_caller_readopted" in serve.log_text()
    finally:
        serve.stop()
        listed = await admin.send_list_action("CoreShowChannels")
        for event in listed.events:  # leave no caller of this test behind
            if "pln123-inbound-palembang" in (event.get("Channel") or ""):
                await admin.send_action("Hangup", {"Channel": event["Channel"]}).addErrback(
                    lambda _failure: None)
        await admin.stopService()
        await store.close()


async def poll_async(predicate: Any, seconds: float, what: str) -> None:
    from twisted.internet.task import deferLater

    from tests.harness.reactor import reactor

    deadline = reactor.seconds() + seconds
    while not await predicate():
        if reactor.seconds() > deadline:
            raise AssertionError(f"timed out after {seconds}s waiting for {what}")
        await deferLater(reactor, 0.2, lambda: None)
