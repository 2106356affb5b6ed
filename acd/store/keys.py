"""Every Redis key pln123 uses, how long each lives, and the scores its sorted sets hold.

One module owns the layout so that the Lua scripts (rendered from these values when they
are loaded, acd/queues/lua.py), the Python readers (the queue store, the metrics, the
dashboard, the tools) and this table cannot drift apart.

One site's ACD, in its pool (hash tag `{<pool>}`: every site of a pool in one slot):

    acd:{<pool>}:<site>:call:<call_id>  hash: the call record (see records.CALL_FIELDS);
                                       no TTL while live, then, set by the script that
                                       ends it, AcdSettings.ended_call_ttl_s (the longest
                                       window that still reads it)
    acd:{<pool>}:<site>:live           set: call ids not yet abandoned or finished
    acd:{<pool>}:<site>:queue:<skill>  zset: waiting call ids, score `queue_score`:
                                       priority * 1e13 + enqueued_ms
    acd:{<pool>}:<site>:ready:<skill>  zset: ready agent ids, score idle_since_ms
    acd:{<pool>}:<site>:tier:<skill>   zset: ready agent ids, score `tier_score`:
                                       (10 - level) * 1e13 + idle_ms
    acd:{<pool>}:<site>:agent:<id>     hash: state, reason, pending_logout, version, call,
                                       call_site, since, idle_since, endpoint, last_call,
                                       last_skill, answered_at, phone (the phone's state
                                       as telephony last saw it; none: available)
    acd:{<pool>}:<site>:agent:<id>:skills
                                       hash: skill -> level (1..10), written at login
    acd:{<pool>}:<site>:agents         hash: agent id -> state (agents by state in one read)
    acd:{<pool>}:<site>:phones         hash: agent id -> phone state, only for agents whose
                                       phone is not available (busy, unregistered): a
                                       ready one is out of the ready sets meanwhile
    acd:{<pool>}:<site>:audit          stream, MAXLEN ~ audit_maxlen: every state change
    acd:{<pool>}:<site>:m:<skill>:<start>
                                       hash: counters of the 15-minute interval from <start>
                                       (epoch s), kept 31 days (INTERVAL_KEEP_S)
    acd:{<pool>}:<site>:m1:<skill>:<start>
                                       hash: the same counters per minute, kept 17 minutes
                                       (MINUTE_KEEP_S), summed over the last 15 for the
                                       live figures
    acd:{<pool>}:<site>:resume:<skill>:<digits>
                                       string "<priority> <enqueued_at> <until> <call_id>",
                                       TTL abandon_resume_s: an abandoned caller's place
                                       (offer_call and remove_call, acd/queues/lua)
    acd:{<pool>}:<site>:agent-commands stream, MAXLEN ~ AGENT_COMMANDS_MAXLEN: agent
                                       commands from `pln123 agent` and the dashboard
                                       (acd/agents/commands.py)
    acd:{<pool>}:<site>:desktop:<id>   hash: the agent desktop's own state of an agent:
                                       `pause_after` (a reason code to pause with when
                                       the current call ends: taken by agent_change),
                                       `at` (pln123/web/desktop_actions.py)
    acd:{<pool>}:<site>:wrapup:<call_id>
                                       hash: the wrap-up of a call this site's agent took:
                                       disposition, note, agent, at, ticket; TTL
                                       WRAPUP_KEEP_S

Pooling, per site of a pool (acd/pooling):

    acd:{<pool>}:<site>:lending        hash: the dashboard's runtime overrides: `off` = 1
                                       (the site lends nobody), `reserve` or
                                       `reserve:<skill>` = a fixed reserve
    acd:{<pool>}:<site>:loans          zset: calls of other sites this site's agents
                                       answered, score when; trimmed to NET_KEEP_S, and
                                       expires NET_KEEP_S after the last loan
    acd:{<pool>}:<site>:taken          zset: this site's calls other sites' agents
                                       answered, score when; the same
    acd:{<pool>}:<site>:idle-at        string: the last time a free agent of the site found
                                       nobody waiting anywhere in the pool (epoch s)
    acd:{<pool>}:<site>:rsl            hash: `r` the auto reserve's service-level part,
                                       `at` when it last stepped
    acd:{<pool>}:<site>:lent           set: this site's agents ringing or talking for
                                       another site now
    acd:{<pool>}:<site>:borrowed       set: this site's calls ringing or talking with
                                       another site's agent now
    acd:{<pool>}:<site>:trunk:<lender> zset: this site's calls now on the trunk to
                                       <lender>'s agents, score when reserved
    acd:{<pool>}:<site>:alive          string, PX status_ttl_s: the site's pln123 runs
                                       (only a live site is lent an agent by a ready one)
    acd:{<pool>}:<site>:rings          stream, MAXLEN ~ RINGS_MAXLEN: reservations of this
                                       site's calls made by another site's agent, for this
                                       site's processes to ring (they hold the caller)

Between sites:

    acd:site-status:<site>             string: the site's SiteStatus as JSON, PX
                                       status_ttl_s (expired = the site is down)

National self-service, under a prefix (`pln` unless a deployment shares its Redis):

    <prefix>:{outages}:seq             INCR counter; outage ids are "o-<n>"
    <prefix>:{outages}:board           hash: outage id -> JSON notice
    <prefix>:{tickets}:seq             INCR counter; ticket number = 10000000 + counter
    <prefix>:{tickets}:t:<number>      hash: the ticket, kept TICKET_KEEP_S by default
    <prefix>:{tickets}:stream          stream, MAXLEN ~ TICKET_STREAM_MAXLEN: ticket events;
                                       consumer group APKT_GROUP is the APKT outbox
    <prefix>:{tickets}:apkt-dead       stream, MAXLEN ~ APKT_DEAD_MAXLEN: ticket events
                                       APKT refused for good (acd/selfservice/outbox.py)
    <prefix>:{tickets}:idpel:<idpel>   zset: ticket numbers, score created_at, trimmed to
                                       TICKET_LOOKUP_S (acd/selfservice/lookups.py)
    <prefix>:{tickets}:caller:<digits> zset: the same by the caller's national number
    <prefix>:{tickets}:apkt-sig:<hex>  string, EX APKT_SIGNATURE_KEEP_S: a webhook
                                       signature seen (a replay is refused)
    <prefix>:{tickets}:apkt-event:<id> string, EX APKT_EVENT_KEEP_S: an APKT event applied

Why one hash tag per pool: Redis Cluster runs a script only if every key it touches is in
one slot; `{national}` puts all the keys of a pool's sites in one slot, so one matching
script decides over every site of the pool, atomically, on a single server, under Sentinel
and on Cluster alike; different pools may live on different shards. The scripts get one
key (for routing) and build the others from the pool's prefix, all in that slot. A status
key needs no tag (never in a script, one key per command); each self-service board has one
tag so its scripts and MULTI stay atomic.

Scores are exact in a double: 9e13 + 1.8e12 (ms since 1970 until 2027) < 2^53.

What a call leaves behind: nothing without an end. Its record expires after the windows
that still read it; its place in `live`, its queue, `borrowed`, `lent` and `trunk:` goes as
it ends; an abandoned caller's kept place expires with the resume window; its counters
are time buckets (m:, m1:) that expire on their own whatever the number of calls; `loans`
and `taken` are trimmed and expire; the streams (audit, agent-commands, rings) are capped.
What lives on: the agents' keys, the lending overrides, the outage board, the ticket
sequence (benchmarks/redis_memory.py measures it, docs/operations.md "Redis memory").
"""

