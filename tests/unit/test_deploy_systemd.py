"""deploy/systemd's units (pln123@.service for each site, pln123-dashboard.service for the
dashboard) pass `systemd-analyze verify` and keep their hardening.

`systemd-analyze verify` (Debian's systemd package) needs no running systemd: it loads the
unit with the system's unit files and checks every directive and that each Exec command is
an executable file. The unit's ExecStart is `/opt/pln123/bin/pln123`, where
docs/operations.md installs pln123; on a test machine it is this venv's `pln123`, so the
test checks a copy with that one path replaced (and nothing else). Warnings (an unknown
key, a bad value: systemd "ignores" them and still exits 0) fail the test too.
`systemd-analyze security --offline=yes` scores the sandboxing of the same copy.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.availability import skip_or_fail

UNITS = Path(__file__).resolve().parents[2] / "deploy" / "systemd"
UNIT = UNITS / "pln123@.service"
DASHBOARD = UNITS / "pln123-dashboard.service"
INSTALLED = "/opt/pln123/bin/pln123"
# How systemd-analyze names each unit: a template needs an instance.
LOADED = {UNIT: "pln123@palembang.service", DASHBOARD: "pln123-dashboard.service"}


def _analyze() -> str:
    found = shutil.which("systemd-analyze")
    if found is None:
        skip_or_fail("systemd-analyze is not installed (Debian package systemd)")
    return found


def _local_copy(tmp_path: Path, unit: Path = UNIT) -> Path:
    here = Path(sys.executable).parent / "pln123"
    assert here.is_file() and os.access(here, os.X_OK), here
    text = unit.read_text()
    assert text.count(INSTALLED) == 1
    copy = tmp_path / unit.name
    copy.write_text(text.replace(INSTALLED, str(here)))
    return copy


@pytest.mark.parametrize("unit", [UNIT, DASHBOARD], ids=lambda u: u.name)
def test_systemd_analyze_verify_passes(tmp_path: Path, unit: Path) -> None:
    analyze = _analyze()
    _local_copy(tmp_path, unit)
    result = subprocess.run(
        [analyze, "verify", LOADED[unit]],
        env={**os.environ, "SYSTEMD_UNIT_PATH": f"{tmp_path}:", "SYSTEMD_LOG_COLOR": "0"},
        capture_output=True, text=True, timeout=60, check=False)
    assert (result.returncode, result.stderr.strip(), result.stdout.strip()) == (0, "", "")


def test_a_broken_unit_is_caught(tmp_path: Path) -> None:
    """The check above can fail: a misspelt hardening key is reported."""
    analyze = _analyze()
    copy = _local_copy(tmp_path)
    copy.write_text(copy.read_text().replace("ProtectHome=yes", "ProtectHom=yes"))
    result = subprocess.run(
        [analyze, "verify", "pln123@palembang.service"],
        env={**os.environ, "SYSTEMD_UNIT_PATH": f"{tmp_path}:"},
        capture_output=True, text=True, timeout=60, check=False)
    assert "Unknown key" in result.stderr and "ProtectHom" in result.stderr


@pytest.mark.parametrize("unit", [UNIT, DASHBOARD], ids=lambda u: u.name)
def test_sandboxing_scores_ok(tmp_path: Path, unit: Path) -> None:
    analyze = _analyze()
    copy = _local_copy(tmp_path, unit)
    result = subprocess.run([analyze, "security", "--offline=yes", "--no-pager", str(copy)],
                            capture_output=True, text=True, timeout=60, check=False)
    match = re.search(r"Overall exposure level for \S+: ([0-9.]+)", result.stdout)
    if match is None:
        pytest.fail(f"no exposure level in: {result.stdout[-500:]} {result.stderr[-500:]}")
    assert float(match.group(1)) <= 2.0, result.stdout  # systemd: <= 2 is "OK"


def test_the_unit_says_what_the_issue_asks() -> None:
    lines = set(UNIT.read_text().splitlines())
    assert {
        "Type=notify", "NotifyAccess=main", "WatchdogSec=10s", "Restart=on-failure",
        "ExecStart=/opt/pln123/bin/pln123 serve --config /etc/pln123/pln.yaml --site %i "
        "--no-dashboard",
        "User=pln123", "NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=yes",
        "PrivateTmp=yes", "CapabilityBoundingSet=",
        "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6",
    } <= lines


def test_the_dashboard_runs_apart_from_the_sites_calls() -> None:
    """The safe default: no site's `serve` answers browsers (a login storm would take the
    reactor's CPU); one dashboard process does, last in line for the CPU."""
    site = set(UNIT.read_text().splitlines())
    assert any(line.startswith("ExecStart=") and line.endswith(" --no-dashboard")
               for line in site)
    lines = set(DASHBOARD.read_text().splitlines())
    assert {
        "ExecStart=/opt/pln123/bin/pln123 dashboard --config /etc/pln123/pln.yaml",
        "Restart=on-failure", "RestartPreventExitStatus=2", "User=pln123",
        "NoNewPrivileges=yes", "ProtectSystem=strict", "PrivateTmp=yes",
        "CapabilityBoundingSet=", "CPUWeight=20",
    } <= lines
