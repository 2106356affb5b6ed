"""The ACD's Lua as shipped: .lua package data, rendered with the layout from keys.py.

The sources must not spell the key layout or its numbers themselves (they would drift from
the Python readers); the rendered script must have every placeholder filled, and its SHA
is what the ScriptRunner calls.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from fnmatch import fnmatch
from pathlib import Path

import pytest

from acd.queues import lua
from acd.queues.scripts import ScriptRunner
from acd.store import keys
from acd.store.lua import literal, render, source

ROOT = Path(__file__).resolve().parents[2]
LUA_SOURCES = sorted((ROOT / "acd").rglob("*.lua"))
KEY_PARTS = ("CALL", "LIVE", "QUEUE", "READY", "TIER", "AGENT", "SKILLS", "AGENTS", "AUDIT",
             "INTERVAL", "MINUTE", "PART", "LENDING", "LOANS", "TAKEN", "IDLE_AT", "RSL",
             "LENT", "BORROWED", "TRUNK", "ALIVE", "RINGS", "RESUME", "PHONES", "AUTO",
             "DESKTOP")
NUMBERS = ("INTERVAL_S", "MINUTE_S", "INTERVAL_KEEP_S", "MINUTE_KEEP_S", "SCORE_SCALE",
           "TOP_LEVEL", "LIVE_WINDOW_S", "NET_KEEP_S", "RINGS_MAXLEN")


def test_the_rendered_script_has_no_placeholder_left() -> None:
    assert "${" in lua.template()
    assert "$" not in lua.SCRIPT


def test_every_layout_value_is_keys_pys() -> None:
    values = lua.layout()
    assert set(values) == set(KEY_PARTS) | set(NUMBERS)
    for name, value in values.items():
        assert value == getattr(keys, name)
        assert literal(value) in lua.SCRIPT
    assert "local INTERVAL_KEEP_S, MINUTE_KEEP_S = 2678400, 1020" in lua.SCRIPT
    assert "local SCORE_SCALE, TOP_LEVEL, AUTO = 10000000000000, 10, 'auto'" in lua.SCRIPT
    assert "local CALL, LIVE, QUEUE, READY, TIER = 'call:', 'live', 'queue:', 'ready:', " \
           "'tier:'" in lua.SCRIPT


def test_a_changed_layout_shows_in_the_script_and_its_sha(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(keys, "QUEUE", "waiting:")
    monkeypatch.setattr(keys, "MINUTE_KEEP_S", 4321)
    monkeypatch.setattr(keys, "SCORE_SCALE", 10**12)
    changed = lua.render_script()
    assert "'waiting:'" in changed and "'queue:'" not in changed
    assert "4321" in changed and "1020" not in changed
    assert "1000000000000," in changed and "10000000000000" not in changed
    assert hashlib.sha1(changed.encode()).digest() != hashlib.sha1(lua.SCRIPT.encode()).digest()


def test_every_placeholder_is_filled_from_the_values() -> None:
    marked = {name: f"<{name}>" for name in KEY_PARTS}
    marked.update({name: 7_000_001 + i for i, name in enumerate(NUMBERS)})
    script = lua.render_script(marked)
    for name, value in marked.items():
        assert literal(value) in script, name
    with pytest.raises(KeyError):
        lua.render_script({name: v for name, v in marked.items() if name != "TIER"})


@pytest.mark.parametrize("path", LUA_SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_source_spells_a_key_part_or_a_layout_number(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    code = "\n".join(line.split("--", 1)[0] for line in text.splitlines())  # no comments
    for name in KEY_PARTS:
        part = str(getattr(keys, name))
        assert f"'{part}'" not in code and f'"{part}"' not in code, (name, part)
    for name in NUMBERS:
        number = str(getattr(keys, name))
        # as a value (an argument index such as A[10] is no layout number)
        assert not re.search(rf"(?<![\w.\[]){number}(?![\w.\]])", code), (name, number)
    assert "1e13" not in code
    assert "acd:" not in text


def test_the_contracts_are_beside_each_operation() -> None:
    template = lua.template()
    for operation in lua.OPERATIONS:
        head = template.index(f"local function {operation}()")
        assert template[:head].rstrip().splitlines()[-1].startswith("--"), operation
        assert f"{operation} = {operation}" in template  # in dispatch.lua's table


def test_the_runner_calls_the_rendered_script_by_its_sha() -> None:
    runner = ScriptRunner(None, "acd:{palembang}:live")  # type: ignore[arg-type]
    assert runner.sha == hashlib.sha1(lua.SCRIPT.encode()).hexdigest()


def test_literals() -> None:
    assert literal("it's \\") == "'it\\'s \\\\'"
    assert literal(900) == "900"
    assert literal(0.5) == "0.5"
    with pytest.raises(ValueError):
        literal(float("inf"))
    with pytest.raises(TypeError):
        literal(True)
    with pytest.raises(ValueError):
        render("return $ 1", {})


def test_every_lua_file_ships_as_package_data() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    data: dict[str, list[str]] = config["tool"]["setuptools"]["package-data"]
    assert LUA_SOURCES
    for path in LUA_SOURCES:
        package_dir = path.parent.parent
        package = ".".join(package_dir.relative_to(ROOT).parts)
        inside = str(path.relative_to(package_dir))
        assert any(fnmatch(inside, glob) for glob in data.get(package, [])), path
        assert source(package, path.name) == path.read_text(encoding="utf-8")
