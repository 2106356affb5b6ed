"""Who may work at a site: the config's roster, and the agents a reload removed.

A reload (SIGHUP) can remove an agent who is still logged in or on a call: they cannot log
in again, but the ACD must still follow their call to its end and let them be paused and
logged out. So they are kept apart as `retired` until the next restart.
"""

from __future__ import annotations

from acd.contracts import UnknownAgent
from acd.settings import AcdSettings, AgentSpec


class Roster:
    def __init__(self, site: str, settings: AcdSettings):
        self.site = site
        self.active: dict[str, AgentSpec] = {a.id: a for a in settings.agents_at(site)}
        self.retired: dict[str, AgentSpec] = {}

    def update(self, settings: AcdSettings) -> None:
        """The reloaded roster; agents no longer in it are retired."""
        roster = {a.id: a for a in settings.agents_at(self.site)}
        known = {**self.retired, **self.active}
        self.retired = {agent_id: spec for agent_id, spec in known.items()
                        if agent_id not in roster}
        self.active = roster

    def spec(self, agent_id: str) -> AgentSpec:
        """The agent's entry, retired ones included; UnknownAgent otherwise."""
        spec = self.active.get(agent_id) or self.retired.get(agent_id)
        if spec is None:
            raise UnknownAgent(f"no agent {agent_id!r} at site {self.site!r}")
        return spec

    def phone(self, agent_id: str) -> str | None:
        """The endpoint of the agent's phone (None: not an agent of this site)."""
        spec = self.active.get(agent_id) or self.retired.get(agent_id)
        return spec.endpoint if spec is not None else None

    def may_log_in(self, agent_id: str) -> AgentSpec:
        if agent_id in self.retired:
            raise UnknownAgent(f"agent {agent_id!r} was removed from site {self.site!r}'s "
                               "roster")
        return self.spec(agent_id)

    def known(self) -> list[str]:
        """The roster's agents, then those a reload removed (they may still be on a call)."""
        return [*self.active, *(a for a in self.retired if a not in self.active)]
