"""A small typed walker over parsed YAML that collects every error with its key path.

Admins fix config files in one pass when they see all problems at once, each named by
where it is (`sites.palembang.area_codes[2].code`), so nothing here raises on the first
error: it records the problem and returns a placeholder the caller ignores. The admin
config and the simulator's scenarios are both read with it, so both speak the same words.

`Reader` reads the keys of one mapping; the `*_at` functions check a value that is not
under a key of its own (an element of a list, the value of a free-form mapping).
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
                self.error(f"must be a mapping, not {describe(data)}")
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
        value = typed_at(self.data[key], kind, join(self.path, key), self.problems)
        return default if value is None else value

    def text(self, key: str, default: str | None = None) -> str:
        value = self.typed(key, str, default)
        if value is not None and not value.strip() and key in self.data:
            self.error("must not be empty", key)
        return value or ""

    def number(self, key: str, default: float | None, low: float, high: float) -> float:
        value = self.typed(key, float, default)
        if value is None:
            return low
        _check_range(value, low, high, join(self.path, key), self.problems)
        return value

    def integer(self, key: str, default: int | None, low: int, high: int) -> int:
        value = self.typed(key, int, default)
        if value is None:
            return low
        _check_range(value, low, high, join(self.path, key), self.problems)
        return value

    def child(self, key: str, required: bool = True) -> Reader:
        self._seen.add(key)
        if key not in self.data and required and not self.broken:
            self.error("is required", key)
        return Reader(self.data.get(key), join(self.path, key), self.problems, self.broken)

    def items(self, key: str, required: bool = True) -> Iterator[tuple[str, Reader]]:
        """(name, reader) for each entry of the mapping at `key`."""
        section = self.child(key, required)
        for name in section.data:
            section._seen.add(str(name))
            yield str(name), Reader(section.data[name], join(section.path, str(name)),
                                    self.problems)

    def pairs(self) -> Iterator[tuple[Any, Any, str]]:
        """(key as written, value, path) for each key of this mapping, all accepted: for a
        mapping whose keys are data (skill -> level), not field names."""
        for key, value in self.data.items():
            self._seen.add(str(key))
            yield key, value, join(self.path, str(key))

    def entries(self, key: str, required: bool = True) -> Iterator[tuple[int, Any, str]]:
        """(index, value, path) for each element of the list at `key`."""
        self._seen.add(key)
        value = self.data.get(key)
        if value is None:
            if required and not self.broken:
                self.error("is required", key)
            return
        yield from enumerate_at(value, join(self.path, key), self.problems)

    def strings(self, key: str, required: bool = True) -> list[str]:
        self._seen.add(key)
        value = self.data.get(key)
        if value is None:
            if required and not self.broken:
                self.error("is required", key)
            return []
        return strings_at(value, join(self.path, key), self.problems)

    def ignore_rest(self) -> None:
        """Accept the keys not read so far: a broken section they depend on was reported."""
        self._seen.update(str(key) for key in self.data)

    def finish(self) -> None:
        """Report keys nobody asked for: a misspelt key must not be silently ignored."""
        for key in self.data:
            if str(key) not in self._seen:
                self.error("unknown key", str(key))


def typed_at(value: Any, kind: type[T], path: str, problems: list[Problem]) -> T | None:
    """`value` if it has type `kind` (an integer counts as a number), else a problem."""
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        problems.append(Problem(path, f"must be {_TYPE_NAMES.get(kind, kind.__name__)}, "
                                      f"not {describe(value)}"))
        return None
    return value


def number_at(value: Any, path: str, problems: list[Problem], low: float, high: float
              ) -> float:
    """`value` as a number in [low, high]; `low` (and a problem) if it is no number."""
    number = typed_at(value, float, path, problems)
    if number is None:
        return low
    _check_range(number, low, high, path, problems)
    return number


def integer_at(value: Any, path: str, problems: list[Problem], low: int, high: int) -> int:
    """`value` as an integer in [low, high]; `low` (and a problem) if it is no integer."""
    number = typed_at(value, int, path, problems)
    if number is None:
        return low
    _check_range(number, low, high, path, problems)
    return number


def enumerate_at(value: Any, path: str, problems: list[Problem]
                 ) -> Iterator[tuple[int, Any, str]]:
    """(index, element, path) of the list `value`; nothing (and a problem) if no list."""
    if not isinstance(value, list):
        problems.append(Problem(path, f"must be a list, not {describe(value)}"))
        return
    for index, item in enumerate(value):
        yield index, item, join(path, index)


def strings_at(value: Any, path: str, problems: list[Problem]) -> list[str]:
    """The strings of the list `value`; each element that is not one is a problem."""
    out: list[str] = []
    for _index, item, where in enumerate_at(value, path, problems):
        if isinstance(item, str):
            out.append(item)
        else:
            problems.append(Problem(where, f"must be a string, not {describe(item)}"))
    return out


def _check_range(value: float, low: float, high: float, path: str,
                 problems: list[Problem]) -> None:
    if not low <= value <= high:
        # Integers print as written; numbers with %g, so 1e7 is not 10000000.0.
        if isinstance(value, int) and isinstance(low, int) and isinstance(high, int):
            message = f"must be between {low} and {high}, not {value}"
        else:
            message = f"must be between {low:g} and {high:g}, not {value:g}"
        problems.append(Problem(path, message))


def describe(value: Any) -> str:
    """A value as a problem names it: `nothing`, `true`, `a list`, `'text'`, `12`."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return f"{str(value).lower()}"
    if isinstance(value, (dict, list)):
        return _TYPE_NAMES[type(value)]
    return repr(value)
