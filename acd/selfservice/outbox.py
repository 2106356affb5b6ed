"""The APKT outbox: the ticket stream read by consumer group APKT_GROUP, and its backlog.

The ticket stream is written in the same transaction as the ticket (tickets.py), so it is
a transactional outbox already: a ticket that exists has its `created` entry. The group
remembers, in Redis, which entries were handed out and which were acknowledged, so the
sender (pln123/apkt) survives any restart, SIGKILL included:

* every process reads as a consumer named after its site (`consumer`), and first reads its
  own pending entries (XREADGROUP from 0): what it was sending when it died;
* entries another consumer holds for longer than the claim time (a site whose process
  is gone for good) are taken over with XAUTOCLAIM; a consumer still retrying an entry
  `touch`es it before every attempt, so a long APKT outage is not mistaken for that;
* an entry is acknowledged only after APKT accepted it (at least once; APKT dedupes by the
  ticket number and the `Idempotency-Key`), or moved to the dead-letter stream
  `<prefix>:{tickets}:apkt-dead` when APKT refuses it for good.

The backlog (entries not yet acknowledged, and the age of the oldest) is what the dashboard
and `/metrics` show: it grows while APKT is unreachable. The stream's MAXLEN still applies:
an outage longer than a million ticket events would lose the oldest.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from redis.exceptions import ResponseError
from redis.typing import EncodableT, FieldT
from twisted.internet.defer import Deferred

from acd.store.keys import APKT_DEAD_MAXLEN, APKT_GROUP, SELF_SERVICE_PREFIX, TicketKeys
from acd.store.redis import Client, RedisStore, text

BACKLOG_COUNT_LIMIT = 100_000  # counted by hand only when Redis cannot tell the lag


@dataclass(frozen=True)
class OutboxEntry:
    id: str                      # the stream entry id: also the event's version
    fields: dict[str, str]       # empty when the entry was trimmed from the stream meanwhile


@dataclass(frozen=True)
class Backlog:
    """Entries APKT has not accepted yet; `oldest_age_s` None when there are none."""

    size: int
    oldest_age_s: float | None
    dead: int

    def as_json(self) -> dict[str, Any]:
        return {"backlog": self.size, "oldest_age_s": self.oldest_age_s,
                "dead_letters": self.dead}


class TicketOutbox:
    def __init__(self, store: RedisStore, consumer: str, *, prefix: str = SELF_SERVICE_PREFIX,
                 group: str = APKT_GROUP):
        self.store = store
        self.consumer = consumer
        self.keys = TicketKeys(prefix)
        self.group = group

    def ensure_group(self, since_ms: int) -> Deferred[bool]:
        """Create the group (True) to hand out entries newer than `since_ms` (Redis time,
        epoch ms), or leave an existing one as it is (False)."""

        async def create(client: Client) -> bool:
            try:
                await client.xgroup_create(self.keys.stream, self.group,
                                           id=f"{max(0, since_ms)}-0", mkstream=True)
            except ResponseError as error:
                if "BUSYGROUP" not in str(error):
                    raise
                return False
            return True

        return self.store.run(create)

    def own_pending(self, count: int) -> Deferred[list[OutboxEntry]]:
        """Entries handed to this consumer and never acknowledged (a restart's first read)."""
        return self.store.run(lambda client: self._read(client, "0", count, None))

    def new(self, count: int, block_ms: int) -> Deferred[list[OutboxEntry]]:
        return self.store.run(lambda client: self._read(client, ">", count, block_ms))

    def claim_idle(self, min_idle_ms: int, count: int) -> Deferred[list[OutboxEntry]]:
        """Entries other consumers have held for `min_idle_ms`, now this consumer's."""

        async def claim(client: Client) -> list[OutboxEntry]:
            reply: Any = await client.xautoclaim(self.keys.stream, self.group, self.consumer,
                                                 min_idle_ms, start_id="0-0", count=count)
            return [_entry(entry_id, raw) for entry_id, raw in reply[1]]

        return self.store.run(claim)

    def touch(self, entry_id: str) -> Deferred[None]:
        """Mark an entry this consumer is still retrying as alive (its idle time back to 0),
        so no other consumer claims it while APKT is merely down."""

        async def touch(client: Client) -> None:
            await client.xclaim(self.keys.stream, self.group, self.consumer, 0, [entry_id],
                                justid=True)

        return self.store.run(touch)

    def ack(self, entry_id: str) -> Deferred[None]:
        async def ack(client: Client) -> None:
            await client.xack(self.keys.stream, self.group, entry_id)

        return self.store.run(ack)

    def dead_letter(self, entry: OutboxEntry, reason: str) -> Deferred[None]:
        """Keep the entry (and why APKT refused it) for an operator, and acknowledge it."""

        async def move(client: Client) -> None:
            async with client.pipeline(transaction=True) as pipe:
                record: dict[FieldT, EncodableT] = {"entry": entry.id, "reason": reason[:500]}
                for name, value in entry.fields.items():  # redis-py's key type is invariant
                    record[name] = value
                pipe.xadd(self.keys.apkt_dead, record, maxlen=APKT_DEAD_MAXLEN,
                          approximate=True)
                pipe.xack(self.keys.stream, self.group, entry.id)
                await pipe.execute()

        return self.store.run(move)

    def backlog(self, now: float) -> Deferred[Backlog | None]:
        """None while the group does not exist (the connector never ran)."""
        return self.store.run(lambda client: self._backlog(client, now))

    async def _read(self, client: Client, start: str, count: int,
                    block_ms: int | None) -> list[OutboxEntry]:
        reply: Any = await client.xreadgroup(self.group, self.consumer,
                                             {self.keys.stream: start}, count=count,
                                             block=block_ms)
        return [_entry(entry_id, raw) for _stream, entries in reply or []
                for entry_id, raw in entries]

    async def _backlog(self, client: Client, now: float) -> Backlog | None:
        try:
            groups: Any = await client.xinfo_groups(self.keys.stream)
        except ResponseError:   # no stream yet
            return None
        info = next((g for g in groups if text(g["name"]) == self.group), None)
        if info is None:
            return None
        pending = int(info["pending"])
        last = text(info["last-delivered-id"])
        lag = info.get("lag")
        if lag is None:   # Redis cannot tell after some trims and deletions: count
            rows: Any = await client.xrange(self.keys.stream, f"({last}", "+",
                                            count=BACKLOG_COUNT_LIMIT)
            lag = len(rows)
        oldest: str | None = None
        if pending:
            summary: Any = await client.xpending(self.keys.stream, self.group)
            oldest = text(summary["min"]) if summary.get("min") else None
        elif int(lag):
            first: Any = await client.xrange(self.keys.stream, f"({last}", "+", count=1)
            oldest = text(first[0][0]) if first else None
        dead = int(await client.xlen(self.keys.apkt_dead))
        age = None if oldest is None else round(max(0.0, now - _ms(oldest) / 1000), 3)
        return Backlog(pending + int(lag), age, dead)


def _entry(entry_id: Any, raw: Any) -> OutboxEntry:
    fields = {text(k): text(v) for k, v in (raw or {}).items()}
    return OutboxEntry(text(entry_id), fields)


def _ms(entry_id: str) -> int:
    return int(entry_id.split("-", 1)[0])
