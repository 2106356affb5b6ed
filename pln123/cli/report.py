"""`pln123 report interval|agents|abandoned|calls --config FILE --from T [--to T]`.

Reads the call history (`history.database`, filled by `pln123 archive`) and prints one
report as an aligned table or as CSV (`--format csv`, the header first: docs/reports.md
lists each report's columns). Times are local (`history.utc_offset_h`, WIB by default):
`--from 2026-12-06` is local midnight, `--to` defaults to now. `--site` (repeatable)
keeps the named sites' rows (the interval report then has no national rows).

Exit statuses: 0 printed; 1 no history at that database (nothing archived yet, or not
reachable); 2 bad config or arguments.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from pln123.cli._config import load_or_report

PROG = "pln123 report"
KINDS = ("interval", "agents", "abandoned", "calls")


def register(commands: Any) -> None:
    verb = commands.add_parser("report", help="reports from the call history: per 15 "
                                              "minutes, per agent, abandoned callers, calls")
    verb.add_argument("kind", choices=KINDS)
    verb.add_argument("--config", type=Path, required=True)
    verb.add_argument("--from", dest="start", required=True, metavar="TIME",
                      help="2026-12-06, 2026-12-06T08:00 (local) or with an offset")
    verb.add_argument("--to", dest="end", metavar="TIME", help="default: now")
    verb.add_argument("--site", action="append", default=[])
    verb.add_argument("--format", choices=("table", "csv"), default="table")
    verb.add_argument("--database", help="override history.database (a SQLAlchemy URL)")
    verb.add_argument("--output", type=Path, help="write here instead of stdout")
    verb.set_defaults(handler=run_report)


def run_report(args: argparse.Namespace) -> int:
    config = load_or_report(args.config)
    if config is None:
        return 2
    from pln123.history.output import parse_time

    offset = config.history.utc_offset_s
    now = time.time()
    try:
        start = parse_time(args.start, offset)
        end = parse_time(args.end, offset) if args.end else now
    except ValueError as error:
        print(f"{PROG}: --from/--to: {error}", file=sys.stderr)
        return 2
    if end <= start:
        print(f"{PROG}: --to must be after --from", file=sys.stderr)
        return 2
    unknown = [site for site in args.site if site not in config.sites]
    if unknown:
        print(f"{PROG}: no site {', '.join(unknown)} in {args.config}", file=sys.stderr)
        return 2
    from sqlalchemy.exc import SQLAlchemyError

    from pln123.history import reports
    from pln123.history.database import current_revision, database_url, open_engine
    from pln123.history.output import to_csv, to_table

    url = database_url(args.database or config.history.database,
                       config.history.read_password())
    window = reports.Window(start, end, frozenset(args.site))
    try:
        engine = open_engine(url)
        if current_revision(engine) is None:
            print(f"{PROG}: no history in {url.render_as_string(hide_password=True)} "
                  "(has pln123 archive run?)", file=sys.stderr)
            return 1
        if args.kind == "interval":
            rows = reports.interval_report(engine, window)
        elif args.kind == "agents":
            rows = reports.agent_report(engine, window, now=now)
        elif args.kind == "abandoned":
            rows = reports.abandoned_report(engine, window)
        else:
            rows = reports.call_report(engine, window)
        engine.dispose()
    except (SQLAlchemyError, OSError) as error:
        print(f"{PROG}: the history database: {error}", file=sys.stderr)
        return 1
    render = to_csv if args.format == "csv" else to_table
    out = render(reports.COLUMNS[args.kind], rows, offset)
    if args.output is not None:
        args.output.write_text(out, encoding="utf-8")
    else:
        sys.stdout.write(out)
    return 0
