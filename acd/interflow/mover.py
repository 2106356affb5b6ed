"""Carrying out a move: the trunk slot, the home queue, the context, the caller; and the
arrival of a moved caller (or the return of one whose trunk call failed).

The order matters for a crash at any step: the trunk slot is taken first (given back on
every failure below), the call is taken out of the home queue atomically (an agent ringing
for it meanwhile wins: nothing moves), its context is written for the receiver before the
caller is sent, and only then does telephony send the caller. A caller whose trunk call
fails comes back into AsyncAGI at home and `returned` puts the call at its old place.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import structlog
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime

from acd.intake import QueuePlacement, QueueRequest
from acd.interflow.moves import MoveDesk
from acd.queues.records import Offer
from acd.queues.store import QueueStore
from acd.settings import AcdSettings
from acd.store.clock import timestamp
from acd.telephony import Telephony

log = structlog.get_logger("acd.interflow")

CarryOut = Callable[[QueueRequest, Offer], QueuePlacement]


def sites_of(value: str) -> tuple[str, ...]:
    return tuple(s for s in value.split(",") if s)


def request_from(fields: Mapping[str, str], call_id: str, site: str,
                 channel: str) -> QueueRequest:
    """The QueueRequest a call record (or transfer record) describes, now at `site`."""
    return QueueRequest(
        call_id=call_id, site=site, channel=channel, skill=fields.get("skill", "general"),
        priority=int(fields.get("priority") or 5), language=fields.get("language") or "id",
        area_code=fields.get("area_code", ""), region=fields.get("region", ""),
        caller_number=fields.get("caller_number", ""), idpel=fields.get("idpel") or None,
        entered_at=float(fields.get("entered_at") or fields.get("enqueued_at") or 0))


class CallMover:
    def __init__(self, site: str, settings: AcdSettings, queues: QueueStore, desk: MoveDesk,
                 telephony: Telephony, clock: IReactorTime, carry_out: CarryOut):
        self.site = site
        self.settings = settings
        self.queues = queues
        self.desk = desk
        self.telephony = telephony
        self.clock = clock
        self.carry_out = carry_out
        self._log = log.bind(site=site)

    def reconfigure(self, settings: AcdSettings) -> None:
        """A reloaded config (SIGHUP): the next move checks the new trunk limits."""
        self.settings = settings

    def move(self, call_id: str, target: str) -> Deferred[bool]:
        """Send the queued call to `target`; False (the call stays in its place) if the
        trunk is full, the call is no longer queued, or the caller could not be sent."""
        return Deferred.fromCoroutine(self._move(call_id, target))

    async def _move(self, call_id: str, target: str) -> bool:
        now = timestamp(self.clock)
        limit = self.settings.interflow.trunk_limit_for(self.site, target)
        if not await self.desk.take_trunk(self.site, target, call_id, limit, now):
            self._log.info("interflow_trunk_full", call_id=call_id, target=target)
            return False
        fields = await self.queues.move_out(call_id, target, now)
        if fields is None:
            await self.desk.release_trunk(self.site, target, call_id)
            return False
        visited = sites_of(fields.get("visited", "")) or (self.site,)
        transfer = {**fields, "moved_from": self.site, "visited": ",".join((*visited, target)),
                    "moves": str(int(fields.get("moves") or 0) + 1)}
        channel = fields.get("channel", "")
        try:
            await self.desk.write_transfer(call_id, transfer)
            sent = await self.telephony.move(call_id, channel, target)
        except Exception as error:  # noqa: BLE001 - the caller must get their place back
            self._log.error("interflow_move_failed", call_id=call_id, error=str(error))
            sent = False
        if not sent:
            await self.returned(call_id, channel)
            return False
        self._log.info("interflow_moved", call_id=call_id, target=target,
                       moves=transfer["moves"], visited=transfer["visited"])
        self.telephony.when_call_ends(call_id, channel).addCallback(
            lambda _: self.desk.release_trunk(self.site, target, call_id))
        return True

    def returned(self, call_id: str, channel: str) -> Deferred[QueuePlacement | None]:
        """The trunk call failed: the call is back at its place here (None if it was not
        being moved: nothing to do)."""
        async def back() -> QueuePlacement | None:
            record = await self.queues.call(call_id)
            if record is None:
                return None
            target = record.fields.get("moved_to", "")
            offer = await self.queues.move_back(call_id, channel, timestamp(self.clock))
            if target:
                await self.desk.release_trunk(self.site, target, call_id)
            if offer is None:
                return None
            self._log.info("interflow_returned", call_id=call_id, target=target)
            return self.carry_out(request_from(record.fields, call_id, self.site, channel),
                                  offer)

        return Deferred.fromCoroutine(back())

    def arrive(self, call_id: str, channel: str) -> Deferred[QueuePlacement | None]:
        """A caller moved here from another site: queued at the place its original enqueue
        time gives it, skipping the menus. None if no context was found (the caller then
        goes through this site's IVR as a new call)."""
        async def arrive() -> QueuePlacement | None:
            transfer = await self.desk.read_transfer(call_id)
            if transfer is None or transfer.get("moved_to") != self.site:
                self._log.warning("interflow_arrival_unknown", call_id=call_id)
                return None
            request = request_from(transfer, call_id, self.site, channel)
            extra = {"moved_from": transfer.get("moved_from", ""),
                     "visited": transfer.get("visited", ""),
                     "moves": transfer.get("moves", "1")}
            offer = await self.queues.offer(request, timestamp(self.clock),
                                            enqueued_at=float(transfer["enqueued_at"]),
                                            extra=extra)
            self._log.info("interflow_arrived", call_id=call_id,
                           moved_from=extra["moved_from"], visited=extra["visited"])
            return self.carry_out(request, offer)

        return Deferred.fromCoroutine(arrive())
