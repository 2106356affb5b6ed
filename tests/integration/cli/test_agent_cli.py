"""`pln123 agent login|logout|pause|ready ID`: checked against the roster, then one entry on
the agent's site's command stream, as a supervisor runs it (a subprocess, real Redis).

`--redis-url` points the shipped PLN config at the session's redis-server. Bad input is
refused before Redis is touched, so those cases also run in-process through `main`
(tests/unit/test_agent_cli_in_process.py).
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

from pln123.cli.agent import STREAM_MAXLEN
from tests.fixtures.redis_server import RedisServer
from tools.sandbox.ports import free_port

CONFIG = Path(__file__).resolve().parents[3] / "deploy" / "config" / "pln.yaml"
# The shipped config pools every site in `national`: the streams are in its slot.
PALEMBANG = "acd:{national}:palembang:agent-commands"
MEDAN = "acd:{national}:medan:agent-commands"


def pln123(*args: str, redis_url: str) -> subprocess.CompletedProcess[str]:
    verb, rest = args[0], args[1:]
    command = [sys.executable, "-m", "pln123.cli.main", "agent", verb,
               "--config", str(CONFIG), "--redis-url", redis_url, *rest]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


def entries(server: RedisServer, key: str) -> list[tuple[str, dict[str, str]]]:
    client = redis.Redis.from_url(server.url, decode_responses=True)
    try:
        return [(entry_id, dict(fields)) for entry_id, fields in client.xrange(key)]
    finally:
        client.close()


# -- against Redis ---------------------------------------------------------------------------


def test_each_verb_appends_one_command_to_the_agents_site(fresh_redis: RedisServer) -> None:
    before = time.time()
    for args in (("login", "1001"), ("pause", "1001", "--reason", "42"), ("ready", "1001"),
                 ("logout", "1001"), ("login", "2003")):
        result = pln123(*args, redis_url=fresh_redis.url)
        assert result.returncode == 0, result.stderr
        assert result.stderr == ""
    palembang = entries(fresh_redis, PALEMBANG)
    assert [(f["action"], f["agent"], f["reason"], f["source"]) for _, f in palembang] == [
        ("login", "1001", "", "cli"), ("pause", "1001", "42", "cli"),
        ("ready", "1001", "", "cli"), ("logout", "1001", "", "cli"),
    ]
    for _, fields in palembang:
        assert set(fields) == {"agent", "action", "reason", "at", "source"}
        assert before - 1 <= float(fields["at"]) <= time.time() + 1
    # Medan's agent goes to Medan's pln123, and nowhere else.
    medan = entries(fresh_redis, MEDAN)
    assert [(f["action"], f["agent"]) for _, f in medan] == [("login", "2003")]


def test_the_output_names_agent_site_and_entry(fresh_redis: RedisServer) -> None:
    result = pln123("pause", "1007", "--reason", "3", redis_url=fresh_redis.url)
    assert result.returncode == 0, result.stderr
    (entry_id, _), = entries(fresh_redis, PALEMBANG)
    assert result.stdout == ("queued pause for agent 1007 (Hendra Saputra, palembang) reason 3: "
                             f"{PALEMBANG} {entry_id}\n")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("login", "9999"), "no agent '9999' in the roster of"),
        (("login", "12"), "'12' is not an agent id (3 to 8 digits)"),
        (("pause", "1001", "--reason", "12345"), "'12345' is not a reason code (1 to 4 digits)"),
        (("pause", "1001", "--reason", "4#"), "is not a reason code"),
        (("pause", "1001"), "the following arguments are required: --reason"),
        (("ready", "1001", "--reason", "4"), "unrecognized arguments: --reason 4"),
    ],
)
def test_bad_input_exits_2_and_writes_nothing(fresh_redis: RedisServer,
                                              args: tuple[str, ...], expected: str) -> None:
    result = pln123(*args, redis_url=fresh_redis.url)
    assert result.returncode == 2
    assert expected in result.stderr
    assert result.stdout == ""
    client = redis.Redis.from_url(fresh_redis.url)
    try:
        assert client.dbsize() == 0
    finally:
        client.close()


def test_unreachable_redis_exits_1() -> None:
    url = f"redis://127.0.0.1:{free_port(socket.SOCK_STREAM)}/0"
    result = pln123("login", "1001", redis_url=url)
    assert result.returncode == 1
    assert f"Redis at {url}" in result.stderr and result.stdout == ""


def test_the_stream_stays_bounded(fresh_redis: RedisServer) -> None:
    client = redis.Redis.from_url(fresh_redis.url)
    try:
        pipe = client.pipeline(transaction=False)
        for _ in range(STREAM_MAXLEN + 2_000):
            pipe.xadd(PALEMBANG, {"agent": "1001", "action": "ready"})
        pipe.execute()
        assert pln123("ready", "1001", redis_url=fresh_redis.url).returncode == 0
        # MAXLEN ~ trims whole macro nodes (100 entries by default), never below the bound.
        assert STREAM_MAXLEN <= client.xlen(PALEMBANG) < STREAM_MAXLEN + 200
    finally:
        client.close()
