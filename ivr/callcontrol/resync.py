"""After a (re)connect: find the callers Asterisk still holds in AsyncAGI and adopt them.

Events sent while pln123 was away (a restart, a `kill -9`, a network blip) are lost, so we
ask Asterisk what is true (`CoreShowChannels`) instead of guessing. A channel in
`AGI(agi:async,...)` that the router does not know is a caller waiting for us: it gets an
AGI session again, with what the dialplan passed (area code, site) recovered from the
application data, and is handed to `on_adopt` — the ACD puts a queued caller back in its
place from Redis, the IVR restarts the menu for one who was still in it. A session is
matched to its channel by Uniqueid: Asterisk hands channel names out again after a restart,
so a name alone may be a new caller's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import structlog
from twisted.internet.defer import Deferred

from ivr.ami.agi import AGISession, AsyncAGIRouter
from ivr.ami.message import Message
from ivr.ami.protocol import AMIProtocol, ListResult
from ivr.dialplan.names import IVR_CONTEXT

log = structlog.get_logger("ivr.callcontrol.resync")

# What pln123's IVR context runs before it hands the channel to AsyncAGI (or instead: the
# heartbeat check's Dial to the hub while this site's pln123 was away).
_SETUP_APPLICATIONS = frozenset({"Answer", "Set", "Gosub", "Return", "Hangup", "GotoIf",
                                 "ExecIf", "NoOp", "Dial", ""})


@dataclass(frozen=True)
class LiveChannel:
    channel: str
    uniqueid: str
    application: str
    application_data: str
    caller_number: str
    extension: str
    context: str = ""

    @property
    def in_async_agi(self) -> bool:
        """In AsyncAGI: the AGI application itself, or pln123's IVR context past its set-up.

        After an AGI `EXEC` (hold music) Asterisk keeps showing the executed application's
        name, so the context is what tells a waiting caller apart.
        """
        if self.application.upper() == "AGI" and self.application_data.startswith(
                "agi:async"):
            return True
        return self.context == IVR_CONTEXT and self.application not in _SETUP_APPLICATIONS

    def agi_env(self) -> dict[str, str]:
        """The parts of the AGI environment a restart can recover."""
        env = {"agi_callerid": self.caller_number, "agi_extension": self.extension,
               "agi_uniqueid": self.uniqueid, "agi_channel": self.channel}
        if self.application_data.startswith("agi:async"):
            for index, argument in enumerate(self.application_data.split(",")[1:], 1):
                env[f"agi_arg_{index}"] = argument
        return env


def live_channel(event: Message) -> LiveChannel:
    return LiveChannel(
        channel=event.get("Channel") or "",
        uniqueid=event.get("Uniqueid") or "",
        application=event.get("Application") or "",
        application_data=event.get("ApplicationData") or "",
        caller_number=event.get("CallerIDNum") or "",
        extension=event.get("Exten") or "",
        context=event.get("Context") or "",
    )


class AsyncAGIResync:
    """A resync hook for AMIService: adopts unknown AsyncAGI channels after every login."""

    def __init__(self, router: AsyncAGIRouter,
                 on_adopt: Callable[[list[AGISession]], object]):
        self.router = router
        self.on_adopt = on_adopt  # called once per resync with every adopted session
        self.adopted = 0

    def __call__(self, protocol: AMIProtocol) -> Deferred[None]:
        listing: Deferred[ListResult] = protocol.send_list_action("CoreShowChannels")
        return listing.addCallback(self._adopt_unknown)

    def _adopt_unknown(self, listing: ListResult) -> None:
        channels = [live_channel(event) for event in listing.events]
        # Sessions whose channel Asterisk no longer has ended while we were away. Matched
        # by Uniqueid: after an Asterisk restart another caller may have the same name.
        ids = {live.uniqueid for live in channels}
        names = {live.channel for live in channels}
        gone = [channel for channel, session in self.router.sessions.items()
                if (session.uniqueid not in ids if session.uniqueid else channel not in names)]
        for channel in gone:
            self.router.drop(channel, "gone during reconnect")
        known = set(self.router.sessions)
        adopted: list[AGISession] = []
        for live in channels:
            if not live.in_async_agi or live.channel in known:
                continue
            adopted.append(self.router.adopt(live.channel, live.uniqueid, live.agi_env()))
            log.info("agi_channel_adopted", channel=live.channel,
                     caller_number=live.caller_number)
        self.adopted += len(adopted)
        if adopted:
            self.on_adopt(adopted)
        log.info("agi_resync", channels=len(channels), adopted=len(adopted),
                 dropped=len(gone))
