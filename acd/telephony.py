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
    CALLER_NO_ANSWER = "caller_no_answer"  # callback: the agent answered, the caller did not
    TRUNK_FAILED = "trunk_failed"    # a lent agent's ring failed between the sites


class PhoneState(Enum):
    """An agent's phone as telephony sees it: only an available phone is offered a call,
    so an unplugged one costs no caller a ring timeout (acd/agents/phones.py)."""

    AVAILABLE = "available"        # idle, or telephony cannot tell (a Local channel)
    BUSY = "busy"                  # in use, ringing or on hold: a call of its own
    UNREGISTERED = "unregistered"  # unplugged, unreachable, or unknown to Asterisk


# The technologies whose devices have a state worth following (a Local channel's has none).
WATCHED_TECHNOLOGIES = ("PJSIP", "IAX2", "SIP")


@dataclass(frozen=True)
class Connection:
    """A caller and an agent to put together (agent first: the caller keeps hearing music)."""

    call_id: str
    caller_channel: str
    agent_id: str
    agent_endpoint: str
    ring_timeout_s: float
    caller_number: str = ""
    agent_site: str = ""      # another site's agent (a loan): rung through the trunk there
    caller_label: str = ""    # the caller's region and IDPEL, for the agent's phone display
    record: bool = False      # the queue records its conversations (the caller is told first)


@dataclass(frozen=True)
class Callback:
    """How a callback went; once ANSWERED, the caller's new channel (its end ends the talk)."""

    outcome: RingOutcome
    caller_channel: str = ""


class Telephony(Protocol):
    def connect(self, connection: Connection) -> Deferred[RingOutcome]:
        """Ring the agent; on answer bridge with the caller. Fires when that is decided.

        Another site's agent (`connection.agent_site`) is rung through the trunk to that
        site's Asterisk; a ring that fails there before it reaches the phone (the trunk, the
        far end) is TRUNK_FAILED, not NO_ANSWER: the agent did nothing wrong.
        """
        ...

    def resume_ring(self, connection: Connection) -> Deferred[RingOutcome]:
        """After a restart: follow the ring an earlier process started for the call and
        died following, as `connect` would have (answered: bridged now). NO_ANSWER when
        telephony has nothing left of it: the outcome was lost with that process."""
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

    def connect_callback(self, connection: Connection, number: str) -> Deferred[Callback]:
        """Agent first, then the caller: ring the agent (NO_ANSWER as for `connect`); once
        answered, dial `number` for `connection.ring_timeout_s` and bridge the two
        (ANSWERED), or hang up the agent's leg (CALLER_NO_ANSWER). The caller's old channel
        is long gone, so CALLER_GONE never happens here.
        """
        ...

    def caller_alive(self, caller_channel: str) -> Deferred[bool]:
        """Whether the channel still exists (used after a restart to drop stale callers)."""
        ...
