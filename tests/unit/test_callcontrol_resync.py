"""Adopting AsyncAGI channels after a reconnect, on a StringTransport with a Clock."""

from __future__ import annotations

from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport

from ivr.ami import AGISession, AsyncAGIRouter, EventDispatcher, Message
from ivr.ami.protocol import AMIProtocol
from ivr.callcontrol.resync import AsyncAGIResync


def test_unknown_async_agi_channels_are_adopted_and_dead_sessions_ended() -> None:
    clock = Clock()
    dispatcher = EventDispatcher()
    protocol = AMIProtocol(clock, dispatcher)
    transport = StringTransport()
    protocol.makeConnection(transport)
    adopted: list[AGISession] = []
    router = AsyncAGIRouter(protocol, dispatcher, clock, lambda s: None)
    stale = router.adopt("Local/0711123@x-00000009;2", "9.9", {})
    known = router.adopt("Local/0711123@x-00000002;2", "2.2", {})
    resync = AsyncAGIResync(router, adopted.extend)

    done = resync(protocol)
    action = Message.from_wire(transport.value().rstrip())
    assert action["Action"] == "CoreShowChannels"
    action_id = action["ActionID"]

    def send(*lines: str) -> None:
        protocol.dataReceived(("\r\n".join(lines) + "\r\n\r\n").encode())

    send("Response: Success", f"ActionID: {action_id}", "EventList: start")
    send("Event: CoreShowChannel", f"ActionID: {action_id}",
         "Channel: Local/0711123@x-00000001;2", "Uniqueid: 1.1", "Application: AGI",
         "ApplicationData: agi:async,0711,palembang", "CallerIDNum: 0811223344",
         "Exten: s")
    send("Event: CoreShowChannel", f"ActionID: {action_id}",
         "Channel: Local/0711123@x-00000002;2", "Uniqueid: 2.2", "Application: AGI",
         "ApplicationData: agi:async,0711,palembang", "CallerIDNum: 0811000002", "Exten: s")
    send("Event: CoreShowChannel", f"ActionID: {action_id}",
         "Channel: PJSIP/1001-00000003", "Uniqueid: 3.3", "Application: Dial",
         "ApplicationData: PJSIP/1001", "CallerIDNum: 1001", "Exten: s")
    send("Event: CoreShowChannel", f"ActionID: {action_id}",
         "Channel: Local/0711123@x-00000004;2", "Uniqueid: 4.4",
         "Application: StartMusicOnHold", "ApplicationData: default", "Context: pln123-ivr",
         "CallerIDNum: 0811000004", "Exten: s")
    send("Event: CoreShowChannel", f"ActionID: {action_id}",
         "Channel: Local/0711123@x-00000005;2", "Uniqueid: 5.5", "Application: Answer",
         "ApplicationData: ", "Context: pln123-ivr", "CallerIDNum: 0811000005", "Exten: s")
    send("Event: CoreShowChannel", f"ActionID: {action_id}",
         "Channel: Local/0711123@x-00000006;2", "Uniqueid: 6.6", "Application: Dial",
         "ApplicationData: IAX2/pln-jakarta/ivr-0711,10", "Context: pln123-ivr",
         "CallerIDNum: 0811000006", "Exten: s")
    send("Event: CoreShowChannelsComplete", f"ActionID: {action_id}",
         "EventList: Complete", "ListItems: 6")
    assert done.called
    # In AGI itself, and in the IVR context after an AGI EXEC (hold music); not one
    # still answering, nor one the heartbeat check sent on to the hub (Dial).
    assert [s.channel for s in adopted] == ["Local/0711123@x-00000001;2",
                                           "Local/0711123@x-00000004;2"]
    session = adopted[0]
    assert session.env["agi_arg_1"] == "0711"
    assert session.env["agi_arg_2"] == "palembang"
    assert session.caller_number == "0811223344"
    assert router.sessions[session.channel] is session
    assert router.sessions[known.channel] is known  # already ours: left alone
    assert stale.ended and stale.channel not in router.sessions


def test_a_session_whose_name_came_back_after_an_asterisk_restart_is_replaced() -> None:
    """Asterisk numbers channels from 1 again after a restart: the name is a new caller's,
    the old session (another Uniqueid) is ended and the new caller adopted."""
    clock = Clock()
    dispatcher = EventDispatcher()
    protocol = AMIProtocol(clock, dispatcher)
    transport = StringTransport()
    protocol.makeConnection(transport)
    adopted: list[AGISession] = []
    router = AsyncAGIRouter(protocol, dispatcher, clock, lambda s: None)
    name = "Local/0711123@x-00000001;2"
    old = router.adopt(name, "1765000000.1", {})
    done = AsyncAGIResync(router, adopted.extend)(protocol)
    action_id = Message.from_wire(transport.value().rstrip())["ActionID"]
    for lines in (["Response: Success", f"ActionID: {action_id}", "EventList: start"],
                  ["Event: CoreShowChannel", f"ActionID: {action_id}", f"Channel: {name}",
                   "Uniqueid: 1765000999.1", "Application: AGI",
                   "ApplicationData: agi:async,0711,palembang", "CallerIDNum: 0811000001",
                   "Exten: s"],
                  ["Event: CoreShowChannelsComplete", f"ActionID: {action_id}",
                   "EventList: Complete", "ListItems: 1"]):
        protocol.dataReceived(("\r\n".join(lines) + "\r\n\r\n").encode())
    assert done.called
    assert old.ended
    [new] = adopted
    assert (new.channel, new.uniqueid) == (name, "1765000999.1")
    assert router.sessions[name] is new
