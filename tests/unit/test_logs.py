"""`configure_logging`'s JSON lines: the fields in order, then event, level and an ISO UTC
timestamp exactly as structlog's own TimeStamper and JSONRenderer write them."""

from __future__ import annotations

import datetime
import io
import json
import sys
from collections.abc import Iterator

import pytest
import structlog

from pln123.logs import UTCStamper, configure_logging


@pytest.fixture
def lines(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    out = io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    saved = structlog.get_config()
    configure_logging("info")
    try:
        yield out
    finally:
        structlog.configure(**saved)


class Odd:
    def __repr__(self) -> str:
        return "<Odd>"


def test_a_line_is_the_fields_then_event_level_and_timestamp(lines: io.StringIO) -> None:
    log = structlog.get_logger("x").bind(call_id="c1")
    log.info("ivr_menu_entered", menu="main", odd=Odd(), n=[1, 2])
    log.debug("hidden")
    (line,) = lines.getvalue().splitlines()
    record = json.loads(line)
    assert list(record) == ["call_id", "menu", "odd", "n", "event", "level", "timestamp"]
    assert record["odd"] == "<Odd>" and record["n"] == [1, 2]
    assert (record["event"], record["level"]) == ("ivr_menu_entered", "info")
    stamp = datetime.datetime.fromisoformat(record["timestamp"].replace("Z", "+00:00"))
    assert abs(stamp - datetime.datetime.now(datetime.UTC)).total_seconds() < 60
    expected = structlog.processors.JSONRenderer()(None, "info", dict(record))
    assert line == expected


def test_an_exception_is_rendered_into_the_line(lines: io.StringIO) -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        structlog.get_logger("x").exception("step_failed")
    record = json.loads(lines.getvalue())
    assert record["level"] == "error" and "ValueError: boom" in record["exception"]


@pytest.mark.parametrize("micro", [0, 1, 999_999])
def test_the_timestamp_matches_isoformat(monkeypatch: pytest.MonkeyPatch, micro: int) -> None:
    seconds = 1_796_555_910
    monkeypatch.setattr("pln123.logs.time.time_ns",
                        lambda: (seconds * 1_000_000 + micro) * 1000)
    stamped = UTCStamper()(None, "info", {})["timestamp"]
    moment = datetime.datetime.fromtimestamp(seconds, datetime.UTC).replace(
        microsecond=micro)
    assert stamped == moment.isoformat().replace("+00:00", "Z")
