"""The caller's side the ACD benchmarks share: callers who wait in silence.

Each benchmark scripts only when agents answer and callers hang up (`connect`,
`when_call_ends`); announcements, farewells and callback offers cost nothing and are
declined, so what is measured is the ACD's own work on Redis."""

from __future__ import annotations

from collections.abc import Sequence

from twisted.internet.defer import Deferred, succeed

from acd.telephony import Callback, Connection, RingOutcome


class QuietCallers:
    """Answers every telephony question but the ring (`connect`) at once."""

    def connect(self, connection: Connection) -> Deferred[RingOutcome]:
        raise NotImplementedError

    def resume_ring(self, connection: Connection) -> Deferred[RingOutcome]:
        return succeed(RingOutcome.NO_ANSWER)   # a benchmark never restarts a process

    def announce(self, caller_channel: str, position: int, ewt_s: float | None,
                 language: str) -> Deferred[None]:
        return succeed(None)

    def farewell(self, caller_channel: str, prompts: Sequence[str], language: str,
                 digits: str = "") -> Deferred[None]:
        return succeed(None)

    def offer_callback(self, caller_channel: str, language: str) -> Deferred[str | None]:
        return succeed(None)   # declined: the caller waits on

    def connect_callback(self, connection: Connection, number: str) -> Deferred[Callback]:
        return self.connect(connection).addCallback(Callback)

    def caller_alive(self, caller_channel: str) -> Deferred[bool]:
        return succeed(True)
