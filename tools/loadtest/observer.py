"""Two more AMI sessions per site, to count and time what pln123 is sent and does.

- As pln123's own user: its read classes and event filters make Asterisk send this session
  exactly the event stream the site's pln123 receives, so its count is "AMI events/s into
  pln123". Nothing else is read from it (the filters hide bridges and new channels).
- As the sandbox's admin user with the event mask `call,agi`: the callers' channels (the
  `;2` half of Local/<area>123@pln123-inbound-..., or with SIP callers the carrier's
  PJSIP channels, so the load generator knows how many calls are live), the IVR's
  AsyncAGIStart per caller number, and the evidence of pln123's decisions, which gives
  the decision latency measured from outside the process:

    agent answered -> caller bridged: OriginateResponse (Response: Success) of an agent's
    leg, then BridgeEnter of that leg, which happens only after pln123 has read the
    response, updated Redis and sent AMI Bridge. Times are this session's receive times
    (time.monotonic); both events cross the same socket, so its delay cancels. An agent's
    leg is a Local channel into the agent context, or, for another site's agent lent
    through national pooling, the IAX2 trunk leg to that site (`IAX2/<peer>-<n>`): the
    caller stays here and is bridged with the trunk leg, so the same two events time it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from tools.sandbox import ADMIN_USER, PLN123_USER, Instance, RawAmi

INBOUND_MARK = "@pln123-inbound-"
TRUNK_MARK = "IAX2/"   # the only IAX2 channels pln123 originates ring lent agents
SIP_MARK = "PJSIP/"    # the load test's agents are Local: its only PJSIP channels are callers


def is_local_caller(channel: str) -> bool:
    """The caller's half of an originated Local caller (the other half is the script)."""
    return INBOUND_MARK in channel and channel.endswith(";2")


def is_sip_caller(channel: str) -> bool:
    """A SIPp caller's channel on the carrier trunk."""
    return channel.startswith(SIP_MARK)


def is_agent_leg(channel: str, agent_mark: str) -> bool:
    """An originated agent's leg: a local agent's Local channel or a lent agent's trunk leg."""
    return agent_mark in channel or channel.startswith(TRUNK_MARK)


@dataclass
class Observation:
    events: int = 0
    started_at: float = 0.0
    live_callers: set[str] = field(default_factory=set)   # caller channels (;2) now up
    peak_live: int = 0
    agi_started: set[str] = field(default_factory=set)     # caller numbers the IVR took
    answered_at: dict[str, float] = field(default_factory=dict)   # agent leg -> time
    latencies: list[float] = field(default_factory=list)          # answer -> bridge, s


class SessionReader:
    """Reads one AMI session in a daemon thread, handing each event to `handle`."""

    def __init__(self, name: str, session: RawAmi,
                 handle: Callable[[str, dict[str, str], float], None]):
        self.name = name
        self.session = session
        self.handle = handle
        self.error: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                message = self.session.read_message()
            except TimeoutError:
                continue
            except OSError as error:
                if not self._stop.is_set():
                    self.error = f"{self.name}: AMI session lost: {error}"
                return
            event = message.get("Event")
            if event is not None:
                self.handle(event, message, time.monotonic())

    def stop(self) -> None:
        self._stop.set()
        self.session.close()
        self._thread.join(5)


class Observer:
    """One site's two observing sessions, until `stop()`."""

    def __init__(self, instance: Instance, agent_context: str,
                 is_caller: Callable[[str], bool] = is_local_caller):
        self.site = instance.site
        self.agent_mark = f"@{agent_context}-"
        self.is_caller = is_caller
        self.lock = threading.Lock()
        self.seen = Observation(started_at=time.monotonic())
        self._readers = [
            SessionReader(f"pln123-events-{self.site}",
                    instance.ami(PLN123_USER, events="on", timeout=2.0), self._count),
            SessionReader(f"calls-{self.site}",
                    instance.ami(ADMIN_USER, events="call,agi", timeout=2.0), self._event),
        ]

    @property
    def error(self) -> str | None:
        return next((r.error for r in self._readers if r.error is not None), None)

    def _count(self, name: str, message: dict[str, str], now: float) -> None:
        with self.lock:
            self.seen.events += 1

    def _event(self, name: str, message: dict[str, str], now: float) -> None:
        with self.lock:
            self._track(name, message, now)

    def _track(self, name: str, message: dict[str, str], now: float) -> None:
        seen = self.seen
        channel = message.get("Channel", "")
        if name == "Newchannel" and self.is_caller(channel):
            seen.live_callers.add(channel)
            seen.peak_live = max(seen.peak_live, len(seen.live_callers))
        elif name == "Hangup":
            seen.live_callers.discard(channel)
            seen.answered_at.pop(channel, None)
        elif name == "AsyncAGIStart":
            seen.agi_started.add(message.get("CallerIDNum", ""))
        elif (name == "OriginateResponse" and is_agent_leg(channel, self.agent_mark)
              and message.get("Response") == "Success"):
            seen.answered_at[channel] = now
        elif name == "BridgeEnter" and channel in seen.answered_at:
            seen.latencies.append(now - seen.answered_at.pop(channel))

    def live(self) -> int:
        with self.lock:
            return len(self.seen.live_callers)

    def snapshot(self) -> Observation:
        with self.lock:
            s = self.seen
            return Observation(s.events, s.started_at, set(s.live_callers), s.peak_live,
                               set(s.agi_started), dict(s.answered_at), list(s.latencies))

    def reset_count(self) -> None:
        """Start counting events (and the clock for events/s) from now."""
        with self.lock:
            self.seen.events = 0
            self.seen.started_at = time.monotonic()

    def stop(self) -> None:
        for reader in self._readers:
            reader.stop()
