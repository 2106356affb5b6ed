"""deploy/systemd/pln123@.service passes `systemd-analyze verify` and keeps its hardening.

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

UNIT = Path(__file__).resolve().parents[2] / "deploy" / "systemd" / "pln123@.service"
INSTALLED = "/opt/pln123/bin/pln123"


def _analyze() -> str:
    found = shutil.which("systemd-analyze")
    if found is None:
        skip_or_fail("systemd-analyze is not installed (Debian package systemd)")
    return found


def _local_copy(tmp_path: Path) -> Path:
    here = Path(sys.executable).parent / "pln123"
    assert here.is_file() and os.access(here, os.X_OK), here
    text = UNIT.read_text()
    assert text.count(INSTALLED) == 1
    copy = tmp_path / UNIT.name
    copy.write_text(text.replace(INSTALLED, str(here)))
    return copy


def test_systemd_analyze_verify_passes(tmp_path: Path) -> None:
    analyze = _analyze()
    _local_copy(tmp_path)
    result = subprocess.run(
        [analyze, "verify", "pln123@palembang.service"],
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


def test_sandboxing_scores_ok(tmp_path: Path) -> None:
    analyze = _analyze()
    copy = _local_copy(tmp_path)
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
        "ExecStart=/opt/pln123/bin/pln123 serve --config /etc/pln123/pln.yaml --site %i",
        "User=pln123", "NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=yes",
        "PrivateTmp=yes", "CapabilityBoundingSet=",
        "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6",
    } <= lines
