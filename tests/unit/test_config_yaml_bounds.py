"""A hostile or broken config file is refused at once with a key path, never a traceback, a
hang or gigabytes: alias bombs, huge files, huge integers, deep nesting, a FIFO."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from pln123.config import ConfigError, load_config
from pln123.config.yaml_file import MAX_BYTES, MAX_DEPTH, MAX_VALUES, read_yaml
from tests.doubles.config import dump, shipped_data

QUICK_S = 5.0   # every refusal below comes in milliseconds; the bombs took minutes


def refused(path: Path) -> list[tuple[str, str]]:
    started = time.perf_counter()
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert time.perf_counter() - started < QUICK_S
    return [(p.path, p.message) for p in caught.value.problems]


def config_text(**replace: str) -> str:
    """The shipped config as YAML text, with some top-level sections written by hand."""
    data = shipped_data()
    for key in replace:
        data.pop(key)
    return dump(data, sort_keys=False) + "".join(replace.values())


def bomb(indent: str, levels: int = 9, anchor: str = "lol") -> str:
    """Each level ten aliases of the one before: 10**levels values from ~1 KB of text."""
    lines = [f"{indent}x0: &{anchor}0 [{', '.join(['lol'] * 10)}]\n"]
    for level in range(1, levels):
        aliases = ", ".join([f"*{anchor}{level - 1}"] * 10)
        lines.append(f"{indent}x{level}: &{anchor}{level} [{aliases}]\n")
    return "".join(lines)


@pytest.mark.timeout(60)
def test_an_alias_bomb_under_regions_is_refused_with_its_key_path(tmp_path: Path) -> None:
    path = tmp_path / "pln.yaml"
    path.write_text(config_text(regions="regions:\n" + bomb("  ")), encoding="utf-8")
    problems = refused(path)
    assert len(problems) == 1, problems
    where, message = problems[0]
    assert where.startswith("regions.x"), problems
    assert f"more than {MAX_VALUES} values" in message and "alias" in message


@pytest.mark.timeout(60)
def test_an_alias_bomb_in_area_codes_is_refused_with_its_key_path(tmp_path: Path) -> None:
    data = shipped_data()
    data["sites"]["palembang"]["area_codes"] = "BOMB"
    text = dump(data, sort_keys=False)
    line = next(line for line in text.splitlines() if line.endswith("area_codes: BOMB"))
    indent = " " * (len(line) - len(line.lstrip()) + 2)
    levels = [f"{indent}- &c0 [" + ", ".join(['"0711"'] * 10) + "]\n"]
    levels += [f"{indent}- &c{n} [{', '.join([f'*c{n - 1}'] * 10)}]\n" for n in range(1, 9)]
    text = text.replace(line + "\n", line.replace("BOMB", "") + "\n" + "".join(levels))
    path = tmp_path / "pln.yaml"
    path.write_text(text, encoding="utf-8")
    problems = refused(path)
    assert len(problems) == 1, problems
    assert problems[0][0].startswith("sites.palembang.area_codes["), problems
    assert "alias" in problems[0][1]


def test_a_few_aliases_are_still_fine(tmp_path: Path) -> None:
    """Anchors and merge keys are ordinary YAML: only their expansion is bounded."""
    data = shipped_data()
    text = dump(data, sort_keys=False)
    text = text.replace("  palembang:\n    ami:\n", "  palembang: &p\n    ami:\n", 1)
    path = tmp_path / "pln.yaml"
    path.write_text(text, encoding="utf-8")
    assert "palembang" in load_config(path).sites


def test_an_alias_that_contains_itself_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "pln.yaml"
    path.write_text(config_text(languages="languages: &l [id, *l]\n"), encoding="utf-8")
    problems = refused(path)
    assert problems == [("languages", problems[0][1])], problems
    assert "contains itself" in problems[0][1]


def test_a_file_over_the_size_limit_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    path = tmp_path / "pln.yaml"
    padding = "# " + "x" * 78 + "\n"
    path.write_text(config_text() + padding * (MAX_BYTES // len(padding) + 1),
                    encoding="utf-8")
    problems = refused(path)
    assert problems == [("", f"{path} is larger than {MAX_BYTES // 1024} KiB: "
                             "not a config file")]


@pytest.mark.parametrize("digits", [30, 5_000])
def test_a_huge_integer_is_refused_with_its_key_path(tmp_path: Path, digits: int) -> None:
    data = shipped_data()
    data["acd"]["ring_timeout_s"] = "HUGE"
    text = dump(data, sort_keys=False).replace("ring_timeout_s: HUGE",
                                               "ring_timeout_s: " + "9" * digits)
    path = tmp_path / "pln.yaml"
    path.write_text(text, encoding="utf-8")
    problems = refused(path)
    assert len(problems) == 1 and problems[0][0] == "acd.ring_timeout_s", problems
    assert f"an integer of {digits} digits" in problems[0][1]


@pytest.mark.parametrize("nested", [
    "[" * 5_000 + "]" * 5_000,
    "".join("{a: " for _ in range(2_000)) + "1" + "}" * 2_000,
])
def test_deep_nesting_is_refused_with_its_key_path(tmp_path: Path, nested: str) -> None:
    path = tmp_path / "pln.yaml"
    path.write_text(config_text(skills=f"skills: {nested}\n"), encoding="utf-8")
    problems = refused(path)
    assert len(problems) == 1 and problems[0][0].startswith("skills"), problems
    assert f"nested more than {MAX_DEPTH} levels deep" in problems[0][1]


def test_nesting_through_aliases_is_bounded_too(tmp_path: Path) -> None:
    deep = "[" * (MAX_DEPTH - 2) + "x" + "]" * (MAX_DEPTH - 2)
    chain = [f"  - &d0 {deep}\n"]
    chain += [f"  - &d{n} {'[' * (MAX_DEPTH - 3)}*d{n - 1}{']' * (MAX_DEPTH - 3)}\n"
              for n in range(1, 40)]
    path = tmp_path / "pln.yaml"
    path.write_text(config_text(skills="skills:\n" + "".join(chain)), encoding="utf-8")
    problems = refused(path)
    assert len(problems) == 1 and problems[0][0].startswith("skills["), problems
    assert f"nested more than {MAX_DEPTH} levels deep" in problems[0][1]


@pytest.mark.timeout(20)
def test_a_fifo_is_refused_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "pln.yaml"
    os.mkfifo(fifo)
    assert refused(fifo) == [("", f"{fifo} is not a regular file")]


def test_a_device_is_refused() -> None:
    with pytest.raises(ConfigError) as caught:
        read_yaml("/dev/zero")                 # endless: it would be read until memory ran out
    assert [str(p) for p in caught.value.problems] == ["<top>: /dev/zero is not a regular file"]


def test_a_missing_file_is_named() -> None:
    with pytest.raises(ConfigError) as caught:
        read_yaml("/nonexistent/pln.yaml")
    assert [str(p) for p in caught.value.problems] == [
        "<top>: cannot read /nonexistent/pln.yaml: No such file or directory"]
