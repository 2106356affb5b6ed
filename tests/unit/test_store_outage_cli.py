"""`pln123 outage` input handling without Redis: area codes against the config, times."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from acd.selfservice.models import Outage
from pln123.cli.main import build_parser
from pln123.cli.outage import BadInput, format_table, parse_areas, parse_restore
from pln123.config import load_config

CONFIG = Path(__file__).resolve().parents[2] / "deploy" / "config" / "pln.yaml"
WIB = timezone(timedelta(hours=7), "WIB")
NOW = datetime(2025, 1, 2, 14, 0, tzinfo=WIB)


def test_areas_must_be_served_by_a_site() -> None:
    config = load_config(CONFIG)
    assert parse_areas("0711, 0721,0711", config) == ("0711", "0721")
    with pytest.raises(BadInput, match="0999 is not served by any site"):
        parse_areas("0711,0999", config)
    with pytest.raises(BadInput, match="'7111' is not valid"):
        parse_areas("7111", config)
    with pytest.raises(BadInput, match="at least one"):
        parse_areas(" , ", config)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("18:30", datetime(2025, 1, 2, 18, 30, tzinfo=WIB)),
        ("9:05", datetime(2025, 1, 3, 9, 5, tzinfo=WIB)),  # passed today: tomorrow
        ("14:00", datetime(2025, 1, 3, 14, 0, tzinfo=WIB)),
        ("2025-01-02T20:00", datetime(2025, 1, 2, 20, 0, tzinfo=WIB)),
        ("2025-01-02T20:00+08:00", datetime(2025, 1, 2, 19, 0, tzinfo=WIB)),
        ("2025-01-03 06:00:00Z", datetime(2025, 1, 3, 13, 0, tzinfo=WIB)),
    ],
)
def test_restore_times(text: str, expected: datetime) -> None:
    assert parse_restore(text, NOW) == expected.timestamp()


@pytest.mark.parametrize(("text", "expected"), [
    ("24:00", "neither HH:MM"), ("18.30", "neither HH:MM"), ("soon", "neither HH:MM"),
    ("2025-01-02T13:59", "in the past"), ("2025-01-02T14:00", "in the past"),
])
def test_bad_restore_times(text: str, expected: str) -> None:
    with pytest.raises(BadInput, match=expected):
        parse_restore(text, NOW)


def test_table_lines_up_and_keeps_the_message_whole() -> None:
    outages = [
        Outage("o-1", ("0711", "0721"), "Gangguan gardu induk " * 5, None, 1_735_801_200.0),
        Outage("o-12", ("061",), "Padam", 1_735_812_000.0, 1_735_801_260.0, "spv-medan"),
    ]
    lines = format_table(outages).splitlines()
    assert len(lines) == 3
    message_column = lines[0].index("MESSAGE")
    assert lines[1][message_column:] == "Gangguan gardu induk " * 5
    assert lines[2][message_column:] == "Padam"
    assert lines[1].split()[2] == "unknown"
    assert format_table([]) == "no outages on the board"


def test_the_outage_verbs_are_registered() -> None:
    parser = build_parser()
    args = parser.parse_args(["outage", "clear", "--config", "c.yaml", "o-3"])
    assert (args.id, args.config, args.redis_url) == ("o-3", Path("c.yaml"), None)
    args = parser.parse_args(["outage", "add", "--config", "c.yaml", "--area", "0711",
                              "--message", "x", "--redis-url", "redis://h/0"])
    assert (args.area, args.restore, args.by, args.redis_url) == (
        "0711", None, "cli", "redis://h/0")
