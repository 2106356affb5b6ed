"""Rendering the instance config from deploy/sandbox/: values land, privileges stay least."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ivr.asterisk.manager import EVENT_PREFIXES, EVENTS, READ_CLASSES, WRITE_CLASSES
from tools.sandbox.errors import SandboxError
from tools.sandbox.render import (
    SiteSettings,
    render_site_config,
    render_template,
    site_manager_user,
)

SETTINGS = SiteSettings(
    site="palembang",
    instance_dir="/srv/pln123/default/palembang",
    module_dir="/usr/lib/x86_64-linux-gnu/asterisk/modules",
    ami_port=25038,
    iax_port=24569,
    pln123_secret="pln-secret_1",
    admin_secret="admin-secret_2",
)


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    secret = tmp_path_factory.mktemp("instance") / "ami-pln123.secret"
    secret.write_text("pln-secret_1\n")
    user = site_manager_user("palembang", secret)
    return render_site_config(SETTINGS, manager_user=user)


def sections(text: str) -> dict[str, dict[str, list[str]]]:
    """Asterisk's `key = value` sections; repeated keys kept in order."""
    result: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] = {}
    for raw in text.splitlines():
        line = raw.split(";", 1)[0].strip()
        if not line:
            continue
        if match := re.fullmatch(r"\[([^\]]+)\]", line):
            current = result.setdefault(match.group(1), {})
        elif "=>" in line or "=" in line:
            key, value = re.split(r"=>?", line, maxsplit=1)
            current.setdefault(key.strip(), []).append(value.strip())
    return result


def classes(value: str) -> set[str]:
    return {item.strip() for item in value.split(",")}


def test_every_template_renders_completely(config: dict[str, str]) -> None:
    assert {"asterisk.conf", "manager.conf", "iax.conf", "extensions.conf", "modules.conf",
            "logger.conf", "musiconhold.conf"} <= set(config)  # fmt: skip
    for name, text in config.items():
        assert "{{" not in text and "}}" not in text, name


def test_ports_appear_where_asterisk_reads_them(config: dict[str, str]) -> None:
    manager = sections(config["manager.conf"])["general"]
    assert manager["port"] == ["25038"]
    assert manager["bindaddr"] == ["127.0.0.1"]
    iax = sections(config["iax.conf"])["general"]
    assert iax["bindport"] == ["24569"]
    assert iax["bindaddr"] == ["127.0.0.1"]
    # chan_iax2 binds when it reads bindaddr: the port must already be known.
    lines = config["iax.conf"].splitlines()
    assert lines.index("bindport = 24569") < lines.index("bindaddr = 127.0.0.1")


def test_pln123_user_is_least_privilege(config: dict[str, str]) -> None:
    user = sections(config["manager.conf"])["pln123"]
    write = classes(user["write"][0])
    read = classes(user["read"][0])
    # The section admins deploy (`pln123 asterisk render`), not a sandbox variant.
    assert write == set(WRITE_CLASSES) and read == set(READ_CLASSES)
    # One line per event; for the phones' device states one per watched technology, for
    # Originates' outcomes one for pln123's ActionIDs.
    assert config["manager.conf"].count("eventfilter(action(include),name(") == sum(
        len(EVENT_PREFIXES[event][1]) if event in EVENT_PREFIXES else 1 for event in EVENTS)
    assert not write & {"command", "config", "all"}
    # system: DBPut of the heartbeat the dialplan checks; agi is a shell already.
    assert {"agi", "originate", "call", "system"} <= write
    assert "agi" in read  # without it AsyncAGI silently stops
    assert "all" not in read and "dialplan" not in read
    assert user["deny"] == ["0.0.0.0/0.0.0.0"]
    assert user["permit"] == ["127.0.0.1/255.255.255.255"]
    assert user["secret"] == ["pln-secret_1"]
    assert user["writetimeout"] == ["1000"]


def test_an_unknown_site_gets_the_renderers_defaults(tmp_path: Path) -> None:
    secret = tmp_path / "ami-pln123.secret"
    secret.write_text("alpha-secret-1\n")
    user = sections(site_manager_user("alpha", secret))["pln123"]
    assert user["secret"] == ["alpha-secret-1"]
    assert user["permit"] == ["127.0.0.1/255.255.255.255"]


def test_a_bad_secret_is_refused_without_echoing_it(tmp_path: Path) -> None:
    secret = tmp_path / "ami-pln123.secret"
    secret.write_text("short;x\n")
    with pytest.raises(SandboxError, match="8 to 128 characters") as raised:
        site_manager_user("palembang", secret)
    assert "short;x" not in str(raised.value)


def test_admin_user_is_separate_and_loopback_only(config: dict[str, str]) -> None:
    admin = sections(config["manager.conf"])["sandbox-admin"]
    assert admin["write"] == ["all"]
    assert admin["secret"] == ["admin-secret_2"]
    assert admin["permit"] == ["127.0.0.1/255.255.255.255"]


def test_directories_section_is_honoured(config: dict[str, str]) -> None:
    text = config["asterisk.conf"]
    assert "[directories]\n" in text and "[directories](!)" not in text
    directories = sections(text)["directories"]
    assert directories["astetcdir"] == ["/srv/pln123/default/palembang/etc"]
    assert directories["astrundir"] == ["/srv/pln123/default/palembang/run"]
    assert directories["astmoddir"] == [SETTINGS.module_dir]


def test_modules_keep_what_the_tests_need(config: dict[str, str]) -> None:
    modules = sections(config["modules.conf"])["modules"]
    assert modules["autoload"] == ["yes"]
    noload = set(modules["noload"])
    for needed in ("chan_iax2.so", "chan_pjsip.so", "res_pjsip.so", "app_queue.so",
                   "app_senddtmf.so", "res_agi.so", "res_musiconhold.so", "func_uri.so",
                   "func_db.so", "app_db.so", "format_gsm.so", "pbx_config.so"):  # fmt: skip
        assert needed not in noload


def test_dialplan_contexts_and_site(config: dict[str, str]) -> None:
    dialplan = sections(config["extensions.conf"])
    assert dialplan["globals"]["SITE"] == ["palembang"]
    for context in ("pln-inbound", "test-caller", "pln-trunk-in", "load", "load-agent"):
        assert context in dialplan
    assert any("AGI(agi:async)" in line for line in dialplan["pln-inbound"]["same"])
    assert "%0D%0A%0D%0AAction%3A%20Originate" in config["extensions.conf"]


def test_unsafe_values_are_refused() -> None:
    with pytest.raises(SandboxError, match="unsafe value"):
        render_template("secret = {{secret}}", {"secret": "x\n[evil]\nwrite = all"})


def test_unknown_and_malformed_placeholders_are_refused() -> None:
    with pytest.raises(SandboxError, match="does not define"):
        render_template("port = {{ami_port}}", {})
    with pytest.raises(SandboxError, match="malformed"):
        render_template("port = {{AMI-port}}", {"ami_port": "1"})


def test_asterisk_syntax_passes_through() -> None:
    text = "same => n,Wait(${IF($[${X} > 1]?${X}:1)})"
    assert render_template(text, {"x": "1"}) == text
