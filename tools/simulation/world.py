"""One policy's whole contact centre: every site's real ACD on one virtual clock.

Why a "world" per policy: the isolated and the pln123 policy run side by side in one
process against one Redis, each with its own `Clock`, its own site names (a prefix per
world: `i3fa2-palembang`, in each of its keys' hash tags, so neither world, nor anything
else in that Redis, sees the other's keys) and its own callers' book, but the same
arrivals.

Per site it builds the site's ACD with `acd.site.build_acd`, the function the server's
composition root uses, on the simulated telephony: the Lua scripts, the `Distributor`, the
`WaitingRoom` (announcements, callback offers, the maximum wait; left out if the scenario
says so) and pooling. Under the isolated policy every site is a pool of its own; under
pln123 the sites form one pool, publish their status and keep their reserve (the pool
keeper), and a reservation one site's agent makes for another site's call is handed to
that site's Distributor directly (every site runs in this one process).

Agents follow their roster group's shift: logged in (ready) at its start, logged out at its
end (after their call, if on one: the ACD's pending logout). A ring nobody answers pauses
the agent (the ACD's rule); they are ready again after `agents.no_answer_pause_s`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import structlog
from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

from acd.agents.state import Transition
from acd.intake import QueuePlacement, QueueRequest
from acd.queues.records import Reservation
from acd.queues.scripts import ScriptRunner
from acd.settings import AcdSettings, AgentSpec, PoolingSettings, QueueSettings
from acd.site import AcdSite, build_acd
from acd.store.keys import SiteKeys
from acd.store.redis import RedisStore
from tools.simulation.callers import Callers
from tools.simulation.calls import CallBook
from tools.simulation.engine import EventClock
from tools.simulation.sampling import Arrival
from tools.simulation.scenario import RosterGroup, Scenario
from tools.simulation.telephony import SimTelephony

log = structlog.get_logger("tools.simulation")

POLICIES = ("isolated", "pln123")
POOL = "national"
SAMPLE_EVERY_S = 60.0
STATUS_EVERY_S = 60.0   # the sites publish their status this often (production: 1 s)
METRICS_SHARE_S = 10.0  # a skill's live figures: one read per this, per site


@dataclass
class Outcome:
    """What the report needs of a finished world; picklable (no timers, no Redis)."""

    scenario: Scenario
    policy: str
    prefix: str
    t0: float
    book: CallBook
    agent_time: AgentTime


@dataclass
class AgentTime:
    """Seconds each site's agents spent per status (occupancy)."""

    seconds: dict[str, dict[str, float]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(float)))
    current: dict[tuple[str, str], tuple[str, float]] = field(default_factory=dict)

    def record(self, site: str, agent_id: str, status: str, now: float) -> None:
        before = self.current.get((site, agent_id))
        if before is not None:
            self.seconds[site][before[0]] += now - before[1]
        self.current[(site, agent_id)] = (status, now)

    def close(self, now: float) -> None:
        for (site, agent_id), (status, _) in list(self.current.items()):
            self.record(site, agent_id, status, now)


