"""`acd.pools` and `acd.pooling`: shipped values reach PoolingSettings; every mistake is one
problem named by its key path."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from acd.settings import AutoReserve
from pln123.config import load_config, parse_config
from tests.unit.test_config_acd import SHIPPED, Data, problems, shipped


def test_the_shipped_pooling_settings() -> None:
    pooling = load_config(SHIPPED).acd.pooling
    assert pooling.pools == {"national": ("palembang", "medan", "jakarta", "surabaya",
                                          "makassar")}
    assert pooling.hub == "jakarta"
    # siblings first, then the hub, then the rest of the pool
    assert pooling.candidates("palembang") == ("medan", "jakarta", "surabaya", "makassar")
    assert pooling.candidates("jakarta") == ("palembang", "medan", "surabaya", "makassar")
    assert pooling.reserve_for("medan", "fault") == "auto"
    assert pooling.auto == AutoReserve()
    assert (pooling.trunk_limit, pooling.national_max_ewt_s) == (30, 900)
    assert load_config(SHIPPED).asterisk.heartbeat_stale_s == 3


def test_site_and_skill_reserves_pools_and_trunk_limits() -> None:
    data = shipped()
    section = data["acd"]["pooling"]
    section["reserve"] = 1
    section["sites"] = {"palembang": {"reserve": 3, "skills": {"fault": {"reserve": "auto"}}}}
    section["trunk_limits"] = {"palembang": {"medan": 5}}
    section["auto"] = {"sl_low": 0.85, "most": 6}
    data["acd"]["pools"] = {"west": ["palembang", "medan"], "east": ["surabaya", "makassar"]}
    pooling = parse_config(data, SHIPPED).acd.pooling
    assert pooling.reserve_for("palembang", "general") == "3"
    assert pooling.reserve_for("palembang", "fault") == "auto"
    assert pooling.reserve_for("medan", "general") == "1"
    assert pooling.trunk_limit_for("palembang", "medan") == 5
    assert pooling.trunk_limit_for("medan", "palembang") == 30
    assert (pooling.auto.sl_low, pooling.auto.most) == (0.85, 6)
    assert pooling.pool_of("medan") == "west" and pooling.pool_of("makassar") == "east"
    assert pooling.candidates("medan") == ("palembang",)
    assert pooling.pool_of("jakarta") == "jakarta"   # in no pool: a pool of its own
    assert pooling.candidates("jakarta") == ()


def test_pooling_off_keeps_every_site_to_itself() -> None:
    data = shipped()
    data["acd"]["pooling"]["enabled"] = False
    pooling = parse_config(data, SHIPPED).acd.pooling
    assert pooling.pool_of("palembang") == "palembang"
    assert pooling.candidates("palembang") == ()


def change(path: list[str], value: Any) -> Callable[[Data], None]:
    def apply(data: Data) -> None:
        node = data["acd"]
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = value
    return apply


P = "acd.pooling."
MISTAKES = [
    (change(["pooling", "reserve"], -1), P + "reserve: must be auto or a number"),
    (change(["pooling", "reserve"], "some"), P + "reserve: must be auto or a number"),
    (change(["pooling", "reseve"], 2), P + "reseve: unknown key"),
    (change(["pooling", "order", "palembang"], ["jakarta"]),
     P + "order.palembang[0]: 'jakarta' is the hub"),
    (change(["pooling", "order", "palembang"], ["palembang"]),
     P + "order.palembang[0]: a site does not lend itself agents"),
    (change(["pooling", "order", "palembang"], ["bandung"]),
     P + "order.palembang[0]: 'bandung' is not a site"),
    (change(["pooling", "order", "bandung"], ["medan"]),
     P + "order.bandung: 'bandung' is not a site"),
    (change(["pooling", "sites", "medan", "skills", "cooking"], {"reserve": 1}),
     P + "sites.medan.skills.cooking: 'cooking' is not a skill"),
    (change(["pooling", "sites", "medan", "reserve"], 101),
     P + "sites.medan.reserve: must be auto or a number of agents from 0 to 100"),
    (change(["pooling", "trunk_limits", "medan", "medan"], 3),
     P + "trunk_limits.medan.medan: 'medan' is not another site"),
    (change(["pooling", "status_ttl_s"], 1),
     P + "status_ttl_s: must be longer than status_every_s"),
    (change(["pooling", "auto", "sl_high"], 0.5), P + "auto.sl_high: must be at least sl_low"),
    (change(["pooling", "enabled"], "yes"), P + "enabled: must be"),
    (change(["pools", "west"], ["palembang", "bandung"]),
     "acd.pools.west[1]: 'bandung' is not a site"),
    (lambda data: data["acd"].__setitem__("pools", {"a": ["medan"], "b": ["medan"]}),
     "acd.pools.b[0]: 'medan' is already in pool 'a'"),
    (change(["pools", "West"], ["medan"]), "acd.pools.West: 'West' is not a pool name"),
]


@pytest.mark.parametrize(("edit", "expected"), MISTAKES)
def test_each_mistake_names_its_key_path(edit: Callable[[Data], None], expected: str) -> None:
    data = shipped()
    edit(data)
    found = problems(data)
    assert any(p.startswith(expected) for p in found), found
