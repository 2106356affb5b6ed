"""The Redis key layout of one site's ACD: every key carries the site's hash tag.

    acd:{<site>}:call:<call_id>        hash: the call record (see records.CALL_FIELDS)
    acd:{<site>}:live                  set: call ids not yet abandoned or finished
    acd:{<site>}:queue:<skill>         zset: waiting call ids, score priority*1e13 + enqueued_ms
    acd:{<site>}:ready:<skill>         zset: ready agent ids, score idle_since_ms
    acd:{<site>}:tier:<skill>          zset: ready agent ids, score (10-level)*1e13 + idle_ms
    acd:{<site>}:agent:<agent_id>      hash: state, reason, pending_logout, version, call,
                                       since, idle_since, endpoint, last_call, last_skill,
                                       answered_at
    acd:{<site>}:agent:<id>:skills     hash: skill -> level (1..10), written at login
    acd:{<site>}:agents                hash: agent id -> state (agents by state in one read)
    acd:{<site>}:audit                 stream, MAXLEN ~ audit_maxlen: every state change
    acd:{<site>}:m:<skill>:<start>     hash: counters of the 15-minute interval from <start>
                                       (epoch s), kept 31 days
    acd:{<site>}:m1:<skill>:<start>    hash: the same counters per minute, kept 17 minutes,
                                       summed over the last 15 for the live figures

Why one hash tag per site: Redis Cluster runs a script only if every key it touches is in
one slot; `{palembang}` puts all of a site's keys in one slot, so the matching scripts are
atomic on a single server, under Sentinel and on Cluster alike. The scripts get one key
(for routing) and build the others from the prefix, all in that slot.

Scores are exact in a double: 9e13 + 1.8e12 (ms since 1970 until 2027) < 2^53.
"""

from __future__ import annotations

import re

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$")

INTERVAL_S = 900   # DESIGN.md §6: 15-minute intervals
MINUTE_S = 60      # live figures: the last 15 one-minute buckets


def checked_name(value: str, what: str) -> str:
    """Site and skill names go into key names: short lower-case words only."""
    if not _NAME.match(value):
        raise ValueError(f"{what} {value!r}: lower-case letters, digits, '_' or '-', max 32")
    return value


def checked_id(value: str, what: str) -> str:
    """Call and agent ids go into key names and stream fields: no spaces, braces or colons
    at the start, at most 128 characters."""
    if not _ID.match(value):
        raise ValueError(f"{what} {value!r}: letters, digits and ._:@- only, max 128")
    return value


class SiteKeys:
    def __init__(self, site: str):
        self.site = checked_name(site, "site")
        self.prefix = f"acd:{{{site}}}:"
        self.live = self.prefix + "live"
        self.agents = self.prefix + "agents"
        self.audit = self.prefix + "audit"

    def call(self, call_id: str) -> str:
        return f"{self.prefix}call:{call_id}"

    def queue(self, skill: str) -> str:
        return f"{self.prefix}queue:{skill}"

    def ready(self, skill: str) -> str:
        return f"{self.prefix}ready:{skill}"

    def tier(self, skill: str) -> str:
        return f"{self.prefix}tier:{skill}"

    def agent(self, agent_id: str) -> str:
        return f"{self.prefix}agent:{agent_id}"

    def skills(self, agent_id: str) -> str:
        return f"{self.prefix}agent:{agent_id}:skills"

    def interval(self, skill: str, start: int) -> str:
        return f"{self.prefix}m:{skill}:{start}"

    def minute(self, skill: str, start: int) -> str:
        return f"{self.prefix}m1:{skill}:{start}"
