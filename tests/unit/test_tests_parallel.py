"""`./run test` spreads the suite over pytest-xdist workers; these tests keep together what
must not be split or overlapped (tests/fixtures/parallel.py)."""

from __future__ import annotations

from pathlib import Path

from tests.fixtures.parallel import (
    CPU_HEAVY_GROUP,
    CPU_HEAVY_MODULES,
    scope_of,
    starts_first,
    xdist_group_for,
)

TESTS = Path(__file__).resolve().parents[1]


def test_unit_and_integration_tests_go_to_any_free_worker() -> None:
    assert xdist_group_for("unit/test_config_load.py") is None
    assert xdist_group_for("integration/acd/test_acd_distributor.py") is None


def test_a_sandbox_module_runs_whole_on_one_worker() -> None:
    assert xdist_group_for("e2e/test_dialplan_sandbox.py") == "e2e.test_dialplan_sandbox"
    assert xdist_group_for("chaos/test_faults.py") == "chaos.test_faults"
    assert xdist_group_for("browser/test_dashboard_browser.py") == (
        "browser.test_dashboard_browser")


def test_the_cpu_heavy_modules_share_one_group() -> None:
    assert {xdist_group_for(module) for module in CPU_HEAVY_MODULES} == {CPU_HEAVY_GROUP}


def test_every_cpu_heavy_module_exists() -> None:
    # A renamed module would silently leave the group and overlap the others again.
    assert [m for m in sorted(CPU_HEAVY_MODULES) if not (TESTS / m).is_file()] == []


def test_the_scheduler_scope_of_a_test_id_is_its_group_or_itself() -> None:
    assert scope_of("tests/e2e/test_ami_asterisk.py::test_ping") == "e2e.test_ami_asterisk"
    assert scope_of("tests/integration/sim/test_cli.py::test_a[x::y]") == CPU_HEAVY_GROUP
    unit = "tests/unit/test_config_load.py::test_shipped_config_loads"
    assert scope_of(unit) == unit


def test_only_the_cpu_heavy_group_starts_first() -> None:
    assert starts_first("e2e/test_demo.py")
    assert not starts_first("e2e/test_ami_asterisk.py")
    assert not starts_first("unit/test_config_load.py")
