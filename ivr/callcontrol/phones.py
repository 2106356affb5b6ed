"""The agents' phones as Asterisk sees them: available, busy or unregistered.

Why: the ACD must not offer a caller to an agent whose phone is unplugged or busy with a
call of its own (every such caller would wait out a ring timeout). Asterisk tells: each
device's state changes arrive as `DeviceStateChange` (`PJSIP/1001: UNAVAILABLE`), and a
PJSIP phone's registration as `ContactStatus` (Removed, Unreachable, then Created or
Reachable again). Events lost while the link was down or pln123 was not running are
recovered by asking after every login (a resync hook): `PJSIPShowEndpoints` (each PJSIP
endpoint's aggregate state, contacts included, also for one that never registered) and
`DeviceStateList` (every other device Asterisk keeps a state for, IAX2 peers among them).
An event that arrives while those lists are read is newer than what they report: it wins.

What a state means for the ACD (`PhoneState`): NOT_INUSE and UNKNOWN are available (a
device Asterisk cannot judge behaves as before); INUSE, BUSY, RINGING, RINGINUSE and
ONHOLD are busy (the agent's own ACD call makes the phone busy too: they are not ready
then anyway); UNAVAILABLE and INVALID, or a removed or unreachable contact, are
unregistered. The rendered AORs hold one contact each (`max_contacts = 1`), so a removed
contact is the phone gone; a contact back restores what the device state says.

This module knows devices, not agents: whoever it reports to (`PhoneSink`; the ACD's
`acd.agents.phones.PhoneWatch`) maps a device to the agents whose phone it is.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Protocol

import structlog
from twisted.internet.defer import Deferred

from acd.telephony import WATCHED_TECHNOLOGIES, PhoneState
from ivr.ami.errors import AMIError
from ivr.ami.events import EventDispatcher
from ivr.ami.message import Message
from ivr.ami.protocol import AMIProtocol, ListResult

log = structlog.get_logger("ivr.callcontrol.phones")

# Device states, as DeviceStateChange spells them (NOT_INUSE) and as the PJSIP endpoint
# list does (Not in use): compared without case, spaces, '_' or '+'.
_STATES: dict[str, PhoneState] = {
    "NOTINUSE": PhoneState.AVAILABLE,
    "UNKNOWN": PhoneState.AVAILABLE,
    "INUSE": PhoneState.BUSY,
    "BUSY": PhoneState.BUSY,
    "RINGING": PhoneState.BUSY,
    "RINGINUSE": PhoneState.BUSY,
    "ONHOLD": PhoneState.BUSY,
    "UNAVAILABLE": PhoneState.UNREGISTERED,
    "INVALID": PhoneState.UNREGISTERED,
}
_CONTACT_GONE = frozenset({"removed", "unreachable"})
_CONTACT_BACK = frozenset({"created", "reachable", "updated", "nonqualified"})


class PhoneSink(Protocol):
    def changed(self, device: str, state: PhoneState) -> None:
        """`device` (e.g. `PJSIP/1001`) is now `state`."""

    def snapshot(self, states: Mapping[str, PhoneState]) -> None:
        """Every device Asterisk reported after a login; a device not in it is unknown
        (available)."""

    def stop(self) -> None:
        """Nothing more will be reported: drop what is still pending."""


def phone_state(device_state: str) -> PhoneState | None:
    """The PhoneState of an Asterisk device state string; None for one not known here."""
    key = device_state.upper().replace(" ", "").replace("_", "").replace("+", "")
    return _STATES.get(key)


def device_name(device: str) -> str:
    """A device's name as compared here: the technology upper-case (`pjsip/1001` is
    `PJSIP/1001`), the resource as it is."""
    tech, sep, resource = device.partition("/")
    return f"{tech.upper()}{sep}{resource}"


class PhoneMonitor:
    """Follows the devices' states over one site's AMI link and reports them to `sink`."""

    def __init__(self, dispatcher: EventDispatcher, sink: PhoneSink):
        self.sink = sink
        self._device: dict[str, PhoneState] = {}   # device state, as last reported
        self._contact_gone: set[str] = set()       # PJSIP devices whose contact went
        self._touched: set[str] | None = None      # devices changed during a resync
        self.resyncs = 0                            # completed (for tests and logs)
        self.subscriptions = [dispatcher.subscribe("DeviceStateChange", self._device_event),
                              dispatcher.subscribe("ContactStatus", self._contact_event)]

    def stop(self) -> None:
        """Stop following the devices (the site stops)."""
        for subscription in self.subscriptions:
            subscription.cancel()
        self.sink.stop()

    def state(self, device: str) -> PhoneState:
        """The device's state as this monitor knows it (unknown: available)."""
        name = device_name(device)
        if name in self._contact_gone:
            return PhoneState.UNREGISTERED
        return self._device.get(name, PhoneState.AVAILABLE)

    # -- events ------------------------------------------------------------------------

    def _device_event(self, event: Message) -> None:
        device, state = event.get("Device") or "", phone_state(event.get("State") or "")
        name = device_name(device)
        if name.partition("/")[0] not in WATCHED_TECHNOLOGIES or state is None:
            return  # a Local channel's "device" says nothing about a phone

        def record() -> None:
            self._device[name] = state

        self._update(name, record)

    def _contact_event(self, event: Message) -> None:
        endpoint = event.get("EndpointName") or event.get("AOR") or ""
        status = (event.get("ContactStatus") or "").lower()
        if not endpoint:
            return
        name = device_name(f"PJSIP/{endpoint}")
        if status in _CONTACT_GONE:
            self._update(name, lambda: self._contact_gone.add(name))
        elif status in _CONTACT_BACK:
            self._update(name, lambda: self._contact_gone.discard(name))

    def _update(self, name: str, change: Callable[[], object]) -> None:
        before = self.state(name)
        change()
        if self._touched is not None:
            self._touched.add(name)
        after = self.state(name)
        if after is not before:
            log.info("phone_state", device=name, before=before.value, after=after.value)
            self.sink.changed(name, after)

    # -- after every login ---------------------------------------------------------------

    def __call__(self, protocol: AMIProtocol) -> Deferred[None]:
        """As an AMIService resync hook: read every device's state again."""
        return Deferred.fromCoroutine(self.resync(protocol))

    async def resync(self, protocol: AMIProtocol) -> None:
        self._touched = set()
        try:
            endpoints = await _items(protocol.send_list_action("PJSIPShowEndpoints"),
                                     "PJSIPShowEndpoints")
            devices = await _items(protocol.send_list_action("DeviceStateList"),
                                   "DeviceStateList")
        finally:
            touched, self._touched = self._touched, None
        if endpoints is None and devices is None:
            return  # Asterisk answered neither: what is known stays
        reported: dict[str, PhoneState] = {}
        for item in devices or []:
            state = phone_state(item.get("State") or "")
            name = device_name(item.get("Device") or "")
            if state is not None and name.partition("/")[0] in WATCHED_TECHNOLOGIES:
                reported[name] = state
        for item in endpoints or []:   # a PJSIP endpoint's aggregate state (contacts too)
            state = phone_state(item.get("DeviceState") or "")
            name = item.get("ObjectName") or ""
            if state is not None and name:
                reported[device_name(f"PJSIP/{name}")] = state
        for name in set(self._device) | set(reported) | self._contact_gone:
            if name in touched:
                continue
            if name in reported:
                self._device[name] = reported[name]
            else:
                self._device.pop(name, None)
            self._contact_gone.discard(name)
        self.resyncs += 1
        states = {name: self.state(name) for name in self._device.keys() | self._contact_gone}
        log.info("phone_states_read", devices=len(states),
                 unavailable=sorted(n for n, s in states.items()
                                    if s is not PhoneState.AVAILABLE)[:20])
        self.sink.snapshot(states)



async def _items(asked: Deferred[ListResult], action: str) -> list[Message] | None:
    """The items of a list action; None if Asterisk refused it or did not answer (a module
    not loaded: that kind of device is simply not reported)."""
    try:
        result = await asked
    except AMIError as error:
        log.warning("phone_states_not_read", action=action, error=str(error))
        return None
    return [item for item in result.events if item.event]
