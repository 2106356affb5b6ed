"""The `history:` section of the admin config: where `pln123 archive` keeps the history.

    history:
      database: postgresql://pln123@db.example/pln123   # optional; SQLAlchemy URL
      password_file: secrets/history.password           # optional; never in the YAML
      utc_offset_h: 7                                    # reports' local time (WIB)

Without `database` the history is a SQLite file under the state directory
(pln123.history.database.default_url): nothing to set up. The section is optional.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pln123.config.reader import Reader

SCHEMES = ("sqlite", "postgresql", "postgres")


@dataclass(frozen=True)
class HistorySettings:
    database: str | None = None         # None: the SQLite default
    password_file: Path | None = None
    utc_offset_s: float = 7 * 3600

    def read_password(self) -> str | None:
        if self.password_file is None:
            return None
        return self.password_file.read_text(encoding="utf-8").strip()


def parse_history(top: Reader, base: Path) -> HistorySettings:
    if top.raw("history") is None:
        return HistorySettings()
    reader = top.child("history")
    database = reader.text("database", "") or None
    if database is not None:
        scheme = database.split(":", 1)[0].split("+", 1)[0]
        if "://" not in database or scheme not in SCHEMES:
            reader.error(f"{database.split('@')[-1]!r} is not a sqlite:/// or postgresql:// "
                         "URL", "database")
        elif "@" in database and ":" in database.split("://", 1)[1].split("@", 1)[0]:
            reader.error("the password goes in password_file, not the URL", "database")
    password_file = None
    name = reader.text("password_file", "")
    if name:
        password_file = Path(name) if Path(name).is_absolute() else base / name
        if not password_file.is_file():
            reader.error(f"cannot read {password_file}", "password_file")
    offset = reader.number("utc_offset_h", 7, -12, 14)
    reader.finish()
    return HistorySettings(database, password_file, offset * 3600)
