"""Framing and the message model, on bytes as Asterisk sends them."""

from __future__ import annotations

import pytest

from ivr.ami.framing import Framer, peek_event_name
from ivr.ami.message import Message, c_unescape

BANNER = b"Asterisk Call Manager/10.0.0\r\n"
LOGIN_OK = b"Response: Success\r\nActionID: 1\r\nMessage: Authentication accepted\r\n\r\n"
EVENT = (
    b"Event: Newchannel\r\nPrivilege: call,all\r\nChannel: Local/0711123@pln-inbound-0001;2\r\n"
    b"CallerIDName: Budi \\r\\n\\r\\nAction: Originate\r\nUniqueid: 1700000000.1\r\n\r\n"
)
STREAM = BANNER + LOGIN_OK + EVENT


def frame_all(chunks: list[bytes]) -> tuple[Framer, list[bytes]]:
    framer = Framer()
    packets: list[bytes] = []
    for chunk in chunks:
        packets.extend(framer.feed(chunk))
    return framer, packets


def test_banner_is_not_glued_to_the_first_packet() -> None:
    framer, packets = frame_all([STREAM])
    assert framer.banner == "Asterisk Call Manager/10.0.0"
    assert framer.version == "10.0.0"
    assert len(packets) == 2
    assert Message.from_wire(packets[0]).response == "Success"


@pytest.mark.parametrize("cut", range(1, len(STREAM)))
def test_split_at_every_byte_boundary_gives_the_same_packets(cut: int) -> None:
    _, whole = frame_all([STREAM])
    framer, split = frame_all([STREAM[:cut], STREAM[cut:]])
    assert split == whole
    assert framer.banner == "Asterisk Call Manager/10.0.0"
    assert framer.pending_bytes() == 0


def test_one_byte_at_a_time() -> None:
    _, packets = frame_all([bytes([b]) for b in STREAM])
    assert len(packets) == 2
    assert Message.from_wire(packets[1]).event == "Newchannel"


def test_bare_lf_and_mixed_line_ends() -> None:
    data = BANNER + b"Response: Success\nActionID: 7\n\nEvent: Ping\r\nA: 1\n\r\n"
    _, packets = frame_all([data])
    assert [Message.from_wire(p).get("ActionID") for p in packets[:1]] == ["7"]
    assert Message.from_wire(packets[1]).get("a") == "1"
    assert len(packets) == 2


def test_no_line_length_limit() -> None:
    output = b"".join(b"Output: " + b"x" * 5000 + b"\r\n" for _ in range(20))
    data = BANNER + b"Response: Success\r\nActionID: 9\r\n" + output + b"\r\n"
    _, packets = frame_all([data[i : i + 1460] for i in range(0, len(data), 1460)])
    message = Message.from_wire(packets[0])
    assert len(message.getall("Output")) == 20
    assert all(len(line) == 5000 for line in message.getall("output"))


def test_stream_without_banner_still_parses() -> None:
    _, packets = frame_all([LOGIN_OK])
    assert Message.from_wire(packets[0]).response == "Success"


def test_repeated_keys_keep_order_and_lookup_is_case_insensitive() -> None:
    message = Message.from_wire(
        b"Response: Success\r\nOutput: one\r\noutput: two\r\nOUTPUT: three\r\nVariable: a=1\r\n"
        b"Variable: b=2"
    )
    assert message.getall("Output") == ["one", "two", "three"]
    assert message.get("oUtPuT") == "one"
    assert message.getall("variable") == ["a=1", "b=2"]
    assert message.getall("missing") == []
    assert message.get("missing", "x") == "x"
    assert "VARIABLE" in message
    with pytest.raises(KeyError):
        message["missing"]


def test_values_keep_colons_and_spaces_and_empty_values_are_kept() -> None:
    message = Message.from_wire(b"Event: X\r\nApplication: Dial:with:colons\r\nEmpty:\r\nSp:  two")
    assert message.get("Application") == "Dial:with:colons"
    assert message.get("Empty") == ""
    assert message.get("Sp") == " two"


