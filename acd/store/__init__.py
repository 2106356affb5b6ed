"""Redis access for the ACD and self-service: one store bridging redis-py to Deferreds.

One server, a Sentinel-managed primary or a Cluster, chosen by the URL (see
`acd.store.topology`); callers see the same `RedisStore` and `Client` on all three.
"""

from acd.store.clock import timestamp
from acd.store.redis import RedisStore, StoreNotStarted, text
from acd.store.retry import LoggingRetry, RetryPolicy
from acd.store.service import RedisStoreService
from acd.store.topology import (
    Client,
    Topology,
    UnsupportedTopology,
    check_url,
    create_client,
    describe_url,
    parse_url,
)

__all__ = [
    "Client",
    "LoggingRetry",
    "RedisStore",
    "RedisStoreService",
    "RetryPolicy",
    "StoreNotStarted",
    "Topology",
    "UnsupportedTopology",
    "check_url",
    "create_client",
    "describe_url",
    "parse_url",
    "text",
    "timestamp",
]
