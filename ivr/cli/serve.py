"""`pln123 serve --config FILE --site NAME`: the production process for one site.

It builds the site's call centre (ivr.acdsite.SiteCallCentre) from the validated config and
runs it on the asyncio reactor until SIGTERM/SIGINT. Logs are JSON lines on stdout.
Exit statuses: 0 stopped by a signal; 2 bad config or arguments.

Overrides exist for the sandbox and tests (`--ami-port`, `--ami-secret-file`,
`--redis-url`): everything else comes from the config. Hot reload, draining and the rest of
the operator's needs come with issue 8.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ivr.cli._config import load_or_report
from ivr.cli._reactor import install_asyncio_reactor


def register(commands: Any) -> None:
    serve = commands.add_parser("serve", help="run one site's IVR + ACD")
    serve.add_argument("--config", type=Path, required=True)
    serve.add_argument("--site", required=True)
    serve.add_argument("--ami-host", help="override the config's AMI host")
    serve.add_argument("--ami-port", type=int, help="override the config's AMI port")
    serve.add_argument("--ami-secret-file", type=Path,
                       help="override the config's AMI secret file")
    serve.add_argument("--redis-url", help="override the config's Redis URL")
    serve.add_argument("--log-level", default="info")
    serve.set_defaults(handler=run_serve)


def run_serve(args: argparse.Namespace) -> int:
    config = load_or_report(args.config)
    if config is None:
        return 2
    if args.site not in config.sites:
        print(f"pln123 serve: no site {args.site!r} in {args.config}", file=sys.stderr)
        return 2
    install_asyncio_reactor()
    from twisted.internet import reactor as _reactor

    from acd.store.redis import RedisStore
    from ivr.acdsite import SiteCallCentre
    from ivr.logs import configure_logging
    from ivr.site import AMITarget

    configure_logging(args.log_level)
    reactor: Any = _reactor
    ami = config.sites[args.site].ami
    secret_file = args.ami_secret_file or ami.secret_file
    target = AMITarget(args.ami_host or ami.host, args.ami_port or ami.port, ami.user,
                       secret_file.read_text(encoding="utf-8").strip())
    store = RedisStore(args.redis_url or config.redis.url, config.redis.read_password())
    centre = SiteCallCentre(config, args.site, store, reactor, ami=target)

    async def start() -> None:
        try:
            await store.start()
        except Exception as error:  # noqa: BLE001 - Redis may come later: it reconnects
            import structlog

            structlog.get_logger("pln123.serve").error("redis_unreachable_at_start",
                                                         error=str(error))
        centre.startService()

    async def stop() -> None:
        await centre.stopService()
        await store.close()

    from twisted.internet.defer import Deferred

    reactor.callWhenRunning(lambda: Deferred.fromCoroutine(start()))
    reactor.addSystemEventTrigger("before", "shutdown",
                                  lambda: Deferred.fromCoroutine(stop()))
    reactor.run()
    return 0
