"""Starts a CallSession for every channel that enters AsyncAGI at this site."""

from __future__ import annotations

from collections import deque
from zoneinfo import ZoneInfo

import structlog
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime

from ivr.engine.channel import CallChannel
from ivr.engine.session import CallSession, IVRServices
from ivr.settings import TelephonyConfig

log = structlog.get_logger("ivr.engine")

DEFAULT_TIMEZONE = "Asia/Jakarta"  # WIB; sites in WITA/WIT set their own


class IVREngine:
    def __init__(
        self,
        config: TelephonyConfig,
        site_name: str,
        services: IVRServices,
        clock: IReactorTime,
        timezone: str = DEFAULT_TIMEZONE,
        keep_finished: int = 1000,
    ):
        self.config = config
        self.site = config.sites[site_name]
        self.services = services
        self.clock = clock
        self.timezone = ZoneInfo(timezone)
        self.active: dict[str, CallSession] = {}
        self.finished: deque[CallSession] = deque(maxlen=keep_finished)

    def on_session(self, channel: CallChannel) -> Deferred[str]:
        """Serve one caller; the Deferred fires with the outcome when the IVR is done."""
        session = CallSession(channel, self.config, self.site, self.services, self.clock,
                              self.timezone)
        self.active[session.call_id] = session
        done = Deferred.fromCoroutine(session.run())
        done.addBoth(self._finished, session)
        return done

    def _finished(self, outcome: object, session: CallSession) -> object:
        self.active.pop(session.call_id, None)
        self.finished.append(session)
        return outcome

    def reconfigure(self, config: TelephonyConfig) -> None:
        """New calls use `config`; calls in progress finish with the one they started with."""
        self.config = config
        self.site = config.sites[self.site.name]
