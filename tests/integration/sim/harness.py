"""Single-site M/M/c(+M) scenarios for the validation tests, and the exact FCFS recursion.

The scenario is the textbook queue: Poisson arrivals, exponential talk, no ring, no
wrap-up, one skill, one site, no pooling, no waiting room (announcements change nothing
in the queue), nobody redials.
"""

from __future__ import annotations

import heapq
from typing import Any

from tools.simulation.scenario import Scenario, parse_scenario


def mmc_scenario(agents: int, calls_per_hour: float, aht_s: float, hours: float, *,
                 patience_s: float | None = None, t_s: float = 20.0,
                 seed: int = 1) -> Scenario:
    raw: dict[str, Any] = {
        "name": "mmc", "duration_h": hours, "seed": seed, "focus_region": "solo",
        "skills": {"general": {"share": 1.0}},
        "handle_time": {"distribution": "exponential", "mean_s": aht_s},
        "callers": {"patience": None if patience_s is None else
                    {"distribution": "exponential", "mean_s": patience_s}},
        "agents": {"ring_s": [0, 0], "no_answer": 0},
        "acd": {"service_level_s": t_s, "waiting_room": False, "abandon_resume_s": 0,
                "queues": {"general": {"wrapup_s": 0, "max_wait_s": 1e7}}},
        "sites": {"solo": {"roster": [{"count": agents, "skills": {"general": 5}}]}},
        "traffic": {"solo": {"0711": calls_per_hour * 24}},
    }
    return parse_scenario(raw)


def fcfs_waits(arrivals: list[tuple[float, float]], agents: int) -> list[float]:
    """Kiefer-Wolfowitz: FCFS waits of (arrival time, service time) pairs on c servers."""
    free = [0.0] * agents
    waits = []
    for at, service in sorted(arrivals):
        earliest = heapq.heappop(free)
        start = max(at, earliest)
        waits.append(start - at)
        heapq.heappush(free, start + service)
    return waits
