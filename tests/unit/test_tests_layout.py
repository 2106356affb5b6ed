"""The test folders are laid out by what their tests need, and share code only through the
shared packages, so a folder can move or run alone without dragging another one along:

    tests/unit          nothing: in this process, on a Clock
    tests/integration   a real Redis, or pln123 run as a process
    tests/e2e           the Asterisk sandbox
    tests/chaos         the Asterisk sandbox with faults injected (killed, restarted, cut off)
    tests/browser       headless Chromium
    tests/doubles       fakes and builders (start nothing: unit may use them)
    tests/harness       runs real things for more than one folder (never for unit)
    tests/fixtures      the server fixtures behind tests/conftest.py

A test module imports from its own folder (within tests/integration: its own subfolder)
and the shared packages, never from a sibling folder. Read from the source with `ast`,
like tests/unit/test_import_direction.py does for the packages.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.fixtures.servers import refuse_servers

TESTS = Path(__file__).resolve().parents[1]
SHARED = ("tests.doubles", "tests.harness", "tests.fixtures")
# What each shared package and the server-free folder may import of tests/.
ALLOWED: dict[str, tuple[str, ...]] = {
    "tests.doubles": ("tests.doubles",),
    "tests.fixtures": ("tests.fixtures",),
    "tests.harness": SHARED,
    "tests.unit": ("tests.unit", "tests.doubles", "tests.fixtures"),
}
# Never imported by a unit test: they drive a real server or a browser.
NOT_IN_UNIT = ("selenium",)
FOLDERS = ("unit", "integration", "e2e", "chaos", "browser", "doubles", "harness",
           "fixtures", "transcripts")


def _imports(path: Path) -> Iterator[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module
        elif isinstance(node, ast.ImportFrom):
            yield node.lineno, "." * node.level + (node.module or "")


def _folder(path: Path) -> str:
    """`tests.<folder>`, or `tests.integration.<subfolder>` for an integration module."""
    parts = path.relative_to(TESTS).parts
    depth = 3 if parts[0] == "integration" and len(parts) > 2 else 2
    return ".".join(("tests", *parts[: depth - 1]))


def _within(module: str, packages: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


def _violations(path: Path) -> list[str]:
    folder = _folder(path)
    allowed = ALLOWED.get(folder, (folder, *SHARED))
    found = []
    for line, module in _imports(path):
        where = f"tests/{path.relative_to(TESTS).as_posix()}:{line} imports {module}"
        if module.startswith("."):
            found.append(f"{where} (write imports of tests/ in full: tests.<folder>...)")
        elif module.split(".")[0] == "tests" and not _within(module, allowed):
            found.append(f"{where} ({folder} may import only {', '.join(allowed)})")
        elif folder == "tests.unit" and _within(module, NOT_IN_UNIT):
            found.append(f"{where} (a unit test drives no browser)")
    return found


def _modules() -> list[Path]:
    return sorted(p for p in TESTS.rglob("*.py") if "__pycache__" not in p.parts
                  and p.parent != TESTS)


def test_every_folder_is_known() -> None:
    assert {p.relative_to(TESTS).parts[0] for p in _modules()} <= set(FOLDERS)


def test_no_module_imports_from_a_sibling_folder() -> None:
    assert [v for path in _modules() for v in _violations(path)] == []


def test_the_check_sees_an_import_from_a_sibling_folder(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    e2e = tmp_path / "e2e"
    (tmp_path / "integration" / "acd").mkdir(parents=True)
    e2e.mkdir()
    monkeypatch.setattr(f"{__name__}.TESTS", tmp_path)
    module = e2e / "test_x.py"
    module.write_text("from tests.harness.ami import connect\n"
                      "def f():\n    from tests.unit.test_y import helper\n")
    assert [v.split(" (")[0] for v in _violations(module)] == [
        "tests/e2e/test_x.py:3 imports tests.unit.test_y"]
    inside = tmp_path / "integration" / "acd" / "test_z.py"
    inside.write_text("from tests.integration.acd.helpers import h\n"
                      "from tests.integration.sim.harness import s\n")
    assert [v.split(" (")[0] for v in _violations(inside)] == [
        "tests/integration/acd/test_z.py:2 imports tests.integration.sim.harness"]
    unit = tmp_path / "unit" / "test_u.py"
    unit.parent.mkdir()
    unit.write_text("from tests.doubles.telephony import FakeTelephony\n"
                    "from tests.harness.acd import start_acd\n")
    assert [v.split(" (")[0] for v in _violations(unit)] == [
        "tests/unit/test_u.py:2 imports tests.harness.acd"]


def _item(*fixtures: str, marks: tuple[str, ...] = ()) -> pytest.Item:
    item = SimpleNamespace(nodeid="tests/unit/test_x.py::test_y",
                           fixturenames=["request", "tmp_path", *fixtures],
                           get_closest_marker=lambda name: name if name in marks else None)
    return item  # type: ignore[return-value]


@pytest.mark.parametrize(("fixtures", "marks", "named"), [
    (("fresh_redis", "redis_server"), (), "fresh_redis, redis_server"),
    (("redis_topology",), (), "redis_topology"),
    (("asterisk_site", "asterisk_sandbox", "sandbox_root"), (), "asterisk_sandbox"),
    (("browser",), (), "browser"),
    ((), ("redis",), "@pytest.mark.redis"),
], ids=["redis", "topology", "asterisk", "browser", "marker"])
def test_the_unit_guard_refuses_a_test_that_wants_a_server(
        fixtures: tuple[str, ...], marks: tuple[str, ...], named: str) -> None:
    with pytest.raises(pytest.fail.Exception, match=named):
        refuse_servers(_item(*fixtures, marks=marks))


def test_the_unit_guard_lets_a_server_free_test_run(request: pytest.FixtureRequest) -> None:
    refuse_servers(request.node)
    refuse_servers(_item("capsys", "monkeypatch"))


def test_the_unit_guard_is_installed_for_this_folder(request: pytest.FixtureRequest) -> None:
    guards = [impl.plugin_name for impl in request.node.ihook.pytest_runtest_setup.get_hookimpls()
              if impl.plugin_name.endswith("tests/unit/conftest.py")]
    assert len(guards) == 1
