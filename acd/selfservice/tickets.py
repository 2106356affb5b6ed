"""Complaint tickets in Redis: a number the caller can write down, a stream for dispatch.

Layout (national, `TicketKeys` in acd/store/keys.py; the `{tickets}` hash tag keeps every
key in one Cluster slot so that the MULTI below and the status script,
acd/selfservice/lua/ticket_status.lua, stay atomic on every topology):

    <prefix>:{tickets}:seq           INCR counter; ticket number = 10000000 + counter
    <prefix>:{tickets}:t:<number>    hash: idpel, area_code, category, caller_number, site,
                                     call_id, created_at, status, updated_at
                                     (expires after `retention_s`, 90 days by default;
                                     caller_number as validation.ticket_caller_number
                                     cleans it: digits, a leading +, or "" if unknown)
    <prefix>:{tickets}:stream        stream, MAXLEN ~ 1,000,000: one entry per event,
                                     event=created (every ticket field) or
                                     event=status (number, status, at; source=apkt and
                                     apkt_at when APKT reported it)
    <prefix>:{tickets}:idpel:<idpel>, <prefix>:{tickets}:caller:<digits>
                                     zsets number -> created_at, the last TICKET_LOOKUP_S
                                     (acd/selfservice/lookups.py reads them)

Numbers come from INCR, which Redis executes atomically, so any number of pln123 processes
share one sequence without collisions. They are 8 digits (10000001 ... 99999999, the caller
hears them digit by digit), then grow to 9: still digits only, still unique.

The stream is the outbox the APKT connector reads with a consumer group (PLN's complaint
application; acd/selfservice/outbox.py): written in the same transaction as the ticket, so
no ticket exists that APKT will not hear of. Its entry ids are Redis's own ordering,
while `created_at`/`at` are the injected clock's time. A command retried after a lost reply
may append the same event twice: consumers dedupe by number and event, the hash is
unaffected.
"""

from __future__ import annotations

from collections.abc import Mapping

import structlog
from redis.typing import EncodableT, FieldT
from twisted.internet.defer import Deferred, fail
from twisted.internet.interfaces import IReactorTime

from acd.selfservice import validation
from acd.selfservice.lookups import index_created
from acd.selfservice.models import Ticket
from acd.store.clock import timestamp
from acd.store.keys import SELF_SERVICE_PREFIX, TICKET_KEEP_S, TICKET_STREAM_MAXLEN, TicketKeys
from acd.store.lua import source
from acd.store.redis import Client, RedisStore, text

log = structlog.get_logger("acd.selfservice.tickets")

NUMBER_BASE = 10_000_000  # the first ticket is 10000001
DEFAULT_STREAM_MAXLEN = TICKET_STREAM_MAXLEN
DEFAULT_RETENTION_S = TICKET_KEEP_S

_STATUS_SCRIPT = source("acd.selfservice", "ticket_status.lua")


