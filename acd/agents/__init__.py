"""Agents: the lifecycle table (state.py); the rules that drive it live in the distributor."""

from acd.agents.state import (
    NO_ANSWER,
    AgentEvent,
    AgentMachine,
    AgentState,
    AgentStatus,
    IllegalTransition,
    Transition,
    step,
)

__all__ = [
    "NO_ANSWER",
    "AgentEvent",
    "AgentMachine",
    "AgentState",
    "AgentStatus",
    "IllegalTransition",
    "Transition",
    "step",
]
