"""An agent's lifecycle as one explicit table: what each event does in each state.

Why a table and a pure function: the same agent is changed by any number of pln123
processes (the Lua scripts in `acd/queues` apply a change only if the agent's version in
Redis is the one the change was computed from), so the rules must be computable from a
plain value, anywhere, with no object that owns the agent. `step(state, event)` is that
computation; `AgentMachine` wraps it for callers (and tests) that want a recorded history.

The states: logged_out, ready, reserved (a call is ringing the agent's phone), on_call,
wrap_up (after-call work), paused(reason). An agent who logs out during a call (reserved
or on_call) is marked `pending_logout` and leaves when that call is over instead of going
to wrap-up or back to ready. Everything not in the table raises `IllegalTransition`.

The table is at the bottom of the module (magic-wormhole style): read it first.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum


class AgentStatus(StrEnum):
    LOGGED_OUT = "logged_out"
    READY = "ready"
    RESERVED = "reserved"      # a call rings the agent's phone
    ON_CALL = "on_call"
    WRAP_UP = "wrap_up"
    PAUSED = "paused"


class AgentEvent(StrEnum):
    LOGIN = "login"
    LOGOUT = "logout"
    PAUSE = "pause"                      # carries a reason code
    READY = "ready"                      # unpause, or end wrap-up early
    RESERVE = "reserve"                  # the matcher picked this agent for a call
    ANSWER = "answer"
    RING_NO_ANSWER = "ring_no_answer"
    CALLER_GONE_WHILE_RINGING = "caller_gone_while_ringing"
    TRUNK_FAILED = "trunk_failed"        # a lent agent's ring never reached their phone
    CALL_END = "call_end"
    WRAPUP_DONE = "wrapup_done"


NO_ANSWER = "no answer"  # the pause reason after a ring-no-answer


@dataclass(frozen=True)
class AgentState:
    status: AgentStatus = AgentStatus.LOGGED_OUT
    reason: str = ""              # only when paused
    pending_logout: bool = False  # logged out during a call: leave when it ends

    def __str__(self) -> str:
        text = str(self.status)
        if self.reason:
            text += f"({self.reason})"
        return text + (" +pending_logout" if self.pending_logout else "")


class IllegalTransition(ValueError):
    """The event makes no sense in the agent's state (e.g. answer while paused)."""

    def __init__(self, state: AgentState, event: AgentEvent):
        super().__init__(f"an agent who is {state} cannot {event}")
        self.state = state
        self.event = event


@dataclass(frozen=True)
class _Rule:
    target: AgentStatus | None   # None: stay in the state (only the pending flag changes)
    reason: str | None = None    # a fixed pause reason; None: the event's reason if pausing
    mark_logout: bool = False    # set pending_logout
    leave_if_pending: bool = False  # pending_logout -> logged_out instead of target


def step(state: AgentState, event: AgentEvent, reason: str = "") -> AgentState:
    """The state after `event`, or IllegalTransition. Pure: nothing is changed or stored."""
    rule = TRANSITIONS.get((state.status, event))
    if rule is None:
        raise IllegalTransition(state, event)
    if rule.mark_logout:
        return replace(state, pending_logout=True)
    if rule.leave_if_pending and state.pending_logout:
        return AgentState(AgentStatus.LOGGED_OUT)
    target = rule.target or state.status
    if target is AgentStatus.PAUSED:
        why = rule.reason if rule.reason is not None else reason.strip()
        if not why:
            raise ValueError("a pause needs a reason code")
        return AgentState(AgentStatus.PAUSED, why)
    return AgentState(target)


@dataclass(frozen=True)
class Transition:
    before: AgentState
    event: AgentEvent
    after: AgentState


@dataclass
class AgentMachine:
    """One agent's state plus the list of transitions it went through (for tests and logs)."""

    state: AgentState = field(default_factory=AgentState)
    transitions: list[Transition] = field(default_factory=list)

    def handle(self, event: AgentEvent, reason: str = "") -> AgentState:
        after = step(self.state, event, reason)
        self.transitions.append(Transition(self.state, event, after))
        self.state = after
        return after


# --- the table ------------------------------------------------------------------------------

_S = AgentStatus
_E = AgentEvent

TRANSITIONS: dict[tuple[AgentStatus, AgentEvent], _Rule] = {
    # from          event                          rule
    (_S.LOGGED_OUT, _E.LOGIN):                     _Rule(_S.READY),
    (_S.READY,      _E.LOGOUT):                    _Rule(_S.LOGGED_OUT),
    (_S.READY,      _E.PAUSE):                     _Rule(_S.PAUSED),
    (_S.READY,      _E.RESERVE):                   _Rule(_S.RESERVED),
    (_S.PAUSED,     _E.LOGOUT):                    _Rule(_S.LOGGED_OUT),
    (_S.PAUSED,     _E.PAUSE):                     _Rule(_S.PAUSED),   # a new reason
    (_S.PAUSED,     _E.READY):                     _Rule(_S.READY),
    (_S.RESERVED,   _E.LOGOUT):                    _Rule(None, mark_logout=True),
    (_S.RESERVED,   _E.ANSWER):                    _Rule(_S.ON_CALL),
    (_S.RESERVED,   _E.RING_NO_ANSWER):            _Rule(_S.PAUSED, NO_ANSWER,
                                                         leave_if_pending=True),
    (_S.RESERVED,   _E.CALLER_GONE_WHILE_RINGING): _Rule(_S.READY, leave_if_pending=True),
    (_S.RESERVED,   _E.TRUNK_FAILED):              _Rule(_S.READY, leave_if_pending=True),
    (_S.ON_CALL,    _E.LOGOUT):                    _Rule(None, mark_logout=True),
    (_S.ON_CALL,    _E.CALL_END):                  _Rule(_S.WRAP_UP, leave_if_pending=True),
    (_S.WRAP_UP,    _E.LOGOUT):                    _Rule(_S.LOGGED_OUT),  # the call is over
    (_S.WRAP_UP,    _E.PAUSE):                     _Rule(_S.PAUSED),
    (_S.WRAP_UP,    _E.READY):                     _Rule(_S.READY),    # wrap-up cut short
    (_S.WRAP_UP,    _E.WRAPUP_DONE):               _Rule(_S.READY),
}
