"""The outage board, the ticket desk and their store against real Redis, in every topology.

Tests that take `store` or `redis_topology` run three times: on one redis-server, on a
3-primary Cluster and on a Sentinel-managed primary (the boards' keys are hash-tagged, so
their scripts and MULTI/EXEC stay in one Cluster slot). The boards run on a virtual
`Clock`: every timestamp they write must be the clock's, never the wall clock's. Reconnect
tests start their own short-lived redis-server and restart it by PID; everything else
shares the session's servers, flushed per test.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
import redis
from redis.exceptions import AuthenticationError
from structlog.testing import capture_logs
from twisted.internet import reactor
from twisted.internet.defer import gatherResults
from twisted.internet.task import Clock, deferLater

from acd.selfservice.models import Outage, Ticket
from acd.selfservice.outages import CALLER_READ_REUSE_S, RedisOutageBoard
from acd.selfservice.tickets import RedisTicketDesk
from acd.store import RedisStore, RedisStoreService, RetryPolicy, StoreNotStarted
from tests.fixtures.redis_server import RedisServer, start_redis
from tests.fixtures.redis_topology import RedisTarget

pytestmark = pytest.mark.redis

T0 = 1_735_801_200.0  # 2025-01-02 14:00 WIB, the virtual clock's start


def virtual_clock() -> Clock:
    clock = Clock()
    clock.advance(T0)
    return clock


@pytest_twisted.async_yield_fixture
async def store(redis_topology: RedisTarget) -> AsyncIterator[RedisStore]:
    store = RedisStore(redis_topology.url)
    await store.start()
    yield store
    await store.close()


def sync_client(server: RedisServer | RedisTarget) -> redis.Redis | redis.RedisCluster:
    return server.client()


# --- the store ----------------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_store_runs_commands_and_refuses_before_start_and_after_close(
    fresh_redis: RedisServer,
) -> None:
    store = RedisStore(fresh_redis.unix_url)
    with pytest.raises(StoreNotStarted):
        await store.run(lambda client: client.ping())
    await store.start()
    assert await store.run(lambda client: client.set("k", "v")) is True
    assert await store.run(lambda client: client.get("k")) == "v"
    await store.close()
    with pytest.raises(StoreNotStarted):
        await store.run(lambda client: client.ping())


@pytest_twisted.ensureDeferred
async def test_a_failing_command_fails_its_deferred(store: RedisStore) -> None:
    await store.run(lambda client: client.set("text", "not a number"))
    with pytest.raises(redis.ResponseError):
        await store.run(lambda client: client.incr("text"))


@pytest_twisted.ensureDeferred
async def test_commands_succeed_after_redis_restarts(tmp_path: Path) -> None:
    server = start_redis(tmp_path)
    store = RedisStore(server.url, retry=RetryPolicy(retries=10, base_s=0.02, cap_s=0.2))
    try:
        await store.start()
        await store.run(lambda client: client.set("before", "1"))
        server.stop()
        server.start()  # same port; every pooled connection is now dead
        with capture_logs() as logs:
            assert await store.run(lambda client: client.set("after", "2")) is True
        assert any(e["event"] == "redis_attempt_failed" for e in logs)
        assert any(e["event"] == "redis_recovered" for e in logs)

        # Down while a command is in flight: it backs off until the server is back.
        server.stop()
        with capture_logs() as logs:
            pending = store.run(lambda client: client.get("after"))
            await deferLater(reactor, 0.3, lambda: None)
            assert not pending.called
            server.start()
            assert await pending is None  # no persistence: the restart emptied it
        failures = [e for e in logs if e["event"] == "redis_attempt_failed"]
        assert len(failures) >= 2
        assert all(e["redis"] == f"redis://127.0.0.1:{server.port}/0" for e in failures)
    finally:
        await store.close()
        server.stop()


@pytest_twisted.ensureDeferred
async def test_password_is_used_and_never_logged(tmp_path: Path) -> None:
    server = start_redis(tmp_path)
    secret = "s3cret-Pa55word"
    admin = sync_client(server)
    try:
        admin.config_set("requirepass", secret)
        with capture_logs() as logs:
            good = RedisStore(server.url, secret)
            await good.start()
            assert await good.run(lambda client: client.ping()) is True
            await good.close()
            bad = RedisStore(server.url, "wrong", retry=RetryPolicy(retries=0))
            with pytest.raises(AuthenticationError):
                await bad.start()
            await bad.close()
        assert logs
        assert secret not in repr(logs) and secret not in repr(good)
    finally:
        admin.close()
        server.stop()


@pytest_twisted.ensureDeferred
async def test_service_connects_on_start_and_closes_on_stop(
    redis_topology: RedisTarget,
) -> None:
    store = RedisStore(redis_topology.url)
    service = RedisStoreService(store)
    assert not store.started  # built, not connected: that waits for startService
    with capture_logs() as logs:
        service.startService()
        await poll(lambda: any(e["event"] == "redis_connected" for e in logs))
    assert await store.run(lambda client: client.ping()) is True
    await service.stopService()
    assert not store.started


@pytest_twisted.ensureDeferred
async def test_service_starts_even_when_redis_is_down(tmp_path: Path) -> None:
    server = start_redis(tmp_path)
    server.stop()  # its port, now with nobody listening
    store = RedisStore(server.url, retry=RetryPolicy(retries=1, base_s=0.01, cap_s=0.01))
    service = RedisStoreService(store)
    try:
        with capture_logs() as logs:
            service.startService()
            await poll(lambda: any(e["event"] == "redis_unreachable_at_start" for e in logs))
        assert service.running
        server.start()  # Redis comes back: the next command just works
        assert await store.run(lambda client: client.ping()) is True
    finally:
        await service.stopService()
        server.stop()


async def poll(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    for _ in range(int(seconds / 0.02)):
        if condition():
            return
        await deferLater(reactor, 0.02, lambda: None)
    raise AssertionError("condition not met in time")


# --- outages ------------------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_outage_post_list_for_area_and_clear(store: RedisStore) -> None:
    clock = virtual_clock()
    board = RedisOutageBoard(store, clock)
    first = await board.post(("0711", "0721"), "Gangguan gardu induk Keramasan",
                             T0 + 3600, "supervisor-plg")
    assert first == Outage("o-1", ("0711", "0721"), "Gangguan gardu induk Keramasan",
                           T0 + 3600, T0, "supervisor-plg")
    clock.advance(60)
    second = await board.post(("0711",), "Pemeliharaan jaringan", None)
    assert (second.id, second.created_at, second.created_by) == ("o-2", T0 + 60, "cli")

    assert await board.all() == [first, second]
    assert await board.outages_for("0711") == [first, second]
    assert await board.outages_for("0721") == [first]
    assert await board.outages_for("061") == []

    assert await board.clear("o-1") is True
    assert await board.clear("o-1") is False
    assert await board.clear("o-99") is False
    assert await board.outages_for("0721") == []
    assert await board.all() == [second]


@pytest_twisted.ensureDeferred
async def test_an_outage_stays_after_its_restore_time(store: RedisStore) -> None:
    clock = virtual_clock()
    board = RedisOutageBoard(store, clock)
    outage = await board.post(("061",), "Padam meluas di Medan", T0 + 600)
    clock.advance(7200)
    assert await board.outages_for("061") == [outage]


@pytest_twisted.ensureDeferred
async def test_outage_ids_are_unique_across_boards(store: RedisStore,
                                                   redis_topology: RedisTarget) -> None:
    other_store = RedisStore(redis_topology.url)
    await other_store.start()
    try:
        boards = [RedisOutageBoard(store, virtual_clock()),
                  RedisOutageBoard(other_store, virtual_clock())]
        posted = await gatherResults(
            [boards[i % 2].post(("0711",), f"notice {i}", None) for i in range(20)]
        )
        assert len({o.id for o in posted}) == 20
        assert len(await boards[0].all()) == 20
    finally:
        await other_store.close()


@pytest_twisted.ensureDeferred
async def test_the_ivrs_callers_share_one_read_of_the_board(store: RedisStore,
                                                            redis_topology: RedisTarget) -> None:
    """Callers within `reuse_s` of a read, or while it is on the wire, get its board; a
    notice posted elsewhere is heard once `reuse_s` has passed, one posted or cleared
    through the IVR's own board by the very next caller."""
    clock = virtual_clock()
    ivr_board = RedisOutageBoard(store, clock, reuse_s=CALLER_READ_REUSE_S)
    other_store = RedisStore(redis_topology.url)
    await other_store.start()
    try:
        elsewhere = RedisOutageBoard(other_store, clock)   # the CLI, the dashboard
        first = await elsewhere.post(("0711",), "Gangguan gardu induk Keramasan", None)
        before = store.traffic.snapshot()
        together = await gatherResults([ivr_board.outages_for("0711") for _ in range(20)])
        assert together == [[first]] * 20
        clock.advance(CALLER_READ_REUSE_S / 2)
        second = await elsewhere.post(("0711",), "Pemeliharaan jaringan", None)
        assert await ivr_board.outages_for("0711") == [first]   # the shared read
        if store.traffic.counting:
            assert store.traffic.round_trips - before[0] == 1
        clock.advance(CALLER_READ_REUSE_S / 2)
        assert await ivr_board.outages_for("0711") == [first, second]
        assert await ivr_board.clear(first.id) is True
        assert await ivr_board.outages_for("0711") == [second]
        third = await ivr_board.post(("0711",), "Padam meluas", None)
        assert await ivr_board.outages_for("0711") == [second, third]
    finally:
        await other_store.close()


