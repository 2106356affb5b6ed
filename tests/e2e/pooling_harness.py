"""Several sites' pln123 (CallCentre) on their own sandbox Asterisk, one shared Redis.

What `pln123 serve` runs per site, in the test process: each Centre logs in to its own
instance's AMI; the instances are joined by their rendered IAX2 trunks
(`asterisk_sandbox.sites(...)`). Callers are Local channels dialled into a site's rendered
inbound context with the sandbox's scripted caller as the other half.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import redis

from acd.settings import AgentSpec, InterflowRule, QueueSettings
from acd.store.redis import RedisStore
from ivr.ami import AMIService, variable_header
from pln123.config import Config, load_config
from pln123.site import AMITarget, CallCentre, build_site
from tests.fixtures.redis_server import RedisServer
from tests.harness.ami import connect
from tests.harness.reactor import clock
from tools.sandbox import Instance

CONFIG = Path(__file__).parents[2] / "deploy" / "config" / "pln.yaml"
AREA = {"palembang": "0711", "medan": "061", "jakarta": "021"}


def agent(agent_id: str, site: str, context: str) -> AgentSpec:
    return AgentSpec(agent_id, f"Agent {agent_id}", site, f"Local/{agent_id}@{context}",
                     {"general": 5})


def config_for(*agents: AgentSpec, **interflow: Any) -> Config:
    config = load_config(CONFIG)
    queues = {skill: QueueSettings(skill, wrapup_s=1.0) for skill in config.skills}
    values: dict[str, Any] = {"reevaluate_s": 1.0, "status_every_s": 0.5,
                              "status_ttl_s": 3.0}
    values.update(interflow)
    return replace(config, acd=replace(
        config.acd, agents=agents, ring_timeout_s=8.0, queues=queues,
        callback_dial="Local/{number}@test-answer",
        interflow=replace(config.acd.interflow, **values)))


def rule(**values: float) -> InterflowRule:
    return InterflowRule(**values)


class Centre:
    def __init__(self, name: str, instance: Instance, config: Config, redis_url: str):
        self.name = name
        self.instance = instance
        self.config = config
        self.redis_url = redis_url
        self.store: RedisStore | None = None
        self.centre: CallCentre | None = None
        # sandbox-admin: for events pln123's rendered user does not receive (AGIExec*).
        self._admin: AMIService | None = None

    async def start(self) -> Centre:
        self.store = RedisStore(self.redis_url)
        await self.store.start()
        self.centre = build_site(
            self.config, self.name, self.store, clock(),
            ami=AMITarget("127.0.0.1", self.instance.ami_port, "pln123",
                          self.instance.pln123_secret))
        self.centre.startService()
        await self.centre.ami.when_connected()
        self._admin = await connect(self.instance, user="sandbox-admin", events="call,agi")
        return self

    @property
    def admin(self) -> AMIService:
        assert self._admin is not None
        return self._admin

    @property
    def site(self) -> CallCentre:
        assert self.centre is not None
        return self.centre

    async def stop(self) -> None:
        if self._admin is not None:
            await self._admin.stopService()
            self._admin = None
        if self.centre is not None:
            await self.centre.stopService()
            self.centre = None
        if self.store is not None:
            await self.store.close()
            self.store = None

    async def call(self, number: str, dtmf: str = "0", **variables: str) -> None:
        """A caller dialling <area code>123 at this site (menu: 0 = an agent)."""
        area = AREA[self.name]
        values = {"DTMF": dtmf, "PAUSE": "1", "HOLD": "60", **variables}
        await self.site.ami.send_action("Originate", {
            "Channel": f"Local/{area}123@pln123-inbound-{self.name}",
            "Context": "test-caller", "Exten": "s", "Priority": "1",
            "CallerID": f'"Pelanggan" <{number}>', "Async": "true",
            "Variable": variable_header(values)})

    def call_id_of(self, number: str) -> str | None:
        engine = self.site.engine
        for session in [*engine.active.values(), *engine.finished]:
            if session.channel.env.get("agi_callerid") == number:
                return session.call_id
        return None

    def sessions_for_area(self, area: str) -> list[Any]:
        engine = self.site.engine
        return [s for s in [*engine.active.values(), *engine.finished]
                if s.area.code == area]


def records(server: RedisServer, call_id: str) -> dict[str, dict[str, str]]:
    """The call's record at every site that knows it."""
    client = redis.Redis(unix_socket_path=str(server.unix_socket), decode_responses=True)
    found = {}
    for key in client.keys(f"acd:{{*}}:call:{call_id}"):
        site = key.split("{", 1)[1].split("}", 1)[0]
        found[site] = client.hgetall(key)
    return found


def answered_at(found: dict[str, dict[str, str]]) -> list[str]:
    """The sites where an agent answered the call."""
    return [site for site, fields in found.items() if fields.get("answered_at")]
