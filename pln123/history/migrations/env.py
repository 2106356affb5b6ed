"""Alembic's environment for the history: run on the connection pln123 hands over.

`pln123.history.database.migrate` opens the connection (SQLite or PostgreSQL) and passes
it in `config.attributes["connection"]`; there is no alembic.ini, so migrations ship as
package data and run wherever pln123 is installed.
"""

from __future__ import annotations

from alembic import context

from pln123.history.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only reached by running alembic by hand
    raise RuntimeError("run the history's migrations with pln123.history.database.migrate")
context.configure(connection=connection, target_metadata=metadata,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
