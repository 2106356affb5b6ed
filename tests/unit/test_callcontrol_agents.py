"""AgentDirectory: this site's roster (agent id -> phone) in AstDB for the other sites'
rings, written with a recording AMI and with the real AMIService on a fake endpoint."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from twisted.internet.defer import Deferred, fail, succeed
from twisted.python.failure import Failure

from ivr.ami.errors import AMIActionError, AMINotConnected
from ivr.ami.message import Message
from ivr.callcontrol.agents import AgentDirectory
from ivr.dialplan.names import AGENTS_FAMILY
from tests.doubles.ami import Harness, answer, sent

# What Asterisk 22 answers for a delete of something that is not there.
GONE = {"DBDel": "Database entry could not be deleted", "DBDelTree": "Database entry not found"}


def refused(action: str, message: str) -> Deferred[Any]:
    return fail(AMIActionError(action, Message([("Response", "Error"),
                                                ("Message", message)])))


class RecordingAMI:
    """Answers every action with Success unless `answer` says otherwise; remembers them."""

    def __init__(self) -> None:
        self.actions: list[tuple[str, dict[str, str]]] = []
        self.answer: Callable[[str, dict[str, str]], Deferred[Any] | None] = \
            lambda _action, _fields: None

    def send_action(self, action: str, fields: Any = None, timeout: float | None = None,
                    *, action_id: str | None = None) -> Deferred[Any]:
        fields = dict(fields or {})
        self.actions.append((action, fields))
        return self.answer(action, fields) or succeed(Message([("Response", "Success")]))

    def take(self) -> list[tuple[str, str, str]]:
        """(action, key, value) of what was sent since the last take; family checked."""
        taken = []
        for action, fields in self.actions:
            assert fields["Family"] == AGENTS_FAMILY
            taken.append((action, fields.get("Key", ""), fields.get("Val", "")))
        self.actions.clear()
        return taken


class Roster:
    def __init__(self, **phones: str) -> None:
        self.phones = {agent.removeprefix("a"): phone for agent, phone in phones.items()}

    def __call__(self) -> dict[str, str]:
        return dict(self.phones)


def published(directory: AgentDirectory) -> None:
    done: list[object] = []
    failures: list[object] = []
    directory.publish().addCallbacks(done.append, failures.append)
    assert done == [None] and failures == []  # fires at once here, never with a failure


@pytest.fixture
def ami() -> RecordingAMI:
    return RecordingAMI()


def test_the_first_publish_clears_the_family_then_puts_every_agent(ami: RecordingAMI) -> None:
    directory = AgentDirectory(ami, Roster(a1001="PJSIP/1001", a1002="PJSIP/1002"))  # type: ignore[arg-type]
    published(directory)
    assert ami.take() == [("DBDelTree", "", ""), ("DBPut", "1001", "PJSIP/1001"),
                          ("DBPut", "1002", "PJSIP/1002")]
    assert directory.publishes == 1


def test_later_publishes_put_first_and_delete_only_who_left(ami: RecordingAMI) -> None:
    roster = Roster(a1001="PJSIP/1001", a1002="PJSIP/1002")
    directory = AgentDirectory(ami, roster)  # type: ignore[arg-type]
    published(directory)
    ami.take()
    roster.phones = {"1002": "PJSIP/1002b", "1003": "Local/1003@agents"}
    published(directory)
    # No DBDelTree: the family is never empty while calls may ring.
    assert ami.take() == [("DBPut", "1002", "PJSIP/1002b"), ("DBPut", "1003", "Local/1003@agents"),
                          ("DBDel", "1001", "")]
    published(directory)
    assert ami.take() == [("DBPut", "1002", "PJSIP/1002b"), ("DBPut", "1003", "Local/1003@agents")]


def test_a_family_or_entry_already_gone_is_fine(ami: RecordingAMI) -> None:
    roster = Roster(a1001="PJSIP/1001")
    directory = AgentDirectory(ami, roster)  # type: ignore[arg-type]
    ami.answer = lambda action, _f: refused(action, GONE[action]) if action in GONE else None
    published(directory)
    assert ami.take() == [("DBDelTree", "", ""), ("DBPut", "1001", "PJSIP/1001")]
    roster.phones = {}
    published(directory)
    assert ami.take() == [("DBDel", "1001", "")]
    published(directory)
    assert ami.take() == []  # deleted: not again


def test_a_failed_delete_is_tried_again_at_the_next_publish(ami: RecordingAMI) -> None:
    roster = Roster(a1001="PJSIP/1001")
    directory = AgentDirectory(ami, roster)  # type: ignore[arg-type]
    published(directory)
    roster.phones = {}
    ami.take()
    ami.answer = lambda action, _f: fail(AMINotConnected("down")) if action == "DBDel" else None
    published(directory)
    assert ami.take() == [("DBDel", "1001", "")]
    ami.answer = lambda _a, _f: None
    published(directory)
    assert ami.take() == [("DBDel", "1001", "")]
    published(directory)
    assert ami.take() == []


def test_a_failed_put_is_still_deleted_when_the_agent_leaves(ami: RecordingAMI) -> None:
    roster = Roster(a1001="PJSIP/1001")
    directory = AgentDirectory(ami, roster)  # type: ignore[arg-type]
    ami.answer = lambda action, _f: refused(action, "Failed to update") \
        if action == "DBPut" else None
    published(directory)  # logged, not raised
    ami.take()
    ami.answer = lambda _a, _f: None
    roster.phones = {}
    published(directory)
    assert ami.take() == [("DBDel", "1001", "")]  # it may have been written after all


def test_without_a_link_nothing_is_put_and_the_next_login_starts_again(
    ami: RecordingAMI
) -> None:
    directory = AgentDirectory(ami, Roster(a1001="PJSIP/1001"))  # type: ignore[arg-type]
    ami.answer = lambda _a, _f: fail(AMINotConnected("not connected to Asterisk"))
    published(directory)
    assert ami.take() == [("DBDelTree", "", "")]  # not cleared: no put on top of the unknown
    ami.answer = lambda _a, _f: None
    published(directory)
    assert ami.take() == [("DBDelTree", "", ""), ("DBPut", "1001", "PJSIP/1001")]


@pytest.mark.parametrize(
    ("agent", "phone"),
    [
        ("1001", "PJSIP/1001,,U(evil)"),  # a Dial option
        ("1001", "PJSIP/1001&PJSIP/666"),  # a second phone
        ("1001", "PJSIP/1001 x"),
        ("1001", "PJSIP/${EVIL}"),
        ("1001", "SIP/1001"),
        ("1001", ""),
        ("10a1", "PJSIP/10a1"),  # the dialplan keys by digits only: unreachable
        ("12", "PJSIP/12"),
        ("1001/x", "PJSIP/1001"),
    ],
)
def test_what_the_dialplan_cannot_dial_as_it_is_is_never_written(
    ami: RecordingAMI, agent: str, phone: str
) -> None:
    directory = AgentDirectory(ami, lambda: {agent: phone, "1002": "PJSIP/1002"})  # type: ignore[arg-type]
    published(directory)
    assert ami.take() == [("DBDelTree", "", ""), ("DBPut", "1002", "PJSIP/1002")]


def test_a_broken_roster_view_publishes_nothing_and_raises_nothing(ami: RecordingAMI) -> None:
    def broken() -> dict[str, str]:
        raise KeyError("reload in progress")

    directory = AgentDirectory(ami, broken)  # type: ignore[arg-type]
    published(directory)
    assert ami.take() == [("DBDelTree", "", "")]


def test_publishes_run_one_at_a_time(ami: RecordingAMI) -> None:
    roster = Roster(a1001="PJSIP/1001")
    directory = AgentDirectory(ami, roster)  # type: ignore[arg-type]
    pending: list[Deferred[Any]] = []

    def held(_action: str, _fields: dict[str, str]) -> Deferred[Any]:
        pending.append(Deferred())
        return pending[-1]

    ami.answer = held
    done: list[str] = []
    directory.publish().addCallback(lambda _: done.append("first"))
    directory.publish().addCallback(lambda _: done.append("second"))
    assert ami.take() == [("DBDelTree", "", "")]  # the second waits for the first
    roster.phones = {"1002": "PJSIP/1002"}
    pending.pop(0).callback(Message([("Response", "Success")]))  # the tree is cleared
    assert ami.take() == [("DBPut", "1001", "PJSIP/1001")]
    pending.pop(0).callback(Message([("Response", "Success")]))
    assert done == ["first"]
    assert ami.take() == [("DBPut", "1002", "PJSIP/1002"), ("DBDel", "1001", "")]
    for d in pending:
        d.callback(Message([("Response", "Success")]))
    assert done == ["first", "second"] and directory.publishes == 2


def test_it_publishes_after_every_login_as_a_resync_hook() -> None:
    h = Harness()
    directory = AgentDirectory(h.service, Roster(a1001="PJSIP/1001"))
    h.service.add_resync_hook(directory)
    for _login in range(2):
        protocol, transport = h.connect_and_login()
        actions = sent(transport)
        if directory.publishes == 0:  # the first login: the family is cleared first
            assert [(a["Action"], a["Family"]) for a in actions] == [
                ("DBDelTree", AGENTS_FAMILY)]
            answer(protocol, actions[0])
            actions = sent(transport)
        assert [(a["Action"], a["Key"], a["Val"]) for a in actions] == [
            ("DBPut", "1001", "PJSIP/1001")]
        answer(protocol, actions[0])
        assert h.service.protocol is not None
        protocol.connectionLost(Failure(ConnectionError("asterisk restarted")))
        h.clock.advance(2.0)
    assert directory.publishes == 2
