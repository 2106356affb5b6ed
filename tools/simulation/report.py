"""The figures of a run: per-site table, the pooled Erlang C bound, the summary line.

Definitions are the dashboard's (acd/queues/metrics.py), applied to the simulator's book
(calls.py), per *home site*, i.e. per region of the callers (a caller answered by another
site's agent counts for the region they called from):

- offered: call attempts (a redial is a new attempt, as the ACD counts it);
- SL: answered within T / answered; ASA: mean wait of answered calls, ring included;
- abandon rate: attempts that hung up before an agent answered / offered;
- pooled in / out: this region's callers answered by other sites' agents / other regions'
  callers answered by this site's agents;
- occupancy of the site's agents: (ringing + talking + wrap-up) / logged-in-and-not-paused.

The fully pooled bound: every agent on duty answers every call, one queue per segment of
the day (hour, or surge boundary) with that segment's first-attempt load (stationary
approximation, as workforce planning does it). With abandonment in the scenario it is
Erlang A (M/M/c+M, the scenario's mean patience): callers who give up lighten the load for
the others, so plain Erlang C (nobody leaves; SL 0 once load >= agents) would understate
what pooling achieves and would be no bound; without abandonment it is exactly Erlang C.
Both are in the table. The region's bound weights the segments by the region's expected
calls. Redials are left out of the load: in a pooled centre that answers quickly few
callers redial, and the bound is meant as the best case.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from tools.simulation.calls import Attempt
from tools.simulation.erlang import ErlangA, erlang_c_service_level
from tools.simulation.run import RunResult
from tools.simulation.sampling import breakpoints
from tools.simulation.scenario import Scenario
from tools.simulation.world import Outcome

BUSY = ("reserved", "on_call", "wrap_up")


@dataclass(frozen=True)
class Figures:
    offered: int
    answered: int
    abandoned: int
    other: int            # max wait, turned away, still open at the end
    sl: float | None
    asa: float | None

    @property
    def abandon_rate(self) -> float | None:
        return self.abandoned / self.offered if self.offered else None


def figures(world: Outcome, region: str | None = None, *, t_s: float | None = None,
            from_s: float = 0.0, to_s: float = float("inf"),
            attempts: Iterable[Attempt] | None = None) -> Figures:
    """The callers of `region` (all when None) who arrived between two times, among
    `attempts` (default: the world's book)."""
    t = world.scenario.acd.service_level_s if t_s is None else t_s
    t0 = world.t0
    offered = answered = abandoned = within = 0
    wait_sum = 0.0
    for attempt in world.book.attempts if attempts is None else attempts:
        if region is not None and attempt.home != region:
            continue
        if not from_s <= attempt.arrived_at - t0 < to_s:
            continue
        offered += 1
        if attempt.outcome == "answered" and attempt.wait is not None:
            answered += 1
            wait_sum += attempt.wait
            within += attempt.wait <= t + 1e-9
        elif attempt.outcome == "abandoned":
            abandoned += 1
    return Figures(offered, answered, abandoned, offered - answered - abandoned,
                   within / answered if answered else None,
                   wait_sum / answered if answered else None)


def hourly(world: Outcome, region: str, hours: int) -> list[Figures]:
    """`figures` of the region's callers for each hour of arrival (one pass over the
    book, not one per hour)."""
    by_hour: dict[int, list[Attempt]] = defaultdict(list)
    for attempt in world.book.attempts:
        if attempt.home == region:
            by_hour[int((attempt.arrived_at - world.t0) // 3600)].append(attempt)
    return [figures(world, region, from_s=h * 3600.0, to_s=(h + 1) * 3600.0,
                    attempts=by_hour.get(h, ()))
            for h in range(hours)]


def occupancy(world: Outcome, site: str) -> float | None:
    seconds = world.agent_time.seconds.get(site, {})
    busy = sum(seconds.get(s, 0.0) for s in BUSY)
    available = busy + seconds.get("ready", 0.0)
    return busy / available if available else None


def mean_handle_s(scenario: Scenario) -> float:
    """Talk + wrap-up + mean ring: how long an agent is taken per answered call."""
    ring = sum(scenario.agents.ring_s) / 2
    wrap = sum(m.share * scenario.acd.wrapup(m.skill) for m in scenario.skills)
    return scenario.handle.mean_s + wrap + ring


def pooled_bound(scenario: Scenario, region: str | None, *, abandonment: bool = True
                 ) -> float | None:
    """SL of the region's callers (None: every region's) if every agent answered every
    call (see the module).

    With `abandonment` and a patience in the scenario: Erlang A (M/M/c+M with the mean
    patience), the same callers' behaviour as in the simulation; else Erlang C.
    """
    aht = mean_handle_s(scenario)
    patience = scenario.callers.patience
    weight = weighted = 0.0
    for start_h, end_h in itertools.pairwise(breakpoints(scenario)):
        middle = (start_h + end_h) / 2
        rate = sum(scenario.rate_per_s(a, middle) for a in scenario.traffic)
        regional = sum(scenario.rate_per_s(a, middle) for a in scenario.traffic
                       if region is None or a.site == region) * (end_h - start_h)
        agents = sum(g.count for s in scenario.sites.values() for g in s.roster
                     if g.on_duty(middle))
        if regional <= 0:
            continue
        t = scenario.acd.service_level_s
        if agents <= 0:
            sl = 0.0
        elif abandonment and patience is not None:
            sl = ErlangA(agents, rate, aht, patience.mean_s).solve(t).service_level
        else:
            sl = erlang_c_service_level(agents, rate * aht, aht, t)
        weight += regional
        weighted += regional * sl
    return weighted / weight if weight else None


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _sec(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}s"


def table(result: RunResult) -> str:
    """One row per site and policy, then the pooled bound per site; the nation last."""
    header = (f"{'site':<11} {'policy':<9} {'offered':>8} {'answered':>8} {'SL':>7} "
              f"{'ASA':>8} {'abandon':>8} {'other':>6} {'pool in':>7} {'pool out':>8} "
              f"{'occup.':>7}")
    lines = [header, "-" * len(header)]
    scenario = result.scenario
    for site in [*scenario.sites, None]:
        name = site or "national"
        for policy, world in result.worlds.items():
            f = figures(world, site)
            taken, lent = world.book.pooled(site) if site else (0, 0)
            pooled = f"{taken:>7} {lent:>8}" if site else f"{'':>7} {'':>8}"
            lines.append(
                f"{name:<11} {policy:<9} {f.offered:>8} {f.answered:>8} {_pct(f.sl):>7} "
                f"{_sec(f.asa):>8} {_pct(f.abandon_rate):>8} {f.other:>6} {pooled} "
                f"{_pct(occupancy(world, site)) if site else '':>7}")
        lines.append(f"{name:<11} {'pooled':<9} {'':>8} {'':>8} "
                     f"{_pct(pooled_bound(scenario, site)):>7}  (Erlang A: all agents, "
                     f"the same patience; Erlang C: "
                     f"{_pct(pooled_bound(scenario, site, abandonment=False))})")
    return "\n".join(lines)


def summary(result: RunResult) -> dict[str, float | int | None]:
    """The figures of the last line, by name (see `summary_line`)."""
    scenario = result.scenario
    region = scenario.focus_region
    values: dict[str, float | int | None] = {}
    for policy in ("isolated", "pln123"):
        world = result.worlds.get(policy)
        focus = figures(world, region) if world is not None else None
        nation = figures(world) if world is not None else None
        values[f"sl_{policy}"] = focus.sl if focus else None
        values[f"abandon_{policy}"] = focus.abandon_rate if focus else None
        values[f"answered_{policy}"] = focus.answered if focus else None
        values[f"national_sl_{policy}"] = nation.sl if nation else None
    values["sl_pooled_bound"] = pooled_bound(scenario, region)
    values["national_sl_pooled_bound"] = pooled_bound(scenario, None)
    values["receivers_min_sl_delta"] = receivers_min_sl_delta(result)
    return values


def receivers_min_sl_delta(result: RunResult) -> float | None:
    """The lowest, over the regions other than the focus, of SL under pln123 minus SL
    isolated, in points: what pooling cost (or gave) the sites that lend."""
    isolated, pooled = result.worlds.get("isolated"), result.worlds.get("pln123")
    if isolated is None or pooled is None:
        return None
    deltas = []
    for site in result.scenario.sites:
        if site == result.scenario.focus_region:
            continue
        before, after = figures(isolated, site).sl, figures(pooled, site).sl
        if before is not None and after is not None:
            deltas.append(100 * (after - before))
    return min(deltas) if deltas else None


LAST_LINE = ("sl_isolated", "sl_pln123", "sl_pooled_bound", "abandon_isolated",
             "abandon_pln123", "answered_isolated", "answered_pln123", "national_sl_isolated",
             "national_sl_pln123", "national_sl_pooled_bound", "receivers_min_sl_delta")


def summary_line(result: RunResult) -> str:
    """The last line: the focus region and the nation under each policy, the pooled
    bounds, and the worst change pooling made to another region's SL (in points)."""
    values = summary(result)
    return " ".join(f"{name}={format_value(name, values[name])}" for name in LAST_LINE)


def format_value(name: str, value: float | int | None, *, mean: bool = False) -> str:
    """A figure as the last line writes it: counts whole (a `mean` of counts rounded),
    the SL delta in points to a tenth, rates to a thousandth."""
    if value is None:
        return "nan"
    if name.startswith("answered_"):
        return str(round(value)) if mean else str(int(value))
    if name == "receivers_min_sl_delta":
        return f"{value:.1f}"
    return f"{value:.3f}"
