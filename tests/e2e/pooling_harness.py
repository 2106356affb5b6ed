"""Several sites' pln123 on their own sandbox Asterisk, one shared Redis: national pooling.

Each site's pln123 runs as `pln123 serve` would: in the test process (`Centre`, a
CallCentre from `build_site`, logged in to its own instance's AMI), or as a real process
(tests/e2e/serve_harness.py) where a test kills it. The instances are joined by their
rendered IAX2 trunks (`asterisk_sandbox.sites(...)`), so a lent agent rings over the real
trunk into the far site's rendered `[pln123-trunk-in]`. Callers are Local channels dialled
into a site's rendered inbound context with the sandbox's scripted caller as the other
half; agents' phones are Local channels into the sandbox's test contexts.

What the tests look at: the call and agent records and the audit streams in Redis, and
each Asterisk as sandbox-admin (pln123's rendered AMI user receives no BridgeEnter): which
channels met in which bridge, and the `PlnRemoteCall` UserEvent the trunk-in context
raises when another site rings one of its agents.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import redis

from acd.agents.state import AgentStatus
from acd.queues.store import QueueStore
from acd.settings import AgentSpec, QueueSettings
from acd.store.redis import RedisStore
from ivr.ami import AMIService, Message, variable_header
from ivr.dialplan.names import REMOTE_CALL_EVENT
from pln123.config import Config, load_config
from pln123.site import AMITarget, CallCentre, build_site
from tests.fixtures.redis_server import RedisServer
from tests.harness.ami import connect
from tests.harness.reactor import clock, poll
from tools.sandbox import Instance

CONFIG = Path(__file__).parents[2] / "deploy" / "config" / "pln.yaml"
AREA = {"palembang": "0711", "medan": "061", "makassar": "0411", "jakarta": "021"}
REGION = {"palembang": "Palembang", "medan": "Medan", "makassar": "Makassar"}
POOL = "national"
IDPEL = "512345678901"
RING_TIMEOUT_S = 8.0
WRAPUP_S = 1.0


def agent(agent_id: str, site: str, context: str) -> AgentSpec:
    return AgentSpec(agent_id, f"Agent {agent_id}", site, f"Local/{agent_id}@{context}",
                     {"general": 5})


def config_for(*agents: AgentSpec, reserve: Mapping[str, int] | None = None,
               wrapup_s: float = WRAPUP_S, **pooling: Any) -> Config:
    """The shipped config (its pool of five sites, palembang <-> medan siblings, the auto
    reserve) with test agents and timings; `reserve` fixes a site's reserve (every skill)."""
    config = load_config(CONFIG)
    queues = {skill: QueueSettings(skill, wrapup_s=wrapup_s) for skill in config.skills}
    reserves = {**config.acd.pooling.reserve,
                **{(site, ""): str(count) for site, count in (reserve or {}).items()}}
    values: dict[str, Any] = {"status_every_s": 0.5, "status_ttl_s": 3.0,
                              "reserve": reserves}
    values.update(pooling)
    return replace(config, acd=replace(
        config.acd, agents=agents, ring_timeout_s=RING_TIMEOUT_S, queues=queues,
        callback_dial="Local/{number}@test-answer",
        pooling=replace(config.acd.pooling, **values)))


