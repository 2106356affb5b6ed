"""manager.conf for a site: the `pln123` AMI user with least privilege, and `[general]`.

The classes are not a guess: they are derived from two tables below, every AMI action
pln123 sends (with the write class Asterisk 22 checks for it) and every event pln123
subscribes to (with its read class). A unit test greps `send_action(...)` and
`subscribe(...)` across `ivr/` and fails when code uses an action or event missing here,
and the sandbox test asks the running Asterisk (`manager show command`) that each action's
privilege really is one of the granted classes.

Events pln123 never reads are dropped by Asterisk itself with `eventfilter` lines in the
advanced syntax (Asterisk 20.x+/22: `eventfilter(action(include),name(Hangup)) =`): hashed
name matches, no regular expression per event. On a busy site Newexten, VarSet, Newstate,
bridges and RTCP are most of the AMI traffic; none of it crosses the socket any more.
Responses to actions (including the items of list actions such as CoreShowChannels) are
not events and are never filtered (checked against the sandbox in the e2e test).
"""

from __future__ import annotations

import ipaddress
import re

from acd.telephony import WATCHED_TECHNOLOGIES
from ivr.ami.actions import ACTION_ID_PREFIX
from ivr.asterisk.errors import RenderError
from ivr.settings import Site, TelephonyConfig

# Action -> the write class pln123's user holds for it (Asterisk accepts any one of the
# classes an action lists; `manager show command <Action>` shows them).
ACTIONS: dict[str, str | None] = {
    "Login": None, "Challenge": None, "Ping": None, "Logoff": None,
    "AGI": "agi",                    # AsyncAGI commands: shell-equivalent (AGI EXEC System)
    "Originate": "originate",        # agent legs, callbacks, the sandbox's test callers
    "Bridge": "call",                # caller and answered agent
    "Hangup": "call",
    "Getvar": "call",
    "MixMonitor": "system",          # recording an agent's conversation (recorded queues)
    "CoreShowChannels": "reporting",  # resync after a reconnect
    "CoreStatus": "reporting",       # ... and whether Asterisk restarted (its start time)
    "ShowDialPlan": "reporting",     # ... and whether the dialplan has the hold subroutine
    "DBPut": "system",               # the heartbeat and the agents' phones in AstDB
    "DBDel": "system",               # ... the heartbeat on a clean stop, agents who left
    "DBDelTree": "system",           # ... the agents' phones a previous process left
    "PJSIPShowEndpoints": "system",  # the agents' phones' states after every login
    "DeviceStateList": "call",       # ... and every other device's (IAX2)
}

# Event -> its read class. Only these reach pln123 (eventfilter include lines).
EVENTS: dict[str, str] = {
    "AsyncAGIStart": "agi",
    "AsyncAGIExec": "agi",
    "AsyncAGIEnd": "agi",
    "Hangup": "call",                # AGI sessions end, abandons, agent legs
    "Rename": "call",                # a masqueraded AGI channel keeps its session
    "OriginateResponse": "call",     # Async Originate's outcome (agent answered or not)
    "UserEvent": "user",             # agents' feature codes, lent agents' rings
    "DeviceStateChange": "call",     # an agent's phone unregistered, busy, available
    "ContactStatus": "system",       # ... a PJSIP phone's registration removed or back
}

# Events let through only when a header starts with one of these: Asterisk sends a
# DeviceStateChange for every Local channel of every call (a third of a busy site's events)
# while pln123 follows only the agents' phones; and an OriginateResponse to every AMI
# session, whoever originated, while pln123 reads only those of pln123's own Originates
# (any pln123 process's: a restarted one resumes the rings of the one before).
EVENT_PREFIXES: dict[str, tuple[str, tuple[str, ...]]] = {
    "DeviceStateChange": ("Device", tuple(f"{tech}/" for tech in WATCHED_TECHNOLOGIES)),
    "OriginateResponse": ("ActionID", (ACTION_ID_PREFIX,)),
}

WRITE_CLASSES: tuple[str, ...] = tuple(sorted({c for c in ACTIONS.values() if c}))
READ_CLASSES: tuple[str, ...] = tuple(sorted(set(EVENTS.values())))
_SECRET = re.compile(r"[A-Za-z0-9_.~+/=@%:!^*-]{8,128}")
_USER = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}")
MANAGER_FILE = "manager.conf"


