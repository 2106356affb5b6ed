"""`pln123 config check FILE`: validate the admin config, printing every problem's key path."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from pln123.cli._config import load_or_report


def register(commands: Any) -> None:
    group = commands.add_parser("config", help="validate the admin config")
    verbs = group.add_subparsers(dest="verb", required=True, metavar="VERB")
    check = verbs.add_parser("check", help="validate FILE; exit 0 when valid, 1 otherwise")
    check.add_argument("file", type=Path)
    check.set_defaults(handler=check_config)


def check_config(args: argparse.Namespace) -> int:
    config = load_or_report(args.file)
    if config is None:
        return 1
    areas = sum(len(site.area_codes) for site in config.sites.values())
    print(f"{args.file}: valid — {len(config.sites)} sites, {areas} area codes, "
          f"{len(config.menus)} menus, {len(config.prompts)} prompts")
    return 0
