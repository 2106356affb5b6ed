"""What the ACD is told by the admin config: agents, queues and timings, as plain values.

`pln123/config` parses the YAML and builds these; the ACD never sees YAML, so it can be
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
class InterflowRule:
    """When a call may leave its site for another, per site and skill (Avaya's
    Look-Ahead Interflow with Best Service Routing's adjust-by as the model)."""

    threshold_s: float = 60.0        # home EWT above this: look for a better site
    accept_s: float = 60.0           # a site takes calls in only while its own EWT is under this
    margin_s: float = 15.0           # a candidate must beat home EWT by this many seconds
    margin_pct: float = 0.0          # ... and by this percentage of home EWT (both must hold)


@dataclass(frozen=True)
class InterflowSettings:
    """Multi-site routing: who may take whose calls, how often it is re-checked, the limits.

    `order` lists, per site, the sibling sites it may send calls to, in preference order; the
    hub (config role `hub`) is appended as the last resort by `candidates()`. A call moves at
    most `max_moves` times and never to a site it has visited.
    """

    enabled: bool = True
    default: InterflowRule = field(default_factory=InterflowRule)
    rules: dict[tuple[str, str], InterflowRule] = field(default_factory=dict)  # (site, skill)
    site_rules: dict[str, InterflowRule] = field(default_factory=dict)        # site
    order: dict[str, tuple[str, ...]] = field(default_factory=dict)
    hub: str = ""
    reevaluate_s: float = 5.0        # a waiting call's move is reconsidered this often
    max_moves: int = 2               # home -> sibling -> hub
    trunk_limit: int = 30            # concurrent interflowed calls per ordered pair of sites
    trunk_limits: dict[tuple[str, str], int] = field(default_factory=dict)  # (from, to)
    national_max_ewt_s: float = 900.0  # every site's EWT above this: surge admission control
    status_every_s: float = 1.0      # each site publishes its status this often
    status_ttl_s: float = 3.0        # a status older than this has expired: the site is down

    def rule(self, site: str, skill: str) -> InterflowRule:
        return self.rules.get((site, skill)) or self.site_rules.get(site) or self.default

    def candidates(self, site: str) -> tuple[str, ...]:
        """Where `site` may send calls, in order: its siblings, then the hub."""
        order = tuple(s for s in self.order.get(site, ()) if s != site)
        if self.hub and self.hub != site and self.hub not in order:
            order += (self.hub,)
        return order

    def trunk_limit_for(self, origin: str, target: str) -> int:
        return self.trunk_limits.get((origin, target), self.trunk_limit)


@dataclass(frozen=True)
class AcdSettings:
    service_level_s: float = 20.0    # the service level's T: answered within it
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
    interflow: InterflowSettings = field(default_factory=InterflowSettings)

    def queue(self, skill: str) -> QueueSettings:
        return self.queues.get(skill) or QueueSettings(skill)

    def agents_at(self, site: str) -> tuple[AgentSpec, ...]:
        return tuple(agent for agent in self.agents if agent.site == site)
