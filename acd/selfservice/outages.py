"""The known-outage board in Redis: what callers from an affected area hear before the menu.

Layout (national, not per site: a notice is about area codes, whichever site answers;
`OutageKeys` in acd/store/keys.py):

    <prefix>:{outages}:seq     INCR counter; outage ids are "o-<n>"
    <prefix>:{outages}:board   hash: outage id -> JSON {areas, message, restore_at,
                               created_at, created_by, v}

Why one hash and no per-area index: few outages exist at once (tens in a storm, not
thousands), and `outages_for` runs for every caller in a surge. HGETALL of one small hash is
one round trip that sees a consistent board, and posting or clearing touches one key, so an
index can never disagree with the notices. Per-area sets would need a second round trip (or
a script) per caller to fetch the notices they point at. If boards ever grow past a few
hundred entries, an area index is the change to make here, behind the same interface.

The `{outages}` hash tag keeps both keys in one Cluster slot, so posting (INCR + HSET in one
script, acd/selfservice/lua/post_outage.lua) stays atomic on every topology.

Callers share reads: the IVR's board (`reuse_s`, `CALLER_READ_REUSE_S` in production) answers
every caller within a second of one HGETALL from that read, and callers arriving while it
is on the wire wait for it rather than send their own. At a surge's hundreds of callers a
second that is one round trip a second instead of one per caller; the price is that a
notice posted from another process reaches callers up to a second later. A notice posted or
cleared through the same board is seen by the next caller.

A notice is shown until it is cleared: `restore_at` is the estimate supervisors gave, not an
expiry. A crew that is late does not make the outage go away, and silently dropping the
notice would send the whole surge to the agents. Whether to read out an estimate that has
passed is the IVR's choice; the board only reports it.
"""

from __future__ import annotations

import json
from typing import Any

import structlog
from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.interfaces import IReactorTime
from twisted.python.failure import Failure

from acd.selfservice import validation
from acd.selfservice.models import Outage
from acd.store.clock import timestamp
from acd.store.keys import SELF_SERVICE_PREFIX, OutageKeys
from acd.store.lua import source
from acd.store.redis import Client, RedisStore, text

log = structlog.get_logger("acd.selfservice.outages")

FORMAT_VERSION = 1

# How long the IVR's callers share one read of the board (the module's docstring).
CALLER_READ_REUSE_S = 1.0

_POST_SCRIPT = source("acd.selfservice", "post_outage.lua")


class RedisOutageBoard:
    """`OutageBoard` over Redis; times come from `clock`, never the wall clock."""

    def __init__(self, store: RedisStore, clock: IReactorTime, *,
                 prefix: str = SELF_SERVICE_PREFIX, reuse_s: float = 0.0):
        self.store = store
        self.clock = clock
        self.keys = OutageKeys(prefix)
        self.reuse_s = reuse_s
        self._kept: tuple[float, list[Outage]] | None = None   # (read at, board)
        self._waiting: list[Deferred[list[Outage]]] | None = None  # a read on the wire

    def post(
        self,
        area_codes: tuple[str, ...],
        message: str,
        restore_at: float | None,
        created_by: str = "cli",
    ) -> Deferred[Outage]:
        """Add a notice; ValueError (as a failed Deferred) for invalid input.

        `restore_at`, when given, must not be in the past by the board's clock.
        """
        now = timestamp(self.clock)
        try:
            codes = validation.area_codes(area_codes)
            text = validation.message(message)
            author = validation.created_by(created_by)
            restore = None
            if restore_at is not None:
                restore = round(validation.epoch_seconds(restore_at, "restore_at"), 3)
                if restore < now:
                    raise ValueError("restore_at is in the past")
        except ValueError as error:
            return fail(error)
        body = json.dumps(
            {"v": FORMAT_VERSION, "areas": list(codes), "message": text,
             "restore_at": restore, "created_at": now, "created_by": author},
            ensure_ascii=False,
        )

        async def post(client: Client) -> Outage:
            script = client.register_script(_POST_SCRIPT)
            outage_id = str(await script(keys=[self.keys.seq, self.keys.board], args=[body]))
            self._forget()
            log.info("outage_posted", outage_id=outage_id, area_codes=list(codes),
                     restore_at=restore, created_by=author)
            return Outage(outage_id, codes, text, restore, now, author)

        return self.store.run(post)

    def outages_for(self, area_code: str) -> Deferred[list[Outage]]:
        """The notices covering `area_code`, oldest first; one round trip."""
        try:
            code = validation.area_code(area_code)
        except ValueError as error:
            return fail(error)
        d = self.all()
        d.addCallback(lambda outages: [o for o in outages if code in o.area_codes])
        return d

    def all(self) -> Deferred[list[Outage]]:
        """Every notice on the board, oldest first (shared within `reuse_s`)."""
        if self.reuse_s <= 0:
            return self.store.run(self._read)
        now = self.clock.seconds()
        if self._kept is not None and 0 <= now - self._kept[0] < self.reuse_s:
            return succeed(list(self._kept[1]))
        waiter: Deferred[list[Outage]] = Deferred()
        if self._waiting is not None:
            self._waiting.append(waiter)
            return waiter
        self._waiting = waiting = [waiter]

        def read(outages: list[Outage]) -> None:
            if self._waiting is waiting:   # not forgotten by a post or clear meanwhile
                self._kept = (now, outages)
                self._waiting = None
            for each in waiting:
                each.callback(list(outages))

        def failed(failure: Failure) -> None:
            if self._waiting is waiting:
                self._waiting = None
            for each in waiting:
                each.errback(failure)

        self.store.run(self._read).addCallbacks(read, failed)
        return waiter

    async def _read(self, client: Client) -> list[Outage]:
        entries = await client.hgetall(self.keys.board)
        outages = [o for key, raw in entries.items() if (o := _decode(text(key), text(raw)))]
        return sorted(outages, key=lambda o: (o.created_at, _sequence(o.id)))

    def _forget(self) -> None:
        """The board changed here: the next caller reads it afresh."""
        self._kept = None
        self._waiting = None

    def clear(self, outage_id: str) -> Deferred[bool]:
        """Remove a notice; False when there was none with that id."""

        async def clear(client: Client) -> bool:
            removed = int(await client.hdel(self.keys.board, outage_id)) == 1
            self._forget()
            if removed:
                log.info("outage_cleared", outage_id=outage_id)
            return removed

        return self.store.run(clear)


def _sequence(outage_id: str) -> int:
    _, _, number = outage_id.partition("-")
    return int(number) if number.isdigit() else 0


def _decode(outage_id: str, raw: str) -> Outage | None:
    """One board entry, or None (logged) if it is not one we wrote.

    A malformed entry (a hand edit, a future format) must not take the notices of every
    other area down with it in the middle of a surge.
    """
    try:
        data: dict[str, Any] = json.loads(raw)
        restore = data.get("restore_at")
        return Outage(
            id=outage_id,
            area_codes=tuple(str(code) for code in data["areas"]),
            message=str(data["message"]),
            restore_at=None if restore is None else float(restore),
            created_at=float(data["created_at"]),
            created_by=str(data.get("created_by", "")),
        )
    except (ValueError, TypeError, KeyError, AttributeError) as error:
        log.error("outage_entry_unreadable", outage_id=outage_id, error=str(error))
        return None
