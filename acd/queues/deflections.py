"""`deflected`: callers answered from their ticket's status who left without an agent.

In a surge most callers are people calling again about the complaint they already made;
every one the IVR answers from the ticket is a caller the agents never had to take. The
count goes into the same interval and minute hashes as the queue's counters (the skill
the agent key would have queued the caller for), so the live figures, today's figures,
the reports and `/metrics` read it with everything else: `Counters.deflected`.

One pipeline per deflected call (HINCRBY and EXPIRE on both hashes, one round trip),
written after the caller has gone: nobody waits on it, and a failure is only logged.
"""

from __future__ import annotations

import structlog
from twisted.internet.defer import Deferred, fail
from twisted.internet.interfaces import IReactorTime
from twisted.python.failure import Failure

from acd.store.clock import timestamp
from acd.store.keys import (
    INTERVAL_KEEP_S,
    INTERVAL_S,
    MINUTE_KEEP_S,
    MINUTE_S,
    SiteKeys,
    checked_name,
)
from acd.store.redis import Client, RedisStore

log = structlog.get_logger("acd.deflections")

COUNTER = "deflected"


class RedisDeflections:
    """`acd.intake.Deflections` on one site's counters."""

    def __init__(self, store: RedisStore, keys: SiteKeys, clock: IReactorTime):
        self.store = store
        self.keys = keys
        self.clock = clock

    def deflected(self, call_id: str, skill: str) -> None:
        self.count(call_id, skill).addErrback(self._failed, call_id)

    def count(self, call_id: str, skill: str) -> Deferred[None]:
        """The write itself, for whoever wants to wait for it (tests, tools)."""
        try:
            checked_name(skill, "skill")
        except ValueError as error:
            return fail(error)
        now = timestamp(self.clock)
        interval = self.keys.interval(skill, int(now // INTERVAL_S * INTERVAL_S))
        minute = self.keys.minute(skill, int(now // MINUTE_S * MINUTE_S))

        async def count(client: Client) -> None:
            async with client.pipeline(transaction=False) as pipe:
                pipe.hincrby(interval, COUNTER, 1)
                pipe.expire(interval, INTERVAL_KEEP_S)
                pipe.hincrby(minute, COUNTER, 1)
                pipe.expire(minute, MINUTE_KEEP_S)
                await pipe.execute()
            log.info("caller_deflected", call_id=call_id, site=self.keys.site, skill=skill)

        return self.store.run(count)

    def _failed(self, failure: Failure, call_id: str) -> None:
        log.warning("deflected_not_counted", call_id=call_id, site=self.keys.site,
                    error=failure.getErrorMessage())
