"""One scenario over several seeds: the figures' means and how far they spread.

Why: one day of one seed is one draw. A difference between two runs (a change to the ACD,
another reserve) means something only once it is larger than what another seed alone
would change, so `pln123 simulate --seeds N` runs the scenario with seeds s, s+1, ...,
s+N-1 (s: the scenario's, or `--seed`) and reports, for every figure of the last line and
every region's SL and abandon rate under each policy, the mean, the sample standard
deviation and the range over the seeds. Seeds run in separate processes, as many at once
as there are cores (each runs both policies on one reactor).
"""

from __future__ import annotations

import math
import os
import secrets
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, replace
from multiprocessing import get_context

from tools.simulation.parallel import run_child
from tools.simulation.report import LAST_LINE, figures, format_value, summary
from tools.simulation.run import RunResult
from tools.simulation.scenario import Scenario
from tools.simulation.world import POLICIES

Values = Mapping[str, float | int | None]


@dataclass(frozen=True)
class Spread:
    """One figure over the seeds that gave it (a seed may give none: no calls answered)."""

    mean: float
    sd: float        # sample standard deviation (0 for one value)
    low: float
    high: float
    n: int


def seeds_from(first: int, count: int) -> list[int]:
    if count < 1:
        raise ValueError("at least one seed")
    return [first + i for i in range(count)]


def run_seeds(scenario: Scenario, url: str, seeds: Sequence[int], *, time_step_s: float,
              reserve: str | None = None, jobs: int | None = None,
              progress: bool = True,
              done: Callable[[int, RunResult], None] | None = None) -> dict[int, RunResult]:
    """Every seed's run (both policies in one process each), `jobs` processes at a time
    (default: one per core); `done(seed, result)` as each finishes."""
    workers = max(1, min(len(seeds), jobs or os.cpu_count() or 1))
    results: dict[int, RunResult] = {}
    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"),
                             max_tasks_per_child=1) as pool:   # one reactor per process
        futures = {
            pool.submit(run_child, replace(scenario, seed=seed), url, POLICIES,
                        secrets.token_hex(2), time_step_s,
                        f"{scenario.name}/seed {seed}" if progress else None,
                        reserve): seed
            for seed in seeds}
        for future in as_completed(futures):
            seed = futures[future]
            results[seed] = future.result()
            if done is not None:
                done(seed, results[seed])
    return {seed: results[seed] for seed in seeds}


def values(result: RunResult) -> dict[str, float | int | None]:
    """What is aggregated of one run: the last line's figures, then each region's SL and
    abandon rate under each policy (`sl_pln123_medan`, `abandon_isolated_medan`)."""
    out: dict[str, float | int | None] = dict(summary(result))
    for region in result.scenario.sites:
        for policy, world in result.worlds.items():
            f = figures(world, region)
            out[f"sl_{policy}_{region}"] = f.sl
            out[f"abandon_{policy}_{region}"] = f.abandon_rate
    return out


def aggregate(runs: Sequence[Values]) -> dict[str, Spread | None]:
    """Each figure's spread over `runs`, in the order the first run names them; None for a
    figure no run gave."""
    names: dict[str, None] = {}
    for run in runs:
        names.update(dict.fromkeys(run))
    spreads: dict[str, Spread | None] = {}
    for name in names:
        found = [float(v) for run in runs if (v := run.get(name)) is not None
                 and not math.isnan(float(v))]
        if not found:
            spreads[name] = None
            continue
        mean = sum(found) / len(found)
        sd = (math.sqrt(sum((v - mean) ** 2 for v in found) / (len(found) - 1))
              if len(found) > 1 else 0.0)
        spreads[name] = Spread(mean, sd, min(found), max(found), len(found))
    return spreads


def spread_table(spreads: Mapping[str, Spread | None], seeds: Sequence[int]) -> str:
    """One line per figure: mean, standard deviation, range and how many seeds gave it."""
    width = max((len(name) for name in spreads), default=6)
    lines = [f"{len(seeds)} seeds: {', '.join(str(s) for s in seeds)}",
             f"{'figure':<{width}} {'mean':>9} {'sd':>8} {'min':>9} {'max':>9}  seeds",
             "-" * (width + 48)]
    for name, spread in spreads.items():
        if spread is None:
            lines.append(f"{name:<{width}} {'nan':>9}")
            continue
        cells = [format_value(name, spread.mean, mean=True), _sd(name, spread.sd),
                 format_value(name, spread.low), format_value(name, spread.high)]
        lines.append(f"{name:<{width}} {cells[0]:>9} {cells[1]:>8} {cells[2]:>9} "
                     f"{cells[3]:>9}  {spread.n}")
    return "\n".join(lines)


def mean_line(spreads: Mapping[str, Spread | None]) -> str:
    """The last line's figures as their means over the seeds, in its key=value form."""
    return " ".join(
        f"{name}={format_value(name, s.mean if (s := spreads.get(name)) else None, mean=True)}"
        for name in LAST_LINE)


def _sd(name: str, sd: float) -> str:
    if name.startswith("answered_"):
        return f"{sd:.1f}"
    return format_value(name, sd)
