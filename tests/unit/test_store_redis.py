"""The Redis store without a server: URL handling, topology choice, lifecycle, retry logging."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Coroutine
from typing import Any, TypeVar

import pytest
import pytest_twisted
from redis.asyncio import Redis, RedisCluster
from redis.asyncio.sentinel import SentinelConnectionPool
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
    Topology,
    UnsupportedTopology,
    create_client,
    describe_url,
    parse_url,
    timestamp,
)
from acd.store.cluster import ClusterRetry
from acd.store.sentinel import FailoverAwareConnection
from acd.store.writes import QuickWrites

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
        ("redis+sentinel://10.0.0.1,10.0.0.2:26380/pln",
         "redis+sentinel://10.0.0.1:26379,10.0.0.2:26380/pln/0"),
        ("redis+sentinel://[fd00::1]:26379/pln/3?sentinel_auth=yes",
         "redis+sentinel://[fd00::1]:26379/pln/3"),
        ("redis+cluster://10.0.0.1:7000,10.0.0.2", "redis+cluster://10.0.0.1:7000,10.0.0.2:6379"),
        ("redis+cluster://:s3cret@10.0.0.1:7000", "redis+cluster://(unparsable)"),
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
        assert issubclass(client.connection_pool.connection_class, QuickWrites)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("redis://h/0", Topology("single")),
        ("redis+sentinel://a:1,b/pln", Topology("sentinel", (("a", 1), ("b", 26379)), "pln")),
        ("redis+sentinel://a/pln-2/7?sentinel_auth=yes",
         Topology("sentinel", (("a", 26379),), "pln-2", 7, sentinel_auth=True)),
        ("redis+cluster://[::1]:7000,b:7001/0",
         Topology("cluster", (("::1", 7000), ("b", 7001)))),
    ],
)
def test_parse_url(url: str, expected: Topology) -> None:
    assert parse_url(url) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("redis+sentinel://127.0.0.1:26379", "expected /<service name>"),
        ("redis+sentinel://127.0.0.1:26379/pln/0/x", "expected /<service name>"),
        ("redis+sentinel://127.0.0.1:26379/pln/x", "'x' is not a number"),
        ("redis+sentinel://h/pln?sentinel_auth=1", "sentinel_auth is yes or no"),
        ("redis+sentinel://h/pln?socket_timeout=1", "unknown option socket_timeout"),
        ("redis+sentinel:///pln", "at least one host"),
        ("redis+sentinel://:pw@h/pln", "password file"),
        ("redis+cluster://h:7000/1", "only database 0"),
        ("redis+cluster://h:7000?db=0", "unknown option db (it takes none)"),
        ("redis+cluster://h:70000", "no valid port"),
        ("redis+cluster://h:x", "no valid port"),
        ("redis+cluster://h,,i", "is not host:port"),
        ("redis+cluster://[::1:7000", "not a URL"),
        ("redis+cluster://[::1]x,h", "is not host:port"),
        ("http://127.0.0.1:6379", "not a Redis URL"),
        ("127.0.0.1:6379", "not a Redis URL"),
    ],
)
def test_bad_urls_are_refused_at_construction(url: str, expected: str) -> None:
    with pytest.raises(UnsupportedTopology, match=re.escape(expected)):
        RedisStore(url)


def test_a_cluster_url_builds_a_cluster_client_with_logging_retry() -> None:
    retry = LoggingRetry(RetryPolicy(retries=5), "w")
    client = create_client("redis+cluster://127.0.0.1:7000,127.0.0.1:7001", "pw", retry)
    assert isinstance(client, RedisCluster)
    nodes = client.nodes_manager.startup_nodes
    assert sorted(nodes) == ["127.0.0.1:7000", "127.0.0.1:7001"]
    assert isinstance(client.retry, ClusterRetry) and client.retry.policy.retries == 5
    assert client.retry.get_retries() == 5  # outside a command: redis-py's own pipelines
    kwargs = client.connection_kwargs
    assert kwargs["password"] == "pw" and kwargs["decode_responses"] is True


@pytest.mark.parametrize("auth", [False, True])
def test_a_sentinel_url_builds_a_primary_client_behind_the_sentinels(auth: bool) -> None:
    retry = LoggingRetry(RetryPolicy(), "w")
    url = "redis+sentinel://127.0.0.1:26379,127.0.0.1:26380/pln/2"
    client = create_client(url + ("?sentinel_auth=yes" if auth else ""), "pw", retry)
    assert isinstance(client, Redis)
    pool = client.connection_pool
    assert isinstance(pool, SentinelConnectionPool) and pool.service_name == "pln"
    assert issubclass(pool.connection_class, FailoverAwareConnection)
    assert issubclass(pool.connection_class, QuickWrites)
    kwargs = pool.connection_kwargs
    assert kwargs["password"] == "pw" and kwargs["retry"] is retry and kwargs["db"] == 2
    sentinels = pool.sentinel_manager.sentinels
    assert len(sentinels) == 2
    assert sentinels[0].connection_pool.connection_kwargs.get("password") == (
        "pw" if auth else None)


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
