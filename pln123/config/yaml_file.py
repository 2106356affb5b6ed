"""Reading a YAML file that a person wrote: duplicate keys refused, errors as Problems.

Shared by the admin config (`load_config`) and the simulator's scenarios, so both refuse
the same slips with the same words: a file that cannot be read, text that is not UTF-8,
YAML that does not parse (with line and column, as an editor shows them), and a key
written twice in one mapping.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from pln123.config.reader import ConfigError, Problem


class StrictLoader(yaml.SafeLoader):
    """PyYAML's safe loader, except that a key repeated in one mapping is an error.

    Plain `safe_load` keeps the last value silently: a second `palembang:` under `sites`
    (a copy-paste slip) would drop a whole site without a word.
    """

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


def yaml_problem(err: yaml.YAMLError) -> Problem:
    """One line: where and what, as an admin's editor shows it."""
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


def read_yaml(path: Path | str) -> Any:
    """The data in the file at `path`, or ConfigError saying why it cannot be had."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError([Problem("", f"cannot read {path}: {err.strerror}")]) from err
    except UnicodeDecodeError as err:
        raise ConfigError([Problem("", f"not UTF-8 text (byte {err.start})")]) from err
    return parse_yaml(text)
