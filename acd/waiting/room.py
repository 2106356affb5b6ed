"""The WaitingRoom: what a queued caller hears, and what happens at the queue's maximum wait.

Why it is shaped like this: several pln123 processes serve one site, but only the one that
holds the caller's AsyncAGI channel can play anything to it, i.e. the process whose
Distributor enqueued the call (`queued`, as the Distributor's QueueWatcher) or that
adopted it after a restart (`adopt`). So each process looks after its own callers, and
everything it decides on comes from Redis, never from memory: at every tick it re-reads
the call, so a call taken by another process's agent, answered or abandoned is
simply no longer queued and the room lets it go (a ring-no-answer puts it back: while an
agent's phone rings the call is still watched, silently).

One timer per call (the injected clock; no sleeps) fires on entry and every
`announce_every_s`: position (1 = next) and EWT (Avaya-style from the
position and the service rate of the agents staffed for the skill, rounded up to whole
minutes; None, i.e. position only, when nobody is staffed). The timer also fires at
`enqueued_at + max_wait_s`; a call still queued then is taken out of the queue in the same
script that counts it (QueueStore.remove_call with a fallback: no agent can be reserved
for it afterwards) and gets the queue's fallback:

- `ticket`: with a confirmed IDPEL and a ticket desk, a ticket (category `max_wait`) is
  filed and the caller hears the apology and the ticket number, then is hung up.
  Without an IDPEL (or if filing fails) the caller gets the apology fallback below: a
  ticket that PLN cannot attach to a customer would only be noise for dispatch.
- `callback`: the callback is offered (again) at the maximum wait; accepted, the call keeps
  its place as a callback; declined: the apology, the PLN Mobile prompt, hang up. The audit
  stream records event `max_wait` with `fallback` = `ticket` or `apology`.

Callback offer: once per call, when the EWT just computed for an announcement exceeds
`callback_offer_ewt_s` (an unknown EWT, nobody staffed, counts as exceeding), right after
that announcement, `telephony.offer_callback`. A number back (digits) marks the call in
Redis (QueueStore.mark_callback: only while still queued) and the caller is let go
(`farewell`, the confirmation was part of the offer): the call keeps its place, the
hang-up is not an abandon, and the room stops looking after it (no announcements, no
maximum wait: the Distributor dials the caller when an agent is reserved).

The maximum wait counts from the call's enqueue time, which for a resumed call
(abandon-resume) is the first call's: the caller's whole wait.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import structlog
from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IDelayedCall, IReactorTime

from acd.background import Background
from acd.gather import gather
from acd.intake import QueueRequest
from acd.pooling.admission import Admission
from acd.queues.metrics import LiveView, SiteMetrics, aht, announced_ewt, ewt
from acd.queues.records import CallRecord, CallState, Queued
from acd.queues.store import QueueStore
from acd.selfservice.models import TicketDesk
from acd.settings import AcdSettings
from acd.store.clock import timestamp
from acd.telephony import Telephony

log = structlog.get_logger("acd.waiting")

TICKET_CATEGORY = "max_wait"


@dataclass(frozen=True)
class FarewellPrompts:
    """Prompt ids of the maximum-wait fallback (ids of the IVR's prompt catalogue)."""

    apology: str = "queue-apology"      # "sorry, all our agents are still busy"
    ticket: str = "ticket-created"      # "your report number is" + the digits
    self_service: str = "pln-mobile"    # "you can also use the PLN Mobile app"
    callback_done: str = "goodbye"      # after the callback was confirmed, before hang-up


@dataclass
class _Watch:
    call_id: str
    channel: str
    language: str
    skill: str
    timer: IDelayedCall | None = None
    playing: bool = False
    ticks: int = 0
    offered: bool = False   # a callback was offered (once per call)
    new: bool = True        # just queued: admission control has not judged it yet
    # What the offer that queued the call said (record, position): the first tick's look
    # at the call, without reading it back.
    placed: tuple[CallRecord, int] | None = None


class WaitingRoom:
    """Announcements and the maximum wait for this process's queued callers of one site."""

    def __init__(self, site: str, settings: AcdSettings, queues: QueueStore,
                 metrics: SiteMetrics, telephony: Telephony, clock: IReactorTime, *,
                 tickets: TicketDesk | None = None,
                 prompts: FarewellPrompts | None = None,
                 admission: Admission | None = None):
        if queues.site != site:
            raise ValueError(f"the queue store serves {queues.site!r}, not {site!r}")
        self.site = site
        self.settings = settings
        self.queues = queues
        self.metrics = metrics
        self.telephony = telephony
        self.clock = clock
        self.tickets = tickets
        self.prompts = prompts or FarewellPrompts()
        self.admission = admission  # None: no surge admission control here
        self._watches: dict[str, _Watch] = {}
        self._let_go: set[str] = set()   # callers sent off here, their hang-up to come
        self._log = log.bind(site=site)
        self._background = Background(self._log, "waiting_failed")

    def reconfigure(self, settings: AcdSettings) -> None:
        """A reloaded config (SIGHUP): each waiting caller's next tick uses `settings`
        (announcement interval, maximum wait and its fallback, callback offer)."""
        self.settings = settings

    # -- QueueWatcher (the Distributor) --------------------------------------------------

    def queued(self, request: QueueRequest, position: int, *,
               placed: Queued | None = None) -> None:
        """The Distributor queued the call: announce now, then every `announce_every_s`.
        With the offer's reply (`placed`) the first announcement needs no read of the call:
        the reply is the call as the offer left it, in the same turn."""
        known = None
        if placed is not None and placed.enqueued_at is not None:
            known = (self.queues.queued_record(request, placed), position)
        self._watch(request.call_id, request.channel, request.language, request.skill,
                    placed=known)

    def left(self, call_id: str) -> None:
        """The caller hung up: no more announcements (Redis says so too, this is sooner)."""
        watch = self._watches.pop(call_id, None)
        if watch is not None:
            self._cancel(watch)

    def let_go(self, call_id: str) -> bool:
        """QueueWatcher: True (once) if this room sent the caller off (a callback kept their
        place, or the fallback at the maximum wait): their hang-up is no abandon."""
        if call_id in self._let_go:
            self._let_go.discard(call_id)
            return True
        return False

    # -- restart ---------------------------------------------------------------------------

    def adopted(self, call_id: str) -> None:
        """QueueWatcher: a call this process holds again after a restart (`adopt`)."""
        self._background.spawn(self._adopt_quietly(call_id))

    async def _adopt_quietly(self, call_id: str) -> None:
        await self.adopt(call_id)

    def adopt(self, call_id: str) -> Deferred[bool]:
        """After a restart: look after a call this process re-adopted the channel of.

        True if the call is still waiting (queued, or its agent rings) and is now watched.
        """
        async def adopt() -> bool:
            record = await self.queues.call(call_id)
            if record is None or record.state not in (CallState.QUEUED, CallState.RESERVED):
                return False
            self._watch(call_id, record.fields.get("channel", ""),
                        record.fields.get("language", "id"), record.skill, new=False)
            return True

        return Deferred.fromCoroutine(adopt())

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def watching(self) -> frozenset[str]:
        return frozenset(self._watches)

    def stop(self) -> None:
        """Cancel every timer (the calls stay queued in Redis; `adopt` picks them up)."""
        for watch in list(self._watches.values()):
            self._cancel(watch)
        self._watches.clear()

    def settle(self) -> Deferred[None]:
        """Fires once no tick or fallback of this room is in flight. For tests and stops."""
        return self._background.settle()

    # -- the tick --------------------------------------------------------------------------

    def _watch(self, call_id: str, channel: str, language: str, skill: str, *,
               new: bool = True, placed: tuple[CallRecord, int] | None = None) -> None:
        if call_id in self._watches:
            return  # a retried enqueue, or adopted twice
        watch = _Watch(call_id, channel, language, skill, new=new, placed=placed)
        self._watches[call_id] = watch
        self._background.spawn(self._tick(watch))

    def _cancel(self, watch: _Watch) -> None:
        if watch.timer is not None and watch.timer.active():
            watch.timer.cancel()
        watch.timer = None

    def _fire(self, watch: _Watch) -> None:
        watch.timer = None
        if self._watches.get(watch.call_id) is watch:
            self._background.spawn(self._tick(watch))

    def _schedule(self, watch: _Watch, delay_s: float) -> None:
        if self._watches.get(watch.call_id) is watch:
            self._cancel(watch)
            watch.timer = self.clock.callLater(max(0.0, delay_s), self._fire, watch)

    async def _tick(self, watch: _Watch) -> None:
        now = self._now()
        every = self.settings.announce_every_s
        try:
            # The call with its position, the skill's live figures and, for a new caller,
            # the pool's capacity are asked for at once: one round trip's wait, not four
            # (the figures are shared by every caller of the skill anyway).
            new, watch.new = watch.new and self.admission is not None, False
            placed, watch.placed = watch.placed, None
            reads: list[Deferred[Any]] = [
                succeed(placed) if placed else self.queues.call_and_position(watch.call_id),
                self.metrics.live(watch.skill, now)]
            if new and self.admission is not None:
                reads.append(self.admission.over_capacity(watch.skill))
            (record, position), view, *crowded = await gather(*reads)
            if self._watches.get(watch.call_id) is not watch:
                return  # left meanwhile
            if record is None or record.state not in (CallState.QUEUED, CallState.RESERVED):
                self._watches.pop(watch.call_id, None)  # answered, abandoned, ended
                return
            if new and record.state is CallState.QUEUED and crowded[0]:
                self._log.info("surge_turn_away", call_id=watch.call_id, skill=record.skill)
                if await self._fallback(watch, record, now, "surge"):
                    return
            deadline = record.enqueued_at + self.settings.queue(record.skill).max_wait_s
            if record.state is CallState.QUEUED and now >= deadline:
                if await self._max_wait(watch, record, now):
                    return
                deadline = math.inf  # an agent took it just now; keep watching
            self._schedule(watch, min(every, deadline - now) if deadline > now else every)
            if record.state is CallState.QUEUED and position and not watch.playing:
                await self._announce(watch, position, view)
        except Exception as error:  # noqa: BLE001 - a tick must never stop the others
            self._log.error("waiting_tick_failed", call_id=watch.call_id, error=str(error),
                            kind=type(error).__name__)
            if watch.timer is None:
                self._schedule(watch, every)

    async def _announce(self, watch: _Watch, position: int, view: LiveView) -> None:
        expected = ewt(position, view.serving, aht(view.counters) or self.metrics.default_aht_s)
        told = announced_ewt(expected)
        if self._watches.get(watch.call_id) is not watch:
            return  # left while the tick decided
        watch.playing = True
        watch.ticks += 1
        self._log.debug("waiting_announced", call_id=watch.call_id, position=position,
                       ewt_s=None if math.isinf(expected) else round(expected, 1),
                       announced_s=told)
        try:
            await self.telephony.announce(watch.channel, position, told, watch.language)
            if not watch.offered and expected > self.settings.callback_offer_ewt_s:
                watch.offered = True
                await self._offer_callback(watch)
        finally:
            watch.playing = False

    async def _offer_callback(self, watch: _Watch) -> bool:
        """Offer a callback; accepted and still queued: mark it and let the caller go."""
        number = await self.telephony.offer_callback(watch.channel, watch.language)
        if not number or not number.isdigit() or self._watches.get(watch.call_id) is not watch:
            self._log.info("callback_declined", call_id=watch.call_id, accepted=bool(number))
            return False
        if not await self.queues.mark_callback(watch.call_id, number, self._now()):
            self._log.info("callback_too_late", call_id=watch.call_id)  # an agent took it
            return False
        self._watches.pop(watch.call_id, None)
        self._cancel(watch)
        self._let_go.add(watch.call_id)
        self._log.info("callback_accepted", call_id=watch.call_id)
        await self.telephony.farewell(watch.channel, [self.prompts.callback_done],
                                      watch.language)
        return True

    # -- the maximum wait ------------------------------------------------------------------

    async def _max_wait(self, watch: _Watch, record: CallRecord, now: float) -> bool:
        """Take the call out of the queue and give it the fallback; False if it was taken."""
        return await self._fallback(watch, record, now, "max_wait")

    async def _fallback(self, watch: _Watch, record: CallRecord, now: float,
                        why: str) -> bool:
        idpel = record.fields.get("idpel", "")
        configured = ("callback" if why == "surge"
                      else self.settings.queue(record.skill).max_wait_fallback)
        if configured == "callback" and record.fields.get("caller_number"):
            # A callback first: accepted, the call keeps its place as a callback and
            # nobody waits on the line any more.
            watch.offered = True
            if await self._offer_callback(watch):
                self._log.info(f"waiting_{why}", call_id=watch.call_id, skill=record.skill,
                               fallback="callback", waited_s=round(now - record.enqueued_at, 3))
                return True
        ticket_wanted = configured == "ticket" or why == "surge"
        fallback = "ticket" if (ticket_wanted and idpel and self.tickets) else "apology"
        if not await self.queues.remove_call(watch.call_id, now, max_wait_fallback=fallback,
                                             why=why):
            return False
        self._watches.pop(watch.call_id, None)
        self._cancel(watch)
        self._let_go.add(watch.call_id)
        number = ""
        if fallback == "ticket" and self.tickets is not None:
            number = await self._file_ticket(record, idpel, why)
        if number:
            prompts = [self.prompts.apology, self.prompts.ticket]
        else:
            prompts = [self.prompts.apology, self.prompts.self_service]
        self._log.info(f"waiting_{why}", call_id=watch.call_id, skill=record.skill,
                       fallback=fallback, ticket=number or None,
                       waited_s=round(now - record.enqueued_at, 3))
        await self.telephony.farewell(watch.channel, prompts, watch.language, number)
        return True

    async def _file_ticket(self, record: CallRecord, idpel: str,
                           category: str = TICKET_CATEGORY) -> str:
        """The new ticket's number, or "" if it could not be filed (the apology instead)."""
        assert self.tickets is not None
        f = record.fields
        try:
            ticket = await self.tickets.create(idpel, f.get("area_code", ""), category,
                                               f.get("caller_number", ""), self.site,
                                               record.call_id)
        except Exception as error:  # noqa: BLE001 - the caller still gets the apology
            self._log.error("waiting_ticket_failed", call_id=record.call_id, error=str(error))
            return ""
        return ticket.number

    # -- plumbing --------------------------------------------------------------------------

    def _now(self) -> float:
        return timestamp(self.clock)
