"""Every rule of the interflow policy, with plain values (acd/interflow/policy.py)."""

from __future__ import annotations

import math

import pytest

from acd.interflow.policy import WaitingCall, decide, over_capacity
from acd.interflow.status import SiteStatus, SkillStatus, effective_threshold
from acd.settings import InterflowRule, InterflowSettings

SETTINGS = InterflowSettings(
    default=InterflowRule(threshold_s=60, accept_s=60, margin_s=15, margin_pct=0),
    order={"palembang": ("medan", "surabaya"), "medan": ("palembang",)},
    hub="jakarta", trunk_limit=5, max_moves=2)


def site(name: str, ewt: float, *, staffed: int = 3, ready: int = 0, ami_up: bool = True,
         skill: str = "general") -> SiteStatus:
    return SiteStatus(name, 0.0, ami_up, {skill: SkillStatus(staffed=staffed, ready=ready,
                                                              ewt_s=ewt)})


def call(home_ewt: float, **kw: object) -> WaitingCall:
    values: dict[str, object] = {"visited": ("palembang",)}
    values.update(kw)
    return WaitingCall("c1", "palembang", "general", home_ewt, **values)  # type: ignore[arg-type]


def statuses(**by_site: SiteStatus | None) -> dict[str, SiteStatus | None]:
    return dict(by_site)


def test_stays_home_when_an_agent_is_ready_there() -> None:
    s = statuses(palembang=site("palembang", 0, ready=1), medan=site("medan", 0))
    d = decide(call(500), s, SETTINGS)
    assert d.target is None and "ready at home" in d.reason


def test_stays_home_under_the_threshold_even_if_a_sibling_is_idle() -> None:
    s = statuses(medan=site("medan", 0))
    assert decide(call(60), s, SETTINGS).target is None      # at the threshold: stays
    assert decide(call(61), s, SETTINGS).target == "medan"   # over it: moves


def test_runtime_threshold_override_applies_per_site_and_skill() -> None:
    s = statuses(medan=site("medan", 0))
    assert decide(call(90), s, SETTINGS, overrides={"palembang": 120}).target is None
    assert decide(call(90), s, SETTINGS,
                  overrides={"palembang": 120, "palembang:general": 30}).target == "medan"
    assert effective_threshold({"palembang": 120}, "palembang", "fault", 60) == 120
    assert effective_threshold({}, "palembang", "fault", 60) == 60


def test_candidate_must_accept_by_its_own_ewt() -> None:
    s = statuses(medan=site("medan", 60), jakarta=site("jakarta", 59.9))
    d = decide(call(300), s, SETTINGS)
    assert d.target == "jakarta"   # medan's EWT is not *under* its accept threshold


def test_candidate_must_beat_home_by_the_margin_in_seconds_and_percent() -> None:
    s = statuses(medan=site("medan", 50))
    assert decide(call(64), s, SETTINGS).target is None       # beats by 14 < 15 s
    assert decide(call(65), s, SETTINGS).target == "medan"    # beats by 15 s
    pct = InterflowSettings(default=InterflowRule(60, 60, 0, 50), order=SETTINGS.order,
                            hub="jakarta")
    assert decide(call(90), s, pct).target is None            # 50 > 90 * (1 - 0.5) = 45
    assert decide(call(100), s, pct).target == "medan"        # 50 <= 50


def test_best_ewt_wins_and_ties_go_by_configured_order() -> None:
    s = statuses(medan=site("medan", 30), surabaya=site("surabaya", 20),
                 jakarta=site("jakarta", 20))
    assert decide(call(300), s, SETTINGS).target == "surabaya"  # best; tie with the hub
    tie = statuses(medan=site("medan", 20), surabaya=site("surabaya", 20))
    assert decide(call(300), tie, SETTINGS).target == "medan"


def test_hub_is_the_last_resort_after_the_siblings() -> None:
    assert SETTINGS.candidates("palembang") == ("medan", "surabaya", "jakarta")
    assert SETTINGS.candidates("jakarta") == ()   # the hub sends nowhere
    s = statuses(medan=site("medan", 100), surabaya=None, jakarta=site("jakarta", 10))
    assert decide(call(300), s, SETTINGS).target == "jakarta"


def test_candidate_must_staff_the_skill() -> None:
    s = statuses(medan=site("medan", 0, staffed=0), jakarta=site("jakarta", 40))
    assert decide(call(300), s, SETTINGS).target == "jakarta"
    fault = statuses(medan=site("medan", 0, skill="fault"))
    assert decide(call(300), fault, SETTINGS).target is None


