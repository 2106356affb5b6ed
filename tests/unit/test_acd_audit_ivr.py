"""The IVR's path of a call becomes one audit entry the call history reads."""

from __future__ import annotations

from acd.audit import MAX_STEPS, ivr_entry
from acd.intake import IVRPath
from pln123.history.rows import CALL, parse_entry

T0 = 1_735_801_200.0


def path(steps: tuple[tuple[float, str], ...]) -> IVRPath:
    return IVRPath(call_id="a1b2c3", site="palembang", entered_at=T0, left_at=T0 + 30,
                   outcome="caller_hung_up", caller_number="0711555", area_code="0711",
                   region="Sumatera Selatan", steps=steps)


def test_one_entry_with_the_steps_relative_to_the_entry() -> None:
    entry = ivr_entry(path(((T0, "call_started"), (T0 + 1.25, "menu_entered:main"),
                            (T0 + 7, "digit:main:2"))))
    assert entry["steps"] == "0.000 call_started,1.250 menu_entered:main,7.000 digit:main:2"
    assert (entry["event"], entry["call"], entry["state"], entry["at"]) == (
        "ivr", "a1b2c3", "caller_hung_up", f"{T0 + 30:.3f}")
    event = parse_entry("palembang", "1-0", entry)
    assert event.subject == CALL and event.detail["entered_at"] == f"{T0:.3f}"


def test_a_caller_looping_in_the_menus_writes_a_bounded_entry() -> None:
    entry = ivr_entry(path(tuple((T0 + i, "no_input:main") for i in range(500))))
    assert entry["steps"].count(",") == MAX_STEPS
    assert entry["steps"].endswith(",...")
