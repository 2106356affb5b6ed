"""The APKT connector's Redis side against a real Redis: the signed status webhook on the
dashboard's web server (what the caller's next call reads), the outbox's consumer group
and backlog (on `/api/sites` and `/metrics` too), and the lookups by IDPEL and caller."""

from __future__ import annotations

import json
from typing import Any

import pytest
import pytest_twisted
from twisted.internet.task import Clock

from acd.selfservice.apkt_status import ApktStatusDesk
from acd.selfservice.lookups import RedisTicketLookup, caller_key
from acd.selfservice.outbox import TicketOutbox
from acd.selfservice.tickets import RedisTicketDesk
from acd.store.redis import RedisStore
from pln123.apkt.contract import signature_header
from pln123.apkt.webhook import ApktWebhook
from tests.fixtures.redis_server import RedisServer
from tests.harness.dashboard import T0, TOKEN, Client, Running, run

pytestmark = pytest.mark.redis

SECRET = b"apkt-webhook-secret-0123456789abcdef"


def file_ticket(desk: RedisTicketDesk, n: int = 0, **overrides: str) -> Any:
    fields = {"idpel": "512345678901", "area_code": "0711", "category": "padam",
              "caller_number": "081234567890", "site": "palembang", "call_id": f"call-{n}"}
    fields.update(overrides)
    return desk.create(**fields)


def mount(running: Running, clock: Clock) -> None:
    running.dashboard.putChild(b"apkt", ApktWebhook(ApktStatusDesk(running.store, clock),
                                                    SECRET, clock))


def signed(change: dict[str, Any], *, at: float = T0, secret: bytes = SECRET
           ) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(change).encode()
    stamp = str(int(at))
    return body, {"Content-Type": "application/json", "X-APKT-Timestamp": stamp,
                  "X-APKT-Signature": signature_header(secret, stamp, body)}


async def hook(client: Client, body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
    reply = await client.request("POST", "/apkt/webhook", raw=body, headers=headers)
    return reply.code, reply.json()


@pytest_twisted.ensureDeferred
async def test_a_signed_status_is_what_the_next_call_reads_and_forgeries_change_nothing(
        fresh_redis: RedisServer) -> None:
    async def test(running: Running, client: Client, clock: Clock) -> None:
        mount(running, clock)
        desk = RedisTicketDesk(running.store, clock)
        ticket = await file_ticket(desk)
        change = {"ticket": ticket.number, "status": "on_site", "at": T0 + 1800,
                  "event_id": "apkt-ev-1"}
        clock.advance(2000)
        body, headers = signed(change, at=T0 + 2000)

        # forged (another secret), too old, too new, unsigned: 401, nothing changes
        forged = signed(change, at=T0 + 2000, secret=b"x" * 36)
        for attempt in (forged, signed(change, at=T0 + 2000 - 301),
                        signed(change, at=T0 + 2000 + 301), (body, {})):
            assert (await hook(client, *attempt))[0] == 401
        assert (await desk.find(ticket.number)).status == "received"   # type: ignore[union-attr]

        assert await hook(client, body, headers) == (200, {"outcome": "applied"})
        found = await desk.find(ticket.number)
        assert found is not None
        assert (found.status, found.status_at) == ("on_site", T0 + 1800)

        # the very same request again: a replay, refused; APKT's own retry (new timestamp,
        # same event) changes nothing either, but is answered as done
        assert (await hook(client, body, headers))[0] == 401
        clock.advance(5)
        assert await hook(client, *signed(change, at=T0 + 2005)) == (
            200, {"outcome": "duplicate"})
        # an older status arriving late does not undo the newer one
        late = {**change, "status": "dispatched", "at": T0 + 900, "event_id": "apkt-ev-0"}
        assert await hook(client, *signed(late, at=T0 + 2005)) == (200, {"outcome": "stale"})
        assert (await desk.find(ticket.number)).status == "on_site"    # type: ignore[union-attr]

        unknown = {**change, "ticket": "10000099", "event_id": "apkt-ev-9"}
        assert (await hook(client, *signed(unknown, at=T0 + 2005)))[0] == 404
        for broken in ({**change, "status": "lost", "event_id": "e-2"},
                       {"ticket": ticket.number}):
            code, reply = await hook(client, *signed(broken, at=T0 + 2005))
            assert code == 400, reply
        assert (await client.get("/apkt/webhook")).code == 405
        assert (await client.request("POST", "/apkt/other", raw=body,
                                     headers=headers)).code == 404

        entries = await running.store.run(lambda c: c.xrange(desk.keys.stream))
        statuses = [fields for _id, fields in entries if fields["event"] == "status"]
        assert statuses == [{"event": "status", "number": ticket.number, "status": "on_site",
                             "at": f"{T0 + 2000:.3f}", "source": "apkt",
                             "apkt_at": f"{T0 + 1800:.3f}"}]

    await run(fresh_redis, test)


@pytest_twisted.ensureDeferred
async def test_the_outbox_group_pending_claims_dead_letters_and_backlog(
        fresh_redis: RedisServer) -> None:
    async def test(running: Running, client: Client, clock: Clock) -> None:
        store = running.store
        desk = RedisTicketDesk(store, clock)
        first = TicketOutbox(store, "palembang")
        assert await first.backlog(T0) is None       # the connector never ran
        assert (await client.get("/api/sites", headers=bearer())).json()["apkt"] is None

        assert await first.ensure_group(0) is True
        assert await first.ensure_group(0) is False
        tickets = [await file_ticket(desk, n) for n in range(3)]
        backlog = await first.backlog(T0)
        assert backlog is not None and (backlog.size, backlog.dead) == (3, 0)
        assert backlog.oldest_age_s is not None

        taken = await first.new(2, 0)
        assert [e.fields["number"] for e in taken] == [t.number for t in tickets[:2]]
        await first.ack(taken[0].id)
        # a restart of the same site: its unacknowledged entry comes back first
        again = TicketOutbox(store, "palembang")
        assert [e.id for e in await again.own_pending(10)] == [taken[1].id]
        # another site's process takes over what was held too long, unless it is touched
        other = TicketOutbox(store, "medan")
        await again.touch(taken[1].id)
        assert await other.claim_idle(60_000, 10) == []
        assert [e.id for e in await other.claim_idle(0, 10)] == [taken[1].id]
        assert await again.own_pending(10) == []
        await other.dead_letter(taken[1], "APKT answered 422 after 1 attempts")
        backlog = await first.backlog(T0)
        assert backlog is not None and (backlog.size, backlog.dead) == (1, 1)
        dead = await store.run(lambda c: c.xrange(desk.keys.apkt_dead))
        assert dead[0][1]["reason"].startswith("APKT answered 422")
        assert dead[0][1]["number"] == tickets[1].number

        overview = (await client.get("/api/sites", headers=bearer())).json()
        assert overview["apkt"]["backlog"] == 1 and overview["apkt"]["dead_letters"] == 1
        metrics = (await client.get("/metrics", headers=bearer())).body.decode()
        assert "pln123_apkt_backlog_entries 1.0" in metrics
        assert "pln123_apkt_dead_letters 1.0" in metrics
        assert "pln123_apkt_backlog_oldest_seconds" in metrics

    await run(fresh_redis, test, apkt=True)


def bearer() -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKEN}"}


