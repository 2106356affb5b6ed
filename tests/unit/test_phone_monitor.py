"""The agents' phones as Asterisk reports them: events and the re-read after a login."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from twisted.internet.defer import Deferred, fail

from acd.telephony import PhoneState
from ivr.ami.errors import AMIActionError
from ivr.ami.events import EventDispatcher
from ivr.ami.message import Message
from ivr.ami.protocol import ListResult
from ivr.callcontrol.phones import PhoneMonitor, device_name, phone_state

AVAILABLE, BUSY, UNREGISTERED = PhoneState.AVAILABLE, PhoneState.BUSY, PhoneState.UNREGISTERED


class Sink:
    def __init__(self) -> None:
        self.changes: list[tuple[str, PhoneState]] = []
        self.snapshots: list[dict[str, PhoneState]] = []
        self.stopped = False

    def changed(self, device: str, state: PhoneState) -> None:
        self.changes.append((device, state))

    def snapshot(self, states: Mapping[str, PhoneState]) -> None:
        self.snapshots.append(dict(states))

    def stop(self) -> None:
        self.stopped = True


class Lists:
    """A protocol whose list actions the test answers (or refuses) by hand."""

    def __init__(self, refuse: tuple[str, ...] = ()) -> None:
        self.asked: dict[str, Deferred[ListResult]] = {}
        self.refuse = refuse

    def send_list_action(self, action: str, fields: Any = None,
                         timeout: float | None = None) -> Deferred[ListResult]:
        if action in self.refuse:
            return fail(AMIActionError(action, Message([("Response", "Error"),
                                                        ("Message", "Invalid/unknown command")])))
        self.asked[action] = Deferred()
        return self.asked[action]

    def answer(self, action: str, *items: list[tuple[str, str]]) -> None:
        self.asked[action].callback(ListResult(Message([("Response", "Success")]),
                                               [Message(item) for item in items]))


def event(name: str, **fields: str) -> Message:
    return Message([("Event", name), *fields.items()])


def device_change(device: str, state: str) -> Message:
    return event("DeviceStateChange", Device=device, State=state)


def monitor() -> tuple[PhoneMonitor, EventDispatcher, Sink]:
    dispatcher, sink = EventDispatcher(), Sink()
    return PhoneMonitor(dispatcher, sink), dispatcher, sink


@pytest.mark.parametrize(("text", "state"), [
    ("NOT_INUSE", AVAILABLE), ("UNKNOWN", AVAILABLE), ("Not in use", AVAILABLE),
    ("INUSE", BUSY), ("BUSY", BUSY), ("RINGING", BUSY), ("RINGINUSE", BUSY),
    ("Ring+Inuse", BUSY), ("ONHOLD", BUSY), ("On Hold", BUSY),
    ("UNAVAILABLE", UNREGISTERED), ("INVALID", UNREGISTERED), ("Unavailable", UNREGISTERED),
])
def test_asterisk_device_states_map_to_phone_states(text: str, state: PhoneState) -> None:
    assert phone_state(text) is state


def test_a_state_asterisk_never_sends_is_not_guessed() -> None:
    assert phone_state("SOMETHING_NEW") is None
    assert device_name("pjsip/1001") == "PJSIP/1001"


def test_a_device_change_is_reported_once_per_change() -> None:
    phones, dispatcher, sink = monitor()
    dispatcher.dispatch(device_change("PJSIP/1001", "UNAVAILABLE"))
    dispatcher.dispatch(device_change("PJSIP/1001", "INVALID"))       # still unregistered
    dispatcher.dispatch(device_change("PJSIP/1001", "NOT_INUSE"))
    dispatcher.dispatch(device_change("PJSIP/1001", "INUSE"))
    dispatcher.dispatch(device_change("PJSIP/1001", "RINGINUSE"))      # still busy
    assert sink.changes == [("PJSIP/1001", UNREGISTERED), ("PJSIP/1001", AVAILABLE),
                            ("PJSIP/1001", BUSY)]
    assert phones.state("pjsip/1001") is BUSY


def test_local_channels_and_unknown_states_are_ignored() -> None:
    phones, dispatcher, sink = monitor()
    dispatcher.dispatch(device_change("Local/1001@agents", "INUSE"))
    dispatcher.dispatch(device_change("PJSIP/1001", "WHATEVER"))
    dispatcher.dispatch(event("DeviceStateChange", State="INUSE"))
    assert sink.changes == []
    assert phones.state("Local/1001@agents") is AVAILABLE


def test_a_removed_contact_unregisters_until_it_is_back() -> None:
    phones, dispatcher, sink = monitor()
    dispatcher.dispatch(device_change("PJSIP/1001", "NOT_INUSE"))
    dispatcher.dispatch(event("ContactStatus", URI="sip:1001@10.0.0.5:5060",
                              ContactStatus="Removed", AOR="1001", EndpointName="1001"))
    assert phones.state("PJSIP/1001") is UNREGISTERED
    dispatcher.dispatch(event("ContactStatus", ContactStatus="Created", AOR="1001",
                              EndpointName="1001"))
    # NOT_INUSE was no change: a phone not heard of yet is available
    assert sink.changes == [("PJSIP/1001", UNREGISTERED), ("PJSIP/1001", AVAILABLE)]


def test_an_unreachable_contact_keeps_the_phone_down_while_asterisk_says_unavailable() -> None:
    phones, dispatcher, sink = monitor()
    dispatcher.dispatch(event("ContactStatus", ContactStatus="Unreachable", AOR="1002"))
    dispatcher.dispatch(device_change("PJSIP/1002", "UNAVAILABLE"))
    dispatcher.dispatch(event("ContactStatus", ContactStatus="Reachable", AOR="1002"))
    assert phones.state("PJSIP/1002") is UNREGISTERED  # the device state says so still
    dispatcher.dispatch(device_change("PJSIP/1002", "NOT_INUSE"))
    assert sink.changes == [("PJSIP/1002", UNREGISTERED), ("PJSIP/1002", AVAILABLE)]


def test_the_resync_reads_every_phone_and_forgets_what_asterisk_no_longer_has() -> None:
    phones, dispatcher, sink = monitor()
    dispatcher.dispatch(device_change("PJSIP/1003", "UNAVAILABLE"))   # stale: gone since
    dispatcher.dispatch(event("ContactStatus", ContactStatus="Removed", AOR="1004"))
    lists = Lists()
    done = phones(lists)  # type: ignore[arg-type]
    lists.answer("PJSIPShowEndpoints",
                 [("Event", "EndpointList"), ("ObjectName", "1001"),
                  ("DeviceState", "Unavailable")],
                 [("Event", "EndpointList"), ("ObjectName", "1002"),
                  ("DeviceState", "In use")],
                 [("Event", "EndpointList"), ("ObjectName", "1004"),
                  ("DeviceState", "Not in use")])
    lists.answer("DeviceStateList",
                 [("Event", "DeviceStateChange"), ("Device", "IAX2/far"),
                  ("State", "UNAVAILABLE")],
                 [("Event", "DeviceStateChange"), ("Device", "Custom:x"),
                  ("State", "INUSE")],
                 [("Event", "DeviceStateChange"), ("Device", "PJSIP/1001"),
                  ("State", "NOT_INUSE")])   # the endpoint list's aggregate wins
    assert done.called
    assert sink.snapshots == [{"PJSIP/1001": UNREGISTERED, "PJSIP/1002": BUSY,
                               "PJSIP/1004": AVAILABLE, "IAX2/far": UNREGISTERED}]
    assert phones.state("PJSIP/1003") is AVAILABLE
    assert phones.resyncs == 1


def test_an_event_during_the_resync_is_newer_than_the_lists() -> None:
    phones, dispatcher, sink = monitor()
    lists = Lists()
    phones(lists)  # type: ignore[arg-type]
    dispatcher.dispatch(device_change("PJSIP/1001", "UNAVAILABLE"))
    lists.answer("PJSIPShowEndpoints", [("Event", "EndpointList"), ("ObjectName", "1001"),
                                        ("DeviceState", "Not in use")])
    lists.answer("DeviceStateList")
    assert sink.snapshots == [{"PJSIP/1001": UNREGISTERED}]


def test_a_list_asterisk_refuses_leaves_the_other() -> None:
    phones, _dispatcher, sink = monitor()
    lists = Lists(refuse=("PJSIPShowEndpoints",))
    phones(lists)  # type: ignore[arg-type]
    lists.answer("DeviceStateList", [("Event", "DeviceStateChange"), ("Device", "PJSIP/9"),
                                     ("State", "INUSE")])
    assert sink.snapshots == [{"PJSIP/9": BUSY}]


def test_no_list_answered_changes_nothing() -> None:
    phones, dispatcher, sink = monitor()
    dispatcher.dispatch(device_change("PJSIP/1001", "UNAVAILABLE"))
    lists = Lists(refuse=("PJSIPShowEndpoints", "DeviceStateList"))
    phones(lists)  # type: ignore[arg-type]
    assert sink.snapshots == []
    assert phones.state("PJSIP/1001") is UNREGISTERED


def test_a_stopped_monitor_reports_nothing_more() -> None:
    phones, dispatcher, sink = monitor()
    phones.stop()
    dispatcher.dispatch(device_change("PJSIP/1001", "UNAVAILABLE"))
    assert sink.changes == [] and sink.stopped
