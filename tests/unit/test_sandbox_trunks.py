"""Joining a namespace's instances by their trunks: each gets the real trunk include with
the other instances' loopback ports; a test site outside the config gets a stand-in; a
running instance is reloaded only when its file changed."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.sandbox import Instance, trunks
from tools.sandbox.render import TRUNK_FILE


def instance(root: Path, site: str, iax_port: int) -> Instance:
    made = Instance(root, "ns", site, ami_port=iax_port + 1000, iax_port=iax_port)
    (made.path / "etc").mkdir(parents=True)
    return made


def written(made: Instance) -> str:
    return (made.path / "etc" / TRUNK_FILE).read_text()


def test_each_instance_gets_the_others_as_peers(tmp_path: Path) -> None:
    palembang, medan, alpha = (instance(tmp_path, "palembang", 14570),
                               instance(tmp_path, "medan", 14571),
                               instance(tmp_path, "alpha", 14572))
    assert trunks.join_trunks([palembang, medan, alpha]) == []  # none running: no reload
    text = written(palembang)
    assert "[pln-medan]\ntype=peer\nhost=127.0.0.1\nport=14571\n" in text
    assert "[pln-jakarta]" not in text and "[pln-palembang]" not in text
    assert "permit=127.0.0.1/32" in text
    assert "port=14570" in written(medan)
    assert written(alpha).startswith("; pln123 sandbox: no pln123 trunks for site alpha")


def test_only_a_changed_running_instance_is_reloaded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    palembang, medan = instance(tmp_path, "palembang", 14570), instance(tmp_path, "medan", 14571)
    commands: list[tuple[str, str]] = []
    monkeypatch.setattr(Instance, "is_running", lambda self: True)
    monkeypatch.setattr(Instance, "cli",
                        lambda self, command, timeout=10.0: commands.append((self.site, command))
                        or "")
    assert trunks.join_trunks([palembang]) == ["palembang"]
    assert trunks.join_trunks([palembang]) == []  # same file: no reload
    jakarta = instance(tmp_path, "jakarta", 14572)
    assert trunks.join_trunks([palembang, medan, jakarta]) == ["palembang", "medan", "jakarta"]
    assert commands == [(site, "iax2 reload") for site in
                        ("palembang", "palembang", "medan", "jakarta")]
    assert "[pln-jakarta]" in written(palembang) and "[pln-medan]" in written(palembang)
