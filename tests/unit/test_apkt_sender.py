"""The APKT sender on a virtual clock: backoff between attempts, the same request every
retry, acknowledged only after a 2xx, dead letters for what retrying cannot fix, the order
of one ticket's events, and a restart picking up what was left pending."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.task import Clock, deferLater

from acd.selfservice.outbox import OutboxEntry
from pln123.apkt.contract import Delivery
from pln123.apkt.sender import ApktSender, Backoff, verdict

T0 = 1_735_801_200.0


def created(number: str) -> dict[str, str]:
    return {"event": "created", "number": number, "idpel": "512345678901",
            "area_code": "0711", "category": "padam", "caller_number": "0812",
            "site": "palembang", "call_id": f"c-{number}", "created_at": "1.000",
            "status": "received"}


def status(number: str, value: str, **more: str) -> dict[str, str]:
    return {"event": "status", "number": number, "status": value, "at": "2.000", **more}


class FakeOutbox:
    """The consumer group's bookkeeping in memory: the stream, and what is pending."""

    consumer = "palembang"
    clock = Clock()   # each test sets its own: an empty read blocks for a second on it

    def __init__(self, entries: list[OutboxEntry] | None = None):
        self.stream = list(entries or [])
        self.delivered = 0           # how far `new` has read
        self.pending: dict[str, OutboxEntry] = {}
        self.acked: list[str] = []
        self.dead: list[tuple[str, str]] = []
        self.touched: list[str] = []    # retried entries kept from other consumers' claims
        self.redis_down = 0          # fail this many calls first

    def add(self, entry_id: str, fields: dict[str, str]) -> None:
        self.stream.append(OutboxEntry(entry_id, fields))

    def _call(self, result: Callable[[], Any]) -> Deferred[Any]:
        if self.redis_down:
            self.redis_down -= 1
            return fail(ConnectionError("redis away"))
        return succeed(result())

    def ensure_group(self, since_ms: int) -> Deferred[bool]:
        return self._call(lambda: True)

    def own_pending(self, count: int) -> Deferred[list[OutboxEntry]]:
        return self._call(lambda: list(self.pending.values())[:count])

    def claim_idle(self, min_idle_ms: int, count: int) -> Deferred[list[OutboxEntry]]:
        return self._call(list)

    def new(self, count: int, block_ms: int) -> Deferred[list[OutboxEntry]]:
        def read() -> list[OutboxEntry]:
            batch = self.stream[self.delivered:self.delivered + count]
            self.delivered += len(batch)
            self.pending.update({entry.id: entry for entry in batch})
            return batch

        if self.delivered == len(self.stream) and not self.redis_down:
            return deferLater(self.clock, 1.0, list)   # XREADGROUP BLOCK, nothing came
        return self._call(read)

    def touch(self, entry_id: str) -> Deferred[None]:
        self.touched.append(entry_id)
        return self._call(lambda: None)

    def ack(self, entry_id: str) -> Deferred[None]:
        def ack() -> None:
            self.pending.pop(entry_id, None)
            self.acked.append(entry_id)

        return self._call(ack)

    def dead_letter(self, entry: OutboxEntry, reason: str) -> Deferred[None]:
        def move() -> None:
            self.pending.pop(entry.id, None)
            self.dead.append((entry.id, reason))

        return self._call(move)


class FakeApkt:
    """Answers each POST with the next code (None: no answer), then 201; records them."""

    def __init__(self, *codes: int | None):
        self.codes = list(codes)
        self.posts: list[Delivery] = []

    def post(self, delivery: Delivery) -> Deferred[int]:
        self.posts.append(delivery)
        code = self.codes.pop(0) if self.codes else 201
        if code is None:
            return fail(ConnectionRefusedError("APKT down"))
        return succeed(code)


def running(outbox: FakeOutbox, apkt: FakeApkt, clock: Clock, **options: Any) -> ApktSender:
    outbox.clock = clock
    options.setdefault("backoff", Backoff(initial_s=1, factor=2, max_s=8))
    sender = ApktSender(outbox, apkt, clock, block_ms=0, **options)  # type: ignore[arg-type]
    sender.start()
    return sender


def test_backoff_doubles_up_to_its_cap() -> None:
    backoff = Backoff(initial_s=1, factor=2, max_s=8)
    assert [backoff.delay(n) for n in range(1, 7)] == [1, 2, 4, 8, 8, 8]
    assert Backoff(initial_s=1, factor=2, max_s=300).delay(10_000) == 300


def test_verdicts() -> None:
    create = Delivery("1", "created", "/tickets", b"{}", "1:1-0")
    update = Delivery("1", "status", "/tickets/1/status", b"{}", "1:2-0")
    backoff = Backoff(unknown_ticket_attempts=3)
    assert [verdict(code, create, 1, backoff) for code in (200, 201, 204)] == ["ok"] * 3
    assert [verdict(code, create, 1, backoff) for code in (400, 413, 415, 422)] == ["dead"] * 4
    # the token refused, a hiccup, a queue full, no answer: an operator or time fixes those
    assert [verdict(code, create, 9, backoff) for code in (None, 401, 403, 404, 429, 500,
                                                           503)] == ["retry"] * 7
    assert verdict(404, update, 2, backoff) == "retry"   # the creation may still be on its way
    assert verdict(404, update, 3, backoff) == "dead"


