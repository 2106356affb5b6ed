"""The IVR's hand-off against a real redis-server that is stopped and started again.

Callers ask for an agent while Redis is down: they stay on music, the hand-off retries,
and once Redis is back (with its AOF, as in production, so the ready agent is still
there) the call is offered with its original `entered_at` and an agent's phone rings. A
caller who hung up during the outage leaves nothing in Redis.
"""

from __future__ import annotations

from typing import Any

import pytest
import pytest_twisted
import structlog
from twisted.application.internet import backoffPolicy

from acd.agents.state import AgentStatus
from acd.queues.records import CallState
from ivr.engine.engine import IVREngine
from ivr.engine.session import IVRServices
from pln123.config import Config, load_config
from tests.doubles.acd import agent, settings, virtual_clock
from tests.doubles.config import SHIPPED
from tests.doubles.ivr import MemoryOutages, MemoryTickets, Press, ScriptedChannel
from tests.doubles.telephony import FakeTelephony
from tests.fixtures.redis_server import RedisServer
from tests.harness.acd import start_acd
from tests.harness.reactor import clock, poll

pytestmark = pytest.mark.redis

BILLING = (Press("3"), Press("2"))  # main menu -> billing -> an agent



def caller(engine: IVREngine, outcomes: list[Any], number: str) -> ScriptedChannel:
    channel = ScriptedChannel(list(BILLING), channel=f"PJSIP/trunk-{number}",
                              env={"agi_arg_1": "0711", "agi_callerid": number})
    engine.on_session(channel).addBoth(outcomes.append)
    return channel


@pytest_twisted.ensureDeferred
async def test_callers_asking_during_an_outage_are_queued_once_redis_is_back(
    stoppable_redis: RedisServer,
) -> None:
    config: Config = load_config(SHIPPED)
    phone = FakeTelephony()
    acd = await start_acd(stoppable_redis, settings(agent("1001")), phone, virtual_clock())
    assert (await acd.distributor.login("1001")).status is AgentStatus.READY
    services = IVRServices(acd.distributor, MemoryOutages(virtual_clock()),
                           MemoryTickets(virtual_clock()),
                           handoff_backoff=backoffPolicy(0.2, 1.0, 2.0, jitter=lambda: 0.0))
    engine = IVREngine(config, "palembang", services, clock())
    stays: list[Any] = []
    leaves: list[Any] = []
    with structlog.testing.capture_logs() as logs:
        stoppable_redis.stop()
        staying = caller(engine, stays, "081100000001")
        leaving = caller(engine, leaves, "081100000002")
        asked_at = {s.channel.channel: s.entered_at for s in engine.active.values()}
        ids = {s.channel.channel: s.call_id for s in engine.active.values()}
        await poll(lambda: sum(line["event"] == "ivr_handoff_retry" for line in logs) >= 4,
                   15, "the hand-offs to retry")
        assert stays == [] and leaves == []
        leaving.ended = True  # hung up on music, while Redis is still down
        await poll(lambda: leaves != [], 10, "the hang-up to end the hand-off")
        assert leaves == ["caller_hung_up"]
        stoppable_redis.start()
        await poll(lambda: stays != [], 15, "the hand-off after Redis came back")
    assert stays == ["queued"]
    await acd.distributor.settle()
    assert phone.ringing_agent(ids[staying.channel]) == "1001"
    call = await acd.queues.call(ids[staying.channel])
    assert call is not None and call.state is CallState.RESERVED
    assert float(call.fields["entered_at"]) == pytest.approx(asked_at[staying.channel],
                                                             abs=0.001)
    assert await acd.queues.call(ids[leaving.channel]) is None  # nothing left behind
    retries = [line for line in logs if line["event"] == "ivr_handoff_retry"]
    assert {line["call_id"] for line in retries} == set(ids.values())
    assert all(line["delay_s"] <= 1.0 and line["attempt"] >= 1 for line in retries)
    assert [line["call_id"] for line in logs if line["event"] == "ivr_handoff_recovered"] \
        == [ids[staying.channel]]
    await acd.store.close()