@dataclass
class Watch:
    """What a site's Asterisk showed sandbox-admin: bridges and pooling's UserEvents."""

    bridges: dict[str, list[str]] = field(default_factory=dict)  # bridge id -> channels
    entered: list[tuple[str, str]] = field(default_factory=list)  # (channel, bridge id)
    remote_calls: list[Message] = field(default_factory=list)
    hangups: list[Message] = field(default_factory=list)

    def attach(self, admin: AMIService) -> None:
        admin.dispatcher.subscribe("BridgeEnter", self._enter)
        admin.dispatcher.subscribe("UserEvent", self._user)
        admin.dispatcher.subscribe("Hangup", self.hangups.append)

    def _enter(self, event: Message) -> None:
        bridge = event.get("BridgeUniqueid") or ""
        channel = event.get("Channel") or ""
        self.entered.append((channel, bridge))
        members = self.bridges.setdefault(bridge, [])
        if channel not in members:
            members.append(channel)

    def _user(self, event: Message) -> None:
        if event.get("UserEvent") == REMOTE_CALL_EVENT:
            self.remote_calls.append(event)

    def partners(self, channel: str) -> list[str]:
        """The channels that met `channel` in a bridge, in the order they entered."""
        found: list[str] = []
        for members in self.bridges.values():
            if channel in members:
                found += [c for c in members if c != channel and c not in found]
        return found

    def bridges_of(self, channel: str) -> int:
        """How many bridges `channel` entered."""
        return len({bridge for c, bridge in self.entered if c == channel})

    def remote_call(self, call_id: str) -> Message | None:
        return next((e for e in self.remote_calls if e.get("call") == call_id), None)


async def watch(instance: Instance) -> tuple[AMIService, Watch]:
    admin = await connect(instance, user="sandbox-admin", events="call,agi,user")
    seen = Watch()
    seen.attach(admin)
    return admin, seen


class Centre:
    """One site's pln123 in the test process, and what its Asterisk shows sandbox-admin."""

    def __init__(self, name: str, instance: Instance, config: Config, redis_url: str):
        self.name = name
        self.instance = instance
        self.config = config
        self.redis_url = redis_url
        self.store: RedisStore | None = None
        self.centre: CallCentre | None = None
        self._admin: AMIService | None = None
        self.seen = Watch()

    async def start(self) -> Centre:
        self.store = RedisStore(self.redis_url)
        await self.store.start()
        self.centre = build_site(
            self.config, self.name, self.store, clock(),
            ami=AMITarget("127.0.0.1", self.instance.ami_port, "pln123",
                          self.instance.pln123_secret))
        self.centre.startService()
        await self.centre.ami.when_connected()
        if self._admin is None:
            self._admin, self.seen = await watch(self.instance)
        directory = self.centre.directory
        await poll(lambda: directory.publishes >= 1, 10,
                   f"{self.name}'s agents' phones in AstDB")
        return self

    @property
    def admin(self) -> AMIService:
        assert self._admin is not None
        return self._admin

    @property
    def site(self) -> CallCentre:
        assert self.centre is not None
        return self.centre

    @property
    def queues(self) -> QueueStore:
        return self.site.acd.queues

    async def stop(self) -> None:
        if self.centre is not None:
            await self.centre.stopService()
            self.centre = None
        if self.store is not None:
            await self.store.close()
            self.store = None

    async def close(self) -> None:
        """Stop pln123, hang up this test's callers, close the admin link."""
        await self.stop()
        if self._admin is not None:
            await hang_up_callers(self._admin, self.name)
            await self._admin.stopService()
            self._admin = None

    async def call(self, number: str, dtmf: str = "0", **variables: str) -> None:
        """A caller dialling <area code>123 at this site (menu: 0 = an agent)."""
        await originate_caller(self.admin, self.name, number, dtmf, **variables)

    def session_of(self, number: str) -> Any:
        engine = self.site.engine
        for session in [*engine.active.values(), *engine.finished]:
            if session.channel.env.get("agi_callerid") == number:
                return session
        return None

    def call_id_of(self, number: str) -> str | None:
        session = self.session_of(number)
        return None if session is None else str(session.call_id)

    def sessions_for_area(self, area: str) -> list[Any]:
        engine = self.site.engine
        return [s for s in [*engine.active.values(), *engine.finished]
                if s.area.code == area]

    async def queued_call(self, number: str, seconds: float = 30) -> str:
        """Wait until the caller `number` is in the ACD; their call id."""
        await poll(lambda: (self.session_of(number) is not None
                            and self.session_of(number).outcome == "queued"), seconds,
                   f"caller {number} handed to {self.name}'s ACD")
        call_id = self.call_id_of(number)
        assert call_id is not None
        return call_id


