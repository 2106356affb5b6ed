"""Self-service flows: outage information, fault reports with a ticket, ticket status.

In a surge most callers ask the same question; every one answered here is one fewer in
the agents' queues.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ivr.prompts.catalogue import TICKET_STATUS_PROMPTS
from ivr.settings import Action

if TYPE_CHECKING:
    from ivr.engine.session import CallSession

IDPEL_LENGTH = 12
TICKET_MAX_DIGITS = 12


class SelfService:
    def __init__(self, session: CallSession):
        self.session = session

    async def run(self, action: Action) -> Action | None:
        """Run flow `action.target`; a returned Action (e.g. an agent) ends the menus."""
        session = self.session
        session.journal.record("flow_started", flow=action.target)
        if action.target == "outage_info":
            await self.outage_info()
        elif action.target == "report_fault":
            return await self.report_fault(action.category or "gangguan")
        elif action.target == "ticket_status":
            await self.ticket_status()
        return None

    async def outage_info(self) -> None:
        session = self.session
        found = await session.outages()
        if found:
            session._pressed = await session.voice.play(session.outage_prompts(found[0]))
            session.journal.record("outage_heard", outage_id=found[0].id)
        else:
            session._pressed = await session.voice.play(["no-outage"])
            session.journal.record("no_outage_heard")

    async def collect_idpel(self) -> str | None:
        """The 12-digit customer number, read back digit by digit and confirmed."""
        session = self.session
        settings = session.config.ivr
        for attempt in range(1, settings.idpel_retries + 1):
            heard = await session.voice.ask(["enter-idpel"], settings.idpel_timeout_s,
                                            IDPEL_LENGTH)
            digits = heard.digits
            if len(digits) != IDPEL_LENGTH or not digits.isdigit():
                session.journal.record("idpel_rejected", length=len(digits), attempt=attempt)
                await session.voice.play(["idpel-wrong-length"])
                continue
            confirm = await session.voice.ask(
                ["idpel-readback", *session.voice.digits_prompts(digits), "idpel-confirm"],
                settings.idpel_timeout_s, 1,
            )
            if confirm.digits == "1":
                session.journal.record("idpel_confirmed", idpel=digits)
                return digits
            session.journal.record("idpel_not_confirmed", key=confirm.digits, attempt=attempt)
        return None

    async def report_fault(self, category: str) -> Action | None:
        session = self.session
        idpel = await self.collect_idpel()
        if idpel is None:
            session.journal.record("fallback", flow="report_fault",
                                   action=session.config.ivr.agent.describe())
            return session.config.ivr.agent
        session.idpel = idpel
        ticket = await session.services.tickets.create(
            idpel=idpel,
            area_code=session.area.code,
            category=category,
            caller_number=session.channel.env.get("agi_callerid", ""),
            site=session.site.name,
            call_id=session.call_id,
        )
        session.journal.record("ticket_created", ticket=ticket.number, category=category)
        session._pressed = await session.voice.play(
            ["ticket-created", *session.voice.digits_prompts(ticket.number), "pln-mobile"]
        )
        return None

    async def ticket_status(self) -> None:
        session = self.session
        heard = await session.voice.ask(["ticket-enter"], session.config.ivr.idpel_timeout_s,
                                        TICKET_MAX_DIGITS)
        number = heard.digits
        ticket = await session.services.tickets.find(number) if number.isdigit() else None
        if ticket is None:
            session.journal.record("ticket_not_found", entered=number)
            session._pressed = await session.voice.play(["ticket-not-found"])
            return
        prompt = TICKET_STATUS_PROMPTS.get(ticket.status, "ticket-status-received")
        session.journal.record("ticket_status_read", ticket=ticket.number, status=ticket.status)
        session._pressed = await session.voice.play(
            [prompt, *session.voice.digits_prompts(ticket.number)]
        )
