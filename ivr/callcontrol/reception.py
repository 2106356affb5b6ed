"""Where a caller who enters this site's AsyncAGI goes: the menus, unless the ACD already
has them queued.

After pln123 restarts, the callers Asterisk still holds in AsyncAGI are adopted again
(AsyncAGIResync): those Redis has queued keep their place and are followed again, the
others start the menus afresh.
"""

from __future__ import annotations

from collections.abc import Callable

import structlog
from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

from acd.intake import CallIntake
from ivr.ami.agi import AGISession

log = structlog.get_logger("ivr.reception")


class Reception:
    def __init__(self, site: str, menus: Callable[[AGISession], object], intake: CallIntake):
        self.menus = menus
        self.intake = intake
        self._log = log.bind(site=site)

    def take(self, session: AGISession) -> None:
        """A new AsyncAGI session (the router's `on_session`)."""
        self.menus(session)

    def retake(self, sessions: list[AGISession]) -> None:
        """Sessions adopted after a restart (AsyncAGIResync's `on_adopt`)."""
        Deferred.fromCoroutine(self._retake(sessions)).addErrback(self._failed)

    async def _retake(self, sessions: list[AGISession]) -> None:
        queued = await self.intake.queued_channels()  # one read for the whole batch
        for session in sessions:
            call_id = queued.get(session.channel)
            if call_id is None:
                self.take(session)
                continue
            self._log.info("acd_caller_readopted", call_id=call_id, channel=session.channel)
            self.intake.adopt(call_id, session.channel)

    def _failed(self, failure: Failure) -> None:
        self._log.error("readoption_failed", error=failure.getErrorMessage())