from __future__ import annotations

import math
import re

ROOT = "acd"

# The parts after a site's prefix `acd:{<pool>}:<site>:` (the Lua scripts get these too).
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
LENDING = "lending"
LOANS = "loans"
TAKEN = "taken"
IDLE_AT = "idle-at"
RSL = "rsl"
LENT = "lent"
BORROWED = "borrowed"
TRUNK = "trunk:"
ALIVE = "alive"
RINGS = "rings"
PHONES = "phones"
DESKTOP = "desktop:"            # after the site prefix: an agent desktop's own state
WRAPUP = "wrapup:"
PART = ":"                    # between a key's variable parts (skill and interval start)

STATUS_PREFIX = f"{ROOT}:site-status:"

SELF_SERVICE_PREFIX = "pln"

INTERVAL_S = 900   # the counters' 15-minute intervals
MINUTE_S = 60      # live figures: the last 15 one-minute buckets
LIVE_WINDOW_S = 900  # the live figures' sliding window
INTERVAL_KEEP_S = 31 * 24 * 3600   # interval hashes: a month of reports
MINUTE_KEEP_S = 17 * 60            # minute hashes: the live window and two spare
NET_KEEP_S = 3600                  # loans/taken kept: the auto reserve looks back 30 min
RINGS_MAXLEN = 10_000              # ring requests waiting for the home site's processes
AGENT_COMMANDS_MAXLEN = 10_000     # a bounded queue of commands, not an audit log
TICKET_STREAM_MAXLEN = 1_000_000
TICKET_KEEP_S = 90 * 24 * 3600
TICKET_LOOKUP_S = 30 * 24 * 3600   # tickets found by IDPEL or caller number: the last 30 days
WRAPUP_KEEP_S = 31 * 24 * 3600     # a call's disposition: as long as its interval figures
APKT_GROUP = "apkt"                # the ticket stream's consumer group sending to APKT
APKT_DEAD_MAXLEN = 100_000
APKT_SIGNATURE_KEEP_S = 900        # beyond the webhook's +-300 s timestamp window
APKT_EVENT_KEEP_S = 7 * 24 * 3600  # APKT's own retries of an event within a week are no-ops