def _bind_address(host: str, key: str = "host") -> str:
    """Asterisk listens on the address pln123 connects to, never on every interface."""
    if host == "localhost":
        return "127.0.0.1"
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        raise RenderError(f"ami.{key} {host!r} is a host name: manager.conf binds an IP "
                          "address; write the address Asterisk should listen on") from None


def _secret(site: Site) -> str:
    path = site.ami.secret_file
    try:
        secret = site.ami.read_secret()
    except (OSError, UnicodeDecodeError) as error:
        raise RenderError(f"cannot read the AMI secret file {path}: {error}") from error
    if not _SECRET.fullmatch(secret):
        # Never echo it: say what is wrong, not what it is.
        raise RenderError(f"the AMI secret in {path} must be 8 to 128 characters of "
                          "A-Z a-z 0-9 _.~+/=@%:!^*- (no spaces, no ';')")
    return secret


def render_general(config: TelephonyConfig, site_name: str) -> str:
    """manager.conf `[general]`: AMI on the configured address, optionally TLS."""
    site = config.sites[site_name]
    ami = site.ami
    tls = ami.manager.tls
    lines = [
        "[general]",
        "enabled = yes",
        "webenabled = no",
        "displayconnects = no",
        "allowmultiplelogin = yes",
        "authtimeout = 10",
        "authlimit = 20",
    ]
    if tls is not None:
        address = _bind_address(tls.bind or ami.host, "tls.bind")
        tls_bind = f"[{address}]" if ":" in address else address
    if tls is None:
        lines += [f"bindaddr = {_bind_address(ami.host)}", f"port = {ami.port}"]
    else:
        lines += [
            "; AMI over TLS for pln123; the plain listener Asterisk always opens stays on",
            "; loopback (local tools only).",
            "bindaddr = 127.0.0.1",
            f"port = {ami.manager.plain_port}",
            "tlsenable = yes",
            f"tlsbindaddr = {tls_bind}:{ami.port}",
            f"tlscertfile = {tls.cert_file}",
            f"tlsprivatekey = {tls.key_file}",
        ]
    return "\n".join(lines) + "\n"


def render_user(config: TelephonyConfig, site_name: str) -> str:
    """The `[<ami user>]` section pln123 logs in as: least privilege, event filters."""
    site = config.sites[site_name]
    ami = site.ami
    if not _USER.fullmatch(ami.user):
        raise RenderError(f"refusing AMI user name {ami.user!r}")
    lines = [
        f"; pln123's AMI user for site {site_name}. read: the classes of the events pln123",
        "; subscribes to; write: the classes of the actions it sends (ivr/asterisk/manager.py).",
        "; `agi` (and `system`, for DBPut) are shell-equivalent: keep AMI on loopback or TLS.",
        f"[{ami.user}]",
        f"secret = {_secret(site)}",
        "deny = 0.0.0.0/0.0.0.0",
        *(f"permit = {entry}" for entry in ami.manager.permit),
        "; Asterisk drops a client that has not drained its socket within writetimeout ms",
        "; (default 100): a GC pause or a burst of events must not cost the events in flight.",
        f"writetimeout = {ami.manager.writetimeout_ms}",
        f"read = {','.join(READ_CLASSES)}",
        f"write = {','.join(WRITE_CLASSES)}",
        "; Only the events pln123 reads; responses (and list items) are never filtered.",
        *_event_filters(),
    ]
    return "\n".join(lines) + "\n"


def _event_filters() -> list[str]:
    lines = []
    for event in EVENTS:
        if event not in EVENT_PREFIXES:
            lines.append(f"eventfilter(action(include),name({event})) =")
            continue
        header, prefixes = EVENT_PREFIXES[event]
        lines.extend(f"eventfilter(action(include),name({event}),header({header}),"
                     f"method(starts_with)) = {prefix}" for prefix in prefixes)
    return lines


def render_manager(config: TelephonyConfig, site_name: str) -> dict[str, str]:
    """File name -> text: a complete manager.conf for a server whose AMI serves pln123.

    A manager.conf with other users keeps them: copy the `[pln123]` section (and the TLS
    lines of `[general]`) into it instead (docs/operations.md).
    """
    if site_name not in config.sites:
        raise RenderError(f"no site {site_name!r} (sites: {', '.join(config.sites)})")
    header = (f"; pln123: manager.conf for site {site_name}, rendered by `pln123 asterisk "
              "render`.\n; It holds the AMI secret: mode 0640, owner root, group asterisk.\n")
    text = header + render_general(config, site_name) + "\n" + render_user(config, site_name)
    return {MANAGER_FILE: text}
