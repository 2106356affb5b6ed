"""Run one benchmark coroutine on Twisted's asyncio reactor against a Redis.

Both ACD benchmarks need the same frame: the reactor pln123 runs on, logs cut to warnings
(an info line per decision would measure the log sink, not the ACD), and a private
redis-server on a unix socket, stopped by its PID at the end, unless `--redis-url` names
one to use (and flush).
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import structlog
from twisted.internet.defer import Deferred

from tools.redis_server import RedisServerError, start_redis

R = TypeVar("R")


def run_on_redis(redis_url: str | None, prefix: str, work: Callable[[str], Awaitable[R]]) -> R:
    """`work(url)` on the asyncio reactor, with a private Redis unless `redis_url`."""
    from twisted.internet import asyncioreactor

    asyncioreactor.install()
    from twisted.internet import task

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    result: list[R] = []
    with tempfile.TemporaryDirectory(prefix=prefix) as directory:
        try:
            redis_process = None if redis_url else start_redis(Path(directory), tcp=False)
        except RedisServerError as error:
            raise SystemExit(str(error)) from None
        url = redis_url or (redis_process.url if redis_process else "")
        try:
            async def go(_reactor: object) -> None:
                result.append(await work(url))

            try:
                task.react(lambda r: Deferred.fromCoroutine(go(r)), [])
            except SystemExit as done:
                if done.code not in (0, None):
                    raise
        finally:
            if redis_process is not None:
                redis_process.stop()
    return result[0]
