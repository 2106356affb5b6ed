"""The ACD routing benchmark's arithmetic (its runs on Redis are in tests/integration)."""

from __future__ import annotations

from benchmarks import acd_routing


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert acd_routing.percentile(values, 50) == 50.0
    assert acd_routing.percentile(values, 99) == 99.0
    assert acd_routing.percentile([3.0], 99) == 3.0
