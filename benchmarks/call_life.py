"""Redis round trips and commands per call, over one call's whole life at one site.

    python -m benchmarks.call_life                   # 50 calls after one warm-up call
    python -m benchmarks.call_life --calls 200 --wait 45

Why: every round trip is a wait on the network (a site's Redis may sit in another rack)
and a wakeup of the event loop, so their number per call bounds how many calls one
process carries. Decisions are Lua scripts batched per turn of the loop (ScriptRunner);
this counts what a call costs when nothing shares a batch with it: one caller at a time.

The site is built by `acd.site.build_acd`, the function `pln123 serve` uses: the
Distributor, the WaitingRoom (announcements with position and EWT), surge admission on
the pool's statuses, the live figures, all on a real redis-server and Twisted's asyncio
reactor. Telephony is a stand-in the benchmark answers for (no Redis in it). Time is a
`Clock` the benchmark advances, so the announcements and the wrap-up end come when they
would. Round trips and commands are counted by the store's connections
(`RedisStore.traffic`, acd/store/traffic.py): a pipeline or a batch of scripts is one
round trip.

One agent, one call at a time, each call's life in steps (counted between points where no
Redis command is in flight):

1. **arrival**: the IVR hands the call over (`Distributor.enqueue`: offer_call, queued:
   the agent is in wrap-up after the previous call) and the waiting room's first tick
   (position from the offer's reply, the skill's live figures, the pool's statuses for
   surge admission), then the first announcement.
2. **announcement** (`--wait` / announce_every_s of them, default 1): the room re-reads
   the call's position and the live figures, announces again.
3. **agent ready**: the previous call's wrap-up ends (wrapup_done), the agent takes this
   call (the same script reserves it) and the Distributor rings them.
4. **answer**: the agent answers (answer: the call and the agent on call).
5. **end**: the caller hangs up after talking (call_end: wrap-up starts, the wrap-up end
   is armed on the clock; the room and the abandon watch let the call go).

Periodic work that is not per call (the site's status published every second, the pool
keeper every minute, the agent command and ring request streams) is not started.
Calls arrive further apart than the live figures and the pool statuses are shared
(1 s), so each call pays for its own reads: a busy site shares them between callers.

Last line: `round_trips_per_call=N commands_per_call=M`.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from twisted.internet.defer import Deferred, succeed
from twisted.internet.task import Clock

from acd.agents.state import AgentStatus
from acd.intake import QueueRequest
from acd.queues.scripts import ScriptRunner
from acd.settings import AcdSettings, AgentSpec, PoolingSettings, QueueSettings
from acd.site import build_acd
from acd.store.keys import SiteKeys
from acd.telephony import Connection, RingOutcome
from benchmarks.on_redis import run_on_redis
from benchmarks.telephony import QuietCallers
from tools.simulation.engine import QuiescentStore

SITE = "palembang"
POOL = ("palembang", "lampung", "jambi")   # national pooling: the shipped config's shape
SKILL = "general"
AGENT = "10001"
T0 = 1_735_801_200.0
STEPS = ("arrival", "announcement", "agent ready", "answer", "end")
WHAT = {
    "arrival": "offer_call (queued); first tick: live figures, pool statuses",
    "announcement": "the call's position, live figures",
    "agent ready": "wrapup_done (+ reserves the call)",
    "answer": "answer",
    "end": "call_end (wrap-up)",
}


@dataclass
class Step:
    """One step of the call's life, summed over the measured calls."""

    round_trips: int = 0
    commands: int = 0
    times: int = 0
    redis: Counter[str] = field(default_factory=Counter)       # command names sent
    operations: Counter[str] = field(default_factory=Counter)  # Lua operations run


