"""The one bridge between redis-py's asyncio client and Twisted Deferreds.

pln123 runs Twisted on the asyncio reactor, so a redis-py coroutine can run on the very loop
the reactor drives. Everything in `acd/` that touches Redis goes through `RedisStore.run`,
which turns one coroutine into one Deferred; no other module calls `ensure_future` or knows
that redis-py is asyncio underneath.

The client is created in `start()`, called from a Service's `startService` (or from a CLI
once `react` runs the loop), never at import or construction: redis-py binds its connection
pool to the running loop, and a process must be able to build its object graph before the
reactor runs.

Which client to build is one function, `create_client`, chosen by URL scheme. A single
server (`redis://`, `rediss://`, `unix://`) is implemented; Sentinel and Cluster (issue 4)
slot in there and nowhere else. Every key pln123 writes carries a hash tag (`{outages}`,
`{tickets}`, `{<site>}`) so that multi-key transactions and scripts keep working on Cluster.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

import structlog
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from twisted.internet.defer import Deferred, fail, succeed

log = structlog.get_logger("acd.store.redis")

T = TypeVar("T")

# The client type every store user receives. When Cluster arrives (issue 4) this widens to
# `Redis | RedisCluster`; the single-server and Sentinel clients are both `Redis`.
Client = Redis

SINGLE_SERVER_SCHEMES = ("redis", "rediss", "unix")
LATER_SCHEMES = ("redis+sentinel", "redis+cluster")


class StoreNotStarted(RuntimeError):
    """A command was issued before `start()` or after `close()`."""


class UnsupportedTopology(ValueError):
    """The URL names a Redis topology this build cannot talk to (yet)."""


@dataclass(frozen=True)
class RetryPolicy:
    """How hard one command tries before its Deferred fails.

    redis-py retries both the command and, inside it, the reconnect, so with the server
    gone a command takes about (retries + 1) x the sum of the backoff delays before it
    fails: ~3 s with the defaults. Callers with a tighter budget (a caller on the line)
    put a timeout on the Deferred; the retry still repairs the pool for the next command.
    """

    retries: int = 3
    base_s: float = 0.05
    cap_s: float = 0.5


class LoggingRetry(Retry):
    """redis-py's Retry, logging every failed attempt and the recovery after one.

    Wraps the attempt rather than the failure callback so that it works with every
    redis-py `call_with_retry` signature (the callback's arity changed across releases).
    """

    def __init__(self, policy: RetryPolicy, where: str):
        super().__init__(
            ExponentialBackoff(cap=policy.cap_s, base=policy.base_s),
            policy.retries,
            (RedisConnectionError, RedisTimeoutError),
        )
        self.where = where

    async def call_with_retry(
        self, do: Callable[[], Awaitable[T]], fail: Any, *args: Any, **kwargs: Any
    ) -> T:
        attempts = 0
        retryable = tuple(self._supported_errors)

        async def attempt() -> T:
            nonlocal attempts
            attempts += 1
            try:
                result = await do()
            except retryable as error:
                log.warning("redis_attempt_failed", redis=self.where, attempt=attempts,
                            retries=self._retries, error=f"{type(error).__name__}: {error}")
                raise
            if attempts > 1:
                log.info("redis_recovered", redis=self.where, attempts=attempts)
            return result

        return await super().call_with_retry(attempt, fail, *args, **kwargs)


def describe_url(url: str) -> str:
    """The URL without credentials or options: what may appear in a log line.

    `redis://:secret@10.0.0.5:6380/2?foo=bar` -> `redis://10.0.0.5:6380/2`;
    `unix:///run/redis.sock?db=1` -> `unix:///run/redis.sock?db=1`.
    """
    parts = urlsplit(url)
    if parts.scheme == "unix":
        db = parse_qs(parts.query).get("db", ["0"])[0]
        return f"unix://{parts.path}?db={db}"
    try:
        port = parts.port or 6379
    except ValueError:
        port = 0
    db = parts.path.lstrip("/") or parse_qs(parts.query).get("db", ["0"])[0]
    host = parts.hostname or "localhost"
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}:{port}/{db}"


def create_client(
    url: str,
    password: str | None,
    retry: Retry,
    *,
    connect_timeout_s: float = 2.0,
    command_timeout_s: float = 5.0,
) -> Client:
    """Build the redis-py client the URL asks for; the only place that knows topologies.

    Responses are decoded as UTF-8: every value pln123 writes is text. `command_timeout_s`
    bounds every read; a future blocking read (XREAD BLOCK) needs its own client or a
    longer timeout. Sentinel will need more than a URL (sentinel addresses, service name):
    its settings join the arguments here, not the callers.
    """
    check_url(url)
    return Redis.from_url(
        url,
        password=password,
        retry=retry,
        socket_connect_timeout=connect_timeout_s,
        socket_timeout=command_timeout_s,
        decode_responses=True,
    )


def check_url(url: str) -> None:
    """UnsupportedTopology unless `create_client` can build a client for `url`."""
    scheme = urlsplit(url).scheme
    if scheme in SINGLE_SERVER_SCHEMES:
        return
    if scheme in LATER_SCHEMES:
        raise UnsupportedTopology(
            f"{scheme}:// (Redis Sentinel/Cluster) is not supported yet; "
            "use a single server: redis://, rediss:// or unix://"
        )
    raise UnsupportedTopology(
        f"{scheme or 'no scheme'}: not a Redis URL (redis://, rediss:// or unix://)"
    )


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

    def close(self) -> Deferred[None]:
        """Close every pooled connection; `run` fails with StoreNotStarted afterwards."""
        client, self._client = self._client, None
        if client is None:
            return succeed(None)

        async def close() -> None:
            await client.aclose()
            log.info("redis_closed", redis=self.where)

        return Deferred.fromFuture(asyncio.ensure_future(close()))


def text(value: bytes | str) -> str:
    """A reply as str: the client decodes already, this only satisfies redis-py's types."""
    return value.decode() if isinstance(value, bytes) else value


async def _ping(client: Client) -> None:
    await client.ping()
