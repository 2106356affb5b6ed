"""What a waiting caller hears, on the sandbox Asterisk: `announce` and `farewell` over the
caller's AsyncAGI session really play (Asterisk reports each command, AGIExecEnd, and each
STREAM FILE's end position, AsyncAGIExec; Playback's PLAYBACKSTATUS) and `farewell` ends
the call."""

from __future__ import annotations

from urllib.parse import unquote

import pytest
import pytest_twisted

from ivr.ami import AGISession, AsyncAGIRouter, Message
from ivr.callcontrol.telephony import AMITelephony
from ivr.dialplan.names import HOLD_CONTEXT
from ivr.engine.hold import HoldMusic
from ivr.prompts.numbers import say_digits, say_number
from tests.harness.ami import connect, originate_caller
from tests.harness.reactor import clock, poll, within
from tools.sandbox import Instance

pytestmark = pytest.mark.asterisk


def stream(*prompts: str) -> list[str]:
    return [f'STREAM FILE "pln123/{prompt}" ""' for prompt in prompts]


@pytest_twisted.ensureDeferred
async def test_announce_and_farewell_play_then_hang_up(asterisk_site: Instance) -> None:
    service = await connect(asterisk_site)
    sessions: list[AGISession] = []
    router = AsyncAGIRouter(service, service.dispatcher, clock(), sessions.append)
    telephony = AMITelephony(service, router.sessions, clock(),
                             callback_dial="Local/{number}@test-answer")
    commands: list[Message] = []
    results: list[tuple[str, str]] = []  # (channel, result): other tests' callers may linger
    admin = await connect(asterisk_site, user="sandbox-admin", events="agi")
    admin.dispatcher.subscribe("AGIExecEnd", commands.append)  # not sent to pln123's user
    service.dispatcher.subscribe("AsyncAGIExec",
                                 lambda m: results.append((m.get("Channel") or "",
                                                           unquote(m.get("Result") or ""))))
    try:
        await originate_caller(service, "0711301", variables={"HOLD": "30"})
        await poll(lambda: bool(sessions), 10, "the caller in AsyncAGI")
        session = sessions[0]
        await within(telephony.announce(session.channel, 3, 120.0, "id"), 30, "announce")
        status = await service.send_action("Getvar", {"Channel": session.channel,
                                                      "Variable": "PLAYBACKSTATUS"})
        assert status.get("Value") == "SUCCESS"   # every file of the announcement played
        await within(telephony.farewell(session.channel, ["goodbye", "pln-mobile"], "id", "12"),
                     30, "farewell")
        await within(session.when_ended(), 5, "the caller hung up")
        # The admin's connection sees the AGIExecEnd events on its own schedule.
        await poll(lambda: any(m.get("Command") == "HANGUP" for m in commands), 5,
                   "the HANGUP command's AGIExecEnd")
        heard = [m.get("Command") for m in commands if m.get("Channel") == session.channel]
        assert heard == [
            'EXEC "Playback" "{}"'.format("&".join(
                f"pln123/{p}" for p in ("queue-position", *say_number(3, "id"), "queue-wait",
                                        *say_number(2, "id"), "queue-minutes"))),
            'EXEC "StartMusicOnHold" "default"',
            *stream("goodbye", "pln-mobile", *say_digits("12", "id")),
            "HANGUP",
        ]
        assert all(m.get("ResultCode") == "200" for m in commands)
        played = [r for ch, r in results if ch == session.channel and "endpos=" in r]
        assert len(played) == 4     # every STREAM FILE of the farewell played something
        assert all(int(r.split("endpos=")[1].split()[0]) > 0 for r in played), played
    finally:
        router.close()
        await service.stopService()
        await admin.stopService()


@pytest_twisted.ensureDeferred
async def test_the_hold_subroutine_plays_then_starts_the_music(asterisk_site: Instance) -> None:
    """After the login check, prompts then music (the hand-off's) are one GOSUB into the
    rendered hold context: Asterisk plays the files, starts the music on hold and returns
    to the caller's AGI. A position announcement, which a bridge may interrupt, stays two
    commands."""
    service = await connect(asterisk_site)
    sessions: list[AGISession] = []
    router = AsyncAGIRouter(service, service.dispatcher, clock(), sessions.append)
    hold = HoldMusic()
    telephony = AMITelephony(service, router.sessions, clock(),
                             callback_dial="Local/{number}@test-answer", hold=hold)
    commands: list[Message] = []
    music: list[Message] = []
    admin = await connect(asterisk_site, user="sandbox-admin", events="agi,call")
    admin.dispatcher.subscribe("AGIExecEnd", commands.append)  # not sent to pln123's user
    admin.dispatcher.subscribe("MusicOnHoldStart", music.append)
    try:
        assert service.protocol is not None
        await within(hold.resync(service.protocol), 10, "the ShowDialPlan check")
        assert hold.subroutine   # the sandbox's dialplan is rendered by this tree
        await originate_caller(service, "0711301", variables={"HOLD": "30"})
        await poll(lambda: bool(sessions), 10, "the caller in AsyncAGI")
        session = sessions[0]
        await within(hold.play(session, ["pln123/transfer-agent"]), 30, "the hold GOSUB")
        await poll(lambda: any(m.get("Channel") == session.channel for m in music), 5,
                   "MusicOnHoldStart on the caller's channel")
        status = await service.send_action("Getvar", {"Channel": session.channel,
                                                      "Variable": "PLAYBACKSTATUS"})
        assert status.get("Value") == "SUCCESS"   # the prompt played
        # Back in AGI after the subroutine: the next commands run.
        await within(telephony.announce(session.channel, 3, None, "id"), 30, "announce")
        await within(session.hangup(), 10, "HANGUP")
        await poll(lambda: any(m.get("Command") == "HANGUP" for m in commands), 5,
                   "the HANGUP command's AGIExecEnd")
        heard = [m for m in commands if m.get("Channel") == session.channel]
        announcement = "&".join(f"pln123/{p}" for p in ("queue-position", *say_number(3, "id")))
        assert [m.get("Command") for m in heard] == [
            f'GOSUB "{HOLD_CONTEXT}" "s" "1" "pln123/transfer-agent,default"',
            f'EXEC "Playback" "{announcement}"',
            'EXEC "StartMusicOnHold" "default"',
            "HANGUP",
        ]
        assert all(m.get("ResultCode") == "200" for m in heard)
    finally:
        router.close()
        await service.stopService()
        await admin.stopService()
