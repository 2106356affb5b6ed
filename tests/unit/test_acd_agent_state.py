"""The agent lifecycle table: every row, the pending logout, and illegal events."""

from __future__ import annotations

import pytest

from acd.agents.state import (
    NO_ANSWER,
    TRANSITIONS,
    AgentEvent,
    AgentMachine,
    AgentState,
    AgentStatus,
    IllegalTransition,
    Transition,
    step,
)

S, E = AgentStatus, AgentEvent
OUT, READY, RESERVED = AgentState(S.LOGGED_OUT), AgentState(S.READY), AgentState(S.RESERVED)
ON_CALL, WRAP_UP = AgentState(S.ON_CALL), AgentState(S.WRAP_UP)
LUNCH = AgentState(S.PAUSED, "lunch")

# (state before, event, reason, state after): one line per row of the table
ROWS = [
    (OUT, E.LOGIN, "", READY),
    (READY, E.LOGOUT, "", OUT),
    (READY, E.PAUSE, "lunch", LUNCH),
    (READY, E.RESERVE, "", RESERVED),
    (LUNCH, E.LOGOUT, "", OUT),
    (LUNCH, E.PAUSE, "meeting", AgentState(S.PAUSED, "meeting")),
    (LUNCH, E.READY, "", READY),
    (RESERVED, E.LOGOUT, "", AgentState(S.RESERVED, pending_logout=True)),
    (RESERVED, E.ANSWER, "", ON_CALL),
    (RESERVED, E.RING_NO_ANSWER, "", AgentState(S.PAUSED, NO_ANSWER)),
    (RESERVED, E.CALLER_GONE_WHILE_RINGING, "", READY),
    (RESERVED, E.TRUNK_FAILED, "", READY),   # a lent agent's ring never reached them
    (ON_CALL, E.LOGOUT, "", AgentState(S.ON_CALL, pending_logout=True)),
    (ON_CALL, E.CALL_END, "", WRAP_UP),
    (WRAP_UP, E.LOGOUT, "", OUT),
    (WRAP_UP, E.PAUSE, "lunch", LUNCH),
    (WRAP_UP, E.READY, "", READY),
    (WRAP_UP, E.WRAPUP_DONE, "", READY),
]


@pytest.mark.parametrize(("before", "event", "reason", "after"), ROWS,
                         ids=[f"{b.status}-{e}" for b, e, _, _ in ROWS])
def test_every_row(before: AgentState, event: AgentEvent, reason: str,
                   after: AgentState) -> None:
    assert step(before, event, reason) == after


def test_the_rows_above_are_the_whole_table() -> None:
    assert {(b.status, e) for b, e, _, _ in ROWS} == set(TRANSITIONS)


@pytest.mark.parametrize(("event", "after"), [
    (E.CALL_END, OUT),
    (E.RING_NO_ANSWER, OUT),
    (E.CALLER_GONE_WHILE_RINGING, OUT),
    (E.TRUNK_FAILED, OUT),
])
def test_a_pending_logout_leaves_when_the_call_is_over(event: AgentEvent,
                                                        after: AgentState) -> None:
    status = S.ON_CALL if event is E.CALL_END else S.RESERVED
    assert step(AgentState(status, pending_logout=True), event) == after


def test_logging_out_twice_during_a_call_is_harmless() -> None:
    pending = AgentState(S.ON_CALL, pending_logout=True)
    assert step(pending, E.LOGOUT) == pending


@pytest.mark.parametrize(("before", "event"), [
    (OUT, E.PAUSE),
    (OUT, E.LOGOUT),
    (OUT, E.RESERVE),
    (READY, E.LOGIN),
    (READY, E.READY),
    (READY, E.ANSWER),
    (LUNCH, E.RESERVE),
    (RESERVED, E.PAUSE),
    (RESERVED, E.CALL_END),
    (ON_CALL, E.RESERVE),
    (ON_CALL, E.ANSWER),
    (WRAP_UP, E.RESERVE),
])
def test_illegal_transitions_raise_and_say_why(before: AgentState, event: AgentEvent) -> None:
    with pytest.raises(IllegalTransition) as caught:
        step(before, event, "lunch")
    assert str(before.status) in str(caught.value) and str(event) in str(caught.value)
    assert (caught.value.state, caught.value.event) == (before, event)


def test_a_pause_needs_a_reason() -> None:
    with pytest.raises(ValueError, match="reason"):
        step(READY, E.PAUSE, "  ")


def test_the_machine_records_a_shift() -> None:
    machine = AgentMachine()
    for event, reason in [(E.LOGIN, ""), (E.RESERVE, ""), (E.RING_NO_ANSWER, ""),
                          (E.READY, ""), (E.RESERVE, ""), (E.ANSWER, ""), (E.LOGOUT, ""),
                          (E.CALL_END, "")]:
        machine.handle(event, reason)
    assert machine.transitions == [
        Transition(OUT, E.LOGIN, READY),
        Transition(READY, E.RESERVE, RESERVED),
        Transition(RESERVED, E.RING_NO_ANSWER, AgentState(S.PAUSED, NO_ANSWER)),
        Transition(AgentState(S.PAUSED, NO_ANSWER), E.READY, READY),
        Transition(READY, E.RESERVE, RESERVED),
        Transition(RESERVED, E.ANSWER, ON_CALL),
        Transition(ON_CALL, E.LOGOUT, AgentState(S.ON_CALL, pending_logout=True)),
        Transition(AgentState(S.ON_CALL, pending_logout=True), E.CALL_END, OUT),
    ]
    assert machine.state == OUT


def test_a_failed_event_leaves_the_machine_as_it_was() -> None:
    machine = AgentMachine()
    with pytest.raises(IllegalTransition):
        machine.handle(E.ANSWER)
    assert machine.state == OUT and machine.transitions == []
    assert str(AgentState(S.ON_CALL, pending_logout=True)) == "on_call +pending_logout"
    assert str(LUNCH) == "paused(lunch)"
