"""Interflow end to end: three sandbox Asterisk instances (palembang, medan, jakarta) joined
by IAX2, each with its own pln123, one Redis, Local-channel agents."""

from __future__ import annotations

import pytest
import pytest_twisted

from tests.e2e.interflow_harness import (
    Centre,
    agent,
    answered_at,
    config_for,
    records,
    rule,
)
from tests.fixtures.asterisk_sandbox import SandboxSession
from tests.fixtures.redis_server import RedisServer
from tests.harness.reactor import poll, reactor
from tools.sandbox import Instance

pytestmark = pytest.mark.asterisk

SITES = ("palembang", "medan", "jakarta")


async def centres(sandbox: SandboxSession, redis: RedisServer, config: object
                  ) -> dict[str, Centre]:
    instances: list[Instance] = sandbox.sites(*SITES)
    started = {}
    for name, instance in zip(SITES, instances, strict=True):
        started[name] = await Centre(name, instance, config, redis.url).start()  # type: ignore[arg-type]
    return started


async def stop(started: dict[str, Centre]) -> None:
    for centre in started.values():
        await centre.stop()


@pytest_twisted.ensureDeferred
async def test_full_palembang_overflows_to_medan_then_jakarta_each_answered_once(
        asterisk_sandbox: SandboxSession, fresh_redis: RedisServer) -> None:
    config = config_for(
        agent("1001", "palembang", "test-agent-long"),
        agent("2001", "medan", "test-agent-long"),
        agent("2002", "medan", "test-agent"),
        agent("3001", "jakarta", "test-agent-long"),
        default=rule(threshold_s=30, accept_s=120, margin_s=0),
        # medan's own callers stay home, so their order at medan is the thing to watch
        site_rules={"medan": rule(threshold_s=7200, accept_s=120, margin_s=0)})
    c = await centres(asterisk_sandbox, fresh_redis, config)
    pal, medan, jak = c["palembang"], c["medan"], c["jakarta"]
    try:
        await pal.site.acd.distributor.login("1001")
        await medan.site.acd.distributor.login("2001")
        await jak.site.acd.distributor.login("3001")
        await pal.call("0811000501")                     # P1: palembang's agent, 25 s
        await poll(lambda: pal.call_id_of("0811000501") is not None, 20, "P1 in the IVR")
        p1 = pal.call_id_of("0811000501")
        await poll_answered(fresh_redis, p1, 20)
        await pal.call("0811000502", "9ww0")             # P2, in English: full -> medan
        await poll(lambda: pal.call_id_of("0811000502") is not None, 20, "P2 in the IVR")
        p2 = pal.call_id_of("0811000502")
        assert p2 is not None
        await poll_answered(fresh_redis, p2, 30)
        assert answered_at(records(fresh_redis, p2)) == ["medan"]
        at_medan = records(fresh_redis, p2)["medan"]
        assert at_medan["language"] == "en"
        with medan.instance.ami(events="off") as raw:   # the trunk channel speaks English
            language = raw.action("Getvar", {"Channel": at_medan["channel"],
                                             "Variable": "CHANNEL(language)"})
        assert language.get("Value") == "en", language
        await medan.call("0811000601")                   # medan's own callers queue there
        await poll(lambda: medan.call_id_of("0811000601") is not None, 20, "M1 in the IVR")
        await medan.call("0811000602")
        await poll(lambda: medan.call_id_of("0811000602") is not None, 20, "M2 in the IVR")
        await pal.call("0811000503")                     # P3: medan full too -> jakarta
        await poll(lambda: pal.call_id_of("0811000503") is not None, 20, "P3 in the IVR")
        p3 = pal.call_id_of("0811000503")
        assert p3 is not None
        await poll_answered(fresh_redis, p3, 30)
        assert answered_at(records(fresh_redis, p3)) == ["jakarta"]
        m1, m2 = medan.call_id_of("0811000601"), medan.call_id_of("0811000602")
        assert m1 is not None and m2 is not None
        await medan.site.acd.distributor.login("2002")  # medan's callers served in order
        await poll_answered(fresh_redis, m1, 30)
        await poll_answered(fresh_redis, m2, 30)
        first = float(records(fresh_redis, m1)["medan"]["answered_at"])
        second = float(records(fresh_redis, m2)["medan"]["answered_at"])
        assert first < second
        for call_id in (p1, p2, p3, m1, m2):
            found = records(fresh_redis, call_id)
            assert len(answered_at(found)) == 1, found   # exactly one agent
            for fields in found.values():
                visited = [s for s in fields.get("visited", "").split(",") if s]
                assert len(visited) == len(set(visited))  # no site twice
        assert records(fresh_redis, p2)["palembang"]["state"] == "moved"
        assert records(fresh_redis, p3)["palembang"]["moved_to"] == "jakarta"
    finally:
        await stop(c)


@pytest_twisted.ensureDeferred
async def test_palembang_pln123_stopped_its_callers_are_answered_at_jakarta(
        asterisk_sandbox: SandboxSession, fresh_redis: RedisServer) -> None:
    config = config_for()
    c = await centres(asterisk_sandbox, fresh_redis, config)
    pal, jak = c["palembang"], c["jakarta"]
    try:
        await pal.stop()                                 # clean stop: heartbeat deleted
        with pal.instance.ami(events="on") as raw:
            raw.action("Originate", {
                "Channel": "Local/0711123@pln123-inbound-palembang",
                "Context": "test-caller", "Exten": "s", "Priority": "1",
                "CallerID": '"Pelanggan" <0811000701>', "Async": "true",
                "Variable": "HOLD=30"})
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
        await stop(c)


async def poll_answered(server: RedisServer, call_id: str | None, seconds: float) -> None:
    assert call_id is not None
    await poll(lambda: bool(answered_at(records(server, call_id))), seconds,
               f"an agent answering call {call_id}")
