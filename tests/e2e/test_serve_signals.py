"""`pln123 serve` as a real process against the sandbox Asterisk and a real Redis: SIGHUP
applies a valid config while a caller waits, refuses a broken one and keeps the old,
SIGTERM drains with callers waiting and the next process serves them in order.
systemd's side is checked on a real `$NOTIFY_SOCKET` datagram socket."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
import yaml

from acd.pooling.status import StatusBoard
from acd.queues.store import QueueStore
from acd.store.redis import RedisStore
from ivr.ami import AMIError, AMIService, Message, variable_header
from ivr.callcontrol.heartbeat import HEARTBEAT_FAMILY, HEARTBEAT_KEY
from pln123.config import load_config
from tests.e2e.serve_harness import REPO, ServeProcess, write_config
from tests.e2e.test_acd_restart import poll_async
from tests.fixtures.redis_server import RedisServer
from tests.harness.ami import connect
from tests.harness.reactor import poll
from tools.sandbox import Instance
from tools.sandbox.render import TRUNK_FILE

pytestmark = pytest.mark.asterisk

# No agent is logged in while callers wait: pooling's surge admission control would turn
# them away (an unstaffed pool's expected wait is infinite), so these tests run without it.
ACD = {"ring_timeout_s": 10, "queues": {"general": {"wrapup_s": 0}},
       "pooling": {"enabled": False}}


def agents(context: str, *ids: str) -> list[dict[str, Any]]:
    return [{"id": a, "name": f"Agent {a}", "site": "palembang",
             "endpoint": f"Local/{a}@{context}", "skills": {"general": 5}} for a in ids]


def events(log_text: str) -> list[dict[str, Any]]:
    """Every line of the process's stdout must be one JSON object."""
    out = []
    for line in log_text.splitlines():
        if line.strip():
            out.append(json.loads(line))
    return out


def named(log_text: str, event: str) -> list[dict[str, Any]]:
    return [e for e in events(log_text) if e.get("event") == event]


def agent_cli(config: Path, redis_url: str, action: str, agent: str) -> None:
    subprocess.run([sys.executable, "-m", "pln123.cli.main", "agent", action, agent,
                    "--config", str(config), "--redis-url", redis_url],
                   check=True, cwd=REPO, capture_output=True)


