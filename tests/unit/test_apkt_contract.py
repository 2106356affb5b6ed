"""The APKT wire contract: which stream entries become which requests, and the webhook's
signature check (window, constant-time compare, what a refusal says)."""

from __future__ import annotations

import json

import pytest

from pln123.apkt.contract import (
    SignatureRefused,
    delivery_for,
    sign,
    signature_header,
    verify,
)

SECRET = b"s" * 32
NOW = 1_735_801_200.0
CREATED = {"event": "created", "number": "10000001", "idpel": "512345678901",
           "area_code": "0711", "category": "padam", "caller_number": "081234567890",
           "site": "palembang", "call_id": "call-1", "created_at": "1735801200.000",
           "status": "received", "updated_at": "1735801200.000"}


def test_a_created_entry_is_a_new_ticket_keyed_by_number_and_version() -> None:
    delivery = delivery_for("1735801200000-0", CREATED)
    assert delivery is not None
    assert (delivery.path, delivery.event, delivery.number) == ("/tickets", "created",
                                                                 "10000001")
    assert delivery.idempotency_key == "10000001:1735801200000-0"
    assert json.loads(delivery.body) == {
        "ticket": "10000001", "version": "1735801200000-0", "idpel": "512345678901",
        "area_code": "0711", "category": "padam", "caller_number": "081234567890",
        "site": "palembang", "call_id": "call-1", "created_at": 1735801200.0,
        "status": "received"}
    # the same entry always makes the same bytes: a retry is the same request
    assert delivery_for("1735801200000-0", dict(CREATED)) == delivery


def test_a_status_set_in_pln123_goes_to_apkt_but_one_apkt_reported_does_not() -> None:
    entry = {"event": "status", "number": "10000001", "status": "resolved", "at": "12.5"}
    delivery = delivery_for("5-1", entry)
    assert delivery is not None
    assert delivery.path == "/tickets/10000001/status"
    assert json.loads(delivery.body) == {"ticket": "10000001", "version": "5-1",
                                         "status": "resolved", "at": 12.5}
    assert delivery_for("5-2", {**entry, "source": "apkt", "apkt_at": "12.0"}) is None


def test_entries_apkt_must_not_get_and_broken_ones() -> None:
    assert delivery_for("1-0", {}) is None                    # trimmed away meanwhile
    assert delivery_for("1-0", {"event": "merged", "number": "1"}) is None
    with pytest.raises(ValueError, match="no ticket number"):
        delivery_for("1-0", {"event": "created", "number": "x"})
    with pytest.raises(ValueError, match="incomplete"):
        delivery_for("1-0", {"event": "created", "number": "10000001"})


def test_a_signature_verifies_within_the_window_only() -> None:
    body = b'{"ticket": "10000001"}'
    stamp = str(int(NOW))
    header = signature_header(SECRET, stamp, body)
    assert verify(SECRET, stamp, header, body, NOW) == sign(SECRET, stamp, body)
    assert verify(SECRET, stamp, header, body, NOW + 300) == sign(SECRET, stamp, body)
    for now in (NOW + 301, NOW - 301):
        with pytest.raises(SignatureRefused, match="more than 300 s"):
            verify(SECRET, stamp, header, body, now)


@pytest.mark.parametrize(("stamp", "header", "body", "reason"), [
    (None, "sha256=00", b"{}", "are required"),
    ("1735801200", None, b"{}", "are required"),
    ("17358012x0", "sha256=00", b"{}", "epoch seconds"),
    ("1735801200", "md5=00", b"{}", "sha256="),
    ("1735801200", "sha256=" + "0" * 64, b"{}", "does not match"),
    ("1735801200", signature_header(b"t" * 32, "1735801200", b"{}"), b"{}", "does not match"),
    # signed for another body, or another time
    ("1735801200", signature_header(SECRET, "1735801200", b"{}"), b"{ }", "does not match"),
    ("1735801201", signature_header(SECRET, "1735801200", b"{}"), b"{}", "does not match"),
])
def test_what_is_refused_and_the_refusal_never_tells_the_expected_value(
        stamp: str | None, header: str | None, body: bytes, reason: str) -> None:
    with pytest.raises(SignatureRefused, match=reason) as refused:
        verify(SECRET, stamp, header, body, NOW)
    assert sign(SECRET, stamp or "0", body) not in str(refused.value)
