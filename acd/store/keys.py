"""Every Redis key pln123 uses, how long each lives, and the scores its sorted sets hold.

One module owns the layout so that the Lua scripts (rendered from these values when they
are loaded, acd/queues/lua.py), the Python readers (the queue store, the metrics, the
dashboard, the tools) and this table cannot drift apart.

One site's ACD (hash tag `{<site>}`):

    acd:{<site>}:call:<call_id>        hash: the call record (see records.CALL_FIELDS)
    acd:{<site>}:live                  set: call ids not yet abandoned or finished
    acd:{<site>}:queue:<skill>         zset: waiting call ids, score `queue_score`:
                                       priority * 1e13 + enqueued_ms
    acd:{<site>}:ready:<skill>         zset: ready agent ids, score idle_since_ms
    acd:{<site>}:tier:<skill>          zset: ready agent ids, score `tier_score`:
                                       (10 - level) * 1e13 + idle_ms
    acd:{<site>}:agent:<agent_id>      hash: state, reason, pending_logout, version, call,
                                       since, idle_since, endpoint, last_call, last_skill,
                                       answered_at
    acd:{<site>}:agent:<id>:skills     hash: skill -> level (1..10), written at login
    acd:{<site>}:agents                hash: agent id -> state (agents by state in one read)
    acd:{<site>}:audit                 stream, MAXLEN ~ audit_maxlen: every state change
    acd:{<site>}:m:<skill>:<start>     hash: counters of the 15-minute interval from <start>
                                       (epoch s), kept 31 days (INTERVAL_KEEP_S)
    acd:{<site>}:m1:<skill>:<start>    hash: the same counters per minute, kept 17 minutes
                                       (MINUTE_KEEP_S), summed over the last 15 for the
                                       live figures
    acd:{<site>}:resume:<skill>:<digits>
                                       string "<priority> <enqueued_at> <until> <call_id>",
                                       TTL abandon_resume_s: an abandoned caller's place
                                       (acd/waiting/resume.py)
    acd:{<site>}:agent-commands        stream, MAXLEN ~ AGENT_COMMANDS_MAXLEN: agent
                                       commands from `pln123 agent` and the dashboard
                                       (acd/agents/commands.py)

Between sites (acd/interflow):

    acd:site-status:<site>             string: the site's SiteStatus as JSON, PX
                                       status_ttl_s (expired = the site is down)
    acd:interflow:thresholds           hash: `<site>` or `<site>:<skill>` -> threshold
                                       seconds (the dashboard's runtime overrides)
    acd:transfer:{<call_id>}           hash: a moved call's context, kept TRANSFER_TTL_S
    acd:trunk:{<from>><to>}            zset: interflowed calls now on that trunk, score
                                       moved at (epoch s); older than TRUNK_STALE_S dropped

National self-service, under a prefix (`pln` unless a deployment shares its Redis):

    <prefix>:{outages}:seq             INCR counter; outage ids are "o-<n>"
    <prefix>:{outages}:board           hash: outage id -> JSON notice
    <prefix>:{tickets}:seq             INCR counter; ticket number = 10000000 + counter
    <prefix>:{tickets}:t:<number>      hash: the ticket, kept TICKET_KEEP_S by default
    <prefix>:{tickets}:stream          stream, MAXLEN ~ TICKET_STREAM_MAXLEN: ticket events

Why one hash tag per site: Redis Cluster runs a script only if every key it touches is in
one slot; `{palembang}` puts all of a site's keys in one slot, so the matching scripts are
atomic on a single server, under Sentinel and on Cluster alike. The scripts get one key
(for routing) and build the others from the prefix, all in that slot. A status key needs
no tag (never in a script, one key per command); a transfer record or a trunk has its own
tag, since it belongs to no single site's slot; each self-service board has one tag so its
scripts and MULTI stay atomic.

Scores are exact in a double: 9e13 + 1.8e12 (ms since 1970 until 2027) < 2^53.
"""

from __future__ import annotations

import math
import re

ROOT = "acd"

# The parts after a site's prefix `acd:{<site>}:` (the Lua scripts get these too).
CALL = "call:"
LIVE = "live"
QUEUE = "queue:"
READY = "ready:"
TIER = "tier:"
AGENT = "agent:"
SKILLS = ":skills"            # after the agent's key
AGENTS = "agents"
AUDIT = "audit"
INTERVAL = "m:"
MINUTE = "m1:"
RESUME = "resume:"
AGENT_COMMANDS = "agent-commands"
PART = ":"                    # between a key's variable parts (skill and interval start)

STATUS_PREFIX = f"{ROOT}:site-status:"
THRESHOLDS_KEY = f"{ROOT}:interflow:thresholds"
TRANSFER = f"{ROOT}:transfer:"
TRUNK = f"{ROOT}:trunk:"

SELF_SERVICE_PREFIX = "pln"

INTERVAL_S = 900   # the counters' 15-minute intervals
MINUTE_S = 60      # live figures: the last 15 one-minute buckets
INTERVAL_KEEP_S = 31 * 24 * 3600   # interval hashes: a month of reports
MINUTE_KEEP_S = 17 * 60            # minute hashes: the live window and two spare
TRANSFER_TTL_S = 86_400            # a moved caller is long gone after a day
TRUNK_STALE_S = 4 * 3600.0         # a slot held this long was left by a process that died
AGENT_COMMANDS_MAXLEN = 10_000     # a bounded queue of commands, not an audit log
TICKET_STREAM_MAXLEN = 1_000_000
TICKET_KEEP_S = 90 * 24 * 3600