@pytest_twisted.ensureDeferred
async def test_open_tickets_by_idpel_and_by_caller_with_their_latest_status(
        fresh_redis: RedisServer) -> None:
    clock = Clock()
    clock.advance(T0)
    store = RedisStore(fresh_redis.url)
    await store.start()
    try:
        desk = RedisTicketDesk(store, clock)
        lookup = RedisTicketLookup(store, clock)
        old = await file_ticket(desk, 0, caller_number="+62 812-3456-7890")
        clock.advance(40 * 86400)                      # older than 30 days from here on
        a = await file_ticket(desk, 1, caller_number="081234567890")
        clock.advance(60)
        b = await file_ticket(desk, 2, caller_number="6281234567890")
        clock.advance(60)
        other = await file_ticket(desk, 3, idpel="512345678902", caller_number="0711555000")
        done = await file_ticket(desk, 4)
        await desk.set_status(done.number, "resolved")
        await desk.set_status(a.number, "dispatched")

        found = await lookup.open_by_idpel("512345678901")
        assert [t.number for t in found] == [b.number, a.number]   # newest first
        assert [t.status for t in found] == ["received", "dispatched"]
        assert found[1].status_at == T0 + 40 * 86400 + 120
        assert old.number not in [t.number for t in found]
        for variant in ("081234567890", "+6281234567890", "6281234567890", "81234567890"):
            assert [t.number for t in await lookup.open_by_caller(variant)] == [
                b.number, a.number], variant
        assert [t.number for t in await lookup.open_by_caller("0711-555000")] == [other.number]
        assert await lookup.open_by_caller("anonymous") == []
        assert await lookup.open_by_idpel("999999999999") == []
        with pytest.raises(ValueError, match="12 digits"):
            await lookup.open_by_idpel("1234")
        assert caller_key("+62 812 3456 7890") == caller_key("0812-3456-7890") == "81234567890"
    finally:
        await store.close()
