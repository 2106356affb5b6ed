"""AsyncAGI: result parsing, Env decoding, quoting, and sessions on a StringTransport."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure

from ivr.ami.agi import (
    AGICommandError,
    AGIHangup,
    AGIResult,
    AGISession,
    AGITimeout,
    AsyncAGIRouter,
    parse_agi_env,
    parse_agi_result,
    quote_agi_arg,
)
from ivr.ami.errors import AMIActionError, AMITimeout
from ivr.ami.events import EventDispatcher
from ivr.ami.message import Message
from ivr.ami.protocol import AMIProtocol

CHANNEL = "Local/0711123@pln-inbound-00000001;2"


# -- results --------------------------------------------------------------------------------


def test_get_data_digits() -> None:
    result = parse_agi_result("200 result=123456\n")
    assert (result.code, result.digits, result.timed_out) == (200, "123456", False)


def test_get_data_timeout_with_and_without_digits() -> None:
    partial = parse_agi_result("200 result=12 (timeout)\n")
    assert (partial.digits, partial.timed_out) == ("12", True)
    empty = parse_agi_result("200 result= (timeout)\n")
    assert (empty.digits, empty.timed_out) == ("", True)


def test_stream_file_endpos_and_pressed_digit() -> None:
    played = parse_agi_result("200 result=0 endpos=9120\n")
    assert played.fields == {"endpos": "9120"}
    assert played.digit is None
    pressed = parse_agi_result("200 result=49 endpos=3000\n")
    assert pressed.digit == "1"


def test_hangup_result() -> None:
    result = parse_agi_result("200 result=-1\n")
    assert result.failed and result.digits == ""


@pytest.mark.parametrize(
    ("raw", "code"),
    [("510 Invalid or unknown command\n", 510),
     ("511 Command Not Permitted on a dead channel or intercept routine\n", 511)],
)
def test_error_codes(raw: str, code: int) -> None:
    assert parse_agi_result(raw).code == code


def test_multiline_520_parses_last_line() -> None:
    raw = ("520-Invalid command syntax.  Proper usage follows:\n"
           " Usage: GET DATA <file to be streamed> [timeout] [maxdigits]\n"
           "520 End of proper usage.\n")
    result = parse_agi_result(raw)
    assert result.code == 520
    assert "Usage: GET DATA" in result.text


def test_gosub_100_then_200() -> None:
    result = parse_agi_result("100 result=0 Trying...\n200 result=0 Gosub complete\n")
    assert (result.code, result.result) == (200, "0")


def test_garbage_result() -> None:
    assert parse_agi_result("").code == 0


# -- env and quoting ------------------------------------------------------------------------

ENV_LINES = [
    "agi_request: async", f"agi_channel: {CHANNEL}", "agi_language: en",
    "agi_type: Local", "agi_uniqueid: 1700000000.12", "agi_version: 22.10.1",
    "agi_callerid: 0811223344", "agi_calleridname: Budi",
    "agi_callingpres: 0", "agi_dnid: unknown", "agi_context: pln-inbound",
    "agi_extension: 0711123", "agi_priority: 2", "agi_enhanced: 0.0",
    "agi_accountcode: ", "agi_threadid: 140000",
]


def encode_env(lines: list[str]) -> str:
    return quote("\n".join(lines) + "\n\n")


def test_env_is_url_decoded_utf8() -> None:
    lines = [line.replace("Budi", "Budi Santoso — Ñ") for line in ENV_LINES]
    env = parse_agi_env(encode_env(lines))
    assert env["agi_extension"] == "0711123"
    assert env["agi_calleridname"] == "Budi Santoso — Ñ"
    assert env["agi_channel"] == CHANNEL
    assert env["agi_accountcode"] == ""


def test_forged_env_lines_in_caller_name_cannot_override_real_ones() -> None:
    forged = ("Evil\nagi_channel: PJSIP/victim-1\nagi_uniqueid: 1\n"
              "agi_extension: 021123\nagi_context: admin")
    lines = [line.replace("Budi", forged) for line in ENV_LINES]
    env = parse_agi_env(encode_env(lines))
    assert env["agi_channel"] == CHANNEL
    assert env["agi_uniqueid"] == "1700000000.12"
    assert env["agi_extension"] == "0711123"
    assert env["agi_context"] == "pln-inbound"


@pytest.mark.parametrize(
    ("value", "quoted"),
    [("beep", '"beep"'), ("two words", '"two words"'), ('say "hi"', '"say \\"hi\\""'),
     ("back\\slash", '"back\\\\slash"'), ("", '""'), (5000, '"5000"')],
)
def test_quote_agi_arg(value: str | int, quoted: str) -> None:
    assert quote_agi_arg(value) == quoted


@pytest.mark.parametrize("bad", ["a\nb", "a\rb", "a\x00b"])
def test_quote_refuses_line_breaks(bad: str) -> None:
    with pytest.raises(ValueError):
        quote_agi_arg(bad)


# -- sessions -------------------------------------------------------------------------------


class Harness:
    def __init__(self) -> None:
        self.clock = Clock()
        self.dispatcher = EventDispatcher()
        self.protocol = AMIProtocol(self.clock, self.dispatcher, action_timeout=5)
        self.transport = StringTransport()
        self.protocol.makeConnection(self.transport)
        self.sessions: list[AGISession] = []
        self.router = AsyncAGIRouter(self.protocol, self.dispatcher, self.clock,
                                     self.sessions.append, command_timeout=10)

    def receive(self, *lines: str) -> None:
        self.protocol.dataReceived(("\r\n".join(lines) + "\r\n\r\n").encode())

    def sent(self) -> list[Message]:
        raw = self.transport.value()
        self.transport.clear()
        return [Message.from_wire(b) for b in raw.split(b"\r\n\r\n") if b]

    def start(self, channel: str = CHANNEL) -> AGISession:
        self.receive("Event: AsyncAGIStart", "Privilege: agi,all", f"Channel: {channel}",
                     "Uniqueid: 1700000000.12", f"Env: {encode_env(ENV_LINES)}")
        return self.sessions[-1]

    def queued(self, action: Message) -> None:
        self.receive("Response: Success", f"ActionID: {action['ActionID']}",
                     "Message: Added AGI original_command to queue")

    def executed(self, action: Message, result: str, channel: str = CHANNEL) -> None:
        self.receive("Event: AsyncAGIExec", f"Channel: {channel}",
                     f"CommandId: {action['CommandID']}", f"Result: {quote(result)}")


def outcome(d: Any) -> Any:
    box: list[Any] = []
    d.addBoth(box.append)
    assert box, "not fired"
    return box[0]


@pytest.fixture
def h() -> Harness:
    return Harness()


def test_session_created_from_async_agi_start(h: Harness) -> None:
    session = h.start()
    assert session.channel == CHANNEL
    assert session.extension == "0711123"
    assert session.caller_number == "0811223344"
    assert h.router.sessions[CHANNEL] is session


def test_playback_is_one_command_for_every_file(h: Harness) -> None:
    session = h.start()
    session.playback(["pln123/queue-position", "pln123/digits/3", "pln123/queue-minutes"])
    [action] = h.sent()
    assert action["Command"] == (
        'EXEC "Playback" "pln123/queue-position&pln123/digits/3&pln123/queue-minutes"')
    for bad in (["a&b"], ["a,skip"], [""]):
        with pytest.raises(ValueError):
            session.playback(bad)
    assert h.sent() == []   # nothing sent for a bad name


def test_command_correlated_by_command_id(h: Harness) -> None:
    session = h.start()
    first = session.stream_file("pln123/welcome", "0123456789*#")
    second = session.get_data("pln123/enter-idpel", 5000, 12)
    actions = h.sent()
    assert [a["Action"] for a in actions] == ["AGI", "AGI"]
    assert actions[0]["Channel"] == CHANNEL
    assert actions[0]["Command"] == 'STREAM FILE "pln123/welcome" "0123456789*#"'
    assert actions[1]["Command"] == 'GET DATA "pln123/enter-idpel" "5000" "12"'
    assert actions[0]["CommandID"] != actions[1]["CommandID"]
    for action in actions:
        h.queued(action)
    h.executed(actions[1], "200 result=5123 (timeout)\n")
    h.executed(actions[0], "200 result=0 endpos=1200\n")
    got_second: AGIResult = outcome(second)
    assert got_second.digits == "5123" and got_second.timed_out
    assert outcome(first).fields["endpos"] == "1200"
    assert session.pending_count() == 0


def test_caller_derived_argument_cannot_add_arguments(h: Harness) -> None:
    session = h.start()
    session.execute("SAY DIGITS", '123" "#', "")
    assert h.sent()[0]["Command"] == 'SAY DIGITS "123\\" \\"#" ""'


def test_5xx_results_fail_the_command(h: Harness) -> None:
    session = h.start()
    d = session.execute("NOT A COMMAND")
    action = h.sent()[0]
    h.executed(action, "510 Invalid or unknown command\n")
    failure: Failure = outcome(d)
    assert failure.check(AGICommandError)
    assert failure.value.result.code == 510


def test_async_agi_end_fails_every_pending_command(h: Harness) -> None:
    session = h.start()
    pending = [session.stream_file("a"), session.get_data("b", 3000, 1)]
    ended: list[str] = []
    session.when_ended().addCallback(ended.append)
    h.receive("Event: AsyncAGIEnd", f"Channel: {CHANNEL}")
    for d in pending:
        assert outcome(d).check(AGIHangup)
    assert ended == ["left AGI"]
    assert CHANNEL not in h.router.sessions
    assert session.pending_count() == 0
    late = session.stream_file("c")
    assert outcome(late).check(AGIHangup)


def test_hangup_fails_pending_command(h: Harness) -> None:
    session = h.start()
    d = session.get_data("pln123/menu", 5000, 1)
    h.receive("Event: Hangup", f"Channel: {CHANNEL}", "Cause: 16")
    assert outcome(d).check(AGIHangup)
    assert session.ended and session.end_reason == "hangup"


def test_command_timeout(h: Harness) -> None:
    session = h.start()
    d = session.execute("ANSWER", timeout=4)
    h.clock.advance(3.9)
    assert not d.called
    h.clock.advance(0.2)
    assert outcome(d).check(AGITimeout)


def test_get_data_timeout_covers_the_prompt_wait(h: Harness) -> None:
    session = h.start()
    d = session.get_data("pln123/menu", 20000, 1)
    h.queued(h.sent()[0])
    h.clock.advance(25)
    assert not d.called  # 20 s for the caller plus the router's 10 s margin
    h.clock.advance(6)
    assert outcome(d).check(AGITimeout)


def test_unacknowledged_agi_action_fails_the_command(h: Harness) -> None:
    session = h.start()
    d = session.get_data("pln123/menu", 20000, 1)
    h.clock.advance(5)  # the AMI action timeout, long before the AGI command timeout
    assert outcome(d).check(AMITimeout)
    assert session.pending_count() == 0


def test_agi_action_refused_fails_the_command(h: Harness) -> None:
    session = h.start()
    d = session.answer()
    action = h.sent()[0]
    h.receive("Response: Error", f"ActionID: {action['ActionID']}",
              "Message: Channel does not exist.")
    assert outcome(d).check(AMIActionError)
    assert session.pending_count() == 0


def test_result_for_unknown_channel_or_command_is_ignored(h: Harness) -> None:
    session = h.start()
    h.receive("Event: AsyncAGIExec", "Channel: PJSIP/other-1", "CommandId: x",
              "Result: 200%20result%3D0")
    h.receive("Event: AsyncAGIExec", f"Channel: {CHANNEL}", "CommandId: nope",
              "Result: 200%20result%3D0")
    assert not session.ended


def test_rename_keeps_the_session(h: Harness) -> None:
    session = h.start()
    h.receive("Event: Rename", f"Channel: {CHANNEL}", "Newname: PJSIP/renamed-1")
    assert session.channel == "PJSIP/renamed-1"
    d = session.answer()
    action = h.sent()[0]
    assert action["Channel"] == "PJSIP/renamed-1"
    h.executed(action, "200 result=0\n", channel="PJSIP/renamed-1")
    assert outcome(d).code == 200


def test_close_ends_all_sessions(h: Harness) -> None:
    session = h.start()
    d = session.answer()
    h.router.close()
    assert outcome(d).check(AGIHangup)
    h.start("Local/x@y-1;2")
    assert len(h.sessions) == 1  # no longer subscribed


def test_minus_one_then_hangup_fails_the_command_as_hangup(h: Harness) -> None:
    session = h.start()
    d = session.get_data("pln123/menu", 5000, 12)
    action = h.sent()[0]
    h.executed(action, "200 result=-1\n")
    assert not d.called
    h.receive("Event: AsyncAGIEnd", f"Channel: {CHANNEL}")
    assert outcome(d).check(AGIHangup)


def test_minus_one_without_hangup_is_delivered_after_settling(h: Harness) -> None:
    session = h.start()
    d = session.stream_file("pln123/missing", "")
    action = h.sent()[0]
    h.executed(action, "200 result=-1 endpos=0\n")
    h.clock.advance(0.4)
    assert not d.called
    h.clock.advance(0.1)
    result: AGIResult = outcome(d)
    assert result.failed and result.fields["endpos"] == "0"
