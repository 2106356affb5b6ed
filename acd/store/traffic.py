"""How many round trips and commands a process sent to Redis, counted at the connection.

Why at the connection: a `RedisStore.run` coroutine may await several commands one after
the other (several round trips) or send a pipeline (one round trip, many commands), and
the script runner packs many operations into one EVALSHA. Only the connection sees what
really crossed the wire: each `send_packed_command` is one write followed by waiting for
its replies (a round trip, whatever it carries), each `pack_command` one command in it
(a pipeline packs each of its commands, MULTI and EXEC included). A connection's own
handshake (HELLO, SELECT, CLIENT SETINFO) counts too: it is Redis traffic like any other.

Counted for one server and a Sentinel-managed primary (one connection pool, whose
connection class is swapped for a counting one before it makes any connection); a
Cluster client keeps a pool per node and is not counted (`counting` stays False).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from redis.asyncio.connection import AbstractConnection


@dataclass
class Traffic:
    """Running totals; subtract two `snapshot()`s to cost a piece of work."""

    round_trips: int = 0
    commands: int = 0
    counting: bool = False
    # Set to a list to also record each round trip's command names (a benchmark's profile).
    trace: list[tuple[str, ...]] | None = None
    _packed: list[str] = field(default_factory=list, repr=False)

    def snapshot(self) -> tuple[int, int]:
        """(round trips, commands) so far."""
        return self.round_trips, self.commands


class _Counting(AbstractConnection):
    """Mixed in before a pool's own connection class; `traffic` is set per pool."""

    traffic: Traffic

    async def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        traffic = self.traffic
        traffic.round_trips += 1
        if traffic.trace is not None:
            traffic.trace.append(tuple(traffic._packed))
            traffic._packed.clear()
        await super().send_packed_command(command, check_health)

    def pack_command(self, *args: Any) -> list[bytes]:
        traffic = self.traffic
        traffic.commands += 1
        if traffic.trace is not None and args:
            name = args[0]
            traffic._packed.append(name.decode() if isinstance(name, bytes) else str(name))
        return super().pack_command(*args)


def count_traffic(client: object, traffic: Traffic) -> None:
    """Make `client`'s future connections count into `traffic` (set `traffic.counting`).

    Call it before the client's first command: connections already made are not counted.
    """
    pool = getattr(client, "connection_pool", None)
    base = getattr(pool, "connection_class", None)
    if pool is None or not isinstance(base, type) or not issubclass(base, AbstractConnection):
        return
    if not issubclass(base, _Counting):
        pool.connection_class = type(f"Counting{base.__name__}", (_Counting, base),
                                     {"traffic": traffic})
    traffic.counting = True
