"""The session's redis-server is a real Redis that redis-py can talk to, both ways; the
launcher behind it (tools/redis_server.py) also serves the simulator and the demo."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis

from tests.fixtures.availability import skip_or_fail
from tests.fixtures.redis_server import RedisServer, RedisServerError, find_redis_server
from tools.redis_server import start_redis


def test_ping_and_info_over_tcp(redis_server: RedisServer) -> None:
    client = redis.Redis.from_url(redis_server.url)
    try:
        assert client.ping() is True
        info = client.info("server")
        assert info["redis_version"]
        assert info["tcp_port"] == redis_server.port
    finally:
        client.close()


def test_unix_socket_and_no_persistence(fresh_redis: RedisServer) -> None:
    client = redis.Redis(unix_socket_path=str(fresh_redis.unix_socket))
    try:
        client.set("pln123:fixture", "ok")
        assert client.get("pln123:fixture") == b"ok"
        assert client.config_get("save")["save"] == ""
        assert client.config_get("appendonly")["appendonly"] == "no"
    finally:
        client.close()


def test_fresh_redis_is_empty(fresh_redis: RedisServer) -> None:
    client = redis.Redis.from_url(fresh_redis.url)
    try:
        assert client.dbsize() == 0
    finally:
        client.close()


def test_the_launcher_alone_listens_on_a_private_socket_and_cleans_up() -> None:
    """What the simulator and the demo start: no TCP port, a temporary directory of its
    own (mode 700), stopped by PID and removed at the end of the `with` block."""
    try:
        server = start_redis(tcp=False, prefix="pln123-test-")
    except RedisServerError as error:
        skip_or_fail(str(error))
    with server:
        assert server.port == 0 and server.url == server.unix_url
        assert server.directory.stat().st_mode & 0o777 == 0o700
        client = server.client()
        try:
            assert client.config_get("port")["port"] == "0"
            assert client.config_get("save")["save"] == ""
        finally:
            client.close()
        pid = server.pid
        assert pid is not None and server.alive()
    assert not server.alive() and not server.directory.exists()
    assert not Path(f"/proc/{pid}").exists()   # stopped and reaped


def test_a_stopped_server_starts_again_on_its_port(tmp_path: Path) -> None:
    try:
        server = start_redis(tmp_path)
    except RedisServerError as error:
        skip_or_fail(str(error))
    try:
        port = server.port
        server.kill()
        assert not server.ping()
        server.start()
        assert server.port == port and server.ping()
        assert server.config_file.read_text().count(f"port {port}\n") == 1
    finally:
        server.stop()


def test_a_server_that_cannot_start_says_why(tmp_path: Path) -> None:
    if find_redis_server() is None:
        skip_or_fail("no redis-server")
    with pytest.raises(RedisServerError, match="exited"):
        start_redis(tmp_path, extra_args=("--no-such-option", "1"))
