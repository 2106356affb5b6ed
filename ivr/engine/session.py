"""One caller's way through the IVR, from the greeting to a ticket, a hang-up or an agent.

The flow is a coroutine because a call is a conversation: each step waits for the caller.
Every step is journalled with the call id. A caller may hang up anywhere: the pending AGI
command then fails with AGIHangup and the session ends cleanly, leaving nothing pending.
Anything unexpected (Redis down, a bug) must not leave a caller in silence: the session
hands the caller to an agent instead. The hand-off itself waits for Redis (with music) up
to `ivr.handoff_timeout_s`; past that the caller hears the apology and is hung up, so no
caller is ever left on music that nothing in Redis knows about.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from twisted.internet.interfaces import IReactorTime

from acd.intake import CallIntake, CallLog, Deflections, IVRPath, QueueRequest
from acd.selfservice.models import Outage, OutageBoard, Ticket, TicketDesk, TicketLookup
from ivr.ami.agi import AGIHangup
from ivr.engine.channel import CallChannel
from ivr.engine.flows import FlowCall, SelfService
from ivr.engine.handoff import HANDOFF_BACKOFF, Backoff, PatientHandOff
from ivr.engine.hold import HoldMusic
from ivr.engine.journal import CallJournal
from ivr.engine.menupath import menu_path
from ivr.engine.repeat import RepeatCaller
from ivr.engine.voice import Voice, prompt_file
from ivr.settings import Action, AreaCode, Menu, Site, TelephonyConfig


@dataclass(frozen=True)
class IVRServices:
    """What the IVR uses beyond the channel: the ACD's intake and the self-service state."""

    intake: CallIntake
    outages: OutageBoard
    tickets: TicketDesk
    handoff_backoff: Backoff = HANDOFF_BACKOFF  # between attempts while the ACD fails
    call_log: CallLog | None = None  # where the caller's path goes for the call history
    # A caller's open tickets by their number or IDPEL; None: no repeat-caller status and
    # the ticket status flow finds tickets by their number only.
    lookup: TicketLookup | None = None
    deflections: Deflections | None = None  # where callers answered by a status are counted
    # The hand-off's prompt and the music; the site's one HoldMusic knows whether Asterisk
    # has the hold subroutine (the default, never told, plays them as two commands).
    hold: HoldMusic = field(default_factory=HoldMusic)


OUTAGE_LOOKUP_TIMEOUT_S = 1.0
# How a caller who heard a ticket's status left the IVR for it to count as `deflected`.
DEFLECTED_OUTCOMES = ("caller_hung_up", "hung_up_by_ivr")
# The hand-off could not reach the ACD in time: the words the waiting room's maximum wait
# ends with (sorry, all agents are busy; PLN Mobile), then the IVR hangs up.
APOLOGY_PROMPTS = ("queue-apology", "pln-mobile")


def new_call_id() -> str:
    return secrets.token_hex(6)


