"""National pooling and `kill -9`: each site's pln123 is a real `pln123 serve` process
(tests/e2e/serve_harness.py) against its sandbox Asterisk, one Redis. While a medan agent's
phone rings through the trunk for a palembang caller, one site's process is killed and
started again, as systemd would; whatever it was following is recovered from Redis and
Asterisk. Nobody is booked twice and the caller is answered exactly once."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
import yaml

from acd.agents.state import AgentStatus
from ivr.ami import AMIService
from tests.e2e.pooling_harness import (
    Watch,
    agent_fields,
    answered_at,
    events_of,
    hang_up_callers,
    held_once,
    originate_caller,
    queue,
    records,
    status_of,
    watch,
)
from tests.e2e.serve_harness import CONFIG, REPO, ServeProcess, write_config
from tests.e2e.test_acd_restart import poll_async
from tests.fixtures.asterisk_sandbox import SandboxSession
from tests.fixtures.redis_server import RedisServer
from tests.harness.reactor import poll

pytestmark = pytest.mark.asterisk

SITES = ("palembang", "medan")
RING_TIMEOUT_S = 10
# The lent agent's phone rings 6 s, then answers and talks 20 s: a process killed while it
# rings is back (a restart takes a second or two) before the agent answers.
PHONE = "test-agent-slow"


def pooled_config(tmp: Path) -> Path:
    shipped = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))["acd"]["pooling"]
    agents = [{"id": "2001", "name": "Agent 2001", "site": "medan",
               "endpoint": f"Local/2001@{PHONE}", "skills": {"general": 5}}]
    acd = {"ring_timeout_s": RING_TIMEOUT_S, "queues": {"general": {"wrapup_s": 1}},
           "callback_dial": "Local/{number}@test-answer",
           "pooling": {**shipped, "status_every_s": 0.5, "status_ttl_s": 3}}
    return write_config(tmp, agents, acd)


def agent_cli(config: Path, redis_url: str, action: str, agent: str) -> None:
    subprocess.run([sys.executable, "-m", "pln123.cli.main", "agent", action, agent,
                    "--config", str(config), "--redis-url", redis_url],
                   check=True, cwd=REPO, capture_output=True)


class Pool:
    """The two sites' processes and what their Asterisks show sandbox-admin."""

    def __init__(self, sandbox: SandboxSession, redis: RedisServer, tmp: Path):
        self.instances = dict(zip(SITES, sandbox.sites(*SITES), strict=True))
        self.redis = redis
        self.config = pooled_config(tmp)
        self.serve = {site: ServeProcess(self.config, instance, redis.url,
                                         tmp / f"serve-{site}.log")
                      for site, instance in self.instances.items()}
        self.admins: dict[str, AMIService] = {}
        self.seen: dict[str, Watch] = {}

    async def start(self) -> None:
        for site, instance in self.instances.items():
            self.admins[site], self.seen[site] = await watch(instance)
        for serve in self.serve.values():
            serve.start()

    async def close(self) -> None:
        for serve in self.serve.values():
            serve.stop()
        for site, admin in self.admins.items():
            await hang_up_callers(admin, site)
            await admin.stopService()

    def logs(self) -> str:
        return "\n".join(f"--- {site}\n{serve.log_text()[-6000:]}"
                         for site, serve in self.serve.items())


async def ringing_then_killed(pool: Pool, killed: str, number: str,
                              back: str) -> tuple[str, str]:
    """2001 (medan) is ready; a palembang caller is offered them at once and their phone
    rings through the trunk; `killed`'s process dies with `kill -9` during the ring and
    comes back at once (`back` = "ringing") or once the agent has answered ("answered":
    nobody was there to bridge them). Returns the call id and the caller's channel."""
    agent_cli(pool.config, pool.redis.url, "login", "2001")
    await poll(lambda: agent_fields(pool.redis, "medan", "2001").get("state") == "ready",
               20, "2001 logged in")
    await originate_caller(pool.admins["palembang"], "palembang", number, HOLD="120")
    medan = pool.seen["medan"]
    await poll(lambda: bool(medan.remote_calls), 60, "2001's phone ringing via the trunk")
    pool.serve[killed].kill9()
    [remote] = medan.remote_calls
    call_id = remote.get("call") or ""
    found = records(pool.redis, call_id)
    assert list(found) == ["palembang"]
    assert (found["palembang"]["agent"], found["palembang"]["agent_site"]) == ("2001",
                                                                             "medan")
    if back == "answered":
        trunk_leg = remote.get("Channel") or ""
        await poll(lambda: any(p.startswith(f"Local/2001@{PHONE}")
                               for p in medan.partners(trunk_leg)), 20,
                   "2001 answering while the process is down")
    pool.serve[killed].start()                     # systemd's Restart=always
    return call_id, found["palembang"]["channel"]


