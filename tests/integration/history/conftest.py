"""The history's databases: SQLite (the embedded default) and a real PostgreSQL.

Every test that takes `history_url` runs on both: production keeps the history in
PostgreSQL, and the default is a SQLite file; one schema and one code path serve both.
PostgreSQL is Debian's server, started once per session in a temporary directory and
stopped by PID (tests/fixtures/postgres.py); each test gets a database of its own.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures.postgres import PostgresServer, postgres_for_test

_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    with postgres_for_test() as server:
        yield server


@pytest.fixture(params=["sqlite", "postgresql"])
def history_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty history database's URL, on each backend in turn."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'history.sqlite3'}"
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return server.create_database(f"history_{next(_numbers)}")
