"""`pln123 archive --config FILE [--site NAME ...]`: the call history's archiver.

Its own process, not part of `pln123 serve`, for three reasons: a slow or unreachable
database must never hold up a site's calls (serve's reactor carries the callers); the
history is national (one SQLite file cannot be shared by five sites' hosts, and one
PostgreSQL writer is simpler than five), so one archiver reads every site's audit stream,
like the national dashboard; and it can be stopped, upgraded or migrated on its own while
the consumer group keeps its place in Redis. systemd runs it as `pln123-archive.service`
with StateDirectory=pln123 (the default SQLite file's folder).

At start it brings the schema up to date (Alembic), then archives until SIGTERM/SIGINT,
which stop it after the batch in hand is committed and acknowledged. The consumer name
is the host's by default, so a restarted archiver first finishes what it was given before.

Exit statuses: 0 stopped by a signal; 1 the database cannot be opened or migrated; 2 bad
config or arguments.
"""

from __future__ import annotations

import argparse
import socket
import sys
from pathlib import Path
from typing import Any

from pln123.cli._config import load_or_report
from pln123.cli._reactor import install_asyncio_reactor
from pln123.history import BATCH, GROUP

PROG = "pln123 archive"


def register(commands: Any) -> None:
    verb = commands.add_parser("archive", help="archive every site's calls into the history "
                                               "database (SQL)")
    verb.add_argument("--config", type=Path, required=True)
    verb.add_argument("--site", action="append", default=[],
                      help="only this site's stream (repeatable; default: every site)")
    verb.add_argument("--database", help="override history.database (a SQLAlchemy URL)")
    verb.add_argument("--redis-url", help="override the config's Redis URL")
    verb.add_argument("--consumer", default=f"archive-{socket.gethostname()}",
                      help="the consumer name in the streams' group (default: per host)")
    verb.add_argument("--group", default=GROUP,
                      help=f"the streams' consumer group (default {GROUP}; a second history, "
                           "e.g. a copy for a migration, reads with a group of its own)")
    verb.add_argument("--batch", type=int, default=BATCH,
                      help=f"entries per read and per transaction (default {BATCH})")
    verb.add_argument("--log-level", default="info")
    verb.set_defaults(handler=run_archive)


def run_archive(args: argparse.Namespace) -> int:
    config = load_or_report(args.config)
    if config is None:
        return 2
    unknown = [site for site in args.site if site not in config.sites]
    if unknown:
        print(f"{PROG}: no site {', '.join(unknown)} in {args.config}", file=sys.stderr)
        return 2
    from sqlalchemy.exc import SQLAlchemyError

    from pln123.history.database import database_url, migrate, open_engine

    history = config.history
    try:
        url = database_url(args.database or history.database, history.read_password())
        engine = open_engine(url)
        migrate(engine)
    except (SQLAlchemyError, OSError, ValueError) as error:
        print(f"{PROG}: the history database: {error}", file=sys.stderr)
        return 1
    install_asyncio_reactor()
    from twisted.internet import reactor as _reactor

    from acd.store.redis import RedisStore
    from pln123.history.archiver import Archiver, streams_of
    from pln123.history.writer import HistoryWriter
    from pln123.logs import configure_logging

    configure_logging(args.log_level)
    reactor: Any = _reactor
    reactor.suggestThreadPoolSize(2)
    sites = args.site or list(config.sites)
    streams = streams_of({site: config.acd.pooling.pool_of(site) for site in sites})
    store = RedisStore(args.redis_url or config.redis.url, config.redis.read_password())
    archiver = Archiver(store, HistoryWriter(engine), streams, reactor,
                        consumer=args.consumer, group=args.group, batch=max(1, args.batch))
    print(f"{PROG}: archiving {', '.join(sites)} into "
          f"{url.render_as_string(hide_password=True)} as {args.group}/{args.consumer}",
          file=sys.stderr, flush=True)

    def start() -> None:
        # Redis may come later: the archiver retries every read on its own.
        store.start().addErrback(lambda failure: print(
            f"{PROG}: Redis at {store.where}: {failure.value} (retrying)", file=sys.stderr))
        archiver.start()

    reactor.callWhenRunning(start)
    reactor.addSystemEventTrigger("before", "shutdown", archiver.stop)
    reactor.addSystemEventTrigger("after", "shutdown", store.close)
    reactor.run()
    engine.dispose()
    return 0
