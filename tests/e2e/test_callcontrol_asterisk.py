"""The ACD's telephony over AMI against the sandbox Asterisk: agent-first connect, ring-no-
answer, a caller who hangs up while the agent's phone rings. Agents are Local channels."""

from __future__ import annotations

import pytest
import pytest_twisted

from acd.telephony import Connection, RingOutcome
from ivr.ami import AGISession, AMIService, AsyncAGIRouter, Message
from ivr.callcontrol.telephony import AMITelephony
from tests.harness.ami import connect, originate_caller
from tests.harness.reactor import clock, poll, reactor, within
from tools.sandbox import Instance

pytestmark = pytest.mark.asterisk


class Rig:
    def __init__(self, service: AMIService, admin: AMIService):
        self.service = service
        self.admin = admin  # BridgeEnter is not sent to pln123's rendered user
        self.sessions: list[AGISession] = []
        self.router = AsyncAGIRouter(service, service.dispatcher, clock(), self.sessions.append)
        self.telephony = AMITelephony(service, self.router.sessions, clock(),
                                      callback_dial="Local/{number}@test-answer")
        self.bridged: list[str] = []
        admin.dispatcher.subscribe("BridgeEnter",
                                     lambda m: self.bridged.append(m.get("Channel") or ""))

    async def caller(self, extension: str) -> AGISession:
        await originate_caller(self.service, extension, variables={"HOLD": "30"})
        await poll(lambda: any(s.extension == extension for s in self.sessions), 10,
                   f"caller {extension} in AsyncAGI")
        return next(s for s in self.sessions if s.extension == extension)

    def connection(self, session: AGISession, endpoint: str, ring_s: float) -> Connection:
        return Connection("c-" + session.extension, session.channel, "1001", endpoint,
                          ring_s, "0811223344")


async def rig(site: Instance) -> Rig:
    return Rig(await connect(site), await connect(site, user="sandbox-admin", events="call"))


@pytest_twisted.ensureDeferred
async def test_agent_answers_and_is_bridged_with_the_caller(asterisk_site: Instance) -> None:
    r = await rig(asterisk_site)
    try:
        session = await r.caller("0711201")
        outcome = await within(
            r.telephony.connect(r.connection(session, "Local/1001@test-answer", 10)),
            15, "connect")
        assert outcome is RingOutcome.ANSWERED
        await poll(lambda: session.channel in r.bridged and len(r.bridged) >= 2, 5,
                   "both legs in one bridge")
        ended = r.telephony.when_call_ends("c", session.channel)
        await r.service.send_action("Hangup", {"Channel": session.channel})
        await within(ended, 5, "the end of the call")
    finally:
        r.router.close()
        await r.service.stopService()
        await r.admin.stopService()


@pytest_twisted.ensureDeferred
async def test_ring_no_answer(asterisk_site: Instance) -> None:
    r = await rig(asterisk_site)
    try:
        session = await r.caller("0711202")
        started = reactor.seconds()
        outcome = await within(
            r.telephony.connect(r.connection(session, "Local/1002@test-noanswer", 2)),
            15, "ring timeout")
        assert outcome is RingOutcome.NO_ANSWER
        assert 1.5 <= reactor.seconds() - started < 8
        assert not session.ended  # the caller is still waiting, in AsyncAGI
        assert await r.telephony.caller_alive(session.channel)
    finally:
        r.router.close()
        await r.service.stopService()
        await r.admin.stopService()


@pytest_twisted.ensureDeferred
async def test_caller_hangs_up_while_the_agent_rings(asterisk_site: Instance) -> None:
    r = await rig(asterisk_site)
    rings: list[Message] = []
    r.admin.dispatcher.subscribe(  # Newchannel is not sent to pln123's user
        "Newchannel", lambda m: rings.append(m) if "test-noanswer" in (m.get("Channel") or "")
        else None)
    hangups: list[str] = []
    r.service.dispatcher.subscribe("Hangup", lambda m: hangups.append(m.get("Channel") or ""))
    try:
        session = await r.caller("0711203")
        pending = r.telephony.connect(r.connection(session, "Local/1003@test-noanswer", 60))
        await poll(lambda: bool(rings), 5, "the agent's phone ringing")
        started = reactor.seconds()
        await r.service.send_action("Hangup", {"Channel": session.channel})
        outcome = await within(pending, 5, "the ring cancelled")
        assert outcome is RingOutcome.CALLER_GONE
        assert reactor.seconds() - started < 3
        agent_leg = rings[0].get("Channel") or ""
        await poll(lambda: agent_leg in hangups, 5, "the agent's leg hung up")
        assert not await r.telephony.caller_alive(session.channel)
    finally:
        r.router.close()
        await r.service.stopService()
        await r.admin.stopService()
