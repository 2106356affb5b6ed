"""A tiny sd_notify client: tell systemd that `pln123 serve` is ready, alive and stopping.

`deploy/systemd/pln123@.service` runs pln123 as `Type=notify` with `WatchdogSec=`: systemd
considers the site started only after `READY=1` (the AMI link and Redis are up, not merely
the process), and restarts it when `WATCHDOG=1` stops arriving, which is what a wedged
reactor looks like from outside. The protocol is one datagram per message on the unix
socket named by `$NOTIFY_SOCKET` (a leading `@` is Linux's abstract namespace), so it needs
no libsystemd and no dependency.

Without `$NOTIFY_SOCKET` (run by hand, in tests, under another supervisor) every method is
a no-op that returns False. A send that fails is logged once and never raises: losing
systemd must not take callers down with it.

    notifier = SystemdNotifier.from_environment(reactor)
    notifier.start_watchdog(healthy=lambda: ami.protocol is not None)
    notifier.ready("AMI connected, 0 calls")
    ...
    notifier.stopping()          # on SIGTERM, before draining
    notifier.stop_watchdog()
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Mapping

import structlog
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import LoopingCall

log = structlog.get_logger("pln123.serve.systemd")


class SystemdNotifier:
    """sd_notify(3) over `$NOTIFY_SOCKET`; watchdog pings on the injected clock."""

    def __init__(self, clock: IReactorTime, environ: Mapping[str, str] | None = None,
                 pid: int | None = None, monotonic: Callable[[], float] = time.monotonic):
        env = os.environ if environ is None else environ
        self.clock = clock
        self.monotonic = monotonic  # CLOCK_MONOTONIC, what systemd compares RELOADING with
        raw = env.get("NOTIFY_SOCKET", "")
        self.address: str | None = None
        if raw.startswith("@"):
            self.address = "\0" + raw[1:]
        elif raw.startswith("/"):
            self.address = raw
        # The watchdog applies to this process only if systemd named it (or named nobody).
        watchdog_pid = env.get("WATCHDOG_PID", "")
        mine = not watchdog_pid or watchdog_pid == str(os.getpid() if pid is None else pid)
        usec = env.get("WATCHDOG_USEC", "")
        self.watchdog_interval: float | None = (
            int(usec) / 1_000_000 / 2 if usec.isdigit() and int(usec) > 0 and mine else None)
        self._socket: socket.socket | None = None
        self._loop: LoopingCall | None = None
        self._failed = False

    @classmethod
    def from_environment(cls, clock: IReactorTime) -> SystemdNotifier:
        return cls(clock)

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def notify(self, *assignments: str) -> bool:
        """Send `KEY=value` lines as one datagram; True if it was sent."""
        if self.address is None:
            return False
        for line in assignments:
            if "\n" in line or "=" not in line:
                raise ValueError(f"not one KEY=value line: {line!r}")
        try:
            if self._socket is None:
                self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM
                                             | socket.SOCK_CLOEXEC | socket.SOCK_NONBLOCK)
            self._socket.sendto("\n".join(assignments).encode(), self.address)
        except OSError as error:
            if not self._failed:
                log.warning("systemd_notify_failed", error=str(error))
            self._failed = True
            return False
        self._failed = False
        return True

    def ready(self, status: str | None = None) -> bool:
        """The site serves calls: systemd's start job completes now."""
        return self.notify("READY=1", *([f"STATUS={status}"] if status else []))

    def status(self, text: str) -> bool:
        """A one-line status `systemctl status` shows (no caller data in it)."""
        return self.notify(f"STATUS={text.splitlines()[0] if text else ''}")

    def reloading(self) -> bool:
        """A SIGHUP reload began; `ready()` again when it is done."""
        usec = int(self.monotonic() * 1_000_000)
        return self.notify("RELOADING=1", f"MONOTONIC_USEC={usec}")

    def stopping(self) -> bool:
        """Draining for a stop: systemd waits (TimeoutStopSec) instead of thinking we hung."""
        return self.notify("STOPPING=1")

    def start_watchdog(self, healthy: Callable[[], bool] | None = None) -> bool:
        """Ping `WATCHDOG=1` every half `$WATCHDOG_USEC` while `healthy()` (if given) holds.

        Returns False when systemd asked for no watchdog. An unhealthy check skips the
        ping, so systemd restarts a process that is alive but useless for long enough.
        """
        if self.address is None or self.watchdog_interval is None:
            return False
        self.stop_watchdog()

        def ping() -> None:
            if healthy is None or healthy():
                self.notify("WATCHDOG=1")

        self._loop = LoopingCall(ping)
        self._loop.clock = self.clock
        self._loop.start(self.watchdog_interval, now=True)
        return True

    def stop_watchdog(self) -> None:
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        self._loop = None

    def close(self) -> None:
        self.stop_watchdog()
        if self._socket is not None:
            self._socket.close()
            self._socket = None
