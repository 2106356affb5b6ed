"""A Redis stream read with a consumer group, one entry at a time, until stopped.

Why a stream and a group: what a stream carries (an agent command, a ring request) may be
written while no process of the site runs, and several processes of a site may read at
once; the group hands each entry to one of them, and an entry written meanwhile waits for
the next reader. `handle` failing is logged and the entry is acknowledged anyway: one bad
entry must not stop the rest.

A read blocks up to BLOCK_MS: the longer, the fewer empty reads an idle site makes (each
is a round trip and a wake-up of the process), but it must stay well below the client's
command timeout (5 s by default), which would fail it. `stop` does not wait for it: it
cancels a read in progress (redis-py drops that connection) and waits only for an entry
being handled.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import structlog
from redis.exceptions import ResponseError
from twisted.internet.defer import Deferred, succeed

from acd.store.redis import Client, RedisStore, text

log = structlog.get_logger("acd.store.stream")

GROUP = "pln123"
BLOCK_MS = 3000

Handler = Callable[[Mapping[str, str]], Awaitable[object]]


class StreamConsumer:
    def __init__(self, store: RedisStore, key: str, handle: Handler, what: str):
        self.store = store
        self.key = key
        self.handle = handle
        self.what = what              # for the log: "agent_command", "ring_request"
        self.consumer = f"pln123-{secrets.token_hex(4)}"
        self.handled = 0
        self._running = False
        self._done: Deferred[None] | None = None
        self._reading: Deferred[list[tuple[str, dict[str, str]]]] | None = None

    def start(self) -> None:
        self._running = True
        self._done = Deferred.fromCoroutine(self._loop())

    def stop(self) -> Deferred[None]:
        """Stops now if waiting for entries, else once the entry in hand is handled."""
        self._running = False
        if self._reading is not None:
            self._reading.cancel()
        return self._done if self._done is not None else succeed(None)

    async def _loop(self) -> None:
        await self._ensure_group()
        while self._running:
            self._reading = self.store.run(self._read)
            try:
                batch = await self._reading
            except (Exception, asyncio.CancelledError) as error:  # noqa: BLE001 - Redis down
                if self._running:
                    log.warning(f"{self.what}_read_failed", error=str(error))
                continue
            finally:
                self._reading = None
            for entry_id, fields in batch:
                await self._handle(entry_id, fields)

    async def _ensure_group(self) -> None:
        async def create(client: Client) -> None:
            try:
                await client.xgroup_create(self.key, GROUP, id="0", mkstream=True)
            except ResponseError as error:
                if "BUSYGROUP" not in str(error):  # the group exists already: fine
                    raise

        await self.store.run(create)

    async def _read(self, client: Client) -> list[tuple[str, dict[str, str]]]:
        reply: Any = await client.xreadgroup(GROUP, self.consumer, {self.key: ">"},
                                             count=100, block=BLOCK_MS)
        out: list[tuple[str, dict[str, str]]] = []
        for _stream, entries in reply or []:
            for entry_id, raw in entries:
                out.append((text(entry_id), {text(k): text(v) for k, v in raw.items()}))
        return out

    async def _handle(self, entry_id: str, fields: dict[str, str]) -> None:
        try:
            await self.handle(fields)
            self.handled += 1
        except Exception as error:  # noqa: BLE001 - a bad entry must not stop the rest
            log.warning(f"{self.what}_refused", fields=dict(fields), error=str(error))

        async def ack(client: Client) -> None:
            await client.xack(self.key, GROUP, entry_id)

        await self.store.run(ack)
