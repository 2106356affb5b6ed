"""Property: national pooling never books an agent twice, never loses a caller, serves
local callers first and never lends an agent its site's reserve keeps.

Three sites of one pool (palembang, medan, makassar), each with its own pln123 process and
palembang with two (competing processes of one site), on the session's real Redis (and,
with fewer examples, on a 3-primary Cluster: the pool's keys in one slot). Hypothesis plays
random interleavings of arrivals at any site, agents' log-ins, pauses, readies and
log-outs, ring outcomes, ends of talks, queued callers hanging up, time passing, and a
national supervisor switching a site's lending off and on or fixing its reserve (then the
pool keeper's round, as the keeper would run it). A reservation one site's agent makes for
another site's call is handed to that site's process, as the ring-request stream does in
production. After every step the whole of Redis is checked against the invariants.

Reserves here are fixed numbers (and the supervisors' overrides): `auto` depends on
service levels over time, which the simulator measures (docs/multisite.md).
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

from acd.distributor import Distributor
from acd.intake import QueueRequest
from acd.pooling.lending import LendingBoard
from acd.queues.records import Reservation
from acd.queues.store import QueueStore
from acd.settings import AcdSettings, AgentSpec, PoolingSettings, QueueSettings
from acd.store.keys import SiteKeys
from acd.store.redis import RedisStore
from tests.doubles.acd import virtual_clock
from tests.doubles.telephony import FakeTelephony
from tests.fixtures.redis_server import RedisServer
from tests.fixtures.redis_topology import RedisTarget
from tests.harness.loop import LoopThread, tolerate_illegal

pytestmark = pytest.mark.redis

POOL = "national"
SITES = ("palembang", "medan", "makassar")
SKILLS = ("billing", "outage")
ROSTER = (
    AgentSpec("1001", "A", "palembang", "PJSIP/1001", {"billing": 5}),
    AgentSpec("1002", "B", "palembang", "PJSIP/1002", {"billing": 7, "outage": 3}),
    AgentSpec("2001", "C", "medan", "PJSIP/2001", {"billing": 5, "outage": 5}),
    AgentSpec("2002", "D", "medan", "PJSIP/2002", {"outage": 6}),
    AgentSpec("3001", "E", "makassar", "PJSIP/3001", {"billing": 4}),
    AgentSpec("3002", "F", "makassar", "PJSIP/3002", {"billing": 6, "outage": 6}),
)
SITE_OF = {a.id: a.site for a in ROSTER}
SKILLS_OF = {a.id: set(a.skills) for a in ROSTER}
RESERVES = {"palembang": "0", "medan": "1", "makassar": "1"}
# Never reached here (a slot freed by a call's end re-matches nobody until the next event or
# the keeper's round): trunk limits have their own test (tests/integration/acd).
TRUNK_LIMIT = 100
PROFILES = {
    "dev": settings(max_examples=15, stateful_step_count=40, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow]),
    "ci": settings(max_examples=30, stateful_step_count=50, deadline=None,
                   suppress_health_check=[HealthCheck.too_slow]),
}


def pool_settings() -> AcdSettings:
    pooling = PoolingSettings(
        pools={POOL: SITES}, order={"palembang": ("medan",)},
        reserve={(site, ""): value for site, value in RESERVES.items()},
        trunk_limit=TRUNK_LIMIT, ring_stream=False)
    queues = {skill: QueueSettings(skill, wrapup_s=5.0) for skill in SKILLS}
    return AcdSettings(service_level_s=20.0, escalation_s=30.0, ring_timeout_s=15.0,
                       audit_maxlen=10_000, queues=queues, agents=ROSTER, pooling=pooling)


def make_machine(server: RedisTarget, loop: LoopThread) -> type[RuleBasedStateMachine]:
    class PoolMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            server.flushall()
            self.clock = virtual_clock()
            self.phone = FakeTelephony()
            self.config = pool_settings()
            self.keys = {site: SiteKeys(site, POOL) for site in SITES}
            # (site, process): palembang runs two processes, the others one each
            self.processes: list[tuple[str, Distributor, RedisStore]] = []
            for site in (*SITES, "palembang"):
                self.processes.append(loop.call(lambda site=site: Deferred.fromCoroutine(
                    self._start(site))))
            self.board = LendingBoard(self.processes[0][2], self.config.pooling)
            self.redis = server.client()
            for keys in self.keys.values():   # every site's pln123 runs (rings its calls)
                self.redis.set(keys.alive, "1")
            self.callers: dict[str, tuple[str, str]] = {}   # call id -> (site, what)
            self.next_call = 0
            self.overrides: dict[str, tuple[bool, int | None]] = {}

        async def _start(self, site: str) -> tuple[str, Distributor, RedisStore]:
            store = RedisStore(server.url)
            await store.start()
            queues = QueueStore(store, site, self.config)
            distributor = Distributor(site, self.config, queues, self.phone, self.clock,
                                      hand_over=self._hand_over)
            return site, distributor, store

        def _hand_over(self, reservation: Reservation) -> None:
            self.process(reservation.call_site).take_over(reservation)

        def process(self, site: str, which: int = 0) -> Distributor:
            return [d for s, d, _ in self.processes if s == site][which]

        def teardown(self) -> None:
            for _, distributor, store in self.processes:
                distributor.stop()
                loop.call(store.close)
            self.redis.close()

        # -- helpers ---------------------------------------------------------------------

        def run(self, *ops: Callable[[], Deferred[Any]]) -> None:
            def start() -> Deferred[Any]:
                return gatherResults([op().addErrback(tolerate_illegal) for op in ops],
                                     consumeErrors=True)

            loop.call(start)
            self.settle()

        def act(self, action: Callable[[], object]) -> None:
            loop.call(action)
            self.settle()

        def settle(self) -> None:
            while any(d.busy for _, d, _ in self.processes):
                loop.call(lambda: gatherResults([d.settle() for _, d, _ in self.processes]))

        def call_key(self, call_id: str) -> str:
            return self.keys[self.callers[call_id][0]].call(call_id)

        # -- rules -----------------------------------------------------------------------

        @rule(site=st.sampled_from(SITES), skill=st.sampled_from(SKILLS),
              priority=st.integers(1, 9), which=st.integers(0, 1))
        def arrive(self, site: str, skill: str, priority: int, which: int) -> None:
            self.next_call += 1
            call_id = f"k{self.next_call:04}"
            self.callers[call_id] = (site, "waiting")
            distributor = self.process(site, which if site == "palembang" else 0)
            request = QueueRequest(call_id, site, f"PJSIP/trunk-{call_id}", skill, priority,
                                   "id", "0711", "Region", "0811" + call_id[1:], None,
                                   self.clock.seconds())
            self.run(lambda: distributor.enqueue(request))

        @rule(agent_id=st.sampled_from(sorted(SITE_OF)), op=st.sampled_from(
            ["login", "logout", "pause", "ready"]), which=st.integers(0, 1))
        def agent_op(self, agent_id: str, op: str, which: int) -> None:
            site = SITE_OF[agent_id]
            d = self.process(site, which if site == "palembang" else 0)
            if op == "pause":
                self.run(lambda: d.pause(agent_id, "break"))
            else:
                method = {"login": d.login, "logout": d.logout, "ready": d.ready}[op]
                self.run(lambda: method(agent_id))

        @rule(agents=st.tuples(st.sampled_from(sorted(SITE_OF)), st.sampled_from(sorted(SITE_OF))))
        def two_agents_ready_at_once(self, agents: tuple[str, str]) -> None:
            self.run(*(lambda a=a: self.process(SITE_OF[a]).ready(a) for a in agents))

        @precondition(lambda self: bool(self.phone.rings))
        @rule(data=st.data(), outcome=st.sampled_from(
            ["answer", "no_answer", "caller_gone", "trunk_failed"]))
        def ring_outcome(self, data: st.DataObject, outcome: str) -> None:
            call_id = data.draw(st.sampled_from(sorted(self.phone.rings)))
            connection = self.phone.rings[call_id][0]
            if outcome == "trunk_failed" and not connection.agent_site:
                outcome = "no_answer"   # only a lent agent's ring crosses a trunk
            if outcome == "caller_gone":
                self.callers[call_id] = (self.callers[call_id][0], "hung up")
            self.act(lambda: getattr(self.phone, outcome)(call_id))

        @precondition(lambda self: any(self.phone.can_hang_up(c) for c in self.phone.talks))
        @rule(data=st.data())
        def talk_ends(self, data: st.DataObject) -> None:
            ended = [c for c in sorted(self.phone.talks) if self.phone.can_hang_up(c)]
            call_id = data.draw(st.sampled_from(ended))
            self.callers[call_id] = (self.callers[call_id][0], "talked")
            self.act(lambda: self.phone.hang_up(call_id))

        @precondition(lambda self: any(v == "waiting" for _, v in self.callers.values()))
        @rule(data=st.data())
        def queued_caller_hangs_up(self, data: st.DataObject) -> None:
            waiting = sorted(c for c, (_, v) in self.callers.items()
                             if v == "waiting" and self.redis.hget(self.call_key(c), "state")
                             == "queued")
            if not waiting:
                return
            call_id = data.draw(st.sampled_from(waiting))
            site = self.callers[call_id][0]
            self.callers[call_id] = (site, "hung up")
            self.run(lambda: self.process(site).abandon(call_id))

        @rule(site=st.sampled_from(SITES), on=st.booleans(),
              reserve=st.one_of(st.none(), st.integers(0, 2)))
        def supervisor_changes_lending(self, site: str, on: bool, reserve: int | None) -> None:
            self.overrides[site] = (on, reserve)
            loop.call(lambda: self.board.switch(site, on))
            loop.call(lambda: self.board.override_reserve(site, reserve))
            d = self.process(site)

            def keep() -> Deferred[Any]:   # the pool keeper's round at that site
                return d.queues.lend_spare(list(SKILLS), self.clock.seconds()).addCallback(
                    lambda made: [d.follow(r) for r in made])

            self.run(keep)

        @rule(seconds=st.sampled_from([1.0, 6.0, 31.0]))
        def time_passes(self, seconds: float) -> None:
            self.act(lambda: self.clock.advance(seconds))

        # -- invariants ------------------------------------------------------------------

        def reserve(self, site: str) -> int | None:
            on, fixed = self.overrides.get(site, (True, None))
            if not on:
                return None
            return fixed if fixed is not None else int(RESERVES[site])

        @invariant()
        def pooled_and_safe(self) -> None:
            r = self.redis
            assert self.phone.violations == []
            agents = {a: r.hgetall(self.keys[SITE_OF[a]].agent(a)) for a in SITE_OF}
            held: dict[str, str] = {}
            for agent_id, fields in agents.items():
                status, call_id = fields.get("state", "logged_out"), fields.get("call", "")
                if status in ("reserved", "on_call"):
                    assert call_id and call_id not in held, (agent_id, call_id, held)
                    held[call_id] = agent_id
                    call = r.hgetall(self.call_key(call_id))
                    assert call["agent"] == agent_id
                    assert (call.get("agent_site") or self.callers[call_id][0]) == \
                        SITE_OF[agent_id]
                    assert call["state"] == ("reserved" if status == "reserved"
                                             else "connected")
                else:
                    assert not call_id, f"{agent_id} is {status} but holds {call_id}"
                keys = self.keys[SITE_OF[agent_id]]
                for skill in SKILLS_OF[agent_id]:
                    in_ready = r.zscore(keys.ready(skill), agent_id) is not None
                    assert in_ready == (status == "ready"), (agent_id, status, skill)
            ringing = {c: conn.agent_id for c, (conn, _) in self.phone.rings.items()}
            assert {c: a for c, a in held.items()
                    if agents[a]["state"] == "reserved"} == ringing
            queues = {(site, skill): r.zrange(self.keys[site].queue(skill), 0, -1)
                      for site in SITES for skill in SKILLS}
            for call_id, (site, did) in self.callers.items():
                call = r.hgetall(self.keys[site].call(call_id))
                assert call, f"caller {call_id} of {site} is gone from Redis"
                state = call["state"]
                waits_in = [key for key, q in queues.items() if call_id in q]
                assert waits_in == ([(site, call["skill"])] if state == "queued" else [])
                if did == "hung up":
                    assert state == "abandoned", (call_id, call)
                elif did == "talked":
                    assert state == "finished"
                else:
                    assert state in ("queued", "reserved", "connected"), (call_id, call)
            ready: dict[tuple[str, str], list[str]] = {}
            for agent_id, fields in agents.items():
                if fields.get("state") == "ready":
                    for skill in SKILLS_OF[agent_id]:
                        ready.setdefault((SITE_OF[agent_id], skill), []).append(agent_id)
            for (site, skill), idle in ready.items():
                # Local first: nobody of the agent's own site waits for the skill.
                assert not queues[(site, skill)], f"{idle} idle while {site} {skill} waits"
                # The reserve holds and is all that is held back: while another site's
                # caller of the skill waits (with room on the trunk and not refused by this
                # site), this site's ready agents are at most its reserve.
                reserve = self.reserve(site)
                for other in SITES:
                    if other == site:
                        continue
                    # the next few callers (the script looks that far past calls whose
                    # trunk to this site failed)
                    takeable = [c for c in queues[(other, skill)][:5] if site not in (
                        r.hget(self.keys[other].call(c), "refused") or "").split(",")]
                    if takeable:
                        assert reserve is None or len(idle) <= reserve, (
                            f"{site} keeps {idle} ready (reserve {reserve}) while "
                            f"{other}'s {skill} caller {takeable[0]} waits")

    return PoolMachine


def test_pool_never_double_books_and_keeps_reserves(fresh_redis: RedisServer,
                                                    loop_thread: LoopThread) -> None:
    profile = PROFILES["ci" if os.environ.get("CI") == "true" else "dev"]
    run_state_machine_as_test(make_machine(fresh_redis, loop_thread), settings=profile)


def test_pool_never_double_books_and_keeps_reserves_on_cluster(
        redis_cluster: RedisTarget, loop_thread: LoopThread) -> None:
    """The same on a 3-primary Cluster (every key of the pool in one slot)."""
    profile = settings(PROFILES["dev"], max_examples=6)
    run_state_machine_as_test(make_machine(redis_cluster, loop_thread), settings=profile)