def settings_for(scenario: Scenario, prefix: str, pooling: bool,
                 reserve: str | None = None) -> AcdSettings:
    """The ACD's settings for one world: the scenario's timings, rosters and pooling rules
    (`reserve` overrides the scenario's: a what-if run)."""
    p = prefix
    agents: list[AgentSpec] = []
    for index, site in enumerate(scenario.sites.values()):
        n = 0
        for group in site.roster:
            for _ in range(group.count):
                n += 1
                agent_id = f"{index + 1}{n:04d}"
                agents.append(AgentSpec(agent_id, f"Agent {agent_id}", p + site.name,
                                        f"SIM/{agent_id}", dict(group.skills)))
    acd = scenario.acd
    queues = {mix.skill: QueueSettings(mix.skill, wrapup_s=acd.wrapup(mix.skill),
                                       max_wait_s=acd.max_wait(mix.skill),
                                       max_wait_fallback="callback")
              for mix in scenario.skills}
    rules = scenario.pooling
    hub = scenario.hub
    settings = PoolingSettings(
        enabled=pooling,
        pools={p + POOL: tuple(p + s for s in scenario.sites)},
        order={p + s: tuple(p + t for t in targets) for s, targets in rules.order.items()},
        hub=p + hub if hub else "",
        default_reserve=reserve if reserve is not None else rules.reserve,
        auto=rules.auto, trunk_limit=rules.trunk_limit,
        national_max_ewt_s=rules.national_max_ewt_s, status_every_s=STATUS_EVERY_S,
        status_ttl_s=600.0,   # Redis expires on the wall clock: far longer than a sim step
        ring_stream=False)    # one process: reservations are handed over directly
    return AcdSettings(
        service_level_s=acd.service_level_s, escalation_s=acd.escalation_s,
        ring_timeout_s=acd.ring_timeout_s, announce_every_s=acd.announce_every_s,
        callback_offer_ewt_s=acd.callback_offer_ewt_s,
        abandon_resume_s=acd.abandon_resume_s, audit_maxlen=1000, queues=queues,
        agents=tuple(agents), pooling=settings)


class Runners:
    """The script runners of a run: every site's operations issued in one turn of the loop
    travel in one batch. On one Redis server one runner serves every pool (the routing key
    only matters to a Cluster); on a Cluster, one per pool (a batch must stay in one slot).
    """

    def __init__(self, store: RedisStore, *, one_server: bool = True):
        self.store = store
        self.one_server = one_server
        self._runners: dict[str, ScriptRunner] = {}

    def of(self, keys: SiteKeys) -> ScriptRunner:
        pool = "" if self.one_server else keys.pool
        runner = self._runners.get(pool)
        if runner is None:
            runner = self._runners[pool] = ScriptRunner(self.store, keys.live)
        return runner

    @property
    def batches(self) -> int:
        """Round trips the runners made."""
        return sum(runner.batches for runner in self._runners.values())


