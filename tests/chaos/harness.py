"""A site under fault injection: its `pln123 serve` as a real process against the sandbox
Asterisk and a real Redis, scripted callers and agents, and the invariants every fault
must leave intact.

Callers are Local channels dialled into the site's rendered inbound context; their other
half runs the sandbox's `test-caller` script (presses 0 for an agent, then holds). Agents'
phones are Local channels into `test-answer` (answer and talk until hung up). What the
tests look at: the call and agent records in Redis and, as sandbox-admin, the channels
Asterisk really has (`CoreShowChannels`), matched by Uniqueid.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

import redis
import yaml
from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IListeningPort
from twisted.internet.task import deferLater
from twisted.protocols import portforward
from twisted.python.failure import Failure

from acd.store.keys import SiteKeys
from ivr.ami import AMIService, variable_header
from tests.doubles.config import shipped_data
from tests.fixtures.redis_server import RedisServer
from tests.harness.ami import connect
from tests.harness.reactor import poll, reactor
from tools.sandbox import Instance

REPO = Path(__file__).resolve().parents[2]
SITE = "palembang"
AREA = "0711"
INBOUND = f"pln123-inbound-{SITE}"
WAITING = ("queued", "reserved", "connected", "called_back")
# Pooling (and with it surge admission control, which turns callers away while no agent
# is logged in) is tested elsewhere: one site's ACD alone.
ACD: dict[str, Any] = {"ring_timeout_s": 8, "queues": {"general": {"wrapup_s": 1}},
                       "callback_dial": "Local/{number}@test-answer",
                       "pooling": {"enabled": False}}


def write_config(tmp: Path, agents: list[str], acd: dict[str, Any] | None = None,
                 phone: str = "test-answer") -> Path:
    """The shipped config with `agents` at palembang (phones into `phone`) and the test
    timings; secret paths made absolute."""
    data = shipped_data()
    data["agents"] = [{"id": agent_id, "name": f"Agent {agent_id}", "site": SITE,
                       "endpoint": f"Local/{agent_id}@{phone}", "skills": {"general": 5}}
                      for agent_id in agents]
    data["acd"] = {**data.get("acd", {}), **ACD, **(acd or {})}
    path = tmp / "pln.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


class Serve:
    """`pln123 serve` for the site, started and killed by PID; `ami_port` may point at a
    proxy in front of Asterisk; `dashboard` (host:port) mounts the dashboard in the same
    process; `environ` is added to the process's environment (e.g. `NOTIFY_SOCKET`)."""

    def __init__(self, config: Path, instance: Instance, redis_url: str, log: Path,
                 ami_port: int | None = None, *, dashboard: str | None = None,
                 environ: Mapping[str, str] | None = None):
        self.config = config
        self.instance = instance
        self.redis_url = redis_url
        self.log = log
        self.ami_port = ami_port or instance.ami_port
        self.dashboard = dashboard
        self.environ = dict(environ or {})
        self.process: subprocess.Popen[bytes] | None = None
        self.secret = log.parent / f"ami-{instance.site}.secret"
        self.secret.write_text(instance.pln123_secret, encoding="utf-8")
        os.chmod(self.secret, 0o600)

    def launch(self) -> int:
        """Start the process; the log offset its `ami_connected` will be after."""
        offset = self.log.stat().st_size if self.log.exists() else 0
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "pln123.cli.main", "serve", "--config", str(self.config),
                 "--site", self.instance.site, "--ami-port", str(self.ami_port),
                 "--ami-secret-file", str(self.secret), "--redis-url", self.redis_url,
                 *(["--dashboard-listen", self.dashboard] if self.dashboard
                   else ["--no-dashboard"])],
                stdout=out, stderr=subprocess.STDOUT, cwd=REPO,
                env={**os.environ, **self.environ})
        return offset

    def _connected(self, offset: int) -> bool:
        text = self.log.read_bytes()[offset:].decode(errors="replace")
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"pln123 serve exited: {text[-2000:]}")
        return '"ami_connected"' in text

    def start(self, timeout: float = 20.0) -> None:
        """Start and wait (blocking) until it logged in to AMI."""
        offset = self.launch()
        deadline = time.monotonic() + timeout
        while not self._connected(offset):
            if time.monotonic() > deadline:
                raise RuntimeError("pln123 serve did not connect to AMI in time")
            time.sleep(0.1)

    async def start_async(self, timeout: float = 20.0) -> None:
        """Start and wait until it logged in, the reactor running meanwhile (a proxy in
        this process carries its AMI link)."""
        offset = self.launch()
        await poll(lambda: self._connected(offset), timeout, "pln123 serve on AMI")

    def kill9(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def count(self, event: str) -> int:
        """How many log lines of this event the process wrote (every start included)."""
        return self.log_text().count(f'"event": "{event}"')


def kill9_asterisk(instance: Instance) -> None:
    """SIGKILL the site's Asterisk (no shutdown, no Hangup events), then reap it."""
    assert instance.pid is not None
    os.kill(instance.pid, signal.SIGKILL)
    instance.stop()


class Scene:
    """The site, its Redis, its pln123 and an admin AMI link to watch Asterisk."""

    def __init__(self, instance: Instance, server: RedisServer, serve: Serve):
        self.instance = instance
        self.server = server
        self.serve = serve
        self.admin: AMIService | None = None

    async def open(self) -> None:
        await self.serve.start_async()
        await self.reconnect_admin()

    async def reconnect_admin(self) -> None:
        if self.admin is not None:
            await self.admin.stopService()
        self.admin = await connect(self.instance, user="sandbox-admin", events="call")

    async def close(self) -> None:
        self.serve.stop()
        if self.admin is not None:
            await self.hang_up_all()
            await self.admin.stopService()
            self.admin = None

    # -- Asterisk -----------------------------------------------------------------------

    async def channels(self) -> list[dict[str, str]]:
        assert self.admin is not None
        listed = await self.admin.send_list_action("CoreShowChannels")
        return [{key: event.get(key) or "" for key in
                 ("Channel", "Uniqueid", "Linkedid", "Application", "BridgeId", "Context")}
                for event in listed.events]

    async def gone(self, uniqueid: str) -> bool:
        return all(c["Uniqueid"] != uniqueid for c in await self.channels())

    async def call(self, number: str, hold: int = 120) -> None:
        """A caller dialling palembang, pressing 0 for an agent, holding `hold` seconds."""
        assert self.admin is not None
        await self.admin.send_action("Originate", {
            "Channel": f"Local/{AREA}123@{INBOUND}", "Context": "test-caller",
            "Exten": "s", "Priority": "1", "CallerID": f'"Pelanggan" <{number}>',
            "Async": "true",
            "Variable": variable_header({"DTMF": "0", "PAUSE": "1", "HOLD": str(hold)})})

    async def hang_up(self, channel: str) -> None:
        assert self.admin is not None
        await self.admin.send_action("Hangup", {"Channel": channel})

    async def hang_up_all(self) -> None:
        assert self.admin is not None
        for channel in await self.channels():
            if channel["Channel"].startswith("Local/"):  # its other half may be gone already
                await self.admin.send_action("Hangup", {"Channel": channel["Channel"]}
                                             ).addErrback(lambda _failure: None)

    # -- Redis --------------------------------------------------------------------------

    def db(self) -> redis.Redis:
        return redis.Redis(unix_socket_path=str(self.server.unix_socket),
                           decode_responses=True)

    keys = SiteKeys(SITE, SITE)  # pooling is off: the site is a pool of its own

    def live_calls(self) -> dict[str, dict[str, str]]:
        """call id -> record of the site's calls not yet abandoned or finished."""
        with self.db() as db:
            return {call_id: db.hgetall(self.keys.call(call_id))
                    for call_id in db.smembers(self.keys.live)}

    def calls_by_number(self, number: str) -> list[dict[str, str]]:
        with self.db() as db:
            found = [db.hgetall(key) for key in db.scan_iter(self.keys.call("*"))]
        return [fields for fields in found if fields.get("caller_number") == number]

    def agent(self, agent_id: str) -> dict[str, str]:
        with self.db() as db:
            return dict(db.hgetall(self.keys.agent(agent_id)))

    def agent_cli(self, action: str, agent_id: str) -> None:
        subprocess.run([sys.executable, "-m", "pln123.cli.main", "agent", action, agent_id,
                        "--config", str(self.serve.config), "--redis-url",
                        self.server.url], check=True, cwd=REPO, capture_output=True)

    # -- waiting ------------------------------------------------------------------------

    async def state_of(self, number: str, state: str, seconds: float = 30) -> dict[str, str]:
        """Wait until the caller's latest call record is in `state`; that record."""
        def reached() -> bool:
            records = self.calls_by_number(number)
            return bool(records) and records[-1].get("state") == state

        await poll(reached, seconds, f"caller {number}'s call {state}")
        return self.calls_by_number(number)[-1]

    async def agent_is(self, agent_id: str, *states: str, seconds: float = 30) -> None:
        await poll(lambda: self.agent(agent_id).get("state") in states, seconds,
                   f"agent {agent_id} {'/'.join(states)} (is {self.agent(agent_id)})")

    async def problems(self, agents: list[str]) -> list[str]:
        """What breaks the invariants right now.

        Every call Redis holds as waiting or talking has a live caller channel (by
        Uniqueid); every agent holding a call holds a live one; every caller channel
        Asterisk has in the ACD's hands is queued or talking.
        """
        channels = await self.channels()
        alive = {c["Uniqueid"] for c in channels}
        found = []
        live = self.live_calls()
        for call_id, fields in live.items():
            state = fields.get("state", "")
            if state == "called_back":
                continue
            if state not in WAITING:
                found.append(f"call {call_id} live in state {state!r}")
            elif fields.get("uniqueid", "") not in alive:
                found.append(f"call {call_id} {state} without a live channel "
                             f"({fields.get('channel')} {fields.get('uniqueid')})")
        for agent_id in agents:
            record = self.agent(agent_id)
            if record.get("state") in ("reserved", "on_call"):
                call = record.get("call", "")
                if call not in live:
                    found.append(f"agent {agent_id} {record.get('state')} with call {call} "
                                 "that is over")
        held = {fields.get("uniqueid") for fields in live.values()}
        for channel in channels:
            if (INBOUND in channel["Channel"] and channel["Channel"].endswith(";2")
                    and channel["Uniqueid"] not in held):
                found.append(f"caller {channel['Channel']} in {channel['Application']} "
                             "neither queued nor talking")
        return found

    async def settled(self, agents: list[str], seconds: float = 30) -> None:
        """Poll the invariants until they hold (reconciliation done), or fail naming them."""
        seen: list[str] = []

        async def check() -> bool:
            seen[:] = await self.problems(agents)
            return not seen

        await poll_async(check, seconds, lambda: f"the invariants ({seen})")


async def poll_async(predicate: Callable[[], Awaitable[bool]], seconds: float,
                     what: str | Callable[[], str]) -> None:
    """Poll an async `predicate` every 200 ms until true, or fail after `seconds`."""
    deadline = reactor.seconds() + seconds
    while not await predicate():
        if reactor.seconds() > deadline:
            named = what() if callable(what) else what
            raise AssertionError(f"timed out after {seconds}s waiting for {named}")
        await deferLater(reactor, 0.2, lambda: None)


class _Forward(portforward.ProxyServer):
    def connectionMade(self) -> None:
        self.factory.open.add(self)  # type: ignore[attr-defined]
        super().connectionMade()

    def connectionLost(self, reason: Failure = Failure(ConnectionError())) -> None:  # noqa: B008
        self.factory.open.discard(self)  # type: ignore[attr-defined]
        super().connectionLost(reason)


class _Forwarder(portforward.ProxyFactory):
    protocol = _Forward

    def __init__(self, host: str, port: int):
        super().__init__(host, port)
        self.open: set[_Forward] = set()


class LinkCutter:
    """A TCP proxy between pln123 and Asterisk's AMI: `cut()` drops every connection and
    refuses new ones (the network between them fails), `mend()` lets them through again
    on the same port."""

    def __init__(self, ami_port: int):
        self.factory = _Forwarder("127.0.0.1", ami_port)
        self.listening: IListeningPort | None = reactor.listenTCP(0, self.factory,
                                                                  interface="127.0.0.1")
        self.port: int = self.listening.getHost().port

    def cut(self) -> Deferred[None]:
        for server in list(self.factory.open):
            if server.transport is not None:
                server.transport.abortConnection()  # type: ignore[attr-defined]
        listening, self.listening = self.listening, None
        return listening.stopListening() if listening is not None else succeed(None)

    def mend(self) -> None:
        self.listening = reactor.listenTCP(self.port, self.factory, interface="127.0.0.1")

    def close(self) -> Deferred[None]:
        return self.cut()
