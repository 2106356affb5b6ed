"""One simulation run: both policies' worlds against one Redis, then the figures.

Why both at once: they share the arrival stream and the loop, so the comparison is fair and
their Redis round trips overlap (the run takes little longer than one policy alone).
Keys are namespaced per run and world (a random tag in every pool and site name) and
deleted at the end, so a run against a shared Redis (`--redis-url`)
neither collides with the contact centre's data nor leaves anything behind.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import IO

from acd.store.keys import patterns_starting
from acd.store.redis import Client
from acd.store.topology import parse_url
from tools.simulation.engine import Clocks, Progress, QuiescentStore, run_clocks
from tools.simulation.sampling import arrivals
from tools.simulation.scenario import Scenario
from tools.simulation.world import POLICIES, Outcome, Runners, World


@dataclass
class RunResult:
    scenario: Scenario
    worlds: dict[str, Outcome]
    wall_s: float
    steps: int
    commands: int   # Redis commands sent, as counted by the store (RedisStore.traffic)


async def simulate(scenario: Scenario, url: str, *, policies: Sequence[str] = POLICIES,
                   time_step_s: float = 0.0, progress: IO[str] | None = None,
                   tag: str | None = None, keep_keys: bool = False,
                   label: str = "", reserve: str | None = None,
                   progress_lines: bool = False) -> RunResult:
    """Run `policies` side by side over the scenario's duration; the worlds hold the books.

    `progress_lines`: the progress bar as a line per 10 % (one of several processes)."""
    started = time.monotonic()
    tag = tag or secrets.token_hex(2)
    store = QuiescentStore(url)
    await store.start()
    worlds: dict[str, World] = {}
    runners = Runners(store, one_server=parse_url(url).kind != "cluster")
    try:
        stream = list(arrivals(scenario))
        for policy in policies:
            worlds[policy] = World(scenario, policy, f"{policy[0]}{tag}-", store,
                                   reserve=reserve, runners=runners)
        for world in worlds.values():
            world.start(stream)
        until = scenario.start_epoch + scenario.duration_h * 3600
        bar = (Progress(scenario.duration_h * 3600, label or scenario.name, progress,
                        lines=progress_lines)
               if progress else None)
        steps = await run_clocks(
            Clocks([w.clock for w in worlds.values()]), store, until, time_step_s=time_step_s,
            progress=(lambda t: bar.update(t - scenario.start_epoch)) if bar else None)
        for world in worlds.values():
            await world.stop()
        await store.quiet()
        if not keep_keys:
            await forget([w.prefix for w in worlds.values()], store)
        return RunResult(scenario, {p: w.outcome() for p, w in worlds.items()},
                         time.monotonic() - started, steps,
                         store.traffic.commands)
    finally:
        await store.close()


async def forget(prefixes: Sequence[str], store: QuiescentStore) -> int:
    """Delete every key a world wrote (its prefix is in each key's name); the count."""
    patterns: list[str] = []
    for prefix in prefixes:
        patterns += patterns_starting(prefix)

    async def delete(client: Client) -> int:
        removed = 0
        for pattern in patterns:
            batch: list[str] = []
            async for key in client.scan_iter(match=pattern, count=1000):
                batch.append(key)
                if len(batch) >= 1000:
                    removed += int(await client.unlink(*batch))
                    batch = []
            if batch:
                removed += int(await client.unlink(*batch))
        return removed

    return await store.run(delete)
