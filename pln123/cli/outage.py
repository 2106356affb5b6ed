"""`pln123 outage add|list|clear`: the known-outage board, from a supervisor's shell.

Thin on purpose: it checks the input against the admin config (an area code nobody serves is
a typo, caught before Redis is touched), then uses the same store and board as the server,
on the asyncio reactor (`pln123/cli/_reactor.py`, shared with `pln123 agent`). Exit status:
0 done, 1 not found or Redis unreachable, 2 bad input (the message says which).
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from twisted.internet.interfaces import IReactorTime

from acd.selfservice import validation
from acd.selfservice.models import Outage
from acd.selfservice.outages import RedisOutageBoard
from acd.store import RedisStore
from pln123.cli._config import load_or_report
from pln123.cli._reactor import run_with_store
from pln123.config import Config

PROG = "pln123 outage"
_HH_MM = re.compile(r"([01]?[0-9]|2[0-3]):([0-5][0-9])")

# What a verb does once connected: (board, reactor) -> exit status.
Work = Callable[[RedisOutageBoard, IReactorTime], Awaitable[int]]


class BadInput(Exception):
    """Printed as one line, exit status 2."""


def register(commands: Any) -> None:
    group = commands.add_parser(
        "outage",
        help="the known-outage board callers hear before the menu",
        description="Post, list and clear outage notices in the shared Redis. Callers from "
        "an affected area code hear the notice before the main menu until it is cleared.",
    )
    verbs = group.add_subparsers(dest="outage_command", required=True, metavar="VERB")

    add = verbs.add_parser("add", help="post a notice for some area codes")
    _common(add)
    add.add_argument("--area", required=True, metavar="CODES",
                     help="comma-separated area codes served in the config, e.g. 0711,0721")
    add.add_argument("--message", required=True, metavar="TEXT",
                     help=f"one line for supervisors' dashboards (at most "
                     f"{validation.MAX_MESSAGE} characters)")
    add.add_argument("--restore", metavar="TIME",
                     help="estimated restore time: HH:MM (the next one, local time) or ISO "
                     "8601 such as 2025-01-02T18:30+07:00; informs only, the notice stays "
                     "until cleared")
    add.add_argument("--by", default="cli", metavar="NAME",
                     help="who posts it, shown on the dashboard (cli)")
    add.set_defaults(handler=_add)

    listing = verbs.add_parser("list", help="show every notice on the board")
    _common(listing)
    listing.set_defaults(handler=_list)

    clear = verbs.add_parser("clear", help="remove a notice by id")
    _common(clear)
    clear.add_argument("id", metavar="ID", help="the notice's id, e.g. o-3 (see list)")
    clear.set_defaults(handler=_clear)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, type=Path, metavar="FILE",
                        help="the admin config (its redis section says where the board is)")
    parser.add_argument("--redis-url", metavar="URL",
                        help="use this Redis instead of the config's (password still from "
                        "the config's password_file)")


def parse_areas(text: str, config: Config) -> tuple[str, ...]:
    """Comma-separated codes, each well-formed and served by a site in `config`."""
    codes = [code.strip() for code in text.split(",") if code.strip()]
    try:
        codes = list(validation.area_codes(codes))
    except ValueError as error:
        raise BadInput(str(error)) from error
    unserved = [code for code in codes if config.site_for_area(code) is None]
    if unserved:
        served = sorted(a.code for s in config.sites.values() for a in s.area_codes)
        raise BadInput(f"area code {', '.join(unserved)} is not served by any site in "
                       f"{config.path} (served: {', '.join(served)})")
    return tuple(codes)


def parse_restore(text: str, now: datetime) -> float:
    """Epoch seconds for `--restore`, relative to the aware datetime `now`.

    HH:MM is the next such time (today, or tomorrow once it has passed); an ISO 8601 time
    without an offset is in `now`'s zone. A time in the past is refused: it is a typo.
    """
    match = _HH_MM.fullmatch(text.strip())
    if match:
        when = now.replace(hour=int(match[1]), minute=int(match[2]), second=0, microsecond=0)
        if when <= now:
            when += timedelta(days=1)
        return when.timestamp()
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError as error:
        raise BadInput(f"--restore {text!r} is neither HH:MM nor an ISO 8601 time") from error
    if when.tzinfo is None:
        when = when.replace(tzinfo=now.tzinfo)
    if when <= now:
        raise BadInput(f"--restore {text!r} is in the past")
    return when.timestamp()


def format_table(outages: Sequence[Outage]) -> str:
    """A plain-text table, one notice per line, the (long) message last."""
    if not outages:
        return "no outages on the board"
    rows = [("ID", "AREAS", "RESTORE", "POSTED", "BY", "MESSAGE")]
    for outage in outages:
        restore = "unknown" if outage.restore_at is None else _local(outage.restore_at)
        rows.append((outage.id, ",".join(outage.area_codes), restore,
                     _local(outage.created_at), outage.created_by, outage.message))
    widths = [max(len(row[column]) for row in rows) for column in range(5)]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False))
        + "  " + row[5]
        for row in rows
    )


def _local(seconds: float) -> str:
    return datetime.fromtimestamp(seconds).astimezone().strftime("%Y-%m-%d %H:%M %Z")


def _add(args: argparse.Namespace) -> int:
    def prepare(config: Config) -> Work:
        areas = parse_areas(args.area, config)
        try:
            message = validation.message(args.message)
            by = validation.created_by(args.by)
        except ValueError as error:
            raise BadInput(str(error)) from error
        restore = (None if args.restore is None
                   else parse_restore(args.restore, datetime.now().astimezone()))

        async def post(board: RedisOutageBoard, reactor: IReactorTime) -> int:
            outage = await board.post(areas, message, restore, by)
            print(f"posted {outage.id}")
            print(format_table([outage]))
            return 0

        return post

    return _main(args, prepare)


def _list(args: argparse.Namespace) -> int:
    async def show(board: RedisOutageBoard, reactor: IReactorTime) -> int:
        print(format_table(await board.all()))
        return 0

    return _main(args, lambda config: show)


def _clear(args: argparse.Namespace) -> int:
    async def clear(board: RedisOutageBoard, reactor: IReactorTime) -> int:
        if await board.clear(args.id):
            print(f"cleared {args.id}")
            return 0
        print(f"{PROG}: no outage {args.id!r} on the board (see: {PROG} list)", file=sys.stderr)
        return 1

    return _main(args, lambda config: clear)


def _main(args: argparse.Namespace, prepare: Callable[[Config], Work]) -> int:
    """Load the config, check the input, then run `work` against the board under react."""
    config = load_or_report(args.config)
    if config is None:
        return 2
    try:
        work = prepare(config)
        password = config.redis.read_password()
    except BadInput as error:
        print(f"{PROG}: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"{PROG}: cannot read the Redis password file: {error.strerror}", file=sys.stderr)
        return 2
    url = args.redis_url or config.redis.url
    return _react(url, password, work)


def _react(url: str, password: str | None, work: Work) -> int:
    async def on_board(store: RedisStore, reactor: IReactorTime) -> int:
        return await work(RedisOutageBoard(store, reactor), reactor)

    return run_with_store(PROG, url, password, on_board)
