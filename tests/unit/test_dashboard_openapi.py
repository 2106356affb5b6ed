"""docs/openapi.yaml describes exactly the routes the dashboard serves, no more, no less."""

from __future__ import annotations

from pathlib import Path

import yaml

from pln123.web import API_ROUTES
from pln123.web.api import ROUTES

OPENAPI = Path(__file__).resolve().parents[2] / "docs" / "openapi.yaml"
METHODS = {"get", "post", "put", "patch", "delete"}


def documented() -> set[tuple[str, str]]:
    spec = yaml.safe_load(OPENAPI.read_text(encoding="utf-8"))
    return {(method.upper(), path) for path, item in spec["paths"].items()
            for method in item if method in METHODS}


def test_every_route_is_documented_and_every_documented_route_exists() -> None:
    served = set(API_ROUTES)
    assert served - documented() == set(), "served but not in docs/openapi.yaml"
    assert documented() - served == set(), "in docs/openapi.yaml but not served"
    assert len(served) == len(API_ROUTES)   # no route twice


def test_route_templates_match_only_their_own_paths() -> None:
    by_template = {route.template: route for route in ROUTES}
    site = by_template["/api/sites/{site}"]
    assert site.match("/api/sites/medan") == {"site": "medan"}
    assert site.match("/api/sites/medan/lending") is None
    lending = by_template["/api/sites/{site}/lending"]
    assert lending.match("/api/sites/medan/lending") == {"site": "medan"}
    assert lending.match("/api/sites/medan/reserve") is None
    pause = by_template["/api/sites/{site}/agents/{agent}/pause"]
    assert pause.match("/api/sites/medan/agents/2001/pause") == {"site": "medan",
                                                                  "agent": "2001"}
    assert pause.match("/api/sites/medan/agents/2001/unpause") is None
