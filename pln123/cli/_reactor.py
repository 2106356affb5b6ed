"""One Redis job from a CLI command: the asyncio reactor, a started store, an exit status.

The CLI verbs that touch Redis (`pln123 outage`, `pln123 agent`) use the same `RedisStore`
as the server, which needs Twisted on the asyncio reactor (docs/architecture.md). Installing
that reactor, starting and closing the store, and turning Redis failures into exit
statuses is the same for every verb, so it lives here once: a verb supplies `work`, an
`async` function of the started store and the reactor that returns the exit status.

Exit statuses: whatever `work` returns; 1 when Redis fails (unreachable, an error reply);
2 when the URL names a topology the store cannot use or a store-side check refuses a value
(ValueError), the CLI's "bad input".
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable

from redis.exceptions import RedisError
from twisted.internet import task
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime

from acd.store import RedisStore, RetryPolicy, UnsupportedTopology

# What a verb does once connected: (store, reactor) -> exit status.
StoreWork = Callable[[RedisStore, IReactorTime], Awaitable[int]]


def run_with_store(prog: str, url: str, password: str | None, work: StoreWork) -> int:
    """Run `work` against the Redis at `url` under `task.react`; its exit status.

    Errors are printed as one `prog: ...` line on stderr; the password is never printed
    (only the store's `where`, the URL without credentials).
    """
    install_asyncio_reactor()  # before anything imports the default reactor
    try:
        store = RedisStore(url, password, retry=RetryPolicy(retries=2))
    except UnsupportedTopology as error:
        print(f"{prog}: {error}", file=sys.stderr)
        return 2

    async def session(reactor: IReactorTime) -> None:
        try:
            await store.start()
            code = await work(store, reactor)
        except RedisError as error:
            print(f"{prog}: Redis at {store.where}: {error}", file=sys.stderr)
            code = 1
        except ValueError as error:  # a store-side check, should the CLI's own miss one
            print(f"{prog}: {error}", file=sys.stderr)
            code = 2
        finally:
            await store.close()
        raise SystemExit(code)

    try:
        task.react(lambda reactor: Deferred.fromCoroutine(session(reactor)))
    except SystemExit as done:
        return done.code if isinstance(done.code, int) else 1
    return 0


def install_asyncio_reactor() -> None:
    """The asyncio reactor, before anything imports the default one; quiet logs on stderr."""
    import logging

    import structlog

    structlog.configure(
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
    )
    if "twisted.internet.reactor" in sys.modules:
        from twisted.internet import reactor
        from twisted.internet.asyncioreactor import AsyncioSelectorReactor

        if not isinstance(reactor, AsyncioSelectorReactor):
            raise RuntimeError("a non-asyncio Twisted reactor was installed before the CLI ran")
        return
    from twisted.internet import asyncioreactor

    asyncioreactor.install()
