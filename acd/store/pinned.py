"""Connections a hot caller keeps out of redis-py's pool between its commands.

Why: taking a connection from redis-py's blocking pool and giving it back costs more Python
than writing the command and reading its reply (a lock, a condition, a timer and the pool's
metrics hooks each way: about 40 % of a round trip's client CPU on the benchmark machine,
docs/benchmarks.md). The ACD's script runner makes most of a call's round trips, one at a
time per in-flight slot, so it keeps its connections checked out and writes to them
directly, with the same connection class (timeouts, traffic counting, quick writes) as
every other command.

Nothing about failure handling is new: a command that fails on a kept connection with a
connection error or a timeout gives that connection back disconnected and is sent again
through the client, whose retry policy reconnects with backoff and logs the attempts
(acd/store/retry.py), exactly as if it had gone that way first. A Sentinel connection that
finds its server demoted raises a connection error too, so the next command finds the new
primary. An error reply (NOSCRIPT, a script error) leaves the connection clean and kept.
A Cluster client has no single pool: there every command goes through the client.
"""

from __future__ import annotations

from typing import Any

from redis.asyncio.connection import AbstractConnection
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from acd.store.topology import Client

_LOST = (RedisConnectionError, RedisTimeoutError, OSError)


class PinnedConnections:
    """At most as many kept connections as commands this caller has in flight at once."""

    def __init__(self) -> None:
        self._idle: list[AbstractConnection] = []
        self._pool: object | None = None  # the pool the idle connections came from

    async def execute(self, client: Client, *args: Any) -> Any:
        """`client.execute_command(*args)`, on a kept connection when the client has a pool."""
        pool: Any = getattr(client, "connection_pool", None)
        if pool is None:
            return await client.execute_command(*args)
        if pool is not self._pool:  # a new client (the store was restarted): forget the old
            self._idle.clear()
            self._pool = pool
        connection = self._idle.pop() if self._idle else await pool.get_connection()
        try:
            await connection.send_command(*args)
            reply = await connection.read_response()
        except ResponseError:
            self._idle.append(connection)  # the reply was read whole: the connection is clean
            raise
        except _LOST:
            await self._give_back(pool, connection)
            return await client.execute_command(*args)
        except BaseException:  # cancelled mid-reply: the connection's state is unknown
            await self._give_back(pool, connection)
            raise
        self._idle.append(connection)
        return reply

    async def _give_back(self, pool: Any, connection: AbstractConnection) -> None:
        try:
            await connection.disconnect()
        finally:
            await pool.release(connection)
