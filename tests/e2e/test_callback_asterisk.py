"""A callback on the sandbox Asterisk: a queued caller with a long expected wait is offered
a callback over AsyncAGI, presses 1 (DTMF played into the call), hears the number read back
and is hung up; the call keeps its place in Redis; when the agent (Local, answers at once,
talks 3 s) logs in, the agent is rung first and then the caller is dialled back through
`callback_dial` (`Local/{number}@test-answer`, which answers) and the two are bridged."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
import pytest_twisted

from acd.queues.records import CallState
from tests.e2e.test_acd_asterisk import _sleep, agent, config_with_agents, start
from tests.fixtures.redis_server import RedisServer
from tests.harness.reactor import poll
from tools.sandbox import Instance

pytestmark = pytest.mark.asterisk

NUMBER = "81401"   # short: every digit is read back to the caller


@pytest_twisted.ensureDeferred
async def test_accepted_callback_rings_the_agent_then_calls_the_caller_back(
        asterisk_site: Instance, fresh_redis: RedisServer) -> None:
    config = config_with_agents(agent("1001", "test-agent"))
    config = replace(config, acd=replace(config.acd, callback_offer_ewt_s=0.0,
                                         callback_dial="Local/{number}@test-answer"))
    c = await start(config, asterisk_site, fresh_redis)
    ami = c.centre.ami
    offers: list[str] = []
    bridged: list[str] = []

    def agi_started(event: Any) -> None:
        if "callback-offer" in (event.get("Command") or ""):
            offers.append(event.get("Channel") or "")

    def bridge_entered(event: Any) -> None:
        bridged.append(event.get("Channel") or "")

    c.admin.dispatcher.subscribe("AGIExecStart", agi_started)   # not sent to pln123's user
    c.admin.dispatcher.subscribe("BridgeEnter", bridge_entered)
    try:
        await c.call(NUMBER)   # nobody is logged in: the expected wait is unknown, so long
        await poll(lambda: bool(offers), 20, "the callback offered")
        caller = offers[0]
        await ami.send_action("PlayDTMF", {"Channel": caller.replace(";2", ";1"),
                              "Digit": "1", "Duration": "250"})
        session = next(s for s in [*c.centre.engine.active.values(),
                                   *c.centre.engine.finished]
                       if s.channel.channel == caller)
        call_id = session.call_id
        for _ in range(150):
            record = await c.centre.acd.queues.call(call_id)
            if record is not None and record.fields.get("callback") and session.channel.ended:
                break
            await _sleep(0.2)
        assert record is not None and record.fields.get("callback") == NUMBER
        assert session.channel.ended               # hung up after the confirmation
        assert record.state is CallState.QUEUED    # ... and not abandoned: the place is kept
        assert await c.centre.acd.queues.position(call_id) == 1
        await c.centre.acd.distributor.login("1001")
        await poll(lambda: any("test-answer" in ch for ch in bridged), 20,
                   "the caller called back and bridged with the agent")
        for _ in range(100):                      # the agent talks 3 s and hangs up
            record = await c.centre.acd.queues.call(call_id)
            if record is not None and record.state is CallState.FINISHED:
                break
            await _sleep(0.2)
        assert record is not None and record.state is CallState.FINISHED
        assert record.fields.get("answered_at") and "outcome" not in record.fields
    finally:
        await c.stop()
