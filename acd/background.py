"""Work a component starts on its own (a timer's tick), followed until it is done.

Why: such work has nobody awaiting it, so a failure would vanish and a test or a graceful
stop could not know when it is over. `spawn` logs what fails under the owner's event name;
`settle` fires once nothing spawned is in flight (including work spawned meanwhile).
"""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any

from structlog.typing import FilteringBoundLogger
from twisted.internet.defer import Deferred, DeferredList
from twisted.python.failure import Failure


class Background:
    def __init__(self, log: Any, failed_event: str):
        self._log: FilteringBoundLogger = log
        self._failed_event = failed_event
        self._work: set[Deferred[None]] = set()

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        d = Deferred.fromCoroutine(work)
        self._work.add(d)

        def done(result: object) -> None:
            self._work.discard(d)
            if isinstance(result, Failure):
                self._log.error(self._failed_event, error=result.getErrorMessage())

        d.addBoth(done)

    def settle(self) -> Deferred[None]:
        async def settle() -> None:
            while self._work:
                await DeferredList(list(self._work), consumeErrors=True)

        return Deferred.fromCoroutine(settle())
