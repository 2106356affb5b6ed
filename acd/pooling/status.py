"""What each site can do right now, published in Redis for the others (and supervisors).

Every site's pln123 writes its `SiteStatus` as one JSON string under `status_key(site)`
(acd/store/keys.py) at least every `status_every_s`, with a TTL of `status_ttl_s`: a site
whose key has expired (its pln123 is down or cut off from Redis) is down for everybody
else, without anybody having to notice the failure. One key per site, no hash tag needed:
it is read with one pipelined GET per site, written with SET PX, and never used in a
script. Supervisors see it, and surge admission control judges the pool's expected wait
from the statuses of its sites.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from twisted.internet.defer import Deferred

from acd.store.keys import status_key
from acd.store.redis import Client, RedisStore, text


@dataclass(frozen=True)
class SkillStatus:
    staffed: int = 0        # agents logged in with the skill (any state but logged out)
    ready: int = 0
    on_call: int = 0        # reserved (ringing) or talking
    wrap_up: int = 0
    paused: int = 0
    waiting: int = 0        # calls queued for the skill
    ewt_s: float = math.inf  # for a new caller (position waiting + 1); inf: nobody serves
    longest_wait_s: float = 0.0
    per_call_s: float = math.inf  # what one more caller ahead adds to EWT (AHT / serving)

    def ewt_with(self, extra: int) -> float:
        """EWT for a new caller once `extra` more callers have joined the queue."""
        if extra <= 0:
            return self.ewt_s
        ahead = self.waiting + 1 + extra - self.ready
        return 0.0 if ahead <= 0 else ahead * self.per_call_s


@dataclass(frozen=True)
class SiteStatus:
    site: str
    published_at: float
    ami_up: bool
    skills: Mapping[str, SkillStatus] = field(default_factory=dict)
    pooled_in: int = 0      # this site's callers answered by other sites' agents (live window)
    pooled_out: int = 0     # other sites' callers this site's agents answered (live window)

    def skill(self, name: str) -> SkillStatus:
        return self.skills.get(name) or SkillStatus()

    def to_json(self) -> str:
        # The fields are plain values: a shallow copy of each is what `asdict` would give,
        # without its deep copies (every site writes its status every second).
        data: dict[str, Any] = dict(vars(self))
        skills = {}
        for name, figures in self.skills.items():
            values = dict(vars(figures))
            for key in ("ewt_s", "per_call_s"):
                if math.isinf(values[key]):
                    values[key] = None   # JSON has no infinity
            skills[name] = values
        data["skills"] = skills
        return json.dumps(data, separators=(",", ":"), sort_keys=True)

    @classmethod
    def from_json(cls, raw: str) -> SiteStatus:
        data: dict[str, Any] = json.loads(raw)
        skills = {}
        for name, values in data.get("skills", {}).items():
            for field_name in ("ewt_s", "per_call_s"):
                if values.get(field_name, None) is None:
                    values[field_name] = math.inf
            skills[name] = SkillStatus(**values)
        return cls(site=data["site"], published_at=float(data["published_at"]),
                   ami_up=bool(data["ami_up"]), skills=skills,
                   pooled_in=int(data.get("pooled_in", 0)),
                   pooled_out=int(data.get("pooled_out", 0)))


class StatusBoard:
    """Reads and writes the sites' statuses."""

    def __init__(self, store: RedisStore):
        self.store = store

    def publish(self, status: SiteStatus, ttl_s: float, alive_key: str) -> Deferred[None]:
        """The status, and the site's `alive` key in its pool's slot (what the matching
        script checks before an agent of another site takes one of this site's calls:
        only a running site can ring them), both living `ttl_s`."""
        key, value, ttl_ms = status_key(status.site), status.to_json(), int(ttl_s * 1000)

        async def write(client: Client) -> None:
            async with client.pipeline(transaction=False) as pipe:
                pipe.set(key, value, px=ttl_ms)
                pipe.set(alive_key, f"{status.published_at:.3f}", px=ttl_ms)
                await pipe.execute()

        return self.store.run(write)

    def withdraw(self, site: str, alive_key: str) -> Deferred[None]:
        """A site stopping on purpose: down for the others at once, not after the TTL."""
        async def delete(client: Client) -> None:
            async with client.pipeline(transaction=False) as pipe:
                pipe.delete(status_key(site))
                pipe.delete(alive_key)
                await pipe.execute()

        return self.store.run(delete)

    def read(self, sites: Iterable[str]) -> Deferred[dict[str, SiteStatus | None]]:
        """Each site's status, None for a site that is down (no live status)."""
        names = list(sites)

        async def read(client: Client) -> dict[str, SiteStatus | None]:
            if not names:
                return {}
            # One key per command: on Cluster the sites' keys are in different slots.
            async with client.pipeline(transaction=False) as pipe:
                for name in names:
                    pipe.get(status_key(name))
                raws = await pipe.execute()
            return {name: SiteStatus.from_json(text(raw)) if raw else None
                    for name, raw in zip(names, raws, strict=True)}

        return self.store.run(read)
