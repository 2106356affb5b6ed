"""Applying agent commands written by `pln123 agent ...` (pln123/cli/agent.py) to the ACD.

The CLI may run on any host and while the site's pln123 is restarting, so the commands go
through a Redis stream (the site's `agent-commands` key, acd/store/keys.py) read with a
consumer group: each command is applied once even with several pln123 processes per site,
and a command written while no process ran is applied when one starts.
"""

from __future__ import annotations

import secrets
from typing import Any

import structlog
from redis.exceptions import ResponseError
from twisted.internet.defer import Deferred

from acd.agents.operations import AgentOperations, apply
from acd.store.keys import agent_commands_key
from acd.store.redis import Client, RedisStore, text

log = structlog.get_logger("acd.agents.commands")

GROUP = "pln123"
BLOCK_MS = 1000


def commands_key(site: str) -> str:
    return agent_commands_key(site)


class AgentCommandConsumer:
    """Reads the site's command stream until stopped; failures are logged, never fatal."""

    def __init__(self, store: RedisStore, site: str, operations: AgentOperations):
        self.store = store
        self.key = commands_key(site)
        self.operations = operations
        self.consumer = f"pln123-{secrets.token_hex(4)}"
        self.applied = 0
        self._running = False
        self._done: Deferred[None] | None = None

    def start(self) -> None:
        self._running = True
        self._done = Deferred.fromCoroutine(self._loop())

    def stop(self) -> Deferred[None]:
        """Stops after the current read (at most BLOCK_MS)."""
        self._running = False
        done = self._done
        if done is None:
            return Deferred.fromCoroutine(_nothing())
        return done

    async def _loop(self) -> None:
        await self._ensure_group()
        while self._running:
            try:
                batch = await self.store.run(self._read)
            except Exception as error:  # noqa: BLE001 - Redis down: retry after the block
                log.warning("agent_commands_read_failed", error=str(error))
                continue
            for entry_id, fields in batch:
                await self._apply(entry_id, fields)

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

    async def _apply(self, entry_id: str, fields: dict[str, str]) -> None:
        try:
            await apply(self.operations, fields.get("action", ""), fields.get("agent", ""),
                        fields.get("reason", ""))
            self.applied += 1
            log.info("agent_command_applied", agent=fields.get("agent"),
                     action=fields.get("action"), source=fields.get("source", ""))
        except Exception as error:  # noqa: BLE001 - a bad command must not stop the rest
            log.warning("agent_command_refused", agent=fields.get("agent"),
                        action=fields.get("action"), error=str(error))

        async def ack(client: Client) -> None:
            await client.xack(self.key, GROUP, entry_id)

        await self.store.run(ack)


async def _nothing() -> None:
    return None
