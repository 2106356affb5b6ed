"""Scenario loading: the shipped scenarios load, problems name their key path, arrivals
follow the profile and surges."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

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
    (lambda r: r["interflow"]["order"].update(palembang=["palembang"]),
     "interflow.order.palembang[0]"),
    (lambda r: r["callers"]["redial"].update(probabilty=0.5), "callers.redial.probabilty"),
    (lambda r: r["handle_time"].update(distribution="weibull"), "handle_time.distribution"),
])
def test_problems_name_their_key_path(change: Any, path: str) -> None:
    raw = copy.deepcopy(_normal())
    change(raw)
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(raw)
    assert caught.value.args[0].startswith(path + ":"), caught.value.args[0]


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
