"""From audit entries to history rows: pure functions, no database, no Redis.

An audit entry (acd/queues/lua/common.lua `audit`) carries `event`, `site`, `call`,
`agent`, `skill`, `state` and `at`, plus what the event needs: `agent_site`, the queue wait
the counters were given (`wait_ms`, `in_sl`) for an answer or an abandon, the caller for
`offered`, `reason` and `subject=agent` for an agent's change of state. The dashboard's
actions write `dashboard_*` entries with the supervisor.

A call's row is folded from the events of its own site's stream, in stream order; folding
the same event twice gives the same row, so a replay after a crash is harmless even before
the idempotence by stream id (pln123/history/writer.py) catches it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

CALL = "call"
AGENT = "agent"
OTHER = "other"

# The events about a call, written to the call's site's stream (`ivr`: the caller's path
# through the IVR, acd/audit.py, written when they leave it).
CALL_EVENTS = frozenset({
    "ivr", "offered", "queued", "pooled", "answered", "trunk_failed", "lease_expired",
    "abandoned", "finished", "max_wait", "surge", "callback_accepted", "callback_retry",
    "callback_failed", "recording", "desktop_disposition", "desktop_ticket_created",
})
# The call's end: no later event changes its outcome.
ENDED = frozenset({"abandoned", "max_wait", "surge", "callback_failed"})

_COLUMNS = frozenset({"event", "site", "call", "agent", "agent_site", "skill", "state", "at",
                      "reason", "wait_ms", "in_sl", "subject"})


@dataclass(frozen=True)
class Event:
    """One audit entry, as the `events` table holds it."""

    site: str          # the stream's site
    entry_id: str      # the stream id
    at: float
    event: str
    subject: str       # CALL, AGENT or OTHER
    call_id: str = ""
    agent: str = ""
    agent_site: str = ""
    skill: str = ""
    state: str = ""
    reason: str = ""
    wait_ms: int | None = None
    in_sl: bool | None = None
    detail: Mapping[str, str] = field(default_factory=dict)

    def row(self) -> dict[str, Any]:
        """The `events` row."""
        return {"site": self.site, "entry_id": self.entry_id, "at": self.at,
                "event": self.event, "subject": self.subject, "call_id": self.call_id,
                "agent": self.agent, "agent_site": self.agent_site, "skill": self.skill,
                "state": self.state, "reason": self.reason, "wait_ms": self.wait_ms,
                "in_sl": self.in_sl,
                "detail": json.dumps(dict(self.detail), sort_keys=True, separators=(",", ":"))}


def stream_time(entry_id: str) -> float:
    """The time Redis gave the entry (its id's milliseconds): for entries without `at`."""
    return int(entry_id.split("-", 1)[0]) / 1000


def parse_entry(site: str, entry_id: str, fields: Mapping[str, str]) -> Event:
    """The event of one audit entry of `site`'s stream; never fails on a field it lacks."""
    name = fields.get("event", "")
    if fields.get("subject") == AGENT:
        subject = AGENT
    elif name in CALL_EVENTS and fields.get("call"):
        subject = CALL
    else:
        subject = OTHER
    try:
        at = float(fields["at"])
    except (KeyError, ValueError):
        at = stream_time(entry_id)
    wait = fields.get("wait_ms", "")
    in_sl = fields.get("in_sl", "")
    return Event(
        site=site, entry_id=entry_id, at=at, event=name, subject=subject,
        call_id=fields.get("call", ""), agent=fields.get("agent", ""),
        agent_site=fields.get("agent_site", ""), skill=fields.get("skill", ""),
        state=fields.get("state", ""), reason=fields.get("reason", ""),
        wait_ms=int(wait) if wait.isdigit() else None,
        in_sl=(in_sl == "1") if in_sl in ("0", "1") else None,
        detail={k: v for k, v in fields.items() if k not in _COLUMNS and v != ""},
    )


def new_call(event: Event) -> dict[str, Any]:
    """The row of a call first seen in `event` (normally its `offered`)."""
    return {"call_id": event.call_id, "site": event.site, "skill": event.skill,
            "caller_number": "", "region": "", "area_code": "", "language": "",
            "idpel": "", "uniqueid": "", "priority": None, "entered_at": None,
            "offered_at": None, "enqueued_at": None, "answered_at": None, "ended_at": None,
            "wait_s": None, "in_sl": None, "talk_s": None, "state": "", "outcome": "",
            "agent": "", "agent_site": "", "pooled_to": "", "resumed_from": "",
            "callback": "", "callback_tries": 0, "fallback": "", "ticket": "",
            "disposition": "", "recording_path": None, "updated_at": event.at}


def fold(row: Mapping[str, Any] | None, event: Event) -> dict[str, Any]:
    """The call's row after `event` (a CALL event of the call's site)."""
    out = dict(row) if row is not None else new_call(event)
    out["updated_at"] = max(float(out.get("updated_at") or 0.0), event.at)
    if event.skill:
        out["skill"] = event.skill
    detail = event.detail
    name = event.event
    if name not in ("callback_accepted", "ivr") and event.state:
        out["state"] = event.state
    if name == "ivr":
        _ivr(out, event)
    elif name == "offered":
        out["offered_at"] = event.at
        out["state"] = "new"
        for key in ("caller_number", "region", "area_code", "language", "idpel", "uniqueid",
                    "resumed_from"):
            out[key] = detail.get(key, out[key] or "")
        out["priority"] = _int(detail.get("priority"), out["priority"])
        out["entered_at"] = _float(detail.get("entered_at"), out["entered_at"])
        out["enqueued_at"] = _float(detail.get("enqueued_at"), event.at)
    elif name == "pooled":
        out["pooled_to"] = event.agent_site
    elif name == "answered":
        out.update(answered_at=event.at, agent=event.agent, agent_site=event.agent_site,
                   outcome="answered", wait_s=_seconds(event.wait_ms), in_sl=event.in_sl)
        if event.agent_site and event.agent_site != event.site:
            out["pooled_to"] = event.agent_site
    elif name == "finished":
        out["ended_at"] = event.at
        if out["answered_at"] is not None:
            out["talk_s"] = round(event.at - float(out["answered_at"]), 3)
        out["outcome"] = out["outcome"] or "answered"
    elif name == "abandoned":
        out.update(ended_at=event.at, outcome="abandoned", wait_s=_seconds(event.wait_ms),
                   in_sl=event.in_sl)
    elif name in ("max_wait", "surge"):
        out.update(ended_at=event.at, outcome=name, fallback=detail.get("fallback", ""),
                   wait_s=_float(detail.get("waited"), None))
    elif name == "recording":   # a recorded conversation's file (pln123/recordings)
        out["recording_path"] = detail.get("recording") or out["recording_path"]
    elif name == "desktop_disposition":   # the agent's wrap-up (pln123/web/desktop_actions)
        out["disposition"] = detail.get("disposition", out["disposition"])
    elif name == "desktop_ticket_created":
        out["ticket"] = out["ticket"] or detail.get("ticket", "")
    elif name == "callback_accepted":
        out["callback"] = detail.get("callback", out["callback"])
    elif name in ("callback_retry", "callback_failed"):
        out["callback_tries"] = _int(detail.get("tries"), out["callback_tries"]) or 0
        if name == "callback_failed":
            out.update(ended_at=event.at, outcome="callback_failed")
    return out


def _ivr(out: dict[str, Any], event: Event) -> None:
    """The IVR's part: when the caller entered, what they filed, and, for a caller who
    never reached the ACD, how the call ended (`ivr_<how>`: caller_hung_up, apologised...)."""
    detail = event.detail
    out["entered_at"] = _float(detail.get("entered_at"), out["entered_at"])
    for key in ("caller_number", "area_code", "region", "ticket"):
        out[key] = out[key] or detail.get(key, "")
    if out["offered_at"] is None and event.state != "queued":
        out["outcome"] = f"ivr_{event.state}"[:24]
        out["ended_at"] = event.at


def _seconds(ms: int | None) -> float | None:
    return None if ms is None else ms / 1000


def _float(value: str | None, default: float | None) -> float | None:
    try:
        return float(value) if value else default
    except ValueError:
        return default


def _int(value: str | None, default: int | None) -> int | None:
    try:
        return int(value) if value else default
    except ValueError:
        return default
