"""What a supervisor can change, carried out by the process that owns each thing.

- Agent pause / unpause / log out: the agent's state machine belongs to the agent's site's
  pln123 (its Distributor sees feature codes, ring timeouts and these commands in one
  order), so the dashboard appends the command to the site's command stream
  (`SiteKeys.agent_commands`; the contract in `acd/agents/commands.py` and
  `pln123/cli/agent.py`, with `source` = `dashboard:<supervisor>`) and answers 202: queued.
- A site's lending (switched off or on, its reserve overridden): `LendingBoard`, whose
  hash in the pool's slot the matching script reads at every decision, so a change applies
  at once on every process and outlives restarts.
- Outage notices: `RedisOutageBoard` (the IVR reads the board for every caller: at once).

Every action is also appended to the audit stream of each site it concerns
(`SiteKeys.audit`, acd/store/keys.py), as event `dashboard_<action>` with the supervisor's
name. The caller has checked the role; here only the values are checked (ValueError).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from redis.typing import EncodableT, FieldT
from twisted.internet.interfaces import IReactorTime

from acd.pooling.lending import MAX_RESERVE, LendingBoard
from acd.selfservice.models import Outage
from acd.selfservice.outages import RedisOutageBoard
from acd.settings import AcdSettings
from acd.store.clock import timestamp
from acd.store.keys import AGENT_COMMANDS_MAXLEN, SiteKeys, checked_name
from acd.store.redis import Client, RedisStore, text
from pln123.web.views import DashboardSite

COMMAND_MAXLEN = AGENT_COMMANDS_MAXLEN
REASON = re.compile(r"[0-9]{1,4}\Z")      # as after the *13 feature code
AGENT_ACTIONS = {"pause": "pause", "unpause": "ready", "logout": "logout"}


class Actions:
    def __init__(self, store: RedisStore, sites: Sequence[DashboardSite],
                 settings: AcdSettings, clock: IReactorTime):
        self.store = store
        self.sites = {site.name: site for site in sites}
        self.settings = settings
        self.clock = clock
        self.lending = LendingBoard(store, settings.pooling)
        self.outages = RedisOutageBoard(store, clock)

    def keys(self, site: str) -> SiteKeys:
        return SiteKeys(site, self.settings.pooling.pool_of(site))

    def site_of_area(self, code: str) -> str | None:
        return next((s.name for s in self.sites.values() if code in s.area_codes), None)

    async def agent(self, supervisor: str, site: str, agent_id: str, verb: str,
                    reason: str = "") -> str:
        """Queue pause/unpause/logout for the site's pln123; the stream entry id.

        KeyError for an agent not in the site's roster, ValueError for a bad reason.
        """
        if not any(a.id == agent_id for a in self.settings.agents_at(site)):
            raise KeyError(f"no agent {agent_id!r} at site {site!r}")
        action = AGENT_ACTIONS[verb]
        if verb == "pause" and not REASON.match(reason):
            raise ValueError("reason must be a pause reason code of 1 to 4 digits")
        if verb != "pause":
            reason = ""
        now = timestamp(self.clock)
        command: dict[FieldT, EncodableT] = {
            "agent": agent_id, "action": action, "reason": reason, "at": f"{now:.3f}",
            "source": f"dashboard:{supervisor}"}

        async def queue(client: Client) -> str:
            return text(await client.xadd(self.keys(site).agent_commands, command,
                                          maxlen=COMMAND_MAXLEN, approximate=True))

        entry = await self.store.run(queue)
        await self.audit(site, f"dashboard_{verb}", supervisor,
                         {"agent": agent_id, "reason": reason, "command": entry})
        return entry

    async def lending_switch(self, supervisor: str, site: str, on: bool) -> None:
        """Lending on (the reserve decides again) or off (the site keeps every agent)."""
        await self.lending.switch(site, on)
        await self.audit(site, "dashboard_lending", supervisor,
                         {"lending": "on" if on else "off"})

    async def reserve(self, supervisor: str, site: str, reserve: int | None,
                      skill: str = "") -> None:
        """Fix the site's reserve for `skill` (every skill: ""); None: the config's again."""
        if skill:
            checked_name(skill, "skill")
        if reserve is not None and not 0 <= reserve <= MAX_RESERVE:
            raise ValueError(f"reserve must be a whole number from 0 to {MAX_RESERVE}")
        await self.lending.override_reserve(site, reserve, skill)
        await self.audit(site, "dashboard_reserve", supervisor, {
            "skill": skill, "reserve": "" if reserve is None else str(reserve)})

    async def post_outage(self, supervisor: str, area_codes: Sequence[str], message: str,
                          restore_at: float | None) -> Outage:
        outage = await self.outages.post(tuple(area_codes), message, restore_at,
                                         created_by=f"dashboard:{supervisor}")
        for site in self.sites_of(outage.area_codes):
            await self.audit(site, "dashboard_outage_post", supervisor, {
                "outage": outage.id, "areas": ",".join(outage.area_codes)})
        return outage

    async def clear_outage(self, supervisor: str, outage: Outage) -> bool:
        removed = await self.outages.clear(outage.id)
        if removed:
            for site in self.sites_of(outage.area_codes):
                await self.audit(site, "dashboard_outage_clear", supervisor, {
                    "outage": outage.id, "areas": ",".join(outage.area_codes)})
        return removed

    def sites_of(self, area_codes: Sequence[str]) -> list[str]:
        found = {self.site_of_area(code) for code in area_codes}
        return sorted(site for site in found if site is not None)

    async def audit(self, site: str, event: str, supervisor: str,
                    details: Mapping[str, Any]) -> None:
        entry: dict[FieldT, EncodableT] = {
            "event": event, "site": site, "supervisor": supervisor,
            "at": f"{timestamp(self.clock):.3f}",
            **{k: str(v) for k, v in details.items()}}
        key = self.keys(site).audit

        async def write(client: Client) -> None:
            await client.xadd(key, entry, maxlen=self.settings.audit_maxlen,
                              approximate=True)

        await self.store.run(write)
