"""docs/apkt-openapi.yaml says what the code does: paths, headers, fields and statuses."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from acd.selfservice.models import TICKET_STATUSES
from pln123.apkt.contract import (
    SIGNATURE_HEADER,
    TICKETS_PATH,
    TIMESTAMP_HEADER,
    delivery_for,
)
from pln123.apkt.webhook import PATH

SPEC: dict[str, Any] = yaml.safe_load(
    (Path(__file__).resolve().parents[2] / "docs" / "apkt-openapi.yaml").read_text("utf-8"))
SCHEMAS = SPEC["components"]["schemas"]
CREATED = {"event": "created", "number": "10000001", "idpel": "512345678901",
           "area_code": "0711", "category": "padam", "caller_number": "0812",
           "site": "palembang", "call_id": "c-1", "created_at": "1.000", "status": "received"}


def test_the_paths_are_the_ones_served_and_called() -> None:
    assert set(SPEC["paths"]) == {TICKETS_PATH, f"{TICKETS_PATH}/{{ticket}}/status",
                                  f"/apkt/{PATH.decode()}"}


def test_the_statuses_are_the_ticket_desks() -> None:
    assert tuple(SCHEMAS["Status"]["enum"]) == TICKET_STATUSES


def test_the_bodies_sent_have_exactly_the_documented_fields() -> None:
    created = delivery_for("5-0", CREATED)
    status = delivery_for("6-0", {"event": "status", "number": "10000001",
                                  "status": "resolved", "at": "2.0"})
    assert created is not None and status is not None
    assert set(json.loads(created.body)) == set(SCHEMAS["NewTicket"]["required"])
    assert set(json.loads(status.body)) == set(SCHEMAS["StatusUpdate"]["required"])


def test_the_webhook_headers() -> None:
    documented = {p["name"] for p in SPEC["paths"]["/apkt/webhook"]["post"]["parameters"]}
    assert documented == {TIMESTAMP_HEADER, SIGNATURE_HEADER}
