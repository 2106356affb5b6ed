"""Queue figures as docs/architecture.md defines them, from the counters the scripts keep.

The Lua script counts, atomically with each state change, per site and skill, into one
hash per 15-minute interval (kept 31 days) and one per minute (kept 17 minutes; the key
layout and these numbers are in acd/store/keys.py):

    offered          calls enqueued (once per call; a requeue after no answer is not new)
    answered         calls an agent answered; answered_in_sl: of those, waited <= T
    answer_wait_ms   their queue waits, enqueue -> agent answered (ring time included)
    abandoned        callers who hung up while queued or while an agent's phone rang;
                     abandoned_in_sl: of those, hung up after <= T
    ring_no_answer   rings that timed out (the call went back to its place)
    max_wait         calls taken out of the queue at its maximum wait (the fallback: ticket
                     or apology); not abandoned, since the caller did not hang up
    handled          calls whose after-call work ended; handle_ms: answer -> end of wrap-up
    pooled_in        this site's callers another site's agent answered (a loan to us)
    pooled_out       other sites' callers this site's agents answered (a loan from us)
    pool_trunk_failed rings of another site's agent whose trunk call failed (the caller
                     kept their place; that site is not tried again for the call)
    surge            new callers turned away by admission control (the pool's expected
                     wait over the national maximum): a callback, a ticket or PLN Mobile
    deflected        callers the IVR answered from their open ticket's status who left
                     without an agent (counted by the IVR, acd/queues/deflections.py,
                     under the skill its agent key queues for); never offered
    longest_wait_ms  the longest wait of a call that left the queue (answered, abandoned or
                     max wait); in the interval hashes only (live: the oldest caller still
                     waiting)

Durations are stored as integer milliseconds (HINCRBY); `Counters` holds seconds.

The formulas are plain functions over `Counters`, so the dashboard, the help text and the
tests share one definition. Live figures are the sum of the last 15 minute buckets.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from twisted.internet.defer import Deferred, succeed
from twisted.python.failure import Failure

from acd.agents.phones import unreachable
from acd.agents.state import AgentStatus
from acd.gather import gather
from acd.queues.store import QueueStore, SkillNow
from acd.settings import AcdSettings
from acd.store.keys import INTERVAL_S, LIVE_WINDOW_S, MINUTE_S, SiteKeys
from acd.store.redis import Client, RedisStore, text

DEFAULT_AHT_S = 180.0  # EWT before any call was handled in the window
CLOSED_AFTER_S = 2.0   # a minute bucket this long over gets no more counts: kept, not re-read
SERVING = (AgentStatus.READY, AgentStatus.RESERVED, AgentStatus.ON_CALL, AgentStatus.WRAP_UP)
_STATUS = {status.value: status for status in AgentStatus}   # faster than AgentStatus(v)


@dataclass(frozen=True)
class Counters:
    offered: int = 0
    answered: int = 0
    answered_in_sl: int = 0
    answer_wait_sum: float = 0.0
    abandoned: int = 0
    abandoned_in_sl: int = 0
    ring_no_answer: int = 0
    max_wait: int = 0
    handled: int = 0
    handle_sum: float = 0.0
    pooled_in: int = 0
    pooled_out: int = 0
    pool_trunk_failed: int = 0
    surge: int = 0
    deflected: int = 0
    longest_wait: float = 0.0

    def __add__(self, other: Counters) -> Counters:
        # Spelled out, not reflected over `fields()`: a live read adds fifteen minute
        # buckets per skill, several times a second; tests/unit/test_acd_metrics.py checks
        # that every field is summed (the longest wait is the larger).
        return Counters(
            self.offered + other.offered,
            self.answered + other.answered,
            self.answered_in_sl + other.answered_in_sl,
            self.answer_wait_sum + other.answer_wait_sum,
            self.abandoned + other.abandoned,
            self.abandoned_in_sl + other.abandoned_in_sl,
            self.ring_no_answer + other.ring_no_answer,
            self.max_wait + other.max_wait,
            self.handled + other.handled,
            self.handle_sum + other.handle_sum,
            self.pooled_in + other.pooled_in,
            self.pooled_out + other.pooled_out,
            self.pool_trunk_failed + other.pool_trunk_failed,
            self.surge + other.surge,
            self.deflected + other.deflected,
            max(self.longest_wait, other.longest_wait),
        )

    @classmethod
    def total(cls, parts: Iterable[Counters]) -> Counters:
        """The sum of `parts` (the longest wait: the largest), field by field at once."""
        columns = list(zip(*(tuple(vars(part).values()) for part in parts), strict=True))
        if not columns:
            return cls()
        values: list[Any] = [sum(column) for column in columns[:-1]]
        values.append(max(columns[-1]))
        return cls(*values)

    @classmethod
    def from_hash(cls, raw: Mapping[str, str]) -> Counters:
        """From a counters hash: counts as they are, `*_ms` durations in seconds."""
        return cls(
            offered=int(raw.get("offered") or 0),
            answered=int(raw.get("answered") or 0),
            answered_in_sl=int(raw.get("answered_in_sl") or 0),
            answer_wait_sum=int(raw.get("answer_wait_ms") or 0) / 1000,
            abandoned=int(raw.get("abandoned") or 0),
            abandoned_in_sl=int(raw.get("abandoned_in_sl") or 0),
            ring_no_answer=int(raw.get("ring_no_answer") or 0),
            max_wait=int(raw.get("max_wait") or 0),
            handled=int(raw.get("handled") or 0),
            handle_sum=int(raw.get("handle_ms") or 0) / 1000,
            pooled_in=int(raw.get("pooled_in") or 0),
            pooled_out=int(raw.get("pooled_out") or 0),
            pool_trunk_failed=int(raw.get("pool_trunk_failed") or 0),
            surge=int(raw.get("surge") or 0),
            deflected=int(raw.get("deflected") or 0),
            longest_wait=int(raw.get("longest_wait_ms") or 0) / 1000,
        )


def ratio(part: float, whole: float) -> float | None:
    """part / whole, or None when there is nothing to divide (shown as '-')."""
    return part / whole if whole else None


def service_level(c: Counters) -> float | None:
    """SL: answered within T / answered."""
    return ratio(c.answered_in_sl, c.answered)


def service_level_2(c: Counters) -> float | None:
    """SL2: (answered within T + abandoned within T) / (answered + abandoned)."""
    return ratio(c.answered_in_sl + c.abandoned_in_sl, c.answered + c.abandoned)


def asa(c: Counters) -> float | None:
    """ASA: mean queue wait of answered calls, ring time at the agent included (s)."""
    return ratio(c.answer_wait_sum, c.answered)


def aht(c: Counters) -> float | None:
    """AHT: mean talk + wrap-up of handled calls (s)."""
    return ratio(c.handle_sum, c.handled)


def abandon_rate(c: Counters) -> float | None:
    """Callers who hung up while queued / calls queued (no callbacks exist yet to exclude)."""
    return ratio(c.abandoned, c.offered)


def ewt(position: int, serving_agents: int, aht_s: float) -> float:
    """Avaya-style expected wait for the caller at `position` (1 = next).

    The agents serving the skill (logged in and not paused) complete calls at a rate of
    serving_agents / AHT, and the caller must wait for `position` completions:
    EWT = position * AHT / serving_agents. Infinite when nobody serves the skill.
    """
    if position < 1:
        return 0.0
    if serving_agents <= 0:
        return math.inf
    return position * aht_s / serving_agents


def announced_ewt(ewt_s: float, unit_s: float = 60.0) -> float | None:
    """What the caller is told: EWT rounded up to whole `unit_s` (minutes); None if unknown.

    Rounded up so that a caller is never promised less than the estimate.
    """
    if math.isinf(ewt_s) or math.isnan(ewt_s):
        return None
    return math.ceil(ewt_s / unit_s) * unit_s if ewt_s > 0 else 0.0


@dataclass(frozen=True)
class LiveView:
    """One skill at one site now: the last 15 minutes' counters and the current state."""

    skill: str
    counters: Counters
    waiting: int
    longest_waiting_s: float          # the oldest caller still in the queue, now
    agents: Mapping[AgentStatus, int]  # agents with the skill, by state
    # ready agents with the skill whose phone is not available: not in `agents`' READY
    # (no caller is offered to them), yet logged in
    phone_down: int = 0

    @property
    def serving(self) -> int:
        return sum(self.agents.get(status, 0) for status in SERVING)