async def answered_once(pool: Pool, call_id: str, caller: str) -> dict[str, Any]:
    """The caller ends up talking to an agent, exactly once."""
    redis = pool.redis
    await poll(lambda: bool(answered_at(records(redis, call_id))), 90,
               f"call {call_id} answered")
    pal = pool.seen["palembang"]
    await poll(lambda: any(p.startswith("IAX2/pln-medan") for p in pal.partners(caller)),
               20, "the caller bridged with the trunk leg to medan")
    fields = records(redis, call_id)["palembang"]
    assert events_of(redis, "palembang", call_id).count("answered") == 1
    assert pal.bridges_of(caller) == 1, pal.entered
    assert queue(redis, "palembang") == []
    assert held_once(redis, SITES) == []
    return fields


async def no_agent_leg_left(pool: Pool) -> None:
    """Every agent leg at palembang is bridged with a caller: none is left talking to
    nobody (an agent who answered a ring the killed process could no longer bridge)."""
    async def legs() -> list[str]:
        listed = await pool.admins["palembang"].send_list_action("CoreShowChannels")
        return [f"{e.get('Channel')} {e.get('Application')} bridge={e.get('BridgeId')}"
                for e in listed.events
                if (e.get("Channel") or "").startswith("IAX2/")
                and not e.get("BridgeId")]

    left: list[str] = []

    async def none_left() -> bool:
        left[:] = await legs()
        return not left

    await poll_async(none_left, 20, "no unbridged trunk leg at palembang")
    assert left == []


@pytest_twisted.ensureDeferred
@pytest.mark.parametrize(("killed", "back"), [("palembang", "ringing"),
                                              ("palembang", "answered"),
                                              ("medan", "ringing")])
async def test_kill_9_during_a_remote_ring_books_nobody_twice(
        killed: str, back: str, asterisk_sandbox: SandboxSession,
        fresh_redis: RedisServer, tmp_path: Path) -> None:
    pool = Pool(asterisk_sandbox, fresh_redis, tmp_path)
    try:
        await pool.start()
        number = "0811000" + {"ringing": "81", "answered": "82"}[back] + str(len(killed))
        call_id, caller = await ringing_then_killed(pool, killed, number, back)
        fields = await answered_once(pool, call_id, caller)
        # The agent whose phone rang is the one who answers: the ring outlived the killed
        # process and the caller's site followed it to its end (after its restart, if it
        # was the one killed); nobody was paused for a ring they answered.
        assert (fields["agent"], fields["agent_site"]) == ("2001", "medan")
        assert len(pool.seen["medan"].remote_calls) == 1      # the phone rang once
        assert events_of(fresh_redis, "medan", call_id) == ["reserve", "answer"]
        assert "queued" not in events_of(fresh_redis, "palembang", call_id)[1:]
        assert status_of(agent_fields(fresh_redis, "medan", "2001")) is AgentStatus.ON_CALL
        await no_agent_leg_left(pool)
        # The talk ends: the agent goes through wrap-up back to ready, held by nobody.
        await pool.admins["palembang"].send_action("Hangup", {"Channel": caller})
        await poll(lambda: status_of(agent_fields(fresh_redis, "medan", "2001"))
                   is AgentStatus.READY, 30, "2001 ready again after the talk")
        assert records(fresh_redis, call_id)["palembang"]["state"] == "finished"
        assert held_once(fresh_redis, SITES) == []
        if killed == "palembang":
            [resumed] = named(pool.serve["palembang"].log_text(), "acd_ring_resumed")
            assert resumed["call_id"] == call_id
            assert (resumed["state"] == "6") is (back == "answered"), resumed
    except BaseException:
        print(pool.logs())
        raise
    finally:
        await pool.close()


def named(log_text: str, event: str) -> list[dict[str, Any]]:
    return [e for e in (json.loads(line) for line in log_text.splitlines() if line.strip())
            if e.get("event") == event]
