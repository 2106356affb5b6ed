"""The demo's and load test's pure parts: the caller schedule, the config overlay, call
outcomes and the report's percentiles (no sockets, no clocks: elapsed times are given)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.demo.config import SHIPPED_CONFIG, absolute_paths, merge, write_overlay
from tools.demo.run import demo_overrides
from tools.demo.traffic import Surge, Traffic
from tools.loadtest.outcomes import classify, lost, outcome
from tools.loadtest.report import percentile
from tools.loadtest.run import LoadOptions, agent_ids, load_overrides

CODES = {"palembang": ["0711", "0721"], "medan": ["061"]}


def test_every_caller_is_due_once_in_time_order_with_the_sites_area_codes() -> None:
    traffic = Traffic(CODES, {"palembang": 10.0, "medan": 10.0}, seed=1)
    first = traffic.due(50.0)
    again = traffic.due(50.0)
    later = traffic.due(100.0)
    assert again == []
    numbers = [c.number for c in first + later]
    assert len(numbers) == len(set(numbers))
    assert all(c.area_code in CODES[c.site] for c in first + later)
    assert all(c.dtmf == "0" and not c.surge for c in first)
    # a Poisson stream with mean gap 10 s: about 20 callers in 100 s for two sites
    assert 8 <= len(first + later) <= 40


def test_every_site_has_a_caller_within_the_first_seconds() -> None:
    traffic = Traffic(CODES, {"palembang": 1000.0, "medan": 1000.0}, seed=7,
                      first_within_s=5.0)
    assert {c.site for c in traffic.due(5.0)} == {"palembang", "medan"}


def test_the_surge_adds_callers_only_at_its_site_only_while_it_lasts() -> None:
    traffic = Traffic(CODES, {"medan": 10_000.0}, Surge("palembang", 60, 30, 1.0), seed=3)
    before = [c for c in traffic.due(59.9) if c.surge]
    during = [c for c in traffic.due(90.0) if c.surge]
    after = [c for c in traffic.due(200.0) if c.surge]
    assert before == [] and after == []
    assert 10 <= len(during) <= 60
    assert {c.site for c in during} == {"palembang"}


def test_traffic_refuses_a_site_without_area_codes_or_a_bad_gap() -> None:
    with pytest.raises(ValueError, match="surabaya"):
        Traffic(CODES, {"surabaya": 5.0})
    with pytest.raises(ValueError, match="positive"):
        Traffic(CODES, {"medan": 0.0})


def test_merge_and_absolute_paths() -> None:
    merged = merge({"acd": {"a": 1, "b": {"c": 2}}, "x": [1]}, {"acd": {"b": {"d": 3}},
                                                                "x": [2]})
    assert merged == {"acd": {"a": 1, "b": {"c": 2, "d": 3}}, "x": [2]}
    data = absolute_paths({"ami": {"secret_file": "secrets/a", "host": "h"},
                           "l": [{"password_file": "/abs"}]}, Path("/etc/pln"))
    assert data == {"ami": {"secret_file": "/etc/pln/secrets/a", "host": "h"},
                    "l": [{"password_file": "/abs"}]}


def test_demo_overlay_is_a_valid_config_and_leaves_the_shipped_file_alone(tmp_path: Path
                                                                          ) -> None:
    shipped = SHIPPED_CONFIG.read_bytes()
    config = write_overlay(tmp_path / "demo.yaml", demo_overrides())
    assert SHIPPED_CONFIG.read_bytes() == shipped
    assert all(a.endpoint == f"Local/{a.id}@demo-agent" for a in config.acd.agents)
    assert config.acd.interflow.default.threshold_s == 20
    assert config.acd.interflow.reevaluate_s == 2
    assert config.dashboard is not None and config.dashboard.supervisors


def test_load_overlay_has_the_synthetic_agents_of_the_chosen_sites(tmp_path: Path) -> None:
    options = LoadOptions(sites=("palembang", "medan"), agents=3)
    sites = ["palembang", "medan", "jakarta"]
    config = write_overlay(tmp_path / "load.yaml", load_overrides(options, sites))
    assert [a.id for a in config.acd.agents] == ["90001", "90002", "90003",
                                                  "91001", "91002", "91003"]
    assert agent_ids(2, 1) == ["92001"]
    assert {a.site for a in config.acd.agents} == {"palembang", "medan"}


def test_outcomes_from_a_numbers_records() -> None:
    assert outcome([], ivr_took=False) == "no_ivr"
    assert outcome([], ivr_took=True) == "no_queue"
    moved = {"state": "moved", "moved_to": "medan"}
    assert outcome([moved, {"state": "finished", "answered_at": "1.0"}], True) == "answered"
    assert outcome([{"state": "queued", "callback": "0812"}], True) == "callback"
    assert outcome([{"state": "finished", "outcome": "max_wait"}], True) == "turned_away"
    assert outcome([{"state": "abandoned"}], True) == "abandoned"
    assert outcome([{"state": "queued"}], True) == "waiting"
    counts = classify(["1", "2", "3"], {"1": [{"answered_at": "2"}]}, ivr_took={"2"})
    assert (counts["answered"], counts["no_queue"], counts["no_ivr"]) == (1, 1, 1)
    assert lost(counts) == 2


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile([3.0], 99) == 3.0
    assert percentile([], 50) is None