class NotifySocket:
    """A stand-in for systemd's notify socket: collects the datagrams `serve` sends."""

    def __init__(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="pln-notify-", dir="/tmp")  # short: sun_path
        self.path = os.path.join(self.dir, "notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.setblocking(False)
        self.messages: list[str] = []

    def read(self) -> list[str]:
        while True:
            try:
                self.messages.append(self.sock.recv(4096).decode())
            except BlockingIOError:
                return self.messages

    def close(self) -> None:
        self.sock.close()
        os.unlink(self.path)
        os.rmdir(self.dir)


@pytest.fixture
def notify_socket() -> Iterator[NotifySocket]:
    sock = NotifySocket()
    yield sock
    sock.close()


class Bridges:
    """Callers' channels (pln123-inbound) in the order they were bridged to an agent."""

    def __init__(self, admin: AMIService):
        self.channels: list[str] = []
        admin.dispatcher.subscribe("BridgeEnter", self._enter)

    def _enter(self, event: Message) -> None:
        channel = event.get("Channel") or ""
        if "pln123-inbound" in channel and channel not in self.channels:
            self.channels.append(channel)


async def call(admin: AMIService, index: int, pause: float) -> None:
    await admin.send_action("Originate", {
        "Channel": "Local/0711123@pln123-inbound-palembang",
        "Context": "test-caller", "Exten": "s", "Priority": "1",
        "CallerID": f'"Pelanggan" <08110008{index:02d}>', "Async": "true",
        "Variable": variable_header({"DTMF": "0", "PAUSE": f"{pause:g}", "HOLD": "150"}),
    })


async def hang_up_callers(admin: AMIService) -> None:
    listed = await admin.send_list_action("CoreShowChannels")
    for event in listed.events:  # leave no caller of this test behind
        if "pln123-inbound-palembang" in (event.get("Channel") or ""):
            await admin.send_action("Hangup", {"Channel": event["Channel"]}).addErrback(
                lambda _failure: None)


async def queued_channels(queues: QueueStore) -> list[str]:
    out = []
    for call_id, _priority, _at in await queues.queue("general"):
        record = await queues.call(call_id)
        assert record is not None
        out.append(record.fields["channel"])
    return out


@pytest_twisted.ensureDeferred
async def test_sighup_applies_a_valid_config_while_a_caller_waits(
        asterisk_site: Instance, fresh_redis: RedisServer, tmp_path: Path,
        notify_socket: NotifySocket) -> None:
    config_path = write_config(tmp_path, agents("test-agent-long", "1101"),
                               {**ACD, "announce_every_s": 60})
    new_roster = yaml.safe_load(config_path.read_text())
    new_roster["agents"] += agents("test-agent-long", "1102")
    new_roster["acd"]["announce_every_s"] = 20
    serve = ServeProcess(config_path, asterisk_site, fresh_redis.url, tmp_path / "serve.log",
                         env={"NOTIFY_SOCKET": notify_socket.path})
    store = RedisStore(fresh_redis.url)
    await store.start()
    queues = QueueStore(store, "palembang", load_config(config_path).acd)
    admin = await connect(asterisk_site, user="sandbox-admin", events="call")
    bridges = Bridges(admin)
    try:
        serve.start()
        await poll(lambda: "READY=1" in "".join(notify_socket.read()), 20, "READY=1")
        await call(admin, 1, 1)
        waiting: list[str] = []

        async def one_waits() -> bool:
            waiting[:] = await queued_channels(queues)
            return len(waiting) == 1

        await poll_async(one_waits, 30, "the caller queued")
        # The file names agent 1102 (so the CLI accepts the login), but the running
        # process has not read it: its roster refuses 1102, the caller keeps waiting.
        config_path.write_text(yaml.safe_dump(new_roster, allow_unicode=True))
        agent_cli(config_path, fresh_redis.url, "login", "1102")
        await poll(lambda: bool(named(serve.log_text(), "agent_command_refused")), 15,
                   "the login refused by the running roster")
        assert await queued_channels(queues) == waiting

        serve.signal(signal.SIGHUP)
        await poll(lambda: bool(named(serve.log_text(), "config_reloaded")), 15, "reload")
        [reloaded] = named(serve.log_text(), "config_reloaded")
        assert set(reloaded["applied"]) == {"acd.announce_every_s", "agents.1102"}
        assert reloaded["needs_restart"] == []
        assert await queued_channels(queues) == waiting  # the call was kept
        agent_cli(config_path, fresh_redis.url, "login", "1102")
        await poll(lambda: bridges.channels == waiting, 30, "the same caller answered by 1102")
        assert serve.process is not None and serve.process.poll() is None
        messages = notify_socket.read()
        reloading = next(i for i, m in enumerate(messages) if m.startswith("RELOADING=1"))
        assert any(m.startswith("READY=1") for m in messages[reloading + 1:])
        assert serve.stop() == 0
        assert any(m.startswith("STOPPING=1") for m in notify_socket.read())
    finally:
        await tear_down(serve, admin, store)


@pytest_twisted.ensureDeferred
async def test_sighup_with_a_broken_file_keeps_the_old_config(
        asterisk_site: Instance, fresh_redis: RedisServer, tmp_path: Path) -> None:
    config_path = write_config(tmp_path, agents("test-agent-long", "1101"), ACD)
    good = config_path.read_text()
    broken = yaml.safe_load(good)
    broken["acd"]["announce_every_s"] = -5
    broken["acd"]["queues"]["general"]["wrapup_s"] = "soon"
    broken["agents"].append({"id": "1102", "name": "X", "site": "atlantis",
                             "endpoint": "PJSIP/1102", "skills": {"general": 5}})
    serve = ServeProcess(config_path, asterisk_site, fresh_redis.url, tmp_path / "serve.log")
    store = RedisStore(fresh_redis.url)
    await store.start()
    queues = QueueStore(store, "palembang", load_config(config_path).acd)
    admin = await connect(asterisk_site, user="sandbox-admin", events="call")
    bridges = Bridges(admin)
    try:
        serve.start()
        await call(admin, 2, 1)
        waiting: list[str] = []

        async def one_waits() -> bool:
            waiting[:] = await queued_channels(queues)
            return len(waiting) == 1

        await poll_async(one_waits, 30, "the caller queued")
        config_path.write_text(yaml.safe_dump(broken, allow_unicode=True))
        serve.signal(signal.SIGHUP)
        await poll(lambda: bool(named(serve.log_text(), "config_reload_refused")), 15,
                   "the refusal")
        keys = {p["key"] for p in named(serve.log_text(), "config_problem")}
        assert {"acd.announce_every_s", "acd.queues.general.wrapup_s",
                "agents[1].site"} <= keys, keys
        [refused] = named(serve.log_text(), "config_reload_refused")
        assert refused["level"] == "error"
        assert {p["key"] for p in refused["problems"]} == keys
        assert not named(serve.log_text(), "config_reloaded")
        assert serve.process is not None and serve.process.poll() is None
        # Still serving on the old config: its agent answers the waiting caller.
        config_path.write_text(good)  # for the CLI only; the process is not told
        agent_cli(config_path, fresh_redis.url, "login", "1101")
        await poll(lambda: bridges.channels == waiting, 30, "the caller answered by 1101")
        assert serve.stop() == 0
    finally:
        await tear_down(serve, admin, store)


@pytest_twisted.ensureDeferred
async def test_sigterm_drains_and_the_next_serve_answers_the_waiting_callers_in_order(
        asterisk_site: Instance, fresh_redis: RedisServer, tmp_path: Path) -> None:
    config_path = write_config(tmp_path, agents("test-agent", "1101"), ACD)
    config = load_config(config_path)
    serve = ServeProcess(config_path, asterisk_site, fresh_redis.url, tmp_path / "serve.log")
    store = RedisStore(fresh_redis.url)
    await store.start()
    queues = QueueStore(store, "palembang", config.acd)
    admin = await connect(asterisk_site, user="sandbox-admin", events="call,agi")
    bridges = Bridges(admin)
    announced: list[str] = []   # AGI commands that played a position announcement
    admin.dispatcher.subscribe("AGIExecEnd", lambda m: announced.extend(
        [m.get("Command") or ""] if "queue-position" in (m.get("Command") or "") else []))
    hub_joined = "pln-jakarta" in (asterisk_site.path / "etc" / TRUNK_FILE).read_text()
    try:
        serve.start()
        for index in range(5):
            await call(admin, index, 1 + 0.7 * index)
        order: list[str] = []

        async def five_wait() -> bool:
            order[:] = await queued_channels(queues)
            return len(order) == 5

        await poll_async(five_wait, 40, "5 callers queued")
        await poll(lambda: bool(announced), 20, "announcements running")
        serve.signal(signal.SIGTERM)
        assert serve.wait(30) == 0
        text = serve.log_text()
        assert named(text, "serve_draining") and named(text, "serve_stopped")
        assert not named(text, "hold_subroutine_missing")   # the announcements: one GOSUB
        # Nobody abandoned: the five are still queued, in order, their channels alive.
        assert await queued_channels(queues) == order
        listed = await admin.send_list_action("CoreShowChannels")
        alive = {e.get("Channel") for e in listed.events}
        assert set(order) <= alive
        # The pool sees the site down at once (no agent is lent to a caller here, nobody
        # else's agent takes its callers); Asterisk sends new callers to the hub.
        assert (await StatusBoard(store).read(["palembang"]))["palembang"] is None

        async def alive(client: Any) -> int:
            return int(await client.exists(queues.keys.alive))

        assert await store.run(alive) == 0
        with pytest.raises(AMIError):
            await admin.send_action("DBGet", {"Family": HEARTBEAT_FAMILY,
                                              "Key": HEARTBEAT_KEY})

        if not hub_joined:
            # A caller while no pln123 runs: the dialplan dials the hub, which is not in
            # this session; the Dial fails and the caller falls through to AsyncAGI here.
            await call(admin, 9, 8)
            from twisted.internet.task import deferLater

            from tests.harness.reactor import reactor
            await deferLater(reactor, 3, lambda: None)
            listed = await admin.send_list_action("CoreShowChannels")
            gap = [e for e in listed.events
                   if "pln123-inbound-palembang" in (e.get("Channel") or "")
                   and e.get("Channel") not in order and e.get("Application") == "AGI"]
            assert len(gap) == 1, [(e.get("Channel"), e.get("Application")) for e in
                                   listed.events]
            order.append(gap[0]["Channel"])

        serve.start()
        agent_cli(config_path, fresh_redis.url, "login", "1101")
        await poll(lambda: len(bridges.channels) >= len(order), 90,
                   f"{len(order)} callers answered")
        assert bridges.channels == order
        assert len(named(serve.log_text(), "acd_caller_readopted")) == 5
        assert serve.stop() == 0
    finally:
        await tear_down(serve, admin, store)


async def tear_down(serve: Any, admin: Any, store: Any) -> None:
    """Whatever the test left: the serve process, callers still on the line, connections.
    (The next test's fixture seeds the site's heartbeat again.)"""
    serve.stop()
    await hang_up_callers(admin)
    await admin.stopService()
    await store.close()
