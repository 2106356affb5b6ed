"""Reading a YAML file that a person wrote: duplicate keys refused, errors as Problems.

Shared by the admin config (`load_config`) and the simulator's scenarios, so both refuse
the same slips with the same words: a file that cannot be read, text that is not UTF-8,
YAML that does not parse (with line and column, as an editor shows them), and a key
written twice in one mapping.

The file may also be hostile, or an accident (a FIFO, a device, a log file named by
mistake), and it is read on a running site (`pln123 serve` on SIGHUP) as well as by
`pln123 config check`. So what it may cost is bounded before anything walks it: its size,
how deep it nests, how many values it expands to through aliases (the "billion laughs":
ten aliases of ten aliases of ... is a kilobyte of text and a billion values), and how
long an integer may be. Each is refused as one problem with its key path, never as a
traceback, a hang or gigabytes of memory.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from pln123.config.reader import ConfigError, Problem, join

MAX_BYTES = 1024 * 1024    # the national config is tens of KiB; this is twenty times that
MAX_DEPTH = 32             # mappings and lists inside each other; a config needs about 6
MAX_VALUES = 200_000       # values once aliases are expanded; a config has a few thousand
MAX_INT_DIGITS = 18        # every integer a config holds fits in a 64-bit one
_INT_TAG = "tag:yaml.org,2002:int"
_SHOWN_SEGMENTS = 8        # a path deeper than this is shown up to here, then "..."


class TooMuch(yaml.YAMLError):
    """A bound passed: `path` is where, `message` what (and the line, when known)."""

    def __init__(self, path: list[str | int], message: str, mark: yaml.Mark | None = None):
        super().__init__(message)
        self.path = path_text(path)
        line = f" (line {mark.line + 1})" if mark is not None else ""
        self.message = message + line


def path_text(path: list[str | int]) -> str:
    text = ""
    for segment in path[:_SHOWN_SEGMENTS]:
        text = join(text, segment)
    return text + ("..." if len(path) > _SHOWN_SEGMENTS else "")


class StrictLoader(yaml.SafeLoader):
    """PyYAML's safe loader, except that a key repeated in one mapping is an error and the
    bounds above hold.

    Plain `safe_load` keeps the last value silently: a second `palembang:` under `sites`
    (a copy-paste slip) would drop a whole site without a word.
    """

    def __init__(self, stream: str):
        super().__init__(stream)
        self._path: list[str | int] = []   # from the document's root to the node composed
        self._depth = 0

    # -- composing: the node graph, with its key paths, depth and integers checked --------

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        # PyYAML passes a mapping value's key node, a list element's index, or None for
        # the root and for keys (a key stays on its mapping's path).
        segment = _segment(index) if parent is not None and index is not None else None
        if segment is not None:
            self._path.append(segment)
        try:
            return super().compose_node(parent, index)
        finally:
            if segment is not None:
                self._path.pop()

    def compose_sequence_node(self, anchor: Any) -> SequenceNode:
        with self._nested():
            return super().compose_sequence_node(anchor)

    def compose_mapping_node(self, anchor: Any) -> MappingNode:
        with self._nested():
            return super().compose_mapping_node(anchor)

    def compose_scalar_node(self, anchor: Any) -> ScalarNode:
        node = super().compose_scalar_node(anchor)
        if node.tag == _INT_TAG:
            digits = sum(ch.isalnum() for ch in node.value)
            if digits > MAX_INT_DIGITS:
                raise TooMuch(self._path, f"an integer of {digits} digits: no config "
                                          f"value needs more than {MAX_INT_DIGITS}",
                              node.start_mark)
        return node

    def _nested(self) -> _Level:
        return _Level(self)

    def get_single_node(self) -> Node | None:
        node: Node | None = super().get_single_node()
        if node is not None:
            _check_expansion(node)
        return node

    # -- constructing ---------------------------------------------------------------------

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        first: dict[Any, yaml.Node] = {}
        for key_node, _value in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                earlier = first.setdefault(key, key_node)
            except TypeError:
                continue  # unhashable: the base class reports it
            if earlier is not key_node:
                raise yaml.constructor.ConstructorError(
                    None, None,
                    f"duplicate key {key!r} (first at line {earlier.start_mark.line + 1})",
                    key_node.start_mark)
        return super().construct_mapping(node, deep=deep)


class _Level:
    """One more mapping or list inside another while composing; too deep is refused."""

    def __init__(self, loader: StrictLoader):
        self.loader = loader

    def __enter__(self) -> None:
        self.loader._depth += 1
        if self.loader._depth > MAX_DEPTH:
            event = self.loader.peek_event()  # type: ignore[no-untyped-call]
            raise TooMuch(self.loader._path, f"nested more than {MAX_DEPTH} levels deep",
                          event.start_mark)

    def __exit__(self, *_exc: object) -> None:
        self.loader._depth -= 1


def _segment(index: Any) -> str | int:
    if isinstance(index, int):
        return index
    if isinstance(index, ScalarNode):
        return str(index.value)
    return "<key>"


def _children(node: Node) -> list[tuple[str | int | None, Node]]:
    """(path segment, child) of a node; a mapping's keys have no segment of their own."""
    if isinstance(node, SequenceNode):
        return list(enumerate(node.value))
    if isinstance(node, MappingNode):
        out: list[tuple[str | int | None, Node]] = []
        for key, value in node.value:
            out += [(None, key), (_segment(key), value)]
        return out
    return []


