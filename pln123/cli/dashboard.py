"""`pln123 dashboard --config FILE [--listen HOST:PORT]`: the dashboard on its own.

The dashboard reads and writes Redis only, so it can run apart from every site's pln123
(one for the whole nation, next to Redis), for all the config's sites: the shipped systemd
units do so (`pln123-dashboard.service`, and `pln123@.service` runs `serve --no-dashboard`),
so nothing a browser sends can take CPU from a site's calls. `pln123 serve` can still
mount the same resource (`dashboard_resource`) on its own reactor, e.g. for a lab.
Requests are not access-logged: the wallboard's first request carries its token in the
query string.

Exit statuses: 0 stopped by a signal; 2 bad config or arguments.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from twisted.internet.interfaces import IListeningPort, IReactorFromThreads, IReactorTime

from acd.store.redis import RedisStore
from pln123.cli._config import load_or_report
from pln123.cli._reactor import install_asyncio_reactor
from pln123.config import Config
from pln123.config.dashboard import parse_listen
from pln123.web import Dashboard, DashboardSite, build_dashboard
from pln123.web.history_source import HistorySettings
from pln123.web.http import WebSite

PROG = "pln123 dashboard"


def register(commands: Any) -> None:
    verb = commands.add_parser("dashboard", help="run the supervisors' dashboard for all sites")
    verb.add_argument("--config", type=Path, required=True)
    verb.add_argument("--listen", metavar="HOST:PORT",
                      help="override dashboard.listen (default 127.0.0.1:8123)")
    verb.add_argument("--redis-url", help="override the config's Redis URL")
    verb.add_argument("--log-level", default="info")
    verb.set_defaults(handler=run_dashboard)


def dashboard_resource(config: Config, store: RedisStore, clock: IReactorTime,
                       threads: IReactorFromThreads | None = None) -> Dashboard:
    """The dashboard for every site of `config` (needs its `dashboard:` section);
    `threads`: the reactor the password checks hand their results to."""
    settings = config.dashboard
    if settings is None:
        raise ValueError(f"{config.path} has no dashboard: section")
    sites = [DashboardSite(site.name, site.role, {a.code: a.region for a in site.area_codes})
             for site in config.sites.values()]
    dashboard = build_dashboard(
        sites=sites, skills=config.skills, settings=config.acd, apkt=config.apkt is not None,
        supervisors=settings.supervisors, wallboard_token=settings.read_wallboard_token(),
        store=store, clock=clock, threads=threads, secure=settings.secure,
        session_lifetime_s=settings.session_lifetime_s, sl_target=settings.sl_target,
        utc_offset_s=settings.utc_offset_s, trusted_proxies=settings.trusted_proxies,
        desktop=config.desktop, history=history_settings(config))
    if config.apkt is not None:   # APKT's status webhook: signed, no session (docs/apkt.md)
        from pln123.apkt import build_webhook

        dashboard.putChild(b"apkt", build_webhook(config.apkt, store, clock))
    return dashboard


def history_settings(config: Config) -> HistorySettings:
    """The history page's database (the archiver's, `history:`) and recordings folder."""
    from pln123.history.database import database_url

    history = config.history
    return HistorySettings(
        database_url(history.database, history.read_password()), history.utc_offset_s,
        config.recording.host_directory if config.recording is not None else None)


def listen_dashboard(config: Config, store: RedisStore, reactor: Any, host: str,
                     port: int) -> IListeningPort:
    """The dashboard for every site of `config` listening on host:port, over TLS when the
    config gives a certificate. Raises OSError/ValueError (files) or CannotListenError."""
    settings = config.dashboard
    if settings is None:
        raise ValueError(f"{config.path} has no dashboard: section")
    site = WebSite(dashboard_resource(config, store, reactor, reactor))  # type: ignore[no-untyped-call]
    if settings.tls_cert is not None and settings.tls_key is not None:
        from twisted.internet import ssl

        pem = settings.tls_cert.read_bytes() + b"\n" + settings.tls_key.read_bytes()
        options = ssl.PrivateCertificate.loadPEM(pem).options()
        listening: IListeningPort = reactor.listenSSL(port, site, options, interface=host)
    else:
        listening = reactor.listenTCP(port, site, interface=host)
    return listening


def run_dashboard(args: argparse.Namespace) -> int:
    config = load_or_report(args.config)
    if config is None:
        return 2
    settings = config.dashboard
    if settings is None:
        print(f"{PROG}: {args.config} has no dashboard: section", file=sys.stderr)
        return 2
    try:
        host, port = parse_listen(args.listen) if args.listen else (settings.host,
                                                                    settings.port)
    except ValueError as error:
        print(f"{PROG}: --listen {error}", file=sys.stderr)
        return 2
    install_asyncio_reactor()
    from twisted.internet import reactor as _reactor
    from twisted.internet.defer import Deferred

    from pln123.logs import configure_logging

    configure_logging(args.log_level)
    reactor: Any = _reactor
    store = RedisStore(args.redis_url or config.redis.url, config.redis.read_password())
    try:
        listen_dashboard(config, store, reactor, host, port)
    except (OSError, ValueError) as error:
        print(f"{PROG}: {error}", file=sys.stderr)
        return 2
    scheme = "https" if settings.secure else "http"
    print(f"{PROG}: serving {len(config.sites)} sites on {scheme}://{host}:{port}/",
          file=sys.stderr, flush=True)

    async def start() -> None:
        try:
            await store.start()
        except Exception as error:  # noqa: BLE001 - Redis may come later: it reconnects
            print(f"{PROG}: Redis at {store.where}: {error} (retrying)", file=sys.stderr)

    reactor.callWhenRunning(lambda: Deferred.fromCoroutine(start()))
    reactor.addSystemEventTrigger("before", "shutdown", store.close)
    reactor.run()
    return 0
