"""`pln123 config check` as a process: the console script's exit status and its stderr (the
checks themselves run in-process in tests/unit/test_config_check.py)."""

from __future__ import annotations

import os
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


def _check(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pln123.cli.main", "config", "check", str(path)],
        cwd=REPO, capture_output=True, text=True, timeout=30, check=False,
    )


def test_hostile_files_are_refused_at_once_without_a_traceback(tmp_path: Path) -> None:
    """An alias bomb (a kilobyte that expands to a billion values), a 5,000-digit integer
    and a FIFO: each one line with its key path, in well under the 30 s allowed."""
    levels = ["  x0: &a0 [" + ", ".join(["lol"] * 10) + "]\n"]
    levels += [f"  x{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 10)}]\n" for n in range(1, 9)]
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text("regions:\n" + "".join(levels), encoding="utf-8")
    done = _check(bomb)
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert f"{bomb}: regions.x5: expands to more than 200000 values through aliases" \
        in done.stderr
    huge = tmp_path / "huge.yaml"
    huge.write_text("acd:\n  ring_timeout_s: " + "9" * 5000 + "\n", encoding="utf-8")
    done = _check(huge)
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert f"{huge}: acd.ring_timeout_s: an integer of 5000 digits" in done.stderr
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)
    done = _check(fifo)
    assert done.returncode == 1 and f"{fifo} is not a regular file" in done.stderr
