"""Port checks and free-port picking for sandbox instances (all on 127.0.0.1).

A port conflict is checked before Asterisk starts because Asterisk itself only logs a bind
failure and keeps running without AMI, which would surface as a vague start-up timeout.
"""

from __future__ import annotations

import socket
from collections.abc import Iterable

LOOPBACK = "127.0.0.1"


def tcp_port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # Asterisk's listener sets SO_REUSEADDR, so TIME_WAIT leftovers do not block it.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((LOOPBACK, port))
        except OSError:
            return False
    return True


def udp_port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.bind((LOOPBACK, port))
        except OSError:
            return False
    return True


def free_port(kind: int, avoid: Iterable[int] = ()) -> int:
    """A port the kernel says is free now (`kind` is SOCK_STREAM or SOCK_DGRAM).

    There is a window before Asterisk binds it; acceptable for tests, which is its only use.
    """
    taken = set(avoid)
    for _ in range(100):
        with socket.socket(socket.AF_INET, kind) as sock:
            sock.bind((LOOPBACK, 0))
            port: int = sock.getsockname()[1]
        if port not in taken:
            return port
    raise RuntimeError("no free port found")