def _check_expansion(root: Node) -> None:
    """Refuse a node graph whose aliases expand to too many values or nest too deep.

    Composing keeps an alias as a second reference to its anchor's node, so a bomb is a
    small graph; it explodes only when something walks it as a tree (the checks, a
    message quoting a value). Sizes and depths are counted on the graph, each node once
    (iteratively: the graph may be deep), before anything walks the tree.
    """
    size: dict[int, int] = {}
    depth: dict[int, int] = {}
    aliased = False
    entered: set[int] = set()
    stack: list[tuple[Node, list[str | int], bool]] = [(root, [], False)]
    while stack:
        node, path, done = stack.pop()
        key = id(node)
        if done:
            children = _children(node)
            size[key] = min(MAX_VALUES + 1, 1 + sum(size[id(c)] for _s, c in children))
            inner = max((depth[id(c)] for _s, c in children), default=0)
            depth[key] = min(MAX_DEPTH + 1, inner + (0 if isinstance(node, ScalarNode) else 1))
            entered.discard(key)
            continue
        if key in size:
            aliased = True
            continue
        if key in entered:
            raise TooMuch(path[:-1], "this value contains itself through an alias",
                          node.start_mark)
        entered.add(key)
        stack.append((node, path, True))
        for segment, child in reversed(_children(node)):
            stack.append((child, path if segment is None else [*path, segment], False))
    if depth[id(root)] > MAX_DEPTH:
        raise TooMuch(_deepest(root, depth), f"nested more than {MAX_DEPTH} levels deep "
                                             "once its aliases are expanded")
    if size[id(root)] > MAX_VALUES:
        how = " through aliases" if aliased else ""
        raise TooMuch(_largest(root, size), f"expands to more than {MAX_VALUES} values{how}")


def _largest(root: Node, size: dict[int, int]) -> list[str | int]:
    """The path of the first value that alone is over the bound (or the smallest whole)."""
    path: list[str | int] = []
    node = root
    while True:
        over = next(((s, c) for s, c in _children(node)
                     if s is not None and size[id(c)] > MAX_VALUES), None)
        if over is None:
            return path
        path.append(over[0])
        node = over[1]


def _deepest(root: Node, depth: dict[int, int]) -> list[str | int]:
    """The path along the deepest chain down to where the bound is passed."""
    path: list[str | int] = []
    node, level = root, 1
    while level <= MAX_DEPTH:
        deepest = max(((s, c) for s, c in _children(node) if s is not None),
                      key=lambda item: depth[id(item[1])], default=None)
        if deepest is None:
            break
        path.append(deepest[0])
        node, level = deepest[1], level + 1
    return path


def yaml_problem(err: yaml.YAMLError) -> Problem:
    """One line: where and what, as an admin's editor shows it."""
    if isinstance(err, TooMuch):
        return Problem(err.path, err.message)
    if isinstance(err, yaml.MarkedYAMLError) and err.problem_mark is not None:
        mark = err.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}"
        context = f" ({err.context})" if err.context else ""
        return Problem("", f"not valid YAML at {where}: {err.problem}{context}")
    return Problem("", f"not valid YAML: {err}")


def parse_yaml(text: str) -> Any:
    """The data in `text`, or ConfigError with the one YAML problem."""
    try:
        return yaml.load(text, Loader=StrictLoader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.YAMLError as err:
        raise ConfigError([yaml_problem(err)]) from err
    except RecursionError as err:  # a bound above should come first; never a traceback
        raise ConfigError([Problem("", f"nested too deeply (more than {MAX_DEPTH} "
                                       "levels)")]) from err


def read_yaml(path: Path | str) -> Any:
    """The data in the file at `path`, or ConfigError saying why it cannot be had.

    Only a regular file of at most MAX_BYTES is read: opened without blocking (a FIFO
    would wait for a writer forever), checked, then read no further than the bound.
    """
    path = Path(path)
    try:
        raw = _read_bounded(path)
    except OSError as err:
        raise ConfigError([Problem("", f"cannot read {path}: {err.strerror}")]) from err
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ConfigError([Problem("", f"not UTF-8 text (byte {err.start})")]) from err
    return parse_yaml(text)


def _read_bounded(path: Path) -> bytes:
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        mode = os.fstat(fd).st_mode
    except OSError:
        os.close(fd)
        raise
    if not stat.S_ISREG(mode):
        os.close(fd)
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
        raise ConfigError([Problem("", f"{path} is not a regular file")])
    with os.fdopen(fd, "rb") as file:
        raw = file.read(MAX_BYTES + 1)
    if len(raw) > MAX_BYTES:
        raise ConfigError([Problem("", f"{path} is larger than {MAX_BYTES // 1024} KiB: "
                                       "not a config file")])
    return raw
