"""A Telephony the test drives by hand: rings and talks wait until the test decides.

It is our own interface (acd/telephony.py), not Asterisk, so the ACD's tests and the
property test can play any interleaving of answers, ring timeouts and hang-ups. It also
checks the one thing telephony can see that the ACD must never do: ring an agent who is
already ringing or talking, or ring for a call that is already ringing or talking.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from twisted.internet.defer import Deferred, succeed

from acd.telephony import Callback, Connection, RingOutcome


class DoubleBooking(AssertionError):
    """The ACD asked to connect an agent or a call that is already busy."""


@dataclass
class FakeTelephony:
    rings: dict[str, tuple[Connection, Deferred[RingOutcome]]] = field(default_factory=dict)
    talks: dict[str, tuple[Connection, Deferred[None] | None]] = field(default_factory=dict)
    connected: list[Connection] = field(default_factory=list)   # every connect, in order
    announced: list[tuple[str, int, float | None]] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)  # double bookings seen
    callbacks: dict[str, str] = field(default_factory=dict)  # call id -> number dialled
    accept_callback: str | None = None   # what offer_callback answers
    offers: list[str] = field(default_factory=list)          # channels offered a callback
    # Watchers of a caller's channel registered outside a talk (the ACD follows every
    # caller it queued): told when that caller's channel ends, whenever that is.
    caller_ends: dict[str, list[Deferred[None]]] = field(default_factory=dict)
    resumed: list[Connection] = field(default_factory=list)  # rings a restart asked after
    resumable: set[str] = field(default_factory=set)  # call ids whose ring outlived a process
    # Channels (names or Uniqueids) Asterisk no longer has: gone with no Hangup event (a
    # crash, a hang-up while the AMI link was down); and what caller_alive was asked.
    dead: set[str] = field(default_factory=set)
    asked_alive: list[str] = field(default_factory=list)

    def busy_agents(self) -> set[str]:
        return {c.agent_id for c, _ in self.rings.values()} | {
            c.agent_id for c, _ in self.talks.values()}

    def connect(self, connection: Connection) -> Deferred[RingOutcome]:
        problem = None
        if connection.call_id in self.rings or connection.call_id in self.talks:
            problem = f"call {connection.call_id} is already with an agent"
        elif connection.agent_id in self.busy_agents():
            problem = f"agent {connection.agent_id} already has a call"
        if problem is not None:
            self.violations.append(problem)
            raise DoubleBooking(problem)
        d: Deferred[RingOutcome] = Deferred()
        self.rings[connection.call_id] = (connection, d)
        self.connected.append(connection)
        return d

    def connect_callback(self, connection: Connection, number: str) -> Deferred[Callback]:
        """Like `connect`; `answer` means both answered, `caller_gone` the caller did not."""
        self.callbacks[connection.call_id] = number
        channel = f"Local/{number}@callback"
        return self.connect(connection).addCallback(lambda outcome: Callback(
            RingOutcome.CALLER_NO_ANSWER if outcome is RingOutcome.CALLER_GONE else outcome,
            channel if outcome is RingOutcome.ANSWERED else ""))

    def resume_ring(self, connection: Connection) -> Deferred[RingOutcome]:
        """A restarted process asks after a ring of the one before: `resumable` rings
        (the test decided Asterisk still has them) ring on, the test decides; any other
        ring is lost, NO_ANSWER; a caller `dead` is CALLER_GONE (the leg hung up)."""
        self.resumed.append(connection)
        if connection.caller_channel in self.dead:
            self.resumable.discard(connection.call_id)
            return succeed(RingOutcome.CALLER_GONE)
        if connection.call_id not in self.resumable:
            return succeed(RingOutcome.NO_ANSWER)
        self.resumable.discard(connection.call_id)
        d: Deferred[RingOutcome] = Deferred()
        self.rings[connection.call_id] = (connection, d)
        return d

    def ringing_agent(self, call_id: str) -> str:
        return self.rings[call_id][0].agent_id

    def answer(self, call_id: str) -> None:
        connection, d = self.rings.pop(call_id)
        self.talks[call_id] = (connection, None)
        d.callback(RingOutcome.ANSWERED)

    def no_answer(self, call_id: str) -> None:
        _, d = self.rings.pop(call_id)
        d.callback(RingOutcome.NO_ANSWER)

    def trunk_failed(self, call_id: str) -> None:
        """A lent agent's ring fails between the sites."""
        _, d = self.rings.pop(call_id)
        d.callback(RingOutcome.TRUNK_FAILED)

    def caller_gone(self, call_id: str) -> None:
        _, d = self.rings.pop(call_id)
        d.callback(RingOutcome.CALLER_GONE)

    def when_call_ends(self, call_id: str, caller_channel: str) -> Deferred[None]:
        d: Deferred[None] = Deferred()
        if call_id in self.talks and self.talks[call_id][1] is None:
            self.talks[call_id] = (self.talks[call_id][0], d)  # the end of this talk
        else:
            self.caller_ends.setdefault(call_id, []).append(d)
        return d

    def caller_hangs_up(self, call_id: str) -> None:
        """The caller's channel ends outside a talk (e.g. while queued)."""
        for d in self.caller_ends.pop(call_id, []):
            d.callback(None)

    def can_hang_up(self, call_id: str) -> bool:
        return call_id in self.talks and self.talks[call_id][1] is not None

    def hang_up(self, call_id: str) -> None:
        _, d = self.talks.pop(call_id)
        assert d is not None, "the ACD is not waiting for this call's end yet"
        d.callback(None)
        self.caller_hangs_up(call_id)  # the same channel: its other watchers learn it too

    def announce(self, caller_channel: str, position: int, ewt_s: float | None,
                 language: str) -> Deferred[None]:
        self.announced.append((caller_channel, position, ewt_s))
        return succeed(None)

    def offer_callback(self, caller_channel: str, language: str) -> Deferred[str | None]:
        self.offers.append(caller_channel)
        return succeed(self.accept_callback)

    def caller_alive(self, caller_channel: str) -> Deferred[bool]:
        self.asked_alive.append(caller_channel)
        return succeed(caller_channel not in self.dead)
