"""Runs in separate processes: one core each.

Why: the simulator is CPU-bound in Python (redis-py and the ACD's own code, per command),
and runs that never interact (each has its own site names in Redis) can go side by side:
the policies of one run (`simulate_parallel`), or the seeds of a study (seeds.py). Each
process builds the same arrivals from its seed (common random numbers hold), runs its
worlds on its own reactor and hands back their `Outcome`s (picklable). Processes are
started with `spawn`: a fresh interpreter, never a fork of a running event loop; and each
runs one task (`max_tasks_per_child=1`): a reactor is installed and run once per process,
so a worker that finished one run must not be handed the next.
"""

from __future__ import annotations

import secrets
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

from tools.simulation.run import RunResult
from tools.simulation.scenario import Scenario
from tools.simulation.world import POLICIES


def simulate_parallel(scenario: Scenario, url: str, *, policies: Sequence[str] = POLICIES,
                      time_step_s: float = 0.0, progress: bool = True,
                      tag: str | None = None, reserve: str | None = None) -> RunResult:
    """Like `run.simulate`, one process per policy; blocks until all are done."""
    started = time.monotonic()
    tag = tag or secrets.token_hex(2)
    with ProcessPoolExecutor(max_workers=len(policies), mp_context=get_context("spawn"),
                             max_tasks_per_child=1) as pool:
        futures = {p: pool.submit(run_child, scenario, url, (p,), tag, time_step_s,
                                  f"{scenario.name}/{p}" if progress else None, reserve)
                   for p in policies}
        results = {p: f.result() for p, f in futures.items()}
    return RunResult(scenario, {p: r.worlds[p] for p, r in results.items()},
                     time.monotonic() - started, sum(r.steps for r in results.values()),
                     sum(r.commands for r in results.values()))


def run_child(scenario: Scenario, url: str, policies: Sequence[str], tag: str,
              time_step_s: float, label: str | None,
              reserve: str | None = None) -> RunResult:
    """In the child: `policies` on its own asyncio reactor (progress on stderr as lines,
    labelled `label`; None: no progress)."""
    import logging

    import structlog
    from twisted.internet import asyncioreactor

    structlog.configure(
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    asyncioreactor.install()
    from twisted.internet import reactor
    from twisted.internet.defer import Deferred
    from twisted.python.failure import Failure

    from tools.simulation.run import simulate

    done: list[RunResult | Failure] = []

    async def go() -> None:
        try:
            done.append(await simulate(scenario, url, policies=policies, tag=tag,
                                       time_step_s=time_step_s,
                                       progress=sys.stderr if label else None,
                                       label=label or "", reserve=reserve,
                                       progress_lines=True))
        except Exception:  # noqa: BLE001 - handed to the parent below
            done.append(Failure())
        finally:
            reactor.stop()

    reactor.callWhenRunning(lambda: Deferred.fromCoroutine(go()))
    reactor.run(installSignalHandlers=False)  # type: ignore[call-arg]
    result = done[0] if done else None
    if not isinstance(result, RunResult):
        message = result.getErrorMessage() if isinstance(result, Failure) else "no result"
        raise RuntimeError(f"{label or scenario.name}: {message}")
    return result
