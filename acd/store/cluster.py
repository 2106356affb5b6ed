"""redis-py's async RedisCluster, retrying and logging like pln123's single-server client.

redis-py (6.2 to 8.1) uses a cluster client's `retry` in three ways:

- a plain command (GET, EVALSHA, ...) is repeated `retry.get_retries()` times by the
  client itself, at once, re-reading the slot map in between: no backoff, no log line;
- a MULTI/EXEC pipeline (the ticket desk's) runs through `retry.call_with_retry`, so a
  `LoggingRetry` backs it off and logs it as on a single server;
- a pipeline without MULTI (the ACD's batched scripts) is repeated `get_retries()` times,
  0.25 s apart, re-sending only the commands that did not complete: no log line.

`RetryingRedisCluster` runs each plain command inside `call_with_retry` and, for that one
call, has `ClusterRetry.get_retries()` say 0, so a command makes redis-py's single attempt
per round of ours: it backs off and logs exactly like on a single server, and the two
retry loops never multiply. Pipelines without MULTI keep redis-py's own quiet retries,
because only redis-py can re-send just the unfinished part of a batch.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

from redis.asyncio import RedisCluster
from redis.exceptions import ClusterDownError, RedisClusterException, RedisError, TryAgainError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from acd.store.retry import RETRYABLE, LoggingRetry, RetryPolicy, ignore_failure

# A Cluster refuses commands for a moment while a replica takes over a failed primary
# (CLUSTERDOWN) or while a slot migrates (TRYAGAIN): both heal by waiting, like a reconnect.
CLUSTER_RETRYABLE: tuple[type[RedisError], ...] = (*RETRYABLE, ClusterDownError, TryAgainError)

# True while RetryingRedisCluster.execute_command runs redis-py's attempt. A ContextVar,
# not an attribute: concurrent commands and pipelines run in their own asyncio tasks and
# must each see their own answer.
_OUR_ROUND: ContextVar[bool] = ContextVar("pln123_cluster_command_round", default=False)


class ClusterRetry(LoggingRetry):
    """The policy for a cluster client: zero redis-py retries inside one of our rounds."""

    def __init__(self, policy: RetryPolicy, where: str):
        super().__init__(policy, where, CLUSTER_RETRYABLE)

    def get_retries(self) -> int:
        return 0 if _OUR_ROUND.get() else super().get_retries()


class RetryingRedisCluster(RedisCluster):
    """RedisCluster whose plain commands back off and log between attempts.

    Built with a `ClusterRetry` as `retry`. A cluster that cannot be reached at all is
    reported by redis-py as RedisClusterException, which is neither a RedisError nor
    retried; with a connection error as its cause it is raised as the ConnectionError it
    is, so it is retried like a single server's and callers that catch RedisError see it.
    """

    async def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        retry = self.retry
        if not isinstance(retry, ClusterRetry):  # someone called set_retry(): theirs rules
            return await super().execute_command(*args, **kwargs)
        async def attempt() -> Any:
            token = _OUR_ROUND.set(True)
            try:
                return await RedisCluster.execute_command(self, *args, **dict(kwargs))
            except RedisClusterException as error:
                if isinstance(error.__cause__, RedisConnectionError | RedisTimeoutError):
                    raise RedisConnectionError(str(error)) from error
                raise
            finally:
                _OUR_ROUND.reset(token)

        return await retry.call_with_retry(attempt, ignore_failure)
