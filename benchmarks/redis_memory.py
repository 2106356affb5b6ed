"""Redis memory over many finished calls: back where it started once their windows pass.

    python -m benchmarks.redis_memory                  # 10,000 calls, 60 s windows
    python -m benchmarks.redis_memory --calls 500 --keep 2

Why: Redis runs with `maxmemory-policy noeviction` (deploy/redis), so a key that never
expires is a slow leak that one day refuses the ACD's writes. Every key a call makes must
go once the call has ended and the windows that may still read it have passed
(`AcdSettings.ended_call_ttl_s`: abandon-resume, the ended call's keep).

The site is built by `acd.site.build_acd`, as `pln123 serve` builds it (distributor,
waiting room, surge admission, live figures), on a real redis-server and Twisted's asyncio
reactor; telephony is a stand-in the benchmark answers for. Calls come in waves of twice
as many callers as agents: agents ring, answer, talk and wrap up; every 10th caller
still queued hangs up (an abandon: the caller's place is kept for a redial), every other
one of them redials in the next wave (and takes the place back), every 25th caller hangs
up while the agent's phone rings. The windows are short and from the settings
(`abandon_resume_s` and `ended_call_keep_s`, `--keep`); expiry is Redis' own, in real
time: the benchmark waits for it, it does not delete anything.

The injected clock moves only milliseconds per call, so the whole run stays inside one
minute of it: the counters' time buckets (one hash per skill and minute, and per 15
minutes) are the same keys before and after, and what is left to compare is what the calls
themselves wrote. (Over a real day those buckets add a fixed number of keys per skill,
whatever the number of calls, each with its own TTL: acd/store/keys.py.)

Steps: a warm-up (the agents log in, 250 calls fill the audit stream to its bound,
`audit_maxlen` = 1,000, and expire), then the baseline (`INFO memory` used_memory,
`DBSIZE`, the keys by kind); the calls; the same at the end of the run; then the same once
every call's keys have expired (waited for, at most the windows plus 30 s).

Last line: `calls=N used_memory_delta_bytes=D dbsize_delta=K`.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from twisted.internet.defer import Deferred, gatherResults
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import Clock, deferLater

from acd.intake import QueueRequest
from acd.settings import AcdSettings, AgentSpec, PoolingSettings, QueueSettings
from acd.site import AcdSite, build_acd
from acd.store.keys import MINUTE_S, SiteKeys
from acd.store.redis import Client
from acd.telephony import Connection, RingOutcome
from benchmarks.on_redis import run_on_redis
from benchmarks.telephony import QuietCallers
from tools.simulation.engine import QuiescentStore

SITE = "palembang"
POOL = ("palembang", "lampung", "jambi")   # national pooling: the shipped config's shape
SKILL = "general"
T0 = 1_735_801_200.0     # on a minute boundary: the run stays inside this minute
AGENTS = 20
WARM_UP = 250
AUDIT_MAXLEN = 1_000     # the config's smallest bound: the warm-up fills it
TALK_S = 0.002           # injected seconds
WRAPUP_S = 0.001
ABANDON_EVERY = 10       # every 10th caller still queued hangs up
RING_GONE_EVERY = 25     # every 25th caller hangs up while the agent's phone rings
BOUND_BYTES = 1 << 20    # used_memory after, within this of the baseline


@dataclass
class Snapshot:
    used_memory: int
    dbsize: int
    kinds: Counter[str]

    def row(self, name: str) -> str:
        kinds = ", ".join(f"{kind} {n}" for kind, n in sorted(self.kinds.items()))
        return f"| {name} | {self.used_memory:,} | {self.dbsize:,} | {kinds} |"


@dataclass
class MemoryRun:
    calls: int
    keep_s: float
    ttl_s: float
    outcomes: Counter[str]
    baseline: Snapshot
    end: Snapshot
    after: Snapshot
    call_record_bytes: float        # MEMORY USAGE of a finished call's record, mean
    audit_entry_bytes: float        # the audit stream's MEMORY USAGE per entry
    audit_entries_per_call: float
    run_s: float
    waited_s: float

    @property
    def memory_delta(self) -> int:
        return self.after.used_memory - self.baseline.used_memory

    @property
    def dbsize_delta(self) -> int:
        return self.after.dbsize - self.baseline.dbsize

    @property
    def within_bound(self) -> bool:
        return abs(self.memory_delta) <= BOUND_BYTES and self.dbsize_delta == 0

    def lines(self) -> list[str]:
        outcomes = ", ".join(f"{name} {n:,}" for name, n in sorted(self.outcomes.items()))
        unbounded = self.calls * self.call_record_bytes
        return [
            f"redis memory at {SITE}: {self.calls:,} calls ({outcomes}), {AGENTS} agents, "
            f"windows {self.keep_s:g} s (an ended call's TTL {self.ttl_s:g} s); "
            f"run {self.run_s:.1f} s, expiry waited {self.waited_s:.1f} s",
            "| when | used_memory (bytes) | DBSIZE | keys by kind |", "|---|---|---|---|",
            self.baseline.row("baseline (after the warm-up)"),
            self.end.row("end of the run"),
            self.after.row("windows passed"),
            f"a finished call's record: {self.call_record_bytes:.0f} bytes (MEMORY USAGE); "
            f"without expiry these calls would have kept {unbounded / 1e6:.1f} MB",
            f"audit stream: {self.audit_entries_per_call:.1f} entries per call, "
            f"{self.audit_entry_bytes:.0f} bytes per entry (bounded by audit_maxlen)",
            f"used_memory after - baseline: {self.memory_delta:+,} bytes "
            f"(bound +-{BOUND_BYTES:,}); DBSIZE after - baseline: {self.dbsize_delta:+d}",
            f"calls={self.calls} used_memory_delta_bytes={self.memory_delta} "
            f"dbsize_delta={self.dbsize_delta}",
        ]


@dataclass
class ScriptedPhones(QuietCallers):
    """Agents answer and callers hang up when the benchmark says so."""

    rings: dict[str, Deferred[RingOutcome]] = field(default_factory=dict)
    ends: dict[str, list[Deferred[None]]] = field(default_factory=dict)

    def connect(self, connection: Connection) -> Deferred[RingOutcome]:
        d: Deferred[RingOutcome] = Deferred()
        self.rings[connection.call_id] = d
        return d

    def when_call_ends(self, call_id: str, caller_channel: str) -> Deferred[None]:
        d: Deferred[None] = Deferred()
        self.ends.setdefault(call_id, []).append(d)
        return d

    def ring(self, call_id: str, outcome: RingOutcome) -> None:
        self.rings.pop(call_id).callback(outcome)

    def hang_up(self, call_id: str) -> None:
        for d in self.ends.pop(call_id, []):
            d.callback(None)


def settings(keep_s: float) -> AcdSettings:
    agents = tuple(AgentSpec(str(10001 + i), f"Agent {i + 1}", SITE, f"PJSIP/{10001 + i}",
                             {SKILL: 5}) for i in range(AGENTS))
    return AcdSettings(
        audit_maxlen=AUDIT_MAXLEN, abandon_resume_s=keep_s, ended_call_keep_s=keep_s,
        queues={SKILL: QueueSettings(SKILL, wrapup_s=WRAPUP_S, max_wait_s=3600)},
        agents=agents, pooling=PoolingSettings(pools={"national": POOL}))


def kind_of(key: str, prefix: str) -> str:
    """`call`, `resume`, `m1`, `agent`, ...: the part of a site key after its prefix."""
    if not key.startswith(prefix):
        return key
    rest = key[len(prefix):]
    return rest.split(":", 1)[0]


class Driver:
    """Call lives through the site's production objects, a wave at a time."""

    def __init__(self, site: AcdSite, store: QuiescentStore, phones: ScriptedPhones,
                 clock: Clock):
        self.site, self.store, self.phones, self.clock = site, store, phones, clock
        self.n = 0
        self.outcomes: Counter[str] = Counter()
        self.talking: list[str] = []
        self.queued: set[str] = set()
        self.redial: list[str] = []     # numbers of callers who hung up while queued

    async def quiet(self) -> None:
        for _ in range(2):   # a reply may start more work (a ring, a wrap-up's next call)
            await self.store.quiet()
            await self.site.settle()

    def request(self, number: str | None = None) -> QueueRequest:
        self.n += 1
        return QueueRequest(
            call_id=f"mem{self.n:07}", site=SITE, channel=f"PJSIP/trunk-{self.n:07}",
            skill=SKILL, priority=5, language="id", area_code="0711", region="sumsel",
            caller_number=number or f"0812{self.n:08}", idpel=None,
            entered_at=self.clock.seconds())

    async def calls(self, count: int) -> None:
        """`count` calls, to their ends."""
        left = count
        while left > 0:
            wave = [self.request(number) for number in self.redial[:left]]
            del self.redial[:len(wave)]
            wave += [self.request() for _ in range(min(2 * AGENTS, left) - len(wave))]
            left -= len(wave)
            placed = await gatherResults([self.site.distributor.enqueue(r) for r in wave])
            await self.quiet()
            for request, placement in zip(wave, placed, strict=True):
                if placement.position > 0:
                    self.queued.add(request.call_id)
            await self._hang_ups(wave)
            await self._serve()

    async def _hang_ups(self, wave: list[QueueRequest]) -> None:
        for request in wave:
            k = int(request.call_id[3:])
            if request.call_id in self.queued and k % ABANDON_EVERY == 0:
                self.queued.discard(request.call_id)
                self.outcomes["abandoned (queued)"] += 1
                if k % (2 * ABANDON_EVERY) == 0:
                    self.redial.append(request.caller_number)
                    self.outcomes["redials"] += 1
                self.phones.hang_up(request.call_id)
            elif request.call_id in self.phones.rings and k % RING_GONE_EVERY == 0:
                self.outcomes["abandoned (ringing)"] += 1
                self.phones.ring(request.call_id, RingOutcome.CALLER_GONE)
                self.phones.hang_up(request.call_id)
        await self.quiet()

    async def _serve(self) -> None:
        """Answer, talk, wrap up, until no call rings or waits."""
        while self.phones.rings or self.talking:
            for call_id in list(self.phones.rings):
                self.queued.discard(call_id)
                self.phones.ring(call_id, RingOutcome.ANSWERED)
                self.talking.append(call_id)
            await self.quiet()
            self.clock.advance(TALK_S)
            for call_id in self.talking:
                self.phones.hang_up(call_id)
            self.outcomes["finished"] += len(self.talking)
            self.talking = []
            await self.quiet()
            self.clock.advance(2 * WRAPUP_S)   # the agents take the next waiting calls
            await self.quiet()
        if self.queued:
            raise RuntimeError(f"{len(self.queued)} calls still queued with no ring")


