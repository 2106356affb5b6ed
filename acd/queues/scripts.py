"""Runs the ACD's Lua scripts, pipelining the calls that arrive while a batch is in flight.

Why: redis-py's asyncio client costs about 200 us of Python per command round trip, which
alone would cap one process below the 5,000 decisions/s the ACD must sustain under a surge.
Much of that cost is per round trip, not per command, so calls that arrive while batches
are on the wire are sent together as the next batch (no timer, no added latency for a lone
call: Nagle without the delay). Up to `max_in_flight` batches (on as many pooled
connections) are outstanding at once, so Redis runs one batch while Python handles the
replies of the other. Each script still runs atomically on its own; a pipeline without
MULTI only saves round trips, it promises nothing about the scripts between them, and two
batches in flight may run in either order (a call that depends on another is only made
once that one has replied).

Scripts are called by SHA (EVALSHA). After a Redis restart or failover the server's script
cache is empty: the calls that got NOSCRIPT did not run, so they are loaded and sent again.
redis-py's Cluster pipeline blocks its `evalsha` method (a NOSCRIPT on one node would go
unnoticed by its callers); the reload above handles exactly that, so the command is sent
with `execute_command`, which the Cluster pipeline routes by the script's one key.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from redis.exceptions import NoScriptError
from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

from acd.store.redis import Client, RedisStore

Arg = str | int | float


@dataclass
class _Call:
    name: str
    keys: Sequence[str]
    args: Sequence[Arg]
    done: Deferred[Any] = field(default_factory=Deferred)


class ScriptRunner:
    """`call(name, keys, args)` -> Deferred of the script's reply, batched per round trip."""

    def __init__(self, store: RedisStore, scripts: Mapping[str, str], *, max_batch: int = 256,
                 max_in_flight: int = 2):
        if max_batch < 1 or max_in_flight < 1:
            raise ValueError("max_batch and max_in_flight must be at least 1")
        self.store = store
        self._source = dict(scripts)
        self._sha = {name: hashlib.sha1(src.encode()).hexdigest()
                     for name, src in self._source.items()}
        self._max_batch = max_batch
        self._max_in_flight = max_in_flight
        self._pending: list[_Call] = []
        self._in_flight = 0
        self.batches = 0  # round trips made (for the benchmark and tests)

    def call(self, name: str, keys: Sequence[str], args: Sequence[Arg]) -> Deferred[Any]:
        if name not in self._sha:
            raise KeyError(f"no script named {name!r}")
        call = _Call(name, keys, args)
        self._pending.append(call)
        if self._in_flight < self._max_in_flight:
            self._flush()
        return call.done

    def _flush(self) -> None:
        batch = self._pending[: self._max_batch]
        del self._pending[: self._max_batch]
        self._in_flight += 1
        self.batches += 1
        d = self.store.run(lambda client: self._execute(client, batch))
        d.addCallbacks(self._deliver, self._fail, callbackArgs=(batch,), errbackArgs=(batch,))

    async def _execute(self, client: Client, batch: list[_Call]) -> list[Any]:
        results = await self._send(client, batch)
        missing = [i for i, result in enumerate(results) if isinstance(result, NoScriptError)]
        if missing:
            for name in sorted({batch[i].name for i in missing}):
                await client.script_load(self._source[name])
            again = await self._send(client, [batch[i] for i in missing])
            for i, result in zip(missing, again, strict=True):
                results[i] = result
        return results

    async def _send(self, client: Client, batch: Sequence[_Call]) -> list[Any]:
        async with client.pipeline(transaction=False) as pipe:
            for call in batch:
                pipe.execute_command("EVALSHA", self._sha[call.name], len(call.keys),
                                     *call.keys, *call.args)
            return list(await pipe.execute(raise_on_error=False))

    def _deliver(self, results: list[Any], batch: list[_Call]) -> None:
        for call, result in zip(batch, results, strict=True):
            if isinstance(result, Exception):
                call.done.errback(Failure(result))
            else:
                call.done.callback(result)
        self._next()

    def _fail(self, failure: Failure, batch: list[_Call]) -> None:
        for call in batch:
            call.done.errback(failure)
        self._next()

    def _next(self) -> None:
        self._in_flight -= 1
        if self._pending and self._in_flight < self._max_in_flight:
            self._flush()
