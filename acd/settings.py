"""What the ACD is told by the admin config: agents, queues and timings, as plain values.

`ivr/config` parses the YAML and builds these; the ACD never sees YAML, so it can be
driven by the simulator or a test with values built in code.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class AgentSpec:
    id: str                          # e.g. "1001": digits, also the phone's feature-code id
    name: str
    site: str
    endpoint: str                    # Asterisk dial string, e.g. "PJSIP/1001"
    skills: dict[str, int]           # skill -> level 1..10 (10 = expert)


@dataclass(frozen=True)
class QueueSettings:
    skill: str
    wrapup_s: float = 10.0           # after-call work before the agent is offered again
    max_wait_s: float = 900.0        # then the fallback below
    max_wait_fallback: str = "callback"  # "callback" | "ticket"


@dataclass(frozen=True)
class AcdSettings:
    service_level_s: float = 20.0    # DESIGN.md §6: answered within T
    escalation_s: float = 30.0       # waited this long: the most skilled agent first
    ring_timeout_s: float = 15.0     # agent's phone rings this long, then ring-no-answer
    announce_every_s: float = 30.0   # position / EWT announcements while waiting
    callback_offer_ewt_s: float = 120.0  # offer a callback when EWT exceeds this
    callback_retry_s: float = 60.0
    callback_attempts: int = 3
    # Where a callback is dialled: `{number}` becomes the caller's digits (tests: a sandbox
    # context that answers, `Local/{number}@test-answer`).
    callback_dial: str = "PJSIP/{number}@trunk"
    abandon_resume_s: float = 300.0  # a redial within this gets the old place back
    audit_maxlen: int = 1_000_000    # bound of the audit stream
    queues: dict[str, QueueSettings] = field(default_factory=dict)
    agents: tuple[AgentSpec, ...] = ()

    def queue(self, skill: str) -> QueueSettings:
        return self.queues.get(skill) or QueueSettings(skill)

    def agents_at(self, site: str) -> tuple[AgentSpec, ...]:
        return tuple(agent for agent in self.agents if agent.site == site)
