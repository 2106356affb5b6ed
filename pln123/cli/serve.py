"""`pln123 serve --config FILE --site NAME`: the production process for one site.

It builds the site's call centre (pln123.site.build_site) from the validated config,
mounts the supervisors' dashboard when the config has a `dashboard:` section (unless
`--no-dashboard`: several `serve` processes on one host would fight over its port; run
one with the dashboard, or `pln123 dashboard` apart), and runs until SIGTERM/SIGINT
(drain) with SIGHUP reloading the config (pln123.serve.runtime). Logs are JSON lines on
stdout.

Exit statuses (pln123.serve.runtime.ExitCode): 0 stopped and drained; 1 unexpected error;
2 bad config or arguments; 3 cannot start (dashboard port taken, TLS files unreadable);
4 stopped, but the drain did not finish in time.

Overrides exist for the sandbox and tests (`--ami-host`, `--ami-port`, `--ami-secret-file`,
`--redis-url`, `--dashboard-listen`): everything else comes from the config.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from pln123.cli._config import load_or_report
from pln123.cli._reactor import install_asyncio_reactor
from pln123.config.dashboard import parse_listen

PROG = "pln123 serve"


def register(commands: Any) -> None:
    serve = commands.add_parser("serve", help="run one site's IVR + ACD (+ dashboard)")
    serve.add_argument("--config", type=Path, required=True)
    serve.add_argument("--site", required=True)
    serve.add_argument("--ami-host", help="override the config's AMI host")
    serve.add_argument("--ami-port", type=int, help="override the config's AMI port")
    serve.add_argument("--ami-secret-file", type=Path,
                       help="override the config's AMI secret file")
    serve.add_argument("--redis-url", help="override the config's Redis URL")
    serve.add_argument("--no-dashboard", action="store_true",
                       help="do not serve the dashboard even if the config has one")
    serve.add_argument("--dashboard-listen", metavar="HOST:PORT",
                       help="override dashboard.listen")
    serve.add_argument("--log-level", default="info")
    serve.set_defaults(handler=run_serve)


def _fail(code: int, message: str) -> int:
    print(f"{PROG}: {message}", file=sys.stderr)
    return code


def run_serve(args: argparse.Namespace) -> int:
    from pln123.serve.runtime import ExitCode

    config = load_or_report(args.config)
    if config is None:
        return ExitCode.BAD_CONFIG
    if args.site not in config.sites:
        return _fail(ExitCode.BAD_CONFIG, f"no site {args.site!r} in {args.config}")
    listen = None
    if config.dashboard is not None and not args.no_dashboard:
        try:
            listen = (parse_listen(args.dashboard_listen) if args.dashboard_listen
                      else (config.dashboard.host, config.dashboard.port))
        except ValueError as error:
            return _fail(ExitCode.BAD_CONFIG, f"--dashboard-listen {error}")
    ami = config.sites[args.site].ami
    secret_file = args.ami_secret_file or ami.secret_file
    try:
        secret = secret_file.read_text(encoding="utf-8").strip()
    except OSError as error:
        return _fail(ExitCode.BAD_CONFIG, f"cannot read the AMI secret file {secret_file}: "
                                          f"{error.strerror}")
    install_asyncio_reactor()
    from twisted.internet import reactor as _reactor
    from twisted.internet.error import CannotListenError

    from acd.store.redis import RedisStore
    from pln123.cli.dashboard import listen_dashboard
    from pln123.logs import configure_logging
    from pln123.serve.heap import freeze_startup_heap
    from pln123.serve.runtime import ServeRuntime
    from pln123.serve.systemd import SystemdNotifier
    from pln123.serve.twistedlog import route_twisted_logs
    from pln123.site import AMITarget, build_site

    configure_logging(args.log_level)
    route_twisted_logs()
    reactor: Any = _reactor
    target = AMITarget(args.ami_host or ami.host, args.ami_port or ami.port, ami.user, secret)
    try:
        store = RedisStore(args.redis_url or config.redis.url, config.redis.read_password())
    except (ValueError, OSError) as error:
        return _fail(ExitCode.BAD_CONFIG, f"redis: {error}")
    centre = build_site(config, args.site, store, reactor, ami=target)
    listeners = []
    if listen is not None:
        try:
            listeners.append(listen_dashboard(config, store, reactor, *listen))
        except (CannotListenError, OSError, ValueError) as error:
            return _fail(ExitCode.CANNOT_START, f"dashboard on {listen[0]}:{listen[1]}: "
                                                f"{error}")
    runtime = ServeRuntime(centre, store, reactor, args.config,
                           SystemdNotifier.from_environment(reactor), listeners=listeners)
    reactor.callWhenRunning(runtime.start)
    freeze_startup_heap()
    reactor.run(installSignalHandlers=False)  # the runtime handles SIGTERM/SIGINT/SIGHUP
    return int(runtime.exit_code)
