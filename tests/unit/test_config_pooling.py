"""The `acd.interflow:` section: shipped values reach InterflowSettings; every mistake is
one problem named by its key path."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from acd.settings import InterflowRule
from pln123.config import load_config, parse_config
from tests.unit.test_config_acd import SHIPPED, Data, problems, shipped


def test_the_shipped_interflow_settings() -> None:
    interflow = load_config(SHIPPED).acd.interflow
    assert interflow.hub == "jakarta"
    assert interflow.candidates("palembang") == ("medan", "jakarta")
    assert interflow.candidates("jakarta") == ()
    assert interflow.rule("palembang", "fault") == InterflowRule(60, 60, 15, 0)
    assert (interflow.max_moves, interflow.trunk_limit) == (2, 30)
    assert load_config(SHIPPED).asterisk.heartbeat_stale_s == 3


def test_site_and_skill_rules_and_trunk_limits() -> None:
    data = shipped()
    section = data["acd"]["interflow"]
    section["sites"] = {"palembang": {"threshold_s": 45, "skills": {"fault": {"margin_pct": 20}}}}
    section["trunk_limits"] = {"palembang": {"medan": 5}}
    interflow = parse_config(data, SHIPPED).acd.interflow
    assert interflow.rule("palembang", "general").threshold_s == 45
    assert interflow.rule("palembang", "fault") == InterflowRule(45, 60, 15, 20)
    assert interflow.rule("medan", "fault").threshold_s == 60
    assert interflow.trunk_limit_for("palembang", "medan") == 5
    assert interflow.trunk_limit_for("medan", "palembang") == 30


def change(path: list[str], value: Any) -> Callable[[Data], None]:
    def apply(data: Data) -> None:
        node = data["acd"]["interflow"]
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = value
    return apply


P = "acd.interflow."
MISTAKES = [
    (change(["threshold_s"], -1), P + "threshold_s: must be between 0 and 7200"),
    (change(["thresold_s"], 5), P + "thresold_s: unknown key"),
    (change(["order", "palembang"], ["jakarta"]), P + "order.palembang[0]: 'jakarta' is the hub"),
    (change(["order", "palembang"], ["palembang"]),
     P + "order.palembang[0]: a site cannot send calls to itself"),
    (change(["order", "palembang"], ["bandung"]),
     P + "order.palembang[0]: 'bandung' is not a site"),
    (change(["order", "bandung"], ["medan"]), P + "order.bandung: 'bandung' is not a site"),
    (change(["sites", "medan", "skills", "cooking"], {"threshold_s": 1}),
     P + "sites.medan.skills.cooking: 'cooking' is not a skill"),
    (change(["trunk_limits", "medan", "medan"], 3),
     P + "trunk_limits.medan.medan: 'medan' is not another site"),
    (change(["status_ttl_s"], 1), P + "status_ttl_s: must be longer than status_every_s"),
    (change(["enabled"], "yes"), P + "enabled: must be"),
]


@pytest.mark.parametrize(("edit", "expected"), MISTAKES)
def test_each_mistake_names_its_key_path(edit: Callable[[Data], None], expected: str) -> None:
    data = shipped()
    edit(data)
    found = problems(data)
    assert any(p.startswith(expected) for p in found), found
