"""The history's database: the migrations build exactly the schema the code describes, the
writer stores each stream entry once, and the default needs no set-up (an SQLite file
under the state directory)."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import func, inspect, select

from pln123.history.database import (
    current_revision,
    database_url,
    default_url,
    migrate,
    open_engine,
    state_dir,
)
from pln123.history.rows import parse_entry
from pln123.history.schema import calls, events, metadata
from pln123.history.writer import HistoryWriter

T0 = 1_735_801_200.0


def test_the_migrations_build_the_described_schema(tmp_path: Path) -> None:
    engine = open_engine(f"sqlite:///{tmp_path / 'nested' / 'history.sqlite3'}")
    assert current_revision(engine) is None
    migrate(engine)
    migrate(engine)   # at head already: nothing to do
    assert current_revision(engine) == "0001"
    with engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), metadata) == []
    columns = {c["name"] for c in inspect(engine).get_columns("calls")}
    assert {"recording_path", "disposition", "ticket"} <= columns   # for the later steps
    engine.dispose()


def test_each_stream_entry_is_stored_once(tmp_path: Path) -> None:
    engine = open_engine(f"sqlite:///{tmp_path / 'history.sqlite3'}")
    migrate(engine)
    writer = HistoryWriter(engine)
    base = {"site": "palembang", "call": "c1", "skill": "billing", "agent": ""}
    batch = [parse_entry("palembang", "1-0", {**base, "event": "offered", "at": str(T0)}),
             parse_entry("palembang", "2-0", {**base, "event": "abandoned",
                                              "at": str(T0 + 9), "wait_ms": "9000",
                                              "in_sl": "1"}),
             parse_entry("medan", "1-0", {**base, "event": "login", "subject": "agent",
                                          "agent": "2001", "at": str(T0)})]
    first = writer.write(batch)
    assert (first.stored, first.skipped, first.calls) == (3, 0, 1)
    again = writer.write([*batch, batch[0]])
    assert (again.stored, again.skipped, again.calls) == (0, 4, 0)
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(events)).scalar() == 3
        (row,) = connection.execute(select(calls)).mappings()
    assert (row["outcome"], row["wait_s"], row["in_sl"]) == ("abandoned", 9.0, True)
    engine.dispose()


def test_the_default_is_a_sqlite_file_in_the_state_directory(tmp_path: Path) -> None:
    assert state_dir({"STATE_DIRECTORY": "/var/lib/pln123:/other"}) == Path("/var/lib/pln123")
    assert default_url({"STATE_DIRECTORY": str(tmp_path)}) == \
        f"sqlite:///{tmp_path}/history.sqlite3"
    assert database_url("postgresql://pln123@db/pln123", "s3cret").drivername == \
        "postgresql+psycopg"
    assert database_url("postgresql://pln123@db/pln123", "s3cret").password == "s3cret"
    assert database_url("sqlite:////tmp/h.sqlite3").get_backend_name() == "sqlite"
