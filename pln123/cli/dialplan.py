"""`pln123 dialplan render`: write a site's Asterisk include file from the admin config.

Thin: it loads the config (printing every problem like `config check` when it is invalid),
calls ivr.dialplan and writes the result. Files are replaced atomically, so an Asterisk
reloading at that moment reads the old file or the new one, never half of one.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from ivr.dialplan import DialplanError, render_all, render_site
from pln123.cli._config import load_or_report
from pln123.config import Config


def register(commands: Any) -> None:
    group = commands.add_parser(
        "dialplan",
        help="render the Asterisk dialplans from the admin config",
        description="Render each site's Asterisk include file: area code + 123 entry points, "
        "the AsyncAGI hand-off, agents' feature codes and the multi-site contexts. See "
        "dialplans/README.md.",
    )
    verbs = group.add_subparsers(dest="verb", required=True, metavar="VERB")
    render = verbs.add_parser(
        "render",
        help="write one site's include file (stdout by default), or every site's",
        description="Examples: pln123 dialplan render --config deploy/config/pln.yaml "
        "--site palembang;  pln123 dialplan render --config deploy/config/pln.yaml --all "
        "--out-dir dialplans",
    )
    render.add_argument("--config", type=Path, required=True, metavar="FILE",
                        help="the admin config (e.g. deploy/config/pln.yaml)")
    which = render.add_mutually_exclusive_group(required=True)
    which.add_argument("--site", metavar="NAME", help="the site to render")
    which.add_argument("--all", action="store_true", help="every site, into --out-dir")
    render.add_argument("--out", type=Path, metavar="PATH",
                        help="with --site: write here instead of stdout")
    render.add_argument("--out-dir", type=Path, metavar="DIR",
                        help="with --all: write DIR/<site>.conf for each site")
    render.set_defaults(handler=render_dialplan)


def render_dialplan(args: argparse.Namespace) -> int:
    if args.all and (args.out_dir is None or args.out is not None):
        return _usage("--all writes one file per site: give --out-dir DIR (not --out)")
    if args.site and args.out_dir is not None:
        return _usage("--site writes one file: give --out PATH, or nothing for stdout")
    config = _load(args.config)
    if config is None:
        return 1
    try:
        if args.all:
            for site, text in render_all(config).items():
                _write(args.out_dir / f"{site}.conf", text)
                print(f"wrote {args.out_dir / f'{site}.conf'}")
            return 0
        if args.site not in config.sites:
            print(f"{args.config}: no site {args.site!r} (sites: {', '.join(config.sites)})",
                  file=sys.stderr)
            return 2
        text = render_site(config, args.site)
    except DialplanError as error:
        print(f"{args.config}: {error}", file=sys.stderr)
        return 1
    if args.out is None:
        sys.stdout.write(text)
    else:
        _write(args.out, text)
    return 0


def _load(path: Path) -> Config | None:
    return load_or_report(path, "nothing rendered")


def _usage(message: str) -> int:
    print(f"pln123 dialplan render: {message}", file=sys.stderr)
    return 2


def _write(path: Path, text: str) -> None:
    """Replace `path` atomically (a temporary file in the same folder, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="ascii", newline="\n") as out:
            out.write(text)
        os.chmod(temp, 0o644)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