class RedisTicketDesk:
    """`TicketDesk` over Redis, plus `set_status` for the dispatch side."""

    def __init__(
        self,
        store: RedisStore,
        clock: IReactorTime,
        *,
        prefix: str = SELF_SERVICE_PREFIX,
        stream_maxlen: int = DEFAULT_STREAM_MAXLEN,
        retention_s: int | None = DEFAULT_RETENTION_S,
    ):
        if stream_maxlen < 1:
            raise ValueError("stream_maxlen must be at least 1")
        if retention_s is not None and retention_s < 1:
            raise ValueError("retention_s must be at least 1 second, or None to keep tickets")
        self.store = store
        self.clock = clock
        self.keys = TicketKeys(prefix)
        self.stream_maxlen = stream_maxlen
        self.retention_s = retention_s

    def create(
        self,
        idpel: str,
        area_code: str,
        category: str,
        caller_number: str,
        site: str,
        call_id: str,
    ) -> Deferred[Ticket]:
        """File a ticket: a new number, the hash, and an `event=created` stream entry.

        Invalid input fails the Deferred with ValueError before anything is written; the
        caller's number is never invalid, only cleaned (whatever their network sent).
        """
        try:
            fields = validation.ticket_fields(
                idpel=idpel, area_code=area_code, category=category,
                caller_number=caller_number, site=site, call_id=call_id)
        except ValueError as error:
            return fail(error)
        now = timestamp(self.clock)
        record: dict[FieldT, EncodableT] = {
            "created_at": _time(now), "status": "received", "updated_at": _time(now)
        }
        for name, value in fields.items():  # redis-py's key type is invariant: no dict(...)
            record[name] = value

        async def create(client: Client) -> Ticket:
            number = str(NUMBER_BASE + int(await client.incr(self.keys.seq)))
            key = self.keys.ticket(number)
            async with client.pipeline(transaction=True) as pipe:
                pipe.hset(key, mapping=record)
                if self.retention_s is not None:
                    pipe.expire(key, self.retention_s)
                entry: dict[FieldT, EncodableT] = {"event": "created", "number": number}
                pipe.xadd(self.keys.stream, {**entry, **record},
                          maxlen=self.stream_maxlen, approximate=True)
                index_created(pipe, self.keys, number, fields, now)
                await pipe.execute()
            log.info("ticket_created", ticket=number, call_id=fields["call_id"],
                     site=fields["site"], area_code=fields["area_code"],
                     category=fields["category"])
            return Ticket(number=number, created_at=now, status_at=now, **fields)

        return self.store.run(create)

    def find(self, number: str) -> Deferred[Ticket | None]:
        """The ticket with this number, or None. ValueError if `number` is not digits.

        A caller keys the number in, so any digit string is a fair question (a wrong length
        is simply not found); anything else is a programming error.
        """
        try:
            digits = validation.matching(number, validation.TICKET_NUMBER, "ticket number",
                                         "digits only")
        except ValueError as error:
            return fail(error)

        async def find(client: Client) -> Ticket | None:
            raw = await client.hgetall(self.keys.ticket(digits))
            if not raw:
                return None
            return ticket_from_hash(digits, {text(k): text(v) for k, v in raw.items()})

        return self.store.run(find)

    def set_status(self, number: str, status: str) -> Deferred[bool]:
        """Record a new status (any of TICKET_STATUSES); False for an unknown ticket.

        Also appends an `event=status` entry, so the stream is the ticket's whole history.
        """
        try:
            digits = validation.matching(number, validation.TICKET_NUMBER, "ticket number",
                                         "digits only")
            new_status = validation.ticket_status(status)
        except ValueError as error:
            return fail(error)
        now = _time(timestamp(self.clock))

        async def update(client: Client) -> bool:
            script = client.register_script(_STATUS_SCRIPT)
            found = await script(
                keys=[self.keys.ticket(digits), self.keys.stream],
                args=[new_status, now, self.stream_maxlen, digits],
            )
            if found:
                log.info("ticket_status_set", ticket=digits, status=new_status)
            return bool(found)

        return self.store.run(update)


def _time(seconds: float) -> str:
    return f"{seconds:.3f}"


def _seconds(value: str | None) -> float | None:
    return None if value is None else float(value)


def ticket_from_hash(number: str, fields: Mapping[str, str]) -> Ticket:
    try:
        return Ticket(
            number=number,
            idpel=fields["idpel"],
            area_code=fields["area_code"],
            category=fields["category"],
            caller_number=fields["caller_number"],
            site=fields["site"],
            call_id=fields["call_id"],
            created_at=float(fields["created_at"]),
            status=fields.get("status", "received"),
            status_at=_seconds(fields.get("status_at") or fields.get("updated_at")),
        )
    except (KeyError, ValueError) as error:
        raise ValueError(f"ticket {number} in Redis is incomplete: {error}") from error
