"""The IVR's audit entry on a real Redis: in the ACD's batch of decisions when it can be,
on its own when a value cannot be packed, the same entry either way."""

from __future__ import annotations

from typing import Any

import pytest_twisted
from twisted.internet.task import deferLater

from acd.audit import AuditLog, ivr_entry
from acd.intake import IVRPath
from acd.store.keys import SiteKeys
from acd.store.redis import RedisStore
from tests.doubles.acd import SITE, request, settings, virtual_clock
from tests.doubles.telephony import FakeTelephony
from tests.fixtures.redis_server import RedisServer
from tests.harness.acd import start_acd
from tests.harness.reactor import reactor

T0 = 1_735_801_200.0


def path(call_id: str, caller_number: str) -> IVRPath:
    return IVRPath(call_id=call_id, site=SITE, entered_at=T0, left_at=T0 + 12.5,
                   outcome="queued", caller_number=caller_number, area_code="0711",
                   region="Palembang", steps=((T0, "call_started"), (T0 + 9, "handed_off")))


async def audit_entries(store: RedisStore, keys: SiteKeys, within_s: float = 5.0
                        ) -> list[dict[str, str]]:
    """The site's audit stream, once it has anything in it (or [] after `within_s`)."""
    async def read(client: Any) -> list[dict[str, str]]:
        return [fields for _id, fields in await client.xrange(keys.audit)]

    deadline = reactor.seconds() + within_s
    while not (found := await store.run(read)) and reactor.seconds() < deadline:
        await deferLater(reactor, 0.05, lambda: None)
    return found


@pytest_twisted.ensureDeferred
async def test_the_entry_shares_the_round_trip_of_the_decision_made_with_it(
        fresh_redis: RedisServer) -> None:
    acd = await start_acd(fresh_redis, settings(), FakeTelephony(), virtual_clock())
    keys = SiteKeys(SITE, acd.queues.keys.pool)
    log = AuditLog(acd.store, keys, 1000, queues=acd.queues)
    try:
        trace: list[tuple[str, ...]] = []
        acd.store.traffic.trace = trace                     # each round trip's commands
        placed = acd.distributor.enqueue(request("c1"))    # one decision ...
        log.ivr_path(path("c1", "0711555"))                 # ... and the entry, same turn
        await placed
        acd.store.traffic.trace = None
        # One batch (loading the script first if this Redis has not seen it yet), no XADD
        # round trip of its own.
        assert trace and set(trace) <= {("EVALSHA",), ("SCRIPT LOAD",)}, trace
        entries = await audit_entries(acd.store, keys)
        assert [e for e in entries if e["event"] == "ivr"] == [ivr_entry(path("c1", "0711555"))]
        assert [e["call"] for e in entries if e["event"] != "ivr"][:1] == ["c1"]  # the offer
    finally:
        await acd.store.close()


@pytest_twisted.ensureDeferred
async def test_a_value_that_cannot_be_packed_is_appended_on_its_own(
        fresh_redis: RedisServer) -> None:
    acd = await start_acd(fresh_redis, settings(), FakeTelephony(), virtual_clock())
    keys = SiteKeys(SITE, acd.queues.keys.pool)
    odd = "0711\x1f555"   # a caller id with the packing's unit separator in it
    try:
        AuditLog(acd.store, keys, 1000, queues=acd.queues).ivr_path(path("c2", odd))
        assert await audit_entries(acd.store, keys) == [ivr_entry(path("c2", odd))]
    finally:
        await acd.store.close()
