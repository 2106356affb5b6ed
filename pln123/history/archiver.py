"""The archiver: every site's audit stream into the history, through a consumer group.

Why a consumer group: the group remembers, in Redis, which entries were delivered and
which acknowledged, so an archiver that stops (crash, SIGKILL, upgrade) resumes where it
was, and entries written meanwhile wait for it. Each entry is acknowledged only once its
batch is committed (pln123/history/writer.py makes a redelivery harmless), so nothing is
lost and nothing counted twice. At start the archiver first reads its own pending entries
(delivered before a crash, never acknowledged), and takes over those another archiver
left pending for CLAIM_IDLE_MS (one that died under another name).

When Redis restarts it keeps its streams and groups (AOF, as production runs it) and the
archiver reconnects; when it comes back empty (no persistence), the group is created
again from the start of whatever the streams hold (NOGROUP).

The streams of one pool share a hash tag, so one XREADGROUP reads all of them, on
Cluster too. SQL runs in a thread (deferToThread); Redis on the reactor.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from redis.exceptions import ResponseError
from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import deferLater
from twisted.internet.threads import deferToThread

from acd.store.keys import SiteKeys
from acd.store.redis import Client, RedisStore, text
from pln123.history import BATCH, GROUP
from pln123.history.rows import Event, parse_entry
from pln123.history.writer import HistoryWriter, Written

log = structlog.get_logger("pln123.history")

BLOCK_MS = 1000        # a read waits this long for new entries (stop returns within it)
RETRY_S = 2.0          # after Redis or the database failed
CLAIM_IDLE_MS = 60_000  # another consumer's pending entry this idle is taken over

# (site, entry id, fields or None: an entry trimmed from the stream before it was read)
Entry = tuple[str, str, dict[str, str] | None]


@dataclass(frozen=True)
class Stream:
    site: str
    pool: str
    key: str


def streams_of(sites: Mapping[str, str]) -> list[Stream]:
    """The audit streams of `sites` (site -> pool)."""
    return [Stream(site, pool, SiteKeys(site, pool).audit) for site, pool in sites.items()]


class Archiver:
    def __init__(self, store: RedisStore, writer: HistoryWriter, streams: Sequence[Stream],
                 clock: IReactorTime, *, consumer: str, group: str = GROUP,
                 batch: int = BATCH,
                 block_ms: int = BLOCK_MS, retry_s: float = RETRY_S,
                 write: Callable[[list[Event]], Deferred[Written]] | None = None):
        self.store = store
        self.writer = writer
        self.clock = clock
        self.consumer = consumer
        self.group = group
        self.batch = batch
        self.retry_s = retry_s
        self.pools: dict[str, list[Stream]] = {}
        for stream in streams:
            self.pools.setdefault(stream.pool, []).append(stream)
        self.site_of = {stream.key: stream.site for stream in streams}
        self.block_ms = max(1, block_ms // max(1, len(self.pools)))
        # how a batch reaches the database: in a thread by default (tests may run it inline)
        self._write = write or self._in_thread
        self.stored = 0
        self.skipped = 0
        self.trimmed = 0
        self._running = False
        self._done: Deferred[None] | None = None

    def _in_thread(self, events: list[Event]) -> Deferred[Written]:
        return deferToThread(self.writer.write, events)

    def start(self) -> Deferred[None]:
        """Runs until `stop`; the Deferred fires when the loop has ended."""
        self._running = True
        self._done = Deferred.fromCoroutine(self._loop())
        return self._done

    def stop(self) -> Deferred[None]:
        """Stops after the current read and write (the write is committed and acked)."""
        self._running = False
        return self._done if self._done is not None else succeed(None)

    async def _loop(self) -> None:
        pending = True
        prepared = False
        while self._running:
            try:
                if not prepared:
                    await self._prepare()
                    prepared, pending = True, True
                entries = await self._read(pending)
                if not entries:
                    pending = False
                    continue
                await self._archive(entries)
            except ResponseError as error:
                if "NOGROUP" in str(error):
                    log.warning("history_group_missing", error=str(error))
                    prepared = False
                    continue
                log.warning("history_redis_failed", error=str(error))
                await self._pause()
                pending = True
            except Exception as error:  # noqa: BLE001 - Redis or SQL down: retry, keep going
                log.warning("history_archive_failed", error=str(error))
                await self._pause()
                pending = True

    async def _pause(self) -> None:
        if self._running:
            await deferLater(self.clock, self.retry_s, lambda: None)

    async def _prepare(self) -> None:
        """Each stream's group (created at the stream's start: nothing there is skipped),
        and the entries dead consumers left pending, claimed."""
        async def prepare(client: Client) -> None:
            for streams in self.pools.values():
                for stream in streams:
                    try:
                        await client.xgroup_create(stream.key, self.group, id="0", mkstream=True)
                    except ResponseError as error:
                        if "BUSYGROUP" not in str(error):
                            raise
                    start = "0-0"
                    while True:
                        reply: Any = await client.xautoclaim(
                            stream.key, self.group, self.consumer, CLAIM_IDLE_MS, start,
                            count=self.batch)   # (justid would drop the cursor)
                        start = text(reply[0])
                        if start == "0-0":
                            break

        await self.store.run(prepare)

    async def _read(self, pending: bool) -> list[Entry]:
        """Up to `batch` entries of each pool: this consumer's pending ones first (from
        "0"), then new ones (">", blocking)."""
        async def read(client: Client) -> list[Entry]:
            out: list[Entry] = []
            for streams in self.pools.values():
                ids: dict[Any, Any] = {stream.key: ("0" if pending else ">")
                                       for stream in streams}
                reply: Any = await client.xreadgroup(
                    self.group, self.consumer, ids, count=self.batch,
                    block=None if pending else self.block_ms)
                for key, found in reply or []:
                    site = self.site_of[text(key)]
                    for entry_id, raw in found:
                        fields = None if raw is None else {
                            text(k): text(v) for k, v in raw.items()}
                        out.append((site, text(entry_id), fields))
            return out

        return await self.store.run(read)

    async def _archive(self, entries: list[Entry]) -> None:
        events: list[Event] = []
        for site, entry_id, fields in entries:
            if fields is None:
                self.trimmed += 1
                log.warning("history_entry_trimmed", site=site, entry_id=entry_id)
                continue
            events.append(parse_entry(site, entry_id, fields))
        if events:
            written = await self._write(events)
            self.stored += written.stored
            self.skipped += written.skipped
        await self._ack(entries)

    async def _ack(self, entries: list[Entry]) -> None:
        by_key: dict[str, list[str]] = {}
        keys = {stream.site: stream.key for streams in self.pools.values() for stream in streams}
        for site, entry_id, _fields in entries:
            by_key.setdefault(keys[site], []).append(entry_id)

        async def ack(client: Client) -> None:
            for key, ids in by_key.items():
                await client.xack(key, self.group, *ids)

        await self.store.run(ack)
