"""What the rendered Asterisk configuration needs beyond the IVR's own settings.

Two places in the admin config, both optional so older files keep loading:

* `sites.<name>.ami` gains the Asterisk side of the AMI link: `permit` (where pln123
  connects from; the rendered manager.conf user accepts nobody else), `writetimeout_ms`,
  `plain_port` and `tls` (AMI over TLS, normally port 5039: the CA pln123 verifies
  Asterisk's certificate with, and the certificate/key paths on the Asterisk host).
* the top-level `asterisk:` section: where the agents' SIP secrets are
  (`agent_secrets_file`, `{site}` replaced by the site name, so each server holds only its
  own agents' secrets), how agents' PJSIP endpoints are built, and the timings the
  rendered dialplan shares with pln123: `heartbeat_every_s` (pln123 writes its heartbeat
  into AstDB this often), `heartbeat_stale_s` (an older one sends callers to the hub) and
  `trunk_dial_timeout_s` (a Dial over the inter-site trunk).

The agents' secrets file is *not* opened here: `pln123 serve` never needs it (and should
not be able to read it); only `pln123 asterisk render` reads it, for one site.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path

from ivr.settings import (
    DEFAULT_CODECS,
    DEFAULT_PLAIN_PORT,
    DEFAULT_WRITETIMEOUT_MS,
    LOOPBACK,
    AmiTLS,
    AsteriskSettings,
    ManagerOptions,
)
from pln123.config.reader import Reader

# What may reach a line of a rendered Asterisk file from these settings: no `;` (a comment),
# no `,`, `(`, `=`, `[` and no whitespace or line break.
PATH_VALUE = re.compile(r"/[A-Za-z0-9_./-]{1,250}\Z")
NAME_VALUE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}\Z")
SERVER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9.-]{0,252}\Z")
CODEC = re.compile(r"[a-z0-9_]{2,20}\Z")
_DEFAULT = AsteriskSettings()


def acl_entry(text: str) -> str | None:
    """`10.1.2.0/24` or `10.1.2.3` as Asterisk's `address/netmask`, or None if not one."""
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None
    if isinstance(network, ipaddress.IPv6Network):
        return f"{network.network_address}/{network.prefixlen}"
    return f"{network.network_address}/{network.netmask}"


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def parse_ami_manager(reader: Reader, base: Path, host: str) -> ManagerOptions:
    """The optional manager keys of `sites.<name>.ami` (`reader`); the caller finishes it."""
    permit: list[str] = []
    if reader.has("permit"):
        texts = reader.strings("permit")
        if not texts:
            reader.error("must list at least one address", "permit")
        for index, text in enumerate(texts):
            entry = acl_entry(text)
            if entry is None:
                reader.error(f"{text!r} is not an IP address or network (10.1.2.3, "
                             "10.1.2.0/24)", f"permit[{index}]")
            else:
                permit.append(entry)
    elif host and not _is_loopback(host):
        # pln123 is on another machine: only the admin knows its address as Asterisk sees it.
        reader.error("is required when host is not a loopback address (the address pln123 "
                     "connects from)", "permit")
    writetimeout = reader.integer("writetimeout_ms", DEFAULT_WRITETIMEOUT_MS, 100, 60_000)
    plain_port = reader.integer("plain_port", DEFAULT_PLAIN_PORT, 1, 65535)
    tls = _tls(reader.child("tls"), base, host) if reader.has("tls") else None
    return ManagerOptions(tuple(permit) or (LOOPBACK,), writetimeout, plain_port, tls)


def _tls(reader: Reader, base: Path, host: str) -> AmiTLS | None:
    if reader.broken:
        return None
    ca_text = reader.text("ca_file")
    ca_file = base / ca_text if ca_text else base
    if ca_text and not ca_file.is_file():
        reader.error(f"{ca_file} does not exist", "ca_file")
    server_name = reader.text("server_name", host)
    if server_name and not SERVER_NAME.match(server_name):
        reader.error(f"{server_name!r} is not a host name", "server_name")
    paths = {}
    for key in ("cert_file", "key_file"):
        paths[key] = reader.text(key)
        if paths[key] and not PATH_VALUE.match(paths[key]):
            reader.error(f"{paths[key]!r} is not an absolute path on the Asterisk host "
                         "(letters, digits, _./-)", key)
    bind = reader.text("bind", "") if reader.has("bind") else ""
    if bind:
        try:
            ipaddress.ip_address(bind)
        except ValueError:
            reader.error(f"{bind!r} is not an IP address", "bind")
    reader.finish()
    return AmiTLS(ca_file, server_name, paths["cert_file"], paths["key_file"], bind)


def parse_asterisk(top: Reader, base: Path) -> AsteriskSettings:
    """The optional top-level `asterisk:` section."""
    reader = top.child("asterisk", required=False)
    secrets = reader.text("agent_secrets_file", "") if reader.has("agent_secrets_file") else ""
    if secrets and (not re.fullmatch(r"[A-Za-z0-9_./{}-]{1,250}", secrets)
                    or secrets.replace("{site}", "").count("{")
                    or secrets.replace("{site}", "").count("}")):
        reader.error(f"{secrets!r} is not a file path (letters, digits, _./- and {{site}})",
                     "agent_secrets_file")
    context = reader.text("agent_context", "") if reader.has("agent_context") else ""
    transport = reader.text("transport", "") if reader.has("transport") else ""
    for key, value in (("agent_context", context), ("transport", transport)):
        if value and not NAME_VALUE.match(value):
            reader.error(f"{value!r} is not an Asterisk name (letters, digits, _.-)", key)
    codecs = tuple(reader.strings("codecs", required=False)) or DEFAULT_CODECS
    for index, codec in enumerate(codecs):
        if not CODEC.match(codec):
            reader.error(f"{codec!r} is not a codec name (alaw, ulaw, g722, opus)",
                         f"codecs[{index}]")
    every = reader.number("heartbeat_every_s", _DEFAULT.heartbeat_every_s, 0.5, 10)
    stale = reader.number("heartbeat_stale_s", _DEFAULT.heartbeat_stale_s, 2, 120)
    if stale <= every:
        reader.error("must be longer than heartbeat_every_s", "heartbeat_stale_s")
    trunk_dial = reader.number("trunk_dial_timeout_s", _DEFAULT.trunk_dial_timeout_s, 2, 60)
    reader.finish()
    return AsteriskSettings(secrets, base, context, transport, codecs, every, stale,
                            trunk_dial)
