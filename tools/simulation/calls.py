"""The simulator's own record of every call attempt: the ground truth the report is made of.

Why keep our own book next to Redis: the report must say what happened to *callers*
(their region, how long they waited until an agent answered, whether they gave up, where
they were answered), including across sites, and the plots need the number waiting at
every minute; the ACD's counters are per site and skill. A test checks that this book and
the ACD's own counters in Redis agree (tests/integration/sim), so neither can drift
silently.

Times are the virtual clock's seconds. A wait counts from the time the ACD queues the call
at (`enqueued_at`): for a redial that took back its abandoned place (abandon-resume) that
is the first attempt's, exactly as the ACD counts it.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field

from twisted.internet.interfaces import IDelayedCall

from tools.simulation.sampling import Arrival

WAITING = frozenset({"offering", "queued", "ringing"})


@dataclass(eq=False)
class Attempt:
    call_id: str
    arrival: Arrival
    rng: random.Random
    number: int                    # 1 = first attempt, 2 = first redial, ...
    home: str                      # home site (the caller's region), scenario name
    site: str                      # the site that holds the caller, scenario name
    channel: str
    arrived_at: float
    enqueued_at: float
    state: str = "new"
    outcome: str = ""              # answered | abandoned | max_wait | turned_away |
    answered_at: float | None = None  # callback_failed | (""): still open at the end
    answered_site: str = ""        # the answering agent's site (another: a loan)
    talk_s: float = 0.0
    alive: bool = True             # the caller's channel exists
    callback_misses: int = 0
    patience: IDelayedCall | None = None

    @property
    def wait(self) -> float | None:
        return None if self.answered_at is None else self.answered_at - self.enqueued_at


@dataclass
class CallBook:
    """Every attempt, the number waiting per site, samples over time."""

    attempts: list[Attempt] = field(default_factory=list)
    by_call: dict[str, Attempt] = field(default_factory=dict)
    waiting: Counter[str] = field(default_factory=Counter)
    callbacks: Counter[str] = field(default_factory=Counter)   # kept places, caller gone
    samples: list[tuple[float, dict[str, int]]] = field(default_factory=list)

    def add(self, attempt: Attempt) -> None:
        self.attempts.append(attempt)
        self.by_call[attempt.call_id] = attempt
        self.set_state(attempt, "offering")

    def set_state(self, attempt: Attempt, state: str) -> None:
        before = attempt.state
        if before in WAITING:
            self.waiting[attempt.site] -= 1
        elif before == "callback":
            self.callbacks[attempt.site] -= 1
        attempt.state = state
        if state in WAITING:
            self.waiting[attempt.site] += 1
        elif state == "callback":
            self.callbacks[attempt.site] += 1

    def pooled(self, site: str) -> tuple[int, int]:
        """(this site's callers answered by other sites' agents, other sites' callers
        answered by this site's agents)."""
        taken = sum(1 for a in self.attempts if a.answered_site and a.home == site
                    and a.answered_site != site)
        lent = sum(1 for a in self.attempts if a.answered_site == site and a.home != site)
        return taken, lent

    def finish(self, attempt: Attempt, outcome: str) -> None:
        if attempt.outcome:
            return
        attempt.outcome = outcome
        if attempt.patience is not None and attempt.patience.active():
            attempt.patience.cancel()
        attempt.patience = None
        self.set_state(attempt, "done")

    def sample(self, at: float, sites: list[str]) -> None:
        self.samples.append((at, {s: self.waiting[s] + self.callbacks[s] for s in sites}))