async def snapshot(store: QuiescentStore, keys: SiteKeys) -> Snapshot:
    async def read(client: Client) -> Snapshot:
        info: dict[str, Any] = await client.info("memory")
        size = int(await client.dbsize())
        kinds: Counter[str] = Counter()
        async for key in client.scan_iter(count=1000):
            kinds[kind_of(key.decode() if isinstance(key, bytes) else str(key),
                          keys.prefix)] += 1
        return Snapshot(int(info["used_memory"]), size, kinds)

    return await store.run(read)


async def wait_for_expiry(store: QuiescentStore, keys: SiteKeys, dbsize: int,
                          timeout_s: float) -> float:
    """Real seconds until the call keys are gone and DBSIZE is back to `dbsize` (Redis
    expires keys itself, a sample at a time, ten times a second)."""
    from twisted.internet import reactor

    started = time.monotonic()
    while True:
        now = await snapshot(store, keys)
        if now.dbsize <= dbsize and not now.kinds["call"] and not now.kinds["resume"]:
            return time.monotonic() - started
        if time.monotonic() - started > timeout_s:
            raise RuntimeError(f"keys left after {timeout_s:g} s: {dict(now.kinds)}")
        await deferLater(cast(IReactorTime, reactor), 0.25)


async def run_redis_memory(url: str, *, calls: int = 10_000, keep_s: float = 60.0
                           ) -> MemoryRun:
    """`calls` call lives after a warm-up against the Redis at `url` (flushed first)."""
    if calls < 1 or keep_s < 1:
        raise ValueError("calls must be positive and the windows at least 1 s")
    clock = Clock()
    clock.advance(T0)
    config = settings(keep_s)
    store = QuiescentStore(url)
    await store.start()
    await store.run(lambda client: client.flushall())
    phones = ScriptedPhones()
    site = build_acd(SITE, config, (SKILL,), store, phones, clock)
    keys = site.queues.keys
    driver = Driver(site, store, phones, clock)
    ttl_s = config.ended_call_ttl_s()
    try:
        for agent in config.agents:
            await site.distributor.login(agent.id)
        await driver.calls(WARM_UP)
        await wait_for_expiry(store, keys, 1 << 62, ttl_s + 30)   # the warm-up's calls
        baseline = await snapshot(store, keys)
        audit_before = await store.run(lambda client: client.xinfo_stream(keys.audit))
        driver.outcomes.clear()
        started = time.monotonic()
        await driver.calls(calls)
        run_s = time.monotonic() - started
        end = await snapshot(store, keys)
        audit_after = await store.run(lambda client: client.xinfo_stream(keys.audit))
        record_bytes, audit_bytes = await store.run(
            lambda client: _sizes(client, keys, driver.n))
        if clock.seconds() >= T0 + MINUTE_S:
            raise RuntimeError("the run left the injected clock's first minute")
        waited_s = await wait_for_expiry(store, keys, baseline.dbsize, ttl_s + 30)
        after = await snapshot(store, keys)
        entries = _added(audit_before, audit_after)
        return MemoryRun(calls, keep_s, ttl_s, driver.outcomes, baseline, end, after,
                         record_bytes, audit_bytes, entries / calls, run_s, waited_s)
    finally:
        await site.quiesce()
        await store.close()


