"""The rendered dialplans in a real Asterisk 22: every site's file loads without a warning,
every area code + 123 (and plain 123 per local trunk) is there, a call reaches AsyncAGI
with the area code and site the IVR reads from the Env, and an agent's feature code reaches
pln123's AMI user as the UserEvent `parse_agent_feature` reads."""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote

import pytest

from ivr.dialplan import (
    AGENT_CONNECT_CONTEXT,
    AGENT_FEATURE_CONTEXT,
    AGI_ARG_AREA_CODE,
    AGI_ARG_SITE,
    IVR_CONTEXT,
    TRUNK_IN_CONTEXT,
    AgentCommand,
    agent_features_context,
    inbound_context,
    local_context,
    parse_agent_feature,
)
from ivr.dialplan.features import AGENT_VARIABLE
from pln123.config import Config, load_config
from tests.fixtures.asterisk_sandbox import SandboxSession
from tools.sandbox import PLN123_USER, Instance, RawAmi
from tools.sandbox.render import DEFAULT_CONFIG, DIALPLAN_FILE

pytestmark = pytest.mark.asterisk

REPO = Path(__file__).resolve().parents[2]
SITES = ["palembang", "medan", "jakarta", "surabaya", "makassar"]
_PROBLEM = re.compile(r"\b(ERROR|WARNING)\b")
_ABOUT_US = re.compile(r"pln123|#include|include|extensions\.conf|pbx_config", re.IGNORECASE)


@pytest.fixture(scope="module")
def config() -> Config:
    return load_config(DEFAULT_CONFIG)


_STARTED_AT: dict[str, dict[Path, int]] = {}


@pytest.fixture(scope="module")
def sites(asterisk_sandbox: SandboxSession) -> dict[str, Instance]:
    """All five PLN sites freshly (re)started side by side in this session's namespace.

    Restarted, so the logs checked below start at this load of the dialplan and not at what
    earlier tests did on a shared instance (some provoke warnings on purpose).
    """
    running = {site: asterisk_sandbox.site(site) for site in SITES}
    for site, instance in running.items():
        instance.stop()
        _STARTED_AT[site] = log_sizes(instance)
        instance.start()
    return running


def log_sizes(instance: Instance) -> dict[Path, int]:
    return {log: log.stat().st_size if log.exists() else 0
            for log in (instance.messages_log, instance.log_file)}


def problems_in_logs(instance: Instance, since: dict[Path, int] | None = None) -> list[str]:
    """ERROR/WARNING lines about our dialplan in the instance's two logs (after `since`)."""
    found = []
    for log in (instance.messages_log, instance.log_file):
        data = log.read_bytes() if log.exists() else b""
        text = data[(since or {}).get(log, 0):].decode(errors="replace")
        found += [f"{log.name}: {line}" for line in text.splitlines()
                  if _PROBLEM.search(line) and _ABOUT_US.search(line)]
    return found


@pytest.mark.parametrize("site", SITES)
def test_the_site_dialplan_is_loaded(sites: dict[str, Instance], config: Config,
                                     site: str) -> None:
    instance = sites[site]
    installed = instance.path / "etc" / DIALPLAN_FILE
    assert installed.read_text() == (REPO / "dialplans" / f"{site}.conf").read_text()
    inbound = instance.cli(f"dialplan show {inbound_context(site)}")
    assert f"Context '{inbound_context(site)}' created by 'pbx_config'" in inbound
    for area in config.sites[site].area_codes:
        assert f"'{area.code}123' =>" in inbound, inbound
        assert f"Gosub({IVR_CONTEXT},s,1({area.code},{site}))" in inbound
        local = instance.cli(f"dialplan show 123@{local_context(area.code)}")
        assert f"Gosub({IVR_CONTEXT},s,1({area.code},{site}))" in local, local
    ivr = instance.cli(f"dialplan show {IVR_CONTEXT}")
    assert "AGI(agi:async,${ARG1},${ARG2})" in ivr and "Set(CHANNEL(language)=id)" in ivr
    assert "There is no existence" in instance.cli(f"dialplan show {AGENT_CONNECT_CONTEXT}")
    trunk_in = instance.cli(f"dialplan show {TRUNK_IN_CONTEXT}")
    assert "'_age[n]t-X.' =>" in trunk_in and "'_ivr-X.' =>" in trunk_in, trunk_in
    assert "Dial(${PLN123_LENT_PHONE})" in trunk_in and "UserEvent(PlnRemoteCall," in trunk_in
    # The sandbox's own test contexts are still there beside ours.
    for context in ("pln-inbound", "test-caller", "test-answer", "pln-trunk-in"):
        assert f"Context '{context}'" in instance.cli(f"dialplan show {context}")
    assert problems_in_logs(instance, _STARTED_AT[site]) == []


