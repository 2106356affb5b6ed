"""Runs the ACD's Lua operations, many per round trip and per Redis command.

Why: redis-py's asyncio client costs about 200 us of Python per command, which alone would
cap one process below the 5,000 decisions/s the ACD must sustain under a surge. So the
operations asked for in the same turn of the event loop, and those that arrive while
earlier ones are on the wire, are sent together as one EVALSHA of the batch script (lua.py),
which runs them in turn and returns one reply each: no timer, a lone call waits only for
the callbacks already running to finish (Nagle without the delay). Up to `max_in_flight` batches
(on as many pooled connections) are outstanding at once, so Redis runs one batch while
Python handles the replies of the other; two batches in flight may run in either order (a
call that depends on another is only made once that one has replied). `max_batch` bounds
how long one batch keeps Redis busy (~0.1-0.2 ms per operation).

The script is called by SHA, the SHA1 of the text Redis runs (the .lua sources with the key
layout written in, lua.py): what `SCRIPT LOAD` of that text answers. After a Redis restart
or failover the server's script cache is empty: a batch that got NOSCRIPT did not run, so
the script is loaded and the batch sent again. EVALSHA is a plain command (redis-py's
Cluster client refuses its `evalsha` method in pipelines; a single command needs no
pipeline at all), written to connections the runner keeps out of the pool between batches
(acd/store/pinned.py).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from redis.exceptions import NoScriptError
from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

from acd.queues.lua import OPERATIONS, SCRIPT
from acd.store.pinned import PinnedConnections
from acd.store.redis import Client, RedisStore

UNIT = "\x1f"    # the ASCII unit separator: between an operation's name and arguments
RECORD = "\x1e"  # the ASCII record separator: between a batch's operations


class ScriptError(RuntimeError):
    """An operation failed inside Redis (a bug: inputs are checked before they are sent)."""


@dataclass
class _Call:
    operation: str
    packed: str
    done: Deferred[Any] = field(default_factory=Deferred)


class ScriptRunner:
    """`call(operation, packed)` -> Deferred of that operation's reply, batched."""

    def __init__(self, store: RedisStore, routing_key: str, *, max_batch: int = 64,
                 max_in_flight: int = 2):
        if max_batch < 1 or max_in_flight < 1:
            raise ValueError("max_batch and max_in_flight must be at least 1")
        self.store = store
        self.routing_key = routing_key   # a key in the site's slot (Cluster routing)
        self.sha = hashlib.sha1(SCRIPT.encode()).hexdigest()
        self._max_batch = max_batch
        self._max_in_flight = max_in_flight
        self._pending: list[_Call] = []
        self._in_flight = 0
        self._due = False    # a send is arranged for the loop's next turn
        self._connections = PinnedConnections()  # one per batch in flight, kept between
        self.batches = 0  # round trips made (for the benchmark and tests)

    def call(self, operation: str, packed: str) -> Deferred[Any]:
        if operation not in OPERATIONS:
            raise KeyError(f"no operation named {operation!r}")
        call = _Call(operation, packed)
        self._pending.append(call)
        if not self._due and self._in_flight < self._max_in_flight:
            self._due = True
            self.store.soon(self._send_due)
        return call.done

    def _send_due(self) -> None:
        self._due = False
        while self._pending and self._in_flight < self._max_in_flight:
            self._flush()

    def _flush(self) -> None:
        batch = self._pending[: self._max_batch]
        del self._pending[: self._max_batch]
        self._in_flight += 1
        self.batches += 1
        packed = RECORD.join(f"{call.operation}{UNIT}{call.packed}" for call in batch)
        d = self.store.run(lambda client: self._execute(client, packed))
        d.addCallbacks(self._deliver, self._fail, callbackArgs=(batch,), errbackArgs=(batch,))

    async def _execute(self, client: Client, packed: str) -> list[Any]:
        evalsha = ("EVALSHA", self.sha, 1, self.routing_key, packed)
        try:
            replies = await self._connections.execute(client, *evalsha)
        except NoScriptError:
            await client.script_load(SCRIPT)
            replies = await self._connections.execute(client, *evalsha)
        return list(replies)

    def _deliver(self, replies: list[Any], batch: list[_Call]) -> None:
        for call, reply in zip(batch, replies, strict=True):
            if isinstance(reply, list) and len(reply) == 2 and reply[0] == "error":
                call.done.errback(Failure(ScriptError(f"{call.operation}: {reply[1]}")))
            else:
                call.done.callback(reply)
        self._next()

    def _fail(self, failure: Failure, batch: list[_Call]) -> None:
        for call in batch:
            call.done.errback(failure)
        self._next()

    def _next(self) -> None:
        self._in_flight -= 1
        if self._pending and self._in_flight < self._max_in_flight:
            self._flush()
