"""The APKT sender: every ticket stream entry delivered to APKT at least once, in order per
ticket, retried with exponential backoff on the injected clock, kept across restarts.

The outbox (acd/selfservice/outbox.py) holds the state in Redis; this loop only moves
entries along: at start the entries this consumer held when it last stopped (or was
killed), then every CLAIM_EVERY_S the entries other consumers held too long, and otherwise
new entries as they come. A batch is split by ticket: one ticket's events go in stream
order (APKT must hear of a ticket before its status), different tickets concurrently.

What APKT answers decides an entry's fate (`verdict`): 2xx acknowledges it; 400, 413, 415
and 422 say the request itself is wrong, so retrying cannot help and it goes to the dead
letters for an operator; 404 for a status (APKT does not know the ticket yet: its creation
may still be on its way from another process) is retried up to `unknown_ticket_attempts`;
anything else (no answer, 5xx, 429, a refused token that an operator will fix) is retried
for as long as it takes. Stopping leaves unfinished entries pending: the next start sends
them again with the same `Idempotency-Key`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal, TypeVar

import structlog
from twisted.internet.defer import CancelledError, Deferred, gatherResults, succeed
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import deferLater

from acd.selfservice.outbox import OutboxEntry, TicketOutbox
from pln123.apkt.contract import Delivery, delivery_for
from pln123.apkt.http import Poster
from pln123.config.apkt import ApktRetry

log = structlog.get_logger("pln123.apkt.sender")

T = TypeVar("T")

CLAIM_EVERY_S = 30.0
PERMANENT = frozenset({400, 413, 415, 422})
Verdict = Literal["ok", "retry", "dead"]


@dataclass(frozen=True)
class Backoff(ApktRetry):
    """Waits between attempts: initial_s, then times factor, at most max_s (the config's
    `apkt.retry`, whose defaults are these)."""

    def delay(self, attempt: int) -> float:
        """The wait after failed attempt number `attempt` (1 = the first)."""
        return float(min(self.max_s, self.initial_s * self.factor ** min(attempt - 1, 64)))


def verdict(code: int | None, delivery: Delivery, attempt: int, backoff: Backoff) -> Verdict:
    """What to do after an attempt answered `code` (None: no answer)."""
    if code is not None and 200 <= code < 300:
        return "ok"
    if code in PERMANENT:
        return "dead"
    if code == 404 and delivery.event == "status":
        return "dead" if attempt >= backoff.unknown_ticket_attempts else "retry"
    return "retry"


class ApktSender:
    def __init__(self, outbox: TicketOutbox, poster: Poster, clock: IReactorTime, *,
                 backoff: Backoff | None = None, batch: int = 16, block_ms: int = 1000,
                 claim_idle_s: float = 60.0, backfill_s: float = 86_400.0):
        self.outbox = outbox
        self.poster = poster
        self.clock = clock
        self.backoff = backoff or Backoff()
        self.batch = batch
        self.block_ms = block_ms
        # Longer than any wait between two attempts (each attempt touches its entry):
        # only a consumer that stopped for good loses its entries to another.
        self.claim_idle_s = max(claim_idle_s, self.backoff.max_s + 60.0)
        self.backfill_s = backfill_s
        self.delivered = 0       # entries APKT accepted (this process)
        self.failed_attempts = 0
        self.dead = 0
        self._running = False
        self._done: Deferred[None] | None = None
        self._waits: set[Deferred[None]] = set()
        self._log = log.bind(consumer=outbox.consumer)

    def start(self) -> None:
        self._running = True
        self._done = Deferred.fromCoroutine(self._run())
        self._done.addErrback(lambda failure: self._log.error(
            "apkt_sender_failed", error=failure.getErrorMessage(),
            traceback=failure.getTraceback()))

    def stop(self) -> Deferred[None]:
        """Stop after the read or request under way (waits are cut short); what is not
        acknowledged stays pending for the next start."""
        self._running = False
        for wait in list(self._waits):
            wait.cancel()
        return self._done if self._done is not None else succeed(None)

    # -- the loop ----------------------------------------------------------------------------

    async def _run(self) -> None:
        created = await self._redis(lambda: self.outbox.ensure_group(
            int((self.clock.seconds() - self.backfill_s) * 1000)), "group")
        if created:
            self._log.info("apkt_outbox_group_created", backfill_s=self.backfill_s)
        while self._running:   # what this consumer held when it last stopped
            held = await self._redis(lambda: self.outbox.own_pending(self.batch), "pending")
            if not held:
                break
            await self._deliver(held or [])
        next_claim = self.clock.seconds()
        while self._running:
            if self.clock.seconds() >= next_claim:
                next_claim = self.clock.seconds() + CLAIM_EVERY_S
                claimed = await self._redis(lambda: self.outbox.claim_idle(
                    int(self.claim_idle_s * 1000), self.batch), "claim")
                if claimed:
                    self._log.info("apkt_outbox_claimed", entries=len(claimed))
                    await self._deliver(claimed)
                    continue
            entries = await self._redis(lambda: self.outbox.new(self.batch, self.block_ms),
                                        "read")
            if entries:
                await self._deliver(entries)

    async def _deliver(self, entries: Iterable[OutboxEntry]) -> None:
        by_ticket: dict[str, list[OutboxEntry]] = {}
        for entry in entries:
            by_ticket.setdefault(entry.fields.get("number", entry.id), []).append(entry)
        await gatherResults([Deferred.fromCoroutine(self._in_order(group))
                             for group in by_ticket.values()])

    async def _in_order(self, group: list[OutboxEntry]) -> None:
        for entry in group:
            try:
                if not await self._one(entry):
                    return   # stopping: the rest stay pending, in order
            except Exception as error:  # noqa: BLE001 - a bug: left pending, claimed later
                self._log.error("apkt_delivery_crashed", version=entry.id,
                                error=f"{type(error).__name__}: {error}")
                return

    async def _one(self, entry: OutboxEntry) -> bool:
        """Deliver one entry until acknowledged; False if stopped first."""
        try:
            delivery = delivery_for(entry.id, entry.fields)
        except ValueError as error:
            return await self._bury(entry, str(error))
        if delivery is None:   # nothing for APKT: done with it
            return await self._ack(entry)
        attempt = 0
        while self._running:
            attempt += 1
            if attempt > 1:
                await self._touch(entry)
            code: int | None = None
            problem = ""
            try:
                code = await self.poster.post(delivery)
            except Exception as failure:  # noqa: BLE001 - no answer: retried like a 503
                problem = f"{type(failure).__name__}: {failure}"
            outcome = verdict(code, delivery, attempt, self.backoff)
            if outcome == "ok":
                self.delivered += 1
                self._log.info("apkt_delivered", ticket=delivery.number, kind=delivery.event,
                               version=entry.id, status=code, attempts=attempt)
                return await self._ack(entry)
            if outcome == "dead":
                return await self._bury(entry, f"APKT answered {code} after {attempt} "
                                               f"attempts")
            self.failed_attempts += 1
            delay = self.backoff.delay(attempt)
            self._log.warning("apkt_delivery_failed", ticket=delivery.number,
                              kind=delivery.event, version=entry.id, status=code,
                              error=problem or None, attempt=attempt, retry_in_s=delay)
            await self._sleep(delay)
        return False

    async def _ack(self, entry: OutboxEntry) -> bool:
        return await self._until_done(lambda: self.outbox.ack(entry.id), "ack")

    async def _bury(self, entry: OutboxEntry, reason: str) -> bool:
        self.dead += 1
        self._log.error("apkt_dead_letter", version=entry.id,
                        ticket=entry.fields.get("number"), reason=reason)
        return await self._until_done(lambda: self.outbox.dead_letter(entry, reason), "dead_letter")

    # -- helpers -----------------------------------------------------------------------------

    async def _touch(self, entry: OutboxEntry) -> None:
        try:
            await self.outbox.touch(entry.id)
        except Exception as error:  # noqa: BLE001 - best effort: the attempt goes on
            self._log.warning("apkt_outbox_redis_failed", step="touch", error=str(error))

    async def _until_done(self, work: Callable[[], Deferred[None]], what: str) -> bool:
        """`work()` until Redis answers; False if stopped first."""
        return await self._redis(lambda: work().addCallback(lambda _: True), what) is True

    async def _redis(self, work: Callable[[], Deferred[T]], what: str) -> T | None:
        """`work()` until Redis answers (with backoff); None if stopped first."""
        attempt = 0
        while self._running:
            attempt += 1
            try:
                result = await work()
            except CancelledError:
                return None
            except Exception as error:  # noqa: BLE001 - Redis away: wait and retry
                self._log.warning("apkt_outbox_redis_failed", step=what, error=str(error),
                                  attempt=attempt)
                await self._sleep(self.backoff.delay(attempt))
                continue
            return result
        return None

    async def _sleep(self, seconds: float) -> None:
        wait: Deferred[None] = deferLater(self.clock, seconds, lambda: None)
        self._waits.add(wait)
        try:
            await wait
        except CancelledError:
            pass
        finally:
            self._waits.discard(wait)
