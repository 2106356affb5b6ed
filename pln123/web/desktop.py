"""The agent desktop's view: one agent's state and the caller on their phone, from Redis.

What the person answering needs before they say "PLN 123, selamat pagi": who calls (number,
area code, region, language), the IDPEL the caller confirmed in the IVR and the menus they
went through (the ACD's call record, written by the IVR's hand-over), how long they
waited, the site they came from when another site lent this agent, the outages known for
their area and their open tickets of the last 30 days (by IDPEL and by number). The call
is shown from the ring (reserved) through the talk to the wrap-up, where the agent's
disposition and the tickets filed for it are shown too.

Everything comes from Redis, as the supervisors' views do: the agent's hash, the call
record (at the agent's own site or, for a lent agent, the caller's), the outage board, the
ticket indexes, and the desktop's own keys (`SiteKeys.desktop`, `SiteKeys.wrapup`).
Reading changes nothing. "Pause after this call" lives in the desktop's key until the ACD
carries it out as the call ends (the agent_change script, acd/queues/lua).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from twisted.internet.interfaces import IReactorTime

from acd.agents.state import AgentStatus
from acd.selfservice.lookups import RedisTicketLookup
from acd.selfservice.models import Ticket
from acd.selfservice.outages import RedisOutageBoard
from acd.settings import AcdSettings
from acd.store.keys import SiteKeys
from acd.store.redis import Client, RedisStore, text
from pln123.web.desktop_settings import DesktopSettings, Label

AGENT_ROLE = "agent"
CALL_STATES = (AgentStatus.RESERVED.value, AgentStatus.ON_CALL.value)
_SHOWN = ("call_id", "site", "skill", "language", "area_code", "region", "caller_number",
          "idpel", "menu_path", "state", "enqueued_at", "reserved_at", "answered_at",
          "ended_at", "callback")


@dataclass(frozen=True)
class AgentRef:
    agent_id: str
    site: str
    name: str


def labels_json(labels: tuple[Label, ...]) -> list[dict[str, str]]:
    return [{"code": label.code, "id": label.id, "en": label.en or label.id}
            for label in labels]


def ticket_json(ticket: Ticket) -> dict[str, Any]:
    return {"number": ticket.number, "idpel": ticket.idpel, "category": ticket.category,
            "status": ticket.status, "created_at": ticket.created_at,
            "status_at": ticket.status_at, "area_code": ticket.area_code,
            "caller_number": ticket.caller_number, "site": ticket.site}


class DesktopReader:
    def __init__(self, store: RedisStore, settings: AcdSettings, desktop: DesktopSettings,
                 clock: IReactorTime):
        self.store = store
        self.settings = settings
        self.desktop = desktop
        self.clock = clock
        self.outages = RedisOutageBoard(store, clock)
        self.tickets = RedisTicketLookup(store, clock)

    def keys(self, site: str) -> SiteKeys:
        return SiteKeys(site, self.settings.pooling.pool_of(site))

    def agent(self, site: str, agent_id: str) -> AgentRef | None:
        spec = next((a for a in self.settings.agents_at(site) if a.id == agent_id), None)
        return AgentRef(spec.id, site, spec.name) if spec is not None else None

    async def state(self, ref: AgentRef) -> dict[str, str]:
        """The agent's hash plus the desktop's own fields (`pause_after`)."""
        keys = self.keys(ref.site)

        async def read(client: Client) -> tuple[dict[str, str], dict[str, str]]:
            async with client.pipeline(transaction=False) as pipe:
                pipe.hgetall(keys.agent(ref.agent_id))
                pipe.hgetall(keys.desktop(ref.agent_id))
                agent, desk = await pipe.execute()
            return ({text(k): text(v) for k, v in agent.items()},
                    {text(k): text(v) for k, v in desk.items()})

        agent, desk = await self.store.run(read)
        agent["pause_after"] = desk.get("pause_after", "")
        return agent

    async def call_of(self, ref: AgentRef, agent: Mapping[str, str]
                      ) -> tuple[str, dict[str, str]] | None:
        """(the call's site, its record) for the call the agent has or just had."""
        state = agent.get("state", "")
        call_id = agent.get("call", "") if state in CALL_STATES else ""
        sites = [agent.get("call_site") or ref.site] if call_id else []
        if not call_id and state in (AgentStatus.WRAP_UP.value, AgentStatus.PAUSED.value):
            call_id = agent.get("last_call", "")
            # the call site is cleared with the call: look at home first, then the pool
            sites = [ref.site, *(s for s in self.settings.pooling.members(ref.site)
                                 if s != ref.site)]
        if not call_id:
            return None
        for site in sites:
            record = await self._hash(self.keys(site).call(call_id))
            if record:
                return site, record
        return None

    async def _hash(self, key: str) -> dict[str, str]:
        async def read(client: Client) -> dict[str, str]:
            raw = await client.hgetall(key)
            return {text(k): text(v) for k, v in raw.items()}

        return await self.store.run(read)

    async def view(self, ref: AgentRef, language: str = "id") -> dict[str, Any]:
        """The desktop's JSON for `ref` (what `GET /api/agent` and its stream send)."""
        now = self.clock.seconds()
        agent = await self.state(ref)
        state = agent.get("state") or AgentStatus.LOGGED_OUT.value
        since = float(agent["since"]) if agent.get("since") else None
        reason = agent.get("reason", "") if state == AgentStatus.PAUSED.value else ""
        found = await self.call_of(ref, agent)
        call = await self.call_json(ref, found, now) if found is not None else None
        if call is not None and state == AgentStatus.PAUSED.value and (
                call["wrapup"].get("disposition") or not self.desktop.dispositions):
            call = None   # paused after a call: shown only until its wrap-up is done
        label = self.desktop.pause_reason(reason) if reason else None
        return {
            "generated_at": round(now, 3),
            "agent": {"id": ref.agent_id, "name": ref.name, "site": ref.site},
            "state": state,
            "reason": reason,
            "reason_name": label.name(language) if label else "",
            "pending_logout": agent.get("pending_logout") == "1",
            "pause_after": agent.get("pause_after", ""),
            "time_in_state_s": round(max(0.0, now - since), 3) if since else None,
            "phone": agent.get("phone") or "available",
            "call": call,
            "pause_reasons": labels_json(self.desktop.pause_reasons),
            "dispositions": labels_json(self.desktop.dispositions),
            "disposition_required": self.desktop.disposition_required,
        }

    async def call_json(self, ref: AgentRef, found: tuple[str, dict[str, str]], now: float
                        ) -> dict[str, Any]:
        """The call as the desktop shows it: its record, the caller's outages and open
        tickets, its wrap-up."""
        site, record = found
        values = {name: record.get(name, "") for name in _SHOWN}
        enqueued = _float(values["enqueued_at"])
        answered = _float(values["answered_at"])
        waited = None
        if enqueued is not None:
            waited = round(max(0.0, (answered if answered is not None else now) - enqueued), 3)
        outages = []
        area = values["area_code"]
        if area:
            try:
                outages = [{"id": o.id, "message": o.message, "restore_at": o.restore_at}
                           for o in await self.outages.outages_for(area)]
            except ValueError:
                outages = []
        tickets = await self._tickets(values["idpel"], values["caller_number"])
        wrapup = await self.wrapup(ref.site, values["call_id"])
        return {
            **{name: values[name] for name in ("call_id", "skill", "language", "area_code",
                                               "region", "caller_number", "idpel",
                                               "menu_path", "state")},
            "site": site,
            "from_site": site if site != ref.site else "",
            "waited_s": waited,
            "answered": answered is not None,
            "callback": bool(values["callback"]),
            "outages": outages,
            "tickets": tickets,
            "wrapup": wrapup,
        }

    async def _tickets(self, idpel: str, caller_number: str) -> list[dict[str, Any]]:
        found: dict[str, Ticket] = {}
        if idpel:
            try:
                found.update((t.number, t) for t in await self.tickets.open_by_idpel(idpel))
            except ValueError:
                pass
        if caller_number:
            try:
                found.update((t.number, t)
                             for t in await self.tickets.open_by_caller(caller_number))
            except ValueError:
                pass
        return [ticket_json(t) for t in sorted(found.values(), key=lambda t: -t.created_at)]

    async def wrapup(self, site: str, call_id: str) -> dict[str, str]:
        """The disposition, note and tickets recorded for `call_id` ({} if none yet)."""
        if not call_id:
            return {}
        return await self._hash(self.keys(site).wrapup(call_id))


def _float(value: str) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None
