"""`pln123 outage add|list|clear` as a supervisor runs it: a subprocess against real Redis.

`--redis-url` points the shipped PLN config at the session's redis-server.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis

from tests.fixtures.redis_server import RedisServer
from tools.sandbox.ports import free_port

pytestmark = pytest.mark.redis


def sync_client(server: RedisServer) -> redis.Redis:
    return redis.Redis.from_url(server.url, decode_responses=True)


CONFIG = Path(__file__).resolve().parents[3] / "deploy" / "config" / "pln.yaml"


def pln123(*args: str, redis_url: str) -> subprocess.CompletedProcess[str]:
    verb, rest = args[0], args[1:]
    command = [sys.executable, "-m", "pln123.cli.main", "outage", verb,
               "--config", str(CONFIG), "--redis-url", redis_url, *rest]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


def test_cli_add_list_clear(fresh_redis: RedisServer) -> None:
    url = fresh_redis.url
    added = pln123("add", "--area", "0711, 0721", "--message", "Gangguan gardu induk",
                   "--restore", "2099-01-02T18:30+07:00", "--by", "spv-plg", redis_url=url)
    assert added.returncode == 0, added.stderr
    assert added.stdout.startswith("posted o-1\n")
    assert pln123("add", "--area", "061", "--message", "Padam Medan",
                  redis_url=fresh_redis.unix_url).returncode == 0

    listed = pln123("list", redis_url=url)
    assert listed.returncode == 0, listed.stderr
    header, first, second = listed.stdout.splitlines()
    assert header.split() == ["ID", "AREAS", "RESTORE", "POSTED", "BY", "MESSAGE"]
    assert first.startswith("o-1  0711,0721") and first.endswith("Gangguan gardu induk")
    assert "spv-plg" in first
    assert second.startswith("o-2  061") and "unknown" in second

    client = sync_client(fresh_redis)
    try:
        stored = json.loads(client.hget("pln:{outages}:board", "o-1") or "")
        assert stored["areas"] == ["0711", "0721"]
        assert stored["restore_at"] == datetime(2099, 1, 2, 11, 30, tzinfo=UTC).timestamp()
    finally:
        client.close()

    cleared = pln123("clear", "o-1", redis_url=url)
    assert (cleared.returncode, cleared.stdout) == (0, "cleared o-1\n")
    again = pln123("clear", "o-1", redis_url=url)
    assert again.returncode == 1 and "no outage 'o-1'" in again.stderr
    assert "o-1" not in pln123("list", redis_url=url).stdout


def test_cli_empty_board(fresh_redis: RedisServer) -> None:
    listed = pln123("list", redis_url=fresh_redis.url)
    assert (listed.returncode, listed.stdout) == (0, "no outages on the board\n")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--area", "0999", "--message", "x"), "area code 0999 is not served by any site"),
        (("--area", "07a1", "--message", "x"), "area code '07a1' is not valid"),
        (("--area", ",", "--message", "x"), "at least one area code"),
        (("--area", "0711", "--message", "x" * 501), "the limit is 500"),
        (("--area", "0711", "--message", "a\tb"), "control character U+0009"),
        (("--area", "0711", "--message", "x", "--restore", "25:00"),
         "neither HH:MM nor an ISO 8601 time"),
        (("--area", "0711", "--message", "x", "--restore", "2020-01-01T00:00"),
         "is in the past"),
    ],
)
def test_cli_bad_input_exits_2_and_writes_nothing(fresh_redis: RedisServer,
                                                  args: tuple[str, ...], expected: str) -> None:
    result = pln123("add", *args, redis_url=fresh_redis.url)
    assert result.returncode == 2
    assert expected in result.stderr
    assert result.stdout == ""
    client = sync_client(fresh_redis)
    assert client.dbsize() == 0
    client.close()


def test_cli_unreachable_redis_exits_1(tmp_path: Path) -> None:
    url = f"redis://127.0.0.1:{free_port(socket.SOCK_STREAM)}/0"
    result = pln123("list", redis_url=url)
    assert result.returncode == 1
    assert f"Redis at {url}" in result.stderr


def test_cli_refuses_urls_it_cannot_use() -> None:
    result = pln123("list", redis_url="redis+sentinel://127.0.0.1:26379")  # no service name
    assert result.returncode == 2
    assert "expected /<service name>" in result.stderr
