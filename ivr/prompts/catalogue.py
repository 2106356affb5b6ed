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
    "ticket-enter",         # ticket number or IDPEL, finish with #; # alone: this phone's
    "ticket-not-found",
    # A ticket's latest status, read as one sentence (ivr/engine/ticket_news.py):
    # "ticket-yours" + digits + "ticket-of-date" + day + month-<m> + the status's own
    # fragment (TICKET_STATUS_PROMPTS) [+ "ticket-on-date" + day + month-<m>, when that
    # was another day] + "ticket-at-time" + hh mm.
    "ticket-yours",         # "your complaint number"
    "ticket-of-date",       # "of" (the day it was filed)
    "ticket-on-date",       # "on": the status is from another day than the filing
    "ticket-at-time",       # "at" (when it got its status)
    "ticket-status-received",
    "ticket-status-dispatched",
    "ticket-status-on-site",
    "ticket-status-resolved",
    *(f"month-{month}" for month in range(1, 13)),
    "repeat-caller-offer",  # after the status: agent key, 1 to hear it again, else the menu
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

# Played to the caller before a queue that records (`acd.queues.<skill>.record`) starts
# recording their conversation with the agent: "this call is recorded for quality". Needed
# only when some queue records, so `pln123 config check` asks for it then.
RECORDING_NOTICE = "recording-notice"

TICKET_STATUS_PROMPTS = {
    "received": "ticket-status-received",
    "dispatched": "ticket-status-dispatched",
    "on_site": "ticket-status-on-site",
    "resolved": "ticket-status-resolved",
}
"""Each ticket status (acd.selfservice.models.TICKET_STATUSES, as APKT reports them) and
the fragment that says it in the middle of the status sentence."""

SOUND_FOLDER = "pln123"
"""Our folder inside each language's sounds folder: the IVR plays `pln123/<prompt id>`."""

FRAGMENT_PREFIXES: tuple[str, ...] = ("num-", "time-")
"""Ids that belong to the built-in number fragments (ivr/prompts/numbers.py); a catalogue
prompt with such an id would collide with a fragment file, so `prompts build` refuses it."""
