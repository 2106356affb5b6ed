"""`/metrics` for Prometheus: per-site, per-skill gauges and counters (docs/dashboard.md).

A custom collector over a snapshot read from Redis at scrape time: the figures are the
site views `/api/sites/{site}` returns (`ViewReader.all_sites`), so Prometheus and the
dashboard never disagree, and no process has to keep metric objects in step with Redis.
The counters are today's totals (the 15-minute intervals since local midnight): they reset
once a day, which Prometheus' rate() and increase() treat as a counter reset.

Access: a supervisor's session, or the wallboard token as `Authorization: Bearer <token>`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any

import structlog
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from twisted.internet.defer import Deferred
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request

from pln123.web.views import ViewReader
from pln123.web.web import Auth, security_headers, write_json

log = structlog.get_logger("pln123.web.exporter")

CONTENT_TYPE = b"text/plain; version=0.0.4; charset=utf-8"
STATES = ("ready", "on_call", "wrap_up", "paused", "phone_down", "logged_in")
RATIOS = (("service_level", "pln123_service_level_ratio",
           "Answered within T / answered; absent with no answered call"),
          ("service_level_2", "pln123_service_level2_ratio",
           "(Answered + abandoned within T) / (answered + abandoned)"),
          ("abandon_rate", "pln123_abandon_ratio", "Hung up while queued / calls queued"),
          ("asa_s", "pln123_asa_seconds", "Mean queue wait of answered calls, ring included"))
COUNTS = (("offered", "pln123_calls_offered", "Calls queued today"),
          ("answered", "pln123_calls_answered", "Calls answered today"),
          ("answered_in_sl", "pln123_calls_answered_in_sl", "Answered within T today"),
          ("abandoned", "pln123_calls_abandoned", "Callers who hung up while queued today"),
          ("pooled_in", "pln123_pooled_in",
           "This site's callers another site's agent answered today (borrowed)"),
          ("pooled_out", "pln123_pooled_out",
           "Other sites' callers this site's agents answered today (lent)"),
          ("pool_trunk_failed", "pln123_pool_trunk_failed",
           "Rings of another site's agent whose trunk call failed today"))


class SnapshotCollector(Collector):
    """Yields the families for a list of site views (`ViewReader.site` dicts)."""

    def __init__(self, views: Sequence[dict[str, Any]], apkt: dict[str, Any] | None = None):
        self.views = views
        self.apkt = apkt   # the APKT outbox's backlog (ViewReader.apkt), if connected

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("pln123_site_up", "1 while the site publishes its status",
                               labels=["site"])
        waiting = GaugeMetricFamily("pln123_queue_waiting_calls", "Calls waiting now",
                                    labels=["site", "skill"])
        longest = GaugeMetricFamily("pln123_queue_longest_wait_seconds",
                                    "Wait of the oldest caller still queued",
                                    labels=["site", "skill"])
        ewt = GaugeMetricFamily("pln123_queue_expected_wait_seconds",
                                "EWT for a new caller; +Inf when nobody serves the skill",
                                labels=["site", "skill"])
        lent = GaugeMetricFamily("pln123_agents_lent",
                                 "The site's agents ringing or talking for another site now",
                                 labels=["site"])
        borrowed = GaugeMetricFamily("pln123_calls_borrowed",
                                     "The site's calls ringing or talking with another "
                                     "site's agent now", labels=["site"])
        lending = GaugeMetricFamily("pln123_lending_enabled",
                                    "1 unless a supervisor switched the site's lending off",
                                    labels=["site"])
        reserve_sl = GaugeMetricFamily("pln123_reserve_sl_agents",
                                       "The auto reserve's service-level part now",
                                       labels=["site"])
        agents = GaugeMetricFamily("pln123_agents", "Agents with the skill, by state",
                                   labels=["site", "skill", "state"])
        deflected = CounterMetricFamily(
            "pln123_calls_deflected", "Callers who heard their open ticket's status in the "
            "IVR and hung up without an agent today", labels=["site"])
        ratios = {key: GaugeMetricFamily(name, text, labels=["site", "skill", "window"])
                  for key, name, text in RATIOS}
        counts = {key: CounterMetricFamily(name, text, labels=["site", "skill"])
                  for key, name, text in COUNTS}
        for view in self.views:
            site = view["site"]
            up.add_metric([site], 1.0 if view["up"] else 0.0)
            pooling = view["pooling"]
            lent.add_metric([site], pooling["lent_now"])
            borrowed.add_metric([site], pooling["borrowed_now"])
            lending.add_metric([site], 1.0 if pooling["lending_on"] else 0.0)
            reserve_sl.add_metric([site], pooling["reserve_sl"])
            deflected.add_metric([site], view["today"]["deflected"])
            for skill in view["skills"]:
                labels = [site, skill["skill"]]
                waiting.add_metric(labels, skill["waiting"])
                longest.add_metric(labels, skill["longest_wait_s"])
                ewt.add_metric(labels, math.inf if skill["ewt_s"] is None else skill["ewt_s"])
                for state in STATES:
                    agents.add_metric([*labels, state], skill["agents"][state])
                for window, figures in (("15m", skill["live"]), ("today", skill["today"])):
                    for key, gauge in ratios.items():
                        if figures[key] is not None:
                            gauge.add_metric([*labels, window], figures[key])
                for key, counter in counts.items():
                    counter.add_metric(labels, skill["today"][key])
        yield from (up, lent, borrowed, lending, reserve_sl, waiting, longest, ewt, agents,
                    *ratios.values(), *counts.values(), deflected)
        if self.apkt is not None:
            yield from apkt_families(self.apkt)


def apkt_families(backlog: dict[str, Any]) -> Iterator[Metric]:
    """The APKT outbox: tickets and updates APKT has not accepted yet, and since when."""
    yield GaugeMetricFamily("pln123_apkt_backlog_entries",
                            "Ticket events not yet accepted by APKT", value=backlog["backlog"])
    yield GaugeMetricFamily("pln123_apkt_backlog_oldest_seconds",
                            "Age of the oldest ticket event not yet accepted by APKT (0: none)",
                            value=backlog["oldest_age_s"] or 0.0)
    yield GaugeMetricFamily("pln123_apkt_dead_letters",
                            "Ticket events APKT refused for good (kept for an operator)",
                            value=backlog["dead_letters"])


def render_metrics(views: Sequence[dict[str, Any]], apkt: dict[str, Any] | None = None
                   ) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector(views, apkt))
    return generate_latest(registry)


class MetricsResource(Resource):
    isLeaf = True  # noqa: N815 - twisted.web's name

    def __init__(self, views: ViewReader, auth: Auth):
        super().__init__()  # type: ignore[no-untyped-call]
        self.views = views
        self.auth = auth

    def render_GET(self, request: Request) -> object:
        principal = self.auth.principal(request)
        if principal is None:
            write_json(request, 401, {"error": "send the wallboard token as a bearer token"},
                       {b"WWW-Authenticate": b'Bearer realm="pln123"'})
            return NOT_DONE_YET
        if principal.role.kind == "agent":   # the agent desktop's sessions see their own
            write_json(request, 403, {"error": "an agent's session reaches the agent "
                                               "desktop only"})
            return NOT_DONE_YET

        def done(figures: tuple[list[dict[str, Any]], dict[str, Any] | None]) -> None:
            if request.finished or getattr(request, "_disconnected", False):
                return
            security_headers(request)
            request.setHeader(b"Content-Type", CONTENT_TYPE)
            request.write(render_metrics(*figures))
            request.finish()

        def failed(failure: Any) -> None:
            log.error("metrics_scrape_failed", error=str(failure.value))
            write_json(request, 503, {"error": "the shared store is unavailable"})

        async def read() -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
            return await self.views.all_sites(), await self.views.apkt()

        Deferred.fromCoroutine(read()).addCallbacks(done, failed)
        return NOT_DONE_YET
