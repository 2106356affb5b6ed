"""`parse_agent_feature`: the UserEvent the feature codes raise becomes an AgentCommand;
other events are None; a malformed PlnAgent event is refused with the reason.

The events are copied from what Asterisk 22 sent pln123's AMI user in the sandbox
(tests/e2e/test_dialplan_sandbox.py checks the live ones).
"""

from __future__ import annotations

import pytest

from ivr.ami.message import Message
from ivr.dialplan import AgentCommand, BadAgentCommand, parse_agent_feature
from ivr.dialplan.features import FEATURE_CODES, agent_command

PAUSE = {
    "Event": "UserEvent", "Privilege": "user,all",
    "Channel": "PJSIP/1001-0000002a", "ChannelState": "6", "ChannelStateDesc": "Up",
    "CallerIDNum": "1001", "CallerIDName": "Ahmad Fauzi", "Language": "id",
    "Context": "pln123-agent-feature", "Exten": "s", "Priority": "5",
    "Uniqueid": "1795835300.1", "Linkedid": "1795835300.0",
    "UserEvent": "PlnAgent", "action": "pause", "agent": "1001", "site": "palembang",
    "reason": "42",
}


def event(**changes: str | None) -> dict[str, str]:
    fields = dict(PAUSE)
    for key, value in changes.items():
        if value is None:
            fields.pop(key, None)
        else:
            fields[key] = value
    return fields


def test_a_pause_from_a_phone() -> None:
    command = parse_agent_feature(PAUSE)
    assert command == AgentCommand("pause", "1001", "42", "palembang", "PJSIP/1001-0000002a")
    assert command.device == "PJSIP/1001"


@pytest.mark.parametrize("action", ["login", "logout", "ready"])
def test_the_other_actions_have_no_reason(action: str) -> None:
    command = parse_agent_feature(event(action=action, reason=""))
    assert command is not None
    assert (command.action, command.agent, command.reason) == (action, "1001", None)


def test_the_ami_message_model_works_too() -> None:
    wire = "\r\n".join(f"{key}: {value}" for key, value in PAUSE.items()).encode()
    assert parse_agent_feature(Message.from_wire(wire)) == parse_agent_feature(PAUSE)


def test_keys_are_case_insensitive_and_values_trimmed() -> None:
    fields = {key.upper(): f" {value} " for key, value in PAUSE.items()}
    command = parse_agent_feature(fields)
    assert command is not None and (command.agent, command.reason) == ("1001", "42")


@pytest.mark.parametrize(
    "fields",
    [
        {"Event": "Hangup", "Channel": "PJSIP/1001-0000002a"},
        event(UserEvent="PlnTrunkArrival"),
        event(Event="VarSet"),
        event(UserEvent=None),
        {"Response": "Success"},
        {},
    ],
    ids=["hangup", "other-user-event", "not-a-user-event", "no-name", "response", "empty"],
)
def test_other_events_are_none(fields: dict[str, str]) -> None:
    assert parse_agent_feature(fields) is None


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"action": "dance"}, "'dance' is not an agent action"),
        ({"action": None}, "without action or agent"),
        ({"agent": None}, "without action or agent"),
        ({"agent": "12"}, "'12' is not an agent id (3 to 8 digits)"),
        ({"agent": "123456789"}, "is not an agent id"),
        ({"agent": "10a1"}, "is not an agent id"),
        ({"reason": ""}, "pause needs a reason code"),
        ({"reason": None}, "pause needs a reason code"),
        ({"reason": "12345"}, "'12345' is not a reason code (1 to 4 digits)"),
        ({"reason": "4#"}, "is not a reason code"),
        ({"action": "login", "reason": "4"}, "only pause takes a reason code, not login"),
        ({"site": "palembang]"}, "is not a site name"),
    ],
)
def test_a_malformed_agent_event_is_refused(changes: dict[str, str | None], message: str) -> None:
    with pytest.raises(BadAgentCommand, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_agent_feature(event(**changes))


def test_a_repeated_field_is_refused() -> None:
    # A second `action:` would mean something reached the event the dialplan did not write.
    pairs = [*PAUSE.items(), ("action", "logout")]

    class Pairs:
        def items(self) -> list[tuple[str, str]]:
            return pairs

    with pytest.raises(BadAgentCommand, match="'action' more than once"):
        parse_agent_feature(Pairs())


@pytest.mark.parametrize(
    ("channel", "device"),
    [
        ("PJSIP/1001-0000002a", "PJSIP/1001"),
        ("IAX2/pln-medan-1234", "IAX2/pln-medan"),
        ("Local/*11@pln123-agent-features-palembang-00000001;2",
         "Local/*11@pln123-agent-features-palembang"),
        (None, None),
    ],
)
def test_the_device_a_command_came_from(channel: str | None, device: str | None) -> None:
    assert AgentCommand("login", "1001", channel=channel).device == device


def test_the_codes_and_the_cli_checks() -> None:
    assert FEATURE_CODES == {"login": "*11", "logout": "*12", "pause": "*13", "ready": "*14"}
    assert agent_command("pause", "1001", "7") == AgentCommand("pause", "1001", "7")
    assert agent_command("ready", "1001", "") == AgentCommand("ready", "1001")
    with pytest.raises(BadAgentCommand, match="pause needs a reason"):
        agent_command("pause", "1001")