class World:
    def __init__(self, scenario: Scenario, policy: str, prefix: str, store: RedisStore, *,
                 reserve: str | None = None, runners: Runners | None = None):
        if policy not in POLICIES:
            raise ValueError(f"policy {policy!r}: one of {', '.join(POLICIES)}")
        self.scenario = scenario
        self.policy = policy
        self.prefix = prefix
        self.store = store
        self.clock = EventClock()
        self.t0 = scenario.start_epoch
        self.clock.advance(self.t0)
        self.book = CallBook()
        self.agent_time = AgentTime()
        self.settings = settings_for(scenario, prefix, pooling=policy == "pln123",
                                     reserve=reserve)
        self.runners = runners or Runners(store)
        self.telephony = SimTelephony(
            scenario, self.book, self.clock, self._unprefixed,
            no_answer=self._no_answer, callback_attempts=self.settings.callback_attempts)
        self.sites = {name: self._stack(name) for name in scenario.sites}
        self.callers = Callers(scenario, self.book, self.telephony, self.clock,
                               prefixed=lambda s: prefix + s, enqueue=self._enqueue,
                               abandon=self._abandon, t0=self.t0)

    # -- building ----------------------------------------------------------------------------

    def _stack(self, name: str) -> AcdSite:
        site = self.prefix + name
        s = self.settings
        return build_acd(site, s, tuple(s.queues), self.store, self.telephony, self.clock,
                         live_share_s=METRICS_SHARE_S,
                         observer=self._observed, hand_over=self._hand_over,
                         waiting_room=self.scenario.acd.waiting_room,
                         runner=self.runners.of(SiteKeys(site, s.pooling.pool_of(site))))

    def start(self, arrivals: Sequence[Arrival]) -> None:
        """Shifts, first arrivals, sampling and the status publishers on the clock."""
        for name, site in self.scenario.sites.items():
            n = 0
            for group in site.roster:
                for _ in range(group.count):
                    n += 1
                    agent_id = f"{list(self.scenario.sites).index(name) + 1}{n:04d}"
                    self._shift(name, agent_id, group)
        if self.policy == "pln123":
            for stack in self.sites.values():
                stack.status.start()
                stack.keeper.start()
        self.clock.callLater(0, self._sample)
        self._feed(iter(arrivals))

    def _feed(self, arrivals: Iterator[Arrival]) -> None:
        """One pending arrival at a time keeps the clock's timer list short."""
        arrival = next(arrivals, None)
        if arrival is None:
            return

        def arrive() -> None:
            self.callers.start(arrival)
            self._feed(arrivals)

        self.clock.callLater(max(0.0, self.t0 + arrival.at - self.clock.seconds()), arrive)

    def _shift(self, site: str, agent_id: str, group: RosterGroup) -> None:
        end_s = self.scenario.duration_h * 3600
        start_h, end_h = group.shift
        length = (end_h - start_h) % 24 or 24.0
        days = int(self.scenario.duration_h // 24) + 2
        spans: list[list[float]] = []
        for day in range(-1, days):
            lo = (day * 24 + start_h) * 3600
            hi = lo + length * 3600
            if hi <= 0 or lo >= end_s:
                continue
            lo, hi = max(lo, 0.0), min(hi, end_s)
            if spans and abs(spans[-1][1] - lo) < 1e-6:
                spans[-1][1] = hi
            else:
                spans.append([lo, hi])
        for lo, hi in spans:
            self.clock.callLater(lo, self._login, site, agent_id)
            if hi < end_s:
                self.clock.callLater(hi, self._logout, site, agent_id)

    # -- the ACD's entry points ----------------------------------------------------------------

    def _enqueue(self, site: str, request: QueueRequest) -> Deferred[QueuePlacement]:
        return self.sites[site].distributor.enqueue(request)

    def _abandon(self, site: str, call_id: str) -> Deferred[bool]:
        return self.sites[site].distributor.abandon(call_id)

    def _hand_over(self, reservation: Reservation) -> None:
        """An agent of one site took another site's call: that site rings it."""
        self.sites[self._unprefixed(reservation.call_site)].distributor.take_over(reservation)

    def _login(self, site: str, agent_id: str) -> None:
        self.sites[site].distributor.login(agent_id).addErrback(self._logged, "sim_login")

    def _logout(self, site: str, agent_id: str) -> None:
        self.sites[site].distributor.logout(agent_id).addErrback(self._logged, "sim_logout")

    def _no_answer(self, site: str, agent_id: str) -> None:
        def ready() -> None:
            self.sites[site].distributor.ready(agent_id).addErrback(self._logged, "sim_ready")

        self.clock.callLater(self.scenario.agents.no_answer_pause_s, ready)

    def _observed(self, site: str, agent_id: str, transition: Transition) -> None:
        self.agent_time.record(self._unprefixed(site), agent_id, str(transition.after.status),
                               self.clock.seconds())

    def _unprefixed(self, site: str) -> str:
        return site[len(self.prefix):] if site.startswith(self.prefix) else site

    def _sample(self) -> None:
        self.book.sample(self.clock.seconds() - self.t0, list(self.sites))
        self.clock.callLater(SAMPLE_EVERY_S, self._sample)

    def _logged(self, failure: Failure, event: str) -> None:
        log.warning(event, policy=self.policy, error=failure.getErrorMessage())

    # -- the end ---------------------------------------------------------------------------------

    def outcome(self) -> Outcome:
        """The book and agents' times, cut loose from timers and Redis."""
        for attempt in self.book.attempts:
            attempt.patience = None
        seconds = {site: dict(states) for site, states in self.agent_time.seconds.items()}
        return Outcome(self.scenario, self.policy, self.prefix, self.t0, self.book,
                       AgentTime(seconds=seconds))

    async def stop(self) -> None:
        """Cancel every timer of the ACD's pieces (what is in Redis stays for the report)."""
        self.agent_time.close(self.clock.seconds())
        for stack in self.sites.values():
            await stack.quiesce()