@pytest.mark.parametrize(
    ("areas", "message", "restore", "expected"),
    [
        (("711",), "x", None, "area code '711' is not valid"),
        (("07a1",), "x", None, "area code '07a1' is not valid"),
        (("0711", "00711"), "x", None, "area code '00711' is not valid"),
        (("\u0660\u0667\u0661\u0661",), "x", None, "is not valid"),  # Arabic-Indic digits
        ((), "x", None, "at least one area code"),
        ("0711", "x", None, "not one string"),
        (("0711",), "", None, "message is empty"),
        (("0711",), "   ", None, "message is empty"),
        (("0711",), "x" * 501, None, "501 characters long; the limit is 500"),
        (("0711",), "line one\nline two", None, "control character U+000A"),
        (("0711",), "bell\x07", None, "control character U+0007"),
        (("0711",), "spoof\u202e", None, "control character U+202E"),
        (("0711",), "x", T0 - 1, "restore_at is in the past"),
        (("0711",), "x", float("nan"), "not a time in epoch seconds"),
    ],
)
@pytest_twisted.ensureDeferred
async def test_outage_validation(store: RedisStore, areas: Any, message: str,
                                 restore: float | None, expected: str) -> None:
    board = RedisOutageBoard(store, virtual_clock())
    with pytest.raises(ValueError, match=re.escape(expected)):
        await board.post(areas, message, restore)
    assert await board.all() == []


