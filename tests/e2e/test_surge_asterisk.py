"""A surge: a burst at three times the rate Palembang's agents can serve. The IVR
answers every caller; each call ends with an agent, a callback that keeps its place, or a
ticket — admission control (acd.pooling.admission) offers the callback at once when the
pool's expected wait is over the national maximum (`PoolingSettings.national_max_ewt_s`),
instead of a wait nobody could honour."""

from __future__ import annotations

from typing import Any

import pytest
import pytest_twisted
from twisted.internet.task import deferLater

from tests.e2e.pooling_harness import Centre, agent, answered_at, config_for, records
from tests.fixtures.asterisk_sandbox import SandboxSession
from tests.fixtures.redis_server import RedisServer
from tests.harness.reactor import poll, reactor

pytestmark = pytest.mark.asterisk

IDPEL = "512345678901"
AGENT_CALLERS = 30
AGENT_RATE = 2 / 4.0   # two agents, 3 s talk + 1 s wrap-up each: 0.5 calls/s
BURST_RATE = 3 * AGENT_RATE   # callers asking for an agent; one in three also self-serves


@pytest_twisted.ensureDeferred
async def test_burst_at_three_times_the_rate_every_call_ends_served(
        asterisk_sandbox: SandboxSession, fresh_redis: RedisServer) -> None:
    [instance] = asterisk_sandbox.sites("palembang")
    config = config_for(agent("1001", "palembang", "test-agent"),
                        agent("1002", "palembang", "test-agent"),
                        national_max_ewt_s=10.0)
    pal = await Centre("palembang", instance, config, fresh_redis.url).start()
    ami = pal.admin
    offered: list[str] = []

    def take_callback(event: Any) -> None:   # the caller presses 1 at the offer
        if "callback-offer" in (event.get("Command") or ""):
            channel = event.get("Channel") or ""
            offered.append(channel)
            ami.send_action("PlayDTMF", {"Channel": channel.replace(";2", ";1"),
                                         "Digit": "1", "Duration": "250"})

    pal.admin.dispatcher.subscribe("AGIExecStart", take_callback)  # not sent to pln123's user
    try:
        await pal.site.acd.distributor.login("1001")
        await pal.site.acd.distributor.login("1002")
        to_agents = [f"08110009{i:02d}" for i in range(AGENT_CALLERS)]
        self_served = [f"08110008{i:02d}" for i in range(AGENT_CALLERS // 3)]
        for i, number in enumerate(to_agents):
            await pal.call(number, "0", HOLD="40")   # asks for an agent
            if i % 3 == 0:   # reports a fault with the IDPEL: a ticket from the IVR itself
                await pal.call(self_served[i // 3], f"2www1www{IDPEL}wwww1", PAUSE="1.5",
                               HOLD="25")
            await deferLater(reactor, 1 / BURST_RATE, lambda: None)
        numbers = to_agents + self_served
        await poll(lambda: all(pal.call_id_of(n) for n in numbers), 30,
                   "every caller answered by the IVR")

        def outcome(number: str) -> str | None:
            call_id = pal.call_id_of(number)
            session = next(s for s in [*pal.site.engine.active.values(),
                                       *pal.site.engine.finished]
                           if s.call_id == call_id)
            if "ticket_created" in session.journal.names():
                return "ticket"
            found = records(fresh_redis, call_id or "")
            if answered_at(found):
                return "agent"
            fields = found.get("palembang", {})
            if fields.get("callback"):
                return "callback"
            return None

        await poll(lambda: all(outcome(n) for n in numbers), 90,
                   "every call ending with an agent, a callback or a ticket")
        outcomes = {n: outcome(n) for n in numbers}
        assert {outcomes[n] for n in self_served} == {"ticket"}
        agents_side = [outcomes[n] for n in to_agents]
        assert "callback" in agents_side and "agent" in agents_side, agents_side
        assert offered, "admission control offered callbacks"
    finally:
        await pal.close()
