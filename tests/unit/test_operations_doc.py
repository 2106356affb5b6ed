"""docs/operations.md: every `pln123 ...` command it shows exists, with the options shown.

Commands are taken from fenced code blocks (lines starting with `pln123`, `\\` continuations
joined) and from inline code spans starting with `pln123 `. For each, the verbs (the words
before the first option or argument) are run with `--help` through the real entry point,
which must exit 0, and every `--option` the doc uses must be in that help text. The guide
must also keep covering every topic an operator needs (`test_the_guide_covers`).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pln123.cli.main import main

DOC = Path(__file__).resolve().parents[2] / "docs" / "operations.md"
_FENCE = re.compile(r"^[ \t]*```[^\n]*\n(.*?)^[ \t]*```", re.DOTALL | re.MULTILINE)
_INLINE = re.compile(r"`(pln123 [^`]+)`")
_VERB = re.compile(r"[a-z][a-z-]*\Z")


def commands(text: str) -> list[str]:
    found: list[str] = []
    for block in _FENCE.findall(text):
        joined = block.replace("\\\n", " ")
        found += [line.strip() for line in joined.splitlines()
                  if line.strip().startswith("pln123 ")]
    found += _INLINE.findall(_FENCE.sub("", text))
    return found


def split(command: str) -> tuple[tuple[str, ...], set[str]]:
    words = command.split()[1:]
    verbs: list[str] = []
    for word in words:
        if not _VERB.match(word):
            break
        verbs.append(word)
    options = {w.split("=", 1)[0] for w in words if w.startswith("--")}
    return tuple(verbs), options


DOC_COMMANDS = commands(DOC.read_text())


def test_the_guide_shows_the_commands_an_admin_needs() -> None:
    verbs = {split(c)[0] for c in DOC_COMMANDS}
    assert {("config", "check"), ("asterisk", "render"), ("dialplan", "render"),
            ("prompts", "build"), ("agent", "login"), ("serve",)} <= verbs, verbs


def run_help(verbs: tuple[str, ...], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """`pln123 <verbs> --help` through the real entry point: (exit status, output)."""
    with pytest.raises(SystemExit) as exited:
        main([*verbs, "--help"])
    captured = capsys.readouterr()
    return int(exited.value.code or 0), captured.out + captured.err


@pytest.mark.parametrize("command", sorted(set(DOC_COMMANDS)))
def test_each_command_exists_with_its_options(command: str,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    verbs, options = split(command)
    assert verbs, f"no verb in {command!r}"
    status, output = run_help(verbs, capsys)
    assert status == 0, f"pln123 {' '.join(verbs)} --help: {output}"
    missing = {o for o in options - {"--help"} if o not in output}
    assert not missing, f"{command!r}: pln123 {' '.join(verbs)} has no {sorted(missing)}"


def test_a_made_up_command_or_option_would_fail(capsys: pytest.CaptureFixture[str]) -> None:
    """The checks above can fail: an unknown verb exits non-zero, an unknown option is
    not in the help text."""
    assert run_help(("asterisk", "reload"), capsys)[0] != 0
    assert "--sounds-dir" not in run_help(("asterisk", "render"), capsys)[1]


@pytest.mark.parametrize("topic", [
    "Install on Debian or Ubuntu", "The site config", "Adding an agent",
    "Adding an area code", "Rolling restart", "backup (AOF) and failover",
    "Capacity planning", "Security hardening", "AMI over TLS", "shell-equivalent",
    "Secrets files' modes", "SIGHUP", "SIGTERM", "Exit codes", "needs a restart",
])
def test_the_guide_covers(topic: str) -> None:
    assert topic.lower() in DOC.read_text().lower()
