"""Property: whatever happens, in any order, across two matcher processes, the ACD never
gives an agent two calls, never gives a call two agents, and never loses a caller.

Hypothesis plays random interleavings of arrivals, hang-ups (queued, ringing, talking),
log-ins, log-outs, pauses, unpauses, ring timeouts, answers, call ends, accepted callbacks
(the caller hangs up and keeps the place; dialled back, maybe unanswered and retried) and
the passing of time (wrap-up ends, escalation, callback retries) against the session's
real redis-server, through TWO Distributors with their own RedisStore (own connections) on
the same Redis: two pln123 processes of one site. Some steps fire operations on both at
once, so their Lua scripts interleave in Redis. After every step (once both processes have
finished their Redis work) the whole of Redis is checked against the invariants and
against what telephony (the FakeTelephony both share) sees.

Hypothesis's rules are synchronous and pytest-twisted runs a sync test inside the reactor,
so the ACD objects live on an asyncio loop of their own in a helper thread (`LoopThread`):
every rule hands its operations to that loop and blocks until they are done. Nothing in
acd/ touches the reactor (time is the injected Clock), so this is the same code as in
production, only on another loop.

Speed: `PROFILES` below; CI (CI=true) runs more examples. The test needs no wall-clock
sleeps: the clock is virtual and every wait is on a Redis reply.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from twisted.internet.defer import Deferred, gatherResults

from tests.doubles.acd import SITE, agent, request, virtual_clock
from tests.doubles.acd import settings as acd_settings
from tests.doubles.telephony import FakeTelephony
from tests.fixtures.redis_server import RedisServer
from tests.fixtures.redis_topology import RedisTarget
from tests.harness.acd import Acd, start_acd
from tests.harness.loop import LoopThread, tolerate_illegal

pytestmark = pytest.mark.redis

PROFILES = {
    "dev": settings(max_examples=20, stateful_step_count=40, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow]),
    "ci": settings(max_examples=40, stateful_step_count=50, deadline=None,
                   suppress_health_check=[HealthCheck.too_slow]),
}
ROSTER = (agent("1001", billing=5), agent("1002", billing=9, outage=3),
          agent("1003", outage=7), agent("1004", billing=2, outage=2))
AGENTS = [a.id for a in ROSTER]
SKILLS = {a.id: set(a.skills) for a in ROSTER}
P = f"acd:{{{SITE}}}:{SITE}:"  # a site in no pool is a pool of its own
CALL_STATES = {"queued", "reserved", "connected", "called_back", "abandoned", "finished"}


def make_machine(server: RedisTarget, loop: LoopThread) -> type[RuleBasedStateMachine]:
    class AcdMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            server.flushall()
            self.clock = virtual_clock()
            self.phone = FakeTelephony()
            config = acd_settings(*ROSTER)
            self.acds: list[Acd] = [
                loop.call(lambda: Deferred.fromCoroutine(
                    start_acd(server.url, config, self.phone, self.clock)))
                for _ in range(2)]
            self.redis = server.client()
            self.callers: dict[str, str] = {}   # call id -> what the caller did last
            self.next_call = 0

        def teardown(self) -> None:
            for acd in self.acds:
                acd.distributor.stop()
                loop.call(acd.store.close)
            self.redis.close()

        # -- helpers ---------------------------------------------------------------------

        def run(self, *ops: Callable[[], Deferred[Any]]) -> None:
            """Start `ops` at once on the loop (their scripts interleave), wait, settle."""
            def start() -> Deferred[Any]:
                ds = [op().addErrback(tolerate_illegal) for op in ops]
                return gatherResults(ds, consumeErrors=True)

            loop.call(start)
            self.settle()

        def act(self, action: Callable[[], object]) -> None:
            """Telephony or the clock does something (on the loop); then settle."""
            loop.call(action)
            self.settle()

        def settle(self) -> None:
            while any(acd.distributor.busy for acd in self.acds):
                loop.call(lambda: gatherResults(
                    [acd.distributor.settle() for acd in self.acds]))

        def new_call(self, skill: str, priority: int, via: int) -> Callable[[], Deferred[Any]]:
            self.next_call += 1
            call_id = f"k{self.next_call:04}"
            self.callers[call_id] = "waiting"
            distributor = self.acds[via].distributor
            return lambda: distributor.enqueue(
                request(call_id, skill, priority, self.clock.seconds()))

        def state(self, call_id: str) -> str | None:
            return self.redis.hget(P + f"call:{call_id}", "state")

        # -- rules -----------------------------------------------------------------------

        @rule(skill=st.sampled_from(["billing", "outage"]), priority=st.integers(1, 9),
              via=st.integers(0, 1))
        def arrive(self, skill: str, priority: int, via: int) -> None:
            self.run(self.new_call(skill, priority, via))

        @rule(skills=st.tuples(st.sampled_from(["billing", "outage"]),
                               st.sampled_from(["billing", "outage"])))
        def two_arrive_at_once(self, skills: tuple[str, str]) -> None:
            self.run(self.new_call(skills[0], 5, 0), self.new_call(skills[1], 5, 1))

        @rule(agent_id=st.sampled_from(AGENTS), op=st.sampled_from(
            ["login", "logout", "pause", "ready"]), via=st.integers(0, 1))
        def agent_op(self, agent_id: str, op: str, via: int) -> None:
            self.run(self._op(agent_id, op, via))

        @rule(agent_id=st.sampled_from(AGENTS), ops=st.tuples(
            st.sampled_from(["login", "logout", "pause", "ready"]),
            st.sampled_from(["login", "logout", "pause", "ready"])))
        def same_agent_on_both(self, agent_id: str, ops: tuple[str, str]) -> None:
            self.run(self._op(agent_id, ops[0], 0), self._op(agent_id, ops[1], 1))

        @rule(agent_id=st.sampled_from(AGENTS), skill=st.sampled_from(["billing", "outage"]))
        def agent_ready_while_a_call_arrives(self, agent_id: str, skill: str) -> None:
            self.run(self._op(agent_id, "ready", 0), self._op(agent_id, "login", 0),
                     self.new_call(skill, 3, 1))

        def _op(self, agent_id: str, op: str, via: int) -> Callable[[], Deferred[Any]]:
            d = self.acds[via].distributor
            if op == "pause":
                return lambda: d.pause(agent_id, "break")
            method = {"login": d.login, "logout": d.logout, "ready": d.ready}[op]
            return lambda: method(agent_id)

        @precondition(lambda self: bool(self.phone.rings))
        @rule(data=st.data(), outcome=st.sampled_from(["answer", "no_answer", "caller_gone"]))
        def ring_outcome(self, data: st.DataObject, outcome: str) -> None:
            call_id = data.draw(st.sampled_from(sorted(self.phone.rings)))
            if outcome == "caller_gone" and self.callers[call_id] != "callback":
                self.callers[call_id] = "hung up"   # (a callback: the caller did not answer)
            self.act(lambda: getattr(self.phone, outcome)(call_id))

        @precondition(lambda self: any(self.phone.can_hang_up(c) for c in self.phone.talks))
        @rule(data=st.data())
        def talk_ends(self, data: st.DataObject) -> None:
            ended = [c for c in sorted(self.phone.talks) if self.phone.can_hang_up(c)]
            call_id = data.draw(st.sampled_from(ended))
            self.callers[call_id] = "talked"
            self.act(lambda: self.phone.hang_up(call_id))

        @precondition(lambda self: any(v == "waiting" for v in self.callers.values()))
        @rule(data=st.data(), via=st.integers(0, 1))
        def queued_caller_hangs_up(self, data: st.DataObject, via: int) -> None:
            waiting = sorted(c for c, v in self.callers.items()
                             if v == "waiting" and self.state(c) == "queued")
            if not waiting:
                return
            call_id = data.draw(st.sampled_from(waiting))
            self.callers[call_id] = "hung up"
            distributor = self.acds[via].distributor
            self.run(lambda: distributor.abandon(call_id))

        @precondition(lambda self: any(v == "waiting" for v in self.callers.values()))
        @rule(data=st.data(), via=st.integers(0, 1))
        def caller_takes_a_callback_and_hangs_up(self, data: st.DataObject, via: int) -> None:
            waiting = sorted(c for c, v in self.callers.items()
                             if v == "waiting" and self.state(c) == "queued")
            if not waiting:
                return
            call_id = data.draw(st.sampled_from(waiting))
            acd = self.acds[via]
            marked = loop.call(lambda: acd.queues.mark_callback(
                call_id, "0811" + call_id[1:], self.clock.seconds()))
            assert marked
            self.callers[call_id] = "callback"
            self.run(lambda: acd.distributor.abandon(call_id))  # no abandon: place kept

        @rule(seconds=st.sampled_from([1.0, 5.0, 10.0, 31.0]))
        def time_passes(self, seconds: float) -> None:
            self.act(lambda: self.clock.advance(seconds))

        # -- invariants ------------------------------------------------------------------

        @invariant()
        def no_double_booking_and_nobody_lost(self) -> None:
            r = self.redis
            assert self.phone.violations == []
            agents = {a: r.hgetall(P + f"agent:{a}") for a in AGENTS}
            held: dict[str, str] = {}
            for agent_id, fields in agents.items():
                status, call_id = fields.get("state", "logged_out"), fields.get("call", "")
                if status in ("reserved", "on_call"):
                    assert call_id, f"{agent_id} is {status} without a call"
                    assert call_id not in held, f"{call_id} with {held.get(call_id)} and {agent_id}"
                    held[call_id] = agent_id
                    call = r.hgetall(P + f"call:{call_id}")
                    assert call["agent"] == agent_id
                    want = "reserved" if status == "reserved" else "connected"
                    assert call["state"] == want, (agent_id, status, call)
                else:
                    assert not call_id, f"{agent_id} is {status} but holds {call_id}"
                for skill in SKILLS[agent_id]:
                    in_ready = r.zscore(P + f"ready:{skill}", agent_id) is not None
                    assert in_ready == (status == "ready"), (agent_id, status, skill)
                    in_tier = r.zscore(P + f"tier:{skill}", agent_id) is not None
                    assert in_tier == in_ready
            ringing = {c: conn.agent_id for c, (conn, _) in self.phone.rings.items()}
            talking = {c: conn.agent_id for c, (conn, _) in self.phone.talks.items()}
            assert {c: a for c, a in held.items()
                    if agents[a]["state"] == "reserved"} == ringing
            assert {c: a for c, a in held.items()
                    if agents[a]["state"] == "on_call"} == talking
            queues = {s: r.zrange(P + f"queue:{s}", 0, -1) for s in ("billing", "outage")}
            for call_id, did in self.callers.items():
                call = r.hgetall(P + f"call:{call_id}")
                assert call, f"caller {call_id} is gone from Redis"
                state = call["state"]
                assert state in CALL_STATES
                in_queues = [s for s, q in queues.items() if call_id in q]
                assert in_queues == ([call["skill"]] if state == "queued" else [])
                if state in ("reserved", "connected"):
                    assert held.get(call_id) == call["agent"]
                if did == "hung up":
                    assert state == "abandoned", (call_id, call)
                elif did == "callback":
                    assert state in ("queued", "reserved", "connected", "called_back") or (
                        state == "finished" and call.get("outcome") == "callback_failed")
                elif did == "talked":
                    assert state == "finished"
                else:
                    assert state in ("queued", "reserved", "connected")
                live = r.sismember(P + "live", call_id)
                assert bool(live) == (state in ("queued", "reserved", "connected",
                                                "called_back"))
            for agent_id, fields in agents.items():   # work conserving
                if fields.get("state") == "ready":
                    for skill in SKILLS[agent_id]:
                        assert not queues[skill], f"{agent_id} idles while {skill} waits"

    return AcdMachine


def test_no_double_booking_no_lost_caller(fresh_redis: RedisServer,
                                          loop_thread: LoopThread) -> None:
    profile = PROFILES["ci" if os.environ.get("CI") == "true" else "dev"]
    run_state_machine_as_test(make_machine(fresh_redis, loop_thread), settings=profile)


def test_no_double_booking_no_lost_caller_on_cluster(redis_cluster: RedisTarget,
                                                     loop_thread: LoopThread) -> None:
    """The same on a 3-primary Cluster (every key of the site in one slot), fewer examples."""
    profile = settings(PROFILES["dev"], max_examples=8)
    run_state_machine_as_test(make_machine(redis_cluster, loop_thread), settings=profile)