SCORE_SCALE = 10**13  # one priority (queue) or level (tier) step in a score
TOP_LEVEL = 10        # skill levels are 1..TOP_LEVEL; the top level scores lowest (first)

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$")
_PREFIX = re.compile(r"[a-z][a-z0-9_-]{0,30}")


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


def checked_prefix(value: str) -> str:
    """A self-service key prefix: a short lower-case name, so it cannot carry a hash tag."""
    if not isinstance(value, str) or not _PREFIX.fullmatch(value):
        raise ValueError(f"key prefix {value!r} is not valid: a short lower-case name")
    return value


def site_prefix(site: str) -> str:
    """`acd:{<site>}:`, the start of every key of the site (no name check: see SiteKeys)."""
    return f"{ROOT}:{{{site}}}:"


def agent_commands_key(site: str) -> str:
    return site_prefix(site) + AGENT_COMMANDS


class SiteKeys:
    """The keys of one site's ACD, all under its hash tag."""

    def __init__(self, site: str):
        self.site = checked_name(site, "site")
        self.prefix = site_prefix(site)
        self.live = self.prefix + LIVE
        self.agents = self.prefix + AGENTS
        self.audit = self.prefix + AUDIT
        self.agent_commands = self.prefix + AGENT_COMMANDS
        # SCAN MATCH patterns (the tools read a site's keys without knowing its skills)
        self.calls_pattern = self.prefix + CALL + "*"
        self.queues_pattern = self.prefix + QUEUE + "*"
        self.intervals_pattern = self.prefix + INTERVAL + "*"

    def call(self, call_id: str) -> str:
        return self.prefix + CALL + call_id

    def queue(self, skill: str) -> str:
        return self.prefix + QUEUE + skill

    def ready(self, skill: str) -> str:
        return self.prefix + READY + skill

    def tier(self, skill: str) -> str:
        return self.prefix + TIER + skill

    def agent(self, agent_id: str) -> str:
        return self.prefix + AGENT + agent_id

    def skills(self, agent_id: str) -> str:
        return self.agent(agent_id) + SKILLS

    def interval(self, skill: str, start: int) -> str:
        return f"{self.prefix}{INTERVAL}{skill}{PART}{start}"

    def minute(self, skill: str, start: int) -> str:
        return f"{self.prefix}{MINUTE}{skill}{PART}{start}"

    def resume(self, skill: str, digits: str) -> str:
        return f"{self.prefix}{RESUME}{skill}{PART}{digits}"


def status_key(site: str) -> str:
    return STATUS_PREFIX + site


def transfer_key(call_id: str) -> str:
    return f"{TRANSFER}{{{checked_id(call_id, 'call id')}}}"


def trunk_key(origin: str, target: str) -> str:
    return f"{TRUNK}{{{checked_name(origin, 'site')}>{checked_name(target, 'site')}}}"


def patterns_starting(start: str) -> tuple[str, ...]:
    """SCAN MATCH patterns for the ACD keys of every site, moved call and trunk whose name
    starts with `start` (the simulator's worlds prefix their site names)."""
    return (f"{ROOT}:{{{start}*", STATUS_PREFIX + start + "*",
            f"{TRANSFER}{{{start}*", f"{TRUNK}{{{start}*")


class OutageKeys:
    """The outage board's keys under `prefix` (so a staging deployment can share a Redis)."""

    def __init__(self, prefix: str = SELF_SERVICE_PREFIX):
        tagged = f"{checked_prefix(prefix)}:{{outages}}:"
        self.seq = tagged + "seq"
        self.board = tagged + "board"


class TicketKeys:
    """The ticket desk's keys under `prefix`."""

    def __init__(self, prefix: str = SELF_SERVICE_PREFIX):
        tagged = f"{checked_prefix(prefix)}:{{tickets}}:"
        self.seq = tagged + "seq"
        self.stream = tagged + "stream"
        self._ticket = tagged + "t:"

    def ticket(self, number: str) -> str:
        return self._ticket + number


def ms(seconds: float) -> int:
    """Epoch seconds as the whole milliseconds a score holds (half up, as the scripts do)."""
    return math.floor(seconds * 1000 + 0.5)


def queue_score(priority: int, enqueued_at: float) -> int:
    """A waiting call's place: lower priority number first, then earlier enqueued."""
    return priority * SCORE_SCALE + ms(enqueued_at)


def queue_entry(score: float) -> tuple[int, float]:
    """(priority, enqueued_at epoch s) from a queue score."""
    return int(score // SCORE_SCALE), round((score % SCORE_SCALE) / 1000, 3)


def tier_score(level: int, idle_since: float) -> int:
    """A ready agent's place in a tier set: higher skill level first, then longer idle."""
    return (TOP_LEVEL - level) * SCORE_SCALE + ms(idle_since)


def tier_entry(score: float) -> tuple[int, float]:
    """(skill level, idle_since epoch s) from a tier score."""
    return TOP_LEVEL - int(score // SCORE_SCALE), round((score % SCORE_SCALE) / 1000, 3)
