"""Prompt ids the IVR engine plays itself, whatever the menus say.

`pln123 config check` refuses a catalogue without any of these, so a missing recording is
found before a caller hears silence (Asterisk even ends AsyncAGI on a missing file).
"""

from __future__ import annotations

REQUIRED_PROMPTS: tuple[str, ...] = (
    "invalid-choice",       # a digit the menu does not have
    "goodbye",
    "transfer-agent",       # before the hand-off to the ACD
    "enter-idpel",          # 12-digit customer number, finish with #
    "idpel-wrong-length",
    "idpel-readback",       # "your customer number is" + digits
    "idpel-confirm",        # 1 = correct, 2 = enter again
    "ticket-created",       # "your report number is" + digits
    "ticket-enter",         # ticket number, finish with #
    "ticket-not-found",
    "ticket-status-received",
    "ticket-status-dispatched",
    "ticket-status-resolved",
    "outage-notice",        # a known outage in the caller's area
    "outage-restore-at",    # "power is expected back at" + hh mm
    "no-outage",
    "pln-mobile",
    "queue-position",       # "you are number" + position, while waiting for an agent
    "queue-wait",           # "your expected wait is about" + minutes
    "queue-minutes",
    "queue-apology",        # the maximum wait is over: sorry, then PLN Mobile or a ticket
    "callback-offer",       # "to be called back without losing your place, press 1"
    "callback-number",      # "we will call you back on" + the caller's digits
    "callback-confirm",     # "your place is kept, please hang up"
)

TICKET_STATUS_PROMPTS = {
    "received": "ticket-status-received",
    "dispatched": "ticket-status-dispatched",
    "resolved": "ticket-status-resolved",
}

SOUND_FOLDER = "pln123"
"""Our folder inside each language's sounds folder: the IVR plays `pln123/<prompt id>`."""

FRAGMENT_PREFIXES: tuple[str, ...] = ("num-", "time-")
"""Ids that belong to the built-in number fragments (ivr/prompts/numbers.py); a catalogue
prompt with such an id would collide with a fragment file, so `prompts build` refuses it."""
