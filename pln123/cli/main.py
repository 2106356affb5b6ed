"""Entry point of the `pln123` console script.

Each verb group lives in its own module with a `register(subparsers)` function, so adding a
group never touches the others; `main` only parses and dispatches. The development and
planning tools (`sandbox`, `demo`, `loadtest`, `simulate`) live in the `tools` package,
which depends on this one and not the other way round: they add their verbs through the
`pln123.commands` entry point group, and a production install without the `tools` extra
simply lists fewer verbs.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from importlib.metadata import entry_points

from pln123.cli import agent as agent_cli
from pln123.cli import archive as archive_cli
from pln123.cli import asterisk as asterisk_cli
from pln123.cli import config, dialplan, serve
from pln123.cli import dashboard as dashboard_cli
from pln123.cli import outage as outage_cli
from pln123.cli import prompts as prompts_cli
from pln123.cli import report as report_cli
from pln123.cli import user as user_cli

TOOL_VERBS = "pln123.commands"  # entry points: register(commands) of a tool's verbs


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pln123",
        description="IVR + ACD server for Asterisk (PLN 123 contact centre)",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    config.register(commands)
    dialplan.register(commands)
    prompts_cli.register(commands)
    outage_cli.register(commands)
    agent_cli.register(commands)
    serve.register(commands)
    dashboard_cli.register(commands)
    user_cli.register(commands)
    asterisk_cli.register(commands)
    archive_cli.register(commands)
    report_cli.register(commands)
    for tool in entry_points(group=TOOL_VERBS):
        tool.load()(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    result: int = args.handler(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
