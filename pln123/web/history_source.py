"""What the dashboard's history page reads: the reports of `pln123 report`, off the reactor.

The same functions as the CLI (pln123/history/reports.py) over the same database
(`history:` in the config), each run on a thread: SQL must never stop the reactor that
serves the live views (and, under `pln123 serve`, the calls). The engine is opened at
the first request, not at start: the dashboard starts whether or not the archiver has
created the history yet.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import URL, Engine, select

from pln123.history import reports
from pln123.history.schema import calls

Runner = Callable[..., Any]   # run(f, *args) -> Deferred of f(*args), on a thread
MAX_RANGE_S = 31 * 86_400     # a month: bigger windows belong to `pln123 report`
MAX_CALLS = 5000              # rows of the calls list a page shows


class NoHistory(Exception):
    """The database has no history schema yet (the archiver never ran) or is unreachable."""


@dataclass(frozen=True)
class HistorySettings:
    """Where the history and the recordings are, for the dashboard."""

    database: URL | str
    utc_offset_s: float = 7 * 3600
    recordings: Path | None = None   # recording.host_directory; None: nothing recorded


class HistorySource:
    def __init__(self, settings: HistorySettings, run: Runner | None = None):
        if run is None:
            from twisted.internet.threads import deferToThread

            run = deferToThread
        self.settings = settings
        self.run = run
        self._engine: Engine | None = None
        self._lock = threading.Lock()

    def engine(self) -> Engine:
        """On a thread: the engine, opened once, and checked to hold a history."""
        from sqlalchemy.exc import SQLAlchemyError

        from pln123.history.database import current_revision, open_engine

        with self._lock:
            if self._engine is None:
                try:
                    engine = open_engine(self.settings.database)
                    if current_revision(engine) is None:
                        engine.dispose()
                        raise NoHistory("no call history yet (has pln123 archive run?)")
                except (SQLAlchemyError, OSError) as error:
                    raise NoHistory(f"the history database: {type(error).__name__}") from error
                self._engine = engine
            return self._engine

    def report(self, kind: str, window: reports.Window, now: float) -> Any:
        """Deferred rows of report `kind` (reports.COLUMNS), computed on a thread."""
        return self.run(self._report, kind, window, now)

    def _report(self, kind: str, window: reports.Window, now: float) -> list[dict[str, Any]]:
        engine = self.engine()
        if kind == "interval":
            return reports.interval_report(engine, window)
        if kind == "agents":
            return reports.agent_report(engine, window, now=now)
        if kind == "abandoned":
            return reports.abandoned_report(engine, window)
        return reports.call_report(engine, window)[:MAX_CALLS + 1]

    def call_sites(self, call_id: str) -> Any:
        """Deferred (site, agent_site) of a call in the history; None for an unknown call."""
        return self.run(self._call_sites, call_id)

    def _call_sites(self, call_id: str) -> tuple[str, str] | None:
        query = select(calls.c.site, calls.c.agent_site).where(calls.c.call_id == call_id)
        with self.engine().connect() as connection:
            row = connection.execute(query).first()
        return None if row is None else (row[0], row[1])

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()


def scope_rows(rows: Sequence[dict[str, Any]], site: str | None) -> list[dict[str, Any]]:
    """The interval rows a chart draws: one per 15 minutes (and the window's total) for
    `site` or, without one, for the nation, all skills together."""
    wanted = site or reports.ALL
    return [row for row in rows if row["site"] == wanted and row["skill"] == reports.ALL]
