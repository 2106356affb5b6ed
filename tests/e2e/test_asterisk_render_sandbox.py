"""What `pln123 asterisk render` writes, loaded into a real Asterisk 22 (the sandbox).

A dedicated instance (`rendercheck`, so no other test's AMI users change under it) gets the
rendered manager.conf and agents' PJSIP file of every site in turn, reloads them and shows
them (`manager show user`, `pjsip show endpoints`). Then the rendered pln123 user proves
least privilege over AMI: `Command` is refused, what pln123 needs (Originate, DBPut,
Getvar, CoreShowChannels, AGI) works, the events pln123 reads arrive and the others do not.
Last, AMI over TLS: the rendered `[general]` opens a TLS listener that pln123's own AMI
client (`ivr.ami.endpoint.ami_endpoint`) logs in through, checking the certificate.
"""

from __future__ import annotations

import dataclasses
import datetime
import ipaddress
import os
import re
import secrets
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote

import pytest
import pytest_twisted
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ivr.ami import AMICredentials, AMIService
from ivr.ami.actions import ACTION_ID_PREFIX
from ivr.ami.endpoint import ami_endpoint
from ivr.asterisk.manager import ACTIONS, EVENTS, MANAGER_FILE, render_manager
from ivr.asterisk.pjsip import PJSIP_FILE, read_agent_secrets, render_pjsip
from pln123.config import Config, load_config
from pln123.config.asterisk import AmiTLS
from tests.fixtures.asterisk_sandbox import SandboxSession
from tests.harness.reactor import clock, reactor, within
from tools.sandbox import Instance, RawAmi
from tools.sandbox.instance import asterisk_ids
from tools.sandbox.ports import free_port

pytestmark = pytest.mark.asterisk

SHIPPED = Path(__file__).resolve().parents[2] / "deploy" / "config" / "pln.yaml"
SITES = ["palembang", "medan", "jakarta", "surabaya", "makassar"]
# Events a busy Asterisk sends that pln123 never reads: the filter must keep them away.
NOISE = {"Newchannel", "Newstate", "Newexten", "VarSet", "NewConnectedLine", "DialBegin",
         "DialEnd", "BridgeEnter", "BridgeLeave", "BridgeCreate", "LocalBridge",
         "NewCallerid", "SoftHangupRequest", "HangupRequest", "AGIExecStart", "AGIExecEnd",
         "DTMFBegin", "DTMFEnd"}


@pytest.fixture(scope="module")
def instance(asterisk_sandbox: SandboxSession) -> Iterator[Instance]:
    site = asterisk_sandbox.site("rendercheck")
    yield site
    site.stop()  # its manager.conf is no longer the sandbox's: nobody else may use it


def _for_instance(config: Config, site: str, instance: Instance, secret_file: Path,
                  **manager: object) -> Config:
    """`config` with `site`'s AMI pointed at the sandbox instance (port, a fresh secret)."""
    ami = config.sites[site].ami
    options = dataclasses.replace(ami.manager, **manager)  # type: ignore[arg-type]
    ami = dataclasses.replace(ami, port=instance.ami_port, secret_file=secret_file,
                              manager=options)
    sites = {**config.sites, site: dataclasses.replace(config.sites[site], ami=ami)}
    return dataclasses.replace(config, sites=sites)


def _install(instance: Instance, name: str, text: str, mode: int = 0o640) -> None:
    """Into the instance's etc/, readable by the root's asterisk group only."""
    target = instance.path / "etc" / name
    target.write_text(text)
    os.chown(target, 0, asterisk_ids(instance.root)[1])
    target.chmod(mode)


def _until(check: str, instance: Instance, command: str, seconds: float = 10) -> str:
    deadline = time.monotonic() + seconds
    while True:
        output = instance.cli(command)
        if check in output or time.monotonic() > deadline:
            return output
        time.sleep(0.1)


def _load_site(instance: Instance, config: Config, site: str, tmp_path: Path) -> str:
    """Render `site`, install and reload it; the pln123 secret it holds."""
    secret = secrets.token_urlsafe(24)
    secret_file = tmp_path / f"ami-{site}.secret"
    secret_file.write_text(secret + "\n")
    local = _for_instance(config, site, instance, secret_file)
    _install(instance, MANAGER_FILE, render_manager(local, site)[MANAGER_FILE])
    path = local.asterisk.agent_secrets_path(site)
    assert path is not None
    rendered = render_pjsip(local, site, local.acd.agents, read_agent_secrets(path))
    _install(instance, PJSIP_FILE, rendered[PJSIP_FILE])
    _install(instance, "pjsip.conf", f'#include "{PJSIP_FILE}"\n', 0o644)
    instance.cli("manager reload")
    instance.cli("module reload res_pjsip.so")
    return secret


def _endpoints(output: str) -> set[str]:
    """Endpoint names in `pjsip show endpoints` (lines `Endpoint:  1001/1001  ...`)."""
    found = (re.match(r"\s*Endpoint:\s+([^\s/<]+)", line) for line in output.splitlines())
    return {match.group(1) for match in found if match}


