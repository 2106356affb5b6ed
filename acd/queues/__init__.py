"""Per-site queues, ready sets and matching in Redis (Lua), and the records they hold."""

from acd.queues.records import (
    AgentRecord,
    CallRecord,
    CallState,
    Changed,
    Conflict,
    Duplicate,
    Offer,
    Queued,
    Reservation,
)
from acd.queues.store import CallAction, QueueStore
from acd.store.keys import SiteKeys

__all__ = [
    "AgentRecord",
    "CallAction",
    "CallRecord",
    "CallState",
    "Changed",
    "Conflict",
    "Duplicate",
    "Offer",
    "QueueStore",
    "Queued",
    "Reservation",
    "SiteKeys",
]
