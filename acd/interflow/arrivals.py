"""Callers who reach this site's AsyncAGI over the inter-site trunk: moved here from another
site, or back home because the trunk call of their move failed.

The dialplan marks them with AGI arguments (the kind and the call id); the IVR's reception
hands them here instead of to the menus. They hear music at once; a moved caller who chose
a language at home keeps it here (the trunk channel starts in this site's default); then
the call is queued at the place its original enqueue time gives it. A caller Redis knows
nothing about (the record expired, a forged call id) is a new caller: False, the menus.
"""

from __future__ import annotations

import structlog
from twisted.internet.defer import Deferred

from acd.intake import ARRIVAL_MOVED
from acd.interflow.mover import CallMover
from acd.interflow.moves import MoveDesk
from acd.telephony import Telephony

log = structlog.get_logger("acd.interflow")

class CallArrivals:
    def __init__(self, site: str, mover: CallMover, desk: MoveDesk, telephony: Telephony,
                 languages: tuple[str, ...], default_language: str):
        self.site = site
        self.mover = mover
        self.desk = desk
        self.telephony = telephony
        self.languages = languages
        self.default_language = default_language
        self._log = log.bind(site=site)

    def arrive(self, kind: str, call_id: str, channel: str) -> Deferred[bool]:
        return Deferred.fromCoroutine(self._arrive(kind, call_id, channel))

    async def _arrive(self, kind: str, call_id: str, channel: str) -> bool:
        language = await self._their_language(call_id) if kind == ARRIVAL_MOVED else ""
        if not await self.telephony.hold(channel, language):
            return True  # gone already: nothing was queued for it here, nothing to do
        if kind == ARRIVAL_MOVED:
            placement = await self.mover.arrive(call_id, channel)
        else:
            placement = await self.mover.returned(call_id, channel)
        if placement is None:
            return False
        self._log.info("interflow_caller_taken", call_id=call_id, kind=kind,
                       position=placement.position)
        return True

    async def _their_language(self, call_id: str) -> str:
        transfer = await self.desk.read_transfer(call_id)
        language = (transfer or {}).get("language", "")
        if language in self.languages and language != self.default_language:
            return language
        return ""
