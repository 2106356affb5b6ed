"""Random durations and the first-attempt arrival stream, from one seed.

Why arrivals are drawn up front, apart from the ACD: both policies of a run (isolated and
pln123) must see *the same* callers at the same moments with the same patience and talk
times (common random numbers), so the difference in the table is the policy's, not the
dice's. Each caller gets its own `random.Random` seeded from (scenario seed, caller index);
whatever that caller does later (talk time, redial delay, accepting a callback) is drawn
from it, in the same order in every policy.

Arrivals: a non-homogeneous Poisson process, piecewise constant per hour (the day's
profile) and per surge period; within each piece the superposition of the area codes'
processes is one Poisson process, and each arrival's area code is drawn in proportion to
its rate (exact, no thinning needed).
"""

from __future__ import annotations

import bisect
import itertools
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass

from tools.simulation.scenario import AreaTraffic, Distribution, Scenario, SkillMix


def sample(dist: Distribution, rng: random.Random) -> float:
    """One draw of `dist` (seconds, > 0 except `fixed` 0)."""
    if dist.kind == "fixed":
        return dist.mean_s
    if dist.kind == "exponential":
        return rng.expovariate(1.0 / dist.mean_s)
    if dist.kind == "lognormal":
        sigma2 = math.log(1.0 + dist.cv ** 2)
        return rng.lognormvariate(math.log(dist.mean_s) - sigma2 / 2, math.sqrt(sigma2))
    shape = 1.0 / dist.cv ** 2   # gamma
    return rng.gammavariate(shape, dist.mean_s / shape)


@dataclass(frozen=True)
class Arrival:
    """A caller's first attempt."""

    index: int
    at: float                 # seconds since the scenario's start
    area: AreaTraffic
    skill: SkillMix
    number: str               # the caller's number (digits: abandon-resume keys on it)

    def rng(self, seed: int) -> random.Random:
        return random.Random(seed * 1_000_003 + self.index)  # noqa: S311 - simulation


def breakpoints(scenario: Scenario) -> list[float]:
    """Hours at which some rate may change: every hour, every surge's start and end."""
    end = scenario.duration_h
    points = {float(h) for h in range(math.ceil(end) + 1)} | {end}
    for surge in scenario.surges:
        points.update((surge.from_h, surge.to_h))
    return sorted(p for p in points if 0 <= p <= end)


def arrivals(scenario: Scenario) -> Iterator[Arrival]:
    """The first attempts in time order, over the scenario's duration."""
    rng = random.Random(scenario.seed)  # noqa: S311 - reproducible simulation, not crypto
    shares = list(itertools.accumulate(s.share for s in scenario.skills))
    index = itertools.count()
    points = breakpoints(scenario)
    for start_h, end_h in itertools.pairwise(points):
        middle = (start_h + end_h) / 2
        rates = [scenario.rate_per_s(area, middle) for area in scenario.traffic]
        total = sum(rates)
        if total <= 0:
            continue
        cumulative = list(itertools.accumulate(rates))
        t = start_h * 3600.0
        while True:
            t += rng.expovariate(total)
            if t >= end_h * 3600.0:
                break
            area = scenario.traffic[min(bisect.bisect_right(cumulative, rng.random() * total),
                                        len(cumulative) - 1)]
            skill = scenario.skills[min(bisect.bisect_right(shares, rng.random() * shares[-1]),
                                        len(shares) - 1)]
            n = next(index)
            yield Arrival(n, t, area, skill, f"08{area.area_code}{n:08d}")


def expected_calls(scenario: Scenario, region: str, from_h: float, to_h: float) -> float:
    """First-attempt calls a region is expected to offer between two hours (analytic)."""
    total = 0.0
    points = [p for p in breakpoints(scenario) if from_h <= p <= to_h]
    points = sorted({from_h, to_h, *points})
    for start_h, end_h in itertools.pairwise(points):
        middle = (start_h + end_h) / 2
        total += sum(scenario.rate_per_s(a, middle) for a in scenario.traffic
                     if a.site == region) * (end_h - start_h) * 3600.0
    return total
