"""Deleting recordings older than `recording.keep_days`.

Run by each site's `pln123 serve`, on the host whose Asterisk writes the files: once at
start and then every `every_s` (an hour). A file's age is its modification time (when
MixMonitor last wrote it: the call's end) against the clock. The listing and the
deletions run on a thread, never on the reactor that carries the calls; only `*.wav`
files directly in the folder are considered, so nothing else an admin keeps there is
ever touched.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import structlog
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import LoopingCall
from twisted.python.failure import Failure

log = structlog.get_logger("pln123.recordings")

EVERY_S = 3600.0
Runner = Callable[..., Deferred[Any]]   # runs f(*args) off the reactor: deferToThread


def expired(directory: Path, keep_s: float, now: float) -> list[Path]:
    """The recordings in `directory` last written more than `keep_s` before `now`."""
    try:
        entries = list(os.scandir(directory))
    except FileNotFoundError:
        return []   # nothing recorded yet
    found = []
    for entry in entries:
        if not entry.name.endswith(".wav") or not entry.is_file(follow_symlinks=False):
            continue
        try:
            written = entry.stat(follow_symlinks=False).st_mtime
        except FileNotFoundError:
            continue
        if now - written > keep_s:
            found.append(Path(entry.path))
    return sorted(found)


def delete_expired(directory: Path, keep_s: float, now: float) -> list[Path]:
    """Delete what `expired` finds; the files deleted."""
    deleted = []
    for path in expired(directory, keep_s, now):
        try:
            path.unlink()
        except FileNotFoundError:
            continue
        deleted.append(path)
    return deleted


class RecordingSweep:
    def __init__(self, directory: Path, keep_s: float, clock: IReactorTime, *,
                 every_s: float = EVERY_S, run: Runner | None = None):
        if run is None:
            from twisted.internet.threads import deferToThread

            run = deferToThread
        self.directory = directory
        self.keep_s = keep_s
        self.clock = clock
        self.run = run
        self.every_s = every_s
        self._loop = LoopingCall(self.sweep)
        self._loop.clock = clock

    def start(self) -> None:
        self._loop.start(self.every_s, now=True)

    def stop(self) -> None:
        if self._loop.running:
            self._loop.stop()

    def sweep(self) -> Deferred[list[Path]]:
        """One pass; a failure is logged and the next pass tries again."""
        d: Deferred[list[Path]] = self.run(delete_expired, self.directory, self.keep_s,
                                           self.clock.seconds())

        def done(deleted: list[Path]) -> list[Path]:
            if deleted:
                log.info("recordings_deleted", count=len(deleted),
                         directory=str(self.directory))
            return deleted

        def failed(failure: Failure) -> list[Path]:
            log.warning("recordings_sweep_failed", directory=str(self.directory),
                        error=failure.getErrorMessage())
            return []

        return d.addCallbacks(done, failed)
