"""The wire contract with APKT (docs/apkt.md, docs/apkt-openapi.yaml): requests, signatures.

Outgoing, one request per ticket stream entry (its id is the event's `version`):

    POST <url>/tickets                   a new ticket (event=created)
    POST <url>/tickets/<number>/status   a status set in pln123 (event=status)

with `Authorization: Bearer <token>` and `Idempotency-Key: <number>:<version>`: a retry
carries the same key and the same body, so APKT accepts each event once however often it
arrives. Statuses APKT itself reported (source=apkt) are not sent back.

Incoming, APKT's status webhook signs `<timestamp>.<body>` with HMAC-SHA256 under the
shared secret: `X-APKT-Timestamp: <epoch seconds>`, `X-APKT-Signature: sha256=<hex>`.
A request outside +-WINDOW_S of our clock, or whose signature does not match (compared in
constant time), is refused before its body is even parsed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

TICKETS_PATH = "/tickets"
TIMESTAMP_HEADER = "X-APKT-Timestamp"
SIGNATURE_HEADER = "X-APKT-Signature"
SIGNATURE_SCHEME = "sha256="
WINDOW_S = 300.0
# The ticket fields APKT gets with a new ticket, as the stream's `created` entry has them.
TICKET_FIELDS = ("idpel", "area_code", "category", "caller_number", "site", "call_id")


@dataclass(frozen=True)
class Delivery:
    """One HTTP request to APKT for one ticket stream entry."""

    number: str
    event: str            # "created" or "status"
    path: str             # under the configured URL
    body: bytes
    idempotency_key: str


def delivery_for(entry_id: str, fields: dict[str, str]) -> Delivery | None:
    """The request for a ticket stream entry; None for one APKT must not get (a status APKT
    reported itself, an entry trimmed away, an event this version does not know).
    ValueError for an entry that is broken (it goes to the dead letters)."""
    event = fields.get("event")
    number = fields.get("number", "")
    if not fields or fields.get("source") == "apkt" or event not in ("created", "status"):
        return None
    if not number.isdigit():
        raise ValueError(f"entry {entry_id} has no ticket number")
    try:
        if event == "created":
            body: dict[str, Any] = {"ticket": number, "version": entry_id,
                                    **{name: fields[name] for name in TICKET_FIELDS},
                                    "created_at": float(fields["created_at"]),
                                    "status": fields.get("status", "received")}
            path = TICKETS_PATH
        else:
            body = {"ticket": number, "version": entry_id, "status": fields["status"],
                    "at": float(fields["at"])}
            path = f"{TICKETS_PATH}/{number}/status"
    except (KeyError, ValueError) as error:
        raise ValueError(f"entry {entry_id} of ticket {number} is incomplete: {error}"
                         ) from error
    encoded = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    return Delivery(number, event, path, encoded, f"{number}:{entry_id}")


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    """The hex HMAC-SHA256 of `<timestamp>.<body>`."""
    return hmac.new(secret, timestamp.encode("ascii") + b"." + body, hashlib.sha256).hexdigest()


def signature_header(secret: bytes, timestamp: str, body: bytes) -> str:
    return SIGNATURE_SCHEME + sign(secret, timestamp, body)


class SignatureRefused(Exception):
    """Why a webhook request is not APKT's (HTTP 401)."""


def verify(secret: bytes, timestamp: str | None, signature: str | None, body: bytes,
           now: float, window_s: float = WINDOW_S) -> str:
    """The request's signature (hex) if APKT signed `body` within the window; else
    SignatureRefused saying which part failed (never the expected value)."""
    if not timestamp or not signature:
        raise SignatureRefused(f"{TIMESTAMP_HEADER} and {SIGNATURE_HEADER} are required")
    if not timestamp.isdigit() or len(timestamp) > 12:
        raise SignatureRefused(f"{TIMESTAMP_HEADER} must be epoch seconds")
    if abs(now - int(timestamp)) > window_s:
        raise SignatureRefused(f"{TIMESTAMP_HEADER} is more than {window_s:g} s from now")
    sent = signature.strip()
    if not sent.startswith(SIGNATURE_SCHEME):
        raise SignatureRefused(f"{SIGNATURE_HEADER} must be {SIGNATURE_SCHEME}<hex>")
    sent = sent[len(SIGNATURE_SCHEME):].lower()
    expected = sign(secret, timestamp, body)
    if not hmac.compare_digest(sent.encode("ascii", "replace"), expected.encode("ascii")):
        raise SignatureRefused("the signature does not match")
    return expected
