"""Lua scripts kept as .lua files in the packages (package data), and their rendering.

A script's source lives in `<package>/lua/<name>.lua`, so it reads (and is reviewed) as
Lua, with its argument and reply contract as Lua comments beside the code. Values that
belong to the key layout are not written again in Lua: a source names them `${NAME}` and
`render` writes in the Lua literal of each value from acd/store/keys.py, once, when the
script is loaded (see acd/queues/lua.py for why then and not per call).
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import resources
from string import Template

LuaValue = str | int | float


def source(package: str, name: str) -> str:
    """The text of `<package>/lua/<name>`, wherever the package is installed."""
    return (resources.files(package) / "lua" / name).read_text(encoding="utf-8")


def literal(value: LuaValue) -> str:
    """`value` as a Lua literal: a quoted string, or a number Lua reads back exactly."""
    if isinstance(value, bool):
        raise TypeError("a Lua script takes no Python booleans")
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n")
        return f"'{escaped}'"
    if isinstance(value, int):
        return str(value)
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(f"{value!r} has no Lua literal")
    return repr(value)


def render(text: str, values: Mapping[str, LuaValue]) -> str:
    """`text` with every `${NAME}` replaced by the Lua literal of `values[NAME]`.

    A name missing from `values` (KeyError) or a stray `$` (ValueError) fails here, at
    load time, rather than as a Lua syntax error in Redis.
    """
    return Template(text).substitute({name: literal(v) for name, v in values.items()})
