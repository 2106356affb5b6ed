"""Entry point of the `pln123` console script.

Each verb group lives in its own module with a `register(subparsers)` function, so adding a
group never touches the others; `main` only parses and dispatches.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ivr.cli import agent as agent_cli
from ivr.cli import asterisk as asterisk_cli
from ivr.cli import config, dialplan, sandbox, serve, simulate
from ivr.cli import dashboard as dashboard_cli
from ivr.cli import demo as demo_cli
from ivr.cli import loadtest as loadtest_cli
from ivr.cli import outage as outage_cli
from ivr.cli import prompts as prompts_cli
from ivr.cli import user as user_cli


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pln123",
        description="IVR + ACD server for Asterisk (PLN 123 contact centre)",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    config.register(commands)
    dialplan.register(commands)
    sandbox.register(commands)
    prompts_cli.register(commands)
    outage_cli.register(commands)
    agent_cli.register(commands)
    serve.register(commands)
    simulate.register(commands)
    dashboard_cli.register(commands)
    user_cli.register(commands)
    asterisk_cli.register(commands)
    demo_cli.register(commands)
    loadtest_cli.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    result: int = args.handler(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