def test_lines_without_colon_are_kept_not_dropped() -> None:
    message = Message.from_wire(b"Response: Follows\r\nsome raw output line\r\n")
    assert message.unparsed == ["some raw output line"]


def test_invalid_utf8_never_raises_and_round_trips() -> None:
    raw = b"Event: Newchannel\r\nCallerIDName: Bud\xff\xfei \xe2\x80\xa8 x\x85y\r\nUniqueid: 1"
    message = Message.from_wire(raw)
    name = message["CallerIDName"]
    assert name.encode("utf-8", "surrogateescape") == b"Bud\xff\xfei \xe2\x80\xa8 x\x85y"
    # U+2028 and \x85 are data, not line breaks (asterisk-ami's splitlines bug).
    assert message.get("Uniqueid") == "1"
    assert len(list(message.items())) == 3


def test_split_multibyte_utf8_character_survives() -> None:
    event = "Event: Newchannel\r\nCallerIDName: Sité Ñusantara\r\n\r\n".encode()
    cut = event.index("é".encode()) + 1
    _, packets = frame_all([BANNER + event[:cut], event[cut:]])
    assert Message.from_wire(packets[0])["CallerIDName"] == "Sité Ñusantara"


def test_c_escaped_caller_name_is_decoded_as_data() -> None:
    message = Message.from_wire(EVENT[:-4])
    assert message["CallerIDName"] == "Budi \r\n\r\nAction: Originate"
    assert message.get("Channel") == "Local/0711123@pln-inbound-0001;2"


def test_c_escapes_only_on_escaped_fields() -> None:
    message = Message.from_wire(
        b"Event: VarSet\r\nVariable: X\r\nValue: a\\nb\r\nDestConnectedLineName: c\\\\d\r\n"
        b"Application: e\\nf"
    )
    assert message["Value"] == "a\nb"
    assert message["DestConnectedLineName"] == "c\\d"
    assert message["Application"] == "e\\nf"
    other = Message.from_wire(b"Event: Other\r\nValue: a\\nb")
    assert other["Value"] == "a\\nb"


def test_c_unescape_keeps_unknown_escapes() -> None:
    assert c_unescape(r"a\qb\\c\"d\tz\\") == 'a\\qb\\c"d\tz\\'
    assert c_unescape("trailing\\") == "trailing\\"


def test_peek_event_name() -> None:
    assert peek_event_name(b"Event: Hangup\r\nChannel: x") == b"Hangup"
    assert peek_event_name(b"event:VarSet") == b"VarSet"
    assert peek_event_name(b"Response: Success\r\nEvent: x") is None


def test_to_dict_groups_repeats() -> None:
    message = Message.from_wire(b"Response: Success\r\nOutput: a\r\nOutput: b")
    assert message.to_dict() == {"Response": "Success", "Output": ["a", "b"]}


MIXED = (BANNER + b"Response: Success\nActionID: 7\n\r\nEvent: Ping\r\nA: 1\n\n"
         + b"Event: Hangup\r\nChannel: x/y\r\n\r\nEvent: B\nK: v\r\n\n" + EVENT)


@pytest.mark.parametrize("cut", range(1, len(MIXED)))
def test_mixed_line_ends_split_anywhere(cut: int) -> None:
    _, whole = frame_all([MIXED])
    assert len(whole) == 5
    _, split = frame_all([MIXED[:cut], MIXED[cut:]])
    assert split == whole


@pytest.mark.parametrize("cut", range(1, len(MIXED)))
def test_skipping_gives_the_same_remaining_packets(cut: int) -> None:
    def skip(name: bytes) -> bool:
        return name == b"Hangup"

    framer = Framer()
    kept = [*framer.feed(MIXED[:cut], skip), *framer.feed(MIXED[cut:], skip)]
    _, whole = frame_all([MIXED])
    assert kept == [p for p in whole if not p.startswith(b"Event: Hangup")]
    assert framer.skipped == 1