def test_every_site_loads_into_asterisk(instance: Instance, tmp_path: Path) -> None:
    config = load_config(SHIPPED)
    for site in SITES:
        secret = _load_site(instance, config, site, tmp_path)
        user = instance.cli("manager show user pln123")
        assert "read perm: system,call,user,agi" in user, user
        assert "write perm: system,call,reporting,originate,agi" in user, user
        assert "deny - 0.0.0.0/0.0.0.0" in user and "allow - 127.0.0.1/255.255.255.255" in user
        agents = [a.id for a in config.acd.agents if a.site == site]
        _until(f"Objects found: {len(agents)}\n", instance, "pjsip show endpoints")
        listed = _endpoints(instance.cli("pjsip show endpoints"))
        assert listed == set(agents), (site, listed)  # the last site's agents are gone
        detail = instance.cli(f"pjsip show endpoint {agents[0]}")
        assert re.search(rf"\n context +: pln123-agent-features-{site}\n", detail), detail
        assert re.search(rf"\n PLN123_AGENT +: {agents[0]}\n", detail), detail  # set_var
        with RawAmi(instance.ami_port) as ami:  # the rendered secret is the one Asterisk has
            ami.login("pln123", secret, events="off")


def test_each_action_pln123_sends_is_within_its_classes(instance: Instance) -> None:
    for action, needed in ACTIONS.items():
        if needed is None:
            continue
        text = instance.cli(f"manager show command {action}")
        lines = text.splitlines()
        privilege = lines[next(i for i, line in enumerate(lines) if "[Privilege]" in line) + 1]
        assert needed in privilege.split(","), (action, privilege)


@pytest.fixture
def pln123_ami(instance: Instance, tmp_path: Path) -> Iterator[RawAmi]:
    secret = _load_site(instance, load_config(SHIPPED), "palembang", tmp_path)
    with RawAmi(instance.ami_port, timeout=5) as ami:
        ami.login("pln123", secret, events="on")  # "on": only the user's classes and filter
        yield ami


def _drain(ami: RawAmi, seconds: float, until: set[str]) -> list[dict[str, str]]:
    """Every message for up to `seconds`, or until each event in `until` was seen."""
    got: list[dict[str, str]] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not until <= {m.get("Event", "") for m in got}:
        ami.sock.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            got.append(ami.read_message())
        except TimeoutError:
            break
    return got


def test_the_rendered_user_cannot_run_command(pln123_ami: RawAmi) -> None:
    refused = pln123_ami.action("Command", {"Command": "core show version"})
    assert (refused["Response"], refused["Message"]) == ("Error", "Permission denied")
    refused = pln123_ami.action("ModuleLoad", {"Module": "app_system.so", "LoadType": "load"})
    assert refused["Response"] == "Error"


def test_the_rendered_user_does_what_pln123_needs(pln123_ami: RawAmi,
                                                   instance: Instance) -> None:
    beat = str(int(time.time()))
    stored = pln123_ami.action("DBPut", {"Family": "pln123", "Key": "heartbeat", "Val": beat})
    assert stored["Response"] == "Success"
    assert f"Value: {beat}" in instance.cli("database get pln123 heartbeat")
    site = pln123_ami.action("Getvar", {"Variable": "SITE"})
    assert (site["Response"], site.get("Value")) == ("Success", "rendercheck")
    # Originated as pln123 does, with an ActionID of pln123's: its outcome comes through.
    originate = {"Channel": "Local/0711123@pln-inbound", "Context": "test-caller",
                 "Exten": "s", "Priority": "1", "Async": "true",
                 "Variable": "PAUSE=2,DTMF=1,HOLD=30"}
    ours = f"{ACTION_ID_PREFIX}render-{secrets.token_hex(3)}"
    pln123_ami.send("Originate", {**originate, "ActionID": ours})
    events = _drain(pln123_ami, 10, {"AsyncAGIStart", "OriginateResponse"})
    queued = next(m for m in events if m.get("ActionID") == ours and "Response" in m)
    assert queued["Response"] == "Success", queued
    assert any(m.get("Event") == "OriginateResponse" and m.get("ActionID") == ours
               for m in events), events
    start = next(m for m in events if m.get("Event") == "AsyncAGIStart")
    channel = start["Channel"]
    # The list action's items are responses, never filtered.
    listing = pln123_ami.action("CoreShowChannels", {})
    assert listing["Response"] == "Success"
    events += _drain(pln123_ami, 5, {"CoreShowChannel", "CoreShowChannelsComplete"})
    # The caller's key reaches pln123 through AGI, the only way it reads keys: no DTMF
    # event crosses the socket (two per key press, none of them read).
    sent = pln123_ami.action("AGI", {"Channel": channel, "Command": "WAIT FOR DIGIT 10000",
                                     "CommandID": "c0"})
    assert sent["Response"] == "Success", sent
    waited = _drain(pln123_ami, 12, {"AsyncAGIExec"})
    executed = next(m for m in waited if m.get("Event") == "AsyncAGIExec")
    assert "result=49" in unquote(executed["Result"]), executed  # "1"
    events += waited
    # AGI (shell-equivalent, granted): a UserEvent from the dialplan side, then hang up.
    sent = pln123_ami.action("AGI", {"Channel": channel, "Command": "EXEC UserEvent PlnRender",
                                     "CommandID": "c1"})
    assert sent["Response"] == "Success", sent
    events += _drain(pln123_ami, 10, {"AsyncAGIExec", "UserEvent"})
    pln123_ami.action("Hangup", {"Channel": channel})
    events += _drain(pln123_ami, 10, {"AsyncAGIEnd", "Hangup"})
    # Another client's Originate (the tools' ActionIDs are "probe-..."): its caller reaches
    # AsyncAGI, but its outcome never crosses pln123's socket.
    theirs = pln123_ami.action("Originate", originate)
    assert theirs["Response"] == "Success", theirs
    foreign = _drain(pln123_ami, 10, {"AsyncAGIStart"})
    foreign += _drain(pln123_ami, 2, {"OriginateResponse"})
    assert not [m for m in foreign if m.get("Event") == "OriginateResponse"], foreign
    other = next(m for m in foreign if m.get("Event") == "AsyncAGIStart")["Channel"]
    pln123_ami.action("Hangup", {"Channel": other})
    names = {m.get("Event", "") for m in events} - {""}
    assert {"AsyncAGIStart", "AsyncAGIExec", "AsyncAGIEnd", "OriginateResponse", "UserEvent",
            "Hangup", "CoreShowChannel",
            "CoreShowChannelsComplete"} <= names, names
    assert not names & NOISE, names & NOISE
    assert names <= set(EVENTS) | {"CoreShowChannel", "CoreShowChannelsComplete"}, names


