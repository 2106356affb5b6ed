"""What the demo prints every few seconds: per-site totals read from the ACD's Redis counters.

The same counters the dashboard reads (acd.queues.metrics: the 15-minute interval hashes,
`SiteKeys.interval` in acd/store/keys.py), summed over every interval and skill, so the terminal
and the dashboard agree. Lent and borrowed are the pooling counters: `pooled_out` (other
sites' callers this site's agents answered) and `pooled_in` (this site's callers other
sites' agents answered).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import redis

from acd.store.keys import SiteKeys

FIELDS = ("offered", "answered", "abandoned", "pooled_in", "pooled_out")
COLUMNS = ("site", "answered", "abandoned", "waiting", "lent", "borrowed")


@dataclass(frozen=True)
class SiteFigures:
    site: str
    offered: int
    answered: int
    abandoned: int
    pooled_in: int     # borrowed: this site's callers answered by another site's agent
    pooled_out: int    # lent: another site's callers answered by this site's agents
    waiting: int

    @property
    def lent(self) -> int:
        return self.pooled_out

    @property
    def borrowed(self) -> int:
        return self.pooled_in


def site_figures(client: redis.Redis, keys: SiteKeys) -> SiteFigures:
    """One site's totals so far; `keys` carries the site's pool (its keys' hash tag)."""
    totals = dict.fromkeys(FIELDS, 0)
    for key in client.scan_iter(match=keys.intervals_pattern, count=500):
        values = client.hmget(key, FIELDS)
        for name, value in zip(FIELDS, values, strict=True):
            totals[name] += int(value or 0)
    waiting = sum(int(client.zcard(key))
                  for key in client.scan_iter(match=keys.queues_pattern, count=500))
    return SiteFigures(keys.site, waiting=waiting, **totals)


def format_figures(rows: Sequence[SiteFigures]) -> list[str]:
    """A small table, a header and one line per site (each column as wide as it needs):

        site       answered  abandoned  waiting  lent  borrowed
        palembang     12/20          1        3     0         7
    """
    table = [COLUMNS] + [(r.site, f"{r.answered}/{r.offered}", str(r.abandoned),
                          str(r.waiting), str(r.lent), str(r.borrowed)) for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(COLUMNS))]
    return ["  ".join([row[0].ljust(widths[0]),
                       *(cell.rjust(width) for cell, width in zip(row[1:], widths[1:],
                                                                  strict=True))])
            for row in table]
