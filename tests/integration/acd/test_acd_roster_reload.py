"""A SIGHUP's new roster reaches the running Distributor: new agents may log in at once,
removed ones may only leave (the rest of the reload logic is in tests/unit)."""

from __future__ import annotations

import pytest
import pytest_twisted

from acd.distributor import UnknownAgent
from tests.doubles.acd import agent, settings, virtual_clock
from tests.doubles.telephony import FakeTelephony
from tests.fixtures.redis_server import RedisServer
from tests.harness.acd import start_acd


@pytest.mark.redis
@pytest_twisted.ensureDeferred
async def test_roster_reload_adds_and_retires_agents(fresh_redis: RedisServer) -> None:
    clock, phone = virtual_clock(), FakeTelephony()
    acd = await start_acd(fresh_redis, settings(agent("1001"), agent("1002")), phone, clock)
    d = acd.distributor
    await d.login("1002")
    with pytest.raises(UnknownAgent):
        await d.login("1003")
    d.reconfigure(settings(agent("1001"), agent("1003"), ring_timeout_s=7.0))
    assert d.settings.ring_timeout_s == 7.0
    await d.login("1003")                        # added: may log in at once
    with pytest.raises(UnknownAgent, match="removed"):
        await d.login("1002")                    # removed: no new login ...
    await d.pause("1002", "break")               # ... but can still be paused
    await d.logout("1002")                       # ... and logged out
    record = await acd.queues.agent("1002")
    assert record.state.status.name == "LOGGED_OUT"
    await acd.store.close()