async def originate_caller(admin: AMIService, site: str, number: str, dtmf: str = "0",
                           **variables: str) -> None:
    values = {"DTMF": dtmf, "PAUSE": "1", "HOLD": "90", **variables}
    await admin.send_action("Originate", {
        "Channel": f"Local/{AREA[site]}123@pln123-inbound-{site}",
        "Context": "test-caller", "Exten": "s", "Priority": "1",
        "CallerID": f'"Pelanggan" <{number}>', "Async": "true",
        "Variable": variable_header(values)})


async def hang_up_callers(admin: AMIService, site: str) -> None:
    """Leave no caller or agent leg of this test behind on the instance."""
    listed = await admin.send_list_action("CoreShowChannels")
    for event in listed.events:
        channel = event.get("Channel") or ""
        if f"pln123-inbound-{site}" in channel or channel.startswith(("IAX2/", "Local/")):
            await admin.send_action("Hangup", {"Channel": channel}).addErrback(
                lambda _failure: None)


# -- Redis ------------------------------------------------------------------------------------

def client(server: RedisServer) -> redis.Redis:
    return redis.Redis(unix_socket_path=str(server.unix_socket), decode_responses=True)


def records(server: RedisServer, call_id: str) -> dict[str, dict[str, str]]:
    """The call's record at every site that knows it (only its own site should)."""
    found = {}
    with client(server) as db:
        for key in db.scan_iter(f"acd:{{*}}:*:call:{call_id}"):
            site = key.split("}:", 1)[1].split(":", 1)[0]
            found[site] = db.hgetall(key)
    return found


def answered_at(found: Mapping[str, Mapping[str, str]]) -> list[str]:
    """The sites whose record of the call says an agent answered it."""
    return [site for site, fields in found.items() if fields.get("answered_at")]


def audit(server: RedisServer, site: str, call_id: str | None = None) -> list[dict[str, str]]:
    """The site's audit stream (optionally one call's entries), oldest first."""
    with client(server) as db:
        entries = db.xrange(f"acd:{{{POOL}}}:{site}:audit")
    return [fields for _id, fields in entries
            if call_id is None or fields.get("call") == call_id]


def events_of(server: RedisServer, site: str, call_id: str) -> list[str]:
    return [e["event"] for e in audit(server, site, call_id)]


def agent_fields(server: RedisServer, site: str, agent_id: str) -> dict[str, str]:
    with client(server) as db:
        return dict(db.hgetall(f"acd:{{{POOL}}}:{site}:agent:{agent_id}"))


def queue(server: RedisServer, site: str, skill: str = "general") -> list[str]:
    """The site's waiting call ids for `skill`, first in line first."""
    with client(server) as db:
        return list(db.zrange(f"acd:{{{POOL}}}:{site}:queue:{skill}", 0, -1))


def held_once(server: RedisServer, sites: tuple[str, ...]) -> list[str]:
    """What breaks 'nobody booked twice' right now: an agent holding a call whose record
    names another agent, or two agents holding one call."""
    problems = []
    holders: dict[tuple[str, str], list[str]] = {}
    with client(server) as db:
        for site in sites:
            for key in db.scan_iter(f"acd:{{{POOL}}}:{site}:agent:*"):
                if key.endswith(":skills"):
                    continue
                fields = db.hgetall(key)
                call = fields.get("call") or ""
                if not call:
                    continue
                agent_id = key.rsplit(":", 1)[1]
                call_site = fields.get("call_site") or site
                holders.setdefault((call_site, call), []).append(f"{site}/{agent_id}")
                record = db.hgetall(f"acd:{{{POOL}}}:{call_site}:call:{call}")
                if record.get("agent") != agent_id or (record.get("agent_site") or call_site
                                                       ) != site:
                    problems.append(f"{site}/{agent_id} holds {call_site}/{call}, whose "
                                    f"record names {record.get('agent_site')}/"
                                    f"{record.get('agent')} ({record.get('state')})")
    problems += [f"{call} held by {agents}" for call, agents in holders.items()
                 if len(agents) > 1]
    return problems


def status_of(fields: Mapping[str, str]) -> AgentStatus:
    return AgentStatus(fields.get("state") or "logged_out")
