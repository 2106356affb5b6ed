"""The session's redis-server is a real Redis that redis-py can talk to, both ways."""

from __future__ import annotations

import redis

from tests.fixtures.redis_server import RedisServer


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
