"""What an agent adds to a ticket beyond what the IVR files: a description and an address.

The ticket desk (`acd.selfservice.tickets.RedisTicketDesk`) files the ticket itself: its
number, its hash, the `created` entry of the ticket stream (APKT's outbox) and the IDPEL /
caller indexes, in one transaction. The agent's words are added to the same hash
afterwards, with an `event=updated` entry in the same stream (number, the fields, `by`,
`at`), so the ticket's history stays in one place; the APKT sender skips events it does
not know. A ticket that vanished meanwhile (expired) is refused, never recreated.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from redis.typing import EncodableT, FieldT
from twisted.internet.interfaces import IReactorTime

from acd.selfservice import validation
from acd.store.clock import timestamp
from acd.store.keys import TICKET_STREAM_MAXLEN, TicketKeys
from acd.store.redis import Client, RedisStore

LIMITS = {"description": 1000, "address": 300}


class TicketNotes:
    def __init__(self, store: RedisStore, clock: IReactorTime):
        self.store = store
        self.clock = clock
        self.keys = TicketKeys()

    @staticmethod
    def details(body: Mapping[str, Any], *, required: bool) -> dict[str, str]:
        """The description (required for a new ticket) and address from a request body,
        each one line of plain text within its limit; ValueError naming the field."""
        found: dict[str, str] = {}
        for name, limit in LIMITS.items():
            value = body.get(name)
            if value is None or value == "":
                if required and name == "description":
                    raise ValueError("description is required")
                continue
            found[name] = validation.plain_text(value, name, limit)
        return found

    async def amend(self, number: str, details: Mapping[str, str], by: str) -> None:
        """LookupError for a ticket that does not exist (any more)."""
        if not details:
            return
        key = self.keys.ticket(validation.matching(number, validation.TICKET_NUMBER,
                                                   "ticket number", "digits only"))
        now = f"{timestamp(self.clock):.3f}"
        fields: dict[FieldT, EncodableT] = {"updated_at": now}
        entry: dict[FieldT, EncodableT] = {"event": "updated", "number": number, "by": by,
                                           "at": now}
        for name, value in details.items():   # redis-py's key type is invariant
            fields[name] = value
            entry[name] = value

        async def write(client: Client) -> bool:
            if not await client.exists(key):
                return False
            async with client.pipeline(transaction=True) as pipe:
                pipe.hset(key, mapping=fields)
                pipe.xadd(self.keys.stream, entry, maxlen=TICKET_STREAM_MAXLEN,
                          approximate=True)
                await pipe.execute()
            return True

        if not await self.store.run(write):
            raise LookupError(f"no ticket {number}")
