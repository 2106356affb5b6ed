"""The serializer refuses anything that could inject a second action, and sends nothing."""

from __future__ import annotations

import pytest

from ivr.ami.actions import (
    ActionRejected,
    encode_action,
    escape_variable_value,
    variable_header,
)
from ivr.ami.message import Message


def test_encodes_crlf_lines_and_blank_line() -> None:
    wire = encode_action("Ping", "id-1", {"Extra": "value with spaces"})
    assert wire == b"Action: Ping\r\nActionID: id-1\r\nExtra: value with spaces\r\n\r\n"


def test_repeated_keys_in_order() -> None:
    wire = encode_action("Originate", "1", [("Variable", "A=1"), ("Variable", "B=2")])
    assert Message.from_wire(wire.rstrip()).getall("Variable") == ["A=1", "B=2"]


@pytest.mark.parametrize("bad", ["a\rb", "a\nb", "a\x00b", "x\r\n\r\nAction: Originate"])
def test_refuses_cr_lf_nul_in_values(bad: str) -> None:
    with pytest.raises(ActionRejected, match="CR, LF or NUL") as info:
        encode_action("Setvar", "1", {"Value": bad})
    assert info.value.key == "Value"


@pytest.mark.parametrize("key", ["Bad Key", "Key:", "Ke\ny", "", "Kéy", "a.b"])
def test_refuses_keys_outside_the_safe_set(key: str) -> None:
    with pytest.raises(ActionRejected, match="is not"):
        encode_action("Setvar", "1", [(key, "v")])


def test_refuses_action_name_with_newline() -> None:
    with pytest.raises(ActionRejected):
        encode_action("Ping\r\n\r\nAction: Originate", "1")


def test_refuses_overriding_action_or_actionid() -> None:
    with pytest.raises(ActionRejected):
        encode_action("Ping", "1", {"ActionID": "2"})
    with pytest.raises(ActionRejected):
        encode_action("Ping", "1", {"action": "Originate"})


def test_line_length_limit_is_1022_bytes_utf8() -> None:
    ok = "x" * (1022 - len("Data: "))
    assert encode_action("UserEvent", "1", {"Data": ok})
    with pytest.raises(ActionRejected, match="1023 bytes"):
        encode_action("UserEvent", "1", {"Data": ok + "x"})
    # Multi-byte characters count as bytes, not characters.
    with pytest.raises(ActionRejected, match="bytes"):
        encode_action("UserEvent", "1", {"Data": "é" * 600})


def test_header_line_limit_128() -> None:
    fields = [(f"H{i}", "v") for i in range(126)]
    assert encode_action("UserEvent", "1", fields)
    with pytest.raises(ActionRejected, match="129 header lines"):
        encode_action("UserEvent", "1", [*fields, ("H126", "v")])


def test_variable_pairs_need_escaped_commas() -> None:
    with pytest.raises(ActionRejected, match="not name=value"):
        encode_action("Originate", "1", {"Variable": "NAME=Budi, Jakarta"})
    wire = encode_action("Originate", "1", {"Variable": "NAME=Budi\\, Jakarta,B=2"})
    assert b"Variable: NAME=Budi\\, Jakarta,B=2\r\n" in wire


def test_variable_header_escapes_values() -> None:
    header = variable_header({"NAME": "a,b\\c", "X": "1"})
    assert header == "NAME=a\\,b\\\\c,X=1"
    assert encode_action("Originate", "1", {"Variable": header})
    assert escape_variable_value("plain") == "plain"


def test_variable_pair_count_limit() -> None:
    header = ",".join(f"V{i}=1" for i in range(64))
    assert encode_action("Originate", "1", {"Variable": header})
    with pytest.raises(ActionRejected, match="65 pairs"):
        encode_action("Originate", "1", {"Variable": header + ",V64=1"})


def test_escaped_backslash_before_comma_is_a_separator() -> None:
    # "a\\\\,B=2" is a literal backslash then a real separator: two valid pairs.
    assert encode_action("Originate", "1", {"Variable": "A=x\\\\,B=2"})
    with pytest.raises(ActionRejected):
        encode_action("Originate", "1", {"Variable": "A=x\\\\,not a pair"})


