"""The rendered manager.conf and agents' PJSIP file: least privilege derived from the code,
config keys with their paths, secrets checked and never echoed, the CLI's files and modes."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import pytest
import yaml

from ivr.asterisk.errors import RenderError
from ivr.asterisk.manager import ACTIONS, EVENTS, READ_CLASSES, WRITE_CLASSES, render_manager
from ivr.asterisk.pjsip import PJSIP_FILE, read_agent_secrets, render_pjsip
from pln123.cli.main import main
from pln123.config import Config, ConfigError, load_config, parse_config

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "deploy" / "config" / "pln.yaml"
# What pln123 sends and subscribes to, found in the code itself (not in a list to trust).
_SENT = re.compile(r"send_(?:list_)?action\(\s*\"([A-Za-z]+)\"")
_SUBSCRIBED = re.compile(r"subscribe\(\s*\"([A-Za-z]+)\"")


def _code() -> str:
    files = [p for package in ("ivr", "acd", "pln123") for p in (ROOT / package).rglob("*.py")]
    return "\n".join(p.read_text() for p in files)


def test_every_action_pln123_sends_has_its_write_class() -> None:
    sent = set(_SENT.findall(_code())) - {"Command"}  # ivr.ami's Command: tooling, not serve
    assert {"Originate", "AGI", "Getvar", "CoreShowChannels", "DBDelTree"} <= sent
    assert sent <= set(ACTIONS), f"actions without a class in ivr/asterisk/manager.py: " \
                                 f"{sorted(sent - set(ACTIONS))}"


def test_every_event_pln123_subscribes_to_passes_the_filter() -> None:
    subscribed = set(_SUBSCRIBED.findall(_code()))
    assert {"AsyncAGIStart", "OriginateResponse", "UserEvent", "Hangup"} <= subscribed
    assert subscribed <= set(EVENTS), sorted(subscribed - set(EVENTS))


def test_classes_are_the_least_that_cover_the_tables() -> None:
    assert READ_CLASSES == ("agi", "call", "system", "user")  # system: ContactStatus
    assert WRITE_CLASSES == ("agi", "call", "originate", "reporting", "system")
    for forbidden in ("command", "config", "all"):
        assert forbidden not in READ_CLASSES + WRITE_CLASSES


@pytest.fixture(scope="module")
def config() -> Config:
    return load_config(SHIPPED)


def test_manager_conf_for_every_site(config: Config) -> None:
    for site in config.sites:
        text = render_manager(config, site)["manager.conf"]
        user = text.split("[pln123]", 1)[1]
        assert "\nread = agi,call,system,user\n" in user
        assert "\nwrite = agi,call,originate,reporting,system\n" in user
        assert "deny = 0.0.0.0/0.0.0.0\npermit = 127.0.0.1/255.255.255.255\n" in user
        assert "writetimeout = 1000" in user
        for event in EVENTS:
            assert f"eventfilter(action(include),name({event})" in user
        assert user.count("eventfilter(action(include),name(") == len(EVENTS) + 2
        for tech in ("PJSIP", "IAX2", "SIP"):  # phones' state only, no Local channel's
            assert ("eventfilter(action(include),name(DeviceStateChange),header(Device),"
                    f"method(starts_with)) = {tech}/\n") in user
        assert "eventfilter(action(include),name(DeviceStateChange)) =" not in user
        # Only pln123's Originates' outcomes, not every AMI client's.
        assert ("eventfilter(action(include),name(OriginateResponse),header(ActionID),"
                "method(starts_with)) = pln123-\n") in user
        assert "eventfilter(action(include),name(OriginateResponse)) =" not in user
        assert "bindaddr = 127.0.0.1\nport = 5038\n" in text
        assert "tlsenable" not in text


def _yaml(**ami: object) -> dict[str, object]:
    data = yaml.safe_load(SHIPPED.read_text())
    data["sites"]["medan"]["ami"].update(ami)
    return data


def test_tls_permit_and_writetimeout_from_the_config(tmp_path: Path) -> None:
    (tmp_path / "ca.pem").write_text("x")
    data = _yaml(host="10.1.2.3", port=5039, permit=["10.1.9.0/24", "10.1.2.40"],
                 writetimeout_ms=2500,
                 tls={"ca_file": str(tmp_path / "ca.pem"), "server_name": "ast-medan.pln",
                      "cert_file": "/etc/asterisk/keys/ami.pem",
                      "key_file": "/etc/asterisk/keys/ami.key"})
    config = parse_config(data, SHIPPED)
    text = render_manager(config, "medan")["manager.conf"]
    assert "tlsenable = yes\ntlsbindaddr = 10.1.2.3:5039\n" in text
    assert "tlscertfile = /etc/asterisk/keys/ami.pem\ntlsprivatekey = /etc/asterisk/keys/ami.key" \
        in text
    assert "bindaddr = 127.0.0.1\nport = 5038\n" in text  # the plain listener: loopback only
    assert "permit = 10.1.9.0/255.255.255.0\npermit = 10.1.2.40/255.255.255.255\n" in text
    assert "writetimeout = 2500" in text
    tls = config.sites["medan"].ami.manager.tls
    assert tls is not None and tls.server_name == "ast-medan.pln"


def test_bad_manager_keys_name_their_path(tmp_path: Path) -> None:
    data = _yaml(host="10.1.2.3", writetimeout_ms=5, permit=["nowhere"],
                 tls={"ca_file": "missing.pem", "cert_file": "relative.pem", "key_file": "/k",
                      "colour": "blue"})
    with pytest.raises(ConfigError) as caught:
        parse_config(data, SHIPPED)
    paths = {p.path for p in caught.value.problems}
    assert {"sites.medan.ami.writetimeout_ms", "sites.medan.ami.permit[0]",
            "sites.medan.ami.tls.ca_file", "sites.medan.ami.tls.cert_file",
            "sites.medan.ami.tls.colour"} <= paths
    with pytest.raises(ConfigError) as caught:
        parse_config(_yaml(host="10.1.2.3"), SHIPPED)
    assert [p.path for p in caught.value.problems] == ["sites.medan.ami.permit"]


def test_an_unsafe_ami_secret_is_refused_without_echoing_it(tmp_path: Path,
                                                            config: Config) -> None:
    import dataclasses

    secret = tmp_path / "s"
    secret.write_text("abc;defghijk\n")
    site = config.sites["medan"]
    ami = dataclasses.replace(site.ami, secret_file=secret)
    broken = dataclasses.replace(config, sites={**config.sites, "medan":
                                                dataclasses.replace(site, ami=ami)})
    with pytest.raises(RenderError) as caught:
        render_manager(broken, "medan")
    assert "abc" not in str(caught.value)


def test_pjsip_for_every_site_from_the_roster(config: Config) -> None:
    for site in config.sites:
        path = config.asterisk.agent_secrets_path(site)
        assert path is not None
        text = render_pjsip(config, site, config.acd.agents, read_agent_secrets(path))[PJSIP_FILE]
        agents = [a for a in config.acd.agents if a.site == site]
        assert text.count("type = endpoint") == len(agents) > 0
        for agent in agents:
            assert f"[{agent.id}]\ntype = endpoint\ncontext = pln123-agent-features-{site}" in text
            assert f"set_var = PLN123_AGENT={agent.id}" in text
            assert f"[{agent.id}-auth]\ntype = auth\nauth_type = digest\nusername = {agent.id}" \
                in text


def test_secrets_file_errors_name_the_line_not_the_secret(tmp_path: Path,
                                                          config: Config) -> None:
    path = tmp_path / "agents.secret"
    path.write_text("# comment\n\n2001: short\n")
    path.chmod(0o600)
    with pytest.raises(RenderError, match=r"agents.secret:3: the secret for agent 2001") as e:
        read_agent_secrets(path)
    assert "short" not in str(e.value)
    path.write_text("2001 = abcdefghijklmnop\n")
    with pytest.raises(RenderError, match=r":1: not '<agent id>: <secret>'"):
        read_agent_secrets(path)
    path.write_text("2001: abcdefghijklmnop\n")
    path.chmod(0o620)
    with pytest.raises(RenderError, match="writable by group or others"):
        read_agent_secrets(path)
    path.chmod(0o600)
    with pytest.raises(RenderError, match=r"no secret for agent\(s\) 2002, 2003"):
        render_pjsip(config, "medan", config.acd.agents, read_agent_secrets(path))


def test_cli_writes_private_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert main(["asterisk", "render", "--config", str(SHIPPED), "--site", "palembang",
                 "--out", str(out), "--only", "manager,pjsip"]) == 0
    printed = capsys.readouterr()
    for name in ("manager.conf", PJSIP_FILE):
        assert stat.S_IMODE((out / name).stat().st_mode) == 0o640
        assert f"wrote {out / name}" in printed.out
    secret = (ROOT / "deploy/config/secrets/ami-palembang.secret").read_text().strip()
    assert secret in (out / "manager.conf").read_text()
    assert secret not in printed.out + printed.err
    assert main(["asterisk", "render", "--config", str(SHIPPED), "--site", "nowhere",
                 "--out", str(out)]) == 2
    assert main(["asterisk", "render", "--config", str(SHIPPED), "--site", "palembang",
                 "--out", str(out), "--only", "dialplan"]) == 2
