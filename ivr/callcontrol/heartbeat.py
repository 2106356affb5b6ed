"""pln123's heartbeat in its Asterisk's AstDB, for the dialplan's "is pln123 there?" check.

The rendered `[pln123-ivr]` reads `${DB(pln123/heartbeat)}` before handing a caller to
AsyncAGI; a value older than `heartbeat_stale_s` (or none) sends the caller to the hub's
IVR over the trunk instead, so a site's callers are answered while its pln123 restarts.
So pln123 writes the time (epoch seconds, from the injected clock) every
`heartbeat_every_s` while its AMI link is up, and deletes it on a clean stop: the site
goes to the hub at once instead of after the staleness window.

Writing needs AMI write class `system` (DBPut); docs/operations.md says why it is granted.
"""

from __future__ import annotations

import structlog
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import LoopingCall

from ivr.ami.errors import AMIError
from ivr.ami.service import AMIService
from ivr.dialplan.names import HEARTBEAT_FAMILY, HEARTBEAT_KEY

log = structlog.get_logger("ivr.heartbeat")


class Heartbeat:
    def __init__(self, ami: AMIService, clock: IReactorTime, every_s: float):
        self.ami = ami
        self.clock = clock
        self.every_s = every_s
        self.beats = 0
        self._failing = False
        self._loop = LoopingCall(self.beat)
        self._loop.clock = clock

    def start(self) -> None:
        if not self._loop.running:
            self._loop.start(self.every_s, now=True)

    def beat(self) -> Deferred[None]:
        """One DBPut if the link is up; a failure is logged once, not every second."""
        if self.ami.protocol is None:
            return Deferred.fromCoroutine(self._nothing())
        d = self.ami.send_action("DBPut", {"Family": HEARTBEAT_FAMILY, "Key": HEARTBEAT_KEY,
                                           "Val": str(int(self.clock.seconds()))})

        def done(_: object) -> None:
            self.beats += 1
            if self._failing:
                log.info("heartbeat_restored")
            self._failing = False

        def failed(failure: object) -> None:
            if not self._failing:
                log.error("heartbeat_failed", error=str(getattr(failure, "value", failure)))
            self._failing = True

        return d.addCallbacks(done, failed)

    async def _nothing(self) -> None:
        return None

    def stop(self) -> Deferred[None]:
        """Stop beating and delete the beat: the dialplan sends callers to the hub now."""
        if self._loop.running:
            self._loop.stop()
        if self.ami.protocol is None:
            return Deferred.fromCoroutine(self._nothing())
        d = self.ami.send_action("DBDel", {"Family": HEARTBEAT_FAMILY, "Key": HEARTBEAT_KEY})

        def ignore(failure: object) -> None:
            if not isinstance(getattr(failure, "value", None), AMIError):
                log.warning("heartbeat_not_deleted", error=str(failure))

        return d.addCallbacks(lambda _: None, ignore)