def test_a_site_that_is_down_is_never_a_candidate() -> None:
    expired = statuses(medan=None, jakarta=None)
    d = decide(call(300), expired, SETTINGS)
    assert d.target is None and "medan: down" in d.reason
    no_ami = statuses(medan=site("medan", 0, ami_up=False))
    assert decide(call(300), no_ami, SETTINGS).target is None


def test_trunk_limit_per_pair_is_respected() -> None:
    s = statuses(medan=site("medan", 0), jakarta=site("jakarta", 30))
    assert decide(call(300), s, SETTINGS, trunks_in_use={"medan": 4}).target == "medan"
    assert decide(call(300), s, SETTINGS, trunks_in_use={"medan": 5}).target == "jakarta"
    pair = InterflowSettings(default=SETTINGS.default, order=SETTINGS.order, hub="jakarta",
                             trunk_limits={("palembang", "jakarta"): 0})
    assert decide(call(300), s, pair, trunks_in_use={"medan": 29}).target == "medan"
    assert decide(call(300), s, pair, trunks_in_use={"medan": 30}).target is None
    assert decide(call(300), statuses(jakarta=site("jakarta", 0)), pair).target is None


def test_never_back_to_a_visited_or_refusing_site_and_at_most_two_moves() -> None:
    s = statuses(palembang=site("palembang", 0), jakarta=site("jakarta", 0))
    at_medan = WaitingCall("c1", "medan", "general", 300, visited=("palembang", "medan"),
                           moves=1)
    assert decide(at_medan, s, SETTINGS).target == "jakarta"   # not back to palembang
    refused = call(300, refused=("medan",))
    assert decide(refused, statuses(medan=site("medan", 0)), SETTINGS).target is None
    twice = WaitingCall("c1", "medan", "general", 300, visited=("palembang", "medan"),
                        moves=2)
    assert decide(twice, s, SETTINGS).target is None


def test_disabled_interflow_never_moves() -> None:
    off = InterflowSettings(enabled=False, order=SETTINGS.order, hub="jakarta")
    assert decide(call(math.inf), statuses(medan=site("medan", 0)), off).target is None


def test_an_unstaffed_home_moves_to_any_accepting_site() -> None:
    s = statuses(medan=site("medan", 10))
    assert decide(call(math.inf), s, SETTINGS).target == "medan"


def test_per_site_and_skill_rules_override_the_default() -> None:
    rules = InterflowSettings(
        default=InterflowRule(threshold_s=60), order=SETTINGS.order, hub="jakarta",
        site_rules={"palembang": InterflowRule(threshold_s=200)},
        rules={("palembang", "fault"): InterflowRule(threshold_s=10, margin_s=0)})
    assert decide(call(150), statuses(medan=site("medan", 0)), rules).target is None
    fault = WaitingCall("c1", "palembang", "fault", 20, visited=("palembang",))
    assert decide(fault, statuses(medan=site("medan", 0, skill="fault")),
                  rules).target == "medan"


@pytest.mark.parametrize(("home", "others", "expected"), [
    (100, {"medan": 2000, "jakarta": 2000}, False),   # home under the national maximum
    (2000, {"medan": 2000, "jakarta": 100}, False),   # the hub can still answer
    (2000, {"medan": 2000, "jakarta": 2000}, True),
    (2000, {}, True),                                  # everything else down
])
def test_surge_admission_control(home: float, others: dict[str, float],
                                 expected: bool) -> None:
    settings = InterflowSettings(order=SETTINGS.order, hub="jakarta", national_max_ewt_s=900)
    s = {name: site(name, ewt) for name, ewt in others.items()}
    assert over_capacity("palembang", "general", home, s, settings) is expected


def test_status_survives_json_with_infinite_ewt() -> None:
    status = SiteStatus("medan", 12.5, True, {"general": SkillStatus(staffed=0)})
    again = SiteStatus.from_json(status.to_json())
    assert again == status and math.isinf(again.skill("general").ewt_s)


def test_calls_sent_since_the_status_count_against_the_candidate() -> None:
    medan = SiteStatus("medan", 0.0, True, {"general": SkillStatus(
        staffed=2, ready=1, waiting=0, ewt_s=0.0, per_call_s=45.0)})
    s = statuses(medan=medan)
    assert decide(call(300), s, SETTINGS, sent_since_status={"medan": 0}).target == "medan"
    # one sent already takes the ready agent: the next would wait 45 s, still accepted
    d = decide(call(300), s, SETTINGS, sent_since_status={"medan": 1})
    assert d.target == "medan" and d.candidate_ewt_s == 45.0
    # two sent: 90 s expected there, over its accept threshold of 60 s
    d = decide(call(300), s, SETTINGS, sent_since_status={"medan": 2})
    assert d.target is None and "does not accept" in d.reason
