"""The hand-off while Redis is away: retried with backoff on music, queued once the ACD
answers, the apology after `ivr.handoff_timeout_s`, nothing left behind for a caller who
hung up meanwhile; the self-service steps that touch Redis end the same way."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import structlog
from twisted.application.internet import backoffPolicy
from twisted.internet.defer import fail
from twisted.internet.task import Clock

from ivr.engine.engine import IVREngine
from ivr.engine.handoff import HANDOFF_BACKOFF
from ivr.engine.session import APOLOGY_PROMPTS, CallSession, IVRServices
from pln123.config import Config, load_config
from tests.doubles.config import shipped, write_config
from tests.doubles.ivr import (
    FlakyIntake,
    HangUp,
    MemoryOutages,
    MemoryTickets,
    Press,
    ScriptedChannel,
    Step,
)

CONFIG = Path(__file__).parents[2] / "deploy" / "config" / "pln.yaml"
IDPEL = "512345678901"
START = 1_800_000_000.0
MUSIC = ("EXEC", ("StartMusicOnHold", "default"))
# No jitter: the attempts' times are exact (0.5, 1, 2, 4, then every 5 s).
STEADY = backoffPolicy(initialDelay=0.5, maxDelay=5.0, factor=2.0, jitter=lambda: 0.0)


@pytest.fixture(scope="module")
def config() -> Config:
    return load_config(CONFIG)


class Outage:
    """One site's IVR whose ACD fails the first `failures` enqueues (None: all of them)."""

    def __init__(self, config: Config, failures: int | None):
        self.clock = Clock()
        self.clock.advance(START)
        self.intake = FlakyIntake(self.clock, failures)
        self.tickets = MemoryTickets(self.clock)
        self.engine = IVREngine(
            config, "palembang",
            IVRServices(self.intake, MemoryOutages(self.clock), self.tickets,
                        handoff_backoff=STEADY),
            self.clock)
        self.outcomes: list[Any] = []

    def call(self, *script: Step) -> tuple[ScriptedChannel, CallSession]:
        channel = ScriptedChannel(
            list(script),
            env={"agi_extension": "0711123", "agi_arg_1": "0711", "agi_arg_2": "palembang",
                 "agi_callerid": "081122334455"})
        self.engine.on_session(channel).addBoth(self.outcomes.append)
        session = next(iter(self.engine.active.values()), None) or self.engine.finished[-1]
        return channel, session

    def wait(self, seconds: float, step: float = 0.5) -> None:
        """Let `seconds` pass in steps, as a reactor would: each wake-up schedules the next."""
        self.clock.pump([step] * round(seconds / step))

    def attempt_times(self) -> list[float]:
        return [when - START for when, _request in self.intake.attempts]


def test_an_enqueue_failing_three_times_is_retried_with_backoff_then_queued(
        config: Config) -> None:
    world = Outage(config, failures=3)
    with structlog.testing.capture_logs() as logs:
        channel, session = world.call(Press("0"))
        assert world.outcomes == [] and world.attempt_times() == [0.0]
        assert channel.commands[-1] == MUSIC  # the caller hears music while it retries
        world.wait(0.5)
        world.wait(1.0)
        assert world.outcomes == []
        world.wait(2.0)
    assert world.attempt_times() == [0.0, 0.5, 1.5, 3.5]
    assert world.outcomes == ["queued"]
    assert [r.call_id for r in world.intake.requests] == [session.call_id]
    # the same request every time: the caller's original entered_at, one call id
    assert {request for _when, request in world.intake.attempts} == {world.intake.requests[0]}
    assert world.intake.requests[0].entered_at == START
    assert channel.commands.count(MUSIC) == 1 and ("HANGUP", ()) not in channel.commands
    retries = [line for line in logs if line["event"] == "ivr_handoff_retry"]
    assert [(r["attempt"], r["delay_s"]) for r in retries] == [(1, 0.5), (2, 1.0), (3, 2.0)]
    assert all(r["call_id"] == session.call_id for r in retries)
    assert "ConnectionError" in retries[0]["error"]
    assert [line["attempts"] for line in logs if line["event"] == "ivr_handoff_recovered"] \
        == [4]
    assert session.journal.names()[-2:] == ["handed_off", "call_ended"]


def test_an_acd_that_never_answers_ends_in_the_apology_at_the_limit(config: Config) -> None:
    assert config.ivr.handoff_timeout_s == 120.0  # the default
    world = Outage(config, failures=None)
    channel, session = world.call(Press("0"))
    world.wait(119.5)
    assert world.outcomes == [] and ("HANGUP", ()) not in channel.commands
    world.wait(0.5)
    assert world.outcomes == ["apologised"]
    # 0, 0.5, 1.5, 3.5, 7.5, then every 5 s, the last one at the limit itself
    times = world.attempt_times()
    assert times[:6] == [0.0, 0.5, 1.5, 3.5, 7.5, 12.5] and times[-1] == 120.0
    assert times[5:-1] == [12.5 + 5 * n for n in range(22)]  # up to 117.5
    assert channel.played()[-2:] == [f"pln123/{p}" for p in APOLOGY_PROMPTS]
    assert channel.commands[-1] == ("HANGUP", ())
    assert session.journal.first("handoff_failed") == {
        "skill": "general", "reason": "asked", "attempts": len(times)}
    assert world.intake.requests == []
    assert world.engine.active == {}


