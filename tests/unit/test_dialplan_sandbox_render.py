"""The sandbox's side of the dialplan: each instance gets its site's rendered file and the
sandbox's extensions.conf includes it; test sites and a broken config degrade, loudly."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tools.sandbox.errors import SandboxError
from tools.sandbox.render import (
    DEFAULT_CONFIG,
    DIALPLAN_FILE,
    SiteSettings,
    render_site_config,
    site_dialplan,
)

REPO = Path(__file__).resolve().parents[2]
SETTINGS = SiteSettings(
    site="palembang",
    instance_dir="/srv/pln123/default/palembang",
    module_dir="/usr/lib/x86_64-linux-gnu/asterisk/modules",
    ami_port=25038,
    iax_port=24569,
    pln123_secret="pln-secret_1",
    admin_secret="admin-secret_2",
)


def test_the_default_config_is_the_shipped_one() -> None:
    assert DEFAULT_CONFIG == REPO / "deploy" / "config" / "pln.yaml"


def test_a_pln_site_gets_the_checked_in_dialplan() -> None:
    text, warning = site_dialplan("palembang")
    assert warning is None
    assert text == (REPO / "dialplans" / "palembang.conf").read_text()


def test_the_dialplan_is_written_beside_the_templates_and_included() -> None:
    text, _ = site_dialplan("medan")
    files = render_site_config(SETTINGS, dialplan=text)
    assert files[DIALPLAN_FILE] == text
    lines = files["extensions.conf"].splitlines()
    assert f'#include "{DIALPLAN_FILE}"' in lines
    # Included last: the sandbox's own contexts stay as they were.
    assert lines[-1] == f'#include "{DIALPLAN_FILE}"'
    for context in ("[pln-inbound]", "[test-caller]", "[test-answer]", "[pln-trunk-in]"):
        assert context in lines


def test_without_a_dialplan_the_include_still_finds_a_file() -> None:
    stand_in = render_site_config(SETTINGS)[DIALPLAN_FILE]
    assert stand_in.startswith("; ") and stand_in.count("\n") == 1


def test_a_test_site_has_no_pln123_contexts_and_no_warning() -> None:
    text, warning = site_dialplan("alpha")
    assert warning is None
    assert text == ("; pln123 sandbox: no pln123 dialplan for site alpha: the site is not in "
                    "the admin config.\n")


def test_an_invalid_config_warns_instead_of_stopping_the_sandbox(tmp_path: Path) -> None:
    config = tmp_path / "pln.yaml"
    shutil.copytree(DEFAULT_CONFIG.parent / "secrets", tmp_path / "secrets")
    config.write_text(DEFAULT_CONFIG.read_text() + "\ncolour: red\n")
    text, warning = site_dialplan("palembang", config)
    assert text.startswith("; ") and "[" not in text
    assert warning is not None
    assert f"{config} is invalid (1 problems; run pln123 config check" in warning


def test_an_unsafe_site_name_never_reaches_the_file() -> None:
    with pytest.raises(SandboxError, match="unsafe value"):
        site_dialplan("alpha\n[evil]")
