"""Self-service flows: outage information, fault reports with a ticket, ticket status.

In a surge most callers ask the same question; every one answered here is one fewer in
the agents' queues.

A flow sees the call only through `FlowCall`, the few things it needs, never the whole
session: the menus and the hand-off stay the session's business, and a flow can be run
(and tested) against any call that provides those few things. What a flow learns that
matters to the rest of the call comes back to the session instead of being written into
it: the key pressed during the flow's last prompt in the `FlowResult`, the confirmed
customer number through `FlowCall.identified` (at once, so that a caller handed to an
agent because the ticket could not be created still arrives with it).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from acd.selfservice.models import Outage, Ticket, TicketDesk, TicketLookup
from ivr.engine.journal import CallJournal
from ivr.engine.ticket_news import ticket_news_prompts
from ivr.engine.voice import Voice
from ivr.settings import Action, AreaCode, IVRSettings

IDPEL_LENGTH = 12
TICKET_MAX_DIGITS = 12
WIB = ZoneInfo("Asia/Jakarta")


def _nobody(_ticket: Ticket) -> None:
    return None


@dataclass(frozen=True)
class FlowCall:
    """The part of one call a self-service flow may use."""

    call_id: str
    site_name: str
    area: AreaCode
    caller_number: str
    settings: IVRSettings
    voice: Voice
    journal: CallJournal
    tickets: TicketDesk
    # The caller's area's outages; the session bounds the lookup so no caller waits on it.
    # None: the board did not answer (Redis away or slow), which is not "no outage".
    outages: Callable[[], Awaitable[list[Outage] | None]]
    outage_prompts: Callable[[Outage], list[str]]
    identified: Callable[[str], None]  # told the customer number (IDPEL) once confirmed
    # Open tickets by IDPEL or the caller's number; None: found by their number only.
    lookup: TicketLookup | None = None
    timezone: ZoneInfo = WIB  # the site's: times in a ticket's status are local
    ticket_heard: Callable[[Ticket], None] = _nobody  # told before a status is read out


@dataclass(frozen=True)
class FlowResult:
    """How a flow ended: an action that ends the menus (e.g. an agent), a key pressed."""

    follow_up: Action | None = None
    pressed: str | None = None  # barged into the flow's last prompt: the next menu choice


class SelfService:
    def __init__(self, call: FlowCall):
        self.call = call

    async def run(self, action: Action) -> FlowResult:
        """Run flow `action.target`."""
        self.call.journal.record("flow_started", flow=action.target)
        if action.target == "outage_info":
            return await self.outage_info()
        if action.target == "report_fault":
            return await self.report_fault(action.category or "gangguan")
        if action.target == "ticket_status":
            return FlowResult(pressed=await self.ticket_status())
        return FlowResult()

    async def outage_info(self) -> FlowResult:
        """What the board says for the caller's area; an agent if the board cannot say
        (telling a caller "no outage" that nobody could check would send them away)."""
        call = self.call
        found = await call.outages()
        if found is None:
            call.journal.record("fallback", flow="outage_info",
                                action=call.settings.agent.describe())
            return FlowResult(follow_up=call.settings.agent)
        if found:
            pressed = await call.voice.play(call.outage_prompts(found[0]))
            call.journal.record("outage_heard", outage_id=found[0].id)
        else:
            pressed = await call.voice.play(["no-outage"])
            call.journal.record("no_outage_heard")
        return FlowResult(pressed=pressed)

    async def collect_idpel(self) -> str | None:
        """The 12-digit customer number, read back digit by digit and confirmed.

        Only a key pressed after the read-back began confirms: a ticket is filed for what
        the caller heard and agreed to, never for keys typed ahead of the question.
        """
        call = self.call
        settings = call.settings
        for attempt in range(1, settings.idpel_retries + 1):
            heard = await call.voice.ask(["enter-idpel"], settings.idpel_timeout_s,
                                         IDPEL_LENGTH)
            digits = heard.digits
            if len(digits) != IDPEL_LENGTH or not digits.isdigit():
                call.journal.record("idpel_rejected", length=len(digits), attempt=attempt)
                await call.voice.play(["idpel-wrong-length"])
                continue
            answer = await call.voice.confirm(
                ["idpel-readback", *call.voice.digits_prompts(digits), "idpel-confirm"],
                settings.idpel_timeout_s,
            )
            if answer.flushed.discarded:
                call.journal.record("type_ahead_discarded", before="idpel-confirm",
                                    keys=answer.flushed.discarded, quiet=answer.flushed.quiet)
            if answer.key == "1":
                call.journal.record("idpel_confirmed", idpel=digits)
                return digits
            call.journal.record("idpel_not_confirmed", key=answer.key, attempt=attempt)
        return None

    async def report_fault(self, category: str) -> FlowResult:
        call = self.call
        idpel = await self.collect_idpel()
        if idpel is None:
            call.journal.record("fallback", flow="report_fault",
                                action=call.settings.agent.describe())
            return FlowResult(follow_up=call.settings.agent)
        call.identified(idpel)
        ticket = await call.tickets.create(
            idpel=idpel,
            area_code=call.area.code,
            category=category,
            caller_number=call.caller_number,
            site=call.site_name,
            call_id=call.call_id,
        )
        call.journal.record("ticket_created", ticket=ticket.number, category=category)
        pressed = await call.voice.play(
            ["ticket-created", *call.voice.digits_prompts(ticket.number), "pln-mobile"]
        )
        return FlowResult(pressed=pressed)

    async def ticket_status(self) -> str | None:
        """The latest status of the ticket the caller names: its number, their IDPEL (12
        digits), or nothing (`#` alone, or no key) for the tickets of the phone they call
        from. By IDPEL or number, the newest open ticket is read."""
        call = self.call
        heard = await call.voice.ask(["ticket-enter"], call.settings.idpel_timeout_s,
                                     TICKET_MAX_DIGITS)
        entered = heard.digits
        by, ticket = await self._find(entered)
        details = {} if by == "number" else {"by": by}
        if ticket is None:
            call.journal.record("ticket_not_found", entered=entered, **details)
            return await call.voice.play(["ticket-not-found"])
        prompts = ticket_news_prompts(ticket, call.voice.language, call.timezone)
        call.ticket_heard(ticket)
        call.journal.record("ticket_status_read", ticket=ticket.number, status=ticket.status,
                            **details)
        return await call.voice.play(prompts)

    async def _find(self, entered: str) -> tuple[str, Ticket | None]:
        """(how it was looked for, the ticket). Only ASCII digits are ever looked up."""
        call = self.call
        if entered and not (entered.isascii() and entered.isdigit()):
            return "number", None   # a * among the digits: nothing to look for
        lookup = call.lookup
        if not entered:
            if lookup is None:
                return "caller_number", None
            return "caller_number", _newest(await lookup.open_by_caller(call.caller_number))
        if len(entered) == IDPEL_LENGTH and lookup is not None:
            found = _newest(await lookup.open_by_idpel(entered))
            if found is not None:
                return "idpel", found
            by_number = await call.tickets.find(entered)
            return ("number", by_number) if by_number is not None else ("idpel", None)
        return "number", await call.tickets.find(entered)


def _newest(tickets: list[Ticket]) -> Ticket | None:
    return tickets[0] if tickets else None
