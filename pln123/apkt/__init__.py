"""The connector to APKT, PLN's complaint application (docs/apkt.md).

Tickets filed in the IVR reach APKT through the outbox (`sender`), and APKT's status
changes come back through a signed webhook (`webhook`) into the ticket the caller's next
call reads. The two builders below are what the composition roots call: `pln123 serve`
runs a sender per process, the dashboard's web server mounts the webhook.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from twisted.internet.interfaces import IReactorTime

from acd.selfservice.apkt_status import ApktStatusDesk
from acd.selfservice.outbox import TicketOutbox
from acd.store.redis import RedisStore
from pln123.apkt.http import AgentPoster
from pln123.apkt.sender import ApktSender, Backoff
from pln123.apkt.webhook import ApktWebhook
from pln123.config.apkt import ApktSettings

__all__ = ["ApktSender", "ApktWebhook", "build_sender", "build_webhook"]


def build_sender(settings: ApktSettings, store: RedisStore, reactor: Any,
                 consumer: str) -> ApktSender:
    """The sender, reading as `consumer` (the site's name: a restarted process of the site
    picks up exactly what its predecessor left pending). Reads the token file now."""
    retry = settings.retry
    return ApktSender(
        TicketOutbox(store, consumer),
        AgentPoster(reactor, settings.url, settings.read_token(), timeout_s=settings.timeout_s),
        reactor,
        backoff=Backoff(**asdict(retry)),
        batch=settings.concurrency, claim_idle_s=settings.claim_idle_s,
        backfill_s=settings.backfill_s)


def build_webhook(settings: ApktSettings, store: RedisStore,
                  clock: IReactorTime) -> ApktWebhook:
    """The webhook resource for `/apkt`. Reads the shared secret file now."""
    return ApktWebhook(ApktStatusDesk(store, clock), settings.read_webhook_secret(), clock)
