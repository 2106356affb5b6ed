"""Loading the admin config for a CLI verb: problems printed with their key paths."""

from __future__ import annotations

import sys
from pathlib import Path

from pln123.config import Config, ConfigError, load_config


def load_or_report(path: Path, consequence: str = "") -> Config | None:
    """The config at `path`, or None after printing every problem on stderr, then a count
    (`N problem(s)`, followed by `; <consequence>` when the verb says what it skipped)."""
    try:
        return load_config(path)
    except ConfigError as error:
        for problem in error.problems:
            print(f"{path}: {problem}", file=sys.stderr)
        tail = f"; {consequence}" if consequence else ""
        print(f"{path}: {len(error.problems)} problem(s){tail}", file=sys.stderr)
        return None