def test_only_the_sites_own_area_codes_are_loaded(sites: dict[str, Instance]) -> None:
    # Medan's Asterisk knows nothing of Palembang's numbers (0711 is never answered twice).
    output = sites["medan"].cli("dialplan show 0711123@pln123-inbound-palembang")
    assert "There is no existence of" in output or "0711123" not in output


def test_a_reload_keeps_the_dialplan_clean(sites: dict[str, Instance]) -> None:
    instance = sites["surabaya"]
    before = log_sizes(instance)
    instance.cli("dialplan reload")
    assert "'031123' =>" in instance.cli(f"dialplan show {inbound_context('surabaya')}")
    assert problems_in_logs(instance, before) == []


def test_the_log_check_sees_a_broken_include(sites: dict[str, Instance]) -> None:
    # Proves the "no warnings" assertions above are not vacuous: Asterisk names the file.
    instance = sites["makassar"]
    installed = instance.path / "etc" / DIALPLAN_FILE
    good = installed.read_text()
    before = log_sizes(instance)
    try:
        installed.write_text(good + "[pln123-broken]\nexten => 1,1,Gosub(\n")
        instance.cli("dialplan reload")
        deadline = time.monotonic() + 5
        while not problems_in_logs(instance, before) and time.monotonic() < deadline:
            time.sleep(0.05)
        problems = problems_in_logs(instance, before)
        assert any(DIALPLAN_FILE in line for line in problems), problems
    finally:
        installed.write_text(good)
        instance.cli("dialplan reload")
    assert "'0411123' =>" in instance.cli(f"dialplan show {inbound_context('makassar')}")


@pytest.fixture
def admin(sites: dict[str, Instance]) -> Iterator[dict[str, RawAmi]]:
    sessions: dict[str, RawAmi] = {}
    try:
        for site in ("palembang", "medan"):
            sessions[site] = sites[site].ami(events="agi", timeout=10)
        yield sessions
    finally:
        for session in sessions.values():
            session.close()


def env_of(event: dict[str, str]) -> dict[str, str]:
    """AsyncAGIStart's Env: URL-encoded `key: value` lines."""
    pairs = (line.partition(": ") for line in unquote(event["Env"]).splitlines())
    return {key: value for key, _, value in pairs if key}


def call_and_wait_for_agi(ami: RawAmi, channel: str) -> dict[str, str]:
    """Originate `channel` with the scripted caller as the other half; its AsyncAGIStart."""
    response = ami.action("Originate", {
        "Channel": channel, "Context": "test-caller", "Exten": "s", "Priority": "1",
        "Async": "true", "Variable": "HOLD=10",
    })
    assert response.get("Response") == "Success", response
    deadline = time.monotonic() + 10
    while True:
        event = ami.wait_event("AsyncAGIStart", max(0.1, deadline - time.monotonic()))
        if event.get("Channel", "").startswith(f"{channel}-"):  # Local/...-00000001;1
            return event


@pytest.mark.parametrize(
    ("site", "channel", "area"),
    [
        ("palembang", "Local/0711123@pln123-inbound-palembang", "0711"),
        ("palembang", "Local/0721123@pln123-inbound-palembang", "0721"),
        ("medan", "Local/123@pln123-local-061", "061"),
    ],
)
def test_a_call_reaches_async_agi_with_area_code_and_site(
    admin: dict[str, RawAmi], site: str, channel: str, area: str
) -> None:
    ami = admin[site]
    event = call_and_wait_for_agi(ami, channel)
    try:
        env = env_of(event)
        assert env[AGI_ARG_AREA_CODE] == area
        assert env[AGI_ARG_SITE] == site
        assert env["agi_language"] == "id"
        assert env["agi_context"] == IVR_CONTEXT
        got = ami.action("Getvar", {"Channel": event["Channel"], "Variable": "PLN123_AREA"})
        assert got.get("Value") == area
    finally:
        ami.action("Hangup", {"Channel": event["Channel"]})


# -- agents' feature codes -----------------------------------------------------------------


@pytest.mark.parametrize("site", SITES)
def test_the_feature_codes_are_loaded(sites: dict[str, Instance], site: str) -> None:
    shown = sites[site].cli(f"dialplan show {agent_features_context(site)}")
    for code in ("'*11'", "'*12'", "'_*13X'", "'_*13XXXX'", "'*14'"):
        assert f"{code} =>" in shown, shown
    assert f"Gosub({AGENT_FEATURE_CONTEXT},s,1(pause,{site},${{EXTEN:3}}))" in shown
    feature = sites[site].cli(f"dialplan show {AGENT_FEATURE_CONTEXT}")
    assert "UserEvent(PlnAgent,action: ${ARG1},agent: ${agent}" in feature


