"""`pln123 report` in this process, on a SQLite history made for the test: its output, and
its exit statuses for bad input and a database nothing was archived into."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from pln123.cli.main import main
from pln123.history.database import migrate, open_engine
from pln123.history.reports import ABANDONED_COLUMNS, AGENT_COLUMNS, COLUMNS
from pln123.history.rows import parse_entry
from pln123.history.writer import HistoryWriter
from tests.doubles.config import SHIPPED

T0 = 1_735_801_200.0   # 2025-01-02 14:00 WIB


@pytest.fixture
def database(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'history.sqlite3'}"
    engine = open_engine(url)
    migrate(engine)
    base = {"site": "palembang", "skill": "general", "agent": ""}
    HistoryWriter(engine).write([
        parse_entry("palembang", "1-0", {**base, "event": "offered", "call": "c1",
                                         "at": str(T0), "caller_number": "0711555"}),
        parse_entry("palembang", "2-0", {**base, "event": "abandoned", "call": "c1",
                                         "at": str(T0 + 25), "wait_ms": "25000",
                                         "in_sl": "0"}),
        parse_entry("palembang", "3-0", {**base, "event": "login", "agent": "1101",
                                         "subject": "agent", "state": "ready",
                                         "at": str(T0)}),
    ])
    engine.dispose()
    return url


def report(*args: str) -> int:
    return main(["report", *args, "--config", str(SHIPPED)])


def test_each_report_prints_its_header_and_rows(database: str,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    window = ["--from", "2025-01-02T14:00", "--to", "2025-01-02T15:00", "--database", database]
    for kind in COLUMNS:
        assert report(kind, *window, "--format", "csv") == 0
        rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
        assert rows[0] == list(COLUMNS[kind])
    assert report("abandoned", *window, "--format", "csv") == 0
    (line,) = list(csv.reader(io.StringIO(capsys.readouterr().out)))[1:]
    assert dict(zip(ABANDONED_COLUMNS, line, strict=True))["caller_number"] == "0711555"
    assert report("agents", *window, "--site", "palembang") == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == list(AGENT_COLUMNS)
    assert table[2].split()[:3] == ["palembang", "1101", "0"]


def test_bad_input_and_an_empty_history(tmp_path: Path, database: str,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    assert report("interval", "--from", "2025-01-02", "--to", "2025-01-01",
                  "--database", database) == 2
    assert "--to must be after --from" in capsys.readouterr().err
    assert report("interval", "--from", "yesterday", "--database", database) == 2
    assert report("interval", "--from", "2025-01-02", "--site", "atlantis",
                  "--database", database) == 2
    assert "no site atlantis" in capsys.readouterr().err
    empty = f"sqlite:///{tmp_path / 'empty.sqlite3'}"
    assert report("calls", "--from", "2025-01-02", "--database", empty) == 1
    assert "has pln123 archive run?" in capsys.readouterr().err
