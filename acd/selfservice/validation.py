"""Input checks for outage notices and tickets, shared by the IVR, the CLI and later the web.

Everything here ends up on a supervisor's dashboard, in a log line or read back to a caller,
so the rules are strict and ASCII where the value is a code: `[0-9]` rather than `\\d`
(which would accept Arabic-Indic or full-width digits), and no control or format characters
in free text (a newline or a right-to-left override in a notice would garble or spoof what
the dashboard shows). Every failure is a ValueError whose message names the field.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from typing import Any

from acd.selfservice.models import TICKET_STATUSES

AREA_CODE = re.compile(r"0[1-9][0-9]{1,3}")
IDPEL = re.compile(r"[0-9]{12}")
NAME = re.compile(r"[a-z][a-z0-9_-]{0,30}")  # site and category names, as in the config
CALLER_NUMBER = re.compile(r"[A-Za-z0-9+*#._-]{0,40}")  # digits, or "anonymous"; may be empty
CALL_ID = re.compile(r"[A-Za-z0-9._:@-]{1,128}")
TICKET_NUMBER = re.compile(r"[0-9]{1,20}")

MAX_CALLER_DIGITS = 20  # E.164 allows 15; room for an international or trunk prefix
MAX_MESSAGE = 500
MAX_AREA_CODES = 100
MAX_CREATED_BY = 64

_ASCII_DIGITS = frozenset("0123456789")

# Unicode categories never allowed in free text: controls (Cc), format characters such as
# bidi overrides and zero-width joiners (Cf), surrogates (Cs), private use (Co),
# unassigned (Cn), and line/paragraph separators (Zl, Zp).
_FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def _string(value: Any, field: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{field} must be a string, not {type(value).__name__}")
    return value


def matching(value: Any, pattern: re.Pattern[str], field: str, rule: str) -> str:
    """`value` if it matches `pattern` entirely, else ValueError naming the field and rule."""
    text = _string(value, field)
    if not pattern.fullmatch(text):
        raise ValueError(f"{field} {text!r} is not valid: {rule}")
    return text


def area_code(value: Any) -> str:
    return matching(value, AREA_CODE, "area code",
                    "expected 0, a digit 1-9, then 1 to 3 digits (e.g. 0711, 021)")


def area_codes(values: Iterable[Any]) -> tuple[str, ...]:
    """Validated, duplicates removed, first-seen order kept; at least one."""
    if isinstance(values, str):
        raise ValueError("area codes must be a sequence of strings, not one string")
    codes = tuple(dict.fromkeys(area_code(value) for value in values))
    if not codes:
        raise ValueError("at least one area code is needed")
    if len(codes) > MAX_AREA_CODES:
        raise ValueError(f"at most {MAX_AREA_CODES} area codes per outage, not {len(codes)}")
    return codes


def plain_text(value: Any, field: str, max_length: int) -> str:
    """Stripped single-line text, not empty, at most `max_length` characters."""
    text = _string(value, field).strip()
    if not text:
        raise ValueError(f"{field} is empty")
    if len(text) > max_length:
        raise ValueError(f"{field} is {len(text)} characters long; the limit is {max_length}")
    for position, char in enumerate(text):
        if unicodedata.category(char) in _FORBIDDEN_CATEGORIES:
            raise ValueError(
                f"{field} contains the control character U+{ord(char):04X} at position "
                f"{position}; use one line of plain text"
            )
    return text


def message(value: Any) -> str:
    return plain_text(value, "message", MAX_MESSAGE)


def created_by(value: Any) -> str:
    return plain_text(value, "created_by", MAX_CREATED_BY)


def epoch_seconds(value: Any, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{field} must be epoch seconds (a number), not {type(value).__name__}")
    seconds = float(value)
    if not 0 < seconds < 1e11:  # NaN and infinities fail this too
        raise ValueError(f"{field} {value!r} is not a time in epoch seconds")
    return seconds


def idpel(value: Any) -> str:
    return matching(value, IDPEL, "IDPEL", "the customer number has exactly 12 digits")


def category(value: Any) -> str:
    return matching(value, NAME, "category",
                    "lower-case letters, digits, '_' or '-', starting with a letter")


def site(value: Any) -> str:
    return matching(value, NAME, "site",
                    "lower-case letters, digits, '_' or '-', starting with a letter")


def caller_number(value: Any) -> str:
    return matching(value, CALLER_NUMBER, "caller number",
                    "up to 40 of A-Z a-z 0-9 + * # . _ - (empty when withheld)")


def ticket_caller_number(value: Any) -> str:
    """The caller's number as a ticket records it: ASCII digits, `+` first if dialled
    internationally; "" (withheld/unknown) when no telephone number can be made of it.

    The caller ID is whatever the caller's network or PBX sent: spaces, dashes, brackets,
    "anonymous", markup, any length. None of that may stop a caller from getting a
    ticket, so it is cleaned rather than refused; a number too long to be dialled is
    recorded as unknown, never cut to a wrong one.
    """
    text = _string(value, "caller number").strip()
    digits = "".join(char for char in text if char in _ASCII_DIGITS)
    if not digits or len(digits) > MAX_CALLER_DIGITS:
        return ""
    return caller_number(("+" if text.startswith("+") else "") + digits)


def call_id(value: Any) -> str:
    return matching(value, CALL_ID, "call id", "1 to 128 of A-Z a-z 0-9 . _ : @ -")


def ticket_status(value: Any) -> str:
    text = _string(value, "status")
    if text not in TICKET_STATUSES:
        raise ValueError(f"status {text!r} is not one of {', '.join(TICKET_STATUSES)}")
    return text


# ticket_fields takes the fields by their names; the checks under other names for it.
_idpel, _area_code, _category, _site, _call_id = idpel, area_code, category, site, call_id


def ticket_fields(*, idpel: Any, area_code: Any, category: Any, caller_number: Any,
                  site: Any, call_id: Any) -> dict[str, str]:
    """A ticket's fields as every ticket desk stores them: checked, the number cleaned.

    ValueError for anything the system itself got wrong (an IDPEL that is not 12 digits,
    an area code of the wrong form); never for what the caller's network sent as their number.
    """
    return {
        "idpel": _idpel(idpel),
        "area_code": _area_code(area_code),
        "category": _category(category),
        "caller_number": ticket_caller_number(caller_number),
        "site": _site(site),
        "call_id": _call_id(call_id),
    }
