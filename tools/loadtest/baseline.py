"""`pln123 loadtest --baseline app_queue`: the same callers through Asterisk alone.

What pln123 costs is only meaningful next to what the classic way costs on the same
machine: a dialplan IVR and app_queue. So after the pln123 pass, on the same sandbox
Asterisk, the pln123 processes are stopped and the same callers (the scripted caller:
answer, 0 after one second, patient) dial `Local/<area code>123@loadtest-baseline`
(deploy/sandbox/extensions.conf): the greeting and the main menu with barge-in
(Background, pln123's own prompts), WaitExten, the transfer prompt, then app_queue
`loadtest-baseline` (deploy/sandbox/queues.conf: music on hold, position and hold time
every 30 s, the agent idle longest first, ring 10 s, wrap-up 2 s) whose members are the
same Local agents (`Local/<id>@loadtest-agent/n`: ring 1 s, talk 5-15 s), added with AMI
QueueAdd. Same ramp, hold and drain.

Asterisk's CPU is read from /proc/<pid>/stat as in the pln123 pass. A caller is answered
when app_queue connects them to a member (AgentConnect, keyed by the caller's number);
lost is every other caller (app_queue never gives up on them: its timeout is the callers'
patience, 30 minutes).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field

from ivr.ami import variable_header
from tools.demo.stack import StackError
from tools.loadtest.observer import SessionReader
from tools.sandbox import ADMIN_USER, Instance, RawAmi

CONTEXT = "loadtest-baseline"
QUEUE = "loadtest-baseline"
STACKS = ("app_queue",)


def member(agent_id: str, agent_context: str) -> str:
    """The queue member for a load-test agent: the same Local channel pln123 rings."""
    return f"Local/{agent_id}@{agent_context}/n"


@dataclass
class QueueObservation:
    live_callers: set[str] = field(default_factory=set)   # caller channels (;2) now up
    peak_live: int = 0
    joined: set[str] = field(default_factory=set)         # caller numbers in the queue
    answered: set[str] = field(default_factory=set)       # caller numbers an agent took
    abandoned: set[str] = field(default_factory=set)


def track(seen: QueueObservation, name: str, message: dict[str, str]) -> None:
    """One AMI event of the baseline's callers into `seen`."""
    channel = message.get("Channel", "")
    number = message.get("CallerIDNum", "")
    if name == "Newchannel" and f"@{CONTEXT}-" in channel and channel.endswith(";2"):
        seen.live_callers.add(channel)
        seen.peak_live = max(seen.peak_live, len(seen.live_callers))
    elif name == "Hangup":
        seen.live_callers.discard(channel)
    elif message.get("Queue") != QUEUE:
        return
    elif name == "QueueCallerJoin":
        seen.joined.add(number)
    elif name == "AgentConnect":
        seen.answered.add(number)
    elif name == "QueueCallerAbandon":
        seen.abandoned.add(number)


class QueueObserver:
    """One site's admin session (event mask `call,agent`) following the baseline's callers."""

    def __init__(self, instance: Instance):
        self.site = instance.site
        self.lock = threading.Lock()
        self.seen = QueueObservation()
        self._reader = SessionReader(f"app-queue-{self.site}",
                                     instance.ami(ADMIN_USER, events="call,agent",
                                                  timeout=2.0), self._event)

    @property
    def error(self) -> str | None:
        return self._reader.error

    def _event(self, name: str, message: dict[str, str], now: float) -> None:
        with self.lock:
            track(self.seen, name, message)

    def live(self) -> int:
        with self.lock:
            return len(self.seen.live_callers)

    def snapshot(self) -> QueueObservation:
        with self.lock:
            s = self.seen
            return QueueObservation(set(s.live_callers), s.peak_live, set(s.joined),
                                    set(s.answered), set(s.abandoned))

    def stop(self) -> None:
        self._reader.stop()


@dataclass
class BaselineReport:
    """The app_queue pass: its callers' fate and what Asterisk spent on them."""

    stack: str
    seconds: float
    offered: int
    peak_concurrent: int
    answered: int
    abandoned: int
    lost: int
    asterisk_cpu_s: dict[str, float]

    @property
    def cpu_ms_per_call(self) -> float:
        return 1000 * sum(self.asterisk_cpu_s.values()) / max(1, self.offered)


def add_members(session: RawAmi, agents: list[str], agent_context: str) -> None:
    """The load test's agents as dynamic members of the baseline queue (AMI QueueAdd)."""
    for agent_id in agents:
        reply = session.action("QueueAdd", {"Queue": QUEUE,
                                            "Interface": member(agent_id, agent_context),
                                            "MemberName": agent_id, "Penalty": "0"})
        if reply.get("Response") != "Success":
            raise StackError(f"QueueAdd {agent_id} refused: {reply.get('Message')}")


def originate(session: RawAmi, area_code: str, number: str,
              variables: Mapping[str, str]) -> None:
    """A baseline caller, with the scripted caller as the other half like the pln123
    pass's (tools.demo.stack.Stack.call), into the baseline's context."""
    reply = session.action("Originate", {
        "Channel": f"Local/{area_code}123@{CONTEXT}",
        "Context": "test-caller", "Exten": "s", "Priority": "1",
        "CallerID": f'"Pelanggan" <{number}>', "Async": "true",
        "Variable": variable_header(dict(variables))})
    if reply.get("Response") != "Success":
        raise StackError(f"Originate refused: {reply.get('Message')}")

