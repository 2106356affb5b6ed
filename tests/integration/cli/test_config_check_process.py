"""`pln123 config check` as a process: the console script's exit status and its stderr (the
checks themselves run in-process in tests/unit/test_config_check.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.doubles.config import shipped, write_config

REPO = Path(__file__).resolve().parents[3]


def test_shipped_config_is_valid_from_the_console_script() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pln123.cli.main", "config", "check", "deploy/config/pln.yaml"],
        cwd=REPO, capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


def test_a_broken_file_exits_non_zero_from_the_console_script(tmp_path: Path) -> None:
    data = shipped()
    data["sites"]["medan"]["ami"]["port"] = "abc"
    path = write_config(tmp_path, data)
    result = subprocess.run(
        [sys.executable, "-m", "pln123.cli.main", "config", "check", str(path)],
        cwd=REPO, capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode == 1
    assert f"{path}: sites.medan.ami.port: must be an integer, not 'abc'" in result.stderr
