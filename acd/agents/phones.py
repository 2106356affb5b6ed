"""Agents' phones: a ready agent whose phone cannot take a call is offered none.

Why: the ACD offered callers to an agent whose phone was unplugged or busy with a call of
its own, and each such caller waited out a ring timeout. Telephony reports each device's
state as it changes, and every device's after each (re)connect (`PhoneState`); this module
maps a device to the agents whose phone it is (the roster's endpoints) and writes the
change with the agent in Redis (`Distributor.phone_changed`). There the pool's script
takes a ready agent whose phone is not available out of the ready sets, and puts them back
at their place in line when it is available again (acd/queues/lua/phones.lua).

Why out of the ready sets rather than a check at each offer: the sets are what every
decision reads (the longest-idle agent is the first member; a site's reserve and its
loans count the members), so a phone going away changes one thing once, and the hot path
(an offer is one ZRANGE) stays as it is. The agent stays ready: nothing in the lifecycle
changes, and the figures count them apart (`unreachable`).

Redis keeps the state with the agent, so another process of the site and a restarted
pln123 find it; the full report after each connect corrects what changed while nobody
listened. Writes for one agent go one at a time, the latest state last (two batches in
flight may run in either order). Agents whose phone telephony cannot watch (a Local
channel: the tests, the demo) have no device and are always available, as before.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import structlog
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.python.failure import Failure

from acd.telephony import WATCHED_TECHNOLOGIES, PhoneState

log = structlog.get_logger("acd.agents.phones")

RETRY_S = 5.0                        # a write that failed is tried again after this


def device_of(endpoint: str) -> str | None:
    """The device whose state tells whether the phone at `endpoint` (a dial string) can
    take a call: `PJSIP/1001` for `PJSIP/1001`, `IAX2/peer` for `IAX2/peer/1001`; None
    for a technology without a watched device (Local)."""
    tech, sep, rest = endpoint.partition("/")
    if not sep or tech.upper() not in WATCHED_TECHNOLOGIES:
        return None
    resource = rest.split("/", 1)[0].rsplit("@", 1)[-1]
    return f"{tech.upper()}/{resource}" if resource else None


def unreachable(states: Mapping[str, str], phones: Mapping[str, str]) -> frozenset[str]:
    """The ready agents (agent id -> status, the site's agents hash) whose phone is not
    available (agent id -> phone state, the site's phones hash): no caller is offered to
    them, so no figure counts them ready."""
    return frozenset(agent for agent, phone in phones.items()
                     if phone != PhoneState.AVAILABLE.value and states.get(agent) == "ready")


class PhoneWatch:
    """Receives devices' states from telephony and writes them with the agents in Redis.

    `phones()`: the site's agents and their endpoints now (the roster, reloads included);
    `change(agent, state)`: the write (the distributor's, which also rings a call the
    agent took when their phone came back).
    """

    def __init__(self, phones: Callable[[], Mapping[str, str]],
                 change: Callable[[str, PhoneState], Deferred[Any]],
                 clock: IReactorTime):
        self.phones = phones
        self.change = change
        self.clock = clock
        self._written: dict[str, PhoneState] = {}  # agent -> what Redis was last told
        self._wanted: dict[str, PhoneState] = {}   # agent -> what it should be told
        self._writing: set[str] = set()            # agents with a write in flight
        self._retries: dict[str, IDelayedCall] = {}

    def agents_of(self, device: str) -> list[str]:
        """The agents whose phone is `device`."""
        return [agent for agent, endpoint in self.phones().items()
                if endpoint and device_of(endpoint) == device]

    def state_of(self, agent_id: str) -> PhoneState | None:
        """What Redis was last told about the agent's phone by this process (None: not
        yet)."""
        return self._written.get(agent_id)

    def changed(self, device: str, state: PhoneState) -> None:
        """Telephony: `device` is now `state`."""
        if device.partition("/")[0] not in WATCHED_TECHNOLOGIES:
            return
        for agent in self.agents_of(device):
            self._want(agent, state)

    def snapshot(self, states: Mapping[str, PhoneState]) -> None:
        """Telephony, after a (re)connect: every device's state; a device not in it is
        unknown, so available. Every agent of the roster is written again (a state Redis
        kept from before, or another process wrote, may be stale)."""
        for agent, endpoint in self.phones().items():
            device = device_of(endpoint) if endpoint else None
            state = states.get(device, PhoneState.AVAILABLE) if device else PhoneState.AVAILABLE
            self._written.pop(agent, None)
            self._want(agent, state)

    def stop(self) -> None:
        for retry in self._retries.values():
            if retry.active():
                retry.cancel()
        self._retries.clear()

    def _want(self, agent: str, state: PhoneState) -> None:
        self._wanted[agent] = state
        if agent in self._writing or self._written.get(agent) is state:
            return  # a write in flight: the latest is written once it is done
        self._write(agent, state)

    def _write(self, agent: str, state: PhoneState) -> None:
        self._writing.add(agent)
        retry = self._retries.pop(agent, None)
        if retry is not None and retry.active():
            retry.cancel()

        def written(_: object) -> None:
            self._written[agent] = state
            self._next(agent)

        def failed(failure: Failure) -> None:
            log.error("phone_state_not_written", agent_id=agent, phone=state.value,
                      error=failure.getErrorMessage())
            self._written.pop(agent, None)
            self._writing.discard(agent)
            self._retries[agent] = self.clock.callLater(RETRY_S, self._retry, agent)

        self.change(agent, state).addCallbacks(written, failed)

    def _next(self, agent: str) -> None:
        self._writing.discard(agent)
        wanted = self._wanted.get(agent)
        if wanted is not None and self._written.get(agent) is not wanted:
            self._write(agent, wanted)

    def _retry(self, agent: str) -> None:
        self._retries.pop(agent, None)
        wanted = self._wanted.get(agent)
        if wanted is not None and agent not in self._writing:
            self._write(agent, wanted)
