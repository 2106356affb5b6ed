"""Phone awareness with real SIP phones: two baresip agents registered to the sandbox's
Asterisk (an instance with SIP: the site's rendered PJSIP agent endpoints on loopback).
One phone unregisters mid-shift; Asterisk's own events (ContactStatus, DeviceStateChange)
take that agent out of line, and the next caller is offered to the other agent at once:
the unregistered phone is never rung (no ring timeout, no "no answer" pause). When the
phone registers again the agent is back in line. The same instance's never-registered
endpoints show the re-read after login (PJSIPShowEndpoints): an agent whose phone never
registered is ready but offered nothing."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted

from acd.agents.state import AgentStatus
from acd.settings import AgentSpec
from ivr.asterisk.pjsip import read_agent_secrets
from tests.doubles.config import SHIPPED
from tests.e2e.test_acd_asterisk import Centre, config_with_agents, start
from tests.fixtures.asterisk_sandbox import SandboxSession, assume_pln123_alive
from tests.fixtures.availability import skip_or_fail
from tests.fixtures.redis_server import RedisServer
from tests.harness.reactor import poll
from tests.harness.sip import BaresipAgent, SipSite, missing_sip_clients, start_sip_site

pytestmark = pytest.mark.asterisk

SECRETS = SHIPPED.parent / "secrets" / "agents-palembang.secret"


@pytest.fixture(scope="module")
def sip_site(sandbox_root: SandboxSession) -> Iterator[SipSite]:
    """palembang with SIP, in a namespace of its own (the session's palembang has none)."""
    reason = missing_sip_clients()
    if reason is not None:
        skip_or_fail(reason)
    site = start_sip_site(SHIPPED)
    try:
        assume_pln123_alive(site.instance)
        yield site
    finally:
        site.close()


def register(site: SipSite, agent_id: str, workdir: Path) -> BaresipAgent:
    return BaresipAgent.start(site, agent_id, read_agent_secrets(SECRETS)[agent_id], workdir)


def phone_agent(agent_id: str) -> AgentSpec:
    return AgentSpec(agent_id, f"Agent {agent_id}", "palembang", f"PJSIP/{agent_id}",
                     {"general": 5})


async def agent_field(c: Centre, agent_id: str, name: str) -> str:
    key = c.centre.acd.queues.keys.agent(agent_id)

    async def read(client: Any) -> str:
        value = await client.hget(key, name)
        return value.decode() if isinstance(value, bytes) else (value or "")

    return str(await c.store.run(read))


async def wait_phone(c: Centre, agent_id: str, state: str, seconds: float = 15.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if (await agent_field(c, agent_id, "phone") or "available") == state:
            return
        await _sleep(0.2)
    raise AssertionError(f"agent {agent_id}'s phone never became {state}")


async def _sleep(seconds: float) -> None:
    from twisted.internet.task import deferLater

    from tests.harness.reactor import reactor

    await deferLater(reactor, seconds, lambda: None)


@pytest_twisted.ensureDeferred
async def test_a_phone_unregistering_mid_shift_sends_the_next_caller_elsewhere_at_once(
        sip_site: SipSite, fresh_redis: RedisServer, tmp_path: Path) -> None:
    phones = {agent: register(sip_site, agent, tmp_path) for agent in ("1001", "1002")}
    config = config_with_agents(phone_agent("1001"), phone_agent("1002"), phone_agent("1003"))
    c = await start(config, sip_site.instance, fresh_redis)
    distributor = c.centre.acd.distributor
    devices: list[str] = []  # DeviceStateChange as pln123's rendered AMI user receives it
    c.centre.ami.dispatcher.subscribe(
        "DeviceStateChange", lambda event: devices.append(event.get("Device") or ""))
    try:
        monitor = c.centre.phones
        assert monitor is not None
        await poll(lambda: monitor.resyncs >= 1, 10, "the phones read after the login")
        # 1003 never registered: Asterisk lists its endpoint Unavailable
        await wait_phone(c, "1003", "unregistered")
        for agent_id in ("1001", "1002"):
            await wait_phone(c, agent_id, "available")
        await distributor.login("1003")
        await distributor.login("1001")          # 1003 and 1001 wait longer than 1002
        await _sleep(0.1)
        await distributor.login("1002")

        phones["1001"].stop()                    # unregisters: Asterisk tells at once
        await wait_phone(c, "1001", "unregistered")
        before = {a: await c.centre.acd.queues.agent(a) for a in ("1001", "1003")}

        await c.call("0811000901")
        await poll(lambda: c.queued() == 1, 20, "the caller handed to the ACD")
        started = time.monotonic()
        await poll(lambda: len(c.bridged) == 1, 20, "the caller bridged with an agent")
        answered_in = time.monotonic() - started
        # The bridge can be seen before the ACD has recorded the answer: poll for it.
        deadline = time.monotonic() + 10
        while (await c.centre.acd.queues.agent("1002")).state.status is not AgentStatus.ON_CALL:
            assert time.monotonic() < deadline, "1002 never recorded on the call"
            await _sleep(0.1)
        assert answered_in < config.acd.ring_timeout_s + 3  # no ring timeout waited out
        for agent_id, was in before.items():              # never rung, never paused
            now = await c.centre.acd.queues.agent(agent_id)
            assert (now.state.status, now.version) == (AgentStatus.READY, was.version)

        # Asterisk's filter lets the phones' device states through, never a Local channel's
        # (the caller's legs changed state many times meanwhile).
        assert "PJSIP/1001" in devices, devices
        assert not [d for d in devices if not d.startswith("PJSIP/")], devices

        phones["1001"] = register(sip_site, "1001", tmp_path)  # registers again: back in line
        await wait_phone(c, "1001", "available")
        assert (await c.centre.acd.queues.agent("1001")).state.status is AgentStatus.READY
    finally:
        for phone in phones.values():
            phone.stop()
        await c.stop()
