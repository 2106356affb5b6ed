"""The `desktop:` section (pln123/config/desktop.py), `pln123 user add --role agent`, the
pages' one message catalogue (pln123/web/i18n.py) and the IVR's menu path for the agent.

Each broken config is the shipped deploy/config/pln.yaml with one change, so the problem
reported is the one under test, named by its key path.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from acd.intake import MENU_PATH_MAX, checked_menu_path
from ivr.engine.menupath import menu_path
from pln123.cli.main import main
from pln123.config import ConfigError, load_config, parse_config
from pln123.web.accounts import Role, Supervisor, verify
from pln123.web.desktop import AGENT_ROLE
from pln123.web.i18n import LANGUAGES, catalogue
from tests.doubles.config import SHIPPED

STATIC = Path(__file__).resolve().parents[2] / "pln123" / "web" / "static"
_DATA: dict[str, Any] = yaml.safe_load(SHIPPED.read_text(encoding="utf-8"))
# The pages and scripts that speak through the catalogue.
PAGES = ("index.html", "login.html", "agent.html")
SCRIPTS = ("app.js", "agent.js", "i18n.js", "login.js")


def shipped() -> dict[str, Any]:
    return copy.deepcopy(_DATA)


def problems(data: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(data, SHIPPED)
    return [str(problem) for problem in caught.value.problems]


def test_the_shipped_desktop_section() -> None:
    desktop = load_config(SHIPPED).desktop
    assert desktop is not None and desktop.disposition_required
    prayer = desktop.pause_reason("2")
    assert prayer is not None and prayer.name("en") == "Prayer"
    assert desktop.pause_reason("9") is None and desktop.disposition("resolved") is not None
    assert desktop.agents == ()   # the roster changes per test and demo: none shipped


def test_without_the_section_there_is_no_desktop() -> None:
    data = shipped()
    del data["desktop"]
    assert parse_config(data, SHIPPED).desktop is None


@pytest.mark.parametrize(("change", "expected"), [
    (lambda d: d["pause_reasons"].append({"code": 5, "id": "x"}),
     "desktop.pause_reasons[4].code: 5 is not a reason code of 1 to 4 digits"),
    (lambda d: d["pause_reasons"].append({"code": "1", "id": "again"}),
     "desktop.pause_reasons[4].code: '1' is listed twice"),
    (lambda d: d["pause_reasons"].append({"code": "7"}),
     "desktop.pause_reasons[4].id: is required"),
    (lambda d: d["dispositions"].append({"code": "Bad Code", "id": "x"}),
     "desktop.dispositions[4].code: 'Bad Code' is not a disposition code"),
    (lambda d: d["dispositions"].append({"code": "long", "id": "x" * 61}),
     "desktop.dispositions[4].id: at most 60 printable characters"),
    (lambda d: d.update(disposition_required="yes"),
     "desktop.disposition_required: must be true or false"),
    (lambda d: d.update(dispositions=[]),
     "desktop.disposition_required: needs at least one disposition"),
    (lambda d: d["agents"].append({"id": "9999", "password_hash": "$argon2id$x"}),
     "desktop.agents[0].id: '9999' is not the (quoted) id of an agent in agents:"),
    (lambda d: d["agents"].append({"id": 1002, "password_hash": "$argon2id$x"}),
     "desktop.agents[0].id: 1002 is not the (quoted) id"),
    (lambda d: d["agents"].append({"id": "1002", "password_hash": "plain"}),
     "desktop.agents[0].password_hash: must be an argon2 hash"),
    (lambda d: d.update(colour="blue"), "desktop.colour: unknown key"),
])
def test_mistakes_are_named_by_their_key_path(change: Any, expected: str) -> None:
    data = shipped()
    change(data["desktop"])
    found = problems(data)
    assert any(p.startswith(expected) for p in found), found


def test_user_add_for_an_agent_prints_a_line_the_config_accepts(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    secret = tmp_path / "pw"
    secret.write_text("agent secret\n", encoding="utf-8")
    assert main(["user", "add", "1002", "--role", "agent", "--password-file", str(secret)]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith('- {id: "1002", password_hash: "$argon2id$')
    data = shipped()
    data["desktop"]["agents"].append(yaml.safe_load(line)[0])
    desktop = parse_config(data, SHIPPED).desktop
    assert desktop is not None
    (account,) = desktop.agents
    assert (account.agent_id, account.site) == ("1002", "palembang")
    assert verify(Supervisor("1002", Role(AGENT_ROLE, "palembang"), account.password_hash),
                  "agent secret")
    assert "argon2" not in repr(account) and "agent secret" not in line
    assert main(["user", "add", "ahmad", "--role", "agent", "--password-file",
                 str(secret)]) == 2
    assert "is not an agent id" in capsys.readouterr().err


def test_both_catalogues_have_the_same_keys_and_every_key_the_pages_use() -> None:
    id_, en = catalogue("id"), catalogue("en")
    assert LANGUAGES == ("id", "en") and set(id_) == set(en)
    assert all(text.strip() for text in [*id_.values(), *en.values()])
    used: set[str] = set()
    for page in (STATIC / name for name in PAGES):
        used |= set(re.findall(r'data-i18n(?:-title|-placeholder)?="([^"]+)"', page.read_text()))
    for script in (STATIC / name for name in SCRIPTS):
        used |= set(re.findall(r'\bt\("([a-z_.]+[a-z])"', script.read_text()))
    assert used - set(id_) == set(), "keys used by the pages but in no catalogue"
    for prefix, codes in (("state.", ("logged_out", "ready", "reserved", "on_call", "wrap_up",
                                      "paused")),
                          ("ticket_status.", ("received", "dispatched", "on_site",
                                              "resolved"))):
        assert {prefix + code for code in codes} <= set(id_)


def test_no_page_glues_two_languages_into_one_label() -> None:
    for page in (STATIC / name for name in PAGES):
        text = page.read_text(encoding="utf-8")
        assert not re.search(r">[^<]* / (log|queues|agents|help|name|password)", text), page
    assert json.loads((STATIC / "messages-id.json").read_text())["agent.ready"] == "Siap"


def test_the_menu_path_keeps_the_choices_and_flows_within_the_limit() -> None:
    events = [("menu_entered", {"menu": "main"}),
              ("digit", {"menu": "main", "key": "2", "action": "submenu report"}),
              ("digit", {"menu": "report", "key": "1", "action": "flow report_fault"}),
              ("flow_started", {"flow": "report_fault"}),
              ("idpel_confirmed", {"idpel": "512345678901"}),
              ("digit", {"menu": "report", "key": "0", "action": "agent"})]
    assert menu_path(events) == "main:2>report:1>flow:report_fault>report:0"
    assert menu_path([]) == ""
    long = [("digit", {"menu": "main", "key": "8"})] * 100 + [("digit", {"menu": "b",
                                                                         "key": "0"})]
    path = menu_path(long)
    assert len(path) <= MENU_PATH_MAX and path.endswith("main:8>b:0")
    assert checked_menu_path(path) == path


@pytest.mark.parametrize("bad", ["main:1>x" * 30, "<script>", "main:1\n", "MAIN:1"])
def test_the_acd_refuses_a_menu_path_it_would_not_show(bad: str) -> None:
    with pytest.raises(ValueError, match="menu path"):
        checked_menu_path(bad)
