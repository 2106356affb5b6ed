"""Replays bytes recorded from the sandbox Asterisk 22 (tests/transcripts/record.py).

The expectations below are what the recording scenario did, written out by hand: one caller
who pressed 1234#, two bad commands (510 and 520), the injection caller, and a caller who
hung up during GET DATA.
"""

from __future__ import annotations

import random
from pathlib import Path
from urllib.parse import unquote

import pytest
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport

from ivr.ami import AGISession, AsyncAGIRouter, EventDispatcher, Message, parse_agi_result
from ivr.ami.framing import Framer
from ivr.ami.protocol import AMIProtocol

TRANSCRIPT = Path(__file__).parents[1] / "transcripts" / "asterisk22_agi_session.raw"


@pytest.fixture(scope="module")
def raw() -> bytes:
    return TRANSCRIPT.read_bytes()


def packets(data: bytes, sizes: list[int]) -> list[bytes]:
    framer = Framer()
    out: list[bytes] = []
    position = 0
    for size in sizes:
        out.extend(framer.feed(data[position : position + size]))
        position += size
    out.extend(framer.feed(data[position:]))
    assert framer.pending_bytes() == 0
    return out


def test_banner_and_every_line_parsed(raw: bytes) -> None:
    framer = Framer()
    messages = [Message.from_wire(p) for p in framer.feed(raw)]
    assert framer.banner == "Asterisk Call Manager/11.0.0"
    assert len(messages) == 119
    assert all(not m.unparsed for m in messages)
    assert all(m.event or m.response for m in messages)


@pytest.mark.parametrize("seed", range(20))
def test_random_segmentation_gives_identical_packets(raw: bytes, seed: int) -> None:
    rng = random.Random(seed)
    sizes = [rng.randint(1, 1500) for _ in range(len(raw) // 700)]
    assert packets(raw, sizes) == packets(raw, [len(raw)])


def test_agi_results_as_asterisk_sent_them(raw: bytes) -> None:
    results = [
        parse_agi_result(unquote(m["Result"]))
        for m in map(Message.from_wire, Framer().feed(raw))
        if m.event == "AsyncAGIExec"
    ]
    summary = [(r.code, r.result) for r in results]
    assert summary == [
        (200, "0"),     # STREAM FILE beep, played to the end
        (200, "1234"),  # GET DATA: the caller's 1234#
        (510, None),    # NO SUCH COMMAND
        (520, None),    # GET DATA without arguments: usage
        (200, "0"),     # ANSWER for the injection caller
        (200, "-1"),    # GET DATA while the caller hung up
    ]
    assert int(results[0].fields["endpos"]) > 0
    assert "Usage" in results[3].text or "usage" in results[3].text


def test_injection_name_is_one_decoded_value(raw: bytes) -> None:
    names = {
        m["CallerIDName"]
        for m in map(Message.from_wire, Framer().feed(raw))
        if m.event == "NewCallerid" and "Action" in m.get("CallerIDName", "")
    }
    assert names == {"x\r\n\r\nAction: Originate\r\nChannel: Local/666@pln-inbound"}


def test_replay_through_protocol_and_router(raw: bytes) -> None:
    clock = Clock()
    dispatcher = EventDispatcher()
    protocol = AMIProtocol(clock, dispatcher)
    protocol.makeConnection(StringTransport())
    sessions: list[AGISession] = []
    router = AsyncAGIRouter(protocol, dispatcher, clock, sessions.append)
    dtmf: list[str] = []
    dispatcher.subscribe("DTMFEnd", lambda m: dtmf.append(m["Digit"]))
    for start in range(0, len(raw), 1460):
        protocol.dataReceived(raw[start : start + 1460])
    assert [s.extension for s in sessions] == ["0711123", "evil", "0711125"]
    assert sessions[0].caller_number == "0811223344"
    assert sessions[1].caller_number == "0711000666"
    assert all(s.ended for s in sessions)
    assert router.sessions == {}
    assert "".join(dtmf).startswith("1234#")
