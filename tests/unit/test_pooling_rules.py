"""The pooling rules as plain values: who is offered whose agents in what order, what each
site keeps, the text the matching script reads, and the pool's expected wait that surge
admission control judges."""

from __future__ import annotations

import math

from acd.pooling.admission import pooled_ewt
from acd.pooling.status import SiteStatus, SkillStatus
from acd.queues.store import pool_rules
from acd.settings import AutoReserve, PoolingSettings

SITES = ("palembang", "medan", "jakarta", "surabaya", "makassar")
POOLING = PoolingSettings(
    pools={"national": SITES}, order={"palembang": ("medan",), "surabaya": ("makassar",)},
    hub="jakarta", reserve={("medan", ""): "2", ("medan", "fault"): "0"},
    trunk_limit=30, trunk_limits={("palembang", "medan"): 5})


def test_siblings_first_then_the_hub_then_the_rest() -> None:
    assert POOLING.candidates("palembang") == ("medan", "jakarta", "surabaya", "makassar")
    assert POOLING.candidates("surabaya") == ("makassar", "jakarta", "palembang", "medan")
    assert POOLING.candidates("jakarta") == ("palembang", "medan", "surabaya", "makassar")


def test_a_site_in_no_pool_or_with_pooling_off_is_on_its_own() -> None:
    assert PoolingSettings(pools={"west": ("palembang", "medan")}).candidates("makassar") == ()
    off = PoolingSettings(enabled=False, pools={"national": SITES})
    assert off.pool_of("medan") == "medan" and off.candidates("medan") == ()


def test_reserves_by_skill_then_site_then_default() -> None:
    assert POOLING.reserve_for("medan", "fault") == "0"
    assert POOLING.reserve_for("medan", "general") == "2"
    assert POOLING.reserve_for("palembang", "fault") == "auto"


def test_trunk_limits_per_ordered_pair() -> None:
    assert POOLING.trunk_limit_for("palembang", "medan") == 5
    assert POOLING.trunk_limit_for("medan", "palembang") == 30


def test_the_script_reads_the_same_rules_from_every_site_of_the_pool() -> None:
    texts = {pool_rules(POOLING, site) for site in SITES}
    assert len(texts) == 1
    cands, reserves, trunks, auto, rings = texts.pop().split("#")
    assert "palembang=medan|jakarta|surabaya|makassar" in cands.split(";")
    assert reserves.split(";") == ["auto", "medan:=2", "medan:fault=0"]
    assert trunks.split(";") == ["30", "palembang>medan=5"]
    a = AutoReserve()
    assert [float(v) for v in auto.split(",")] == [a.every_s, a.sl_low, a.sl_high,
                                                   a.min_answered, a.most, a.net_window_s]
    assert rings == "1"
    assert pool_rules(PoolingSettings(ring_stream=False), "medan").endswith("#0")


def status(site: str, *, waiting: int, ready: int, per_call_s: float,
           up: bool = True) -> SiteStatus:
    return SiteStatus(site, 0.0, up, {"general": SkillStatus(
        staffed=5, ready=ready, waiting=waiting, per_call_s=per_call_s)})


def test_the_pools_expected_wait_counts_every_live_site() -> None:
    one = {"palembang": status("palembang", waiting=9, ready=0, per_call_s=60)}
    assert pooled_ewt("general", one) == 10 * 60          # 10 ahead at one a minute
    two = {**one, "medan": status("medan", waiting=0, ready=0, per_call_s=60)}
    assert pooled_ewt("general", two) == 10 * 30          # twice the rate
    ready = {**two, "jakarta": status("jakarta", waiting=0, ready=12, per_call_s=60)}
    assert pooled_ewt("general", ready) == 0.0            # a ready agent for everyone


def test_a_site_that_is_down_or_serves_nobody_adds_nothing() -> None:
    statuses: dict[str, SiteStatus | None] = {
        "palembang": status("palembang", waiting=4, ready=0, per_call_s=math.inf),
        "medan": status("medan", waiting=0, ready=3, per_call_s=10, up=False),
        "jakarta": None}
    assert math.isinf(pooled_ewt("general", statuses))
