"""Waiting on the real reactor with a deadline, for tests that talk to real servers.

A deadline turns a hang into a failure that names what never happened, so a broken
server or a lost event costs seconds, not the suite's timeout.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from twisted.internet import reactor as _reactor
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import deferLater

reactor: Any = _reactor
T = TypeVar("T")


def clock() -> IReactorTime:
    result: IReactorTime = reactor
    return result


async def within(d: Deferred[T], seconds: float, what: str) -> T:
    """Await `d`, failing the test with `what` after `seconds` (never hangs the suite)."""
    d.addTimeout(seconds, reactor)
    try:
        return await d
    except Exception as err:
        if type(err).__name__ == "TimeoutError":
            raise AssertionError(f"timed out after {seconds}s waiting for {what}") from err
        raise


async def poll(predicate: Callable[[], bool], seconds: float, what: str) -> None:
    """Poll `predicate` every 50 ms until true, or fail after `seconds`."""
    deadline = reactor.seconds() + seconds
    while not predicate():
        if reactor.seconds() > deadline:
            raise AssertionError(f"timed out after {seconds}s waiting for {what}")
        await deferLater(reactor, 0.05, lambda: None)
