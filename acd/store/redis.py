"""The one bridge between redis-py's asyncio client and Twisted Deferreds.

pln123 runs Twisted on the asyncio reactor, so a redis-py coroutine can run on the very loop
the reactor drives. Everything in `acd/` that touches Redis goes through `RedisStore.run`,
which turns one coroutine into one Deferred; no other module calls `ensure_future` or knows
that redis-py is asyncio underneath.

The client is created in `start()`, called from a Service's `startService` (or from a CLI
once `react` runs the loop), never at import or construction: redis-py binds its connection
pool to the running loop, and a process must be able to build its object graph before the
reactor runs.

Which client to build (one server, a Sentinel-managed primary, a Cluster) is decided by the
URL in `acd.store.topology` and nowhere else: `run` hands every command the same `Client`.
Every key pln123 writes carries a hash tag (`{outages}`, `{tickets}`, `{<site>}`) so that
multi-key transactions and scripts keep working on Cluster.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import structlog
from twisted.internet.defer import Deferred, fail, succeed

from acd.store.retry import LoggingRetry, RetryPolicy
from acd.store.topology import (
    Client,
    UnsupportedTopology,
    check_url,
    close_client,
    create_client,
    describe_url,
)
from acd.store.traffic import Traffic, count_traffic

__all__ = [
    "Client",
    "LoggingRetry",
    "RedisStore",
    "RetryPolicy",
    "StoreNotStarted",
    "UnsupportedTopology",
    "check_url",
    "create_client",
    "describe_url",
    "text",
]

log = structlog.get_logger("acd.store.redis")

T = TypeVar("T")


class StoreNotStarted(RuntimeError):
    """A command was issued before `start()` or after `close()`."""


class RedisStore:
    """Runs redis-py coroutines on the reactor's loop and hands back Deferreds.

    Built from a URL and an optional password that the caller read from its password file;
    the password is handed to redis-py and never kept in a repr or a log line (only
    `describe_url(url)` is logged).
    """

    def __init__(
        self,
        url: str,
        password: str | None = None,
        *,
        retry: RetryPolicy | None = None,
        connect_timeout_s: float = 2.0,
        command_timeout_s: float = 5.0,
    ):
        self.url = url
        self.where = describe_url(url)
        self._password = password
        self._retry = retry or RetryPolicy()
        self._connect_timeout_s = connect_timeout_s
        self._command_timeout_s = command_timeout_s
        self._client: Client | None = None
        # Round trips and commands sent, counted by the connections (benchmarks, simulator).
        self.traffic = Traffic()
        check_url(url)  # a bad URL fails now, at wiring time, not once the reactor runs

    def __repr__(self) -> str:
        return f"RedisStore({self.where!r}, started={self.started})"

    @property
    def started(self) -> bool:
        return self._client is not None

    def start(self) -> Deferred[None]:
        """Create the client on the running loop and PING once.

        The Deferred fails if Redis cannot be reached within the retry policy, but the
        client stays: later commands reconnect on their own. A Service logs the failure and
        keeps running; a CLI reports it and exits.
        """
        if self._client is None:
            self._client = create_client(
                self.url,
                self._password,
                LoggingRetry(self._retry, self.where),
                connect_timeout_s=self._connect_timeout_s,
                command_timeout_s=self._command_timeout_s,
            )
            count_traffic(self._client, self.traffic)
        d = self.run(_ping)

        def connected(_: object) -> None:
            log.info("redis_connected", redis=self.where)

        d.addCallback(connected)
        return d

    def run(self, command: Callable[[Client], Awaitable[T]]) -> Deferred[T]:
        """`command(client)` as a Deferred: the only `ensure_future` in pln123's Redis code.

        Anything `command` raises, synchronously or not, fails the Deferred; cancelling the
        Deferred cancels the coroutine.
        """
        client = self._client
        if client is None:
            return fail(StoreNotStarted(f"the Redis store for {self.where} is not started"))

        async def call() -> T:
            return await command(client)

        return Deferred.fromFuture(asyncio.ensure_future(call()))

    def soon(self, work: Callable[[], object]) -> None:
        """`work()` on the loop's next turn, once the callbacks running now are done: what
        they ask for meanwhile can travel with it (the script runner's batches)."""
        asyncio.get_event_loop().call_soon(work)

    def close(self) -> Deferred[None]:
        """Close every pooled connection; `run` fails with StoreNotStarted afterwards."""
        client, self._client = self._client, None
        if client is None:
            return succeed(None)

        async def close() -> None:
            await close_client(client)
            log.info("redis_closed", redis=self.where)

        return Deferred.fromFuture(asyncio.ensure_future(close()))


def text(value: bytes | str) -> str:
    """A reply as str: the client decodes already, this only satisfies redis-py's types."""
    return value.decode() if isinstance(value, bytes) else value


async def _ping(client: Client) -> None:
    await client.ping()
