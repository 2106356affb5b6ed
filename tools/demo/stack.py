"""The whole real stack on one machine: sandbox Asterisks, Redis, one `pln123 serve` per site,
the dashboard. Shared by `pln123 demo` and `pln123 loadtest`.

Why subprocesses and not objects in this process: the demo must show the product as an
operator runs it (the same commands, config file and JSON logs), and the load test must
measure a real pln123 process's CPU time in /proc. Start order: Asterisk (the sandbox, all
sites in one `up` so their IAX2 trunks are joined), Redis, the sites' pln123, the
dashboard. Stop order is the reverse, every step by PID, and it runs whatever failed.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

from acd.settings import PoolingSettings
from acd.store.keys import SiteKeys
from ivr.ami import variable_header
from ivr.dialplan.features import agent_command
from pln123.cli.agent import STREAM_MAXLEN, stream_fields, stream_key
from tools.demo.processes import Child, ChildError, pln123_command
from tools.redis_server import RedisServer, RedisServerError, start_redis
from tools.sandbox import ADMIN_USER, DEFAULT_CACHE_DIR, Instance, RawAmi, Sandbox, SandboxError

Say = Callable[[str], None]


def work_folder(given: Path | None,
                prefix: str) -> tuple[Path, tempfile.TemporaryDirectory[str] | None]:
    """The stack's working folder: `given` (created if missing), or a new temporary one
    that the caller removes (returned too) when the run is over."""
    if given is not None:
        given.mkdir(parents=True, exist_ok=True)
        return given, None
    temporary = tempfile.TemporaryDirectory(prefix=prefix)
    return Path(temporary.name), temporary


class StackError(RuntimeError):
    """Something the stack could not start or keep running; the message says what."""


@dataclass
class StackSettings:
    config: Path            # the generated overlay (tools.demo.config.write_overlay)
    # The overlay's pooling: which pool each site is in gives its keys' hash tag.
    pooling: PoolingSettings
    sites: Sequence[str]
    workdir: Path           # logs, secrets copies, the embedded Redis's socket
    namespace: str = "demo"
    cache_dir: Path = DEFAULT_CACHE_DIR
    redis_url: str | None = None      # None: an embedded redis-server
    dashboard: str | None = None      # "host:port", None: no dashboard
    sip: bool = False                 # Asterisk also opens a loopback SIP port (carriers)
    start_timeout_s: float = 60.0


@dataclass
class Stack:
    settings: StackSettings
    say: Say = print
    sandbox: Sandbox | None = None
    instances: dict[str, Instance] = field(default_factory=dict)
    redis_server: RedisServer | None = None
    redis_url: str = ""
    serves: dict[str, Child] = field(default_factory=dict)
    dashboard: Child | None = None
    _ami: dict[str, RawAmi] = field(default_factory=dict)
    _client: redis.Redis | None = None

    # -- life cycle ----------------------------------------------------------------------
    def start(self) -> Stack:
        """Start everything; on any failure stop what was started and raise StackError."""
        try:
            self._start_asterisk()
            self._start_redis()
            self._start_serves()
            self._start_dashboard()
        except (SandboxError, RedisServerError, ChildError, OSError) as error:
            self.stop()
            raise StackError(str(error)) from error
        except BaseException:
            self.stop()
            raise
        return self

    def _start_asterisk(self) -> None:
        s = self.settings
        self.sandbox = Sandbox(s.cache_dir, s.namespace)
        self.sandbox.build(report=self.say)
        if self.sandbox.instances():  # left by a run that was killed: start clean
            self.say(f"stopping the sandbox instances left in namespace {s.namespace!r}")
            self.sandbox.down()
        self.say(f"starting Asterisk for {', '.join(s.sites)} (namespace {s.namespace})")
        for instance in self.sandbox.up(list(s.sites), free_ports=True, sip=s.sip,
                                        config_file=s.config if s.sip else None):
            self.instances[instance.site] = instance

    def _start_redis(self) -> None:
        if self.settings.redis_url:
            self.redis_url = self.settings.redis_url
            return
        self.redis_server = start_redis(tcp=False, prefix="pln123-demo-")
        self.redis_url = self.redis_server.url
        self.say(f"started redis-server (pid {self.redis_pid}) on {self.redis_url}")

    def _start_serves(self) -> None:
        s = self.settings
        for site, instance in self.instances.items():
            secret = s.workdir / f"ami-{site}.secret"
            secret.touch(mode=0o600)
            secret.write_text(instance.pln123_secret, encoding="utf-8")
            child = Child(f"pln123 serve {site}", pln123_command(
                "serve", "--config", str(s.config), "--site", site,
                "--ami-port", str(instance.ami_port), "--ami-secret-file", str(secret),
                "--redis-url", self.redis_url, "--no-dashboard"),
                s.workdir / f"serve-{site}.log")
            self.serves[site] = child.start()
        for site, child in self.serves.items():
            child.wait_for(lambda text: '"ami_connected"' in text, s.start_timeout_s,
                           "AMI login")
            self.say(f"started pln123 serve --site {site} (pid {child.pid})")

    def _start_dashboard(self) -> None:
        s = self.settings
        if s.dashboard is None:
            return
        child = Child("pln123 dashboard", pln123_command(
            "dashboard", "--config", str(s.config), "--listen", s.dashboard,
            "--redis-url", self.redis_url), s.workdir / "dashboard.log")
        self.dashboard = child.start()
        child.wait_for(lambda text: "serving" in text, s.start_timeout_s, "the listening line")
        self.say(f"started pln123 dashboard (pid {child.pid})")

    def check(self) -> None:
        """StackError naming the first child (or Asterisk) that is no longer running."""
        for site, child in self.serves.items():
            if not child.alive():
                raise StackError(f"pln123 serve --site {site} exited:\n{child.tail()}")
        if self.dashboard is not None and not self.dashboard.alive():
            raise StackError(f"pln123 dashboard exited:\n{self.dashboard.tail()}")
        if self.redis_server is not None and not self.redis_server.alive():
            raise StackError("the embedded redis-server exited")
        for site, instance in self.instances.items():
            if not instance.is_running():
                raise StackError(f"Asterisk of {site} is no longer running:\n"
                                 f"{instance.log_tail(10)}")

    def stop(self) -> None:
        """Stop everything that was started, in reverse order, by PID. Safe to call twice."""
        for session in self._ami.values():
            session.close()
        self._ami.clear()
        if self._client is not None:
            self._client.close()
            self._client = None
        if self.dashboard is not None:
            self.dashboard.stop()
        for child in self.serves.values():
            if child.alive():
                assert child.process is not None
                child.process.terminate()  # all at once: each takes ~1 s to drain
        for child in self.serves.values():
            child.stop()
        if self.sandbox is not None:
            try:
                self.sandbox.down()
            except SandboxError as error:
                self.say(f"sandbox down: {error}")
            self.instances.clear()
        if self.redis_server is not None:
            self.redis_server.close()

    # -- what the demo and the load test do with it ---------------------------------------
    @property
    def redis_pid(self) -> int | None:
        return None if self.redis_server is None else self.redis_server.pid

    def pids(self) -> dict[str, int]:
        """Every process of the stack by role ("asterisk:palembang", "serve:medan", ...)."""
        found = {f"asterisk:{site}": i.pid for site, i in self.instances.items()
                 if i.pid is not None}
        found.update({f"serve:{site}": c.pid for site, c in self.serves.items()
                      if c.process is not None})
        if self.dashboard is not None and self.dashboard.process is not None:
            found["dashboard"] = self.dashboard.pid
        if self.redis_pid is not None:
            found["redis"] = self.redis_pid
        return found

    @property
    def client(self) -> redis.Redis:
        """A blocking Redis client for the tooling (not pln123's own store)."""
        if self._client is None:
            self._client = redis.Redis.from_url(self.redis_url, decode_responses=True)
        return self._client

    def ami(self, site: str) -> RawAmi:
        """The sandbox's admin AMI session of `site` (events off): for originating callers."""
        session = self._ami.get(site)
        if session is None:
            instance = self.instances[site]
            session = instance.ami(ADMIN_USER, events="off")
            self._ami[site] = session
        return session

    def call(self, site: str, area_code: str, number: str, variables: Mapping[str, str]
             ) -> None:
        """A caller dialling <area code>123 into `site`'s rendered inbound context; the
        other half of the Local channel is the sandbox's scripted caller ([test-caller])."""
        if not (area_code.isdigit() and number.isdigit()):
            raise ValueError(f"bad area code {area_code!r} or number {number!r}")
        reply = self.ami(site).action("Originate", {
            "Channel": f"Local/{area_code}123@pln123-inbound-{site}",
            "Context": "test-caller", "Exten": "s", "Priority": "1",
            "CallerID": f'"Pelanggan" <{number}>', "Async": "true",
            "Variable": variable_header(dict(variables))})
        if reply.get("Response") != "Success":
            raise StackError(f"Originate at {site} refused: {reply.get('Message')}")

    def login_agents(self, agents: Mapping[str, Sequence[str]]) -> None:
        """Log agents in through their site's command stream, as `pln123 agent login` does."""
        for site, ids in agents.items():
            for agent_id in ids:
                command = agent_command("login", agent_id, None)
                fields: dict[Any, Any] = stream_fields(command, time.time())
                self.client.xadd(stream_key(site, self.settings.pooling), fields,
                                 maxlen=STREAM_MAXLEN, approximate=True)

    def keys(self, site: str) -> SiteKeys:
        """The Redis keys of `site`'s ACD, under its pool's hash tag as its pln123 uses them."""
        return SiteKeys(site, self.settings.pooling.pool_of(site))

    def agent_states(self, site: str) -> dict[str, str]:
        """agent id -> state, as the site's pln123 keeps it in Redis."""
        states = self.client.hgetall(self.keys(site).agents)
        return {str(agent): str(state) for agent, state in states.items()}
