"""Prompts then the hold music: one GOSUB once Asterisk has shown the hold subroutine, the
two commands before that or when it is missing (tests/e2e/test_waiting_asterisk.py plays
the GOSUB on the sandbox)."""

from __future__ import annotations

from typing import Any

import pytest
from structlog.testing import capture_logs
from twisted.internet.defer import Deferred, fail, succeed

from ivr.ami.errors import AMIActionError, AMITimeout
from ivr.ami.message import Message
from ivr.ami.protocol import ListResult
from ivr.dialplan.names import HOLD_CONTEXT
from ivr.engine.hold import HoldMusic
from tests.doubles.ivr import HangUp, ScriptedChannel

FILES = ["pln123/queue-position", "pln123/num-3"]


class Dialplan:
    """Answers ShowDialPlan as Asterisk does: the priorities, or an error."""

    def __init__(self, answer: ListResult | Exception):
        self.answer = answer
        self.asked: list[tuple[str, dict[str, str] | None]] = []

    def send_list_action(self, action: str, fields: dict[str, str] | None = None,
                         timeout: float | None = None) -> Deferred[ListResult]:
        self.asked.append((action, fields))
        if isinstance(self.answer, Exception):
            return fail(self.answer)
        return succeed(self.answer)


def listed(*priorities: str) -> ListResult:
    return ListResult(Message([("Response", "Success"), ("EventList", "start")]),
                      [Message([("Event", "ListDialplan"), ("Context", HOLD_CONTEXT),
                                ("Extension", "s"), ("Priority", p)]) for p in priorities])


def missing() -> AMIActionError:
    return AMIActionError("ShowDialPlan", Message([
        ("Response", "Error"), ("Message", f"Did not find context {HOLD_CONTEXT}")]))


def played(hold: HoldMusic, channel: ScriptedChannel) -> list[tuple[str, tuple[Any, ...]]]:
    results: list[object] = []
    hold.play(channel, FILES).addBoth(results.append)
    assert results and not isinstance(results[0], Exception), results
    return channel.commands


def test_until_asterisk_was_asked_two_commands() -> None:
    assert played(HoldMusic(), ScriptedChannel([])) == [
        ("EXEC", ("Playback", "pln123/queue-position&pln123/num-3")),
        ("EXEC", ("StartMusicOnHold", "default")),
    ]


def test_one_gosub_once_the_dialplan_has_the_subroutine() -> None:
    hold, dialplan = HoldMusic(), Dialplan(listed("1", "2", "3"))
    hold.resync(dialplan)
    assert dialplan.asked == [("ShowDialPlan", {"Context": HOLD_CONTEXT, "Extension": "s"})]
    assert played(hold, ScriptedChannel([])) == [
        ("GOSUB", (HOLD_CONTEXT, "s", 1, "pln123/queue-position&pln123/num-3,default")),
    ]


def test_a_caller_who_may_be_bridged_meanwhile_gets_two_commands_anyway() -> None:
    # A bridge pulling the channel out of a running subroutine is what Asterisk handles
    # worst: the position announcements keep Playback and StartMusicOnHold.
    hold = HoldMusic()
    hold.resync(Dialplan(listed("1")))
    channel = ScriptedChannel([])
    hold.play(channel, FILES, may_be_bridged=True)
    assert [args[0] for _, args in channel.commands] == ["Playback", "StartMusicOnHold"]


@pytest.mark.parametrize("answer", [missing(), AMITimeout("ShowDialPlan: no answer in 10s"),
                                    listed()])
def test_a_dialplan_without_it_keeps_two_commands_and_says_why(
        answer: ListResult | Exception) -> None:
    hold = HoldMusic()
    hold.resync(Dialplan(listed("1")))
    with capture_logs() as logs:
        hold.resync(Dialplan(answer))   # the next login: an old dialplan was reloaded
    assert not hold.subroutine
    assert [entry["event"] for entry in logs] == ["hold_subroutine_missing"]
    assert "pln123 dialplan render" in logs[0]["hint"]
    assert [name for name, _ in played(hold, ScriptedChannel([]))] == ["EXEC", "EXEC"]


def test_the_gosub_is_given_a_command_timeout_per_file() -> None:
    hold = HoldMusic()
    hold.resync(Dialplan(listed("1")))
    timeouts: list[float | None] = []

    class Timed(ScriptedChannel):
        def execute(self, command: str, *args: Any, timeout: float | None = None
                    ) -> Deferred[Any]:
            timeouts.append(timeout)
            return super().execute(command, *args, timeout=timeout)

    played(hold, Timed([], command_timeout=20.0))
    assert timeouts == [40.0]


@pytest.mark.parametrize("name", ["", "a&b", "a,b"])
def test_a_file_name_that_would_split_the_arguments_is_refused(name: str) -> None:
    hold = HoldMusic()
    with pytest.raises(ValueError, match="sound file"):
        hold.play(ScriptedChannel([]), [name])
    with pytest.raises(ValueError, match="no sound file to play"):
        hold.play(ScriptedChannel([]), [])


def test_a_caller_who_hangs_up_during_the_prompt_gets_no_music() -> None:
    channel = ScriptedChannel([HangUp(at_prompt=True)])
    failures: list[object] = []
    HoldMusic().play(channel, FILES).addErrback(failures.append)
    assert len(failures) == 1
    assert channel.commands == [("EXEC", ("Playback", "pln123/queue-position&pln123/num-3"))]
