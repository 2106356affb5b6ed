"""Outage notices and complaint tickets: values and the interfaces the IVR reads through.

The outage board is what makes a surge survivable: most callers in a blackout ask the same
question, and hearing the answer before the menu keeps them out of the agent queues.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from twisted.internet.defer import Deferred

TICKET_STATUSES = ("received", "dispatched", "resolved")


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