class SiteMetrics:
    """Reads one site's counters, queues and agents for the dashboard and EWT.

    The live figures are kept incrementally: a minute bucket that closed more than
    `CLOSED_AFTER_S` ago never changes again (the scripts count into the minute of their
    `now`; the grace covers processes whose clocks differ by a little), so it is read once
    and kept until it leaves the window, and a live read fetches only the current minute,
    the queue and the agents, in one script operation (QueueStore.live_figures: batched
    with the site's decisions, and with the other skills asked for at once). `share_s`
    (0: every read goes to Redis) lets every caller of the same skill within that many
    seconds share one read: the announcements, the status publisher and EWT all ask for
    the same figures at once.
    """

    def __init__(self, store: RedisStore, site: str, settings: AcdSettings, *,
                 default_aht_s: float = DEFAULT_AHT_S, share_s: float = 0.0,
                 queues: QueueStore | None = None):
        self.store = store
        # The live read is a script operation: batched with the site's decisions.
        self.queues = queues or QueueStore(store, site, settings)
        self.keys = SiteKeys(site, settings.pooling.pool_of(site))
        self.settings = settings
        self.default_aht_s = default_aht_s
        self.share_s = share_s
        self._skills = {a.id: set(a.skills) for a in settings.agents_at(site)}
        self._views: dict[str, tuple[float, LiveView]] = {}
        self._reading: dict[str, list[Deferred[LiveView]]] = {}
        self._closed: dict[tuple[str, int], Counters] = {}
        self._closed_sums: dict[str, tuple[tuple[int, ...], Counters]] = {}

    def reconfigure(self, settings: AcdSettings) -> None:
        """A reloaded config (SIGHUP): agents added to the roster count in the next EWT."""
        self.settings = settings
        self._skills = {a.id: set(a.skills) for a in settings.agents_at(self.keys.site)}

    def interval(self, skill: str, start: float) -> Deferred[Counters]:
        """The 15-minute interval that contains `start`."""
        key = self.keys.interval(skill, int(start // INTERVAL_S * INTERVAL_S))

        async def read(client: Client) -> Counters:
            raw = await client.hgetall(key)
            return Counters.from_hash({text(k): text(v) for k, v in raw.items()})

        return self.store.run(read)

    def live(self, skill: str, now: float) -> Deferred[LiveView]:
        """The skill's live view at `now` (one read shared within `share_s`)."""
        cached = self._views.get(skill)
        if cached is not None and 0 <= now - cached[0] < self.share_s:
            return succeed(cached[1])
        return self.lives([skill], now).addCallback(lambda views: views[skill])

    def lives(self, skills: Sequence[str], now: float) -> Deferred[dict[str, LiveView]]:
        """Several skills' live views at `now`: those not shared already come in one round
        trip (the status publisher asks for every skill at once)."""
        waiters: dict[str, Deferred[LiveView]] = {}
        missing: list[str] = []
        for skill in dict.fromkeys(skills):
            cached = self._views.get(skill)
            if cached is not None and 0 <= now - cached[0] < self.share_s:
                waiters[skill] = succeed(cached[1])
                continue
            waiter: Deferred[LiveView] = Deferred()
            waiters[skill] = waiter
            if skill in self._reading:  # a read is on its way: share it
                self._reading[skill].append(waiter)
            else:
                self._reading[skill] = [waiter]
                missing.append(skill)
        if missing:
            self._read(missing, now).addBoth(self._share, missing, now)
        names = list(waiters)
        return gather(*waiters.values()).addCallback(
            lambda views: dict(zip(names, views, strict=True)))

    def _share(self, views: dict[str, LiveView] | Failure, skills: list[str],
               now: float) -> None:
        for skill in skills:
            waiters = self._reading.pop(skill, [])
            if isinstance(views, Failure):
                for d in waiters:
                    d.errback(views)
                continue
            self._views[skill] = (now, views[skill])
            for d in waiters:
                d.callback(views[skill])

    def _read(self, skills: list[str], now: float) -> Deferred[dict[str, LiveView]]:
        last = int(now // MINUTE_S * MINUTE_S)
        starts = [last - i * MINUTE_S for i in range(LIVE_WINDOW_S // MINUTE_S)]
        closed_before = now - CLOSED_AFTER_S
        fresh = {skill: [t for t in starts
                         if (skill, t) not in self._closed or t + MINUTE_S > closed_before]
                 for skill in skills}

        def views(read: tuple[dict[str, SkillNow], dict[str, str], dict[str, str]]
                  ) -> dict[str, LiveView]:
            figures, agents, phones = read
            states = {agent_id: _STATUS[status] for agent_id, status in agents.items()}
            down = unreachable(agents, phones)
            return {skill: self._view(skill, figures[skill], states, starts, closed_before,
                                      now, down)
                    for skill in skills}

        return self.queues.live_figures(fresh).addCallback(views)

    def _view(self, skill: str, found: SkillNow, states: Mapping[str, AgentStatus],
              starts: list[int], closed_before: float, now: float,
              down: frozenset[str] = frozenset()) -> LiveView:
        read = {start: Counters.from_hash(raw) for start, raw in found.minutes.items()}
        for start, counters in read.items():
            if start + MINUTE_S <= closed_before:
                self._closed[(skill, start)] = counters
        for key in [k for k in self._closed if k[0] == skill and k[1] < starts[-1]]:
            del self._closed[key]
        # The closed minutes' sum changes only when the window moves on: kept with them.
        closed = tuple(start for start in starts if start not in read)
        kept = self._closed_sums.get(skill)
        if kept is None or kept[0] != closed:
            total = Counters.total(self._closed[(skill, start)] for start in closed)
            kept = self._closed_sums[skill] = (closed, total)
        total = Counters.total([kept[1], *read.values()])
        by_state: Counter[AgentStatus] = Counter(
            status for agent_id, status in states.items()
            if skill in self._skills.get(agent_id, ()) and agent_id not in down)
        phone_down = sum(1 for agent_id in down if skill in self._skills.get(agent_id, ()))
        oldest = found.oldest_enqueued_at
        return LiveView(skill, total, found.waiting,
                        0.0 if oldest is None else max(0.0, now - oldest), by_state,
                        phone_down)

    def expected_wait(self, skill: str, position: int, now: float) -> Deferred[float]:
        """EWT (s) for the caller at `position` in `skill`'s queue; math.inf if unstaffed."""
        d = self.live(skill, now)
        return d.addCallback(lambda view: ewt(
            position, view.serving, aht(view.counters) or self.default_aht_s))