def _added(before: dict[str, Any], after: dict[str, Any]) -> int:
    """Entries added to the stream between two XINFO STREAMs (`entries-added`, Redis 7)."""
    return int(after["entries-added"]) - int(before["entries-added"])


async def _sizes(client: Client, keys: SiteKeys, last: int) -> tuple[float, float]:
    """A finished call's record (the last 50 calls still alive, mean) and an audit entry."""
    sizes = []
    for n in range(max(1, last - 49), last + 1):
        used = await client.memory_usage(keys.call(f"mem{n:07}"))
        if used:
            sizes.append(int(used))
    audit = int(await client.memory_usage(keys.audit, samples=0) or 0)
    length = int(await client.xlen(keys.audit))
    return (sum(sizes) / max(1, len(sizes)), audit / max(1, length))


# -- running it on its own -------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=10_000, help="calls to run (10,000)")
    parser.add_argument("--keep", type=float, default=60.0,
                        help="abandon_resume_s and ended_call_keep_s, seconds (60)")
    parser.add_argument("--redis-url", help="use this (flushed!) Redis instead of starting one")
    args = parser.parse_args(argv)
    run = run_on_redis(args.redis_url, "acd-memory-", lambda url: run_redis_memory(
        url, calls=args.calls, keep_s=args.keep))
    for line in run.lines():
        print(line)
    return 0 if run.within_bound else 1


if __name__ == "__main__":
    sys.exit(main())
