"""What the ACD needs from telephony, and nothing more.

`ivr/` implements it over AMI (originate to the agent's phone, bridge on answer, music and
announcements for the caller); the simulator implements it over a virtual clock. The ACD
decides *who* and *when*; telephony only carries it out and reports what happened.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Protocol

from twisted.internet.defer import Deferred


class RingOutcome(Enum):
    ANSWERED = "answered"            # the agent answered and is now talking to the caller
    NO_ANSWER = "no_answer"          # ring timeout, busy or unreachable
    CALLER_GONE = "caller_gone"      # the caller hung up while the agent's phone rang


@dataclass(frozen=True)
class Connection:
    """A caller and an agent to put together (agent first: the caller keeps hearing music)."""

    call_id: str
    caller_channel: str
    agent_id: str
    agent_endpoint: str
    ring_timeout_s: float
    caller_number: str = ""


class Telephony(Protocol):
    def connect(self, connection: Connection) -> Deferred[RingOutcome]:
        """Ring the agent; on answer bridge with the caller. Fires when that is decided."""
        ...

    def when_call_ends(self, call_id: str, caller_channel: str) -> Deferred[None]:
        """Fires when the caller's channel is gone (hung up, or the talk ended)."""
        ...

    def announce(self, caller_channel: str, position: int, ewt_s: float | None,
                 language: str) -> Deferred[None]:
        """Tell a waiting caller their position and expected wait (rounded up)."""
        ...

    def farewell(self, caller_channel: str, prompts: Sequence[str], language: str,
                 digits: str = "") -> Deferred[None]:
        """Play `prompts` (prompt ids), then read `digits` one by one, then hang up.

        For a caller the ACD lets go without an agent (the queue's maximum wait). Fires
        once the caller is gone; a caller who hangs up first is not an error.
        """
        ...

    def offer_callback(self, caller_channel: str, language: str) -> Deferred[str | None]:
        """Offer a callback; the number to call back, or None if declined."""
        ...

    def dial_caller(self, call_id: str, number: str, timeout_s: float) -> Deferred[str | None]:
        """Call a caller back; their new channel once answered, or None."""
        ...

    def caller_alive(self, caller_channel: str) -> Deferred[bool]:
        """Whether the channel still exists (used after a restart to drop stale callers)."""
        ...
