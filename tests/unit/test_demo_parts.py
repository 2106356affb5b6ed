"""The demo's and load test's pure parts: the caller schedule, the config overlay, the
figures the demo prints, call outcomes and the report's percentiles (no sockets, no clocks:
elapsed times are given). Their Redis reads: tests/integration/cli/test_demo_redis_reads.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from acd.store.keys import SiteKeys
from tools.demo.config import SHIPPED_CONFIG, absolute_paths, merge, write_overlay
from tools.demo.figures import SiteFigures, format_figures
from tools.demo.run import DEMO_RESERVE, SITES, demo_overrides
from tools.demo.stack import Stack, StackSettings
from tools.demo.traffic import Surge, Traffic
from tools.loadtest.observer import is_agent_leg
from tools.loadtest.outcomes import classify, lost, outcome, pooled
from tools.loadtest.report import LoadReport, percentile
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
    pooling = config.acd.pooling
    assert pooling.enabled
    assert {pooling.pool_of(site) for site in SITES} == {"national"}
    assert all(pooling.reserve_for(site, "general") == str(DEMO_RESERVE) for site in SITES)
    # Palembang's callers: Medan's agents first (its sibling), then the hub, then the rest
    assert pooling.candidates("palembang") == ("medan", "jakarta", "surabaya", "makassar")
    assert all(q.wrapup_s == 3 for q in config.acd.queues.values())
    assert config.dashboard is not None and config.dashboard.supervisors


def test_the_stack_reads_each_site_under_its_pools_hash_tag(tmp_path: Path) -> None:
    config = write_overlay(tmp_path / "demo.yaml", demo_overrides())
    stack = Stack(StackSettings(config=tmp_path / "demo.yaml", pooling=config.acd.pooling,
                                sites=SITES, workdir=tmp_path))
    keys = stack.keys("medan")
    assert keys.calls_pattern == "acd:{national}:medan:call:*"
    assert keys.agents == SiteKeys("medan", "national").agents


def test_the_demos_figures_show_lent_and_borrowed_per_site() -> None:
    rows = [SiteFigures("palembang", offered=20, answered=12, abandoned=1, pooled_in=7,
                        pooled_out=0, waiting=3),
            SiteFigures("medan", offered=9, answered=9, abandoned=0, pooled_in=0,
                        pooled_out=5, waiting=0)]
    assert (rows[0].borrowed, rows[0].lent, rows[1].lent) == (7, 0, 5)
    header, palembang, medan = format_figures(rows)
    assert header.split() == ["site", "answered", "abandoned", "waiting", "lent", "borrowed"]
    assert palembang.split() == ["palembang", "12/20", "1", "3", "0", "7"]
    assert medan.split() == ["medan", "9/9", "0", "0", "5", "0"]
    assert len({len(header), len(palembang), len(medan)}) == 1  # columns line up


def test_load_overlay_has_the_synthetic_agents_of_the_chosen_sites(tmp_path: Path) -> None:
    options = LoadOptions(sites=("palembang", "medan"), agents=3)
    sites = ["palembang", "medan", "jakarta"]
    config = write_overlay(tmp_path / "load.yaml", load_overrides(options, sites))
    assert [a.id for a in config.acd.agents] == ["90001", "90002", "90003",
                                                  "91001", "91002", "91003"]
    assert agent_ids(2, 1) == ["92001"]
    assert {a.site for a in config.acd.agents} == {"palembang", "medan"}
    # the outcomes are read after the drain: every call's record is still there
    assert config.acd.ended_call_keep_s == 3600
    long = LoadOptions(duration_s=7200.0)
    assert write_overlay(tmp_path / "long.yaml", load_overrides(long, sites)
                         ).acd.ended_call_ttl_s() >= long.ramp_s + 7200 + long.drain_s


def test_outcomes_from_a_numbers_records() -> None:
    assert outcome([], ivr_took=False) == "no_ivr"
    assert outcome([], ivr_took=True) == "no_queue"
    unanswered = {"state": "abandoned", "site": "palembang"}
    assert outcome([unanswered, {"state": "finished", "answered_at": "1.0"}],
                   True) == "answered"
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


def test_pooled_counts_answers_by_another_sites_agent() -> None:
    records = {
        "1": [{"site": "palembang", "agent_site": "medan", "answered_at": "5"}],
        "2": [{"site": "palembang", "agent_site": "palembang", "answered_at": "5"}],
        "3": [{"site": "palembang", "agent_site": "medan"}],   # rang there, not answered
        "4": [{"site": "palembang", "answered_at": "5"}],
    }
    assert pooled(["1", "2", "3", "4", "5"], records) == 1
    report = LoadReport(concurrent_target=5, sites=["palembang", "medan"], agents_per_site=1,
                        seconds=10.0, offered=5, peak_concurrent=5,
                        outcomes={"answered": 3, "waiting": 2}, lost=2, pln123_cpu_s={},
                        asterisk_cpu_s={}, ami_events=0, latencies_ms=[], pooled=1)
    assert "(1 answered by another site's agent)" in "\n".join(report.lines())


def test_the_observer_times_local_and_lent_agents_legs() -> None:
    assert is_agent_leg("Local/90001@loadtest-agent-00000012;1", "@loadtest-agent-")
    assert is_agent_leg("IAX2/pln-medan-4021", "@loadtest-agent-")
    assert not is_agent_leg("Local/0711123@pln123-inbound-palembang-0000001;2",
                            "@loadtest-agent-")

