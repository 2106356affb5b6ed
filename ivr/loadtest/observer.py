"""A second AMI session as pln123's own user, to count and time what pln123 is sent.

Why the pln123 user: its read classes and event filters make Asterisk send this session
exactly the event stream the site's pln123 receives, so its count is "AMI events/s into
pln123". It also sees the evidence of pln123's decisions, which gives the decision latency
measured from outside the process under test:

    agent answered -> caller bridged: OriginateResponse (Response: Success) of an agent's
    leg, then BridgeEnter of that leg, which happens only after pln123 has read the
    response, updated Redis and sent AMI Bridge. Times are this session's receive times
    (time.monotonic); both events cross the same socket, so the socket's delay cancels.

It also tracks the callers' channels (the `;2` half of Local/<area>123@pln123-inbound-...)
so the load generator knows how many calls are live.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from ivr.sandbox import PLN123_USER, Instance, RawAmi

INBOUND_MARK = "@pln123-inbound-"


@dataclass
class Observation:
    events: int = 0
    started_at: float = 0.0
    live_callers: set[str] = field(default_factory=set)   # caller channels (;2) now up
    peak_live: int = 0
    agi_started: set[str] = field(default_factory=set)     # caller numbers the IVR took
    answered_at: dict[str, float] = field(default_factory=dict)   # agent leg -> time
    latencies: list[float] = field(default_factory=list)          # answer -> bridge, s


class Observer:
    """Reads one site's pln123 event stream in a daemon thread until `stop()`."""

    def __init__(self, instance: Instance, agent_context: str):
        self.site = instance.site
        self.agent_mark = f"@{agent_context}-"
        self.session: RawAmi = instance.ami(PLN123_USER, events="on", timeout=2.0)
        self.lock = threading.Lock()
        self.seen = Observation(started_at=time.monotonic())
        self.error: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"observer-{self.site}",
                                        daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                message = self.session.read_message()
            except TimeoutError:
                continue
            except OSError as error:
                if not self._stop.is_set():
                    self.error = f"{self.site}: observer lost AMI: {error}"
                return
            now = time.monotonic()
            name = message.get("Event")
            if name is None:
                continue
            with self.lock:
                self._event(name, message, now)

    def _event(self, name: str, message: dict[str, str], now: float) -> None:
        seen = self.seen
        seen.events += 1
        channel = message.get("Channel", "")
        if name == "Newchannel" and INBOUND_MARK in channel and channel.endswith(";2"):
            seen.live_callers.add(channel)
            seen.peak_live = max(seen.peak_live, len(seen.live_callers))
        elif name == "Hangup":
            seen.live_callers.discard(channel)
            seen.answered_at.pop(channel, None)
        elif name == "AsyncAGIStart":
            seen.agi_started.add(message.get("CallerIDNum", ""))
        elif (name == "OriginateResponse" and self.agent_mark in channel
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
        self._stop.set()
        self.session.close()
        self._thread.join(5)
