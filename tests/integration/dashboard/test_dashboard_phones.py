"""The dashboard shows an agent whose phone is down: ready, yet offered no caller, counted
apart from the ready agents (tiles, skills, the agent's row, /metrics)."""

from __future__ import annotations

import pytest_twisted
from twisted.internet.task import Clock

from acd.agents.state import AgentEvent, AgentState, AgentStatus
from acd.queues.store import QueueStore
from acd.telephony import PhoneState
from tests.fixtures.redis_server import RedisServer
from tests.harness.dashboard import SETTINGS, Client, Running, run

READY = AgentState(AgentStatus.READY)


@pytest_twisted.ensureDeferred
async def test_a_ready_agent_whose_phone_is_down_is_shown_apart(
        fresh_redis: RedisServer) -> None:
    async def test(running: Running, client: Client, clock: Clock) -> None:
        queues = QueueStore(running.store, "palembang", SETTINGS)
        now = clock.seconds()
        for agent_id in ("1001", "1002"):
            await queues.change(agent_id, 0, AgentEvent.LOGIN, READY, now,
                                skills={"general": 5, "billing": 3})
        await queues.phone_change("1001", PhoneState.UNREGISTERED, now)
        await client.login("nas")
        overview = (await client.get("/api/sites")).json()
        tile = next(t for t in overview["sites"] if t["site"] == "palembang")
        assert tile["agents"] == {"ready": 1, "on_call": 0, "wrap_up": 0, "paused": 0,
                                  "phone_down": 1, "logged_in": 2}
        site = (await client.get("/api/sites/palembang")).json()
        rows = {a["id"]: a for a in site["agents"]}
        assert (rows["1001"]["state"], rows["1001"]["phone"]) == ("ready", "unregistered")
        assert (rows["1002"]["state"], rows["1002"]["phone"]) == ("ready", "available")
        general = next(s for s in site["skills"] if s["skill"] == "general")
        assert (general["agents"]["ready"], general["agents"]["phone_down"]) == (1, 1)
        assert general["serving"] == 1

    await run(fresh_redis, test)
