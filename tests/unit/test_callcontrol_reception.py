"""Where a caller entering AsyncAGI goes (the menus, or re-adoption after a restart), and
agents' feature codes reaching the ACD only from the agent's own phone."""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import Deferred, succeed
from twisted.internet.task import Clock

from ivr.ami.agi import AsyncAGIRouter
from ivr.ami.events import EventDispatcher
from ivr.ami.message import Message
from ivr.callcontrol.features import FeatureCodes
from ivr.callcontrol.reception import Reception
from tests.doubles.ivr import MemoryIntake


class Sender:
    def send_action(self, *args: Any, **kwargs: Any) -> Deferred[Any]:
        return succeed(None)


def router() -> AsyncAGIRouter:
    return AsyncAGIRouter(Sender(), EventDispatcher(), Clock(), lambda s: None)


def test_a_new_caller_goes_to_the_menus() -> None:
    menus: list[Any] = []
    reception = Reception("palembang", menus.append, MemoryIntake())
    session = router().adopt("Local/1@x-1;2", "u1", {"agi_extension": "0711123"})
    reception.take(session)
    assert menus == [session]


def test_after_a_restart_queued_callers_are_adopted_and_the_rest_get_the_menus() -> None:
    from acd.intake import QueueRequest

    intake = MemoryIntake()
    intake.requests.append(QueueRequest("c1", "palembang", "Local/q@x-1;2", "general", 5,
                                        "id", "0711", "Palembang", "0811", None, 0.0))
    menus: list[Any] = []
    r = router()
    queued = r.adopt("Local/q@x-1;2", "u1", {})
    fresh = r.adopt("Local/n@x-2;2", "u2", {})
    Reception("palembang", menus.append, intake).retake([queued, fresh])
    assert intake.adopted == ["c1"] and menus == [fresh]


class Operations:
    def __init__(self) -> None:
        self.done: list[tuple[str, ...]] = []

    def login(self, agent_id: str) -> Deferred[Any]:
        self.done.append(("login", agent_id))
        return succeed(None)

    def logout(self, agent_id: str) -> Deferred[Any]:
        self.done.append(("logout", agent_id))
        return succeed(None)

    def pause(self, agent_id: str, reason: str) -> Deferred[Any]:
        self.done.append(("pause", agent_id, reason))
        return succeed(None)

    def ready(self, agent_id: str) -> Deferred[Any]:
        self.done.append(("ready", agent_id))
        return succeed(None)


def feature(action: str, agent: str, channel: str, site: str = "palembang",
            reason: str = "") -> Message:
    headers = [("Event", "UserEvent"), ("UserEvent", "PlnAgent"), ("Channel", channel),
               ("action", action), ("agent", agent), ("site", site)]
    if reason:
        headers.append(("reason", reason))
    return Message(headers)


def test_feature_codes_count_only_from_the_agents_own_phone_at_this_site() -> None:
    dispatcher, operations = EventDispatcher(), Operations()
    phones = {"1001": "PJSIP/1001", "1002": "PJSIP/1002"}
    FeatureCodes("palembang", dispatcher, phones.get, operations)
    dispatcher.dispatch(feature("login", "1001", "PJSIP/1001-0000002a"))
    dispatcher.dispatch(feature("pause", "1002", "PJSIP/1002-0000002b", reason="13"))
    dispatcher.dispatch(feature("logout", "1002", "PJSIP/1001-0000002c"))  # a colleague's
    dispatcher.dispatch(feature("logout", "1001", "PJSIP/1001-0000002d", site="medan"))
    dispatcher.dispatch(feature("ready", "9999", "PJSIP/9999-0000002e"))   # not ours
    dispatcher.dispatch(feature("dance", "1001", "PJSIP/1001-0000002f"))   # malformed
    assert operations.done == [("login", "1001"), ("pause", "1002", "13")]