AUTO = "auto"      # a reserve worked out from the lending site's own counters

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


def pool_prefix(pool: str) -> str:
    """`acd:{<pool>}:`, the start of every key of the pool's sites."""
    return f"{ROOT}:{{{pool}}}:"


def site_prefix(pool: str, site: str) -> str:
    """`acd:{<pool>}:<site>:`, the start of every key of the site (no name check: see
    SiteKeys)."""
    return f"{pool_prefix(pool)}{site}{PART}"


def agent_commands_key(pool: str, site: str) -> str:
    return site_prefix(pool, site) + AGENT_COMMANDS


class SiteKeys:
    """The keys of one site's ACD, all under its pool's hash tag."""

    def __init__(self, site: str, pool: str):
        self.site = checked_name(site, "site")
        self.pool = checked_name(pool, "pool")
        self.pool_prefix = pool_prefix(pool)
        self.prefix = site_prefix(pool, site)
        self.live = self.prefix + LIVE
        self.agents = self.prefix + AGENTS
        self.audit = self.prefix + AUDIT
        self.agent_commands = self.prefix + AGENT_COMMANDS
        self.lending = self.prefix + LENDING
        self.loans = self.prefix + LOANS
        self.taken = self.prefix + TAKEN
        self.lent = self.prefix + LENT
        self.borrowed = self.prefix + BORROWED
        self.alive = self.prefix + ALIVE
        self.rings = self.prefix + RINGS
        self.phones = self.prefix + PHONES
        self.idle_at = self.prefix + IDLE_AT
        self.rsl = self.prefix + RSL
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

    def trunk(self, lender: str) -> str:
        return self.prefix + TRUNK + lender

    def resume(self, skill: str, digits: str) -> str:
        return f"{self.prefix}{RESUME}{skill}{PART}{digits}"

    def desktop(self, agent_id: str) -> str:
        return self.prefix + DESKTOP + agent_id

    def wrapup(self, call_id: str) -> str:
        return self.prefix + WRAPUP + call_id


def status_key(site: str) -> str:
    return STATUS_PREFIX + site


def patterns_starting(start: str) -> tuple[str, ...]:
    """SCAN MATCH patterns for the ACD keys of every pool and site status whose name starts
    with `start` (the simulator's worlds prefix their site and pool names)."""
    return (f"{ROOT}:{{{start}*", STATUS_PREFIX + start + "*")


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
        self.apkt_dead = tagged + "apkt-dead"
        self._ticket = tagged + "t:"
        self._tagged = tagged

    def ticket(self, number: str) -> str:
        return self._ticket + number

    def by_idpel(self, idpel: str) -> str:
        return self._tagged + "idpel:" + idpel

    def by_caller(self, digits: str) -> str:
        return self._tagged + "caller:" + digits

    def apkt_signature(self, signature_hex: str) -> str:
        return self._tagged + "apkt-sig:" + signature_hex

    def apkt_event(self, event_id: str) -> str:
        return self._tagged + "apkt-event:" + event_id


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
