"""The simulator, driving the real ACD on a real Redis, against queueing theory.

1. Exact: with ring 0, wrap-up 0 and nobody hanging up, one site is an FCFS M/M/c queue,
   so every caller's wait must equal the Kiefer-Wolfowitz recursion on the same arrival
   and talk times (to the millisecond the ACD rounds its timestamps to), and the ACD's own
   counters in Redis must agree with the simulator's book.
2. Erlang C: SL and ASA within 2 SL points and 10 % of the formula. Statistical noise at
   the chosen point (M/M/1, load 0.3, T = AHT / 12, 10,000 calls), measured over 40
   seeds of the same queue in plain Python: sd 0.6 SL points and 4.6 % of ASA, so the
   tolerances are 3.3 and 2.2 sd (the run is deterministic for its fixed seed).
3. Erlang A: one agent, load 0.8, exponential patience with mean 60 s (= AHT), T = 10 s,
   6,000 calls: abandon rate within 2 points and SL within 3 points of the exact M/M/c+M
   figures (noise sd 0.61 and 0.72 points: 3.3 and 4.2 sd). Erlang A's numerics are also
   checked against a plain-Python M/M/c+M run in tests/unit/test_sim_erlang.py.
"""

from __future__ import annotations

import pytest
import pytest_twisted

from acd.queues.metrics import Counters, SiteMetrics
from acd.store.keys import INTERVAL_S
from acd.store.redis import RedisStore
from tests.integration.sim.harness import fcfs_waits, mmc_scenario
from tools.simulation.erlang import ErlangA, erlang_c_asa, erlang_c_service_level
from tools.simulation.report import figures
from tools.simulation.run import simulate
from tools.simulation.world import settings_for

pytestmark = pytest.mark.redis


@pytest_twisted.ensureDeferred
async def test_one_site_is_an_exact_fcfs_mmc_queue_and_redis_agrees(fresh_redis) -> None:
    scenario = mmc_scenario(agents=3, calls_per_hour=150, aht_s=60, hours=8, t_s=20)
    result = await simulate(scenario, fresh_redis.url, policies=("isolated",), tag="x1",
                            keep_keys=True)
    world = result.worlds["isolated"]
    attempts = [a for a in world.book.attempts if a.outcome == "answered"]
    assert len(attempts) > 1000
    assert len(attempts) == len(world.book.attempts) - sum(
        1 for a in world.book.attempts if a.outcome == "")   # only the last calls are open
    expected = fcfs_waits([(a.arrived_at, a.talk_s) for a in attempts], 3)
    measured = [a.wait for a in sorted(attempts, key=lambda a: a.arrived_at)]
    assert any(w > 1 for w in expected)   # people did wait: the queue was exercised
    worst = max(abs(m - e) for m, e in zip(measured, expected, strict=True))
    assert worst < 0.002, f"a wait differs from FCFS M/M/c by {worst:.4f} s"

    store = RedisStore(fresh_redis.url)
    await store.start()
    try:
        settings = settings_for(scenario, world.prefix, pooling=False)
        metrics = SiteMetrics(store, world.prefix + "solo", settings)
        # The incremental live read (closed minutes kept) gives what a first read gives.
        now = world.t0 + scenario.duration_h * 3600
        for moment in (now - 3 * 60, now):   # the second read reuses closed minutes
            first_read = SiteMetrics(store, world.prefix + "solo", settings)
            kept = await metrics.live("general", moment)
            fresh = await first_read.live("general", moment)
            # The sums of waits and talk times are added in another order: equal to rounding.
            assert vars(kept.counters) == pytest.approx(vars(fresh.counters), abs=1e-6)
            assert (kept.skill, kept.waiting, kept.longest_waiting_s, kept.agents) == (
                fresh.skill, fresh.waiting, fresh.longest_waiting_s, fresh.agents)
        total = Counters()
        start = int(world.t0 // INTERVAL_S * INTERVAL_S)
        while start < now:
            total = total + await metrics.interval("general", start)
            start += INTERVAL_S
    finally:
        await store.close()
    book = figures(world)
    assert total.offered == book.offered
    assert total.answered == book.answered
    assert total.abandoned == 0
    assert total.answered_in_sl == sum(1 for a in attempts if a.wait <= 20)
    assert total.answer_wait_sum == pytest.approx(sum(measured), abs=0.001 * len(measured))


@pytest_twisted.ensureDeferred
async def test_service_level_and_asa_match_erlang_c(fresh_redis) -> None:
    agents, aht, t = 1, 12.0, 1.0              # = AHT 60 s, T 5 s on a 5x faster clock
    calls_per_hour = 0.3 / aht * 3600          # load 0.3 Erlang
    hours = 10_000 / calls_per_hour
    scenario = mmc_scenario(agents, calls_per_hour, aht, hours, t_s=t, seed=2024)
    result = await simulate(scenario, fresh_redis.url, policies=("isolated",))
    f = figures(result.worlds["isolated"])
    assert f.offered > 9_500 and f.abandoned == 0
    sl = erlang_c_service_level(agents, 0.3, aht, t)
    asa = erlang_c_asa(agents, 0.3, aht)
    assert f.sl is not None and f.asa is not None
    print(f"SL {f.sl:.4f} (Erlang C {sl:.4f}) ASA {f.asa:.3f} s (Erlang C {asa:.3f} s)")
    assert abs(f.sl - sl) <= 0.02, f"SL {f.sl:.4f} vs Erlang C {sl:.4f}"
    assert abs(f.asa - asa) <= 0.10 * asa, f"ASA {f.asa:.2f} s vs Erlang C {asa:.2f} s"


@pytest_twisted.ensureDeferred
async def test_abandonment_and_service_level_match_erlang_a(fresh_redis) -> None:
    agents, aht, patience, t = 1, 60.0, 60.0, 10.0
    load = 0.8
    calls_per_hour = load / aht * 3600
    hours = 6_000 / calls_per_hour
    scenario = mmc_scenario(agents, calls_per_hour, aht, hours, patience_s=patience, t_s=t,
                            seed=7)
    result = await simulate(scenario, fresh_redis.url, policies=("isolated",))
    f = figures(result.worlds["isolated"])
    theory = ErlangA(agents, calls_per_hour / 3600, aht, patience).solve(t)
    assert f.abandon_rate is not None and f.sl is not None
    assert f.abandoned > 1000   # abandonment really happened
    print(f"abandon {f.abandon_rate:.4f} (Erlang A {theory.p_abandon:.4f}) "
          f"SL {f.sl:.4f} (Erlang A {theory.service_level:.4f})")
    assert abs(f.abandon_rate - theory.p_abandon) <= 0.02, (
        f"abandon {f.abandon_rate:.4f} vs Erlang A {theory.p_abandon:.4f}")
    assert abs(f.sl - theory.service_level) <= 0.03, (
        f"SL {f.sl:.4f} vs Erlang A {theory.service_level:.4f}")
