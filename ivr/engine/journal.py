"""A caller's path through the IVR as structured events bound to one call id.

Each step is a log line (JSON in production) with `call_id`, `site` and `area_code`
bound, so support can follow one caller from the greeting to the hand-off; the same events
are kept on the session for tests and for the dashboard's recent-calls view. At the
production level (info) a call logs two lines, its start and its end, the end with every
step in `path` (as the call's audit entry and the history keep them); each step on its own
is a debug line (six more lines per caller cost about what a Redis round trip does).
"""

from __future__ import annotations

from typing import Any

import structlog
from twisted.internet.interfaces import IReactorTime

# The fields that name what a step concerned, in the history's step labels.
_NAMED = ("menu", "key", "flow", "ticket", "language", "skill")
FIRST_STEP = "call_started"
LAST_STEP = "call_ended"


class CallJournal:
    def __init__(self, call_id: str, site: str, area_code: str, clock: IReactorTime):
        self.call_id = call_id
        self.clock = clock
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.times: list[float] = []
        self.log = structlog.get_logger("ivr.call").bind(
            call_id=call_id, site=site, area_code=area_code
        )

    def record(self, event: str, **fields: Any) -> None:
        self.events.append((event, fields))
        self.times.append(self.clock.seconds())
        if event == LAST_STEP:
            self.log.info(f"ivr_{event}", path=self.path(), **fields)
        elif event == FIRST_STEP:
            self.log.info(f"ivr_{event}", **fields)
        else:
            self.log.debug(f"ivr_{event}", **fields)

    def at(self, event: str) -> float | None:
        """When `event` first happened, by the injected clock."""
        for (name, _fields), when in zip(self.events, self.times, strict=True):
            if name == event:
                return when
        return None

    def names(self) -> list[str]:
        return [name for name, _fields in self.events]

    def first(self, event: str) -> dict[str, Any] | None:
        return next((fields for name, fields in self.events if name == event), None)

    def path(self) -> str:
        """Every step's label in order, comma-separated (the log's `path`)."""
        return ",".join(step for _when, step in self.steps())

    def steps(self) -> tuple[tuple[float, str], ...]:
        """(when, step) for the call history: each event's name with what it concerned
        (`menu_entered:main`, `digit:main:2`, `flow_started:report_fault`)."""
        return tuple(
            (when, ":".join([name, *(str(fields[k]) for k in _NAMED if k in fields)]))
            for (name, fields), when in zip(self.events, self.times, strict=True))
