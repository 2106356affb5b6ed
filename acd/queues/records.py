"""Plain values the queue store hands out: what a script decided, and what Redis holds.

They are rebuilt from Redis replies and hashes only, never from process memory, so a pln123
that restarts (or another process on the same site) sees the same thing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from acd.agents.state import AgentState, AgentStatus
from acd.telephony import PhoneState


class CallState(StrEnum):
    NEW = "new"                # being offered (only inside offer_call)
    QUEUED = "queued"          # waiting in its skill's queue
    RESERVED = "reserved"      # an agent's phone rings for it
    CONNECTED = "connected"    # talking to the agent
    CALLED_BACK = "called_back"  # a callback the caller did not answer: waits for its retry
    ABANDONED = "abandoned"    # the caller hung up before an agent answered
    FINISHED = "finished"      # the talk ended


# What the call hash holds; everything needed to carry on after a restart.
CALL_FIELDS = ("call_id", "site", "channel", "uniqueid", "skill", "priority", "language",
               "area_code", "region", "caller_number", "idpel", "entered_at", "enqueued_at",
               "state", "agent", "reserved_at", "answered_at", "ended_at", "no_answer", "outcome",
               "resumed_from", "callback", "callback_tries",
               # pooling: the site of the agent reserved for it (another site's agent: a
               # loan), the sites whose trunk call failed for it (not offered there again)
               "agent_site", "refused")


@dataclass(frozen=True)
class Reservation:
    """A call and an agent reserved together: the call's site rings the agent now.

    `agent_site` differs from `call_site` for a loan: another site of the pool lends the
    agent, whose phone rings through the trunk between the two sites' Asterisks. Only the
    call's site holds the caller, so only its processes ring; a reservation another site
    made is handed to them through the call's site's ring requests.
    """

    call_id: str
    agent_id: str
    agent_version: int
    endpoint: str
    channel: str
    caller_number: str
    skill: str
    callback: str = ""   # the number to call back: the caller hung up and keeps the place
    agent_site: str = ""
    call_site: str = ""
    region: str = ""     # the caller's region and confirmed IDPEL, for the agent's screen
    idpel: str = ""

    @property
    def lent(self) -> bool:
        return self.agent_site != self.call_site


@dataclass(frozen=True)
class Queued:
    call_id: str
    position: int   # 1 = next
    skill: str
    enqueued_at: float | None = None  # the wait counts from here (a resumed call: earlier)


@dataclass(frozen=True)
class Duplicate:
    """offer_call was asked to offer a call it already knows (a retried enqueue)."""

    call_id: str
    state: CallState
    agent_id: str


Offer = Reservation | Queued | Duplicate


@dataclass(frozen=True)
class AgentRecord:
    agent_id: str
    state: AgentState
    version: int         # bumped by every change; the compare-and-set token
    call: str            # the call the agent holds (reserved, on_call), else ""
    since: float | None  # when the current state began
    idle_since: float | None
    last_skill: str = ""  # the skill of the agent's last answered call (wrap-up length)
    call_site: str = ""   # the site of the call the agent holds (another's: a loan)
    # the agent's phone as telephony last saw it: a ready agent whose phone is not
    # available is offered no call (acd/agents/phones.py)
    phone: PhoneState = PhoneState.AVAILABLE


@dataclass(frozen=True)
class Changed:
    """agent_change applied: the agent's new status/version and what followed from it."""

    status: AgentStatus
    version: int
    reservation: Reservation | None = None  # the agent took a waiting call (agent_ready)
    requeued: Offer | None = None           # ring-no-answer: where the call went
    # the whole state applied (set by the caller; by the script if it paused the agent)
    state: AgentState | None = None


@dataclass(frozen=True)
class Conflict:
    """Nothing changed: the agent moved on (another process, or a stale event)."""

    status: AgentStatus
    version: int
    stale: bool   # True: the agent does not hold the call the event is about


@dataclass(frozen=True)
class CallRecord:
    call_id: str
    state: CallState
    skill: str
    priority: int
    agent: str
    fields: Mapping[str, str]  # every field of the hash, as stored

    @property
    def enqueued_at(self) -> float:
        return float(self.fields["enqueued_at"])


def parse_offer(reply: Sequence[Any]) -> Offer:
    kind = reply[0]
    if kind == "reserved":
        return Reservation(call_id=reply[1], agent_id=reply[2], agent_version=int(reply[3]),
                           endpoint=reply[4], channel=reply[5], caller_number=reply[6],
                           skill=reply[7], callback=reply[8], agent_site=reply[9],
                           call_site=reply[10], region=reply[11], idpel=reply[12])
    if kind == "queued":
        return Queued(call_id=reply[1], position=int(reply[2]), skill=reply[3],
                      enqueued_at=float(reply[4]) if len(reply) > 4 else None)
    if kind == "duplicate":
        return Duplicate(call_id=reply[1], state=CallState(reply[2]), agent_id=reply[3])
    raise ValueError(f"unexpected offer reply {reply!r}")


def parse_change(reply: Sequence[Any]) -> Changed | Conflict:
    if reply[0] in ("conflict", "stale"):
        return Conflict(AgentStatus(reply[1]), int(reply[2]), stale=reply[0] == "stale")
    first, offered = reply[0], reply[1]
    requeued = parse_offer(offered) if offered else None
    if first[0] == "reserved":
        reservation = parse_offer(first)
        assert isinstance(reservation, Reservation)
        return Changed(AgentStatus.RESERVED, reservation.agent_version, reservation, requeued)
    if first[0] == "ready":
        return Changed(AgentStatus.READY, int(first[1]), None, requeued)
    if len(first) > 3:   # paused as the call ended, as the agent's desktop asked
        return Changed(AgentStatus.PAUSED, int(first[2]), None, requeued,
                       AgentState(AgentStatus.PAUSED, first[3]))
    return Changed(AgentStatus(first[1]), int(first[2]), None, requeued)


def parse_agent(agent_id: str, raw: Mapping[str, str]) -> AgentRecord:
    status = AgentStatus(raw.get("state") or AgentStatus.LOGGED_OUT)
    state = AgentState(status, raw.get("reason", "") if status is AgentStatus.PAUSED else "",
                       raw.get("pending_logout") == "1")
    return AgentRecord(agent_id, state, int(raw.get("version") or 0), raw.get("call", ""),
                       _float(raw.get("since")), _float(raw.get("idle_since")),
                       raw.get("last_skill", ""), raw.get("call_site", ""),
                       PhoneState(raw.get("phone") or PhoneState.AVAILABLE.value))


def parse_call(call_id: str, raw: Mapping[str, str]) -> CallRecord:
    return CallRecord(call_id, CallState(raw["state"]), raw["skill"], int(raw["priority"]),
                      raw.get("agent", ""), dict(raw))


def _float(value: str | None) -> float | None:
    return float(value) if value else None
