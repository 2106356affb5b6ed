"""The demo's callers: a steady stream to every site and a surge at one, as a pure schedule.

Kept free of sockets and clocks so it can be tested by handing it elapsed times: `due(t)`
returns the calls whose time has come by `t` seconds into the demo. Inter-arrival times are
exponential (a Poisson stream, like real callers); the seed makes a run repeatable.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Caller:
    site: str
    area_code: str
    number: str
    dtmf: str          # what the caller keys after the greeting starts ("0": an agent)
    pause_s: float     # seconds after answer before the first digit
    patience_s: int    # stays this long after the digits, then hangs up (abandons if queued)
    surge: bool


@dataclass(frozen=True)
class Surge:
    site: str
    after_s: float     # starts this long into the demo
    lasts_s: float
    every_s: float     # mean gap between the surge's extra callers


@dataclass
class Traffic:
    """Steady callers per site (mean gap `every_s[site]`), plus the surge's extra callers."""

    area_codes: Mapping[str, Sequence[str]]   # site -> its area codes
    every_s: Mapping[str, float]
    surge: Surge | None = None
    seed: int = 123
    first_within_s: float = 5.0               # every site's first caller comes this early
    _rng: random.Random = field(init=False, repr=False)
    _next: dict[str, float] = field(init=False, repr=False)
    _surge_next: float = field(init=False, repr=False)
    _count: int = field(init=False, default=0, repr=False)

    def __post_init__(self) -> None:
        unknown = set(self.every_s) - set(self.area_codes)
        if unknown:
            raise ValueError(f"no area codes for {', '.join(sorted(unknown))}")
        if any(gap <= 0 for gap in self.every_s.values()):
            raise ValueError("every_s must be positive")
        self._rng = random.Random(self.seed)  # noqa: S311 - a schedule, not a secret
        self._next = {site: self._rng.uniform(0, self.first_within_s) for site in self.every_s}
        self._surge_next = self.surge.after_s if self.surge else float("inf")
        if self.surge is not None and self.surge.site not in self.area_codes:
            raise ValueError(f"surge site {self.surge.site!r} has no area codes")

    def due(self, elapsed_s: float) -> list[Caller]:
        """Every caller due by `elapsed_s` (each returned once), in time order."""
        calls: list[tuple[float, Caller]] = []
        for site, gap in self.every_s.items():
            while self._next[site] <= elapsed_s:
                calls.append((self._next[site], self._caller(site, surge=False)))
                self._next[site] += self._rng.expovariate(1.0 / gap)
        surge = self.surge
        if surge is not None:
            end = surge.after_s + surge.lasts_s
            while self._surge_next <= elapsed_s and self._surge_next < end:
                calls.append((self._surge_next, self._caller(surge.site, surge=True)))
                self._surge_next += self._rng.expovariate(1.0 / surge.every_s)
        calls.sort(key=lambda pair: pair[0])
        return [caller for _, caller in calls]

    def _caller(self, site: str, surge: bool) -> Caller:
        self._count += 1
        codes = self.area_codes[site]
        return Caller(
            site=site, area_code=self._rng.choice(list(codes)),
            number=f"0812{self._count:08d}", dtmf="0",
            pause_s=round(self._rng.uniform(1.0, 2.5), 1),
            patience_s=self._rng.randint(240, 420), surge=surge)
