"""`pln123 user add NAME --role ROLE`: a supervisor's config line with an argon2 hash.

The password is read from `--password-file`, else typed twice at a terminal, else the
first line of standard input (for scripts); it is never an argument (shell history, `ps`).
The printed line goes under `dashboard: supervisors:` in the admin config; with
`--role agent` the name is the agent's roster id and the line goes under `desktop: agents:`
(the agent desktop, docs/desktop.md).

Exit status: 0 printed; 2 bad input (name, role, empty or mismatched password).
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from pathlib import Path
from typing import Any

from pln123.config.acd import AGENT_ID
from pln123.web.accounts import SUPERVISOR_NAME, Role, hash_password

PROG = "pln123 user"


def register(commands: Any) -> None:
    group = commands.add_parser("user", help="supervisor accounts for the dashboard")
    verbs = group.add_subparsers(dest="user_command", required=True, metavar="VERB")
    add = verbs.add_parser(
        "add", help="print a supervisor's config line with the password's argon2 hash",
        description="Reads the password (--password-file, a terminal prompt, or the first "
        "line of standard input) and prints the line for dashboard.supervisors.")
    add.add_argument("name", help="login name ([a-z][a-z0-9._-]*, max 32)")
    add.add_argument("--role", required=True,
                     help="'national' (every site), 'site:<name>' (acts on that site) or "
                     "'agent' (the agent desktop; NAME is the agent's id)")
    add.add_argument("--password-file", type=Path, metavar="FILE",
                     help="read the password from this file's first line")
    add.set_defaults(handler=run_add)


def read_password(args: argparse.Namespace) -> str:
    source: Path | None = args.password_file
    if source is not None:
        return source.read_text(encoding="utf-8").splitlines()[0]
    if sys.stdin.isatty():
        first = getpass.getpass("password: ")
        if getpass.getpass("again: ") != first:
            raise ValueError("the two passwords differ")
        return first
    return sys.stdin.readline().rstrip("\r\n")


def config_line(name: str, role: Role, password_hash: str) -> str:
    """One YAML flow mapping; json.dumps quotes the strings as YAML reads them."""
    return (f"    - {{name: {name}, role: {json.dumps(str(role))}, "
            f"password_hash: {json.dumps(password_hash)}}}")


def agent_line(agent_id: str, password_hash: str) -> str:
    """The line for `desktop: agents:` (the id quoted: YAML would read 1001 as a number)."""
    return f"    - {{id: {json.dumps(agent_id)}, password_hash: {json.dumps(password_hash)}}}"


def run_add(args: argparse.Namespace) -> int:
    try:
        line = _agent_line(args) if args.role == "agent" else _supervisor_line(args)
    except (OSError, IndexError) as error:
        print(f"{PROG}: cannot read the password file: {error}", file=sys.stderr)
        return 2
    except ValueError as error:
        print(f"{PROG}: {error}", file=sys.stderr)
        return 2
    print(line)
    return 0


def _supervisor_line(args: argparse.Namespace) -> str:
    if not SUPERVISOR_NAME.match(args.name):
        raise ValueError(f"{args.name!r} is not a supervisor name ([a-z][a-z0-9._-]*)")
    role = Role.parse(args.role)
    return config_line(args.name, role, hash_password(_new_password(args)))


def _agent_line(args: argparse.Namespace) -> str:
    if not AGENT_ID.match(args.name):
        raise ValueError(f"{args.name!r} is not an agent id (3 to 8 digits, as in agents:)")
    return agent_line(args.name, hash_password(_new_password(args)))


def _new_password(args: argparse.Namespace) -> str:
    password = read_password(args)
    if len(password) < 8:
        raise ValueError("the password must have at least 8 characters")
    return password
