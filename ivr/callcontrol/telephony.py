"""The ACD's telephony interface carried out over AMI: agent-first connect, and the rest.

Agent first: the caller stays in AsyncAGI hearing music while pln123 originates a call to
the agent's phone; only when the agent answers are the two bridged (AMI `Bridge`). A ring
timeout, a busy or unreachable phone is NO_ANSWER; a caller who hangs up while the agent's
phone rings cancels that ring (CALLER_GONE) so the agent is free again at once.

Originates carry our own ActionID and ChannelId, so their outcome (`OriginateResponse`) and
the agent's channel can be matched and hung up without guessing channel names.
"""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Sequence
from typing import Any

import structlog
from twisted.internet.defer import Deferred, DeferredList, succeed
from twisted.internet.interfaces import IReactorTime

from acd.telephony import Connection, RingOutcome
from ivr.ami.agi import AGIError, AsyncAGIRouter
from ivr.ami.errors import AMIError
from ivr.ami.message import Message
from ivr.ami.service import AMIService
from ivr.prompts.numbers import say_digits, say_number

log = structlog.get_logger("ivr.callcontrol")

# The agent's leg waits in this application until it is bridged (or hung up).
AGENT_LEG_APPLICATION = "Wait"
AGENT_LEG_MAX_S = 4 * 3600
MUSIC_CLASS = "default"


