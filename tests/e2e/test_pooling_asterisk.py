"""National pooling end to end: three sandbox Asterisk instances (palembang, medan,
makassar) joined by their rendered IAX2 trunks, each site's pln123, one Redis,
Local-channel callers and agents.

A caller never leaves their site: when another site's agent takes them, the caller's
site rings that agent through the trunk and bridges the caller with the trunk leg."""

from __future__ import annotations

import pytest
import pytest_twisted

from acd.agents.state import AgentStatus
from ivr.dialplan.names import AGENTS_FAMILY
from pln123.config import Config
from tests.e2e.pooling_harness import (
    IDPEL,
    REGION,
    Centre,
    agent,
    agent_fields,
    answered_at,
    config_for,
    events_of,
    held_once,
    queue,
    records,
    status_of,
)
from tests.fixtures.asterisk_sandbox import SandboxSession
from tests.fixtures.redis_server import RedisServer
from tests.harness.reactor import poll, reactor
from tools.sandbox import Instance

pytestmark = pytest.mark.asterisk

SITES = ("palembang", "medan", "makassar")
# The caller reports a fault (their IDPEL read back and confirmed, a ticket filed), then
# presses 0 for an agent: the agent is told who is calling.
WITH_IDPEL = f"2www1www{IDPEL}wwww1wwww0"


async def centres(sandbox: SandboxSession, redis: RedisServer, config: Config,
                  *names: str) -> dict[str, Centre]:
    instances: list[Instance] = sandbox.sites(*names)
    started: dict[str, Centre] = {}
    try:
        for name, instance in zip(names, instances, strict=True):
            started[name] = await Centre(name, instance, config, redis.url).start()
    except BaseException:
        await close(started)
        raise
    return started


async def close(started: dict[str, Centre]) -> None:
    for centre in started.values():
        await centre.close()


async def answered(server: RedisServer, call_id: str, seconds: float) -> None:
    await poll(lambda: bool(answered_at(records(server, call_id))), seconds,
               f"an agent answering call {call_id}")


def answers(server: RedisServer, site: str, call_id: str) -> int:
    return events_of(server, site, call_id).count("answered")


@pytest_twisted.ensureDeferred
async def test_a_medan_agent_becoming_ready_answers_a_waiting_palembang_caller(
        asterisk_sandbox: SandboxSession, fresh_redis: RedisServer) -> None:
    # 2001's wrap-up after their medan call lasts until they say they are ready.
    config = config_for(agent("2001", "medan", "test-agent-long"), wrapup_s=300)
    c = await centres(asterisk_sandbox, fresh_redis, config, *SITES)
    pal, medan = c["palembang"], c["medan"]
    try:
        await busy_in_wrap_up(medan, fresh_redis, "2001", "0811000601")

        await pal.call("0811000501", WITH_IDPEL, PAUSE="1.5")
        p1 = await pal.queued_call("0811000501", 60)
        assert queue(fresh_redis, "palembang") == [p1]        # waiting: nobody ready
        assert queue(fresh_redis, "medan") == []
        await medan.site.acd.distributor.ready("2001")        # ready; no medan caller
        await answered(fresh_redis, p1, 30)

        found = records(fresh_redis, p1)
        assert list(found) == ["palembang"]                   # the call never moved
        fields = found["palembang"]
        assert (fields["agent"], fields["agent_site"]) == ("2001", "medan")
        assert fields["idpel"] == IDPEL
        assert answers(fresh_redis, "palembang", p1) == 1
        assert "pooled" in events_of(fresh_redis, "palembang", p1)
        # medan's audit tells its agent's side of it: reserved for the call, then talking
        assert events_of(fresh_redis, "medan", p1) == ["reserve", "answer"]

        # palembang: the caller bridged with the trunk leg to medan, once
        caller = fields["channel"]
        await poll(lambda: any(p.startswith("IAX2/pln-medan")
                               for p in pal.seen.partners(caller)), 15,
                   "the caller bridged with the IAX2 leg to medan")
        assert pal.seen.bridges_of(caller) == 1
        assert [p for p in pal.seen.partners(caller)
                if not p.startswith("IAX2/pln-medan")] == []
        # medan: the trunk leg, announced by the trunk-in context, bridged with the phone
        remote = medan.seen.remote_call(p1)
        assert remote is not None, medan.seen.remote_calls
        assert remote.get("agent") == "2001"
        trunk_leg = remote.get("Channel") or ""
        assert trunk_leg.startswith("IAX2/"), trunk_leg
        await poll(lambda: any(p.startswith("Local/2001@test-agent-long")
                               for p in medan.seen.partners(trunk_leg)), 15,
                   "the trunk leg bridged with 2001's phone at medan")
        # the agent's phone shows who calls: their region and IDPEL, and their number
        assert remote.get("CallerIDName") == f"{REGION['palembang']} {IDPEL}", remote
        assert remote.get("CallerIDNum") == "0811000501"
        with medan.instance.ami(events="off") as raw:
            shown = raw.action("Getvar", {"Channel": trunk_leg,
                                          "Variable": "CALLERID(name)"})
        assert shown.get("Value") == f"{REGION['palembang']} {IDPEL}", shown
        assert held_once(fresh_redis, SITES) == []
    finally:
        await close(c)


