"""Commands written to Redis without a timer when the write cannot wait.

Why: with `socket_timeout` set (pln123 always sets it: a Redis that stops answering must
fail a command, not hang a caller), redis-py wraps every write in `asyncio.wait_for`,
which on Python 3.11 is a Task, a timer and their callbacks per command: 25-45 us of CPU
per round trip on the benchmark machine, a quarter to a third of the round trip's Python
(docs/benchmarks.md). A write can only wait when the transport is paused, its buffer above
the high-water mark (64 KiB) because Redis stopped reading; otherwise the bytes go to the
socket or the buffer and `drain()` returns at once. So a command of at most
`QUICK_WRITE_MAX` bytes written while the connection's buffer is empty goes out untimed;
anything else keeps redis-py's bounded write. Every read keeps its timeout, which is what
notices a dead Redis: the reply to the command just written never comes.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from redis.asyncio.connection import AbstractConnection

QUICK_WRITE_MAX = 16 * 1024   # well under the transport's 64 KiB high-water mark


class QuickWrites(AbstractConnection):
    """Mixed in before a pool's own connection class (`quick_writes`)."""

    async def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        timeout = self.socket_timeout
        writer = self._writer
        if (not timeout or writer is None or not self.is_connected
                or writer.transport.get_write_buffer_size() > 0
                or _size(command) > QUICK_WRITE_MAX):
            await super().send_packed_command(command, check_health)
            return
        if check_health:
            await self.check_health()  # type: ignore[no-untyped-call]  # a PING: its read is timed
        # Only this write runs untimed: one command at a time uses a connection, and the
        # read that follows it sees the timeout restored.
        self.socket_timeout = None
        try:
            await super().send_packed_command(command, False)
        finally:
            self.socket_timeout = timeout


def _size(command: bytes | str | Iterable[bytes]) -> int:
    if isinstance(command, (bytes, str)):
        return len(command)
    return sum(len(part) for part in command)


def quick_writes(connection_class: type[AbstractConnection]) -> type[AbstractConnection]:
    """`connection_class` with `QuickWrites` mixed in (once)."""
    if issubclass(connection_class, QuickWrites):
        return connection_class
    return type(f"Quick{connection_class.__name__}", (QuickWrites, connection_class), {})