class AMITelephony:
    def __init__(self, ami: AMIService, router: AsyncAGIRouter, clock: IReactorTime):
        self.ami = ami
        self.router = router
        self.clock = clock
        self._prefix = f"pln123-{secrets.token_hex(3)}"
        self._ids = itertools.count(1)
        self._originations: dict[str, Deferred[Message]] = {}
        self._hangup_watchers: dict[str, list[Deferred[None]]] = {}
        ami.dispatcher.subscribe("OriginateResponse", self._originate_response)
        ami.dispatcher.subscribe("Hangup", self._hangup)

    # -- events ---------------------------------------------------------------------------

    def _originate_response(self, event: Message) -> None:
        waiter = self._originations.pop(event.action_id or "", None)
        if waiter is not None:
            waiter.callback(event)

    def _hangup(self, event: Message) -> None:
        for key in (event.get("Channel") or "", event.get("Uniqueid") or ""):
            for waiter in self._hangup_watchers.pop(key, []):
                waiter.callback(None)

    def _watch_hangup(self, channel: str) -> Deferred[None]:
        waiter: Deferred[None] = Deferred()
        self._hangup_watchers.setdefault(channel, []).append(waiter)
        return waiter

    def _unwatch(self, channel: str, waiter: Deferred[None]) -> None:
        watchers = self._hangup_watchers.get(channel, [])
        if waiter in watchers:
            watchers.remove(waiter)
        if not watchers:
            self._hangup_watchers.pop(channel, None)

    # -- connect ----------------------------------------------------------------------------

    def connect(self, connection: Connection) -> Deferred[RingOutcome]:
        return Deferred.fromCoroutine(self._connect(connection))

    async def _connect(self, c: Connection) -> RingOutcome:
        bound = log.bind(call_id=c.call_id, agent_id=c.agent_id)
        number = next(self._ids)
        action_id = f"{self._prefix}-orig-{number}"
        agent_leg = f"{self._prefix}-agent-{number}"
        answered: Deferred[Message] = Deferred()
        self._originations[action_id] = answered
        caller_gone = self._watch_hangup(c.caller_channel)
        try:
            await self.ami.send_action("Originate", {
                "Channel": c.agent_endpoint,
                "Application": AGENT_LEG_APPLICATION,
                "Data": str(AGENT_LEG_MAX_S),
                "Timeout": str(int(c.ring_timeout_s * 1000)),
                "CallerID": f"PLN123 <{_digits(c.caller_number)}>",
                "ChannelId": agent_leg,
                "Async": "true",
            }, action_id=action_id)
        except AMIError as error:
            self._originations.pop(action_id, None)
            self._unwatch(c.caller_channel, caller_gone)
            bound.warning("acd_ring_failed", error=str(error))
            return RingOutcome.NO_ANSWER
        bound.info("acd_ringing_agent", endpoint=c.agent_endpoint)
        race: list[Deferred[Any]] = [answered, caller_gone]
        await DeferredList(race, fireOnOneCallback=True, consumeErrors=True)
        if caller_gone.called:
            await self._cancel_ring(agent_leg, action_id, answered)
            return RingOutcome.CALLER_GONE
        self._unwatch(c.caller_channel, caller_gone)
        response = await answered
        if (response.response or "").lower() != "success":
            bound.info("acd_agent_no_answer", reason=response.get("Reason"))
            return RingOutcome.NO_ANSWER
        agent_channel = response.get("Channel") or agent_leg
        try:
            await self.ami.send_action("Bridge", {
                "Channel1": c.caller_channel, "Channel2": agent_channel, "Tone": "no"})
        except AMIError as error:
            bound.info("acd_bridge_failed", error=str(error))
            await self._hang_up(agent_leg)
            return RingOutcome.CALLER_GONE
        bound.info("acd_bridged", agent_channel=agent_channel)
        return RingOutcome.ANSWERED

    async def _cancel_ring(self, agent_leg: str, action_id: str,
                           answered: Deferred[Message]) -> None:
        await self._hang_up(agent_leg)
        # The originate still reports; forget it so nothing waits on it.
        self._originations.pop(action_id, None)
        if not answered.called:
            answered.callback(Message([]))

    async def _hang_up(self, channel: str) -> None:
        try:
            await self.ami.send_action("Hangup", {"Channel": channel})
        except AMIError:
            pass  # already gone: that is what we wanted

    # -- the rest of the interface --------------------------------------------------------------

    def when_call_ends(self, call_id: str, caller_channel: str) -> Deferred[None]:
        return self._watch_hangup(caller_channel)

    def announce(self, caller_channel: str, position: int, ewt_s: float | None,
                 language: str) -> Deferred[None]:
        return Deferred.fromCoroutine(self._announce(caller_channel, position, ewt_s, language))

    async def _announce(self, caller_channel: str, position: int, ewt_s: float | None,
                        language: str) -> None:
        session = self.router.sessions.get(caller_channel)
        if session is None:
            return
        prompts = ["queue-position", *say_number(min(position, 999), language)]
        if ewt_s is not None:
            minutes = max(1, -(-int(ewt_s) // 60))  # rounded up (DESIGN.md §6)
            prompts += ["queue-wait", *say_number(min(minutes, 999), language), "queue-minutes"]
        try:
            for prompt in prompts:
                await session.stream_file(f"pln123/{prompt}", "")
            await session.execute("EXEC", "StartMusicOnHold", MUSIC_CLASS)
        except AGIError:
            return  # the caller left meanwhile: nothing to tell

    def farewell(self, caller_channel: str, prompts: Sequence[str], language: str,
                 digits: str = "") -> Deferred[None]:
        return Deferred.fromCoroutine(self._farewell(caller_channel, list(prompts), language,
                                                     digits))

    async def _farewell(self, caller_channel: str, prompts: list[str], language: str,
                        digits: str) -> None:
        """STREAM FILE each prompt on the caller's AGI session, then HANGUP.

        Whatever goes wrong on the way (the caller left, AGI ended, a prompt is missing and
        Asterisk dropped AsyncAGI), the channel is hung up over AMI as well: the ACD has
        already taken the call out of its queue, so nobody else would ever end it.
        """
        session = self.router.sessions.get(caller_channel)
        if session is not None:
            files = [*prompts, *(say_digits(digits, language) if digits else [])]
            try:
                for prompt in files:
                    await session.stream_file(f"pln123/{prompt}", "")
                await session.hangup()
                return
            except AGIError:
                pass  # the caller left, or AGI broke: make sure below
        await self._hang_up(caller_channel)

    def offer_callback(self, caller_channel: str, language: str) -> Deferred[str | None]:
        return succeed(None)  # callbacks: not offered over AMI yet (see the notes)

    def dial_caller(self, call_id: str, number: str, timeout_s: float) -> Deferred[str | None]:
        return succeed(None)

    def caller_alive(self, caller_channel: str) -> Deferred[bool]:
        d = self.ami.send_action("Getvar", {"Channel": caller_channel,
                                            "Variable": "CHANNEL(state)"})

        def alive(_response: Any) -> bool:
            return True

        def gone(_failure: Any) -> bool:
            return False

        return d.addCallbacks(alive, gone)


def _digits(number: str) -> str:
    return "".join(c for c in number if c.isdigit())[:20]
