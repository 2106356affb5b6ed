"""The values a scenario holds (scenario.py parses them), frozen and plain.

Kept apart from the parser so the simulator's other modules can name them without it. The
ACD's timings a scenario may omit default to the ACD's own (`acd.settings`), so a
simulation and a contact centre configured alike run alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from acd.settings import AcdSettings, AutoReserve, PoolingSettings, QueueSettings
from pln123.config.reader import ConfigError

HOURS = 24
DISTRIBUTIONS = ("exponential", "lognormal", "gamma", "fixed")

_ACD = AcdSettings()
_QUEUE = QueueSettings("-")
_POOLING = PoolingSettings()


class ScenarioError(ConfigError, ValueError):
    """An invalid scenario: every problem found, each with its key path."""


@dataclass(frozen=True)
class Distribution:
    """A positive random duration: `kind` with mean `mean_s` and coefficient of variation."""

    kind: str = "exponential"
    mean_s: float = 240.0
    cv: float = 1.0           # lognormal and gamma only (exponential: 1, fixed: 0)


@dataclass(frozen=True)
class RosterGroup:
    count: int
    skills: Mapping[str, int]
    shift: tuple[float, float] = (0.0, 24.0)   # hours; end < start wraps past midnight

    def on_duty(self, hour: float) -> bool:
        start, end = self.shift
        h = hour % HOURS
        if start <= end:
            return start <= h < end
        return h >= start or h < end


@dataclass(frozen=True)
class SiteSpec:
    name: str
    role: str                                  # "site" | "hub"
    roster: tuple[RosterGroup, ...]


@dataclass(frozen=True)
class AreaTraffic:
    area_code: str
    site: str                                  # the home site (its region)
    calls_per_day: float


@dataclass(frozen=True)
class Surge:
    region: str                                # a home site's name: all its area codes
    from_h: float
    to_h: float
    factor: float


@dataclass(frozen=True)
class SkillMix:
    skill: str
    share: float
    priority: int = 5


@dataclass(frozen=True)
class Callers:
    patience: Distribution | None = None       # None: nobody hangs up while queued
    redial_probability: float = 0.0
    redial_delay: Distribution = Distribution("exponential", 120.0)
    max_attempts: int = 10
    callback_accept: float = 0.0               # when offered, this share accepts
    callback_answer: float = 0.9               # a called-back caller picks up


@dataclass(frozen=True)
class AgentBehaviour:
    ring_s: tuple[float, float] = (2.0, 5.0)   # answered after uniform(lo, hi) s
    no_answer: float = 0.0                     # share of rings nobody answers
    no_answer_pause_s: float = 60.0            # paused agent is ready again after


@dataclass(frozen=True)
class AcdTimings:
    service_level_s: float = _ACD.service_level_s
    escalation_s: float = _ACD.escalation_s
    ring_timeout_s: float = _ACD.ring_timeout_s
    announce_every_s: float = _ACD.announce_every_s
    callback_offer_ewt_s: float = _ACD.callback_offer_ewt_s
    abandon_resume_s: float = _ACD.abandon_resume_s
    wrapup_s: Mapping[str, float] = field(default_factory=dict)     # skill -> s
    max_wait_s: Mapping[str, float] = field(default_factory=dict)   # skill -> s
    waiting_room: bool = True                  # announcements, callback offers, max wait

    def wrapup(self, skill: str) -> float:
        return self.wrapup_s.get(skill, _QUEUE.wrapup_s)

    def max_wait(self, skill: str) -> float:
        return self.max_wait_s.get(skill, _QUEUE.max_wait_s)


@dataclass(frozen=True)
class PoolingRules:
    """The pln123 world's pooling: the same rules as the admin config's `acd.pooling`
    (one pool of every site of the scenario); `reserve` is `auto` or a number."""

    order: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    reserve: str = _POOLING.default_reserve
    auto: AutoReserve = field(default_factory=AutoReserve)
    trunk_limit: int = _POOLING.trunk_limit
    national_max_ewt_s: float = _POOLING.national_max_ewt_s


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    start_epoch: float                         # the virtual clock's start (UTC epoch s)
    duration_h: float
    seed: int
    sites: Mapping[str, SiteSpec]
    traffic: tuple[AreaTraffic, ...]
    profile: tuple[float, ...]                 # 24 hourly weights, normalised to sum 1
    surges: tuple[Surge, ...]
    skills: tuple[SkillMix, ...]
    handle: Distribution
    callers: Callers
    agents: AgentBehaviour
    acd: AcdTimings
    pooling: PoolingRules
    focus_region: str                          # the region of the summary's last line

    @property
    def hub(self) -> str:
        return next((s.name for s in self.sites.values() if s.role == "hub"), "")

    def surge_factor(self, site: str, hour: float) -> float:
        factor = 1.0
        for surge in self.surges:
            if surge.region == site and surge.from_h <= hour < surge.to_h:
                factor *= surge.factor
        return factor

    def rate_per_s(self, area: AreaTraffic, hour: float) -> float:
        """First-attempt arrival rate of an area code at simulated hour `hour`."""
        weight = self.profile[int(hour % HOURS)]
        return area.calls_per_day * weight / 3600.0 * self.surge_factor(area.site, hour)