@pytest_twisted.ensureDeferred
async def test_locals_first_the_next_ready_medan_agent_takes_the_medan_caller(
        asterisk_sandbox: SandboxSession, fresh_redis: RedisServer) -> None:
    config = config_for(agent("2001", "medan", "test-agent-long"),
                        agent("5001", "makassar", "test-agent-long"), wrapup_s=300)
    c = await centres(asterisk_sandbox, fresh_redis, config, *SITES)
    pal, medan, mak = c["palembang"], c["medan"], c["makassar"]
    try:
        await busy_in_wrap_up(medan, fresh_redis, "2001", "0811000611")
        await pal.call("0811000511")
        p1 = await pal.queued_call("0811000511")
        await poll(lambda: waited(fresh_redis, "palembang", p1) >= 29, 60,
                   "the palembang caller waiting 30 s")
        await medan.call("0811000612")
        m1 = await medan.queued_call("0811000612")
        await poll(lambda: waited(fresh_redis, "medan", m1) >= 1, 10,
                   "the medan caller waiting 1 s")
        assert queue(fresh_redis, "palembang") == [p1]
        assert waited(fresh_redis, "palembang", p1) > waited(fresh_redis, "medan", m1) + 20

        await medan.site.acd.distributor.ready("2001")
        await answered(fresh_redis, m1, 30)
        at_medan = records(fresh_redis, m1)["medan"]
        assert (at_medan["agent"], at_medan.get("agent_site", "")) == ("2001", "medan")
        assert queue(fresh_redis, "palembang") == [p1]        # still waiting, still first
        assert not answered_at(records(fresh_redis, p1))
        assert "pooled" not in events_of(fresh_redis, "palembang", p1)

        await mak.site.acd.distributor.login("5001")          # nobody waits at makassar
        await answered(fresh_redis, p1, 30)
        fields = records(fresh_redis, p1)["palembang"]
        assert (fields["agent"], fields["agent_site"]) == ("5001", "makassar")
        for call_id, site in ((m1, "medan"), (p1, "palembang")):
            assert answers(fresh_redis, site, call_id) == 1
        assert held_once(fresh_redis, SITES) == []
    finally:
        await close(c)


@pytest_twisted.ensureDeferred
async def test_a_reserve_of_one_lends_only_the_second_ready_makassar_agent(
        asterisk_sandbox: SandboxSession, fresh_redis: RedisServer) -> None:
    config = config_for(agent("5001", "makassar", "test-agent-long"),
                        agent("5002", "makassar", "test-agent-long"),
                        reserve={"makassar": 1})
    c = await centres(asterisk_sandbox, fresh_redis, config, *SITES)
    pal, mak = c["palembang"], c["makassar"]
    try:
        await mak.site.acd.distributor.login("5001")
        await pal.call("0811000521")
        p1 = await pal.queued_call("0811000521")
        assert queue(fresh_redis, "palembang") == [p1]        # makassar keeps its one
        await mak.site.acd.keeper.keep()                      # a lending round: nothing
        await pal.site.acd.keeper.keep()
        assert queue(fresh_redis, "palembang") == [p1]
        assert status_of(agent_fields(fresh_redis, "makassar", "5001")) is AgentStatus.READY
        assert "pooled" not in events_of(fresh_redis, "palembang", p1)

        await mak.site.acd.distributor.login("5002")          # two ready: one may go
        await answered(fresh_redis, p1, 30)
        fields = records(fresh_redis, p1)["palembang"]
        assert fields["agent_site"] == "makassar"
        lent, kept = (("5001", "5002") if fields["agent"] == "5001" else ("5002", "5001"))
        assert fields["agent"] == lent
        assert status_of(agent_fields(fresh_redis, "makassar", kept)) is AgentStatus.READY
        assert status_of(agent_fields(fresh_redis, "makassar", lent)) is AgentStatus.ON_CALL
        caller = fields["channel"]
        await poll(lambda: any(p.startswith("IAX2/pln-makassar")
                               for p in pal.seen.partners(caller)), 15,
                   "the caller bridged with the IAX2 leg to makassar")
        assert answers(fresh_redis, "palembang", p1) == 1
        assert held_once(fresh_redis, SITES) == []
    finally:
        await close(c)