def _certificates(folder: Path) -> tuple[Path, Path, Path]:
    """A CA and a server certificate for `ami.pln.test` / 127.0.0.1 signed by it."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pln123 test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(minutes=5))
          .not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ami.pln.test")]))
            .issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName("ami.pln.test"),
                x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = folder / "ca.pem", folder / "ami.pem", folder / "ami.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return paths


@pytest_twisted.ensureDeferred
async def test_ami_over_tls(instance: Instance, tmp_path: Path) -> None:
    ca, cert, key = _certificates(tmp_path)
    _install(instance, "ami-tls.pem", cert.read_text(), 0o644)
    _install(instance, "ami-tls.key", key.read_text())
    etc = f"{instance.dir_in_root}/etc"
    tls_port = free_port(socket.SOCK_STREAM, avoid=[instance.ami_port])
    secret = secrets.token_urlsafe(24)
    secret_file = tmp_path / "ami.secret"
    secret_file.write_text(secret + "\n")
    tls = AmiTLS(ca, "ami.pln.test", f"{etc}/ami-tls.pem", f"{etc}/ami-tls.key", "127.0.0.1")
    config = _for_instance(load_config(SHIPPED), "palembang", instance, secret_file,
                           tls=tls, plain_port=instance.ami_port)
    config = dataclasses.replace(config, sites={**config.sites, "palembang": dataclasses.replace(
        config.sites["palembang"], ami=dataclasses.replace(config.sites["palembang"].ami,
                                                           port=tls_port))})
    text = render_manager(config, "palembang")[MANAGER_FILE]
    assert f"tlsenable = yes\ntlsbindaddr = 127.0.0.1:{tls_port}\n" in text
    _install(instance, MANAGER_FILE, text)
    instance.cli("manager reload")
    settings = _until(f"127.0.0.1:{tls_port}", instance, "manager show settings")
    assert f"127.0.0.1:{tls_port}" in settings, settings

    service = AMIService(ami_endpoint(reactor, "127.0.0.1", tls_port, tls),
                         AMICredentials("pln123", secret), clock(),
                         retry_policy=lambda attempt: 0.2)
    service.startService()
    try:
        protocol = await within(service.when_connected(), 10, "AMI login over TLS")
        peer = protocol.transport.getPeerCertificate()  # type: ignore[union-attr]
        assert peer is not None
        assert "ami.pln.test" in peer.to_cryptography().subject.rfc4514_string()
        pong = await within(service.send_action("Ping"), 5, "Ping over TLS")
        assert pong.get("Response") == "Success"
    finally:
        await service.stopService()

    # The wrong CA: the certificate is refused, no login ever happens.
    (tmp_path / "other").mkdir()
    other_ca, _, _ = _certificates(tmp_path / "other")
    wrong = dataclasses.replace(tls, ca_file=other_ca)
    service = AMIService(ami_endpoint(reactor, "127.0.0.1", tls_port, wrong),
                         AMICredentials("pln123", secret), clock(),
                         retry_policy=lambda attempt: 0.2)
    service.startService()
    try:
        with pytest.raises(AssertionError, match="timed out"):
            await within(service.when_connected(), 2, "AMI login with the wrong CA")
    finally:
        await service.stopService()
