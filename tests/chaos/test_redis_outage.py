"""Redis stopped for ~20 s while callers arrive and ask for an agent, then started again.

`pln123 serve` runs as a real process against the sandbox Asterisk. Its Redis is a server
of this test's own with AOF on (as production runs it), so the ready agents are still
there when it comes back. While it is down every caller who asks for an agent hears
music and the hand-off retries; once it answers, every caller still on the line is
queued and answered by an agent, and none is left on music without a call record. A
caller who hangs up during the outage leaves nothing behind in Redis.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
import pytest_twisted
import redis
from twisted.internet.task import deferLater

from acd.store.keys import SiteKeys
from ivr.ami import variable_header
from tests.chaos.harness import AREA, INBOUND, SITE, Scene
from tests.fixtures.redis_server import RedisServer
from tests.harness.ami import connect
from tests.harness.reactor import poll, reactor

AGENTS = ["1001", "1002"]
STAYING = ["0811000601", "0811000602", "0811000603", "0811000604"]
LEAVING = "0811000609"
OUTAGE_S = 20.0
# Each agent's phone answers and talks 3 s (`test-agent`); wrap-up 1 s.
PHONE = "test-agent"
KEYS = SiteKeys(SITE, SITE)  # pooling is off in these tests: the site is its own pool



async def call(scene: Scene, number: str, hang_up_after: float | None = None) -> None:
    """A caller pressing 0 for an agent; holding 90 s, or hanging up after `hang_up_after`."""
    assert scene.admin is not None
    variables = {"DTMF": "0", "PAUSE": "1", "HOLD": "90"}
    if hang_up_after is not None:
        variables["HANGUP_AFTER"] = f"{hang_up_after:g}"
    await scene.admin.send_action("Originate", {
        "Channel": f"Local/{AREA}123@{INBOUND}", "Context": "test-caller", "Exten": "s",
        "Priority": "1", "CallerID": f'"Pelanggan" <{number}>', "Async": "true",
        "Variable": variable_header(variables)})


def events(scene: Scene, name: str) -> list[dict[str, object]]:
    found = []
    for line in scene.serve.log_text().splitlines():
        if f'"{name}"' in line:
            entry = json.loads(line)
            if entry.get("event") == name:
                found.append(entry)
    return found


async def sleep(seconds: float) -> None:
    await deferLater(reactor, seconds, lambda: None)


def db(server: RedisServer) -> redis.Redis:
    return redis.Redis(unix_socket_path=str(server.unix_socket), decode_responses=True)


def calls(server: RedisServer) -> list[dict[str, str]]:
    """Every call record the site's ACD holds, whatever its state."""
    with db(server) as client:
        return [client.hgetall(key) for key in client.scan_iter(KEYS.calls_pattern)]


def answered(server: RedisServer, number: str) -> bool:
    found = [c for c in calls(server) if c.get("caller_number") == number]
    return bool(found) and bool(found[-1].get("answered_at"))


def agent_state(server: RedisServer, agent_id: str) -> str:
    with db(server) as client:
        return str(client.hget(KEYS.agent(agent_id), "state") or "")


@pytest.mark.timeout(150)
@pytest_twisted.ensureDeferred
async def test_callers_asking_during_a_redis_outage_are_answered_once_it_is_back(
    chaos_scene: Callable[..., Scene], stoppable_redis: RedisServer,
) -> None:
    scene = chaos_scene(AGENTS, redis=stoppable_redis, phone=PHONE)
    scene.serve.start()
    # Asterisk is watched by asking (CoreShowChannels), as sandbox-admin.
    scene.admin = await connect(scene.instance, user="sandbox-admin", events="call")
    try:
        for agent_id in AGENTS:
            scene.agent_cli("login", agent_id)
            await poll(lambda a=agent_id: agent_state(stoppable_redis, a) == "ready", 30,
                       f"agent {agent_id} ready")
        # Both agents stay ready: the callers Redis never saw must still reach them.
        stoppable_redis.stop()
        down_at = reactor.seconds()
        await call(scene, LEAVING, hang_up_after=8)
        for number in STAYING:
            await call(scene, number)
            await sleep(1.5)
        await poll(lambda: len({e["call_id"] for e in events(scene, "ivr_handoff_retry")})
                   >= len(STAYING) + 1, 15, "every caller's hand-off retrying")
        channels = [c["Channel"] for c in await scene.channels()
                    if INBOUND in c["Channel"] and c["Channel"].endswith(";2")]
        assert len(channels) >= len(STAYING)  # on music, not dropped
        await sleep(max(0.0, OUTAGE_S - (reactor.seconds() - down_at)))
        stoppable_redis.start()
        for number in STAYING:
            await poll(lambda n=number: answered(stoppable_redis, n), 45,
                       f"caller {number} answered by an agent")
        numbers = [c.get("caller_number") for c in calls(stoppable_redis)]
        assert LEAVING not in numbers  # hung up before Redis answered: nothing kept
        (leaver,) = [e["call_id"] for e in events(scene, "ivr_call_started")
                     if e.get("caller_number") == LEAVING]
        assert leaver in {e["call_id"] for e in events(scene, "ivr_handoff_retry")}
        assert [e["outcome"] for e in events(scene, "ivr_call_ended")
                if e["call_id"] == leaver] == ["caller_hung_up"]
        assert not events(scene, "ivr_handoff_failed")  # nobody heard the apology
        retries = events(scene, "ivr_handoff_retry")
        assert all(int(str(e["attempt"])) >= 1 and float(str(e["delay_s"])) <= 5.5
                   for e in retries)
        recovered = {e["call_id"] for e in events(scene, "ivr_handoff_recovered")}
        assert len(recovered) == len(STAYING) and leaver not in recovered
        # No caller left on music without a record: every caller channel still in
        # Asterisk belongs to a call Redis holds.
        known = {c.get("channel") for c in calls(stoppable_redis)}
        for channel in await scene.channels():
            if INBOUND in channel["Channel"] and channel["Channel"].endswith(";2"):
                assert channel["Channel"] in known, channel
    finally:  # the fixture hangs up whatever channels are left
        scene.serve.stop()
        await scene.admin.stopService()
