"""The call centre's figures (service levels, ASA, AHT, abandon rate, EWT) on hand-computed
numbers; tests/integration/acd/test_acd_metrics_scripts.py has the scripts count them."""

from __future__ import annotations

import math

import pytest

from acd.queues.metrics import (
    Counters,
    abandon_rate,
    aht,
    announced_ewt,
    asa,
    ewt,
    service_level,
    service_level_2,
)

# 10 answered (7 within T), 4 abandoned (1 within T), 16 offered (2 still waiting).
SAMPLE = Counters(offered=16, answered=10, answered_in_sl=7, answer_wait_sum=150.0,
                  abandoned=4, abandoned_in_sl=1, handled=8, handle_sum=1_600.0,
                  longest_wait=95.0)


def test_service_levels_asa_aht_and_abandon_rate_by_hand() -> None:
    assert service_level(SAMPLE) == pytest.approx(0.7)          # 7 / 10
    assert service_level_2(SAMPLE) == pytest.approx(8 / 14)     # (7 + 1) / (10 + 4)
    assert asa(SAMPLE) == pytest.approx(15.0)                   # 150 s / 10
    assert aht(SAMPLE) == pytest.approx(200.0)                  # 1600 s / 8
    assert abandon_rate(SAMPLE) == pytest.approx(0.25)          # 4 / 16


def test_nothing_to_divide_is_none_not_zero() -> None:
    empty = Counters()
    assert (service_level(empty), service_level_2(empty), asa(empty), aht(empty),
            abandon_rate(empty)) == (None, None, None, None, None)


def test_counters_add_and_keep_the_longest_wait() -> None:
    a = Counters(offered=2, answered=1, answer_wait_sum=3.5, longest_wait=10.0)
    b = Counters(offered=1, abandoned=1, longest_wait=4.0)
    assert a + b == Counters(offered=3, answered=1, answer_wait_sum=3.5, abandoned=1,
                             longest_wait=10.0)
    assert Counters.from_hash({"offered": "3", "answer_wait_ms": "4250"}) == Counters(
        offered=3, answer_wait_sum=4.25)


def test_ewt_from_position_and_service_rate() -> None:
    assert ewt(3, 2, 180.0) == 270.0        # 3 completions at 2 agents / 180 s
    assert ewt(1, 4, 200.0) == 50.0
    assert ewt(1, 0, 180.0) == math.inf      # nobody staffed
    assert ewt(0, 3, 180.0) == 0.0           # with an agent already
    assert announced_ewt(270.0) == 300.0     # rounded up to whole minutes
    assert announced_ewt(60.0) == 60.0
    assert announced_ewt(0.5) == 60.0
    assert announced_ewt(math.inf) is None
    assert announced_ewt(0.0) == 0.0
