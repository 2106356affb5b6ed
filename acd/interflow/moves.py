"""What travels with a moved call, and the trunks' concurrent-call limits, in Redis.

Transfer record (`transfer_key`, acd/store/keys.py): a hash with the call's context (area
code, IDPEL, language, skill, priority, original enqueue time, sites visited, moves made)
that the sending site writes before the caller is sent over the trunk and the receiving
site reads when the caller arrives. Its own hash tag: it belongs to neither site's slot,
and it expires after a day (a caller is long gone by then).

Trunk use (`trunk_key`): a sorted set of the interflowed calls now on that ordered pair of
sites, scored by when they moved. Taking a slot is one small script (count and add
atomically, so two processes cannot both take the last slot:
acd/interflow/lua/take_trunk.lua); a slot is given back when the moved call ends at home
(its original channel hangs up) or the move fails. Entries older than `TRUNK_STALE_S` are
dropped, so a process that died holding slots cannot block a trunk for good.
"""

from __future__ import annotations

from collections.abc import Mapping

from twisted.internet.defer import Deferred

from acd.store.keys import (
    TRANSFER_TTL_S,
    TRUNK_STALE_S,
    checked_id,
    transfer_key,
    trunk_key,
)
from acd.store.lua import source
from acd.store.redis import Client, RedisStore, text

_TAKE = source("acd.interflow", "take_trunk.lua")


class MoveDesk:
    def __init__(self, store: RedisStore):
        self.store = store

    def write_transfer(self, call_id: str, fields: Mapping[str, str]) -> Deferred[None]:
        key = transfer_key(call_id)

        async def write(client: Client) -> None:
            async with client.pipeline(transaction=False) as pipe:
                pipe.delete(key)
                record: dict[str | bytes, str | bytes] = dict(fields.items())
                pipe.hset(key, mapping=record)  # type: ignore[arg-type]
                pipe.expire(key, TRANSFER_TTL_S)
                await pipe.execute()

        return self.store.run(write)

    def read_transfer(self, call_id: str) -> Deferred[dict[str, str] | None]:
        key = transfer_key(call_id)

        async def read(client: Client) -> dict[str, str] | None:
            raw = await client.hgetall(key)
            return {text(k): text(v) for k, v in raw.items()} or None

        return self.store.run(read)

    def take_trunk(self, origin: str, target: str, call_id: str, limit: int,
                   now: float) -> Deferred[bool]:
        """A slot on origin -> target for `call_id`: False when `limit` calls use it."""
        key = trunk_key(origin, target)
        args = [str(limit), checked_id(call_id, "call id"), f"{now:.3f}",
                f"{now - TRUNK_STALE_S:.3f}"]

        async def take(client: Client) -> bool:
            return bool(await client.eval(_TAKE, 1, key, *args))

        return self.store.run(take)

    def release_trunk(self, origin: str, target: str, call_id: str) -> Deferred[None]:
        key = trunk_key(origin, target)

        async def release(client: Client) -> None:
            await client.zrem(key, call_id)

        return self.store.run(release)

    def trunks_in_use(self, origin: str, since: Mapping[str, float]
                      ) -> Deferred[dict[str, tuple[int, int]]]:
        """Per target: (interflowed calls on origin -> target now, of those the ones sent
        at or after `since[target]`, i.e. maybe not yet in the target's published status)."""
        names = list(since)

        async def read(client: Client) -> dict[str, tuple[int, int]]:
            async with client.pipeline(transaction=False) as pipe:
                for target in names:
                    pipe.zcard(trunk_key(origin, target))
                    pipe.zcount(trunk_key(origin, target), f"{since[target]:.3f}", "+inf")
                replies = await pipe.execute()
            return {t: (int(replies[2 * i]), int(replies[2 * i + 1]))
                    for i, t in enumerate(names)}

        return self.store.run(read)