@dataclass
class CallLife:
    calls: int
    wait_s: float
    announce_every_s: float
    steps: dict[str, Step]

    @property
    def round_trips(self) -> int:
        return sum(s.round_trips for s in self.steps.values())

    @property
    def commands(self) -> int:
        return sum(s.commands for s in self.steps.values())

    def per_call(self, value: int) -> float:
        return value / max(1, self.calls)

    def table(self) -> list[str]:
        """The per-step breakdown, per call (Markdown, as in docs/benchmarks.md)."""
        rows = ["| step | round trips | commands | what |", "|---|---|---|---|"]
        for name, step in self.steps.items():
            ops = ", ".join(f"{op}" + (f" x{n / self.calls:g}" if n != self.calls else "")
                            for op, n in sorted(step.operations.items()))
            sent = ", ".join(f"{cmd}" + (f" x{n / self.calls:g}" if n != self.calls else "")
                             for cmd, n in sorted(step.redis.items()))
            rows.append(f"| {name} | {self.per_call(step.round_trips):g} | "
                        f"{self.per_call(step.commands):g} | {WHAT[name]}: {sent}"
                        + (f" [{ops}]" if ops else "") + " |")
        rows.append(f"| **call** | **{self.per_call(self.round_trips):g}** | "
                    f"**{self.per_call(self.commands):g}** | |")
        return rows

    def summary(self) -> str:
        return (f"round_trips_per_call={self.per_call(self.round_trips):g} "
                f"commands_per_call={self.per_call(self.commands):g}")

    def lines(self) -> list[str]:
        return [f"call life at {SITE}: {self.calls} calls one at a time, each waiting "
                f"{self.wait_s:g} s (announcements every {self.announce_every_s:g} s), "
                "then answered, talking, wrap-up", *self.table(), self.summary()]


