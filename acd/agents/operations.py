"""What an agent can ask of the ACD, from any channel: a phone's feature code, the CLI's
command stream, the dashboard. One verb table, so every channel means the same thing by
"pause" and a new verb is added once."""

from __future__ import annotations

from typing import Any, Literal, Protocol

from twisted.internet.defer import Deferred

AgentAction = Literal["login", "logout", "pause", "ready"]
ACTIONS: tuple[AgentAction, ...] = ("login", "logout", "pause", "ready")
DEFAULT_PAUSE_REASON = "break"


class AgentOperations(Protocol):
    def login(self, agent_id: str) -> Deferred[Any]: ...

    def logout(self, agent_id: str) -> Deferred[Any]: ...

    def pause(self, agent_id: str, reason: str) -> Deferred[Any]: ...

    def ready(self, agent_id: str) -> Deferred[Any]: ...


def apply(operations: AgentOperations, action: str, agent_id: str,
          reason: str = "") -> Deferred[Any]:
    """`action` (one of ACTIONS) for `agent_id`; ValueError for any other action."""
    if action == "login":
        return operations.login(agent_id)
    if action == "logout":
        return operations.logout(agent_id)
    if action == "pause":
        return operations.pause(agent_id, reason or DEFAULT_PAUSE_REASON)
    if action == "ready":
        return operations.ready(agent_id)
    raise ValueError(f"unknown agent action {action!r} (one of {', '.join(ACTIONS)})")
