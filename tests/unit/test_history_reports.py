"""The reports' arithmetic, on hand-made events: the counters the ACD keeps, rebuilt;
the figures from acd.queues.metrics; agents' time per state; the two output formats."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest

from acd.queues.metrics import Counters
from pln123.history.output import local_time, parse_time, to_csv, to_table
from pln123.history.reports import (
    ALL,
    INTERVAL_COLUMNS,
    Window,
    agent_rows,
    counters_of,
    interval_hashes,
    interval_rows,
)

T0 = 1_735_801_200.0   # 2025-01-02 14:00 WIB, on a 15-minute boundary
WIB = 7 * 3600


def call_event(event: str, at: float, site: str = "palembang", skill: str = "billing", *,
               wait_ms: int | None = None, in_sl: bool | None = None,
               agent_site: str = "", waited: str | None = None) -> dict[str, Any]:
    return {"site": site, "at": at, "event": event, "skill": skill, "agent_site": agent_site,
            "wait_ms": wait_ms, "in_sl": in_sl, "detail_waited": waited}


EVENTS = [
    call_event("offered", T0),
    call_event("offered", T0 + 1),
    call_event("offered", T0 + 2),
    call_event("answered", T0 + 5, wait_ms=5000, in_sl=True),
    call_event("abandoned", T0 + 12, wait_ms=10000, in_sl=True),
    call_event("answered", T0 + 40, wait_ms=39000, in_sl=False, agent_site="medan"),
    call_event("offered", T0 + 899.999),
    call_event("max_wait", T0 + 900, waited="600.000"),
    call_event("trunk_failed", T0 + 901),
    call_event("offered", T0 + 902, site="medan", skill="outage"),
]


def test_the_counters_are_rebuilt_per_interval_site_and_skill() -> None:
    hashes = interval_hashes(EVENTS)
    first = counters_of(hashes[(int(T0), "palembang", "billing")])
    assert first == Counters(offered=4, answered=2, answered_in_sl=1, answer_wait_sum=44.0,
                             abandoned=1, abandoned_in_sl=1, pooled_in=1, longest_wait=39.0)
    # the loan is counted at the lender too, under the call's skill
    assert counters_of(hashes[(int(T0), "medan", "billing")]) == Counters(pooled_out=1)
    second = counters_of(hashes[(int(T0) + 900, "palembang", "billing")])
    assert second == Counters(max_wait=1, pool_trunk_failed=1, longest_wait=600.0)


def test_interval_rows_use_the_dashboards_formulas_and_add_totals() -> None:
    rows = interval_rows(interval_hashes(EVENTS), Window(T0, T0 + 1800))
    assert [tuple(r[k] for k in ("interval", "site", "skill")) for r in rows] == [
        (T0, "medan", "billing"), (T0, "medan", ALL),
        (T0, "palembang", "billing"), (T0, "palembang", ALL),
        (T0, ALL, "billing"), (T0, ALL, ALL),
        (T0 + 900, "medan", "outage"), (T0 + 900, "medan", ALL),
        (T0 + 900, "palembang", "billing"), (T0 + 900, "palembang", ALL),
        (T0 + 900, ALL, "billing"), (T0 + 900, ALL, "outage"), (T0 + 900, ALL, ALL),
        (None, "medan", "billing"), (None, "medan", "outage"), (None, "medan", ALL),
        (None, "palembang", "billing"), (None, "palembang", ALL),
        (None, ALL, "billing"), (None, ALL, "outage"), (None, ALL, ALL)]
    palembang = rows[2]
    assert list(palembang) == list(INTERVAL_COLUMNS)
    assert (palembang["service_level"], palembang["service_level_2"], palembang["asa_s"],
            palembang["abandon_rate"]) == (0.5, 2 / 3, 22.0, 0.25)
    total = rows[-1]
    assert (total["offered"], total["answered"], total["pooled_in"], total["pooled_out"],
            total["max_wait"]) == (5, 2, 1, 1, 1)
    assert rows[6]["service_level"] is None    # nothing answered: no ratio, not 0


def test_a_site_filter_keeps_its_rows_and_drops_the_nations() -> None:
    rows = interval_rows(interval_hashes(EVENTS), Window(T0, T0 + 1800, frozenset({"medan"})))
    assert {r["site"] for r in rows} == {"medan"}
    assert rows[0]["pooled_out"] == 1


def test_agents_time_per_state_within_the_window() -> None:
    changes = [
        {"site": "palembang", "agent": "1101", "at": T0 - 100, "state": "ready", "reason": ""},
        {"site": "palembang", "agent": "1101", "at": T0 + 10, "state": "reserved",
         "reason": ""},
        {"site": "palembang", "agent": "1101", "at": T0 + 12, "state": "on_call",
         "reason": ""},
        {"site": "palembang", "agent": "1101", "at": T0 + 72, "state": "wrap_up",
         "reason": ""},
        {"site": "palembang", "agent": "1101", "at": T0 + 82, "state": "paused",
         "reason": "lunch"},
        {"site": "palembang", "agent": "1101", "at": T0 + 182, "state": "paused",
         "reason": "break"},
        {"site": "palembang", "agent": "1101", "at": T0 + 190, "state": "logged_out",
         "reason": ""},
    ]
    (row,) = agent_rows(changes, {("palembang", "1101"): 1}, Window(T0, T0 + 300))
    assert row == {"site": "palembang", "agent": "1101", "calls": 1, "aht_s": 70.0,
                   "talk_s": 60.0, "wrap_up_s": 10.0, "ready_s": 10.0, "ringing_s": 2.0,
                   "paused_s": 108.0, "paused_by_reason": "break=8.0;lunch=100.0"}
    lent = agent_rows([], {("medan", "2001"): 2}, Window(T0, T0 + 300))
    assert lent[0]["calls"] == 2 and lent[0]["aht_s"] == 0.0


def test_times_are_read_and_written_in_local_time() -> None:
    assert parse_time("2025-01-02", WIB) == T0 - 14 * 3600
    assert parse_time("2025-01-02T14:00", WIB) == T0
    assert parse_time("2025-01-02 07:00:00Z", WIB) == T0
    assert parse_time(str(T0), WIB) == T0
    with pytest.raises(ValueError):
        parse_time("yesterday", WIB)
    assert local_time(T0, WIB) == "2025-01-02T14:00:00+07:00"
    assert local_time(None, WIB, total=True) == "total"


def test_csv_has_the_header_then_plain_values() -> None:
    rows = interval_rows(interval_hashes(EVENTS[:6]), Window(T0, T0 + 900,
                                                              frozenset({"palembang"})))
    text = to_csv(INTERVAL_COLUMNS, rows, WIB)
    parsed = list(csv.reader(io.StringIO(text)))
    assert parsed[0] == list(INTERVAL_COLUMNS)
    assert parsed[1][:12] == ["2025-01-02T14:00:00+07:00", "palembang", "billing", "3", "2",
                              "1", "1", "1", "0.5000", "0.6667", "22.000", "0.3333"]
    assert parsed[-1][0] == "total"
    table = to_table(INTERVAL_COLUMNS, rows, WIB).splitlines()
    assert table[0].split() == list(INTERVAL_COLUMNS)
    assert "50.0%" in table[2] and "22.0" in table[2]
    empty = to_csv(INTERVAL_COLUMNS, interval_rows(interval_hashes(
        [call_event("offered", T0)]), Window(T0, T0 + 900)), WIB)
    assert list(csv.reader(io.StringIO(empty)))[1][8] == ""   # no SL yet: empty, not 0


def test_docs_reports_lists_each_reports_csv_header() -> None:
    from pathlib import Path

    from pln123.history.reports import COLUMNS

    docs = (Path(__file__).resolve().parents[2] / "docs" / "reports.md").read_text(
        encoding="utf-8").splitlines()
    for kind, columns in COLUMNS.items():
        assert ",".join(columns) in docs, f"docs/reports.md lacks the {kind} header"
