"""How a caller leaves the IVR for the ACD: one call on one small interface.

The IVR (in `ivr/`) knows menus and Asterisk; the ACD knows queues and agents. The IVR
hands over everything the ACD and the agents need about the caller in a `QueueRequest`;
the ACD answers with where the call now is. Which implementation sits behind it is the
composition root's choice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

from twisted.internet.defer import Deferred

MENU_PATH_MAX = 160
MENU_PATH = re.compile(r"[a-z0-9_:>*#-]*")


def checked_menu_path(path: str) -> str:
    """`path` if it is a menu path the agent's screen may show; ValueError otherwise."""
    if len(path) > MENU_PATH_MAX or not MENU_PATH.fullmatch(path):
        raise ValueError(f"menu path {path[:40]!r}: at most {MENU_PATH_MAX} characters of "
                         "a-z 0-9 _ : > * # -")
    return path


@dataclass(frozen=True)
class QueueRequest:
    call_id: str          # pln123's id for the call, bound to every log line
    site: str             # the site whose Asterisk holds the channel
    channel: str          # that channel (opaque to the ACD; handed back to telephony)
    skill: str
    priority: int         # 1 (most urgent) .. 9
    language: str         # "id" or "en"
    area_code: str
    region: str
    caller_number: str
    idpel: str | None     # the confirmed 12-digit customer number, if entered
    entered_at: float     # when the caller entered the IVR (the injected clock's time)
    # The channel's Uniqueid: how the ACD finds the caller again after a reconnect (names
    # repeat once Asterisk restarts its channel numbering; a Uniqueid does not).
    uniqueid: str = ""
    # What the caller chose on the way, for the agent's screen: `menu:key` and
    # `flow:<name>` steps joined by ">" (`main:2>fault:1>flow:report_fault`), at most
    # MENU_PATH_MAX characters of MENU_PATH's alphabet (the ACD refuses anything else).
    menu_path: str = ""


@dataclass(frozen=True)
class QueuePlacement:
    call_id: str
    site: str
    skill: str
    position: int         # 0 = an agent's phone rings for the call now; 1 = next in line


class CallIntake(Protocol):
    """Implemented by the ACD; called once per caller who asks for an agent.

    From then on the ACD follows the caller's channel itself (a hang-up while queued is
    an abandon), so the IVR hands over and forgets.
    """

    def enqueue(self, request: QueueRequest) -> Deferred[QueuePlacement]:
        """Offer the call to an agent or queue it.

        Fails while the ACD's store (Redis) cannot be reached; offering the same request
        again is safe (a call id already offered is not offered twice: the retry gets the
        call's place), so the IVR retries with the caller on music. ValueError: the
        request itself is refused, and will be on every retry.
        """
        ...

    def queued_channels(self) -> Deferred[dict[str, str]]:
        """channel -> call id of the calls waiting at this site: after a restart, the
        callers Asterisk still holds that the ACD already queued."""
        ...

    def adopt(self, call_id: str, channel: str) -> None:
        """Follow a queued call again after a restart (announcements, hang-up)."""
        ...


@dataclass(frozen=True)
class IVRPath:
    """A caller's way through the IVR, for the call history: told once, when they leave it
    (handed to the ACD, served by self-service, or hung up in the menus)."""

    call_id: str
    site: str
    entered_at: float     # the IVR answered (the injected clock's time)
    left_at: float
    outcome: str          # how the call left the IVR: queued, caller_hung_up, apologised...
    caller_number: str
    area_code: str
    region: str
    steps: tuple[tuple[float, str], ...]  # (when, step): greeting, menus, flows, hand-off
    ticket: str = ""      # the ticket a self-service flow filed, if any


class CallLog(Protocol):
    """Implemented by the ACD: where the IVR leaves a caller's path for the call history."""

    def ivr_path(self, path: IVRPath) -> None:
        """Fire and forget: a failure is logged, never the caller's concern."""
        ...


class Deflections(Protocol):
    """Implemented by the ACD: callers the IVR answered from their ticket's status, who
    left without an agent. Counted as `deflected` with the site's queue counters, under
    the skill the agent key would have queued them for (what they were kept out of)."""

    def deflected(self, call_id: str, skill: str) -> None:
        """Fire and forget: a failure is logged, never the caller's concern."""
        ...
