"""sd_notify against a real unix datagram socket: READY/STATUS/STOPPING, the watchdog at half
of WATCHDOG_USEC on a Clock, WATCHDOG_PID, abstract sockets, and silence without systemd."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from twisted.internet.task import Clock

from pln123.serve.systemd import SystemdNotifier


@pytest.fixture
def listener(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    path = str(tmp_path / "notify")
    sock.bind(path)
    sock.setblocking(False)
    yield sock, path
    sock.close()


def received(sock: socket.socket) -> list[str]:
    out = []
    while True:
        try:
            out.append(sock.recv(4096).decode())
        except BlockingIOError:
            return out


def test_ready_status_stopping(listener: tuple[socket.socket, str]) -> None:
    sock, path = listener
    notifier = SystemdNotifier(Clock(), {"NOTIFY_SOCKET": path})
    assert notifier.enabled
    assert notifier.ready("AMI connected")
    assert notifier.status("draining\nsecond line dropped")
    assert notifier.stopping()
    assert received(sock) == ["READY=1\nSTATUS=AMI connected", "STATUS=draining",
                              "STOPPING=1"]
    with pytest.raises(ValueError):
        notifier.notify("READY=1\nEVIL=1")
    notifier.close()


def test_reloading_carries_the_monotonic_time(listener: tuple[socket.socket, str]) -> None:
    sock, path = listener
    assert SystemdNotifier(Clock(), {"NOTIFY_SOCKET": path}, monotonic=lambda: 12.5).reloading()
    assert received(sock) == ["RELOADING=1\nMONOTONIC_USEC=12500000"]


def test_watchdog_pings_at_half_the_interval_while_healthy(
        listener: tuple[socket.socket, str]) -> None:
    sock, path = listener
    clock = Clock()
    healthy = [True]
    notifier = SystemdNotifier(clock, {"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "10000000",
                                       "WATCHDOG_PID": str(os.getpid())})
    assert notifier.watchdog_interval == 5.0
    assert notifier.start_watchdog(lambda: healthy[0])
    assert received(sock) == ["WATCHDOG=1"]  # at once
    clock.advance(4.9)
    assert received(sock) == []
    clock.advance(0.1)
    assert received(sock) == ["WATCHDOG=1"]
    healthy[0] = False  # e.g. no AMI link: let systemd restart us if it lasts
    clock.advance(5)
    assert received(sock) == []
    healthy[0] = True
    clock.advance(5)
    assert received(sock) == ["WATCHDOG=1"]
    notifier.stop_watchdog()
    clock.advance(20)
    assert received(sock) == []
    assert clock.getDelayedCalls() == []


def test_watchdog_for_another_pid_or_none_is_not_started(
        listener: tuple[socket.socket, str]) -> None:
    _sock, path = listener
    other = SystemdNotifier(Clock(), {"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "10000000",
                                      "WATCHDOG_PID": "1"}, pid=4242)
    assert not other.start_watchdog()
    assert not SystemdNotifier(Clock(), {"NOTIFY_SOCKET": path}).start_watchdog()


def test_abstract_socket() -> None:
    name = f"pln123-test-{os.getpid()}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name)
    sock.setblocking(False)
    try:
        assert SystemdNotifier(Clock(), {"NOTIFY_SOCKET": "@" + name}).ready()
        assert received(sock) == ["READY=1"]
    finally:
        sock.close()


def test_without_systemd_everything_is_a_no_op() -> None:
    clock = Clock()
    notifier = SystemdNotifier(clock, {})
    assert not notifier.enabled
    assert not notifier.ready() and not notifier.stopping()
    assert not notifier.start_watchdog()
    assert clock.getDelayedCalls() == []


def test_a_vanished_socket_is_reported_not_raised(tmp_path: Path) -> None:
    notifier = SystemdNotifier(Clock(), {"NOTIFY_SOCKET": str(tmp_path / "gone")})
    assert notifier.ready() is False
    assert notifier.stopping() is False
