"""erlang.py against published values, exact identities and a plain-Python queue."""

from __future__ import annotations

import heapq
import math
import random

import pytest

from tools.simulation.erlang import (
    ErlangA,
    erlang_b,
    erlang_c,
    erlang_c_asa,
    erlang_c_service_level,
)


def test_erlang_b_table_value() -> None:
    # Erlang B tables: 5 Erlangs on 10 lines block 1.84 % of calls.
    assert erlang_b(10, 5.0) == pytest.approx(0.01838, abs=5e-6)


def test_erlang_c_exact_and_published_values() -> None:
    assert erlang_c(2, 1.0) == pytest.approx(1 / 3)   # M/M/2 at load 1: C = 1/3 exactly
    # The classic worked example: 100 calls per 30 min, AHT 180 s (10 Erlangs), T = 20 s.
    assert erlang_c(11, 10.0) == pytest.approx(0.6821, abs=5e-5)
    assert erlang_c(14, 10.0) == pytest.approx(0.1741, abs=5e-5)
    assert erlang_c_service_level(14, 10.0, 180, 20) == pytest.approx(0.888, abs=5e-4)
    assert erlang_c_asa(14, 10.0, 180) == pytest.approx(7.8, abs=0.05)


def test_erlang_c_unstable_is_no_service() -> None:
    assert erlang_c(5, 5.0) == 1.0
    assert erlang_c_service_level(5, 6.0, 180, 20) == 0.0
    assert math.isinf(erlang_c_asa(5, 5.0, 180))


def test_erlang_a_tends_to_erlang_c_without_abandonment() -> None:
    a = ErlangA(55, 48 / 240, 240, 1e9).solve(15)
    assert a.p_wait == pytest.approx(erlang_c(55, 48.0), abs=1e-5)
    assert a.service_level == pytest.approx(erlang_c_service_level(55, 48.0, 240, 15), abs=1e-5)
    assert a.asa_s == pytest.approx(erlang_c_asa(55, 48.0, 240), rel=1e-4)


def test_erlang_a_with_patience_equal_to_handle_time_is_poisson() -> None:
    # theta = mu: the number in the system is M/M/infinity, i.e. Poisson(a).
    a, c = 12.0, 10
    result = ErlangA(c, a / 100, 100, 100).solve(20)
    pi = [math.exp(-a) * a ** n / math.factorial(n) for n in range(150)]
    assert result.p_wait == pytest.approx(sum(pi[c:]), abs=1e-12)
    abandon = sum((n - c) * p for n, p in enumerate(pi) if n > c) / a   # rate theta E[Q] / lambda
    assert result.p_abandon == pytest.approx(abandon, abs=1e-9)


def _mmc_m(c: int, lam: float, aht: float, patience: float, t: float, n: int,
           seed: int) -> tuple[float, float]:
    """FCFS M/M/c+M in plain Python: (abandon rate, SL of the answered)."""
    rng = random.Random(seed)
    free = [0.0] * c
    now = 0.0
    abandoned = answered = within = 0
    for _ in range(n):
        now += rng.expovariate(lam)
        earliest = heapq.heappop(free)
        wait = max(0.0, earliest - now)
        if rng.expovariate(1 / patience) < wait:
            heapq.heappush(free, earliest)
            abandoned += 1
            continue
        heapq.heappush(free, now + wait + rng.expovariate(1 / aht))
        answered += 1
        within += wait <= t
    return abandoned / n, within / answered


def test_erlang_a_numerics_agree_with_a_plain_queue() -> None:
    theory = ErlangA(3, 2.4 / 60, 60, 90).solve(10)
    abandon, sl = _mmc_m(3, 2.4 / 60, 60, 90, 10, 300_000, seed=5)
    assert abandon == pytest.approx(theory.p_abandon, abs=0.004)
    assert sl == pytest.approx(theory.service_level, abs=0.006)


def test_bad_parameters_are_refused() -> None:
    with pytest.raises(ValueError):
        erlang_c(0, 1.0)
    with pytest.raises(ValueError):
        ErlangA(1, 1.0, 2.0, math.inf)   # load 2 on 1 agent, nobody leaves: unstable
    with pytest.raises(ValueError):
        ErlangA(0, 1.0, 1.0, 10)
