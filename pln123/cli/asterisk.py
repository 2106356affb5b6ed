"""`pln123 asterisk render`: a site's manager.conf, agents' PJSIP file, trunks and carriers.

Thin: load the config (every problem printed with its key path), call the renderers in
`ivr/asterisk/`, write the files. The files hold secrets (the AMI secret, the agents' SIP
passwords), so they are created 0640 and replaced atomically; nothing rendered is printed.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from ivr.asterisk.carriers import render_carriers
from ivr.asterisk.errors import RenderError
from ivr.asterisk.iax import render_iax
from ivr.asterisk.manager import render_manager
from ivr.asterisk.pjsip import read_agent_secrets, render_pjsip
from ivr.dialplan import DialplanError
from pln123.cli._config import load_or_report
from pln123.config import Config

PARTS = ("manager", "pjsip", "trunks", "carriers")
TRUNKS_FILE = "iax_pln123_trunks.conf"  # #include it from iax.conf


def register(commands: Any) -> None:
    group = commands.add_parser(
        "asterisk",
        help="render a site's Asterisk configuration (AMI user, agents, trunks, carriers)",
        description="Render what a site's Asterisk needs for pln123 besides the dialplan. "
        "See docs/operations.md.",
    )
    verbs = group.add_subparsers(dest="verb", required=True, metavar="VERB")
    render = verbs.add_parser(
        "render",
        help="write manager.conf, the agents' PJSIP file, the trunks and the carriers",
        description="Example: pln123 asterisk render --config /etc/pln123/pln.yaml --site "
        "palembang --out /etc/asterisk/pln123. Files are written 0640 (they hold secrets); "
        "chgrp asterisk them and #include them from pjsip.conf / iax.conf.",
    )
    render.add_argument("--config", type=Path, required=True, metavar="FILE",
                        help="the admin config (e.g. /etc/pln123/pln.yaml)")
    render.add_argument("--site", required=True, metavar="NAME", help="the site to render")
    render.add_argument("--out", type=Path, required=True, metavar="DIR",
                        help="the folder to write into (created if missing)")
    render.add_argument("--only", metavar="PARTS", default=None,
                        help=f"comma-separated subset of {','.join(PARTS)} (default: all)")
    render.set_defaults(handler=render_asterisk)


def render_asterisk(args: argparse.Namespace) -> int:
    chosen = args.only if args.only is not None else ",".join(PARTS)
    parts = [p.strip() for p in chosen.split(",") if p.strip()]
    unknown = [p for p in parts if p not in PARTS]
    if unknown or not parts:
        print(f"pln123 asterisk render: --only takes {','.join(PARTS)}, not {chosen!r}",
              file=sys.stderr)
        return 2
    config = load_or_report(args.config)
    if config is None:
        return 1
    if args.site not in config.sites:
        print(f"{args.config}: no site {args.site!r} (sites: {', '.join(config.sites)})",
              file=sys.stderr)
        return 2
    try:
        files = render_files(config, args.site, parts)
    except RenderError as error:
        print(f"pln123 asterisk render: {error}", file=sys.stderr)
        return 1
    for name, text in files.items():
        write_private(args.out / name, text)
        print(f"wrote {args.out / name}")
    return 0


def render_files(config: Config, site: str, parts: list[str]) -> dict[str, str]:
    """File name -> text for the chosen parts; RenderError on anything missing."""
    files: dict[str, str] = {}
    if "manager" in parts:
        files.update(render_manager(config, site))
    if "pjsip" in parts:
        path = config.asterisk.agent_secrets_path(site)
        if path is None:
            raise RenderError("the agents' PJSIP file needs asterisk.agent_secrets_file in the "
                              "config (or leave pjsip out with --only)")
        secrets = read_agent_secrets(path, warn=lambda m: print(f"warning: {m}",
                                                                file=sys.stderr))
        files.update(render_pjsip(config, site, config.acd.agents, secrets))
    if "trunks" in parts:
        files.update(_trunks(config, site))
    if "carriers" in parts and (config.sites[site].sip is not None or _chosen(parts)):
        files.update(render_carriers(config, site))
    return files


def _chosen(parts: list[str]) -> bool:
    """Carriers asked for by name (not just "everything"): a site without `sip:` is an
    error then, while the default render simply has no carrier files for it."""
    return list(parts) != list(PARTS)


def _trunks(config: Config, site: str) -> dict[str, str]:
    """The inter-site trunks (ivr/asterisk/iax.py)."""
    try:
        return {TRUNKS_FILE: render_iax(config, site)}
    except DialplanError as error:
        raise RenderError(str(error)) from error


def write_private(path: Path, text: str) -> None:
    """Replace `path` atomically with a 0640 file (never world-readable, even briefly)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, 0o640)
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as out:
            out.write(text)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
