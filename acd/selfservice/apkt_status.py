"""Statuses APKT (PLN's complaint application) reports back, applied to the ticket in Redis.

APKT is where complaints are dispatched and fixed: it calls pln123's webhook as a ticket is
received, a crew dispatched, the crew on site, the fault resolved. What the caller hears on
their next call is the ticket hash's `status`, so that is what changes here, with APKT's
time as `status_at`. One script (acd/selfservice/lua/apkt_status.lua) decides atomically:

* a request whose signature was seen before is a replay: nothing changes;
* an APKT event id applied before (APKT retrying after a lost reply) changes nothing again;
* a status older than one APKT already reported (webhooks overtaking each other) is stale;
* otherwise the status is set and an `event=status, source=apkt` entry appended to the
  ticket stream, which the APKT sender skips (APKT knows already).
"""

from __future__ import annotations

import re
from typing import Literal

import structlog
from twisted.internet.defer import Deferred, fail
from twisted.internet.interfaces import IReactorTime

from acd.selfservice import validation
from acd.store.clock import timestamp
from acd.store.keys import (
    APKT_EVENT_KEEP_S,
    APKT_SIGNATURE_KEEP_S,
    SELF_SERVICE_PREFIX,
    TICKET_STREAM_MAXLEN,
    TicketKeys,
)
from acd.store.lua import source
from acd.store.redis import Client, RedisStore, text

log = structlog.get_logger("acd.selfservice.apkt_status")

Outcome = Literal["applied", "duplicate", "stale", "unknown", "replay"]
OUTCOMES: tuple[Outcome, ...] = ("applied", "duplicate", "stale", "unknown", "replay")
SOURCE = "apkt"   # the stream entries' `source` for statuses APKT reported
_HEX = re.compile(r"[0-9a-f]{64}")   # an HMAC-SHA256, as the webhook verified it

_SCRIPT = source("acd.selfservice", "apkt_status.lua")


class ApktStatusDesk:
    def __init__(self, store: RedisStore, clock: IReactorTime, *,
                 prefix: str = SELF_SERVICE_PREFIX, stream_maxlen: int = TICKET_STREAM_MAXLEN):
        self.store = store
        self.clock = clock
        self.keys = TicketKeys(prefix)
        self.stream_maxlen = stream_maxlen

    def apply(self, number: str, status: str, at: float, event_id: str,
              signature_hex: str) -> Deferred[Outcome]:
        """Apply one verified webhook. ValueError for a field that breaks the contract.

        `signature_hex` is the request's verified signature (the replay key), `event_id`
        APKT's id of the status change.
        """
        try:
            digits = validation.matching(number, validation.TICKET_NUMBER, "ticket number",
                                         "digits only")
            new_status = validation.ticket_status(status)
            apkt_at = validation.epoch_seconds(at, "at")
            event = validation.call_id(event_id)   # the same rule: a short ASCII token
            signature = validation.matching(signature_hex, _HEX, "signature", "hex digits")
        except ValueError as error:
            return fail(error)
        now = timestamp(self.clock)

        async def apply(client: Client) -> Outcome:
            script = client.register_script(_SCRIPT)
            reply = await script(
                keys=[self.keys.ticket(digits), self.keys.stream,
                      self.keys.apkt_signature(signature), self.keys.apkt_event(event)],
                args=[new_status, f"{apkt_at:.3f}", f"{now:.3f}", self.stream_maxlen, digits,
                      APKT_SIGNATURE_KEEP_S, APKT_EVENT_KEEP_S],
            )
            outcome = text(reply)
            if outcome not in OUTCOMES:
                raise RuntimeError(f"apkt_status.lua replied {outcome!r}")
            log.info("apkt_status", ticket=digits, status=new_status, apkt_event=event,
                     outcome=outcome)
            return outcome

        return self.store.run(apply)

