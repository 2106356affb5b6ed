"""The Redis store without a server: URL handling, topology choice, lifecycle, retry logging."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

import pytest
import pytest_twisted
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from structlog.testing import capture_logs
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock

from acd.store import (
    LoggingRetry,
    RedisStore,
    RetryPolicy,
    StoreNotStarted,
    UnsupportedTopology,
    create_client,
    describe_url,
    timestamp,
)

T = TypeVar("T")


def in_loop(coroutine: Coroutine[Any, Any, T]) -> Deferred[T]:
    """A Twisted coroutine cannot await an asyncio one directly: bridge like the store does."""
    return Deferred.fromFuture(asyncio.ensure_future(coroutine))


@pytest.mark.parametrize(
    ("url", "described"),
    [
        ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
        ("redis://:s3cret@10.0.0.5:6380/2?health_check_interval=5", "redis://10.0.0.5:6380/2"),
        ("rediss://user:s3cret@redis.pln.local/1", "rediss://redis.pln.local:6379/1"),
        ("redis://localhost?db=3", "redis://localhost:6379/3"),
        ("redis://[::1]:7000/0", "redis://[::1]:7000/0"),
        ("unix:///run/redis/redis.sock?db=1&password=s3cret", "unix:///run/redis/redis.sock?db=1"),
        ("unix://:s3cret@/run/redis.sock", "unix:///run/redis.sock?db=0"),
    ],
)
def test_describe_url_keeps_only_where(url: str, described: str) -> None:
    assert describe_url(url) == described
    assert "s3cret" not in describe_url(url)


def test_single_server_urls_build_a_redis_client() -> None:
    retry = LoggingRetry(RetryPolicy(), "test")
    for url in ("redis://127.0.0.1:6379/0", "rediss://h/0", "unix:///tmp/r.sock?db=0"):
        client = create_client(url, "pw", retry)
        assert isinstance(client, Redis)
        kwargs = client.connection_pool.connection_kwargs
        assert kwargs["password"] == "pw" and kwargs["retry"] is retry
        assert kwargs["decode_responses"] is True


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("redis+sentinel://127.0.0.1:26379/mymaster", "not supported yet"),
        ("redis+cluster://127.0.0.1:7000", "not supported yet"),
        ("http://127.0.0.1:6379", "not a Redis URL"),
        ("127.0.0.1:6379", "not a Redis URL"),
    ],
)
def test_other_topologies_are_refused_at_construction(url: str, expected: str) -> None:
    with pytest.raises(UnsupportedTopology, match=expected):
        RedisStore(url)


def test_construction_connects_to_nothing_and_hides_the_password() -> None:
    store = RedisStore("redis://127.0.0.1:1/0", "s3cret")
    assert not store.started
    assert "s3cret" not in repr(store) and "s3cret" not in str(vars(store).get("where"))
    assert repr(store) == "RedisStore('redis://127.0.0.1:1/0', started=False)"


@pytest_twisted.ensureDeferred
async def test_run_before_start_fails_with_store_not_started() -> None:
    store = RedisStore("redis://127.0.0.1:1/0")
    with pytest.raises(StoreNotStarted, match="not started"):
        await store.run(lambda client: client.ping())
    await store.close()  # closing an unstarted store is harmless


@pytest_twisted.ensureDeferred
async def test_logging_retry_logs_each_failure_and_the_recovery() -> None:
    retry = LoggingRetry(RetryPolicy(retries=3, base_s=0.001, cap_s=0.001), "redis://h:1/0")
    outcomes: list[Exception | str] = [RedisConnectionError("reset"), RedisConnectionError("x"),
                                       "ok"]
    failures: list[Exception] = []

    async def attempt() -> str:
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    async def on_failure(error: Exception, *rest: object) -> None:
        failures.append(error)

    with capture_logs() as logs:
        result = await in_loop(retry.call_with_retry(attempt, on_failure))
    assert result == "ok"
    assert len(failures) == 2  # redis-py's own failure callback still runs (disconnect)
    events = [(e["event"], e.get("attempt")) for e in logs]
    assert events == [("redis_attempt_failed", 1), ("redis_attempt_failed", 2),
                      ("redis_recovered", None)]
    assert logs[0]["redis"] == "redis://h:1/0" and "reset" in logs[0]["error"]


@pytest_twisted.ensureDeferred
async def test_logging_retry_gives_up_and_ignores_non_connection_errors() -> None:
    retry = LoggingRetry(RetryPolicy(retries=1, base_s=0.001, cap_s=0.001), "w")
    calls = 0

    async def down() -> None:
        nonlocal calls
        calls += 1
        raise RedisConnectionError("down")

    async def wrong() -> None:
        raise ResponseError("WRONGTYPE")

    async def ignore(*_: object) -> None:
        return None

    with pytest.raises(RedisConnectionError):
        await in_loop(retry.call_with_retry(down, ignore))
    assert calls == 2
    with capture_logs() as logs, pytest.raises(ResponseError):
        await in_loop(retry.call_with_retry(wrong, ignore))
    assert logs == []


def test_timestamps_come_from_the_clock_to_the_millisecond() -> None:
    clock = Clock()
    clock.advance(1_735_801_200.123456)
    assert timestamp(clock) == 1_735_801_200.123