def test_the_limit_is_the_configured_one(tmp_path: Path) -> None:
    data = shipped()
    data["ivr"]["handoff_timeout_s"] = 10
    short = load_config(write_config(tmp_path, data))
    assert short.ivr.handoff_timeout_s == 10.0
    world = Outage(short, failures=None)
    world.call(Press("0"))
    world.wait(10.0)
    assert world.outcomes == ["apologised"]
    assert world.attempt_times()[-1] == 10.0


def test_a_caller_hanging_up_while_it_retries_stops_the_retries(config: Config) -> None:
    world = Outage(config, failures=None)
    channel, session = world.call(Press("0"))
    world.wait(1.5)
    assert len(world.intake.attempts) == 3
    channel.ended = True  # the Hangup event ended the AGI session
    world.wait(2.0)
    assert world.outcomes == ["caller_hung_up"]
    assert len(world.intake.attempts) == 3  # no attempt after the hang-up
    world.wait(300)
    assert len(world.intake.attempts) == 3 and world.intake.requests == []
    assert "handoff_failed" not in session.journal.names()
    assert session.journal.names()[-2:] == ["caller_hung_up", "call_ended"]
    assert world.clock.getDelayedCalls() == []


def test_a_refused_request_is_not_retried(config: Config) -> None:
    world = Outage(config, failures=0)
    world.intake.enqueue = lambda request: fail(ValueError("bad skill"))  # type: ignore[method-assign]
    channel, session = world.call(Press("0"))
    assert world.outcomes == ["apologised"]
    assert channel.commands[-1] == ("HANGUP", ())
    assert session.journal.first("handoff_failed") == {
        "skill": "general", "reason": "asked", "attempts": 1}


def test_the_default_backoff_is_capped_with_jitter() -> None:
    delays = [HANDOFF_BACKOFF(n) for n in range(12)]
    for n, delay in enumerate(delays):
        base = min(0.5 * 2 ** n, 5.0)
        assert base <= delay <= base + 0.5


def test_a_ticket_not_filed_while_redis_is_down_hands_off_and_waits(config: Config) -> None:
    world = Outage(config, failures=2)
    world.tickets.create = lambda *a, **k: fail(  # type: ignore[method-assign]
        ConnectionError("Connection refused"))
    _channel, session = world.call(Press("2"), Press("1"), Press(IDPEL), Press("1"))
    assert world.outcomes == []
    world.wait(1.5)
    assert world.outcomes == ["queued"]
    assert world.intake.requests[0].idpel == IDPEL  # the agent still sees who called
    assert session.journal.first("handed_off") == {
        "skill": "general", "priority": 5, "reason": "error", "position": 1}


def test_a_ticket_status_lookup_failing_ends_in_the_apology_not_in_music(
        config: Config) -> None:
    world = Outage(config, failures=None)
    world.tickets.find = lambda number: fail(  # type: ignore[method-assign]
        ConnectionError("Connection refused"))
    channel, _session = world.call(Press("4"), Press("10000001#"))
    world.wait(120)
    assert world.outcomes == ["apologised"]
    assert channel.commands[-1] == ("HANGUP", ())


def test_a_rescue_that_fails_hangs_up_instead_of_leaving_music(config: Config) -> None:
    world = Outage(config, failures=0)

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("bug")

    world.tickets.create = broken  # type: ignore[method-assign]
    channel = ScriptedChannel([Press("2"), Press("1"), Press(IDPEL), Press("1")],
                              env={"agi_arg_1": "0711", "agi_callerid": "1"})
    execute = channel.execute

    def no_music(command: str, *args: Any, timeout: float | None = None) -> Any:
        if args[:1] == ("StartMusicOnHold",):
            raise RuntimeError("music broke")
        return execute(command, *args, timeout=timeout)

    channel.execute = no_music  # type: ignore[method-assign]
    world.engine.on_session(channel).addBoth(world.outcomes.append)
    assert world.outcomes == ["failed"]
    assert channel.commands[-1] == ("HANGUP", ())


def test_hanging_up_during_the_apology_is_a_hang_up(config: Config) -> None:
    world = Outage(config, failures=None)
    channel, _session = world.call(Press("0"))
    world.wait(119.5)
    channel.script.append(HangUp(at_prompt=True))
    world.wait(0.5)
    assert world.outcomes == ["caller_hung_up"]
    assert channel.played()[-1] == f"pln123/{APOLOGY_PROMPTS[0]}"
    assert ("HANGUP", ()) not in channel.commands


def test_outage_info_without_the_board_is_an_agent_not_a_false_all_clear(
        config: Config) -> None:
    world = Outage(config, failures=1)
    world.engine.services.outages.broken = True  # type: ignore[attr-defined]
    channel, session = world.call(Press("1"))
    world.wait(0.5)
    assert world.outcomes == ["queued"]
    assert "pln123/no-outage" not in channel.played()
    assert session.journal.first("fallback") == {"flow": "outage_info",
                                                 "action": "queue general (priority 5)"}
    assert session.journal.first("handed_off") == {
        "skill": "general", "priority": 5, "reason": "asked", "position": 1}