@pytest.fixture
def agent_phone(sites: dict[str, Instance]) -> Iterator[RawAmi]:
    """pln123's own AMI user on palembang, user events only: what pln123 will see."""
    with sites["palembang"].ami(user=PLN123_USER, events="user", timeout=10) as ami:
        yield ami


def dial_feature(ami: RawAmi, code: str, *, caller_id: str = '"Agent" <1002>',
                 agent: str | None = None, site: str = "palembang") -> dict[str, str]:
    """An agent's phone dials `code`: a Local channel into the site's feature context.

    The ;1 half waits; the ;2 half runs the feature code. Returns the Originate response.
    """
    fields = {"Channel": f"Local/{code}@{agent_features_context(site)}",
              "Application": "Wait", "Data": "3", "CallerID": caller_id, "Timeout": "5000"}
    if agent is not None:
        fields["Variable"] = f"{AGENT_VARIABLE}={agent}"
    return ami.action("Originate", fields)


def next_agent_command(ami: RawAmi) -> tuple[AgentCommand | None, dict[str, str]]:
    event = ami.wait_event("UserEvent", 10, UserEvent="PlnAgent")
    return parse_agent_feature(event), event


@pytest.mark.parametrize(
    ("code", "agent", "expected"),
    [
        ("*1342", "1001", AgentCommand("pause", "1001", "42", "palembang")),
        ("*131", "1001", AgentCommand("pause", "1001", "1", "palembang")),
        ("*11", None, AgentCommand("login", "1002", None, "palembang")),  # caller id number
        ("*12", "1012", AgentCommand("logout", "1012", None, "palembang")),
        ("*14", "1003", AgentCommand("ready", "1003", None, "palembang")),
    ],
)
def test_a_feature_code_tells_pln123_by_user_event(
    agent_phone: RawAmi, code: str, agent: str | None, expected: AgentCommand
) -> None:
    response = dial_feature(agent_phone, code, agent=agent)
    assert response.get("Response") == "Success", response
    command, event = next_agent_command(agent_phone)
    assert event["action"] == expected.action and event["agent"] == expected.agent
    assert event["reason"] == (expected.reason or "") and event["site"] == "palembang"
    assert command is not None and command.channel is not None
    assert command.channel.startswith(f"Local/{code}@{agent_features_context('palembang')}-")
    assert dataclasses.replace(command, channel=None) == expected


def test_only_the_digits_of_a_caller_id_reach_the_event(agent_phone: RawAmi) -> None:
    # A phone whose caller id carries a comma cannot add a field to the UserEvent: RawAmi
    # joins a repeated key with a newline, so one plain "ready" proves there is one action.
    response = dial_feature(agent_phone, "*14", caller_id='"x" <1005,action: logout>')
    assert response["Response"] == "Success", response
    command, event = next_agent_command(agent_phone)
    assert (event["action"], event["agent"]) == ("ready", "1005")
    assert command == AgentCommand("ready", "1005", None, "palembang", event["Channel"])


@pytest.mark.parametrize("code", ["*13", "*1312345", "*13#1", "*15", "*111"])
def test_a_code_that_is_not_in_the_plan_does_not_dial(agent_phone: RawAmi, code: str) -> None:
    response = dial_feature(agent_phone, code, agent="1001")
    assert response.get("Response") == "Error", response


def test_no_agent_id_means_no_event(agent_phone: RawAmi, sites: dict[str, Instance]) -> None:
    # No PLN123_AGENT and a caller id without digits: beeperr, no UserEvent. The next valid
    # code's event is the first one pln123 sees. Both sounds play without a warning.
    instance = sites["palembang"]
    before = log_sizes(instance)
    assert dial_feature(agent_phone, "*11", caller_id='"Lobby" <lobby>')["Response"] == "Success"
    assert dial_feature(agent_phone, "*12", agent="1004")["Response"] == "Success"
    command, _ = next_agent_command(agent_phone)
    assert command is not None and (command.action, command.agent) == ("logout", "1004")
    deadline = time.monotonic() + 10
    while "0 active channels" not in instance.cli("core show channels count"):
        assert time.monotonic() < deadline, instance.cli("core show channels")
        time.sleep(0.1)
    warnings = []
    for log in (instance.messages_log, instance.log_file):
        data = log.read_bytes() if log.exists() else b""
        text = data[before.get(log, 0):].decode(errors="replace")
        warnings += [line for line in text.splitlines() if _PROBLEM.search(line)]
    assert warnings == []
