"""Which redis-py client a URL asks for: one server, a Sentinel-managed primary, a Cluster.

This module is the only place in pln123 that knows Redis topologies. The URL says which:

    redis://host:port/db, rediss://host:port/db, unix:///path?db=N      one server
    redis+sentinel://host:port[,host:port...]/service[/db]             Sentinel
    redis+cluster://host:port[,host:port...]                           Cluster

Sentinel: the hosts are the sentinels (port 26379 when omitted), `service` is the name in
their `sentinel monitor` line; redis-py asks them for the primary before every new
connection, so after a failover the next reconnect lands on the promoted replica. The
password from pln123's password file is the data nodes' (`requirepass`); add
`?sentinel_auth=yes` when the sentinels have the same `requirepass` too.

Cluster: the hosts are startup nodes (port 6379 when omitted), any subset of the cluster;
the client learns the rest from CLUSTER SLOTS. Only database 0 exists on a Cluster. Every
key pln123 writes carries a hash tag (`{outages}`, `{tickets}`, `{<site>}`), so each
multi-key script or MULTI/EXEC touches one slot, which is what a Cluster requires.

The password is never part of a URL (the config refuses one there): it comes from the
password file, and `describe_url` gives the only form of a URL that may be logged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias
from urllib.parse import parse_qs, urlsplit

import redis
from redis.asyncio import BlockingConnectionPool, Redis, RedisCluster
from redis.asyncio.cluster import ClusterNode

from acd.store.cluster import ClusterRetry, RetryingRedisCluster
from acd.store.retry import LoggingRetry
from acd.store.sentinel import close_sentinels, sentinel_client
from acd.store.writes import quick_writes

# Concurrent commands per process (a connection each); more wait for a free connection.
MAX_CONNECTIONS = 256

# What every store user receives. Both classes offer the commands pln123 uses (strings,
# hashes, streams, scripts, MULTI/EXEC pipelines); a Sentinel-managed primary is a `Redis`.
Client: TypeAlias = Redis | RedisCluster

SINGLE_SERVER_SCHEMES = ("redis", "rediss", "unix")
SENTINEL_SCHEME = "redis+sentinel"
CLUSTER_SCHEME = "redis+cluster"
DEFAULT_SENTINEL_PORT = 26379
DEFAULT_CLUSTER_PORT = 6379
# Async RedisCluster runs MULTI/EXEC (the ticket desk's) from redis-py 6.2 on.
CLUSTER_MIN_REDIS_PY = (6, 2)

_SERVICE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_HOST = re.compile(r"\[(?P<v6>[0-9A-Fa-f:.]+)\]|(?P<name>[A-Za-z0-9._-]+)")


class UnsupportedTopology(ValueError):
    """The URL names a Redis topology (or a form of one) this build cannot talk to."""


@dataclass(frozen=True)
class Topology:
    """A parsed URL. `nodes` are sentinels or cluster startup nodes; empty for one server."""

    kind: Literal["single", "sentinel", "cluster"]
    nodes: tuple[tuple[str, int], ...] = ()
    service: str = ""
    db: int = 0
    sentinel_auth: bool = False


def parse_url(url: str) -> Topology:
    """The topology `url` names; UnsupportedTopology, with what is wrong, otherwise."""
    try:
        parts = urlsplit(url)
    except ValueError as error:  # an unbalanced [ or ]
        raise UnsupportedTopology(f"not a URL: {error}") from None
    scheme = parts.scheme
    if scheme in SINGLE_SERVER_SCHEMES:
        return Topology("single")
    if scheme not in (SENTINEL_SCHEME, CLUSTER_SCHEME):
        raise UnsupportedTopology(
            f"{scheme or 'no scheme'}: not a Redis URL (redis://, rediss://, unix://, "
            "redis+sentinel:// or redis+cluster://)"
        )
    if "@" in parts.netloc:
        raise UnsupportedTopology(
            f"{scheme}://: put the password in the password file, not in the URL"
        )
    if scheme == CLUSTER_SCHEME:
        nodes = _nodes(parts.netloc, DEFAULT_CLUSTER_PORT, scheme)
        _no_options(parts.query, scheme, allowed=())
        if parts.path.strip("/") not in ("", "0"):
            raise UnsupportedTopology(
                f"{scheme}://: a Redis Cluster has only database 0, not {parts.path!r}"
            )
        return Topology("cluster", nodes)
    nodes = _nodes(parts.netloc, DEFAULT_SENTINEL_PORT, scheme)
    options = _no_options(parts.query, scheme, allowed=("sentinel_auth",))
    segments = parts.path.strip("/").split("/") if parts.path.strip("/") else []
    if not 1 <= len(segments) <= 2 or not _SERVICE.fullmatch(segments[0]):
        raise UnsupportedTopology(
            f"{scheme}://: expected /<service name>[/<db>] after the sentinels, "
            f"e.g. {scheme}://10.0.0.1:26379,10.0.0.2:26379/pln/0"
        )
    db = segments[1] if len(segments) == 2 else "0"
    if not db.isascii() or not db.isdigit():
        raise UnsupportedTopology(f"{scheme}://: database {db!r} is not a number")
    auth = options.get("sentinel_auth", "no")
    if auth not in ("yes", "no"):
        raise UnsupportedTopology(f"{scheme}://: sentinel_auth is yes or no, not {auth!r}")
    return Topology("sentinel", nodes, segments[0], int(db), auth == "yes")


def check_url(url: str) -> None:
    """UnsupportedTopology unless `create_client` can build a client for `url`."""
    topology = parse_url(url)
    if topology.kind == "cluster" and _redis_py_version() < CLUSTER_MIN_REDIS_PY:
        raise UnsupportedTopology(
            f"{CLUSTER_SCHEME}:// needs redis-py >= 6.2 (MULTI/EXEC on a Cluster); "
            f"this is {redis.__version__}"
        )


def describe_url(url: str) -> str:
    """The URL without credentials or options: what may appear in a log line.

    `redis://:secret@10.0.0.5:6380/2?foo=bar` -> `redis://10.0.0.5:6380/2`;
    `unix:///run/redis.sock?db=1` -> `unix:///run/redis.sock?db=1`;
    `redis+sentinel://a,b:26380/pln` -> `redis+sentinel://a:26379,b:26380/pln/0`.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return "(unparsable URL)"
    if parts.scheme in (SENTINEL_SCHEME, CLUSTER_SCHEME):
        try:
            topology = parse_url(url)
        except UnsupportedTopology:
            return f"{parts.scheme}://(unparsable)"
        hosts = ",".join(f"{_bracketed(host)}:{port}" for host, port in topology.nodes)
        if topology.kind == "cluster":
            return f"{parts.scheme}://{hosts}"
        return f"{parts.scheme}://{hosts}/{topology.service}/{topology.db}"
    if parts.scheme == "unix":
        db = parse_qs(parts.query).get("db", ["0"])[0]
        return f"unix://{parts.path}?db={db}"
    try:
        port = parts.port or 6379
    except ValueError:
        port = 0
    db = parts.path.lstrip("/") or parse_qs(parts.query).get("db", ["0"])[0]
    return f"{parts.scheme}://{_bracketed(parts.hostname or 'localhost')}:{port}/{db}"


