"""`pln123 demo`: the five PLN sites on this machine with callers, agents and the dashboard.

Thin: parses and calls tools.demo.run. Needs root (the Asterisk sandbox) and a built sandbox
(`./run demo` does both). Exit statuses: 0 stopped (Ctrl-C, SIGTERM or --duration);
1 something failed or died (the demo stops everything first); 2 bad arguments.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from pln123.config.dashboard import parse_listen
from tools.sandbox import DEFAULT_CACHE_DIR

PROG = "pln123 demo"


def register(commands: Any) -> None:
    verb = commands.add_parser(
        "demo", help="five sites, callers, agents, national pooling and the dashboard on this "
        "machine",
        description="Start five sandbox Asterisks joined by IAX2, Redis, one pln123 serve per "
        "site and the dashboard; simulated agents and callers; a surge at Palembang whose "
        "callers are answered by the other sites' ready agents (Medan first, then Jakarta, "
        "then the others) through the national pool, each site keeping one ready agent for "
        "its own callers. Ctrl-C stops everything. Needs root.")
    verb.add_argument("--listen", default="127.0.0.1:8123", metavar="HOST:PORT",
                      help="the dashboard's address (127.0.0.1:8123)")
    verb.add_argument("--surge-after", type=float, default=60.0, metavar="SECONDS",
                      help="when Palembang's surge starts (60; 0 = at once)")
    verb.add_argument("--surge-for", type=float, default=180.0, metavar="SECONDS",
                      help="how long the surge lasts (180)")
    verb.add_argument("--duration", type=float, metavar="SECONDS",
                      help="stop by itself after this long (default: run until Ctrl-C)")
    verb.add_argument("--namespace", default="demo", metavar="NAME",
                      help="sandbox namespace of the demo's Asterisks (demo)")
    verb.add_argument("--redis-url", metavar="URL",
                      help="use this Redis (default: a private redis-server, stopped at the end)")
    verb.add_argument("--seed", type=int, default=123, help="callers' random seed (123)")
    verb.add_argument("--workdir", type=Path, metavar="DIR",
                      help="keep the generated config and the logs here (default: a "
                      "temporary folder, removed unless something failed)")
    verb.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE_DIR, metavar="DIR",
                      help=f"the sandbox's cache ({DEFAULT_CACHE_DIR})")
    verb.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from tools.demo.run import DemoOptions, run_demo

    try:
        parse_listen(args.listen)
    except ValueError as error:
        print(f"{PROG}: --listen {error}", file=sys.stderr)
        return 2
    if args.surge_after < 0 or args.surge_for <= 0:
        print(f"{PROG}: --surge-after must be >= 0 and --surge-for > 0", file=sys.stderr)
        return 2
    if args.duration is not None and args.duration <= 0:
        print(f"{PROG}: --duration must be positive", file=sys.stderr)
        return 2
    if os.geteuid() != 0:
        print(f"{PROG}: must run as root (the Asterisk sandbox uses chroot); try ./run demo",
              file=sys.stderr)
        return 2
    options = DemoOptions(
        namespace=args.namespace, listen=args.listen, redis_url=args.redis_url,
        surge_after_s=args.surge_after, surge_lasts_s=args.surge_for,
        duration_s=args.duration, seed=args.seed, cache_dir=args.cache_dir,
        workdir=args.workdir)
    return run_demo(options, say=lambda line: print(line, flush=True))
