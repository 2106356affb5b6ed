"""The Service that opens and closes the Redis store with the application.

Connecting in `startService` (and not when the object graph is built) is what lets the
composition root build everything before the reactor, and redis-py's pool, exist.
"""

from __future__ import annotations

import structlog
from twisted.application.service import Service
from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

from acd.store.redis import RedisStore

log = structlog.get_logger("acd.store.service")


class RedisStoreService(Service):
    """Starts `store` with the application; an unreachable Redis is logged, not fatal.

    A Redis that is down at start-up must not keep pln123 (and so the IVR's greeting and
    menus) from starting: the client reconnects on every later command.
    """

    def __init__(self, store: RedisStore):
        self.store = store

    def startService(self) -> None:
        super().startService()  # type: ignore[no-untyped-call]
        d = self.store.start()
        d.addErrback(self._unreachable)

    def _unreachable(self, failure: Failure) -> None:
        log.error("redis_unreachable_at_start", redis=self.store.where,
                  error=failure.getErrorMessage())

    def stopService(self) -> Deferred[None]:
        super().stopService()  # type: ignore[no-untyped-call]
        return self.store.close()
