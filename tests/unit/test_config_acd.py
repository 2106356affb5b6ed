"""The `acd:` section and the `agents:` roster: the shipped values reach `AcdSettings`, and
every mistake is one problem named by its key path (as `pln123 config check` prints it).

Each broken variant is the shipped deploy/config/pln.yaml with one change, parsed with the
shipped file's folder as anchor (its secrets exist), so the only problem is the one under
test.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from acd.settings import AcdSettings, AgentSpec, QueueSettings
from pln123.cli.main import main
from pln123.config import Config, ConfigError, load_config, parse_config

SHIPPED = Path(__file__).resolve().parents[2] / "deploy" / "config" / "pln.yaml"
SKILLS = "(skills: general, fault, billing, new_connection)"

Data = dict[str, Any]
_DATA: Data = yaml.safe_load(SHIPPED.read_text(encoding="utf-8"))


def shipped() -> Data:
    return copy.deepcopy(_DATA)


def problems(data: Data) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(data, SHIPPED)
    return [str(problem) for problem in caught.value.problems]


@pytest.fixture(scope="module")
def config() -> Config:
    return load_config(SHIPPED)


# -- the shipped file ----------------------------------------------------------------------


def test_the_shipped_acd_settings(config: Config) -> None:
    acd = config.acd
    assert isinstance(acd, AcdSettings)
    assert (acd.service_level_s, acd.escalation_s, acd.ring_timeout_s) == (20.0, 30.0, 15.0)
    assert (acd.callback_offer_ewt_s, acd.callback_attempts, acd.abandon_resume_s) == (
        120.0, 3, 300.0)
    assert acd.audit_maxlen == 1_000_000
    assert acd.ended_call_keep_s == 3600.0
    assert acd.ended_call_ttl_s() == 3600.0   # longer than the abandon-resume window
    assert list(acd.queues) == list(config.skills)
    assert acd.queue("fault") == QueueSettings("fault", wrapup_s=20.0, max_wait_s=600.0,
                                               max_wait_fallback="ticket")


def test_the_shipped_roster(config: Config) -> None:
    counts = {site: len(config.acd.agents_at(site)) for site in config.sites}
    assert counts == {"palembang": 12, "medan": 6, "jakarta": 10, "surabaya": 6, "makassar": 4}
    ids = [agent.id for agent in config.acd.agents]
    assert len(ids) == len(set(ids))
    for agent in config.acd.agents:
        assert agent.endpoint == f"PJSIP/{agent.id}"
        assert agent.skills and set(agent.skills) <= set(config.skills)
        assert all(1 <= level <= 10 for level in agent.skills.values())
    assert config.agent("1007") == AgentSpec("1007", "Hendra Saputra", "palembang",
                                             "PJSIP/1007", {"fault": 10, "general": 4})
    assert config.agent("9999") is None
    # Every skill is staffed at every site: no queue there waits for nobody.
    for site in config.sites:
        staffed = {skill for agent in config.acd.agents_at(site) for skill in agent.skills}
        assert staffed == set(config.skills), site


def test_both_sections_are_optional() -> None:
    data = shipped()
    del data["acd"], data["agents"]
    config = parse_config(data, SHIPPED)
    assert config.acd.agents == () and config.acd.ring_timeout_s == 15.0
    # Every skill still has its queue, with the ACD's defaults.
    assert config.acd.queues == {skill: QueueSettings(skill) for skill in config.skills}


def test_an_empty_roster_and_partial_settings() -> None:
    data = shipped()
    data["agents"] = None
    data["acd"] = {"ring_timeout_s": 20, "queues": {"fault": {"wrapup_s": 0}}}
    acd = parse_config(data, SHIPPED).acd
    assert acd.agents == () and acd.ring_timeout_s == 20.0 and acd.service_level_s == 20.0
    assert acd.queue("fault") == QueueSettings("fault", wrapup_s=0.0)
    assert acd.queue("general") == QueueSettings("general")


def test_the_callback_dial_string_is_read_and_checked() -> None:
    data = shipped()
    assert parse_config(data, SHIPPED).acd.callback_dial == "PJSIP/{number}@trunk"
    data["acd"]["callback_dial"] = "Local/{number}@test-answer"
    assert parse_config(data, SHIPPED).acd.callback_dial == "Local/{number}@test-answer"
    del data["acd"]["callback_dial"]
    assert parse_config(data, SHIPPED).acd.callback_dial == AcdSettings().callback_dial


@pytest.mark.parametrize("pattern", ["PJSIP/0811223344@trunk", "PJSIP/{number}&{number}",
                                     "SIP/{number}", "PJSIP/{number},30", "Local/{nomor}@x"])
def test_a_bad_callback_dial_string_is_refused(pattern: str) -> None:
    data = shipped()
    data["acd"]["callback_dial"] = pattern
    assert problems(data) == [
        f"acd.callback_dial: {pattern!r} is not a dial string with {{number}} once, such as "
        "PJSIP/{number}@trunk or Local/{number}@callbacks"]


def test_local_and_iax2_endpoints_are_accepted() -> None:
    data = shipped()
    data["agents"][0]["endpoint"] = "Local/1001@test-answer"
    data["agents"][1]["endpoint"] = "IAX2/pln-medan/2001"
    agents = parse_config(data, SHIPPED).acd.agents
    assert [a.endpoint for a in agents[:2]] == ["Local/1001@test-answer", "IAX2/pln-medan/2001"]


# -- one broken variant per kind of error -------------------------------------------------

Mutation = Callable[[Data], None]


def _set(path: str, value: Any) -> Mutation:
    """Set the dotted `path`; a numeric part indexes a list (`agents.3.id`)."""

    def mutate(data: Data) -> None:
        *parents, last = path.split(".")
        node: Any = data
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value

    return mutate


def _delete(path: str) -> Mutation:
    def mutate(data: Data) -> None:
        *parents, last = path.split(".")
        node: Any = data
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        del node[last]

    return mutate


def _add_agent(**fields: Any) -> Mutation:
    agent = {"id": "1099", "name": "Tono", "site": "palembang", "endpoint": "PJSIP/1099",
             "skills": {"general": 5}}

    def mutate(data: Data) -> None:
        data["agents"].append({**agent, **fields})

    return mutate


CASES: list[tuple[str, Mutation, str]] = [
    # unknown keys
    ("unknown-acd", _set("acd.ring_timeout", 15), "acd.ring_timeout: unknown key"),
    ("unknown-queue-key", _set("acd.queues.fault.wrapup", 20),
     "acd.queues.fault.wrapup: unknown key"),
    ("unknown-agent-key", _set("agents.3.extension", "1004"), "agents[3].extension: unknown key"),
    # wrong types and ranges
    ("timing-not-number", _set("acd.ring_timeout_s", "soon"),
     "acd.ring_timeout_s: must be a number, not 'soon'"),
    ("timing-range", _set("acd.ring_timeout_s", 2),
     "acd.ring_timeout_s: must be between 5 and 120, not 2"),
    ("attempts-not-int", _set("acd.callback_attempts", 2.5),
     "acd.callback_attempts: must be an integer, not 2.5"),
    ("audit-maxlen-range", _set("acd.audit_maxlen", 10),
     "acd.audit_maxlen: must be between 1000 and 100000000, not 10"),
    ("ended-call-keep-range", _set("acd.ended_call_keep_s", 0),
     "acd.ended_call_keep_s: must be between 1 and 604800, not 0"),
    ("ended-call-keep-not-number", _set("acd.ended_call_keep_s", "1h"),
     "acd.ended_call_keep_s: must be a number, not '1h'"),
    ("acd-not-mapping", _set("acd", ["ring_timeout_s"]), "acd: must be a mapping, not a list"),
    ("wrapup-range", _set("acd.queues.general.wrapup_s", -1),
     "acd.queues.general.wrapup_s: must be between 0 and 600, not -1"),
    ("max-wait-range", _set("acd.queues.billing.max_wait_s", 10),
     "acd.queues.billing.max_wait_s: must be between 30 and 7200, not 10"),
    ("fallback", _set("acd.queues.fault.max_wait_fallback", "voicemail"),
     "acd.queues.fault.max_wait_fallback: must be callback or ticket, not 'voicemail'"),
    ("queue-unknown-skill", _set("acd.queues.sales", {"wrapup_s": 5}),
     f"acd.queues.sales: 'sales' is not a skill {SKILLS}"),
    ("agents-not-list", _set("agents", {"id": "1001"}), "agents: must be a list, not a mapping"),
    ("agent-not-mapping", _set("agents.0", "1001"), "agents[0]: must be a mapping, not '1001'"),
    # ids
    ("duplicate-id", _add_agent(id="1001"),
     "agents[38].id: 1001 is already the id of agents[0]"),
    ("unquoted-id", _set("agents.5.id", 1006),
     "agents[5].id: 1006 is a number, not an agent id: quote it (\"1001\"; YAML reads 0100 "
     "as 64)"),
    ("id-too-short", _set("agents.5.id", "12"), "agents[5].id: '12' is not an agent id "
                                                "(3 to 8 digits)"),
    ("id-too-long", _set("agents.5.id", "123456789"),
     "agents[5].id: '123456789' is not an agent id (3 to 8 digits)"),
    ("id-not-digits", _set("agents.5.id", "10a6"),
     "agents[5].id: '10a6' is not an agent id (3 to 8 digits)"),
    ("id-missing", _delete("agents.5.id"), "agents[5].id: is required"),
    # site, name, endpoint
    ("unknown-site", _set("agents.12.site", "bali"),
     "agents[12].site: 'bali' is not a site (sites: jakarta, makassar, medan, palembang, "
     "surabaya)"),
    ("name-missing", _delete("agents.1.name"), "agents[1].name: is required"),
    ("name-newline", _set("agents.1.name", "Siti\nRahmawati"),
     "agents[1].name: 'Siti\\nRahmawati' is not a display name (at most 60 printable "
     "characters, no leading or trailing spaces)"),
    ("name-too-long", _set("agents.1.name", "x" * 61),
     f"agents[1].name: '{'x' * 61}' is not a display name (at most 60 printable characters, "
     "no leading or trailing spaces)"),
    ("duplicate-endpoint", _add_agent(endpoint="PJSIP/1002"),
     "agents[38].endpoint: PJSIP/1002 is already the endpoint of agent 1002"),
    # skills
    ("unknown-skill", _set("agents.2.skills.sales", 5),
     f"agents[2].skills.sales: 'sales' is not a skill {SKILLS}"),
    ("level-high", _set("agents.2.skills.fault", 11),
     "agents[2].skills.fault: must be between 1 and 10, not 11"),
    ("level-zero", _set("agents.2.skills.fault", 0),
     "agents[2].skills.fault: must be between 1 and 10, not 0"),
    ("level-not-int", _set("agents.2.skills.fault", "expert"),
     "agents[2].skills.fault: must be an integer, not 'expert'"),
    ("no-skills", _set("agents.2.skills", {}),
     "agents[2].skills: must give at least one skill with its level"),
    ("skills-not-mapping", _set("agents.2.skills", ["fault"]),
     "agents[2].skills: must be a mapping, not a list"),
    ("skills-missing", _delete("agents.2.skills"), "agents[2].skills: is required"),
]

BAD_ENDPOINTS = [
    "PJSIP/1001&PJSIP/1002",  # Dial would ring two phones
    "PJSIP/1001,30",  # an extra Dial argument
    "PJSIP/1001\nAction: Originate",
    "PJSIP/10 01",
    "PJSIP/${EVIL}",
    "SIP/1001",  # chan_sip is gone from Asterisk 21+
    "1001",
    "PJSIP/",
    "PJSIP/1001;x",
]


@pytest.mark.parametrize(("mutation", "expected"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_each_kind_of_error_names_its_key_path(mutation: Mutation, expected: str) -> None:
    data = shipped()
    mutation(data)
    assert problems(data) == [expected]


@pytest.mark.parametrize("endpoint", BAD_ENDPOINTS)
def test_a_bad_endpoint_is_refused(endpoint: str) -> None:
    data = shipped()
    data["agents"][4]["endpoint"] = endpoint
    assert problems(data) == [
        f"agents[4].endpoint: {endpoint!r} is not an Asterisk dial string such as PJSIP/1001 "
        "or Local/1001@agents (PJSIP, IAX2 or Local; letters, digits, _.@+:/-)"]


def test_every_agent_problem_at_once() -> None:
    data = shipped()
    data["agents"][0].update(id="1", site="bali", skills={"fault": 11, "sales": 1})
    assert problems(data) == [  # sorted by key path, as config check prints them
        "agents[0].id: '1' is not an agent id (3 to 8 digits)",
        "agents[0].site: 'bali' is not a site (sites: jakarta, makassar, medan, palembang, "
        "surabaya)",
        "agents[0].skills.fault: must be between 1 and 10, not 11",
        f"agents[0].skills.sales: 'sales' is not a skill {SKILLS}",
    ]


def test_config_check_prints_the_roster_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = SHIPPED.read_text(encoding="utf-8").replace(
        'endpoint: PJSIP/2003, skills: {fault: 9,', 'endpoint: PJSIP/2003, skills: {fault: 19,')
    path = tmp_path / "pln.yaml"
    path.write_text(text, encoding="utf-8")
    (tmp_path / "secrets").symlink_to(SHIPPED.parent / "secrets")
    assert main(["config", "check", str(path)]) == 1
    assert capsys.readouterr().err.splitlines() == [
        f"{path}: agents[14].skills.fault: must be between 1 and 10, not 19",
        f"{path}: 1 problem(s)",
    ]
