"""The ACD on the sandbox Asterisk: IVR → queue in Redis → agent-first connect, with
Local-channel agents (answer and talk 3 s, or ring and never answer)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted

from acd.agents.state import AgentStatus
from acd.settings import AgentSpec, QueueSettings
from acd.store.redis import RedisStore
from ivr.ami import AMIService, variable_header
from pln123.config import Config, load_config
from pln123.site import AMITarget, CallCentre, build_site
from tests.fixtures.redis_server import RedisServer
from tests.harness.ami import connect
from tests.harness.reactor import clock, poll
from tools.sandbox import Instance

pytestmark = pytest.mark.asterisk

CONFIG = Path(__file__).parents[2] / "deploy" / "config" / "pln.yaml"


def config_with_agents(*agents: AgentSpec) -> Config:
    """One site's ACD alone: pooling (and with it surge admission control, which would
    turn away callers queued before any agent logs in) is tested on its own."""
    config = load_config(CONFIG)
    queues = {skill: QueueSettings(skill, wrapup_s=1.0) for skill in config.skills}
    return replace(config, acd=replace(config.acd, agents=agents, ring_timeout_s=5.0,
                                       queues=queues,
                                       pooling=replace(config.acd.pooling, enabled=False)))


def agent(agent_id: str, context: str) -> AgentSpec:
    return AgentSpec(agent_id, f"Agent {agent_id}", "palembang",
                     f"Local/{agent_id}@{context}", {"general": 5})


class Centre:
    def __init__(self, site: Instance, centre: CallCentre, store: RedisStore,
                 admin: AMIService):
        self.site = site
        self.centre = centre
        self.store = store
        # Observed as sandbox-admin: pln123's rendered AMI user receives no BridgeEnter
        # or AGIExec* (its event filters keep only what pln123 reads).
        self.admin = admin
        self.bridged: list[str] = []  # caller channels, in the order they met an agent
        admin.dispatcher.subscribe("BridgeEnter", self._bridge)

    def _bridge(self, event: Any) -> None:
        channel = event.get("Channel") or ""
        if "pln123-inbound" in channel and channel not in self.bridged:
            self.bridged.append(channel)

    async def call(self, number: str, dtmf: str = "0", pause: float = 1.0) -> None:
        await self.centre.ami.send_action("Originate", {
            "Channel": "Local/0711123@pln123-inbound-palembang",
            "Context": "test-caller", "Exten": "s", "Priority": "1",
            "CallerID": f'"Pelanggan" <{number}>', "Async": "true",
            "Variable": variable_header({"DTMF": dtmf, "PAUSE": f"{pause:g}", "HOLD": "40"}),
        })

    def channel_of(self, number: str) -> str | None:
        engine = self.centre.engine
        for session in [*engine.active.values(), *engine.finished]:
            if session.channel.env.get("agi_callerid") == number:
                return session.channel.channel
        return None

    def queued(self) -> int:
        return sum(1 for s in self.centre.engine.finished if s.outcome == "queued")

    async def stop(self) -> None:
        await self.centre.stopService()
        await self.admin.stopService()
        await self.store.close()


async def start(config: Config, site: Instance, redis: RedisServer) -> Centre:
    store = RedisStore(redis.url)
    await store.start()
    centre = build_site(
        config, "palembang", store, clock(),
        ami=AMITarget("127.0.0.1", site.ami_port, "pln123", site.pln123_secret))
    centre.startService()
    await centre.ami.when_connected()
    admin = await connect(site, user="sandbox-admin", events="call,agi")
    return Centre(site, centre, store, admin)


@pytest_twisted.ensureDeferred
async def test_callers_reach_the_agent_in_the_order_they_queued(
        asterisk_site: Instance, fresh_redis: RedisServer) -> None:
    config = config_with_agents(agent("1001", "test-agent"))
    c = await start(config, asterisk_site, fresh_redis)
    try:
        numbers = ["0811000101", "0811000102", "0811000103"]
        for count, number in enumerate(numbers, start=1):
            await c.call(number)
            await poll(lambda n=count: c.queued() == n, 20, f"{number} in the queue")
        await c.centre.acd.distributor.login("1001")
        await poll(lambda: len(c.bridged) == 3, 40, "three callers served one by one")
        assert c.bridged == [c.channel_of(n) for n in numbers]
    finally:
        await c.stop()


@pytest_twisted.ensureDeferred
async def test_ring_no_answer_requeues_at_the_head_and_pauses_the_agent(
        asterisk_site: Instance, fresh_redis: RedisServer) -> None:
    config = config_with_agents(agent("1002", "test-noanswer"), agent("1003", "test-agent"))
    c = await start(config, asterisk_site, fresh_redis)
    try:
        await c.centre.acd.distributor.login("1002")
        await c.call("0811000201")
        await poll(lambda: c.queued() == 1, 20, "the caller handed to the ACD")

        async def state_of(agent_id: str) -> Any:
            return (await c.centre.acd.queues.agent(agent_id)).state

        for _ in range(60):  # ring timeout 5 s; poll with a deadline
            state = await state_of("1002")
            if state.status is AgentStatus.PAUSED:
                break
            await _sleep(0.2)
        assert state.status is AgentStatus.PAUSED and state.reason == "no answer"
        call_id = c.centre.engine.finished[-1].call_id
        assert await c.centre.acd.queues.position(call_id) == 1  # back at the head
        await c.call("0811000202")
        await poll(lambda: c.queued() == 2, 20, "a second caller behind")
        await c.centre.acd.distributor.login("1003")
        await poll(lambda: len(c.bridged) >= 1, 20, "the first caller served first")
        assert c.bridged[0] == c.channel_of("0811000201")
    finally:
        await c.stop()


async def _sleep(seconds: float) -> None:
    from twisted.internet.task import deferLater

    from tests.harness.reactor import reactor

    await deferLater(reactor, seconds, lambda: None)