@pytest_twisted.ensureDeferred
async def test_a_message_of_500_characters_with_indonesian_text_is_fine(
    store: RedisStore,
) -> None:
    board = RedisOutageBoard(store, virtual_clock())
    text = ("Pemadaman bergilir — perkiraan pulih pukul 18.00 WIB. " * 10)[:500]
    outage = await board.post(("0711",), text, None)
    assert (await board.all())[0].message == outage.message == text.strip()


@pytest_twisted.ensureDeferred
async def test_an_unreadable_board_entry_is_skipped(store: RedisStore,
                                                    redis_topology: RedisTarget) -> None:
    board = RedisOutageBoard(store, virtual_clock())
    good = await board.post(("0711",), "ok", None)
    client = sync_client(redis_topology)
    client.hset(board.keys.board, "o-hand-edited", "{not json")
    client.hset(board.keys.board, "o-other", json.dumps({"areas": ["0711"]}))
    client.close()
    with capture_logs() as logs:
        assert await board.outages_for("0711") == [good]
    assert sum(e["event"] == "outage_entry_unreadable" for e in logs) == 2


# --- tickets ------------------------------------------------------------------------------


def file_ticket(desk: RedisTicketDesk, n: int = 0, **overrides: str) -> Any:
    fields = {"idpel": "512345678901", "area_code": "0711", "category": "padam",
              "caller_number": "081234567890", "site": "palembang", "call_id": f"call-{n}"}
    fields.update(overrides)
    return desk.create(**fields)


@pytest_twisted.ensureDeferred
async def test_ticket_create_find_and_status(store: RedisStore,
                                             redis_topology: RedisTarget) -> None:
    clock = virtual_clock()
    desk = RedisTicketDesk(store, clock)
    ticket = await file_ticket(desk)
    assert ticket == Ticket("10000001", "512345678901", "0711", "padam", "081234567890",
                            "palembang", "call-0", T0, "received")
    clock.advance(5)
    assert (await file_ticket(desk, 1)).number == "10000002"

    assert await desk.find("10000001") == ticket
    assert await desk.find("10000099") is None
    assert await desk.find("1") is None
    with pytest.raises(ValueError, match="digits only"):
        await desk.find("1000000#")

    clock.advance(60)
    assert await desk.set_status("10000001", "dispatched") is True
    assert await desk.set_status("10000099", "dispatched") is False
    with pytest.raises(ValueError, match="not one of received, dispatched, on_site, resolved"):
        await desk.set_status("10000001", "lost")
    found = await desk.find("10000001")
    assert found is not None and found.status == "dispatched"

    client = sync_client(redis_topology)
    try:
        entries = client.xrange(desk.keys.stream)
        assert [fields["event"] for _, fields in entries] == ["created", "created", "status"]
        created = entries[0][1]
        assert created["number"] == "10000001" and created["idpel"] == "512345678901"
        assert created["created_at"] == f"{T0:.3f}"
        assert entries[2][1] == {"event": "status", "number": "10000001",
                                 "status": "dispatched", "at": f"{T0 + 65:.3f}"}
        ttl = client.ttl(desk.keys.ticket("10000001"))
        assert 89 * 86400 < ttl <= 90 * 86400
    finally:
        client.close()


