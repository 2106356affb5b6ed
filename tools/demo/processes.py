"""Child processes of the demo and the load test: started, watched and stopped by PID.

Each child runs in its own session, so a Ctrl-C in the terminal reaches only the demo,
which then stops the children in order (a site's pln123 before its Asterisk, Redis last).
On Linux each child also gets PR_SET_PDEATHSIG=SIGTERM: if the demo itself is killed with
SIGKILL, its children do not outlive it. Nothing is ever signalled by name.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tools.demo.config import REPO

_PR_SET_PDEATHSIG = 1


class ChildError(RuntimeError):
    """A child could not start, or died while the demo ran."""


def _die_with_parent() -> None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the demo's own clean-up still runs
        pass


def pln123_command(*args: str) -> list[str]:
    """`pln123 ARGS` with this interpreter (the venv's), independent of PATH."""
    return [sys.executable, "-m", "pln123.cli.main", *args]


@dataclass
class Child:
    """One started program with its log file."""

    name: str
    argv: Sequence[str]
    log: Path
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def pid(self) -> int:
        assert self.process is not None, f"{self.name} not started"
        return self.process.pid

    def start(self) -> Child:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                list(self.argv), stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                cwd=REPO, start_new_session=True, close_fds=True,
                preexec_fn=_die_with_parent)
        return self

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_text(self) -> str:
        try:
            return self.log.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""

    def wait_for(self, ready: Callable[[str], bool], timeout: float, what: str) -> None:
        """Until `ready(log text)`; ChildError with the log's tail if it exits or times out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if ready(self.log_text()):
                return
            if not self.alive():
                raise ChildError(f"{self.name} exited during start-up:\n{self.tail()}")
            time.sleep(0.1)
        raise ChildError(f"{self.name}: {what} not seen within {timeout:.0f} s:\n{self.tail()}")

    def tail(self, lines: int = 15) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM, then SIGKILL after `timeout` s; reaped. The exit status, None if never run."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        return self.process.returncode


def pid_alive(pid: int) -> bool:
    """True while `pid` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of `pid` so far, from /proc/<pid>/stat (fields 14 and 15)."""
    with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks
