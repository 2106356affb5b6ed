"""Redis access for the ACD and self-service: one store bridging redis-py to Deferreds."""

from acd.store.clock import timestamp
from acd.store.redis import (
    Client,
    LoggingRetry,
    RedisStore,
    RetryPolicy,
    StoreNotStarted,
    UnsupportedTopology,
    create_client,
    describe_url,
    text,
)
from acd.store.service import RedisStoreService

__all__ = [
    "Client",
    "LoggingRetry",
    "RedisStore",
    "RedisStoreService",
    "RetryPolicy",
    "StoreNotStarted",
    "UnsupportedTopology",
    "create_client",
    "describe_url",
    "text",
    "timestamp",
]
