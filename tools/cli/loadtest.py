"""`pln123 loadtest --calls N [--sites ...] [--duration S]`: load the real stack and measure.

Thin: parses, calls tools.loadtest.run and prints the report (and saves it as JSON with
`--json`). `--baseline app_queue` adds the Asterisk-only stack's pass and the comparison
line. `--sip`: the callers are SIPp processes over the sites' carrier trunks (the agents
stay Local channels), and the last line is the run in one line with `transport=sip`.
Needs root (the Asterisk sandbox). Exit statuses: 0 no call lost (by either stack);
1 calls lost or the stack failed; 2 bad arguments; 130 interrupted.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from tools.sandbox import DEFAULT_CACHE_DIR

PROG = "pln123 loadtest"


def register(commands: Any) -> None:
    verb = commands.add_parser(
        "loadtest", help="concurrent callers against sandbox Asterisk + pln123 serve + Redis",
        description="Keep N callers live (IVR, queue, agent) against the real stack for a "
        "while, then report calls offered/answered/lost, pln123's CPU per call, AMI events/s "
        "and the decision latency. Needs root. Method: docs/benchmarks.md.")
    verb.add_argument("--calls", type=int, required=True, metavar="N",
                      help="concurrent callers to keep live")
    verb.add_argument("--sites", default="palembang",
                      help="comma-separated sites, callers spread over them; with several, "
                      "national pooling lends agents between them (palembang)")
    verb.add_argument("--agents", type=int, default=60, metavar="N",
                      help="Local-channel agents per site (60)")
    verb.add_argument("--duration", type=float, default=60.0, metavar="SECONDS",
                      help="hold N live callers this long after the ramp (60)")
    verb.add_argument("--ramp", type=float, default=10.0, metavar="SECONDS",
                      help="the first N callers arrive over this (10)")
    verb.add_argument("--drain", type=float, default=300.0, metavar="SECONDS",
                      help="then wait at most this long for the last callers (300)")
    verb.add_argument("--namespace", default="loadtest", metavar="NAME",
                      help="sandbox namespace (loadtest)")
    verb.add_argument("--redis-url", metavar="URL",
                      help="use this Redis (default: a private redis-server)")
    verb.add_argument("--baseline", choices=("app_queue",),
                      help="then the same callers through an Asterisk-only stack on the same "
                      "sandbox (app_queue: dialplan IVR + app_queue) and both stacks' CPU per "
                      "call side by side")
    verb.add_argument("--sip", action="store_true",
                      help="callers are SIPp processes over each site's carrier trunk (RTP "
                      "voice, the agent key as an RFC 4733 event); agents stay Local "
                      "channels. Needs sipp (Debian: sip-tester)")
    verb.add_argument("--json", type=Path, metavar="FILE", help="also write the report here")
    verb.add_argument("--workdir", type=Path, metavar="DIR",
                      help="keep the generated config and the processes' logs here")
    verb.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE_DIR, metavar="DIR")
    verb.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from tools.demo.stack import StackError
    from tools.loadtest.run import Interrupted, LoadOptions, run_loadtest

    sites = tuple(s.strip() for s in args.sites.split(",") if s.strip())
    problems = []
    if not 1 <= args.calls <= 5000:
        problems.append("--calls must be 1 to 5000")
    if not 1 <= args.agents <= 999:
        problems.append("--agents must be 1 to 999")
    if not sites or len(set(sites)) != len(sites):
        problems.append("--sites: name each site once")
    if args.duration < 0 or args.ramp <= 0 or args.drain <= 0:
        problems.append("--duration must be >= 0, --ramp and --drain > 0")
    if args.sip and args.baseline is not None:
        problems.append("--sip and --baseline: the app_queue stack has Local callers only")
    if args.sip:
        from tools.loadtest.sipp import missing_sipp

        reason = missing_sipp()
        if reason is not None:
            problems.append(f"--sip: {reason}")
    if problems:
        for problem in problems:
            print(f"{PROG}: {problem}", file=sys.stderr)
        return 2
    if os.geteuid() != 0:
        print(f"{PROG}: must run as root (the Asterisk sandbox uses chroot)", file=sys.stderr)
        return 2
    options = LoadOptions(calls=args.calls, sites=sites, agents=args.agents,
                          duration_s=args.duration, ramp_s=args.ramp, drain_s=args.drain,
                          namespace=args.namespace, redis_url=args.redis_url,
                          cache_dir=args.cache_dir, workdir=args.workdir,
                          baseline=args.baseline, sip=args.sip)
    try:
        report = run_loadtest(options, say=lambda line: print(line, flush=True))
    except StackError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 1
    except Interrupted as stop:
        print(f"{PROG}: {stop}: stopped", file=sys.stderr)
        return 130
    for line in report.lines():
        print(line)
    if args.json is not None:
        report.save(args.json)
    return 0 if report.lost_total == 0 else 1
