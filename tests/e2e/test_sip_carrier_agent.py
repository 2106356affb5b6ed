"""Real SIP on both ends: SIPp callers over the rendered carrier trunk, a baresip agent on
the rendered agent endpoint, pln123's IVR and ACD in between (one SIP sandbox instance for
the module).

The agent logs in from the phone (*11), a caller dialling +62711123 reports a fault with
their IDPEL and presses the agent key, all as RFC 4733 events; the agent's phone answers,
caller and agent are bridged, RTP flows both ways while they talk, and either side's
hang-up ends the call. Plain 123 with the area code in a header lands in that area.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from twisted.internet.task import deferLater

from acd.agents.state import AgentStatus
from acd.settings import QueueSettings
from acd.store.redis import RedisStore
from ivr.ami import AMIService
from ivr.asterisk.pjsip import read_agent_secrets
from pln123.config import Config, load_config
from pln123.site import AMITarget, CallCentre, build_site
from tests.doubles.config import shipped_data, write_config
from tests.fixtures.asterisk_sandbox import SandboxSession, assume_pln123_alive
from tests.fixtures.availability import skip_or_fail
from tests.fixtures.redis_server import RedisServer
from tests.harness.ami import connect
from tests.harness.reactor import clock, poll, reactor
from tests.harness.sip import (
    BaresipAgent,
    Key,
    SippCaller,
    SipSite,
    keys,
    missing_sip_clients,
    start_sip_site,
)

pytestmark = pytest.mark.asterisk

IDPEL = "512345678901"
AGENT = "1001"
CARRIER = {"from": ["203.0.113.10"], "numbers": ["national", "e164", "local"],
           "area_code": "0711", "area_code_header": "X-PLN-Area", "codecs": ["alaw"]}


@pytest.fixture(scope="module")
def sip_site(sandbox_root: SandboxSession, tmp_path_factory: pytest.TempPathFactory
             ) -> Iterator[tuple[SipSite, Path]]:
    """Palembang with a loopback SIP port, its carrier `telkom` and the roster's agents."""
    reason = missing_sip_clients()
    if reason is not None:
        skip_or_fail(reason)
    data = shipped_data()
    data["sites"]["palembang"]["sip"] = {"bind": "10.123.1.10", "carriers": {"telkom": CARRIER}}
    folder = tmp_path_factory.mktemp("sip")
    config_file = write_config(folder, data)
    site = start_sip_site(config_file)
    try:
        assume_pln123_alive(site.instance)
        yield site, config_file
    finally:
        site.close()


def agent_secret(config: Config, agent_id: str) -> str:
    path = config.asterisk.agent_secrets_path("palembang")
    assert path is not None
    return read_agent_secrets(path)[agent_id]


class Centre:
    """pln123's site wired as `pln123 serve` wires it, watched through sandbox-admin."""

    def __init__(self, centre: CallCentre, store: RedisStore, admin: AMIService):
        self.centre = centre
        self.store = store
        self.admin = admin
        self.bridges: dict[str, set[str]] = {}  # bridge id -> channels in it now
        self.ever_bridged: list[set[str]] = []
        admin.dispatcher.subscribe("BridgeEnter", self._enter)
        admin.dispatcher.subscribe("BridgeLeave", self._leave)

    def _enter(self, event: Any) -> None:
        members = self.bridges.setdefault(event.get("BridgeUniqueid") or "", set())
        members.add(event.get("Channel") or "")
        if len(members) == 2:
            self.ever_bridged.append(set(members))

    def _leave(self, event: Any) -> None:
        self.bridges.get(event.get("BridgeUniqueid") or "", set()).discard(
            event.get("Channel") or "")

    def pair(self) -> tuple[str, str] | None:
        """(carrier channel, agent channel) of a bridge holding both now."""
        for members in self.bridges.values():
            caller = next((c for c in members if c.startswith("PJSIP/telkom-")), None)
            agent = next((c for c in members if c.startswith(f"PJSIP/{AGENT}-")), None)
            if caller and agent:
                return caller, agent
        return None

    async def rtp(self, channel: str) -> tuple[int, int]:
        """(packets Asterisk received, packets it sent) on `channel`'s audio stream."""
        counts = []
        for kind in ("rxcount", "txcount"):
            response = await self.admin.send_action(
                "Getvar", {"Channel": channel, "Variable": f"CHANNEL(rtcp,{kind})"})
            counts.append(int(response.get("Value") or 0))
        return counts[0], counts[1]

    async def status(self, agent_id: str) -> AgentStatus:
        return (await self.centre.acd.queues.agent(agent_id)).state.status

    async def stop(self) -> None:
        await self.centre.stopService()
        await self.admin.stopService()
        await self.store.close()