@pytest_twisted.ensureDeferred
async def test_fifty_concurrent_tickets_from_two_processes_get_distinct_numbers(
    store: RedisStore, redis_topology: RedisTarget,
) -> None:
    other_store = RedisStore(redis_topology.url)  # a second pln123's connection pool
    await other_store.start()
    try:
        desks = [RedisTicketDesk(store, virtual_clock()),
                 RedisTicketDesk(other_store, virtual_clock())]
        tickets = await gatherResults([file_ticket(desks[n % 2], n) for n in range(50)])
        numbers = {t.number for t in tickets}
        assert len(numbers) == 50
        assert all(len(n) == 8 and n.isdigit() for n in numbers)
        assert numbers == {str(10_000_001 + i) for i in range(50)}
        for ticket in tickets:
            assert await desks[0].find(ticket.number) == ticket
        client = sync_client(redis_topology)
        assert client.xlen(desks[0].keys.stream) == 50
        client.close()
    finally:
        await other_store.close()


@pytest_twisted.ensureDeferred
async def test_the_ticket_stream_is_bounded(store: RedisStore,
                                            redis_topology: RedisTarget) -> None:
    desk = RedisTicketDesk(store, virtual_clock(), stream_maxlen=20)
    for start in range(0, 400, 50):
        await gatherResults([file_ticket(desk, n) for n in range(start, start + 50)])
    client = sync_client(redis_topology)
    try:
        length = client.xlen(desk.keys.stream)
        # MAXLEN ~ trims whole stream nodes (100 entries by default), never below 20.
        assert 20 <= length <= 20 + 100
        assert await desk.find("10000001") is not None  # the hash outlives the stream entry
    finally:
        client.close()


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("idpel", "51234567890", "IDPEL '51234567890' is not valid"),
        ("idpel", "5123456789012", "12 digits"),
        ("idpel", "51234567890a", "12 digits"),
        ("idpel", "\uff15" * 12, "12 digits"),  # full-width digits
        ("area_code", "711", "area code '711' is not valid"),
        ("category", "Padam", "category 'Padam' is not valid"),
        ("category", "", "category '' is not valid"),
        ("site", "Palembang", "site 'Palembang' is not valid"),
        ("call_id", "", "call id '' is not valid"),
        ("call_id", "a b", "call id"),
    ],
)
@pytest_twisted.ensureDeferred
async def test_ticket_validation(store: RedisStore, redis_topology: RedisTarget, field: str,
                                 value: str, expected: str) -> None:
    desk = RedisTicketDesk(store, virtual_clock())
    with pytest.raises(ValueError, match=re.escape(expected)):
        await file_ticket(desk, **{field: value})
    assert redis_topology.dbsize() == 0  # nothing written, not even a number taken


@pytest_twisted.ensureDeferred
async def test_a_withheld_caller_number_is_accepted(store: RedisStore) -> None:
    desk = RedisTicketDesk(store, virtual_clock())
    ticket = await file_ticket(desk, caller_number="")
    assert (await desk.find(ticket.number)) == ticket


@pytest.mark.parametrize(("sent", "recorded"), [
    ("0812 3456", "08123456"),
    ("0812\r\nAction: x", "0812"),
    ("<0812-3456>", "08123456"),
    ("+62 812 3456 7890", "+6281234567890"),
    ("1" * 41, ""),          # too long to be a number: unknown, never a wrong number
    ("anonymous", ""),
    ("\uff10\uff18\uff11\uff12", ""),  # full-width digits are not ASCII digits
])
@pytest_twisted.ensureDeferred
async def test_any_caller_number_files_the_ticket_with_the_number_cleaned(
        store: RedisStore, redis_topology: RedisTarget, sent: str, recorded: str) -> None:
    desk = RedisTicketDesk(store, virtual_clock())
    ticket = await file_ticket(desk, caller_number=sent)
    assert ticket.caller_number == recorded
    assert (await desk.find(ticket.number)) == ticket
    client = sync_client(redis_topology)
    try:
        ((_, created),) = client.xrange(desk.keys.stream)
        assert created["caller_number"] == recorded
        assert client.hget(desk.keys.ticket(ticket.number), "caller_number") == recorded
    finally:
        client.close()
