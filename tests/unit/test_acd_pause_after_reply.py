"""agent_change's reply when it paused the agent on the desktop's request ("pause after
this call"): the Distributor learns the state the script applied, reason and all, so it
arms no wrap-up and tells its observer the agent went on to paused."""

from __future__ import annotations

from acd.agents.state import AgentState, AgentStatus
from acd.queues.records import Changed, parse_change


def test_a_pause_on_request_carries_its_reason() -> None:
    assert parse_change([["state", "paused", "7", "2"], []]) == Changed(
        AgentStatus.PAUSED, 7, None, None, AgentState(AgentStatus.PAUSED, "2"))


def test_an_ordinary_change_leaves_the_state_to_the_caller() -> None:
    assert parse_change([["state", "wrap_up", "7"], []]) == Changed(AgentStatus.WRAP_UP, 7)
    assert parse_change([["ready", "8"], []]) == Changed(AgentStatus.READY, 8)
