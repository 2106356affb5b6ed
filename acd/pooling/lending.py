"""A site's lending at run time: the supervisors' overrides, and what it lends now.

A national supervisor can switch a site's lending off (its agents answer only its own
callers) or fix its reserve (for every skill, or one), overriding the config's `auto` or
number until they take the override back. The overrides live in the site's `lending`
hash in its pool's slot (`SiteKeys.lending`, acd/store/keys.py), where the matching script
reads them on every decision: they apply at once, to every process, and survive restarts.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from twisted.internet.defer import Deferred

from acd.settings import PoolingSettings
from acd.store.keys import PART, SiteKeys, checked_name
from acd.store.redis import Client, RedisStore, text

OFF = "off"
RESERVE = "reserve"
MAX_RESERVE = 100


@dataclass(frozen=True)
class Lending:
    """One site's lending now."""

    site: str
    off: bool = False                       # switched off by a supervisor
    reserve: dict[str, int] = field(default_factory=dict)  # "" = every skill; overrides
    lent_now: int = 0                       # its agents ringing or talking for others
    borrowed_now: int = 0                   # its calls with other sites' agents
    reserve_sl: int = 0                     # the auto reserve's service-level part now


class LendingBoard:
    def __init__(self, store: RedisStore, pooling: PoolingSettings):
        self.store = store
        self.pooling = pooling

    def keys(self, site: str) -> SiteKeys:
        return SiteKeys(site, self.pooling.pool_of(site))

    def read(self, site: str) -> Deferred[Lending]:
        keys = self.keys(site)

        async def read(client: Client) -> Lending:
            async with client.pipeline(transaction=False) as pipe:
                pipe.hgetall(keys.lending)
                pipe.scard(keys.lent)
                pipe.scard(keys.borrowed)
                pipe.hget(keys.rsl, "r")
                overrides, lent, borrowed, r_sl = await pipe.execute()
            raw = {text(k): text(v) for k, v in overrides.items()}
            reserve = {name.partition(PART)[2]: int(value) for name, value in raw.items()
                       if name == RESERVE or name.startswith(RESERVE + PART)}
            return Lending(site, raw.get(OFF) == "1", reserve, int(lent), int(borrowed),
                           int(text(r_sl)) if r_sl is not None else 0)

        return self.store.run(read)

    def switch(self, site: str, on: bool) -> Deferred[None]:
        """Lending on (the config's reserve again) or off (the site keeps every agent)."""
        key = self.keys(site).lending

        async def write(client: Client) -> None:
            if on:
                await client.hdel(key, OFF)
            else:
                await client.hset(key, OFF, "1")

        return self.store.run(write)

    def override_reserve(self, site: str, reserve: int | None,
                         skill: str = "") -> Deferred[None]:
        """Fix the site's reserve (for `skill`, or every skill); None: back to the config's."""
        if skill:
            checked_name(skill, "skill")
        if reserve is not None and not 0 <= reserve <= MAX_RESERVE:
            raise ValueError(f"reserve must be between 0 and {MAX_RESERVE}")
        key, name = self.keys(site).lending, RESERVE + (PART + skill if skill else "")

        async def write(client: Client) -> None:
            if reserve is None:
                await client.hdel(key, name)
            else:
                await client.hset(key, name, str(reserve))

        return self.store.run(write)
