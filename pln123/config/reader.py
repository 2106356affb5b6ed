"""A small typed walker over parsed YAML that collects every error with its key path.

Admins fix config files in one pass when they see all problems at once, each named by
where it is (`sites.palembang.area_codes[2].code`), so nothing here raises on the first
error: it records the problem and returns a placeholder the caller ignores.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass(frozen=True, order=True)
class Problem:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path or '<top>'}: {self.message}"


class ConfigError(Exception):
    """An invalid config: every problem found, each with its key path."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


_TYPE_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "true or false",
               dict: "a mapping", list: "a list"}


class Reader:
    """Reads one mapping at `path`; problems go to the shared `problems` list."""

    def __init__(self, data: Any, path: str, problems: list[Problem], quiet: bool = False):
        self.path = path
        self.problems = problems
        # A section that is not a mapping is one problem, not one per key it lacks: a
        # broken reader (and its children) report no "is required".
        self.broken = quiet
        if not isinstance(data, dict):
            if data is not None and not quiet:
                self.error(f"must be a mapping, not {_describe(data)}")
            self.broken = quiet or data is not None
            data = {}
        self.data: dict[Any, Any] = data
        self._seen: set[str] = set()

    def error(self, message: str, key: str | int | None = None) -> None:
        path = self.path if key is None else join(self.path, key)
        self.problems.append(Problem(path, message))

    def has(self, key: str) -> bool:
        return key in self.data

    def raw(self, key: str, default: Any = None) -> Any:
        self._seen.add(key)
        return self.data.get(key, default)

    def typed(self, key: str, kind: type[T], default: T | None = None) -> T | None:
        """The value at `key` if it has type `kind`; `default` (or a problem) otherwise."""
        self._seen.add(key)
        if key not in self.data:
            if default is None and not self.broken:
                self.error("is required", key)
            return default
        value = self.data[key]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            self.error(f"must be {_TYPE_NAMES.get(kind, kind.__name__)}, "
                       f"not {_describe(value)}", key)
            return default
        return value

    def text(self, key: str, default: str | None = None) -> str:
        value = self.typed(key, str, default)
        if value is not None and not value.strip() and key in self.data:
            self.error("must not be empty", key)
        return value or ""

    def number(self, key: str, default: float | None, low: float, high: float) -> float:
        value = self.typed(key, float, default)
        if value is None:
            return low
        if not low <= value <= high:
            self.error(f"must be between {low:g} and {high:g}, not {value:g}", key)
        return value

    def integer(self, key: str, default: int | None, low: int, high: int) -> int:
        value = self.typed(key, int, default)
        if value is None:
            return low
        if not low <= value <= high:
            self.error(f"must be between {low} and {high}, not {value}", key)
        return value

    def child(self, key: str, required: bool = True) -> Reader:
        self._seen.add(key)
        if key not in self.data and required and not self.broken:
            self.error("is required", key)
        return Reader(self.data.get(key), join(self.path, key), self.problems, self.broken)

    def items(self, key: str) -> Iterator[tuple[str, Reader]]:
        """(name, reader) for each entry of the mapping at `key`."""
        section = self.child(key)
        for name in section.data:
            section._seen.add(str(name))
            yield str(name), Reader(section.data[name], join(section.path, str(name)),
                                    self.problems)

    def entries(self, key: str) -> Iterator[tuple[int, Any, str]]:
        """(index, value, path) for each element of the list at `key`."""
        self._seen.add(key)
        value = self.data.get(key)
        if value is None:
            if not self.broken:
                self.error("is required", key)
            return
        if not isinstance(value, list):
            self.error(f"must be a list, not {_describe(value)}", key)
            return
        for index, item in enumerate(value):
            yield index, item, join(join(self.path, key), index)

    def strings(self, key: str, required: bool = True) -> list[str]:
        self._seen.add(key)
        value = self.data.get(key)
        if value is None:
            if required and not self.broken:
                self.error("is required", key)
            return []
        if not isinstance(value, list):
            self.error(f"must be a list, not {_describe(value)}", key)
            return []
        out: list[str] = []
        for index, item in enumerate(value):
            if isinstance(item, str):
                out.append(item)
            else:
                self.error(f"must be a string, not {_describe(item)}", f"{key}[{index}]")
        return out

    def ignore_rest(self) -> None:
        """Accept the keys not read so far: a broken section they depend on was reported."""
        self._seen.update(str(key) for key in self.data)

    def finish(self) -> None:
        """Report keys nobody asked for: a misspelt key must not be silently ignored."""
        for key in self.data:
            if str(key) not in self._seen:
                self.error("unknown key", str(key))


def _describe(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return f"{str(value).lower()}"
    if isinstance(value, (dict, list)):
        return _TYPE_NAMES[type(value)]
    return repr(value)
