"""Scenario loading: the shipped scenarios load; problems (bad values, unknown and duplicate
keys) are all reported, each with its key path; omitted ACD timings are the ACD's own;
arrivals follow the profile and surges."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from acd.settings import AcdSettings, PoolingSettings, QueueSettings
from tools.simulation.sampling import arrivals, expected_calls
from tools.simulation.scenario import ScenarioError, load_scenario, parse_scenario

SCENARIOS = Path(__file__).resolve().parents[2] / "deploy" / "scenarios"


@pytest.mark.parametrize("name", ["normal", "surge-2018", "blackout-2019"])
def test_shipped_scenarios_load(name: str) -> None:
    scenario = load_scenario(SCENARIOS / f"{name}.yaml")
    assert scenario.focus_region == "palembang"
    assert scenario.hub == "jakarta"
    assert set(scenario.sites) == {"palembang", "medan", "jakarta", "surabaya", "makassar"}


def _normal() -> dict[str, Any]:
    raw: dict[str, Any] = yaml.safe_load((SCENARIOS / "normal.yaml").read_text())
    return raw


@pytest.mark.parametrize(("change", "path"), [
    (lambda r: r["sites"]["palembang"]["roster"][1].update(shift=[8, 25]),
     "sites.palembang.roster[1].shift[1]"),
    (lambda r: r["sites"]["medan"]["roster"][0]["skills"].update(billing=5),
     "sites.medan.roster[0].skills.billing"),
    (lambda r: r["skills"]["general"].update(share=0.5), "skills"),
    (lambda r: r["traffic"]["palembang"].update({711: 100}), "traffic.palembang.711"),
    (lambda r: r.update(surges=[{"region": "bali", "from_h": 1, "to_h": 2, "factor": 2}]),
     "surges[0].region"),
    (lambda r: r["pooling"]["order"].update(palembang=["palembang"]),
     "pooling.order.palembang[0]"),
    (lambda r: r["pooling"].update(reserve="lots"), "pooling.reserve"),
    (lambda r: r["pooling"].update(auto={"sl_low": 2}), "pooling.auto.sl_low"),
    (lambda r: r["callers"]["redial"].update(probabilty=0.5), "callers.redial.probabilty"),
    (lambda r: r["handle_time"].update(distribution="weibull"), "handle_time.distribution"),
])
def test_problems_name_their_key_path(change: Any, path: str) -> None:
    raw = copy.deepcopy(_normal())
    change(raw)
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(raw)
    assert caught.value.args[0].startswith(path + ":"), caught.value.args[0]
    assert [p.path for p in caught.value.problems] == [path]   # that one, nothing else


def _written(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "scenario.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_duplicate_key_is_refused_with_its_line(tmp_path: Path) -> None:
    text = (SCENARIOS / "normal.yaml").read_text()
    # A second `seed:` right after the first: plain YAML would keep the last silently.
    lines = text.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("seed:"))
    lines.insert(first + 1, "seed: 7")
    with pytest.raises(ScenarioError) as caught:
        load_scenario(_written(tmp_path, "\n".join(lines) + "\n"))
    assert [str(p) for p in caught.value.problems] == [
        f"<top>: not valid YAML at line {first + 2}, column 1: duplicate key 'seed' "
        f"(first at line {first + 1})"]


def test_a_duplicate_site_is_refused_too(tmp_path: Path) -> None:
    text = (SCENARIOS / "normal.yaml").read_text()
    text = text.replace("\n  medan:\n", "\n  palembang:\n", 1)
    with pytest.raises(ScenarioError) as caught:
        load_scenario(_written(tmp_path, text))
    assert "duplicate key 'palembang'" in caught.value.args[0]


def test_an_unknown_key_is_refused_with_its_path() -> None:
    raw = copy.deepcopy(_normal())
    raw["sites"]["palembang"]["roster"][2]["shfit"] = [8, 16]
    raw["acd"]["queues"]["general"]["wrap_up_s"] = 5
    raw["focus"] = "medan"
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(raw)
    assert [str(p) for p in caught.value.problems] == [
        "acd.queues.general.wrap_up_s: unknown key",
        "focus: unknown key",
        "sites.palembang.roster[2].shfit: unknown key",
    ]


def test_every_problem_is_reported_at_once() -> None:
    raw = copy.deepcopy(_normal())
    raw["sites"]["palembang"]["roster"][0]["count"] = -1
    raw["sites"]["medan"]["role"] = "branch"
    raw["agents"]["ring_s"] = [5, 2]
    raw["profile"] = raw["profile"][:23]
    raw["start"] = "yesterday"
    raw["acd"]["waiting_room"] = "yes"
    raw["callers"]["redial"]["max_attempts"] = 0.5
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(raw)
    assert [str(p) for p in caught.value.problems] == [
        "acd.waiting_room: must be true or false, not 'yes'",
        "agents.ring_s: must be [shortest, longest], not [5, 2]",
        "callers.redial.max_attempts: must be an integer, not 0.5",
        "profile: must give 24 hourly weights, not 23",
        "sites.medan.role: must be 'site' or 'hub', not 'branch'",
        "sites.palembang.roster[0].count: must be between 0 and 2000, not -1",
        "start: must be an ISO date and time with offset, e.g. 2018-10-15T00:00:00+07:00, "
        "not 'yesterday'",
    ]
    assert caught.value.args[0] == "\n".join(str(p) for p in caught.value.problems)


def test_a_broken_section_is_one_problem_not_a_cascade() -> None:
    raw = copy.deepcopy(_normal())
    raw["skills"]["general"]["share"] = "most"   # the mix is unknown: rosters not checked
    raw["traffic"] = ["0711"]
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(raw)
    assert [str(p) for p in caught.value.problems] == [
        "skills.general.share: must be a number, not 'most'",
        "traffic: must be a mapping, not a list",
    ]


def test_an_empty_or_unreadable_file_is_one_problem(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="the file is empty"):
        load_scenario(_written(tmp_path, "# nothing yet\n"))
    with pytest.raises(ScenarioError, match="cannot read"):
        load_scenario(tmp_path / "missing.yaml")


def test_omitted_acd_timings_are_the_acds_own_defaults() -> None:
    raw = copy.deepcopy(_normal())
    del raw["acd"]
    del raw["pooling"]
    scenario = parse_scenario(raw)
    acd, pooling = AcdSettings(), PoolingSettings()
    assert (scenario.acd.service_level_s, scenario.acd.escalation_s,
            scenario.acd.ring_timeout_s, scenario.acd.announce_every_s,
            scenario.acd.callback_offer_ewt_s, scenario.acd.abandon_resume_s) == (
        acd.service_level_s, acd.escalation_s, acd.ring_timeout_s, acd.announce_every_s,
        acd.callback_offer_ewt_s, acd.abandon_resume_s)
    assert scenario.acd.wrapup("general") == QueueSettings("general").wrapup_s
    assert scenario.acd.max_wait("general") == QueueSettings("general").max_wait_s
    rules = scenario.pooling
    assert (rules.reserve, rules.auto, rules.trunk_limit, rules.national_max_ewt_s) == (
        pooling.default_reserve, pooling.auto, pooling.trunk_limit,
        pooling.national_max_ewt_s)


def test_arrivals_follow_profile_and_surge() -> None:
    raw = copy.deepcopy(_normal())
    raw["duration_h"] = 12
    raw["surges"] = [{"region": "palembang", "from_h": 9, "to_h": 11, "factor": 3}]
    scenario = parse_scenario(raw)
    stream = list(arrivals(scenario))
    assert [a.at for a in stream] == sorted(a.at for a in stream)
    for region, lo, hi in [("palembang", 9, 11), ("palembang", 2, 4), ("medan", 9, 11)]:
        got = sum(1 for a in stream if a.area.site == region and lo * 3600 <= a.at < hi * 3600)
        want = expected_calls(scenario, region, lo, hi)
        assert abs(got - want) < 4 * want ** 0.5 + 2, (region, lo, got, want)
    surged = expected_calls(scenario, "palembang", 9, 11)
    plain = expected_calls(parse_scenario({**raw, "surges": []}), "palembang", 9, 11)
    assert surged == pytest.approx(3 * plain)
