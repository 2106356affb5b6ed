"""The IVR tells the call history each caller's path once, when they leave the IVR: with
the agent, after self-service, or hung up in the menus."""

from __future__ import annotations

from typing import Any

import pytest
from twisted.internet.task import Clock

from acd.intake import IVRPath
from ivr.engine.engine import IVREngine
from ivr.engine.session import IVRServices
from pln123.config import Config, load_config
from tests.doubles.config import SHIPPED as CONFIG
from tests.doubles.ivr import (
    HangUp,
    MemoryIntake,
    MemoryOutages,
    MemoryTickets,
    Press,
    ScriptedChannel,
    Silence,
    Step,
)

T0 = 1_800_000_000


class Paths:
    def __init__(self) -> None:
        self.told: list[IVRPath] = []

    def ivr_path(self, path: IVRPath) -> None:
        self.told.append(path)


@pytest.fixture(scope="module")
def config() -> Config:
    return load_config(CONFIG)


def call(config: Config, *script: Step) -> tuple[IVRPath, Any]:
    clock = Clock()
    clock.advance(T0)
    paths = Paths()
    intake = MemoryIntake()
    engine = IVREngine(config, "palembang",
                       IVRServices(intake, MemoryOutages(clock), MemoryTickets(clock),
                                   call_log=paths), clock)
    channel = ScriptedChannel(list(script), env={
        "agi_extension": "0711123", "agi_arg_1": "0711", "agi_callerid": "081122334455"})
    done: list[Any] = []
    engine.on_session(channel).addBoth(done.append)
    assert done and len(paths.told) == 1
    return paths.told[0], intake


def test_a_caller_handed_to_the_acd(config: Config) -> None:
    path, intake = call(config, Silence(), Press("0"))
    assert path.call_id == intake.requests[0].call_id
    assert (path.site, path.outcome, path.caller_number, path.area_code, path.region,
            path.entered_at) == ("palembang", "queued", "081122334455", "0711", "Palembang",
                                 T0)
    names = [name for _at, name in path.steps]
    assert names[0] == "call_started" and names[-1] == "call_ended"
    assert "menu_entered:main" in names and "digit:main:0" in names
    assert all(T0 <= at <= path.left_at for at, _name in path.steps)


def test_a_caller_who_hangs_up_in_the_menus(config: Config) -> None:
    path, intake = call(config, HangUp())
    assert intake.requests == []
    assert path.outcome == "caller_hung_up" and path.ticket == ""
