"""How hard a Redis command tries, and the log lines that say so, on every topology.

redis-py retries a command (and, inside it, the reconnect) through a `Retry` object. We
subclass it once, `LoggingRetry`, so that every failed attempt and every recovery is a log
line with the store's address, whichever client (single server, Sentinel, Cluster) runs it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import structlog
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = structlog.get_logger("acd.store.redis")

T = TypeVar("T")

RETRYABLE: tuple[type[RedisError], ...] = (RedisConnectionError, RedisTimeoutError)


@dataclass(frozen=True)
class RetryPolicy:
    """How hard one command tries before its Deferred fails.

    redis-py retries both the command and, inside it, the reconnect, so with the server
    gone a command takes about (retries + 1) x the sum of the backoff delays before it
    fails: ~3 s with the defaults. Callers with a tighter budget (a caller on the line)
    put a timeout on the Deferred; the retry still repairs the pool for the next command.

    Under Sentinel, a command issued while the primary is down waits for the failover
    only as long as this budget: size it above Sentinel's `down-after-milliseconds` plus
    the election (a few seconds) if commands must ride through a failover rather than fail
    and let the next one find the new primary.
    """

    retries: int = 3
    base_s: float = 0.05
    cap_s: float = 0.5


class LoggingRetry(Retry):
    """redis-py's Retry, logging every failed attempt and the recovery after one.

    Wraps the attempt rather than the failure callback so that it works with every
    redis-py `call_with_retry` signature (the callback's arity changed across releases).
    """

    def __init__(
        self,
        policy: RetryPolicy,
        where: str,
        errors: tuple[type[RedisError], ...] = RETRYABLE,
    ):
        super().__init__(ExponentialBackoff(cap=policy.cap_s, base=policy.base_s),
                         policy.retries, errors)
        self.policy = policy
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


async def ignore_failure(*_: object) -> None:
    """The `fail` callback for a retry around a whole cluster command: nothing to tidy up.

    redis-py's own callbacks disconnect the failed connection; around a cluster command
    the cluster client has already done that (and marked its slot map for refreshing).
    """
