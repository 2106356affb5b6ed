"""Abandon-resume on the sandbox: a caller who hangs up while queued and redials from the
same number gets their old place back, ahead of a caller who queued after them."""

from __future__ import annotations

import contextlib

import pytest
import pytest_twisted

from ivr.ami import variable_header
from tests.e2e.test_acd_asterisk import Centre, config_with_agents, start
from tests.fixtures.redis_server import RedisServer
from tests.harness.reactor import poll
from tools.sandbox import Instance

pytestmark = pytest.mark.asterisk


async def dial(c: Centre, number: str, *, pause: float, hangup_after: float | None = None
               ) -> None:
    variables = {"DTMF": "0", "PAUSE": f"{pause:g}", "HOLD": "60"}
    if hangup_after is not None:
        variables["HANGUP_AFTER"] = f"{hangup_after:g}"
    await c.centre.ami.send_action("Originate", {
        "Channel": "Local/0711123@pln123-inbound-palembang",
        "Context": "test-caller", "Exten": "s", "Priority": "1",
        "CallerID": f'"Pelanggan" <{number}>', "Async": "true",
        "Variable": variable_header(variables),
    })


@pytest_twisted.ensureDeferred
async def test_redial_within_the_window_gets_the_old_place_back(
        asterisk_site: Instance, fresh_redis: RedisServer) -> None:
    c = await start(config_with_agents(), asterisk_site, fresh_redis)
    try:
        await dial(c, "0811000401", pause=1, hangup_after=14)
        await poll(lambda: c.queued() == 1, 20, "the first caller queued")
        first_call = c.centre.engine.finished[-1].call_id
        await dial(c, "0811000402", pause=1)
        await poll(lambda: c.queued() == 2, 20, "the second caller queued behind")
        second_call = c.centre.engine.finished[-1].call_id
        assert await c.centre.acd.queues.position(second_call) == 2
        # The first caller hangs up (abandoned), then redials from the same number.
        await poll_position_gone(c, first_call)
        await dial(c, "0811000401", pause=1)
        await poll(lambda: c.queued() == 3, 20, "the redial queued")
        redial = c.centre.engine.finished[-1]
        assert redial.channel.env.get("agi_callerid") == "0811000401"
        assert await c.centre.acd.queues.position(redial.call_id) == 1
        assert await c.centre.acd.queues.position(second_call) == 2
    finally:
        # The callers hold for a minute: end them, or the next test finds them in AsyncAGI.
        for session in c.centre.engine.finished:
            with contextlib.suppress(Exception):   # already gone
                await c.centre.ami.send_action("Hangup", {"Channel": session.channel.channel})
        await c.stop()


async def poll_position_gone(c: Centre, call_id: str) -> None:
    from twisted.internet.task import deferLater

    from tests.harness.reactor import reactor

    for _ in range(150):
        if await c.centre.acd.queues.position(call_id) is None:
            return
        await deferLater(reactor, 0.2, lambda: None)
    raise AssertionError("the first caller never left the queue")
