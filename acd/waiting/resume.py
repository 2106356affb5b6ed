"""Abandon-resume: a caller who hangs up while queued and redials soon gets their place back.

Why in Redis and per site: the redial may reach another pln123 process of the same site
(or the same process after a restart), so the place is kept where every process sees it,
under the site's hash tag (`SiteKeys.resume`, acd/store/keys.py), and expires by itself
after `abandon_resume_s`: a string "<priority> <enqueued_at> <until> <call_id>".

The key holds the caller number's digits only (so "+62 711-555" and "62711555" match) and
the skill: a place in the billing queue means nothing in the outage queue, so a redial for
another skill starts afresh and leaves the entry for a later redial. `claim` is GETDEL:
two redials racing on two processes cannot both take the place. Withheld or empty numbers
(no digits) are never remembered.

`<until>` is the end of the window on the injected clock (time is injected:
the simulator runs a day in seconds), checked on claim; the key's TTL, on Redis's clock,
only bounds how long the entry takes up memory.

The resumed call is a new call (offered and counted again); only its place in line, i.e.
enqueue time and priority, comes from the abandoned one, which stays counted abandoned.
"""

from __future__ import annotations

from dataclasses import dataclass

from twisted.internet.defer import Deferred, succeed

from acd.queues.records import CallRecord
from acd.store.keys import SiteKeys
from acd.store.redis import Client, RedisStore, text


def caller_digits(number: str) -> str:
    """The digits of a caller number; "" for a withheld or empty one (never resumed)."""
    return "".join(c for c in number if c.isascii() and c.isdigit())[:32]


@dataclass(frozen=True)
class Place:
    """Where an abandoned call stood in line."""

    call_id: str
    priority: int
    enqueued_at: float


class ResumeStore:
    """Remembers abandoned calls' places by caller number for `window_s`; hands each out once."""

    def __init__(self, store: RedisStore, site: str, window_s: float):
        self.store = store
        self.keys = SiteKeys(site)
        self.window_s = window_s

    def key(self, skill: str, number: str) -> str:
        return self.keys.resume(skill, caller_digits(number))

    def remember(self, call: CallRecord, now: float) -> Deferred[bool]:
        """Keep the abandoned call's place; False if its number cannot be resumed."""
        number = call.fields.get("caller_number", "")
        enqueued_at = call.fields.get("enqueued_at", "")
        if not caller_digits(number) or not enqueued_at or self.window_s <= 0:
            return succeed(False)
        key = self.key(call.skill, number)
        until = now + self.window_s
        value = f"{call.priority} {float(enqueued_at):.3f} {until:.3f} {call.call_id}"
        window_ms = max(1, round(self.window_s * 1000))

        async def write(client: Client) -> bool:
            await client.set(key, value, px=window_ms)
            return True

        return self.store.run(write)

    def claim(self, skill: str, number: str, now: float) -> Deferred[Place | None]:
        """The place a redial from `number` for `skill` takes back (consumed), if any."""
        if not caller_digits(number):
            return succeed(None)
        key = self.key(skill, number)

        async def take(client: Client) -> Place | None:
            raw = await client.getdel(key)
            if raw is None:
                return None
            priority, enqueued_at, until, call_id = text(raw).split(" ", 3)
            if now > float(until):
                return None
            return Place(call_id, int(priority), float(enqueued_at))

        return self.store.run(take)
