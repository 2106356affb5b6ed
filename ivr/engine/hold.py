"""Prompts, then the hold music: what a caller hears when handed to the queue, at each
position announcement and before a recorded conversation.

Done as two AGI commands (`EXEC Playback`, `EXEC StartMusicOnHold`) it costs pln123 two
actions, two responses and two AsyncAGIExec events, the largest share of what a waiting
caller costs it. The rendered dialplan's hold subroutine does both in one `GOSUB`. But an
AsyncAGI `GOSUB` into a context Asterisk does not have ends the caller's AGI, so pln123
uses it only once Asterisk has shown the context (`ShowDialPlan`, after every AMI login):
a dialplan not rendered again since an upgrade keeps the two commands, and says so in the
log.

Nor is it used where the caller may be bridged to an agent meanwhile (the position
announcements): AMI `Bridge` pulls the caller's channel out from under a running
subroutine, which Asterisk 22 reports as an "Abnormal AGI Gosub exit", and in a load test
of 1,000 concurrent callers, hundreds of such exits ended with Asterisk crashing once.
Pulling a channel out of a plain `EXEC Playback` is the path every AGI application has
always taken. The hand-off's prompt plays before the ACD knows the caller, and the
recording notice is awaited before the bridge, so neither can meet a bridge.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import structlog
from twisted.internet.defer import Deferred

from ivr.ami.agi import AGIResult, check_playback_files
from ivr.ami.errors import AMIError
from ivr.ami.protocol import ListResult
from ivr.dialplan.names import HOLD_CONTEXT, HOLD_MUSIC_CLASS
from ivr.engine.channel import CallChannel

log = structlog.get_logger("ivr.hold")

HOLD_EXTENSION, HOLD_PRIORITY = "s", 1


class DialplanReader(Protocol):
    def send_list_action(self, action: str, fields: dict[str, str] | None = None,
                         timeout: float | None = None) -> Deferred[ListResult]: ...


class HoldMusic:
    """Plays sound files, then starts the hold music, on a caller's AGI channel."""

    def __init__(self, music_class: str = HOLD_MUSIC_CLASS):
        self.music_class = music_class
        self.subroutine = False  # Asterisk showed HOLD_CONTEXT at the last login

    def play(self, channel: CallChannel, files: Sequence[str], *,
             may_be_bridged: bool = False) -> Deferred[AGIResult]:
        """`files` (names Playback takes, no `&` or `,`), then the music: one GOSUB when
        the dialplan has the subroutine and nothing may bridge the caller meanwhile
        (`may_be_bridged`: they wait in a queue), else Playback and StartMusicOnHold.
        Fails like the AGI commands do (AGIHangup when the caller left)."""
        check_playback_files(files)
        if self.subroutine and not may_be_bridged:
            return channel.execute("GOSUB", HOLD_CONTEXT, HOLD_EXTENSION, HOLD_PRIORITY,
                                   f"{'&'.join(files)},{self.music_class}",
                                   timeout=len(files) * channel.command_timeout)
        return Deferred.fromCoroutine(self._two_commands(channel, files))

    async def _two_commands(self, channel: CallChannel, files: Sequence[str]) -> AGIResult:
        await channel.playback(files)
        return await channel.execute("EXEC", "StartMusicOnHold", self.music_class)

    def resync(self, ami: DialplanReader) -> Deferred[None]:
        """An AMI resync hook: is the hold subroutine in Asterisk's dialplan (again)?"""
        return Deferred.fromCoroutine(self._check(ami))

    async def _check(self, ami: DialplanReader) -> None:
        try:
            listed = await ami.send_list_action("ShowDialPlan", {
                "Context": HOLD_CONTEXT, "Extension": HOLD_EXTENSION})
            found = bool(listed.events)
            error = "" if found else "no priorities listed"
        except AMIError as failure:  # "Did not find context", or no answer: assume the worst
            found, error = False, str(failure)
        if not found:
            log.warning("hold_subroutine_missing", context=HOLD_CONTEXT, error=error,
                        hint="render the dialplan again (pln123 dialplan render) and "
                             "reload it: until then every hold costs two AGI commands")
        self.subroutine = found
