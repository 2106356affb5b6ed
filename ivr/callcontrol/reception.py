"""Where a caller who enters this site's AsyncAGI goes: to the ACD if it knows the call
already, to the menus otherwise.

Known calls are of two kinds. A caller coming over the inter-site trunk carries its call
id and the kind of arrival in the AGI arguments the dialplan set (moved here, or back home
after a failed move). And after pln123 restarts, the callers Asterisk still holds in
AsyncAGI are adopted again (AsyncAGIResync): those Redis has queued keep their place and
are followed again, the others start the menus afresh.
"""

from __future__ import annotations

from collections.abc import Callable

import structlog
from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

from acd.intake import ARRIVALS, Arrivals, CallIntake
from ivr.ami.agi import AGISession
from ivr.dialplan.names import AGI_ARG_ARRIVAL, AGI_ARG_CALL

log = structlog.get_logger("ivr.reception")


class Reception:
    def __init__(self, site: str, menus: Callable[[AGISession], object], intake: CallIntake,
                 arrivals: Arrivals | None = None):
        self.menus = menus
        self.intake = intake
        self.arrivals = arrivals  # None: no inter-site trunk; such callers get the menus
        self._log = log.bind(site=site)

    def take(self, session: AGISession) -> None:
        """A new AsyncAGI session (the router's `on_session`)."""
        kind = session.env.get(AGI_ARG_ARRIVAL, "")
        call_id = session.env.get(AGI_ARG_CALL, "")
        if self.arrivals is None or kind not in ARRIVALS or not call_id:
            self.menus(session)
            return

        def known(taken: bool) -> None:
            if not taken:  # nothing known about it here: a new caller for the menus
                self.menus(session)

        d = self.arrivals.arrive(kind, call_id, session.channel)
        d.addCallbacks(known, self._failed, errbackArgs=("arrival_failed", call_id))

    def retake(self, sessions: list[AGISession]) -> None:
        """Sessions adopted after a restart (AsyncAGIResync's `on_adopt`)."""
        Deferred.fromCoroutine(self._retake(sessions)).addErrback(
            self._failed, "readoption_failed", "")

    async def _retake(self, sessions: list[AGISession]) -> None:
        queued = await self.intake.queued_channels()  # one read for the whole batch
        for session in sessions:
            call_id = queued.get(session.channel)
            if call_id is None:
                self.take(session)
                continue
            self._log.info("acd_caller_readopted", call_id=call_id, channel=session.channel)
            self.intake.adopt(call_id, session.channel)

    def _failed(self, failure: Failure, event: str, call_id: str) -> None:
        self._log.error(event, call_id=call_id or None, error=failure.getErrorMessage())