def test_failed_deliveries_are_retried_with_backoff_then_acknowledged_once() -> None:
    clock = Clock()
    clock.advance(T0)
    outbox = FakeOutbox([OutboxEntry("1-0", created("10000001"))])
    apkt = FakeApkt(503, None, 500, 201)
    sender = running(outbox, apkt, clock)
    assert len(apkt.posts) == 1 and outbox.acked == []
    clock.advance(0.999)
    assert len(apkt.posts) == 1           # the first wait is 1 s
    clock.advance(0.001)
    assert len(apkt.posts) == 2
    clock.advance(1.999)
    assert len(apkt.posts) == 2           # then 2 s
    clock.advance(0.001)
    assert len(apkt.posts) == 3
    assert outbox.acked == []             # nothing acknowledged before APKT accepted it
    clock.advance(4)
    assert len(apkt.posts) == 4
    assert outbox.acked == ["1-0"] and outbox.pending == {}
    assert {post.idempotency_key for post in apkt.posts} == {"10000001:1-0"}
    assert len({post.body for post in apkt.posts}) == 1
    assert (sender.delivered, sender.failed_attempts) == (1, 3)
    assert outbox.touched == ["1-0"] * 3      # before each retry
    clock.advance(100)
    assert len(apkt.posts) == 4
    sender.stop()


def test_a_stop_leaves_the_entry_pending_and_a_restart_sends_it_first() -> None:
    clock = Clock()
    outbox = FakeOutbox([OutboxEntry("1-0", created("10000001"))])
    apkt = FakeApkt(503)
    sender = running(outbox, apkt, clock)
    stopped = sender.stop()      # during the wait after the failure
    assert stopped.called
    assert list(outbox.pending) == ["1-0"] and outbox.acked == []
    outbox.add("2-0", created("10000002"))
    restarted = running(outbox, apkt, clock)
    assert [post.idempotency_key for post in apkt.posts] == [
        "10000001:1-0", "10000001:1-0", "10000002:2-0"]
    assert outbox.acked == ["1-0", "2-0"]
    restarted.stop()


def test_one_tickets_events_go_in_order_others_do_not_wait_for_it() -> None:
    clock = Clock()
    outbox = FakeOutbox([OutboxEntry("1-0", created("10000001")),
                         OutboxEntry("2-0", created("10000002")),
                         OutboxEntry("3-0", status("10000001", "resolved"))])
    apkt = FakeApkt(503)          # the first ticket's creation fails once
    sender = running(outbox, apkt, clock)
    assert [(p.number, p.event) for p in apkt.posts] == [("10000001", "created"),
                                                        ("10000002", "created")]
    assert outbox.acked == ["2-0"]
    clock.advance(1)
    assert [(p.number, p.event) for p in apkt.posts][2:] == [("10000001", "created"),
                                                            ("10000001", "status")]
    assert outbox.acked == ["2-0", "1-0", "3-0"]
    sender.stop()


def test_refusals_go_to_the_dead_letters_and_apkts_own_statuses_are_not_sent_back() -> None:
    clock = Clock()
    outbox = FakeOutbox([OutboxEntry("1-0", created("10000001")),
                         OutboxEntry("2-0", status("10000002", "dispatched", source="apkt")),
                         OutboxEntry("3-0", {"event": "created", "number": "10000003"}),
                         OutboxEntry("4-0", status("10000004", "resolved"))])
    apkt = FakeApkt(422, 404, 404, 404)
    sender = running(outbox, apkt, clock, backoff=Backoff(initial_s=1, factor=2, max_s=8,
                                                         unknown_ticket_attempts=3))
    clock.advance(1)
    clock.advance(2)
    assert [p.number for p in apkt.posts] == ["10000001", "10000004", "10000004",
                                              "10000004"]
    assert sorted(outbox.acked) == ["2-0"]
    assert [(entry, reason.split(" ")[0]) for entry, reason in sorted(outbox.dead)] == [
        ("1-0", "APKT"), ("3-0", "entry"), ("4-0", "APKT")]
    assert "422" in dict(outbox.dead)["1-0"] and "404 after 3" in dict(outbox.dead)["4-0"]
    assert sender.dead == 3 and outbox.pending == {}
    sender.stop()


def test_redis_away_is_waited_out_with_backoff() -> None:
    clock = Clock()
    outbox = FakeOutbox([OutboxEntry("1-0", created("10000001"))])
    outbox.redis_down = 2
    apkt = FakeApkt()
    sender = running(outbox, apkt, clock)
    assert apkt.posts == []
    clock.advance(1)
    clock.advance(2)
    assert outbox.acked == ["1-0"]
    sender.stop()


@pytest.mark.parametrize("code", [None, 503])
def test_secrets_never_reach_the_log(code: int | None) -> None:
    from structlog.testing import capture_logs

    clock = Clock()
    outbox = FakeOutbox([OutboxEntry("1-0", created("10000001"))])
    with capture_logs() as logs:
        sender = running(outbox, FakeApkt(code), clock)
        clock.advance(1)
        sender.stop()
    failed = [line for line in logs if line["event"] == "apkt_delivery_failed"]
    assert failed and failed[0]["ticket"] == "10000001"
    assert not any("Bearer" in str(line) or "idpel" in str(line) for line in logs)
