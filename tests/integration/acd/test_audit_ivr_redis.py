"""The IVR's audit entry on a real Redis: in the ACD's batch of decisions when it can be,
on its own when a value cannot be packed, the same entry either way."""

from __future__ import annotations

from typing import Any

import pytest_twisted

from acd.audit import AuditLog, ivr_entry
from acd.intake import IVRPath
from acd.store.keys import SiteKeys
from tests.doubles.acd import SITE, request, settings, virtual_clock
from tests.doubles.telephony import FakeTelephony
from tests.fixtures.redis_server import RedisServer
from tests.harness.acd import start_acd
from tests.harness.reactor import poll

T0 = 1_735_801_200.0


def path(call_id: str, caller_number: str) -> IVRPath:
    return IVRPath(call_id=call_id, site=SITE, entered_at=T0, left_at=T0 + 12.5,
                   outcome="queued", caller_number=caller_number, area_code="0711",
                   region="Palembang", steps=((T0, "call_started"), (T0 + 9, "handed_off")))


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
        await acd.distributor.settle()

        async def entries(client: Any) -> list[dict[str, str]]:
            return [fields for _id, fields in await client.xrange(keys.audit)]

        found: list[dict[str, str]] = []

        async def logged() -> bool:
            found[:] = [e for e in await acd.store.run(entries) if e["event"] == "ivr"]
            return bool(found)

        await poll_until(logged)
        assert found == [ivr_entry(path("c1", "0711555"))]
        offered = [e for e in await acd.store.run(entries) if e["event"] != "ivr"]
        assert offered and offered[0]["call"] == "c1"
    finally:
        await acd.store.close()


@pytest_twisted.ensureDeferred
async def test_a_value_that_cannot_be_packed_is_appended_on_its_own(
        fresh_redis: RedisServer) -> None:
    acd = await start_acd(fresh_redis, settings(), FakeTelephony(), virtual_clock())
    keys = SiteKeys(SITE, acd.queues.keys.pool)
    log = AuditLog(acd.store, keys, 1000, queues=acd.queues)
    odd = "0711\x1f555"   # a caller id with the packing's unit separator in it
    try:
        log.ivr_path(path("c2", odd))

        async def entries(client: Any) -> list[dict[str, str]]:
            return [fields for _id, fields in await client.xrange(keys.audit)]

        found: list[dict[str, str]] = []

        async def logged() -> bool:
            found[:] = await acd.store.run(entries)
            return bool(found)

        await poll_until(logged)
        assert found == [ivr_entry(path("c2", odd))]
    finally:
        await acd.store.close()


async def poll_until(check: Any) -> None:
    done: list[bool] = [False]

    async def once() -> None:
        done[0] = await check()

    for _ in range(100):
        await once()
        if done[0]:
            return
        await poll(lambda: True, 0.05, "a moment")
    raise AssertionError("the audit entry never appeared")