class CallSession:
    def __init__(
        self,
        channel: CallChannel,
        config: TelephonyConfig,
        site: Site,
        services: IVRServices,
        clock: IReactorTime,
        timezone: ZoneInfo,
    ):
        self.channel = channel
        self.config = config
        self.site = site
        self.services = services
        self.clock = clock
        self.timezone = timezone
        self.area = self._area()
        self.call_id = new_call_id()
        self.caller_number = channel.env.get("agi_callerid", "")
        self.entered_at = clock.seconds()
        self.journal = CallJournal(self.call_id, site.name, self.area.code, clock)
        self.voice = Voice(channel, config.default_language)
        self.idpel: str | None = None
        self.outcome = "active"
        self._pressed: str | None = None  # a key pressed during a prompt: the next choice
        self._heard_ticket: Ticket | None = None  # a ticket's status was read to the caller
        self._wants_agent = False  # the hand-off began: whatever follows is no deflection
        self.self_service = SelfService(FlowCall(
            call_id=self.call_id,
            site_name=site.name,
            area=self.area,
            caller_number=self.caller_number,
            settings=config.ivr,
            voice=self.voice,
            journal=self.journal,
            tickets=services.tickets,
            outages=self.outages,
            outage_prompts=self.outage_prompts,
            identified=self._identified,
            lookup=services.lookup,
            timezone=timezone,
            ticket_heard=self._ticket_heard,
        ))
        self.repeat_caller = (
            RepeatCaller(services.lookup, self.caller_number, config.ivr, self.voice,
                         self.journal, clock, timezone, self._ticket_heard)
            if services.lookup is not None and config.ivr.repeat_callers.enabled_at(site.name)
            else None)

    def _area(self) -> AreaCode:
        """The caller's area: the dialplan passes it as AGI argument 1; else the number."""
        env = self.channel.env
        code = env.get("agi_arg_1", "")
        found = self.config.site_for_area(code) if code else None
        if found is None:
            found = self.config.area_for_number(env.get("agi_extension", ""))
        return found[1] if found else self.site.primary_area

    def _identified(self, idpel: str) -> None:
        """A flow confirmed the caller's customer number: the agent will see it."""
        self.idpel = idpel

    def _ticket_heard(self, ticket: Ticket) -> None:
        self._heard_ticket = ticket

    async def run(self) -> str:
        """Serve the caller; returns how the call left the IVR."""
        self.journal.record(
            "call_started", channel=self.channel.channel, region=self.area.region,
            caller_number=self.caller_number,
        )
        try:
            if self.repeat_caller is not None:
                self.repeat_caller.start()  # while the greeting plays
            await self._greet()
            if not await self._answer_repeat_caller():
                await self._announce_outages()
            await self._navigate()
        except AGIHangup:
            self.outcome = "caller_hung_up"
            self.journal.record("caller_hung_up")
        except Exception as error:  # a caller must never be left in silence
            self.journal.log.exception("ivr_failed", error=str(error))
            await self._rescue()
        self._count_deflection()
        self.journal.record("call_ended", outcome=self.outcome,
                            seconds=round(self.clock.seconds() - self.entered_at, 3))
        self._log_path()
        return self.outcome

    def _log_path(self) -> None:
        if self.services.call_log is None:
            return
        ticket = self.journal.first("ticket_created") or {}
        self.services.call_log.ivr_path(IVRPath(
            call_id=self.call_id, site=self.site.name, entered_at=self.entered_at,
            left_at=self.clock.seconds(), outcome=self.outcome,
            caller_number=self.caller_number, area_code=self.area.code,
            region=self.area.region, steps=self.journal.steps(),
            ticket=str(ticket.get("ticket", ""))))

    async def _answer_repeat_caller(self) -> bool:
        """A caller with an open ticket hears its status (then an agent, again, or the
        menu; ivr/engine/repeat.py); True if they did, and need no outage notice."""
        if self.repeat_caller is None:
            return False
        result = await self.repeat_caller.run(self._pressed)
        self._pressed = result.pressed
        if result.follow_up is not None:
            await self._finish(result.follow_up)
        return result.ticket is not None

    def _count_deflection(self) -> None:
        """Heard a ticket's status, then left without asking for an agent: `deflected`."""
        ticket = self._heard_ticket
        if ticket is None or self._wants_agent or self.outcome not in DEFLECTED_OUTCOMES:
            return
        skill = self.config.ivr.agent.skill or "general"
        self.journal.record("deflected", ticket=ticket.number, skill=skill)
        if self.services.deflections is not None:
            try:
                self.services.deflections.deflected(self.call_id, skill)
            except Exception:  # a count never costs the caller anything
                self.journal.log.exception("ivr_deflection_not_counted")

    async def _rescue(self) -> None:
        if self.channel.ended or self.outcome != "active":
            self.outcome = self.outcome if self.outcome != "active" else "caller_hung_up"
            return
        try:
            await self.hand_off(self.config.ivr.agent, reason="error")
        except AGIHangup:
            self.outcome = "caller_hung_up"
            self.journal.record("caller_hung_up")
        except Exception:
            self.journal.log.exception("ivr_rescue_failed")
            self.outcome = "failed"
            await self._hang_up_quietly()

    async def _hang_up_quietly(self) -> None:
        """Nothing more can be done for the caller: end the call rather than leave it on
        music (or in silence) with nobody to ever pick it up."""
        try:
            await self.channel.hangup()
        except Exception:  # noqa: BLE001 - already gone, or AGI broke: nothing left to do
            self.journal.log.warning("ivr_hangup_failed")

    # -- greeting and notices -------------------------------------------------------------

    async def _greet(self) -> None:
        ivr = self.config.ivr
        key = await self.voice.play([ivr.greeting])
        self.journal.record("greeting_played", key=key)
        if key == ivr.english_key and "en" in self.config.languages:
            await self.change_language("en")
        elif key is not None:
            self._pressed = key

    async def change_language(self, language: str) -> None:
        await self.voice.set_language(language)
        self.journal.record("language_changed", language=language)

    async def outages(self) -> list[Outage] | None:
        """Outages for the caller's area; None if the board does not answer in time.

        A caller must not wait in silence for a slow Redis: no notice beats no answer.
        """
        lookup = self.services.outages.outages_for(self.area.code)
        lookup.addTimeout(OUTAGE_LOOKUP_TIMEOUT_S, self.clock)
        try:
            return await lookup
        except Exception as error:  # noqa: BLE001
            self.journal.log.warning("ivr_outage_board_unavailable", error=str(error))
            return None

    async def _announce_outages(self) -> None:
        found = await self.outages()
        if not found:
            return
        key = await self.voice.play(self.outage_prompts(found[0]))
        self.journal.record("outage_heard", outage_id=found[0].id)
        if key is not None and self._pressed is None:
            self._pressed = key

    def outage_prompts(self, outage: Outage) -> list[str]:
        prompts = ["outage-notice"]
        if outage.restore_at is not None and outage.restore_at > self.clock.seconds():
            local = datetime.fromtimestamp(outage.restore_at, self.timezone)
            prompts += ["outage-restore-at", *self.voice.time_prompts(local.hour, local.minute)]
        return prompts

    # -- menus ----------------------------------------------------------------------------

    async def _navigate(self) -> None:
        stack = [self.config.ivr.root_menu]
        while stack and self.outcome == "active":
            menu = self.config.menus[stack[-1]]
            self.journal.record("menu_entered", menu=menu.name)
            action = await self._choose(menu)
            if action.kind == "submenu" and action.target:
                stack.append(action.target)
            elif action.kind == "back":
                if len(stack) > 1:
                    stack.pop()
            elif action.kind == "flow":
                result = await self.self_service.run(action)
                self._pressed = result.pressed
                if result.follow_up is not None:
                    await self._finish(result.follow_up)
            else:
                await self._finish(action)

    async def _finish(self, action: Action) -> None:
        if action.kind == "queue":
            await self.hand_off(action)
        elif action.kind == "hangup":
            await self.voice.play(["goodbye"], barge_in=False)
            self.outcome = "hung_up_by_ivr"
            self.journal.record("ivr_hung_up")
            await self.channel.hangup()

    async def _choose(self, menu: Menu) -> Action:
        """Ask until the caller picks something that leaves this prompt, or retries run out."""
        ivr = self.config.ivr
        failures = 0
        while True:
            key = self._pressed
            self._pressed = None
            if key is None:
                heard = await self.voice.ask([menu.prompt], menu.timeout_s, 1)
                key = heard.digits
            if not key:
                failures += 1
                self.journal.record("no_input", menu=menu.name, attempt=failures)
            elif key == ivr.agent_key:
                self.journal.record("digit", menu=menu.name, key=key, action="agent")
                return ivr.agent
            elif key == ivr.back_key:
                self.journal.record("digit", menu=menu.name, key=key, action="back")
                return Action("back")
            elif key in menu.options:
                action = menu.options[key]
                self.journal.record("digit", menu=menu.name, key=key, action=action.describe())
                if action.kind == "repeat":
                    continue
                if action.kind == "play" and action.target:
                    self._pressed = await self.voice.play([action.target])
                    continue
                if action.kind == "language" and action.target:
                    await self.change_language(action.target)
                    continue
                return action
            else:
                failures += 1
                self.journal.record("invalid_choice", menu=menu.name, key=key, attempt=failures)
                self._pressed = await self.voice.play(["invalid-choice"])
            if failures >= menu.retries:
                self.journal.record("fallback", menu=menu.name, action=menu.on_failure.describe())
                return menu.on_failure

    # -- the hand-off ---------------------------------------------------------------------

    async def hand_off(self, action: Action, reason: str = "asked") -> None:
        if action.kind != "queue":
            action = self.config.ivr.agent
        skill = action.skill or "general"
        self._wants_agent = True
        # Music first: the ACD may ring an agent and bridge before enqueue even returns.
        await self.services.hold.play(self.channel, [prompt_file("transfer-agent")])
        request = QueueRequest(
            call_id=self.call_id,
            site=self.site.name,
            channel=self.channel.channel,
            skill=skill,
            priority=action.priority,
            language=self.voice.language,
            area_code=self.area.code,
            region=self.area.region,
            caller_number=self.caller_number,
            idpel=self.idpel,
            entered_at=self.entered_at,
            uniqueid=self.channel.env.get("agi_uniqueid", ""),
            menu_path=menu_path(self.journal.events),
        )
        patient = PatientHandOff(self.services.intake, self.clock,
                                 self.config.ivr.handoff_timeout_s,
                                 self.services.handoff_backoff,
                                 lambda: not self.channel.ended, self.journal.log)
        result = await patient.enqueue(request)
        if result.caller_gone:  # nothing was queued: nothing to record in Redis either
            raise AGIHangup(f"{self.channel.channel}: hung up before the ACD took the call")
        if result.placement is None:
            await self._apologise(skill, reason, result.attempts)
            return
        self.outcome = "queued"
        self.journal.record("handed_off", skill=skill, priority=action.priority, reason=reason,
                            position=result.placement.position)

    async def _apologise(self, skill: str, reason: str, attempts: int) -> None:
        """The ACD did not take the call in time: say sorry and end the call (not music)."""
        self.outcome = "apologised"
        self.journal.record("handoff_failed", skill=skill, reason=reason, attempts=attempts)
        await self.voice.play(list(APOLOGY_PROMPTS), barge_in=False)
        await self.channel.hangup()
