"""Find, check and stop sandbox Asterisk processes by PID, never by name.

A PID in a state file may be stale: the process died and the number was reused by something
else. Before any signal the sandbox proves the PID is still *that* Asterisk: its argv names
`asterisk` with the instance's own asterisk.conf, and its root directory is the sandbox
root. Waiting is plain monotonic polling against a deadline: this is tooling run from the
CLI and synchronous test fixtures, not code on the reactor.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from tools.sandbox.errors import SandboxError

POLL_SECONDS = 0.05


def cmdline(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def _state(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name in parentheses may contain spaces; the state follows the last ")".
    return stat.rsplit(")", 1)[1].split()[0]


def _reap(pid: int) -> None:
    """Collect the exit status if `pid` is our child, so it does not linger as a zombie."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def alive(pid: int) -> bool:
    _reap(pid)
    state = _state(pid)
    return state is not None and state not in ("Z", "X")


def is_sandbox_asterisk(pid: int, root: Path, config: str) -> bool:
    """Whether `pid` is the Asterisk started in `root` with the asterisk.conf `config`."""
    argv = cmdline(pid)
    if not argv or os.path.basename(argv[0]) != "asterisk" or config not in argv:
        return False
    try:
        process_root = os.readlink(f"/proc/{pid}/root")
    except PermissionError:
        # Only root may read another user's /proc/<pid>/root; `status` as a normal user
        # then trusts argv, while `down` (which signals) always runs as root.
        return alive(pid)
    except OSError:
        return False
    return process_root == os.path.realpath(root) and alive(pid)


def wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while alive(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(POLL_SECONDS)
    return True


def terminate(pid: int, timeout: float) -> None:
    """SIGTERM, then SIGKILL after `timeout` s; returns once the process is gone."""
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        if wait_gone(pid, wait):
            return
    raise SandboxError(f"process {pid} survived SIGKILL")
