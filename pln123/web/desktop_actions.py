"""What an agent does from their desktop, carried out where the dashboard's actions are.

- ready / pause <reason> / log in / log out: appended to the agent's site's command stream
  (`SiteKeys.agent_commands`), exactly as a supervisor's pause from the dashboard, with
  `source` = `desktop:<agent id>`; the site's pln123 (its command consumer, then the
  Distributor) applies it in order with the phone's feature codes. A pause takes a reason
  from the config's `desktop.pause_reasons` (its code is what `*13<code>` sends).
- pause after this call: the reason is kept in the desktop's key (`SiteKeys.desktop`),
  which the ACD reads as the call ends, in the same script that ends it: the agent goes
  from the call straight to paused with that reason, no call can ring first, and the key
  is cleared (the page shows the request until then). Asked when the call is already
  over, it is a pause queued at once.
- disposition + note: the call's wrap-up hash (`SiteKeys.wrapup`), kept a month. Where the
  config requires one, "ready" from the desktop is refused until it is picked.
- tickets: created through the ticket desk (`RedisTicketDesk.create`: number, hash, the
  APKT outbox entry and the IDPEL / caller indexes in one transaction), then the agent's
  description and address added (desktop_tickets.TicketNotes).

Every action is audited in the site's audit stream as `desktop_<action>` with `agent`.
The request's principal has been checked by the API (an agent acts only on themself);
here the values are checked: ValueError (400) or `Refused` (409) with the reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from redis.typing import EncodableT, FieldT
from twisted.internet.interfaces import IReactorTime

from acd.agents.state import AgentStatus
from acd.selfservice import validation
from acd.selfservice.tickets import RedisTicketDesk
from acd.store.clock import timestamp
from acd.store.keys import AGENT_COMMANDS_MAXLEN, WRAPUP_KEEP_S
from acd.store.redis import Client, RedisStore, text
from pln123.web.desktop import CALL_STATES, AgentRef, DesktopReader
from pln123.web.desktop_settings import DesktopSettings
from pln123.web.desktop_tickets import TicketNotes

MAX_NOTE = 500
COMMANDS = {"ready": "ready", "pause": "pause", "login": "login", "logout": "logout"}


class Refused(Exception):
    """The action does not fit the agent's state now (409 with the reason)."""


class DesktopActions:
    def __init__(self, store: RedisStore, reader: DesktopReader, clock: IReactorTime):
        self.store = store
        self.reader = reader
        self.clock = clock
        self.desk = RedisTicketDesk(store, clock)
        self.notes = TicketNotes(store, clock)

    @property
    def desktop(self) -> DesktopSettings:
        return self.reader.desktop

    async def command(self, ref: AgentRef, verb: str, reason: str = "") -> str:
        """Queue ready / pause / login / logout for the agent; the stream entry id."""
        agent = await self.reader.state(ref)
        state = agent.get("state") or AgentStatus.LOGGED_OUT.value
        if verb == "pause":
            self._reason(reason)
            if state in CALL_STATES:
                raise Refused("on a call: use \"pause after this call\"")
        if verb == "ready":
            if state == AgentStatus.LOGGED_OUT.value:
                verb = "login"   # a logged-out agent becomes ready by logging in
            elif self.desktop.disposition_required and await self._undisposed(ref, agent):
                raise Refused("pick a disposition for the last call first")
        if verb == "login" and state != AgentStatus.LOGGED_OUT.value:
            raise Refused(f"already logged in ({state})")
        return await self._queue(ref.site, ref.agent_id, COMMANDS[verb],
                                 reason if verb == "pause" else "")

    async def pause_after(self, ref: AgentRef, reason: str | None) -> str:
        """Pause with `reason` as the current call ends (None: not any more).

        The request is written with a read of the agent's state in one transaction: on a
        call, the script that ends it will take the request; not on a call, nothing will,
        so it is taken back here and the pause queued now (unless the ACD took it first:
        a call that began and ended meanwhile)."""
        keys = self.reader.keys(ref.site)
        key = keys.desktop(ref.agent_id)
        if reason is None:
            await self.store.run(lambda client: client.hdel(key, "pause_after", "at"))
            await self._audit(ref.site, "desktop_pause_after", ref.agent_id, {"reason": ""})
            return ""
        self._reason(reason)
        request: dict[FieldT, EncodableT] = {
            "pause_after": reason, "at": f"{timestamp(self.clock):.3f}"}

        async def ask(client: Client) -> str:
            async with client.pipeline(transaction=True) as pipe:
                pipe.hset(key, mapping=request)
                pipe.hget(keys.agent(ref.agent_id), "state")
                _, state = await pipe.execute()
            return text(state or b"") or AgentStatus.LOGGED_OUT.value

        state = await self.store.run(ask)
        if state in CALL_STATES:
            await self._audit(ref.site, "desktop_pause_after", ref.agent_id,
                              {"reason": reason})
            return reason
        taken = await self.store.run(lambda client: client.hdel(key, "pause_after", "at"))
        if state == AgentStatus.LOGGED_OUT.value:
            raise Refused("not logged in")
        await self._audit(ref.site, "desktop_pause_after", ref.agent_id, {"reason": reason})
        if taken:
            await self._queue(ref.site, ref.agent_id, "pause", reason)
        return reason

    async def disposition(self, ref: AgentRef, call_id: str, code: str, note: str
                          ) -> dict[str, str]:
        if self.desktop.disposition(code) is None:
            known = ", ".join(d.code for d in self.desktop.dispositions) or "none configured"
            raise ValueError(f"disposition {code!r} is not one of: {known}")
        if note:
            note = validation.plain_text(note, "note", MAX_NOTE)
        await self._own_call(ref, call_id)
        key = self.reader.keys(ref.site).wrapup(call_id)
        record: dict[FieldT, EncodableT] = {
            "disposition": code, "note": note, "agent": ref.agent_id,
            "at": f"{timestamp(self.clock):.3f}"}

        async def write(client: Client) -> None:
            async with client.pipeline(transaction=True) as pipe:
                pipe.hset(key, mapping=record)
                pipe.expire(key, WRAPUP_KEEP_S)
                await pipe.execute()

        await self.store.run(write)
        await self._audit(ref.site, "desktop_disposition", ref.agent_id,
                          {"call": call_id, "disposition": code})
        return {"call": call_id, "disposition": code, "note": note}

    async def create_ticket(self, ref: AgentRef, call_id: str, body: Mapping[str, Any]
                            ) -> dict[str, Any]:
        site, record = await self._own_call(ref, call_id)
        idpel = validation.idpel(body.get("idpel") or record.get("idpel", ""))
        category = validation.category(body.get("category"))
        details = self.notes.details(body, required=True)
        area = record.get("area_code", "")
        ticket = await self.desk.create(idpel, area, category, record.get("caller_number", ""),
                                        site, call_id)
        await self.notes.amend(ticket.number, details, f"desktop:{ref.agent_id}")
        await self._tickets_of_call(ref, call_id, ticket.number)
        await self._audit(ref.site, "desktop_ticket_created", ref.agent_id,
                          {"call": call_id, "ticket": ticket.number})
        return {"ticket": ticket.number, "idpel": idpel, "category": category, **details}

    async def update_ticket(self, ref: AgentRef, call_id: str, number: str,
                            body: Mapping[str, Any]) -> dict[str, Any]:
        """Add a description or address to a ticket of this call's caller (by IDPEL or
        number, as the desktop lists them)."""
        found = await self._own_call(ref, call_id)
        # the call itself, not the view: a paused agent's view drops it once disposed of
        shown = await self.reader.call_json(ref, found, self.clock.seconds())
        listed = {t["number"] for t in shown["tickets"]}
        listed |= set(filter(None, shown["wrapup"].get("tickets", "").split(",")))
        if number not in listed:
            raise LookupError(f"ticket {number!r} is not one of this caller's open tickets")
        details = self.notes.details(body, required=False)
        if not details:
            raise ValueError("description or address is required")
        await self.notes.amend(number, details, f"desktop:{ref.agent_id}")
        await self._tickets_of_call(ref, call_id, number)
        await self._audit(ref.site, "desktop_ticket_updated", ref.agent_id,
                          {"call": call_id, "ticket": number})
        return {"ticket": number, **details}

    # -- helpers ---------------------------------------------------------------------------

    def _reason(self, reason: str) -> None:
        if self.desktop.pause_reason(reason) is None:
            known = ", ".join(r.code for r in self.desktop.pause_reasons) or "none configured"
            raise ValueError(f"pause reason {reason!r} is not one of: {known}")

    async def _own_call(self, ref: AgentRef, call_id: str) -> tuple[str, dict[str, str]]:
        """The call's site and record, if it is the agent's current or last call."""
        agent = await self.reader.state(ref)
        found = await self.reader.call_of(ref, agent)
        if not call_id or found is None or found[1].get("call_id") != call_id:
            raise Refused(f"call {call_id!r} is not your current or last call")
        return found

    async def _undisposed(self, ref: AgentRef, agent: Mapping[str, str]) -> bool:
        found = await self.reader.call_of(ref, agent)
        if found is None:
            return False
        done = await self.reader.wrapup(ref.site, found[1].get("call_id", ""))
        return not done.get("disposition")

    async def _tickets_of_call(self, ref: AgentRef, call_id: str, number: str) -> None:
        key = self.reader.keys(ref.site).wrapup(call_id)

        async def add(client: Client) -> None:
            listed = text(await client.hget(key, "tickets") or b"")
            numbers = [n for n in listed.split(",") if n]
            if number not in numbers:
                numbers.append(number)
            async with client.pipeline(transaction=True) as pipe:
                pipe.hset(key, "tickets", ",".join(numbers[-20:]))
                pipe.expire(key, WRAPUP_KEEP_S)
                await pipe.execute()

        await self.store.run(add)

    async def _queue(self, site: str, agent_id: str, action: str, reason: str) -> str:
        keys = self.reader.keys(site)
        command: dict[FieldT, EncodableT] = {
            "agent": agent_id, "action": action, "reason": reason,
            "at": f"{timestamp(self.clock):.3f}", "source": f"desktop:{agent_id}"}

        async def queue(client: Client) -> str:
            return text(await client.xadd(keys.agent_commands, command,
                                          maxlen=AGENT_COMMANDS_MAXLEN, approximate=True))

        entry = await self.store.run(queue)
        await self._audit(site, f"desktop_{action}", agent_id,
                          {"reason": reason, "command": entry})
        return entry

    async def _audit(self, site: str, event: str, agent_id: str,
                     details: Mapping[str, Any]) -> None:
        entry: dict[FieldT, EncodableT] = {
            "event": event, "site": site, "agent": agent_id,
            "at": f"{timestamp(self.clock):.3f}", **{k: str(v) for k, v in details.items()}}
        key = self.reader.keys(site).audit
        maxlen = self.reader.settings.audit_maxlen

        async def write(client: Client) -> None:
            await client.xadd(key, entry, maxlen=maxlen, approximate=True)

        await self.store.run(write)
