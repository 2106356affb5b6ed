"""A caller's open tickets without the ticket number: by IDPEL, or by the number they call from.

Most callers asking "what happened to my report" never wrote the number down, but they know
their customer number (IDPEL), and most call from the phone they reported from. Two sorted
sets per ticket, written in the same transaction as the ticket (`index_created`, called by
acd/selfservice/tickets.py), answer both without scanning 90 days of tickets:

    <prefix>:{tickets}:idpel:<idpel>     number -> created_at
    <prefix>:{tickets}:caller:<digits>   number -> created_at

Each is trimmed to the last TICKET_LOOKUP_S (30 days) when written and expires that long
after its last ticket. The caller's number is indexed by its national significant number
(`caller_key`): Indonesian networks present the same mobile as 0812..., 62812... or
+62812..., and a caller must find their ticket whichever their network sent that day.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from twisted.internet.defer import Deferred, fail
from twisted.internet.interfaces import IReactorTime

from acd.selfservice import validation
from acd.selfservice.models import OPEN_TICKET_STATUSES, Ticket
from acd.store.clock import timestamp
from acd.store.keys import SELF_SERVICE_PREFIX, TICKET_LOOKUP_S, TicketKeys
from acd.store.redis import Client, RedisStore, text

COUNTRY_CODE = "62"
MAX_FOUND = 10  # a caller hears at most this many tickets read out; more is never useful


def caller_key(caller_number: str) -> str:
    """The national significant number of a caller ID ("" when there is none to index).

    Cleaned as a ticket records it (validation.ticket_caller_number), then the
    international (+62, 62) or trunk (0) prefix dropped.
    """
    digits = validation.ticket_caller_number(caller_number).lstrip("+")
    if digits.startswith(COUNTRY_CODE) and len(digits) > 8:
        digits = digits[len(COUNTRY_CODE):]
    return digits.lstrip("0")


def index_created(pipe: Any, keys: TicketKeys, number: str, fields: Mapping[str, str],
                  now: float) -> None:
    """Queue the index writes of a new ticket on `pipe` (the create transaction)."""
    cutoff = now - TICKET_LOOKUP_S
    targets = [keys.by_idpel(fields["idpel"])]
    digits = caller_key(fields["caller_number"])
    if digits:
        targets.append(keys.by_caller(digits))
    for key in targets:
        pipe.zadd(key, {number: now})
        pipe.zremrangebyscore(key, "-inf", cutoff)
        pipe.expire(key, TICKET_LOOKUP_S)


class RedisTicketLookup:
    """`TicketLookup` over the indexes: open tickets of the last 30 days, newest first,
    each with its latest status and when it got it (APKT's time when APKT reported it)."""

    def __init__(self, store: RedisStore, clock: IReactorTime, *,
                 prefix: str = SELF_SERVICE_PREFIX, window_s: float = TICKET_LOOKUP_S):
        self.store = store
        self.clock = clock
        self.keys = TicketKeys(prefix)
        self.window_s = window_s

    def open_by_idpel(self, idpel: str) -> Deferred[list[Ticket]]:
        """ValueError (failed Deferred) if `idpel` is not 12 digits."""
        try:
            key = self.keys.by_idpel(validation.idpel(idpel))
        except ValueError as error:
            return fail(error)
        return self.store.run(lambda client: self._open(client, key))

    def open_by_caller(self, caller_number: str) -> Deferred[list[Ticket]]:
        """Whatever the network sent as the caller ID; a withheld number finds nothing."""
        try:
            digits = caller_key(caller_number)
        except ValueError as error:
            return fail(error)
        if not digits:
            return Deferred.fromCoroutine(_nothing())
        key = self.keys.by_caller(digits)
        return self.store.run(lambda client: self._open(client, key))

    async def _open(self, client: Client, key: str) -> list[Ticket]:
        # Imported here: tickets.py imports `index_created` from this module.
        from acd.selfservice.tickets import ticket_from_hash

        since = timestamp(self.clock) - self.window_s
        members: Any = await client.zrevrangebyscore(key, "+inf", since)
        numbers = [text(n) for n in members]
        if not numbers:
            return []
        async with client.pipeline(transaction=False) as pipe:
            for number in numbers:
                pipe.hgetall(self.keys.ticket(number))
            replies = await pipe.execute()
        found: list[Ticket] = []
        for number, raw in zip(numbers, replies, strict=True):
            if not raw:
                continue  # expired meanwhile (it outlived the index only by accident)
            ticket = ticket_from_hash(number, {text(k): text(v) for k, v in raw.items()})
            if ticket.status in OPEN_TICKET_STATUSES:
                found.append(ticket)
            if len(found) == MAX_FOUND:
                break
        return found


async def _nothing() -> list[Ticket]:
    return []
