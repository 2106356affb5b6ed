"""An asyncio loop in a thread, for hypothesis's synchronous state machines driving the
ACD's asynchronous code on a real Redis."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import TypeVar

from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

from acd.agents.state import IllegalTransition

T = TypeVar("T")


class LoopThread:
    """An asyncio loop in a thread: `call(fn)` runs fn there and waits for its result."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def call(self, fn: Callable[[], Deferred[T] | T]) -> T:
        async def run() -> T:
            result = fn()
            if isinstance(result, Deferred):
                return await result.asFuture(self.loop)  # type: ignore[no-any-return]
            return result

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(timeout=60)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


def tolerate_illegal(failure: Failure) -> None:
    """An operation the agent's state does not allow is a correct refusal, not a bug."""
    failure.trap(IllegalTransition)
