"""The dashboard's figures from `Counters`, with the metric definitions' formulas.

Every ratio comes from `acd.queues.metrics` (the one definition the IVR's EWT and the
tests share); this module only names them for JSON and Prometheus.
"""

from __future__ import annotations

import math
from typing import Any

from acd.queues.metrics import Counters, abandon_rate, asa, service_level, service_level_2

# Shown on the dashboard's help and in docs/dashboard.md, as docs/architecture.md words them.
DEFINITIONS = {
    "service_level": "answered within T (default 20 s) / answered, per interval",
    "service_level_2": "(answered within T + abandoned within T) / (answered + abandoned)",
    "asa_s": "mean queue wait of answered calls, including ring time at the agent",
    "abandon_rate": "callers who hung up while queued / calls queued (callbacks excluded)",
    "ewt_s": "for a new call, Avaya-style: from position and the current service rate of "
             "agents staffed for that skill; infinite when nobody is staffed",
    "windows": "live: a sliding 15 minutes; today: the 15-minute intervals since local "
               "midnight",
    "lent": "other sites' callers this site's agents answered (pooled_out); now: its agents "
            "ringing or talking for another site",
    "borrowed": "this site's callers another site's agent answered (pooled_in); now: its "
                "calls ringing or talking with another site's agent",
    "deflected": "callers who heard their open ticket's status in the IVR and hung up "
                 "without asking for an agent",
}


def figures(counters: Counters) -> dict[str, Any]:
    """One window's counts and ratios; a ratio with nothing to divide is None ('-')."""
    return {
        "offered": counters.offered,
        "answered": counters.answered,
        "answered_in_sl": counters.answered_in_sl,
        "abandoned": counters.abandoned,
        "abandoned_in_sl": counters.abandoned_in_sl,
        "service_level": service_level(counters),
        "service_level_2": service_level_2(counters),
        "asa_s": asa(counters),
        "abandon_rate": abandon_rate(counters),
        "pooled_in": counters.pooled_in,
        "pooled_out": counters.pooled_out,
        "pool_trunk_failed": counters.pool_trunk_failed,
        "deflected": counters.deflected,
    }


def sl_colour(level: float | None, target: float, warn_margin: float = 0.1) -> str:
    """good (at or above target), warn (within the margin below it), bad, or none."""
    if level is None:
        return "none"
    if level >= target:
        return "good"
    return "warn" if level >= target - warn_margin else "bad"


def finite(value: float) -> float | None:
    """JSON has no infinity: an unstaffed skill's EWT is null."""
    return None if math.isinf(value) or math.isnan(value) else value
