"""A ticket's latest status as one spoken sentence, from catalogue prompts and fragments.

    "Laporan Anda nomor 1 0 0 0 0 0 4 2 tanggal 12 Desember: petugas telah diberangkatkan
     pukul 10 40" / "Your complaint number ... of 12 December: a crew was dispatched at
     10 40"

The number lets the caller match it to what they were told, the filing day tells two
complaints apart, and the status's own time is what a caller asks first ("did anyone
come?"). The status's day is said only when it differs from the filing day, so the
common case stays short. Times are the site's local time (WIB, WITA or WIT).
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from acd.selfservice.models import Ticket
from ivr.prompts.catalogue import TICKET_STATUS_PROMPTS
from ivr.prompts.numbers import DIGITS, say_digits, say_number, say_time

UNKNOWN_STATUS_PROMPT = TICKET_STATUS_PROMPTS["received"]  # a status this IVR does not know


def ticket_news_prompts(ticket: Ticket, language: str, timezone: ZoneInfo) -> list[str]:
    """The prompt ids that read `ticket`'s latest status. ValueError for a ticket number
    that is not ASCII digits (it is read digit by digit, never spelled)."""
    if not ticket.number or not set(ticket.number) <= DIGITS:
        raise ValueError(f"ticket number {ticket.number!r} is not digits")
    filed = datetime.fromtimestamp(ticket.created_at, timezone)
    prompts = ["ticket-yours", *say_digits(ticket.number, language),
               "ticket-of-date", *_day(filed, language),
               TICKET_STATUS_PROMPTS.get(ticket.status, UNKNOWN_STATUS_PROMPT)]
    if ticket.status_at is not None:
        at = datetime.fromtimestamp(ticket.status_at, timezone)
        if at.date() != filed.date():
            prompts += ["ticket-on-date", *_day(at, language)]
        prompts += ["ticket-at-time", *say_time(at.hour, at.minute, language)]
    return prompts


def _day(when: datetime, language: str) -> list[str]:
    return [*say_number(when.day, language), f"month-{when.month}"]
