"""Devices' states to agents' phones: which agent, one write at a time, retried, re-read."""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import Deferred, fail
from twisted.internet.task import Clock

from acd.agents.phones import RETRY_S, PhoneWatch, device_of, unreachable
from acd.telephony import PhoneState

AVAILABLE, BUSY, UNREGISTERED = PhoneState.AVAILABLE, PhoneState.BUSY, PhoneState.UNREGISTERED
ROSTER = {"1001": "PJSIP/1001", "1002": "PJSIP/1002", "2001": "Local/2001@agents",
          "3001": "IAX2/far/3001", "4001": ""}


class Writes:
    """The writes PhoneWatch asks for; each stays in flight until the test ends it."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, PhoneState, Deferred[Any]]] = []
        self.failing = False

    def __call__(self, agent: str, state: PhoneState) -> Deferred[Any]:
        if self.failing:
            self.asked.append((agent, state, fail(RuntimeError("redis down"))))
            return self.asked[-1][2]
        d: Deferred[Any] = Deferred()
        self.asked.append((agent, state, d))
        return d

    def finish_all(self) -> None:
        for _agent, _state, d in self.asked:
            if not d.called:
                d.callback(None)

    def seen(self) -> list[tuple[str, PhoneState]]:
        return [(agent, state) for agent, state, _ in self.asked]


def watch(clock: Clock | None = None) -> tuple[PhoneWatch, Writes]:
    writes = Writes()
    return PhoneWatch(lambda: ROSTER, writes, clock or Clock()), writes


def test_the_device_of_a_dial_string() -> None:
    assert device_of("PJSIP/1001") == "PJSIP/1001"
    assert device_of("pjsip/1001") == "PJSIP/1001"
    assert device_of("PJSIP/agent@1001") == "PJSIP/1001"
    assert device_of("IAX2/far/3001") == "IAX2/far"
    assert device_of("Local/2001@agents") is None
    assert device_of("PJSIP/") is None
    assert device_of("nonsense") is None


def test_only_ready_agents_with_a_phone_down_are_unreachable() -> None:
    states = {"1001": "ready", "1002": "ready", "1003": "on_call", "1004": "ready"}
    phones = {"1001": "unregistered", "1003": "busy", "1004": "available"}
    assert unreachable(states, phones) == frozenset({"1001"})


def test_a_device_change_goes_to_the_agent_whose_phone_it_is() -> None:
    phones, writes = watch()
    phones.changed("PJSIP/1002", UNREGISTERED)
    phones.changed("IAX2/far", BUSY)
    phones.changed("PJSIP/9999", UNREGISTERED)     # nobody's phone
    phones.changed("Local/2001@agents", BUSY)      # a Local channel has no phone state
    assert writes.seen() == [("1002", UNREGISTERED), ("3001", BUSY)]


def test_one_write_per_agent_at_a_time_and_the_latest_state_last() -> None:
    phones, writes = watch()
    phones.changed("PJSIP/1001", BUSY)
    phones.changed("PJSIP/1001", AVAILABLE)
    phones.changed("PJSIP/1001", UNREGISTERED)
    assert writes.seen() == [("1001", BUSY)]
    writes.asked[0][2].callback(None)
    assert writes.seen() == [("1001", BUSY), ("1001", UNREGISTERED)]
    writes.finish_all()
    phones.changed("PJSIP/1001", UNREGISTERED)     # already written
    assert len(writes.asked) == 2
    assert phones.state_of("1001") is UNREGISTERED


def test_a_change_back_before_the_write_ends_is_written_too() -> None:
    phones, writes = watch()
    phones.changed("PJSIP/1001", BUSY)
    phones.changed("PJSIP/1001", AVAILABLE)
    writes.finish_all()
    assert writes.seen() == [("1001", BUSY), ("1001", AVAILABLE)]
    writes.finish_all()
    assert phones.state_of("1001") is AVAILABLE


def test_a_failed_write_is_retried_later_not_at_once() -> None:
    clock = Clock()
    phones, writes = watch(clock)
    writes.failing = True
    phones.changed("PJSIP/1001", UNREGISTERED)
    assert len(writes.asked) == 1
    assert phones.state_of("1001") is None
    writes.failing = False
    clock.advance(RETRY_S - 0.1)
    assert len(writes.asked) == 1
    clock.advance(0.1)
    assert writes.seen()[-1] == ("1001", UNREGISTERED)
    writes.finish_all()
    assert phones.state_of("1001") is UNREGISTERED
    assert clock.getDelayedCalls() == []


def test_stop_cancels_a_pending_retry() -> None:
    clock = Clock()
    phones, writes = watch(clock)
    writes.failing = True
    phones.changed("PJSIP/1001", UNREGISTERED)
    phones.stop()
    assert clock.getDelayedCalls() == []


def test_the_snapshot_writes_every_agent_again_unknown_devices_available() -> None:
    phones, writes = watch()
    phones.changed("PJSIP/1001", UNREGISTERED)
    writes.finish_all()
    phones.snapshot({"PJSIP/1002": BUSY})
    writes.finish_all()
    assert sorted(writes.seen()[1:]) == sorted([
        ("1001", AVAILABLE), ("1002", BUSY), ("2001", AVAILABLE), ("3001", AVAILABLE),
        ("4001", AVAILABLE)])


def test_the_snapshot_rewrites_a_state_this_process_wrote_already() -> None:
    phones, writes = watch()
    phones.changed("PJSIP/1001", UNREGISTERED)
    writes.finish_all()
    phones.snapshot({"PJSIP/1001": UNREGISTERED})
    assert ("1001", UNREGISTERED) in writes.seen()[1:]  # Redis may have been changed since
