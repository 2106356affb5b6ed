"""`Telephony` on a virtual clock: agents' phones ring and are answered, talks end, callers
take or refuse callbacks, all as timers on the injected `Clock`; no Asterisk, no wall
clock.

Why it behaves like this: it is the stand-in for `ivr/callcontrol` under the real ACD, so
it keeps the same promises (acd/telephony.py): `connect` fires once the ring is decided
(ANSWERED after the agent's ring time, NO_ANSWER at the ring timeout, CALLER_GONE as soon
as the caller hangs up while it rings); `when_call_ends` fires when the caller's channel is
gone, whoever ends it; a callback rings the agent first and then the caller. An agent of
another site (a loan, `Connection.agent_site`) rings like a local one: the trunk between
the sites is not modelled (it adds no wait a caller would notice).

What the people do is drawn from each caller's own random stream (sampling.py): ring time
uniform in `agents.ring_s`, talk time from `handle_time`, a callback answered with
probability `callbacks.answer` after a few seconds.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IDelayedCall, IReactorTime

from acd.telephony import Callback, Connection, RingOutcome
from tools.simulation.calls import Attempt, CallBook
from tools.simulation.sampling import sample
from tools.simulation.scenario import Scenario

CALLBACK_PICKUP_S = (3.0, 10.0)   # a called-back caller answers after uniform(lo, hi) s
CALLBACK_GOODBYE = "goodbye"      # the WaitingRoom's farewell after an accepted callback

AgentNoAnswer = Callable[[str, str], None]       # (site, agent id)


@dataclass
class _Ring:
    done: Deferred[RingOutcome]
    timer: IDelayedCall | None
    connection: Connection


class SimTelephony:
    def __init__(self, scenario: Scenario, book: CallBook, clock: IReactorTime,
                 site_of: Callable[[str], str], *,
                 no_answer: AgentNoAnswer, callback_attempts: int):
        self.scenario = scenario
        self.book = book
        self.clock = clock
        self.site_of = site_of          # prefixed site name -> scenario name
        self.no_answer = no_answer
        self.callback_attempts = callback_attempts
        self.channels: dict[str, Attempt] = {}
        self._ends: dict[str, list[Deferred[None]]] = {}
        self._rings: dict[str, _Ring] = {}
        self._callbacks: dict[str, Deferred[Callback]] = {}
        self.announcements = 0
        self.rings = 0

    # -- channels ------------------------------------------------------------------------

    def open(self, attempt: Attempt) -> None:
        self.channels[attempt.channel] = attempt

    def hang_up(self, channel: str) -> None:
        """The channel is gone: whoever waits for its end is told."""
        attempt = self.channels.pop(channel, None)
        if attempt is not None and attempt.channel == channel:
            attempt.alive = False
        for d in self._ends.pop(channel, []):
            d.callback(None)

    def when_call_ends(self, call_id: str, caller_channel: str) -> Deferred[None]:
        if caller_channel not in self.channels:
            return succeed(None)
        d: Deferred[None] = Deferred()
        self._ends.setdefault(caller_channel, []).append(d)
        return d

    def caller_alive(self, caller_channel: str) -> Deferred[bool]:
        return succeed(caller_channel in self.channels)

    def hold(self, caller_channel: str, language: str = "") -> Deferred[bool]:
        return succeed(caller_channel in self.channels)

    # -- rings -----------------------------------------------------------------------------

    def connect(self, connection: Connection) -> Deferred[RingOutcome]:
        attempt = self.book.by_call[connection.call_id]
        d: Deferred[RingOutcome] = Deferred()
        if not attempt.alive:
            self.clock.callLater(0, d.callback, RingOutcome.CALLER_GONE)
            return d
        self.book.set_state(attempt, "ringing")
        self._ring(attempt, connection, d, self._answered)
        return d

    def resume_ring(self, connection: Connection) -> Deferred[RingOutcome]:
        """No simulated process restarts: there is never a ring to resume."""
        return succeed(RingOutcome.NO_ANSWER)

    def _ring(self, attempt: Attempt, connection: Connection, d: Deferred[RingOutcome],
              answered: Callable[[Attempt, Connection], None]) -> None:
        self.rings += 1
        behaviour = self.scenario.agents
        if behaviour.no_answer and attempt.rng.random() < behaviour.no_answer:
            timer = self.clock.callLater(connection.ring_timeout_s, self._unanswered,
                                         attempt, connection)
        else:
            lo, hi = behaviour.ring_s
            ring = attempt.rng.uniform(lo, hi) if hi > 0 else 0.0
            if ring <= 0:   # answered at once (the validation runs): no extra step
                self._rings[connection.call_id] = _Ring(d, None, connection)
                answered(attempt, connection)
                return
            timer = self.clock.callLater(ring, answered, attempt, connection)
        self._rings[connection.call_id] = _Ring(d, timer, connection)

    def _answered(self, attempt: Attempt, connection: Connection) -> None:
        ring = self._rings.pop(connection.call_id)
        self._talk(attempt, attempt.channel, connection)
        ring.done.callback(RingOutcome.ANSWERED)

    def _talk(self, attempt: Attempt, channel: str, connection: Connection) -> None:
        attempt.answered_at = self.clock.seconds()
        attempt.answered_site = self._agent_site(attempt, connection)
        self.book.finish(attempt, "answered")
        attempt.talk_s = sample(self.scenario.handle, attempt.rng)
        self.clock.callLater(attempt.talk_s, self.hang_up, channel)

    def _unanswered(self, attempt: Attempt, connection: Connection) -> None:
        ring = self._rings.pop(connection.call_id)
        if attempt.state == "ringing":
            self.book.set_state(attempt, "queued")   # the ACD puts it back at its place
        ring.done.callback(RingOutcome.NO_ANSWER)
        self.no_answer(self._agent_site(attempt, connection), connection.agent_id)

    def _agent_site(self, attempt: Attempt, connection: Connection) -> str:
        """The scenario name of the agent's site: the call's, or a lending site's."""
        return self.site_of(connection.agent_site) if connection.agent_site else attempt.site

    def caller_gone(self, attempt: Attempt) -> bool:
        """The caller hangs up while an agent's phone rings for them: CALLER_GONE now."""
        ring = self._rings.pop(attempt.call_id, None)
        if ring is None:
            return False
        if ring.timer is not None and ring.timer.active():
            ring.timer.cancel()
        ring.done.callback(RingOutcome.CALLER_GONE)
        return True

    # -- the waiting caller ----------------------------------------------------------------

    def announce(self, caller_channel: str, position: int, ewt_s: float | None,
                 language: str) -> Deferred[None]:
        self.announcements += 1
        return succeed(None)

    def offer_callback(self, caller_channel: str, language: str) -> Deferred[str | None]:
        attempt = self.channels.get(caller_channel)
        if attempt is None or attempt.rng.random() >= self.scenario.callers.callback_accept:
            return succeed(None)
        return succeed(attempt.arrival.number)

    def farewell(self, caller_channel: str, prompts: Sequence[str], language: str,
                 digits: str = "") -> Deferred[None]:
        attempt = self.channels.get(caller_channel)
        if attempt is not None:
            if list(prompts) == [CALLBACK_GOODBYE]:   # the callback keeps the place
                if attempt.patience is not None and attempt.patience.active():
                    attempt.patience.cancel()
                self.book.set_state(attempt, "callback")
            else:
                limit = self.scenario.acd.max_wait(attempt.arrival.skill.skill)
                waited = self.clock.seconds() - attempt.enqueued_at
                self.book.finish(attempt, "max_wait" if waited >= limit - 1e-6
                                 else "turned_away")
            self.hang_up(caller_channel)
        return succeed(None)

    def connect_callback(self, connection: Connection, number: str) -> Deferred[Callback]:
        attempt = self.book.by_call[connection.call_id]
        d: Deferred[RingOutcome] = Deferred()
        self.book.set_state(attempt, "ringing")
        result: Deferred[Callback] = Deferred()
        self._ring(attempt, connection, d, self._agent_took_callback)
        self._callbacks[connection.call_id] = result

        def agent_outcome(outcome: RingOutcome) -> None:
            if outcome is not RingOutcome.ANSWERED:
                if attempt.state == "ringing":
                    self.book.set_state(attempt, "callback")
                self._callbacks.pop(connection.call_id, None)
                result.callback(Callback(outcome))

        d.addCallback(agent_outcome)
        return result

    def _agent_took_callback(self, attempt: Attempt, connection: Connection) -> None:
        """The agent answered: now the caller's phone rings."""
        self._rings.pop(connection.call_id)
        result = self._callbacks.pop(connection.call_id)
        if attempt.rng.random() < self.scenario.callers.callback_answer:
            pickup = attempt.rng.uniform(*CALLBACK_PICKUP_S)
            self.clock.callLater(pickup, self._callback_answered, attempt, connection, result)
        else:
            self.clock.callLater(connection.ring_timeout_s, self._callback_missed, attempt,
                                 result)

    def _callback_answered(self, attempt: Attempt, connection: Connection,
                           result: Deferred[Callback]) -> None:
        channel = f"{attempt.channel}-cb{attempt.callback_misses + 1}"
        self.channels[channel] = attempt
        self._talk(attempt, channel, connection)
        result.callback(Callback(RingOutcome.ANSWERED, channel))

    def _callback_missed(self, attempt: Attempt, result: Deferred[Callback]) -> None:
        attempt.callback_misses += 1
        if attempt.callback_misses >= self.callback_attempts:
            self.book.finish(attempt, "callback_failed")
        else:
            self.book.set_state(attempt, "callback")
        result.callback(Callback(RingOutcome.CALLER_NO_ANSWER))
