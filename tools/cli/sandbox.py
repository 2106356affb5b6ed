"""`pln123 sandbox build|up|status|down`: the local Asterisk 22 sandbox.

Thin on purpose: it parses, calls tools.sandbox and prints. Every failure the sandbox can
explain is a SandboxError, printed as one message with exit status 2.
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Callable
from pathlib import Path

from tools.sandbox import (
    ADMIN_USER,
    AMI_BASE_PORT,
    DEFAULT_CACHE_DIR,
    DEFAULT_NAMESPACE,
    IAX_BASE_PORT,
    PLN123_USER,
    SIP_BASE_PORT,
    Instance,
    Sandbox,
    SandboxError,
)

PLN_SITES = "palembang,medan,jakarta,surabaya,makassar"

Handler = Callable[[argparse.Namespace], int]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "sandbox",
        help="local Asterisk 22 instances for tests and demos",
        description="Build a Debian-sid root with Asterisk 22 once, then run one Asterisk "
        "per site on 127.0.0.1. Needs root. See deploy/sandbox/README.md.",
    )
    verbs = parser.add_subparsers(dest="sandbox_command", required=True, metavar="VERB")

    build = verbs.add_parser("build", help="debootstrap the Asterisk root (cached)")
    _common(build, namespace=False)
    build.set_defaults(handler=_guarded(_build))

    up = verbs.add_parser("up", help="start one Asterisk per site")
    _common(up)
    up.add_argument("--sites", default=PLN_SITES, help=f"comma-separated (default {PLN_SITES})")
    up.add_argument(
        "--ami-base-port",
        type=int,
        default=AMI_BASE_PORT,
        metavar="N",
        help=f"AMI port of the first site; the next get N+1, ... ({AMI_BASE_PORT})",
    )
    up.add_argument(
        "--iax-base-port",
        type=int,
        default=IAX_BASE_PORT,
        metavar="N",
        help=f"IAX2 port of the first site, likewise ({IAX_BASE_PORT})",
    )
    up.add_argument(
        "--sip",
        action="store_true",
        help="give each new site a SIP port (loopback): its carrier trunks (from 127.0.0.2) "
        "and agents' endpoints; without it no SIP port is opened",
    )
    up.add_argument(
        "--sip-base-port",
        type=int,
        default=SIP_BASE_PORT,
        metavar="N",
        help=f"SIP port of the first site, likewise ({SIP_BASE_PORT})",
    )
    up.add_argument(
        "--free-ports",
        action="store_true",
        help="let the kernel pick free ports instead of the base ports",
    )
    up.add_argument(
        "--timeout",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="how long each site may take to become ready (30)",
    )
    up.set_defaults(handler=_guarded(_up))

    status = verbs.add_parser("status", help="list the instances of a namespace")
    _common(status, mirror=False)
    status.set_defaults(handler=_guarded(_status))

    down = verbs.add_parser("down", help="stop every instance of a namespace by PID")
    _common(down, mirror=False)
    down.set_defaults(handler=_guarded(_down))


def _common(parser: argparse.ArgumentParser, namespace: bool = True, mirror: bool = True) -> None:
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=DEFAULT_CACHE_DIR,
        metavar="DIR",
        help=f"where the root is cached ({DEFAULT_CACHE_DIR})",
    )
    if mirror:
        parser.add_argument(
            "--mirror",
            metavar="URL",
            help="Debian mirror (default: the one in this machine's apt sources)",
        )
    if namespace:
        parser.add_argument(
            "--namespace",
            default=DEFAULT_NAMESPACE,
            metavar="NAME",
            help=f"instance group, to run beside others ({DEFAULT_NAMESPACE})",
        )


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _guarded(handler: Handler) -> Handler:
    def run(args: argparse.Namespace) -> int:
        # SIGTERM (a CI timeout, `kill`) unwinds like Ctrl-C, so a half-built root or a
        # half-started namespace is cleaned up instead of left behind.
        previous = signal.signal(signal.SIGTERM, _interrupt)
        try:
            return handler(args)
        except SandboxError as error:
            print(f"pln123 sandbox: error: {error}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print("pln123 sandbox: interrupted", file=sys.stderr)
            return 130
        finally:
            signal.signal(signal.SIGTERM, previous)

    return run


def _say(line: str) -> None:
    print(line, flush=True)


def _build(args: argparse.Namespace) -> int:
    result = Sandbox(args.cache_dir).build(args.mirror, report=_say)
    if result.cached:
        _say(f"cached: {result.root} ({result.version})")
    else:
        _say(f"built {result.root} ({result.version}) in {result.seconds:.0f} s")
    return 0


def _up(args: argparse.Namespace) -> int:
    sandbox = Sandbox(args.cache_dir, args.namespace)
    sandbox.build(args.mirror, report=_say)
    sites = [site.strip() for site in args.sites.split(",") if site.strip()]
    instances = sandbox.up(
        sites,
        ami_base_port=args.ami_base_port,
        iax_base_port=args.iax_base_port,
        free_ports=args.free_ports,
        timeout=args.timeout,
        sip=args.sip,
        sip_base_port=args.sip_base_port,
    )
    _print_table(instances)
    first = instances[0]
    _say(
        f"AMI users: {PLN123_USER} (least privilege) and {ADMIN_USER} (tests only); "
        f"secrets in {first.path.parent}/<site>/ami-*.secret"
    )
    _say(f"stop with: pln123 sandbox down --namespace {args.namespace}")
    return 0


def _status(args: argparse.Namespace) -> int:
    instances = Sandbox(args.cache_dir, args.namespace).instances()
    if not instances:
        _say(f"no sandbox instances in namespace {args.namespace!r}")
        return 0
    _print_table(instances)
    return 0


def _down(args: argparse.Namespace) -> int:
    stopped = Sandbox(args.cache_dir, args.namespace).down()
    if not stopped:
        _say(f"no sandbox instances in namespace {args.namespace!r}")
    for instance in stopped:
        _say(f"stopped {instance.site}")
    return 0


def _print_table(instances: list[Instance]) -> None:
    rows = [("SITE", "AMI", "IAX2", "SIP", "PID", "STATE")]
    for instance in instances:
        status = instance.status()
        pid = str(instance.pid) if instance.pid is not None and status != "stopped" else "-"
        rows.append(
            (
                instance.site,
                f"127.0.0.1:{instance.ami_port}",
                f"127.0.0.1:{instance.iax_port}",
                f"127.0.0.1:{instance.sip_port}" if instance.sip_port is not None else "-",
                pid,
                status,
            )
        )
    widths = [max(len(row[col]) for row in rows) for col in range(len(rows[0]))]
    for row in rows:
        _say("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
