"""What the ACD is told by the admin config: agents, queues and timings, as plain values.

`pln123/config` parses the YAML and builds these; the ACD never sees YAML, so it can be
driven by the simulator or a test with values built in code.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from acd.store.keys import AUTO


@dataclass(frozen=True)
class AgentSpec:
    id: str                          # e.g. "1001": digits, also the phone's feature-code id
    name: str
    site: str
    endpoint: str                    # Asterisk dial string, e.g. "PJSIP/1001"
    skills: dict[str, int]           # skill -> level 1..10 (10 = expert)


@dataclass(frozen=True)
class QueueSettings:
    skill: str
    wrapup_s: float = 10.0           # after-call work before the agent is offered again
    max_wait_s: float = 900.0        # then the fallback below
    max_wait_fallback: str = "callback"  # "callback" | "ticket"
    record: bool = False             # record its conversations (the `recording:` section)




@dataclass(frozen=True)
class AutoReserve:
    """The `auto` reserve: r = min(r_net, r_sl), from the lending site's own counters.

    r_net = floor(net / 2), net = the loans the site made minus its own callers other sites
    answered, counted over the last `net_window_s` and since the last moment one of its free
    agents found nobody waiting anywhere: a one-way drain (a surge elsewhere) grows it,
    mutual pooling (a normal day: loans both ways, demand clearing every few minutes)
    keeps it near 0. r_sl steps every `every_s` by one, within 0..`most`: up while the
    site's own callers' service level over the live window is under `sl_low` (with at
    least `min_answered` answered), down while it is at least `sl_high` or too few calls
    were answered to judge. Lending stops as soon as it starts to cost the lender's own
    callers, and comes back when it does not (docs/multisite.md has the measurements).
    """

    every_s: float = 120.0
    sl_low: float = 0.90
    sl_high: float = 0.93
    min_answered: int = 10
    most: int = 12
    net_window_s: float = 1800.0


@dataclass(frozen=True)
class PoolingSettings:
    """National pooling: which sites lend each other agents, in what order, how much they keep.

    A pool is a named group of sites whose ACD keys share one Redis hash slot, so one
    script decides over all of them. `order[site]` lists the sibling sites whose ready
    agents a caller of `site` is offered first; then come the hub (config role `hub`), then
    the rest of the pool (`candidates()`). `reserve[(site, skill)]` (or `reserve[(site,
    "")]` for every skill, or `default_reserve`) is AUTO or a number of ready agents the
    site keeps for its own callers: it lends only while its ready agents for the skill,
    counting the one to lend, exceed it.
    """

    enabled: bool = True
    pools: dict[str, tuple[str, ...]] = field(default_factory=dict)   # name -> sites
    order: dict[str, tuple[str, ...]] = field(default_factory=dict)
    hub: str = ""
    default_reserve: str = AUTO
    reserve: dict[tuple[str, str], str] = field(default_factory=dict)
    auto: AutoReserve = field(default_factory=AutoReserve)
    trunk_limit: int = 30            # calls on a remote agent's trunk per ordered pair of sites
    trunk_limits: dict[tuple[str, str], int] = field(default_factory=dict)  # (home, agent's)
    national_max_ewt_s: float = 900.0  # the pool's EWT above this: surge admission control
    status_every_s: float = 1.0      # each site publishes its status this often
    status_ttl_s: float = 3.0        # a status older than this has expired: the site is down
    # A reservation another site's agent made for a call is handed to the call's site
    # through its ring-request stream; False where every site's ACD runs in one process
    # (the simulator), which hands it over directly.
    ring_stream: bool = True

    def pool_of(self, site: str) -> str:
        """The pool `site` belongs to: its own one-site pool unless a pool lists it (or
        pooling is off: every site answers only its own callers)."""
        if self.enabled:
            for name, sites in self.pools.items():
                if site in sites:
                    return name
        return site

    def members(self, site: str) -> tuple[str, ...]:
        """The sites of `site`'s pool, `site` included."""
        pool = self.pool_of(site)
        return self.pools.get(pool, (site,)) if pool in self.pools else (site,)

    def candidates(self, site: str) -> tuple[str, ...]:
        """Whose ready agents a caller of `site` is offered, in order: its siblings, the
        hub, then the rest of the pool."""
        members = self.members(site)
        order = [s for s in self.order.get(site, ()) if s != site and s in members]
        if self.hub and self.hub != site and self.hub in members and self.hub not in order:
            order.append(self.hub)
        order += [s for s in members if s != site and s not in order]
        return tuple(order)

    def reserve_for(self, site: str, skill: str) -> str:
        """AUTO or a number (as text, the script reads it): the ready agents `site` keeps."""
        return (self.reserve.get((site, skill)) or self.reserve.get((site, ""))
                or self.default_reserve)

    def trunk_limit_for(self, home: str, lender: str) -> int:
        return self.trunk_limits.get((home, lender), self.trunk_limit)


@dataclass(frozen=True)
class AcdSettings:
    service_level_s: float = 20.0    # the service level's T: answered within it
    escalation_s: float = 30.0       # waited this long: the most skilled agent first
    ring_timeout_s: float = 15.0     # agent's phone rings this long, then ring-no-answer
    announce_every_s: float = 30.0   # position / EWT announcements while waiting
    callback_offer_ewt_s: float = 120.0  # offer a callback when EWT exceeds this
    callback_retry_s: float = 60.0
    callback_attempts: int = 3
    # Where a callback is dialled: `{number}` becomes the caller's digits (tests: a sandbox
    # context that answers, `Local/{number}@test-answer`).
    callback_dial: str = "PJSIP/{number}@trunk"
    abandon_resume_s: float = 300.0  # a redial within this gets the old place back
    # An ended call's record is kept at least this long for supervisors and tools to look
    # up (the load test's outcomes read it after the run), then expires: `ended_call_ttl_s`.
    ended_call_keep_s: float = 3600.0
    audit_maxlen: int = 1_000_000    # bound of the audit stream
    queues: dict[str, QueueSettings] = field(default_factory=dict)
    agents: tuple[AgentSpec, ...] = ()
    pooling: PoolingSettings = field(default_factory=PoolingSettings)

    def queue(self, skill: str) -> QueueSettings:
        return self.queues.get(skill) or QueueSettings(skill)

    def ended_call_windows(self) -> dict[str, float]:
        """The windows that may still read a call's keys after it ended, by setting name.

        Only these: a callback waiting for its retry is not ended (it stays `live`), the
        pooling sets (loans, taken) and the counters (minutes, intervals, "today") hold
        their own copies of what they need and expire on their own, and a lent call leaves
        the lent, borrowed and trunk sets as it ends.
        """
        return {
            # a redial takes the abandoned call's place and names it (`resumed_from`)
            "abandon_resume_s": self.abandon_resume_s,
            # supervisors and tools look an ended call up
            "ended_call_keep_s": self.ended_call_keep_s,
        }

    def ended_call_ttl_s(self) -> float:
        """How long an ended call's keys live after its end: the longest window that still
        needs them (at least a second, so a reply in flight can still read the record)."""
        return max(1.0, *self.ended_call_windows().values())

    def agents_at(self, site: str) -> tuple[AgentSpec, ...]:
        return tuple(agent for agent in self.agents if agent.site == site)
