"""What simulated callers do: arrive, wait, give up after their patience, redial.

Why this is apart from the telephony stand-in: these are the scenario's assumptions about
people (patience, the redial habit that amplified the 2018 surge), while telephony.py is
the machine. A caller reaches the ACD exactly as the IVR hands them over: a `QueueRequest`
to their home site's `Distributor.enqueue` (the menus' time is not modelled). When their
patience runs out they hang up: while an agent's phone rings that is telephony's
CALLER_GONE, while queued it is `Distributor.abandon` at the caller's site. An
abandoned caller redials with the scenario's probability after a random delay, from the
same number, so the ACD's abandon-resume gives a quick redial its old place back; the book
mirrors that rule to know which enqueue time the ACD counts the wait from.
"""

from __future__ import annotations

import random
from collections.abc import Callable

import structlog
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime

from acd.intake import QueuePlacement, QueueRequest
from tools.simulation.calls import Attempt, CallBook
from tools.simulation.sampling import Arrival, sample
from tools.simulation.scenario import Scenario
from tools.simulation.telephony import SimTelephony

log = structlog.get_logger("tools.simulation")

Enqueue = Callable[[str, QueueRequest], Deferred[QueuePlacement]]   # (site, request)
Abandon = Callable[[str, str], Deferred[bool]]                        # (site, call id)


class Callers:
    def __init__(self, scenario: Scenario, book: CallBook, telephony: SimTelephony,
                 clock: IReactorTime, *, prefixed: Callable[[str], str], enqueue: Enqueue,
                 abandon: Abandon, t0: float):
        self.scenario = scenario
        self.book = book
        self.telephony = telephony
        self.clock = clock
        self.prefixed = prefixed
        self.enqueue = enqueue
        self.abandon = abandon
        self.t0 = t0
        self._places: dict[str, tuple[float, float]] = {}   # number -> (enqueued_at, until)

    def start(self, arrival: Arrival) -> None:
        """The caller's first attempt, now."""
        self._attempt(arrival, arrival.rng(self.scenario.seed), 1)

    def _attempt(self, arrival: Arrival, rng: random.Random, number: int) -> None:
        now = self.clock.seconds()
        home = arrival.area.site
        call_id = f"{self.prefixed('')}c{arrival.index}-{number}"
        enqueued_at = now
        place = self._places.pop(arrival.number, None)
        if place is not None and now <= place[1]:
            enqueued_at = place[0]   # the ACD's abandon-resume: the old place in line
        attempt = Attempt(call_id, arrival, rng, number, home, home, f"SIM/{call_id}", now,
                          enqueued_at)
        self.book.add(attempt)
        self.telephony.open(attempt)
        patience = self.scenario.callers.patience
        if patience is not None:
            attempt.patience = self.clock.callLater(sample(patience, rng), self._give_up,
                                                    attempt)
        request = QueueRequest(
            call_id=call_id, site=self.prefixed(home), channel=attempt.channel,
            skill=arrival.skill.skill, priority=arrival.skill.priority, language="id",
            area_code=arrival.area.area_code, region=home, caller_number=arrival.number,
            idpel=None, entered_at=now)
        d = self.enqueue(home, request)
        d.addCallbacks(lambda _: self._placed(attempt), self._failed, errbackArgs=(attempt,))

    def _placed(self, attempt: Attempt) -> None:
        if attempt.state == "offering":
            self.book.set_state(attempt, "queued")

    def _failed(self, failure: object, attempt: Attempt) -> None:
        log.error("sim_enqueue_failed", call_id=attempt.call_id, error=str(failure))
        self.book.finish(attempt, "failed")

    def _give_up(self, attempt: Attempt) -> None:
        attempt.patience = None
        state = attempt.state
        if state == "ringing":
            if self.telephony.caller_gone(attempt):
                self._abandoned(attempt, keep_place=False)
        elif state in ("queued", "offering"):
            d = self.abandon(attempt.site, attempt.call_id)
            d.addCallback(lambda removed: self._abandoned(attempt, keep_place=bool(removed)))
            d.addErrback(self._failed, attempt)
            self.book.set_state(attempt, "gone")   # not waiting any more, whatever Redis says

    def _abandoned(self, attempt: Attempt, *, keep_place: bool) -> None:
        now = self.clock.seconds()
        if keep_place and self.scenario.acd.abandon_resume_s > 0:
            self._places[attempt.arrival.number] = (attempt.enqueued_at,
                                                    now + self.scenario.acd.abandon_resume_s)
        self.book.finish(attempt, "abandoned")
        self.telephony.hang_up(attempt.channel)
        callers = self.scenario.callers
        if (attempt.number < callers.max_attempts
                and attempt.rng.random() < callers.redial_probability):
            self.clock.callLater(sample(callers.redial_delay, attempt.rng), self._attempt,
                                 attempt.arrival, attempt.rng, attempt.number + 1)
