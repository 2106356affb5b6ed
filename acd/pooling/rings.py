"""Ring requests: reservations another site's agent made for this site's calls.

Only the site whose Asterisk holds the caller can bridge them, so when an agent of
another site becomes ready and takes one of this site's waiting calls, the matching script
adds a ring request to this site's stream (`SiteKeys.rings`, acd/store/keys.py) in the same
atomic step as the reservation; one of this site's processes reads it and rings the agent
through the trunk (`Distributor.ring_requested` checks the reservation still stands).
"""

from __future__ import annotations

from collections.abc import Mapping

from acd.distributor import Distributor
from acd.store.keys import SiteKeys
from acd.store.redis import RedisStore
from acd.store.stream import StreamConsumer


def ring_requests(store: RedisStore, keys: SiteKeys,
                  distributor: Distributor) -> StreamConsumer:
    """The consumer of the site's ring requests."""
    async def handle(fields: Mapping[str, str]) -> None:
        await distributor.ring_requested(fields["call"], fields["agent"],
                                         fields["agent_site"], int(fields["version"]))

    return StreamConsumer(store, keys.rings, handle, "ring_request")
