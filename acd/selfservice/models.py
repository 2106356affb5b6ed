"""Outage notices and complaint tickets: values and the interfaces the IVR reads through.

The outage board is what makes a surge survivable: most callers in a blackout ask the same
question, and hearing the answer before the menu keeps them out of the agent queues.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from twisted.internet.defer import Deferred

# In the order a fault goes through them at APKT (PLN's complaint application), which
# reports each one back (docs/apkt.md); only "resolved" closes a ticket.
TICKET_STATUSES = ("received", "dispatched", "on_site", "resolved")
OPEN_TICKET_STATUSES = ("received", "dispatched", "on_site")


@dataclass(frozen=True)
class Outage:
    id: str
    area_codes: tuple[str, ...]
    message: str                  # shown to supervisors; callers hear the notice prompt
    restore_at: float | None      # epoch seconds, None when unknown
    created_at: float
    created_by: str = "cli"


@dataclass(frozen=True)
class Ticket:
    number: str                   # digits only, read back to the caller digit by digit
    idpel: str
    area_code: str
    category: str
    caller_number: str
    site: str
    call_id: str
    created_at: float
    status: str = "received"
    # When the ticket got `status`: APKT's time when APKT reported it, else ours.
    status_at: float | None = field(default=None, compare=False)


class OutageBoard(Protocol):
    def outages_for(self, area_code: str) -> Deferred[list[Outage]]: ...

    def post(self, area_codes: tuple[str, ...], message: str, restore_at: float | None,
             created_by: str = "cli") -> Deferred[Outage]: ...

    def all(self) -> Deferred[list[Outage]]: ...

    def clear(self, outage_id: str) -> Deferred[bool]: ...


class TicketDesk(Protocol):
    # `caller_number` as the caller's network sent it: the desk records it cleaned
    # (acd.selfservice.validation.ticket_caller_number) and never refuses a ticket for it.
    def create(self, idpel: str, area_code: str, category: str, caller_number: str,
               site: str, call_id: str) -> Deferred[Ticket]: ...

    def find(self, number: str) -> Deferred[Ticket | None]: ...


class TicketLookup(Protocol):
    """A caller's open tickets of the last 30 days, newest first, without a ticket number:
    most callers asking "what happened to my report" have not written the number down."""

    def open_by_idpel(self, idpel: str) -> Deferred[list[Ticket]]: ...

    def open_by_caller(self, caller_number: str) -> Deferred[list[Ticket]]: ...
