"""The `history:` section: optional, a SQLite or PostgreSQL URL without a password in it,
the password from a file."""

from __future__ import annotations

from pathlib import Path

import pytest

from pln123.config import ConfigError, parse_config
from tests.doubles.config import SHIPPED, shipped


def test_without_the_section_the_history_is_the_sqlite_default() -> None:
    data = shipped()
    data.pop("history", None)
    history = parse_config(data, SHIPPED).history
    assert (history.database, history.password_file, history.utc_offset_s) == (None, None,
                                                                               7 * 3600)


def test_a_postgresql_history(tmp_path: Path) -> None:
    secret = tmp_path / "history.password"
    secret.write_text("s3cret\n", encoding="utf-8")
    data = shipped()
    data["history"] = {"database": "postgresql://pln123@db.example/pln123",
                       "password_file": str(secret), "utc_offset_h": 8}
    history = parse_config(data, SHIPPED).history
    assert history.database == "postgresql://pln123@db.example/pln123"
    assert history.read_password() == "s3cret"
    assert history.utc_offset_s == 8 * 3600


@pytest.mark.parametrize(("section", "message"), [
    ({"database": "mysql://x@y/z"}, "history.database: 'y/z' is not a sqlite:/// or "
                                    "postgresql:// URL"),
    ({"database": "postgresql://u:pw@db/h"}, "history.database: the password goes in "
                                             "password_file, not the URL"),
    ({"password_file": "/nonexistent/pw"}, "history.password_file: cannot read "
                                           "/nonexistent/pw"),
    ({"databse": "sqlite:///x"}, "history.databse"),
])
def test_mistakes_are_named_by_key(section: dict[str, str], message: str) -> None:
    data = shipped()
    data["history"] = section
    with pytest.raises(ConfigError) as caught:
        parse_config(data, SHIPPED)
    assert any(str(p).startswith(message) for p in caught.value.problems), \
        caught.value.problems