@pytest.mark.parametrize(
    "channel",
    ["Local/0711123@pln-inbound", "Local/0711123@pln-inbound-00000001;2", "PJSIP/1001-0000001a",
     "IAX2/pln-trunk@127.0.0.1:14570/ovf-abc", "1700000000.12", "pln123-agent-abc"],
)
def test_channel_names_accepted(channel: str) -> None:
    assert encode_action("Hangup", "1", {"Channel": channel})


@pytest.mark.parametrize(
    "channel", ["no slash", "Local/a b", "Local/x,y", "L" * 70 + "/" + "x" * 20, "/x", "a;b"]
)
def test_bad_channel_names_refused(channel: str) -> None:
    with pytest.raises(ActionRejected, match="not a channel name"):
        encode_action("Hangup", "1", {"Channel": channel})


def test_non_str_value_refused() -> None:
    with pytest.raises(ActionRejected, match="must be str"):
        encode_action("Ping", "1", {"Timeout": 5})  # type: ignore[dict-item]


def test_lone_surrogate_refused() -> None:
    with pytest.raises(ActionRejected, match="UTF-8"):
        encode_action("UserEvent", "1", {"Data": "\ud800"})


def test_getvar_and_setvar_take_a_plain_variable_name() -> None:
    wire = encode_action("Getvar", "1", {"Channel": "PJSIP/a-1", "Variable": "CHANNEL(language)"})
    assert b"Variable: CHANNEL(language)\r\n" in wire
    assert encode_action("Setvar", "1", {"Variable": "DB(pln123/heartbeat)", "Value": "1,2"})


def test_chosen_action_id_is_validated() -> None:
    from twisted.internet.task import Clock
    from twisted.internet.testing import StringTransport

    from ivr.ami.events import EventDispatcher
    from ivr.ami.protocol import AMIProtocol

    protocol = AMIProtocol(Clock(), EventDispatcher())
    protocol.makeConnection(StringTransport())
    protocol.send_action("Originate", {"Channel": "Local/1@x"}, action_id="orig-1")
    with pytest.raises(ActionRejected):
        protocol.send_action("Ping", action_id="orig-1")  # in use
    with pytest.raises(ActionRejected):
        protocol.send_action("Ping", action_id="bad id")


# Keys already seen take a quicker path: the same bytes, the same refusals.
_WARM_CASES = [
    ("AGI", {"Channel": "PJSIP/alice-00000001", "Command": 'STREAM FILE "pln123/x" ""',
             "CommandID": "agi-1"}),
    ("Setvar", {"Channel": "Local/1@c-0000000a;2", "Variable": "X", "Value": "a,b é"}),
    ("Originate", [("Channel", "Local/9001@agents"), ("Variable", "A=1"),
                   ("Variable", "B=x\\,y")]),
    ("UserEvent", {"Data": "x" * (1022 - len("Data: "))}),
    ("UserEvent", {"Data": "é" * 300}),
]


@pytest.mark.parametrize(("action", "fields"), _WARM_CASES)
def test_a_key_seen_before_encodes_to_the_same_bytes(action: str, fields: object) -> None:
    from ivr.ami import actions

    actions._GOOD_KEYS.clear()
    cold = encode_action(action, "id-7", fields)  # type: ignore[arg-type]
    assert actions._GOOD_KEYS  # the keys are now known
    assert encode_action(action, "id-7", fields) == cold  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [
    {"Channel": "PJSIP/a\r\n\r\nAction: Originate"},
    {"Channel": "not a channel"},
    {"Command": "x\x00"},
    {"Command": "\udcff\ud800"},
    {"Command": 7},
    {"Data": "é" * 600},
])
def test_a_key_seen_before_still_refuses_a_bad_value(bad: dict[str, object]) -> None:
    from ivr.ami import actions

    encode_action("AGI", "1", {"Channel": "PJSIP/a-1", "Command": "ANSWER", "Data": "x"})
    assert {"Channel", "Command", "Data"} <= actions._GOOD_KEYS
    with pytest.raises(ActionRejected) as info:
        encode_action("AGI", "1", bad)  # type: ignore[arg-type]
    assert info.value.key == next(iter(bad))
