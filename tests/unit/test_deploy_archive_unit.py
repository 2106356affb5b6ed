"""deploy/systemd/pln123-archive.service passes `systemd-analyze verify` (as the other
units do in test_deploy_systemd.py: a copy whose ExecStart is this venv's pln123), runs
`pln123 archive`, and keeps the default SQLite history in its StateDirectory."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.fixtures.availability import skip_or_fail

UNIT = Path(__file__).resolve().parents[2] / "deploy" / "systemd" / "pln123-archive.service"
INSTALLED = "/opt/pln123/bin/pln123"


def test_the_archive_unit_verifies(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        skip_or_fail("systemd-analyze is not installed (Debian package systemd)")
    text = UNIT.read_text()
    assert f"ExecStart={INSTALLED} archive --config /etc/pln123/pln.yaml" in text
    assert "StateDirectory=pln123" in text   # /var/lib/pln123: the SQLite default's folder
    here = Path(sys.executable).parent / "pln123"
    (tmp_path / UNIT.name).write_text(text.replace(INSTALLED, str(here)))
    result = subprocess.run(
        [analyze, "verify", UNIT.name],
        env={**os.environ, "SYSTEMD_UNIT_PATH": f"{tmp_path}:", "SYSTEMD_LOG_COLOR": "0"},
        capture_output=True, text=True, timeout=60, check=False)
    assert (result.returncode, result.stderr.strip(), result.stdout.strip()) == (0, "", "")