async def start_centre(config_file: Path, site: SipSite, redis: RedisServer) -> Centre:
    config = load_config(config_file)
    queues = {skill: QueueSettings(skill, wrapup_s=1.0) for skill in config.skills}
    agents = tuple(a for a in config.acd.agents if a.id == AGENT)
    config = replace(config, acd=replace(config.acd, agents=agents, ring_timeout_s=8.0,
                                         queues=queues,
                                         pooling=replace(config.acd.pooling, enabled=False)))
    store = RedisStore(redis.url)
    await store.start()
    centre = build_site(config, "palembang", store, clock(),
                        ami=AMITarget("127.0.0.1", site.instance.ami_port, "pln123",
                                      site.instance.pln123_secret))
    centre.startService()
    await centre.ami.when_connected()
    admin = await connect(site.instance, user="sandbox-admin", events="call")
    return Centre(centre, store, admin)


async def sleep(seconds: float) -> None:
    await deferLater(reactor, seconds, lambda: None)


async def until(predicate: Any, seconds: float, what: str) -> None:
    """Like poll, for an async predicate."""
    for _ in range(int(seconds / 0.2)):
        if await predicate():
            return
        await sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


async def logged_in_from_the_phone(c: Centre, phone: BaresipAgent) -> None:
    phone.dial("*11")
    await until(lambda: _is(c, AgentStatus.READY), 15, "*11 from the phone to log in")


async def _is(c: Centre, status: AgentStatus) -> bool:
    return await c.status(AGENT) is status


async def finished(caller: SippCaller, seconds: float) -> int:
    await poll(lambda: not caller.running(), seconds, "SIPp to finish its call")
    return caller.wait(5)


@pytest_twisted.ensureDeferred
async def test_a_carrier_caller_reports_a_fault_and_talks_to_a_sip_agent(
        sip_site: tuple[SipSite, Path], fresh_redis: RedisServer, tmp_path: Path) -> None:
    site, config_file = sip_site
    config = load_config(config_file)
    phone = BaresipAgent.start(site, AGENT, agent_secret(config, AGENT), tmp_path)
    c = await start_centre(config_file, site, fresh_redis)
    caller = None
    try:
        await logged_in_from_the_phone(c, phone)
        # Report a fault (2, 1), the IDPEL, confirm it once it is read back (1), then the
        # agent key (0) while the ticket number is read out. The caller talks 6 s, hangs up.
        walk = [Key("2", 1.5), Key("1", 1.5), *keys(IDPEL[:-1], 0.3), Key(IDPEL[-1], 6.0),
                Key("1", 2.5), Key("0", 2.0)]
        caller = SippCaller.start(site, "+62711123", walk, tmp_path, talk_s=14.0,
                                  caller="+6281100000101", name="fault")
        await poll(lambda: c.pair() is not None, 60, "caller and agent bridged")
        pair = c.pair()
        assert pair is not None
        samples = []
        for _ in range(3):
            samples.append([await c.rtp(channel) for channel in pair])
            await sleep(1.5)
        for leg in range(2):
            received = [sample[leg][0] for sample in samples]
            sent = [sample[leg][1] for sample in samples]
            # Each leg's phone keeps sending and Asterisk keeps forwarding the other's.
            assert received[0] < received[1] < received[2], (pair[leg], samples)
            assert sent[0] < sent[1] < sent[2], (pair[leg], samples)
        assert await finished(caller, 40) == 0, caller.errors()
        await poll(lambda: phone.count("CALL_CLOSED") >= 1, 10, "the agent's phone hung up")
        await poll(lambda: c.pair() is None, 10, "the bridge gone")
        session = next(s for s in c.centre.engine.finished if s.outcome == "queued")
        env = session.channel.env
        assert env.get("agi_callerid") == "081100000101"  # +62 8... as 08...
        assert env.get("agi_arg_1") == "0711"
        names = session.journal.names()
        assert session.journal.first("idpel_confirmed") == {"idpel": IDPEL}
        assert names.index("ticket_created") < len(names)
    finally:
        if caller is not None:
            caller.stop()
        phone.stop()
        await c.stop()


@pytest_twisted.ensureDeferred
async def test_plain_123_with_the_area_header_and_the_agent_hangs_up(
        sip_site: tuple[SipSite, Path], fresh_redis: RedisServer, tmp_path: Path) -> None:
    site, config_file = sip_site
    config = load_config(config_file)
    phone = BaresipAgent.start(site, AGENT, agent_secret(config, AGENT), tmp_path)
    c = await start_centre(config_file, site, fresh_redis)
    caller = None
    try:
        await logged_in_from_the_phone(c, phone)
        caller = SippCaller.start(site, "123", [Key("0", 1.0)], tmp_path, talk_s=20.0,
                                  hang_up="agent", header=("X-PLN-Area", "0721"),
                                  caller="081100000102", name="agent-hangs-up")
        await poll(lambda: c.pair() is not None, 40, "caller and agent bridged")
        established = phone.count("CALL_ESTABLISHED")
        assert established >= 1
        await sleep(2.0)
        phone.hangup()
        assert await finished(caller, 20) == 0, caller.errors()  # SIPp got the BYE
        await poll(lambda: c.pair() is None, 10, "the bridge gone")
        session = next(s for s in c.centre.engine.finished if s.outcome == "queued")
        assert session.channel.env.get("agi_arg_1") == "0721"  # Lampung, from the header
        assert session.channel.env.get("agi_callerid") == "081100000102"
    finally:
        if caller is not None:
            caller.stop()
        phone.stop()
        await c.stop()
