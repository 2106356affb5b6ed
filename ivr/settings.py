"""What the Asterisk side is told by the admin config: sites, menus, prompts, AMI, Asterisk.

The application (`pln123.config`) parses the YAML and builds these values; nothing under
`ivr/` reads YAML or knows where a value came from, so the menu engine, the dialplan and
conf renderers and the AMI link can be driven by values built in code (tests, tools).
`TelephonyConfig` is the part of the admin config the Asterisk side reads; the
application's `Config` extends it with what only the application needs (Redis, the ACD,
the dashboard).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

from ivr.sip import SipSettings

SiteRole = Literal["site", "hub"]
ActionKind = Literal[
    "submenu", "flow", "queue", "play", "repeat", "back", "language", "hangup"
]
FLOWS = ("report_fault", "ticket_status", "outage_info")

DEFAULT_WRITETIMEOUT_MS = 1000  # Asterisk's default, 100 ms, drops a reader stalled by a GC
DEFAULT_PLAIN_PORT = 5038
LOOPBACK = "127.0.0.1/255.255.255.255"
DEFAULT_CODECS = ("alaw", "ulaw")
IAX2_PORT = 4569  # IANA's port for IAX2


@dataclass(frozen=True)
class AreaCode:
    code: str  # e.g. "0711"
    region: str  # e.g. "Palembang"

    @property
    def number(self) -> str:
        """What a caller in this area dials: area code + 123."""
        return f"{self.code}123"


@dataclass(frozen=True)
class AmiTLS:
    """AMI over TLS: pln123 checks Asterisk's certificate against `ca_file` for
    `server_name`; `cert_file`/`key_file` are paths on the Asterisk host (manager.conf)."""

    ca_file: Path
    server_name: str
    cert_file: str
    key_file: str
    bind: str = ""  # the address Asterisk listens on for TLS; empty: the AMI host's


@dataclass(frozen=True)
class ManagerOptions:
    """The manager.conf side of a site's AMI link."""

    permit: tuple[str, ...] = (LOOPBACK,)
    writetimeout_ms: int = DEFAULT_WRITETIMEOUT_MS
    plain_port: int = DEFAULT_PLAIN_PORT  # only used with tls: the loopback plain listener
    tls: AmiTLS | None = None


@dataclass(frozen=True)
class AMISettings:
    host: str
    port: int
    user: str
    secret_file: Path
    md5: bool = False
    # The manager.conf side (permit, writetimeout, TLS).
    manager: ManagerOptions = field(default_factory=ManagerOptions)

    def read_secret(self) -> str:
        """Read at connect time, so a rotated secret needs no restart and no log sees it."""
        return self.secret_file.read_text(encoding="utf-8").strip()


@dataclass(frozen=True)
class TrunkAddress:
    """Where the other sites' Asterisks send IAX2 calls for a site (`sites.<name>.iax2`).

    `host` is an IP address, not a name: it also goes into the receiving site's trunk
    `permit=` list, and Asterisk's ACLs do not resolve names.
    """

    host: str
    port: int = IAX2_PORT


@dataclass(frozen=True)
class Site:
    name: str
    role: SiteRole
    ami: AMISettings
    iax2_peer: str  # the peer name other sites dial to reach this one
    area_codes: tuple[AreaCode, ...]
    iax2: TrunkAddress | None = None  # required once the config has more than one site
    sip: SipSettings | None = None  # its PJSIP transport and carrier trunks (`sip:`)

    @property
    def primary_area(self) -> AreaCode:
        return self.area_codes[0]


@dataclass(frozen=True)
class Action:
    """What a digit (or a menu's last failed retry) does."""

    kind: ActionKind
    target: str | None = None  # submenu name, flow name, prompt id, or language
    skill: str | None = None
    priority: int = 5
    category: str | None = None  # for flow report_fault: the complaint category

    def describe(self) -> str:
        if self.kind == "queue":
            return f"queue {self.skill} (priority {self.priority})"
        return f"{self.kind} {self.target}" if self.target else self.kind


