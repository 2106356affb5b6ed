"""What the Distributor tells its watcher and what it raises, apart from how it works.

Kept out of distributor.py so that the pieces around it (the WaitingRoom, the CLI, tests)
can name these without the Distributor's imports, and the Distributor stays readable.
"""

from __future__ import annotations

from typing import Protocol

from acd.intake import QueueRequest
from acd.queues.records import Queued


class QueueWatcher(Protocol):
    """Told about the calls this process queues (the WaitingRoom: announcements, max wait).

    Only the process that enqueued a call holds its caller's channel, so only it is told.
    """

    def queued(self, request: QueueRequest, position: int, *,
               placed: Queued | None = None) -> None:
        """The call waits at `position`; `placed`: the offer's reply, which says where and
        since when (the watcher need not read the call back to begin)."""
        ...

    def left(self, call_id: str) -> None:
        """The caller hung up (Distributor.abandon): stop looking after the call."""
        ...

    def let_go(self, call_id: str) -> bool:
        """Asked once the caller's channel has ended: True if the watcher itself sent the
        caller off (nothing is queued to abandon)."""
        ...

    def adopted(self, call_id: str) -> None:
        """After a restart: a queued call whose caller this process holds again."""
        ...


class UnknownAgent(KeyError):
    """The agent id is not in this site's roster."""


class StaleEvent(RuntimeError):
    """A ring or call outcome for a call the agent no longer holds (handled elsewhere)."""


class ConcurrentChange(RuntimeError):
    """The agent kept changing under us: `max_retries` compare-and-set attempts lost."""