class TracingRunner(ScriptRunner):
    """The production runner, noting which Lua operations each step asked for."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.operations: Counter[str] = Counter()

    def call(self, operation: str, packed: str) -> Deferred[Any]:
        self.operations[operation] += 1
        return super().call(operation, packed)


@dataclass
class ScriptedTelephony(QuietCallers):
    """The agent answers and the caller hangs up when the benchmark says so."""

    rings: list[Deferred[RingOutcome]] = field(default_factory=list)
    ends: dict[str, list[Deferred[None]]] = field(default_factory=dict)
    announcements: int = 0

    def connect(self, connection: Connection) -> Deferred[RingOutcome]:
        d: Deferred[RingOutcome] = Deferred()
        self.rings.append(d)
        return d

    def when_call_ends(self, call_id: str, caller_channel: str) -> Deferred[None]:
        d: Deferred[None] = Deferred()
        self.ends.setdefault(call_id, []).append(d)
        return d

    def announce(self, caller_channel: str, position: int, ewt_s: float | None,
                 language: str) -> Deferred[None]:
        self.announcements += 1
        return succeed(None)

    def answer(self) -> None:
        ring = self.rings.pop()
        assert not self.rings, "more than one ring"
        ring.callback(RingOutcome.ANSWERED)

    def hang_up(self, call_id: str) -> None:
        for d in self.ends.pop(call_id):
            d.callback(None)


def settings(wait_s: float, announce_every_s: float) -> AcdSettings:
    """One agent of one skill; wrap-up long enough for the call to wait `wait_s`."""
    return AcdSettings(
        announce_every_s=announce_every_s, audit_maxlen=10_000,
        queues={SKILL: QueueSettings(SKILL, wrapup_s=wait_s, max_wait_s=3600)},
        agents=(AgentSpec(AGENT, "Agent", SITE, "PJSIP/10001", {SKILL: 5}),),
        pooling=PoolingSettings(pools={"national": POOL}))


async def run_call_life(url: str, *, calls: int = 50, wait_s: float = 45.0,
                        announce_every_s: float = 30.0, talk_s: float = 180.0) -> CallLife:
    """`calls` call lives (after one unmeasured warm-up call) against the Redis at `url`,
    which it flushes first."""
    if calls < 1 or wait_s <= 0 or announce_every_s <= 0:
        raise ValueError("calls, wait_s and announce_every_s must be positive")
    clock = Clock()
    clock.advance(T0)
    config = settings(wait_s, announce_every_s)
    store = QuiescentStore(url)
    await store.start()
    await store.run(lambda client: client.flushall())
    phone = ScriptedTelephony()
    runner = TracingRunner(store, SiteKeys(SITE, "national").live)
    site = build_acd(SITE, config, (SKILL,), store, phone, clock, runner=runner)
    traffic = store.traffic
    traffic.trace = []
    steps = {name: Step() for name in STEPS}
    n = 0

    async def quiet() -> None:
        await store.quiet()
        await site.settle()   # the room's ticks; the distributor is idle after quiet()

    def request() -> QueueRequest:
        nonlocal n
        n += 1
        return QueueRequest(
            call_id=f"life{n:06}", site=SITE, channel=f"PJSIP/trunk-{n:06}", skill=SKILL,
            priority=5, language="id", area_code="0711", region="sumsel",
            caller_number=f"0812{n:08}", idpel=None, entered_at=clock.seconds())

    async def step(name: str | bool, action: Any) -> Any:
        """Run `action`, wait until Redis is idle, add what it sent to step `name`
        (False: not counted)."""
        before = traffic.snapshot()
        traffic.trace = []
        runner.operations.clear()
        result = action()
        if isinstance(result, Deferred):
            result = await result
        await quiet()
        if name:
            s = steps[str(name)]
            s.round_trips += traffic.round_trips - before[0]
            s.commands += traffic.commands - before[1]
            s.times += 1
            for names in traffic.trace:
                s.redis.update(names)
            s.operations.update(runner.operations)
        return result

    async def agent_status() -> AgentStatus:
        record = await site.queues.agent(AGENT)
        return record.state.status

    try:
        await site.distributor.login(AGENT)
        # warm-up: connections made, script loaded; the agent ends in wrap-up
        placement = await site.distributor.enqueue(request())
        await quiet()
        assert placement.position == 0
        phone.answer()
        await quiet()
        clock.advance(talk_s)
        phone.hang_up(placement.call_id)
        await quiet()
        assert await agent_status() is AgentStatus.WRAP_UP
        ticks = int((wait_s - 1e-9) // announce_every_s)
        for k in range(calls + 1):   # the first: every connection the steps use is made
            counted = k > 0
            placement = await step(counted and "arrival",
                                   lambda: site.distributor.enqueue(request()))
            assert placement.position == 1, placement
            waited = 0.0
            for _ in range(ticks):
                await step(counted and "announcement", lambda: clock.advance(announce_every_s))
                waited += announce_every_s
            await step(counted and "agent ready", partial(clock.advance, wait_s - waited))
            assert len(phone.rings) == 1, "the agent was not rung"
            await step(counted and "answer", phone.answer)
            clock.advance(talk_s)
            await step(counted and "end", partial(phone.hang_up, placement.call_id))
        assert await agent_status() is AgentStatus.WRAP_UP
        return CallLife(calls, wait_s, announce_every_s,
                        {k: v for k, v in steps.items() if v.times})
    finally:
        traffic.trace = None
        await site.quiesce()
        await store.close()


# -- running it on its own -------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=50,
                        help="call lives to count, one at a time (50)")
    parser.add_argument("--wait", type=float, default=45.0,
                        help="seconds each call waits for the agent (45)")
    parser.add_argument("--announce-every", type=float, default=30.0,
                        help="announcement interval, seconds (30, as shipped)")
    parser.add_argument("--redis-url", help="use this (flushed!) Redis instead of starting one")
    args = parser.parse_args(argv)
    life = run_on_redis(args.redis_url, "acd-life-", lambda url: run_call_life(
        url, calls=args.calls, wait_s=args.wait, announce_every_s=args.announce_every))
    for line in life.lines():
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
