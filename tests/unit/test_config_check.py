"""`pln123 config check`: exit 0 for the shipped file; every kind of error exits 1 and is
printed on its own line as `FILE: <key path>: <message>`.

Each broken variant is the shipped deploy/config/pln.yaml with one change, written to
tmp_path next to a copy of its secrets folder, so the only problem is the one under test.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pln123.cli.main import main
from tests.doubles.config import SHIPPED, shipped, write_config

Data = dict[str, Any]


def check(path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    """Exit status and the problem lines, without the `FILE: ` prefix."""
    status = main(["config", "check", str(path)])
    err = capsys.readouterr().err
    prefix = f"{path}: "
    lines = [line.removeprefix(prefix) for line in err.splitlines()]
    return status, lines


def fails_with(path: Path, capsys: pytest.CaptureFixture[str], *expected: str) -> list[str]:
    status, lines = check(path, capsys)
    assert status != 0
    for line in expected:
        assert line in lines, f"{line!r} not among:\n" + "\n".join(lines)
    assert lines[-1] == f"{len(lines) - 1} problem(s)"
    return lines


# -- the shipped file ----------------------------------------------------------------------


def test_shipped_config_is_valid(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "check", str(SHIPPED)]) == 0
    out = capsys.readouterr()
    assert out.err == ""
    assert "valid — 5 sites" in out.out


# -- one broken variant per kind of error -------------------------------------------------

Mutation = Callable[[Data, Path], None]


def _set(path: str, value: Any) -> Mutation:
    """A mutation that sets the dotted `path` (created if missing) to `value`."""

    def mutate(data: Data, _folder: Path) -> None:
        *parents, last = path.split(".")
        node = data
        for key in parents:
            node = node[key]
        node[last] = value

    return mutate


def _delete(path: str) -> Mutation:
    def mutate(data: Data, _folder: Path) -> None:
        *parents, last = path.split(".")
        node = data
        for key in parents:
            node = node[key]
        del node[last]

    return mutate


def _area_codes(site: str, index: int, value: Any) -> Mutation:
    def mutate(data: Data, _folder: Path) -> None:
        codes = data["sites"][site]["area_codes"]
        if index == len(codes):
            codes.append(value)
        else:
            codes[index] = value

    return mutate


def _rename_site(data: Data, old: str, new: str) -> None:
    """One change as an admin makes it: the site and everything naming it (its agents,
    the pools and the pooling order) move to the new name; its supervisors become national
    ones (a
    role naming an invalid site name would be a second problem)."""
    data["sites"][new] = data["sites"].pop(old)
    for agent in data["agents"]:
        if agent["site"] == old:
            agent["site"] = new
    for members in data.get("acd", {}).get("pools", {}).values():
        members[:] = [new if s == old else s for s in members]
    order = data.get("acd", {}).get("pooling", {}).get("order", {})
    if old in order:
        order[new] = order.pop(old)
    for siblings in order.values():
        siblings[:] = [new if s == old else s for s in siblings]
    for supervisor in data.get("dashboard", {}).get("supervisors", []):
        if supervisor.get("role") == f"site:{old}":
            supervisor["role"] = "national"


CASES: list[tuple[str, Mutation, str]] = [
    # unknown keys, at every depth
    ("unknown-top", _set("colour", "red"), "colour: unknown key"),
    ("category-name", _set("menus.report.options.1", {"flow": "report_fault",
                                                       "category": "Padam Listrik"}),
     "menus.report.options.1.category: 'Padam Listrik' is not a category name "
     "([a-z][a-z0-9_-]*)"),
    ("fragment-prompt-id", _set("prompts.num-7", {"id": "tujuh", "en": "seven"}),
     "prompts.num-7: 'num-7': ids starting with num- or time- are the built-in number "
     "fragments"),
    ("unknown-site", _set("sites.palembang.colour", "red"),
     "sites.palembang.colour: unknown key"),
    ("unknown-ami", _set("sites.medan.ami.pasword", "x"), "sites.medan.ami.pasword: unknown key"),
    ("unknown-menu", _set("menus.main.timout", 5), "menus.main.timout: unknown key"),
    ("unknown-option-key", _set("menus.report.options.3",
                                {"queue": "fault", "priority": 1, "urgent": True}),
     "menus.report.options.3.urgent: unknown key"),
    ("unknown-ivr", _set("ivr.idpel.length", 12), "ivr.idpel.length: unknown key"),
    ("handoff-timeout-range", _set("ivr.handoff_timeout_s", 5),
     "ivr.handoff_timeout_s: must be between 10 and 3600, not 5"),
    ("unknown-prompt-language", _set("prompts.goodbye.fr", "Merci"),
     "prompts.goodbye.fr: unknown key"),
    # wrong types
    ("port-not-int", _set("sites.medan.ami.port", "abc"),
     "sites.medan.ami.port: must be an integer, not 'abc'"),
    ("port-range", _set("sites.medan.ami.port", 70000),
     "sites.medan.ami.port: must be between 1 and 65535, not 70000"),
    ("timeout-not-number", _set("menus.main.timeout", "soon"),
     "menus.main.timeout: must be a number, not 'soon'"),
    ("retries-bool", _set("menus.main.retries", True),
     "menus.main.retries: must be an integer, not true"),
    ("md5-not-bool", _set("sites.jakarta.ami.md5", "yes please"),
     "sites.jakarta.ami.md5: must be true or false, not 'yes please'"),
    ("languages-not-list", _set("languages", "id"), "languages: must be a list, not 'id'"),
    ("area-codes-not-list", _set("sites.jakarta.area_codes", "021"),
     "sites.jakarta.area_codes: must be a list, not '021'"),
    ("site-not-mapping", _set("sites.surabaya", "031"),
     "sites.surabaya: must be a mapping, not '031'"),
    ("prompt-text-not-string", _set("prompts.goodbye.en", 123),
     "prompts.goodbye.en: must be a string, not 123"),
    ("required-missing", _delete("sites.medan.iax2_peer"), "sites.medan.iax2_peer: is required"),
    # area codes
    ("bad-area-code", _area_codes("palembang", 2, "07a1"),
     "sites.palembang.area_codes[2]: '07a1' is not an area code"),
    ("area-code-too-long", _area_codes("medan", 0, "061234"),
     "sites.medan.area_codes[0]: '061234' is not an area code"),
    ("unquoted-area-code", _area_codes("jakarta", 0, 17),
     "sites.jakarta.area_codes[0]: 17 is a number, not an area code: quote it "
     "(YAML reads 0711 as 457)"),
    ("area-code-two-sites", _area_codes("medan", 6, "0711"),
     "sites.medan.area_codes[6]: 0711 is already served by site 'palembang'"),
    ("area-code-no-region", _area_codes("makassar", 5, "0999"),
     "sites.makassar.area_codes[5]: 0999 has no entry in regions"),
    ("bad-region-key", _set("regions.07x1", "Nowhere"), "regions.07x1: '07x1' is not an area code"),
    ("bad-region-name", _set("regions.0711", "Palembang\n[evil]"),
     "regions.0711: 'Palembang\\n[evil]' is not a region name (letters, digits, spaces, .,'()-)"),
    # names that reach the dialplan or Redis keys
    ("bad-iax2-peer", _set("sites.medan.iax2_peer", "pln;medan"),
     "sites.medan.iax2_peer: 'pln;medan' is not an IAX2 peer name ([A-Za-z0-9_.-])"),
    ("iax2-peer-twice", _set("sites.medan.iax2_peer", "pln-palembang"),
     "sites.medan.iax2_peer: 'pln-palembang' is already the peer name of site 'palembang'"),
    # the inter-site trunk's address
    ("iax2-missing", _delete("sites.surabaya.iax2"),
     "sites.surabaya.iax2: is required when the config has more than one site (the other "
     "sites' trunks send calls to it)"),
    ("iax2-host-missing", _delete("sites.medan.iax2.host"), "sites.medan.iax2.host: is required"),
    ("iax2-host-name", _set("sites.medan.iax2.host", "medan.pln.example"),
     "sites.medan.iax2.host: 'medan.pln.example' is not an IP address (Asterisk's permit "
     "lists take no host names)"),
    ("iax2-host-injection", _set("sites.medan.iax2.host", "10.0.0.1\npermit=0.0.0.0/0"),
     "sites.medan.iax2.host: '10.0.0.1\\npermit=0.0.0.0/0' is not an IP address (Asterisk's "
     "permit lists take no host names)"),
    ("iax2-host-any", _set("sites.medan.iax2.host", "0.0.0.0"),
     "sites.medan.iax2.host: '0.0.0.0' is not the address of one host"),
    ("iax2-port-range", _set("sites.jakarta.iax2.port", 0),
     "sites.jakarta.iax2.port: must be between 1 and 65535, not 0"),
    ("iax2-port-text", _set("sites.jakarta.iax2.port", "4569/udp"),
     "sites.jakarta.iax2.port: must be an integer, not '4569/udp'"),
    ("iax2-unknown-key", _set("sites.jakarta.iax2.secret", "x"),
     "sites.jakarta.iax2.secret: unknown key"),
    ("iax2-not-mapping", _set("sites.jakarta.iax2", "10.123.0.10"),
     "sites.jakarta.iax2: must be a mapping, not '10.123.0.10'"),
    ("bad-site-name", lambda d, _f: _rename_site(d, "medan", "Bad Site"),
     "sites.Bad Site: 'Bad Site' is not a site name ([a-z][a-z0-9_-]*)"),
    ("bad-skill", _set("skills", ["general", "fault", "billing", "new_connection", "Sales!"]),
     "skills[4]: 'Sales!' is not a skill name ([a-z][a-z0-9_-]*)"),
    ("skill-twice", _set("skills", ["general", "fault", "billing", "new_connection", "fault"]),
     "skills[4]: 'fault' is listed twice"),
    ("bad-language", _set("languages", ["id", "english"]),
     "languages[1]: 'english' is not a two-letter language code"),
    ("default-language", _set("default_language", "jv"),
     "default_language: 'jv' is not in languages"),
    ("two-hubs", _set("sites.medan.role", "hub"),
     "sites: only one site can be the hub, not medan, jakarta"),
    ("bad-role", _set("sites.medan.role", "branch"),
     "sites.medan.role: must be 'site' or 'hub', not 'branch'"),
    ("redis-password-in-url", _set("redis.url", "redis://:hunter2@127.0.0.1:6379/0"),
     "redis.url: put the password in password_file, not in the URL"),
    # menu options pointing nowhere
    ("submenu-missing", _set("menus.main.options.2", {"submenu": "nowhere"}),
     "menus.main.options.2: menu 'nowhere' does not exist"),
    ("flow-missing", _set("menus.main.options.1", {"flow": "teleport"}),
     "menus.main.options.1.flow: 'teleport' is not a flow "
     "(report_fault, ticket_status, outage_info)"),
    ("skill-missing", _set("menus.billing.options.2", {"queue": "sales"}),
     "menus.billing.options.2.queue: 'sales' is not a skill "
     "(skills: general, fault, billing, new_connection)"),
    ("on-failure-skill-missing", _set("menus.report.on_failure", {"queue": "sales"}),
     "menus.report.on_failure.queue: 'sales' is not a skill "
     "(skills: general, fault, billing, new_connection)"),
    ("agent-submenu-missing", _set("ivr.agent", {"submenu": "nowhere"}),
     "ivr.agent: menu 'nowhere' does not exist"),
    ("root-menu-missing", _set("ivr.root_menu", "start"),
     "ivr.root_menu: menu 'start' does not exist"),
    ("language-missing", _set("menus.main.options.7", {"language": "jv"}),
     "menus.main.options.7.language: 'jv' is not in languages"),
    ("not-an-action", _set("menus.main.options.8", "again"),
     "menus.main.options.8: 'again' is not an action "
     "(repeat, back, hangup, submenu, flow, queue, play, language)"),
    ("two-actions", _set("menus.main.options.1", {"flow": "outage_info", "queue": "general"}),
     "menus.main.options.1: needs exactly one of submenu, flow, queue, play, language"),
    ("not-a-key", _set("menus.main.options.A", "repeat"),
     "menus.main.options.A: 'A' is not a phone key (0-9, *, #)"),
    ("priority-range", _set("menus.report.options.3", {"queue": "fault", "priority": 0}),
     "menus.report.options.3.priority: must be between 1 and 9, not 0"),
    # prompts
    ("menu-prompt-missing", _set("menus.report.prompt", "menu-reports"),
     "menus.report.prompt: prompt 'menu-reports' is not in the catalogue"),
    ("play-prompt-missing", _set("menus.billing.options.1", {"play": "billing-infos"}),
     "menus.billing.options.1: prompt 'billing-infos' is not in the catalogue"),
    ("greeting-missing", _set("ivr.greeting", "hello"),
     "ivr.greeting: prompt 'hello' is not in the catalogue"),
    ("required-prompt-removed", _delete("prompts.goodbye"),
     "prompts: prompt 'goodbye' is not in the catalogue"),
    ("prompt-language-missing", _delete("prompts.welcome.en"), "prompts.welcome.en: is required"),
    # reserved keys
    ("agent-key-as-option", _set("menus.main.options.0", {"queue": "general"}),
     "menus.main.options.0: '0' is ivr.agent_key in every menu; choose another key"),
    ("back-key-as-option", _set("menus.report.options.*", "back"),
     "menus.report.options.*: '*' is ivr.back_key in every menu; choose another key"),
    ("moved-agent-key", _set("ivr.agent_key", "4"),
     "menus.main.options.4: '4' is ivr.agent_key in every menu; choose another key"),
    ("bad-ivr-key", _set("ivr.back_key", "**"), "ivr.back_key: '**' is not a phone key"),
]


@pytest.mark.parametrize(("mutation", "expected"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_each_kind_of_error_names_its_key_path(
    mutation: Mutation, expected: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = shipped()
    mutation(data, tmp_path)
    lines = fails_with(write_config(tmp_path, data), capsys, expected)
    assert len(lines) == 2, "one change, one problem:\n" + "\n".join(lines)


def test_an_unknown_key_is_found_at_the_top_of_the_original_text(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = SHIPPED.read_text(encoding="utf-8") + "\ncolour: red\n"
    fails_with(write_config(tmp_path, text), capsys, "colour: unknown key")


def test_the_exact_area_code_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = SHIPPED.read_text(encoding="utf-8").replace('"0711", "0712", "0713"',
                                                      '"0711", "0712", "07a1"')
    path = write_config(tmp_path, text)
    status = main(["config", "check", str(path)])
    err = capsys.readouterr().err.splitlines()
    assert status == 1
    assert err == [f"{path}: sites.palembang.area_codes[2]: '07a1' is not an area code",
                   f"{path}: 1 problem(s)"]


def test_an_unquoted_area_code_is_explained_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # YAML 1.1 reads 0711 as octal 457: the admin must hear why, not see "457".
    text = SHIPPED.read_text(encoding="utf-8").replace('"0711": Palembang', "0711: Palembang")
    lines = fails_with(write_config(tmp_path, text), capsys,
                       "regions.457: 457 is a number, not an area code: quote it "
                       "(YAML reads 0711 as 457)")
    assert len(lines) == 2


def test_a_missing_secret_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = shipped()
    data["sites"]["surabaya"]["ami"]["secret_file"] = "secrets/missing.secret"
    path = write_config(tmp_path, data)
    fails_with(path, capsys,
               f"sites.surabaya.ami.secret_file: {tmp_path}/secrets/missing.secret does not exist")


def test_secret_files_are_relative_to_the_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The shipped file, copied without its secrets folder: every site's secret is missing.
    path = tmp_path / "pln.yaml"
    shutil.copy(SHIPPED, path)
    lines = fails_with(path, capsys)
    assert len([line for line in lines if line.endswith("does not exist")]) == 5


def test_a_missing_redis_password_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = shipped()
    data["redis"]["password_file"] = "secrets/redis.secret"
    fails_with(write_config(tmp_path, data), capsys,
               f"redis.password_file: {tmp_path}/secrets/redis.secret does not exist")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("sites: [palembang\n", "<top>: not valid YAML at line 2, column 1: expected ',' or ']', "
                                "but got '<stream end>' (while parsing a flow sequence)"),
        ("a: 1\n a: 2\n", "<top>: not valid YAML at line 2, column 3: "
                          "mapping values are not allowed here"),
        (b"\xff\xfe\x00", "<top>: not UTF-8 text (byte 0)"),
        ("", "<top>: the file is empty"),
        ("- id\n- en\n", "<top>: must be a mapping of sections"),
    ],
    ids=["unclosed-list", "bad-indent", "not-utf8", "empty", "list"],
)
def test_a_file_that_is_not_a_config(
    content: str | bytes, expected: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = fails_with(write_config(tmp_path, content), capsys, expected)
    assert len(lines) == 2


def test_a_duplicate_key_is_not_silently_dropped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Plain PyYAML keeps the second `palembang:` and loses medan without a word.
    text = SHIPPED.read_text(encoding="utf-8").replace("  medan:\n", "  palembang:\n", 1)
    lines = fails_with(write_config(tmp_path, text), capsys)
    assert len(lines) == 2
    assert "not valid YAML at line" in lines[0] and "duplicate key 'palembang'" in lines[0]


def test_a_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "nope.yaml"
    lines = fails_with(path, capsys, f"<top>: cannot read {path}: No such file or directory")
    assert len(lines) == 2


def test_a_folder_instead_of_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fails_with(tmp_path, capsys, f"<top>: cannot read {tmp_path}: Is a directory")


def test_every_error_is_printed_at_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = shipped()
    data["colour"] = "red"
    data["sites"]["medan"]["ami"]["port"] = "abc"
    data["sites"]["palembang"]["area_codes"][2] = "07a1"
    data["sites"]["medan"]["area_codes"].append("0711")
    data["sites"]["surabaya"]["ami"]["secret_file"] = "secrets/missing.secret"
    data["menus"]["main"]["options"]["2"] = {"submenu": "nowhere"}
    data["menus"]["billing"]["options"]["2"] = {"queue": "sales"}
    data["menus"]["report"]["options"]["0"] = "repeat"
    del data["prompts"]["goodbye"]
    expected = [
        "colour: unknown key",
        "menus.billing.options.2.queue: 'sales' is not a skill "
        "(skills: general, fault, billing, new_connection)",
        "menus.main.options.2: menu 'nowhere' does not exist",
        "menus.report.options.0: '0' is ivr.agent_key in every menu; choose another key",
        "prompts: prompt 'goodbye' is not in the catalogue",
        "sites.medan.ami.port: must be an integer, not 'abc'",
        "sites.medan.area_codes[6]: 0711 is already served by site 'palembang'",
        "sites.palembang.area_codes[2]: '07a1' is not an area code",
        f"sites.surabaya.ami.secret_file: {tmp_path}/secrets/missing.secret does not exist",
    ]
    lines = fails_with(write_config(tmp_path, data), capsys)
    assert lines == [*expected, f"{len(expected)} problem(s)"]
