"""What the demo prints every few seconds: per-site totals read from the ACD's Redis counters.

The same counters the dashboard reads (acd.queues.metrics: the 15-minute interval hashes,
`SiteKeys.interval` in acd/store/keys.py), summed over every interval and skill, so the terminal
and the dashboard agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import redis

from acd.store.keys import SiteKeys

FIELDS = ("offered", "answered", "abandoned", "interflow_in", "interflow_out")


@dataclass(frozen=True)
class SiteFigures:
    site: str
    offered: int
    answered: int
    abandoned: int
    interflow_in: int
    interflow_out: int
    waiting: int


def site_figures(client: redis.Redis, site: str) -> SiteFigures:
    totals = dict.fromkeys(FIELDS, 0)
    keys = SiteKeys(site)
    for key in client.scan_iter(match=keys.intervals_pattern, count=500):
        values = client.hmget(key, FIELDS)
        for name, value in zip(FIELDS, values, strict=True):
            totals[name] += int(value or 0)
    waiting = sum(int(client.zcard(key))
                  for key in client.scan_iter(match=keys.queues_pattern, count=500))
    return SiteFigures(site, waiting=waiting, **totals)


def format_figures(rows: Sequence[SiteFigures]) -> str:
    """One line: `palembang 12/14 answered, 5 waiting, 3 out, 0 in | medan ...`."""
    return " | ".join(
        f"{r.site} {r.answered}/{r.offered} answered, {r.waiting} waiting"
        + (f", {r.interflow_out} sent" if r.interflow_out else "")
        + (f", {r.interflow_in} taken" if r.interflow_in else "")
        for r in rows)