def create_client(
    url: str,
    password: str | None,
    retry: LoggingRetry,
    *,
    connect_timeout_s: float = 2.0,
    command_timeout_s: float = 5.0,
) -> Client:
    """Build the redis-py client the URL asks for; nothing connects until a command runs.

    Responses are decoded as UTF-8: every value pln123 writes is text. `command_timeout_s`
    bounds every read; a future blocking read (XREAD BLOCK) needs its own client or a
    longer timeout.
    """
    check_url(url)
    topology = parse_url(url)
    common: dict[str, Any] = {
        "password": password,
        "socket_connect_timeout": connect_timeout_s,
        "socket_timeout": command_timeout_s,
        "decode_responses": True,
    }
    if topology.kind == "cluster":
        return RetryingRedisCluster(
            startup_nodes=[ClusterNode(host, port) for host, port in topology.nodes],
            retry=ClusterRetry(retry.policy, retry.where),
            **common,
        )
    if topology.kind == "sentinel":
        return sentinel_client(
            list(topology.nodes), topology.service, topology.db,
            password=password, sentinel_auth=topology.sentinel_auth, retry=retry,
            connect_timeout_s=connect_timeout_s, command_timeout_s=command_timeout_s,
            max_connections=MAX_CONNECTIONS,
        )
    # A pool that waits for a free connection instead of failing: redis-py's default pool
    # raises MaxConnectionsError on the 101st concurrent command, which the load test hit
    # at 300 concurrent calls (docs/benchmarks.md).
    pool = BlockingConnectionPool.from_url(url, max_connections=MAX_CONNECTIONS,
                                           timeout=command_timeout_s, retry=retry, **common)
    pool.connection_class = quick_writes(pool.connection_class)
    return Redis(connection_pool=pool, retry=retry)


async def close_client(client: Client) -> None:
    """Close every connection `client` holds, a Sentinel client's sentinels included."""
    try:
        await client.aclose()
    finally:
        if isinstance(client, Redis):
            await close_sentinels(client)


def _nodes(netloc: str, default_port: int, scheme: str) -> tuple[tuple[str, int], ...]:
    if not netloc:
        raise UnsupportedTopology(f"{scheme}://: name at least one host:port")
    nodes: list[tuple[str, int]] = []
    for item in netloc.split(","):
        host_part, port_text = item, ""
        if item.startswith("["):
            close = item.find("]")
            host_part, port_text = item[: close + 1], item[close + 1 :].removeprefix(":")
            if close < 0 or (item[close + 1 :] and not item[close + 1 :].startswith(":")):
                raise UnsupportedTopology(f"{scheme}://: {item!r} is not host:port")
        elif ":" in item:
            host_part, _, port_text = item.rpartition(":")
        match = _HOST.fullmatch(host_part)
        if match is None:
            raise UnsupportedTopology(f"{scheme}://: {item!r} is not host:port")
        if port_text and not (port_text.isascii() and port_text.isdigit()
                              and 0 < int(port_text) < 65536):
            raise UnsupportedTopology(f"{scheme}://: {item!r} has no valid port")
        host = match.group("v6") or match.group("name")
        nodes.append((host, int(port_text) if port_text else default_port))
    return tuple(nodes)


def _no_options(query: str, scheme: str, allowed: tuple[str, ...]) -> dict[str, str]:
    """The query's options; an unknown one is refused rather than silently ignored."""
    options = {name: values[-1] for name, values in parse_qs(query).items()}
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise UnsupportedTopology(
            f"{scheme}://: unknown option {', '.join(unknown)}"
            + (f" (only {', '.join(allowed)})" if allowed else " (it takes none)")
        )
    return options


def _bracketed(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _redis_py_version() -> tuple[int, int]:
    major, minor, *_ = [*(int(p) if p.isdigit() else 0 for p in redis.__version__.split(".")),
                        0, 0]
    return major, minor
