"""A Sentinel-managed primary through redis-py, following a failover inside a retry.

redis-py's `Sentinel.master_for` gives a `Redis` whose connections ask the sentinels for
the primary's address when they connect. In redis-py 8.1 that happens only on a
connection's first `connect()`: a connection that broke and reconnects from inside a
command's retry (`send_packed_command` -> `connect_check_health`) goes back to the address
it had, the dead primary, for every remaining attempt, so no command issued before a
failover could ever complete on the promoted replica. `FailoverAwareConnection` asks the
sentinels on every reconnect too.
"""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel, SentinelConnectionPool, SentinelManagedConnection
from redis.backoff import NoBackoff

from acd.store.retry import LoggingRetry
from acd.store.writes import quick_writes


class FailoverAwareConnection(SentinelManagedConnection):
    """A primary's connection that looks the primary up again before every reconnect."""

    _address_fresh = False  # set while SentinelManagedConnection.connect_to connects

    async def connect_to(self, address: tuple[str, int]) -> None:
        self._address_fresh = True  # redis-py just asked the sentinels: once is enough
        try:
            await super().connect_to(address)  # type: ignore[no-untyped-call]
        finally:
            self._address_fresh = False

    async def connect_check_health(
        self, check_health: bool = True, retry_socket_connect: bool = True
    ) -> None:
        if not self.is_connected and not self._address_fresh and self.connection_pool.is_master:
            self.host, self.port = await self.connection_pool.get_master_address()
        await super().connect_check_health(check_health=check_health,
                                           retry_socket_connect=retry_socket_connect)


def sentinel_client(
    sentinels: list[tuple[str, int]],
    service: str,
    db: int,
    *,
    password: str | None,
    sentinel_auth: bool,
    retry: LoggingRetry,
    connect_timeout_s: float,
    command_timeout_s: float,
    max_connections: int = 256,
) -> Redis:
    """The primary of `service` as the sentinels name it, with pln123's retry and timeouts.

    Each sentinel is asked once per lookup (no retry of its own: a dead one costs one
    connect timeout, then the next is asked); `retry` wraps the lookup with the connect.
    The password is the data nodes'; the sentinels get it only with `sentinel_auth`.
    """
    sentinel_kwargs: dict[str, Any] = {
        "socket_connect_timeout": connect_timeout_s,
        "socket_timeout": command_timeout_s,
        "retry": Retry(NoBackoff(), 0),
    }
    if sentinel_auth:
        sentinel_kwargs["password"] = password
    manager = Sentinel(  # type: ignore[no-untyped-call, unused-ignore]  # unannotated before redis-py 8
        sentinels,
        sentinel_kwargs=sentinel_kwargs,
        password=password,
        retry=retry,
        db=db,
        socket_connect_timeout=connect_timeout_s,
        socket_timeout=command_timeout_s,
        decode_responses=True,
    )
    client: Redis = manager.master_for(service,
                                       connection_class=quick_writes(FailoverAwareConnection),
                                       max_connections=max_connections)
    return client


async def close_sentinels(client: Redis) -> None:
    """Close the sentinels' connections behind `client` (redis-py leaves them open).

    `Redis.aclose()` closes the primary's pool only; the `Sentinel` that looks the primary
    up keeps one client per sentinel, reachable through the pool.
    """
    pool = client.connection_pool
    if isinstance(pool, SentinelConnectionPool):
        await pool.sentinel_manager.aclose()