@pytest_twisted.ensureDeferred
async def test_a_failed_trunk_call_leaves_the_agent_ready_and_the_callers_in_place(
        asterisk_sandbox: SandboxSession, fresh_redis: RedisServer) -> None:
    config = config_for(agent("2001", "medan", "test-agent"),
                        agent("1001", "palembang", "test-agent"))
    c = await centres(asterisk_sandbox, fresh_redis, config, *SITES)
    pal, medan = c["palembang"], c["medan"]
    try:
        await medan.site.acd.distributor.login("2001")
        # medan's Asterisk no longer knows 2001's phone: its trunk-in refuses the ring
        with medan.instance.ami(events="off") as raw:
            deleted = raw.action("DBDel", {"Family": AGENTS_FAMILY, "Key": "2001"})
        assert deleted.get("Response") == "Success", deleted
        await pal.call("0811000531")
        p1 = await pal.queued_call("0811000531")
        await poll(lambda: "trunk_failed" in events_of(fresh_redis, "palembang", p1), 30,
                   "the trunk call to 2001 failing")
        await pal.call("0811000532")
        p2 = await pal.queued_call("0811000532")
        await poll(lambda: "trunk_failed" in events_of(fresh_redis, "palembang", p2), 30,
                   "the second caller's trunk call failing too")
        await pal.site.acd.distributor.settle()
        await medan.site.acd.distributor.settle()

        assert queue(fresh_redis, "palembang") == [p1, p2]    # in place, in order
        assert await pal.queues.position(p1) == 1
        assert await pal.queues.position(p2) == 2
        for call_id in (p1, p2):
            fields = records(fresh_redis, call_id)["palembang"]
            assert (fields["state"], fields["refused"]) == ("queued", "medan"), fields
            assert not fields.get("answered_at")
        medan_agent = agent_fields(fresh_redis, "medan", "2001")
        assert status_of(medan_agent) is AgentStatus.READY, medan_agent   # not paused
        assert (medan_agent.get("reason", ""), medan_agent.get("call", "")) == ("", "")
        assert medan.seen.remote_calls == []                 # no phone rang at medan
        listed = await pal.admin.send_list_action("CoreShowChannels")
        alive = {e.get("Channel") for e in listed.events}
        for call_id in (p1, p2):                              # both still on the line
            assert records(fresh_redis, call_id)["palembang"]["channel"] in alive

        await pal.site.acd.distributor.login("1001")          # answered normally, in order
        await answered(fresh_redis, p1, 30)
        await answered(fresh_redis, p2, 40)
        first, second = (records(fresh_redis, x)["palembang"] for x in (p1, p2))
        assert (first["agent"], second["agent"]) == ("1001", "1001")
        assert float(first["answered_at"]) < float(second["answered_at"])
        for call_id in (p1, p2):
            assert answers(fresh_redis, "palembang", call_id) == 1
        assert held_once(fresh_redis, SITES) == []
    finally:
        await close(c)


@pytest_twisted.ensureDeferred
async def test_palembang_pln123_stopped_its_callers_are_answered_at_jakarta(
        asterisk_sandbox: SandboxSession, fresh_redis: RedisServer) -> None:
    config = config_for()
    c = await centres(asterisk_sandbox, fresh_redis, config, "palembang", "jakarta")
    pal, jak = c["palembang"], c["jakarta"]
    try:
        await pal.stop()                                 # clean stop: heartbeat deleted
        await pal.call("0811000701", "", HOLD="30")
        started = reactor.seconds()
        await poll(lambda: any(s.channel.env.get("agi_callerid") == "0811000701"
                               for s in jak.sessions_for_area("0711")),
                   5, "the 0711 caller in jakarta's IVR")
        assert reactor.seconds() - started <= 5
        await pal.start()                                # back: heartbeat fresh again
        await pal.call("0811000702")
        await poll(lambda: pal.call_id_of("0811000702") is not None, 10,
                   "the next 0711 caller back in palembang's IVR")
        assert not any(s.channel.env.get("agi_callerid") == "0811000702"
                       for s in jak.sessions_for_area("0711"))
    finally:
        await close(c)


async def busy_in_wrap_up(centre: Centre, server: RedisServer, agent_id: str,
                          number: str) -> None:
    """`agent_id` logs in, answers a caller of their own site and stays in wrap-up (busy,
    but counted as serving) once the caller hangs up."""
    await centre.site.acd.distributor.login(agent_id)
    await centre.call(number)
    call_id = await centre.queued_call(number)
    await answered(server, call_id, 20)
    channel = records(server, call_id)[centre.name]["channel"]
    await centre.admin.send_action("Hangup", {"Channel": channel})
    await poll(lambda: agent_fields(server, centre.name, agent_id).get("state") == "wrap_up",
               15, f"{agent_id} in wrap-up")


def waited(server: RedisServer, site: str, call_id: str) -> float:
    """How long the call has waited so far (s)."""
    return float(reactor.seconds()) - float(records(server, call_id)[site]["enqueued_at"])
