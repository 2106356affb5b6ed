"""The history's database: its URL, an engine, and the schema brought up to date.

One schema for every backend, migrated by Alembic (pln123/history/migrations): SQLite as
the embedded default (a file, nothing to set up), PostgreSQL in production. A URL written
`postgresql://` gets the psycopg (v3) driver, the one the `postgresql` extra installs.
SQLite runs in WAL mode, so `pln123 report` reads while the archiver writes.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy import URL, Engine, create_engine, event, make_url

DEFAULT_FILE = "history.sqlite3"
SYSTEM_STATE_DIR = Path("/var/lib/pln123")
MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def state_dir(environ: os._Environ[str] | dict[str, str] | None = None) -> Path:
    """Where the default SQLite file lives: systemd's StateDirectory ($STATE_DIRECTORY),
    else /var/lib/pln123 when it is writable, else $XDG_STATE_HOME/pln123 (a developer)."""
    env = os.environ if environ is None else environ
    given = env.get("STATE_DIRECTORY", "").split(":")[0]
    if given:
        return Path(given)
    if os.access(SYSTEM_STATE_DIR, os.W_OK):
        return SYSTEM_STATE_DIR
    home = env.get("XDG_STATE_HOME") or str(Path(env.get("HOME") or Path.home()) /
                                            ".local/state")
    return Path(home) / "pln123"


def default_url(environ: dict[str, str] | None = None) -> str:
    return f"sqlite:///{state_dir(environ) / DEFAULT_FILE}"


def database_url(url: str | None, password: str | None = None) -> URL:
    """The SQLAlchemy URL for the config's `history.database` (None: the SQLite default),
    with the password from its file and the psycopg driver for a bare `postgresql://`."""
    parsed = make_url(url or default_url())
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if password is not None:
        parsed = parsed.set(password=password)
    return parsed


def open_engine(url: URL | str) -> Engine:
    """An engine for `url`; a SQLite file's folder is created, and WAL switched on."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(parsed, pool_pre_ping=True)


def _sqlite_pragmas(connection: Any, _record: object) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")  # a committed (and acked) entry survives a crash
    cursor.close()


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to `revision` (Alembic, from the migrations shipped with pln123)."""
    from alembic import command
    from alembic.config import Config as AlembicConfig

    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        revision: str | None = MigrationContext.configure(connection).get_current_revision()
        return revision