@dataclass(frozen=True)
class Menu:
    name: str
    prompt: str
    options: dict[str, Action]
    timeout_s: float = 5.0
    retries: int = 3
    on_failure: Action = field(default_factory=lambda: Action("queue", skill="general"))


@dataclass(frozen=True)
class Prompt:
    id: str
    text: dict[str, str]  # language -> text


@dataclass(frozen=True)
class RepeatCallers:
    """`ivr.repeat_callers`: callers with an open ticket hear its latest status first.

    On IVR-wide (`enabled`) unless a site says otherwise (`sites`: site -> on/off).
    """

    enabled: bool = True
    sites: dict[str, bool] = field(default_factory=dict)
    offer_timeout_s: float = 5.0  # the "agent, repeat, or the menu" question after it

    def enabled_at(self, site: str) -> bool:
        return self.sites.get(site, self.enabled)


@dataclass(frozen=True)
class IVRSettings:
    greeting: str  # prompt id played once before the root menu
    root_menu: str
    english_key: str = "9"  # at the greeting
    back_key: str = "*"
    agent_key: str = "0"
    agent: Action = field(default_factory=lambda: Action("queue", skill="general"))
    idpel_timeout_s: float = 15.0
    idpel_retries: int = 3
    # A caller who asked for an agent hears music while the hand-off waits for the ACD
    # (Redis) to take the call; past this they hear the apology and are hung up.
    handoff_timeout_s: float = 120.0
    repeat_callers: RepeatCallers = field(default_factory=RepeatCallers)


@dataclass(frozen=True)
class AsteriskSettings:
    """The `asterisk:` section: agents' PJSIP endpoints and where their secrets are, and
    the timings the rendered dialplan shares with pln123 (the heartbeat, trunk dials)."""

    agent_secrets_file: str = ""  # relative to the config's folder; may contain {site}
    base: Path = Path(".")
    agent_context: str = ""  # default: the site's pln123-agent-features-<site> context
    transport: str = ""  # an existing PJSIP transport's name; empty: Asterisk chooses
    codecs: tuple[str, ...] = DEFAULT_CODECS
    heartbeat_every_s: float = 1.0   # pln123 -> its Asterisk's AstDB (DBPut)
    heartbeat_stale_s: float = 3.0   # the dialplan sends calls to the hub after this
    trunk_dial_timeout_s: float = 10.0  # a Dial over the inter-site trunk gives up after this

    def agent_secrets_path(self, site: str) -> Path | None:
        if not self.agent_secrets_file:
            return None
        return self.base / self.agent_secrets_file.replace("{site}", site)


class AgentPhone(Protocol):
    """An agent as the Asterisk side sees them: an id and the phone to ring."""

    @property
    def id(self) -> str: ...

    @property
    def name(self) -> str: ...

    @property
    def site(self) -> str: ...

    @property
    def endpoint(self) -> str: ...


@dataclass(frozen=True)
class TelephonyConfig:
    """The part of the admin config the Asterisk side reads."""

    languages: tuple[str, ...]
    default_language: str
    sites: dict[str, Site]
    skills: tuple[str, ...]
    ivr: IVRSettings
    menus: dict[str, Menu]
    prompts: dict[str, Prompt]
    # `asterisk:`: agents' PJSIP endpoints, their secrets file, the shared timings.
    asterisk: AsteriskSettings = field(default_factory=AsteriskSettings)

    def site_for_area(self, code: str) -> tuple[Site, AreaCode] | None:
        for site in self.sites.values():
            for area in site.area_codes:
                if area.code == code:
                    return site, area
        return None

    def area_for_number(self, dialled: str) -> tuple[Site, AreaCode] | None:
        """The site and area for a dialled `<area code>123` number."""
        if dialled.endswith("123"):
            return self.site_for_area(dialled[:-3])
        return None

    @property
    def hub(self) -> Site | None:
        return next((s for s in self.sites.values() if s.role == "hub"), None)
