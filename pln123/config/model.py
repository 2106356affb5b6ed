"""The admin config as immutable values: what the loader produces once it is valid.

Everything downstream (dialplan renderer, IVR engine, sandbox, later the ACD wiring) reads
these types, never the raw YAML, so a typo is caught once, with its key path, at load time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from acd.settings import AcdSettings, AgentSpec
from pln123.config.asterisk import AsteriskSettings, ManagerOptions
from pln123.config.dashboard import DashboardSettings

SiteRole = Literal["site", "hub"]
ActionKind = Literal[
    "submenu", "flow", "queue", "play", "repeat", "back", "language", "hangup"
]
FLOWS = ("report_fault", "ticket_status", "outage_info")


@dataclass(frozen=True)
class AreaCode:
    code: str  # e.g. "0711"
    region: str  # e.g. "Palembang"

    @property
    def number(self) -> str:
        """What a caller in this area dials: area code + 123."""
        return f"{self.code}123"


@dataclass(frozen=True)
class AMISettings:
    host: str
    port: int
    user: str
    secret_file: Path
    md5: bool = False
    # The manager.conf side (permit, writetimeout, TLS): pln123/config/asterisk.py.
    manager: ManagerOptions = field(default_factory=ManagerOptions)

    def read_secret(self) -> str:
        """Read at connect time, so a rotated secret needs no restart and no log sees it."""
        return self.secret_file.read_text(encoding="utf-8").strip()


@dataclass(frozen=True)
class RedisSettings:
    """Where the shared state lives; the password comes from a file, never the YAML."""

    url: str = "redis://127.0.0.1:6379/0"
    password_file: Path | None = None

    def read_password(self) -> str | None:
        if self.password_file is None:
            return None
        return self.password_file.read_text(encoding="utf-8").strip()


@dataclass(frozen=True)
class TrunkAddress:
    """Where the other sites' Asterisks send IAX2 calls for a site (`sites.<name>.iax2`).

    `host` is an IP address, not a name: it also goes into the receiving site's trunk
    `permit=` list, and Asterisk's ACLs do not resolve names.
    """

    host: str
    port: int = 4569


@dataclass(frozen=True)
class Site:
    name: str
    role: SiteRole
    ami: AMISettings
    iax2_peer: str  # the peer name other sites dial to reach this one
    area_codes: tuple[AreaCode, ...]
    iax2: TrunkAddress | None = None  # required once the config has more than one site

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
class IVRSettings:
    greeting: str  # prompt id played once before the root menu
    root_menu: str
    english_key: str = "9"  # at the greeting
    back_key: str = "*"
    agent_key: str = "0"
    agent: Action = field(default_factory=lambda: Action("queue", skill="general"))
    idpel_timeout_s: float = 15.0
    idpel_retries: int = 3


@dataclass(frozen=True)
class Config:
    path: Path
    languages: tuple[str, ...]
    default_language: str
    sites: dict[str, Site]
    skills: tuple[str, ...]
    ivr: IVRSettings
    menus: dict[str, Menu]
    prompts: dict[str, Prompt]
    redis: RedisSettings = field(default_factory=RedisSettings)
    # The ACD's timings, queues and agent roster (`acd:` and `agents:`), as `acd` takes them.
    acd: AcdSettings = field(default_factory=AcdSettings)
    # `asterisk:`: the agents' PJSIP endpoints and their secrets file (pln123/config/asterisk.py).
    asterisk: AsteriskSettings = field(default_factory=AsteriskSettings)
    # The supervisors' dashboard (`dashboard:`); None: the config has no dashboard.
    dashboard: DashboardSettings | None = None

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

    def agent(self, agent_id: str) -> AgentSpec | None:
        """The roster entry with this id (ids are unique across all sites)."""
        return next((a for a in self.acd.agents if a.id == agent_id), None)

    @property
    def hub(self) -> Site | None:
        return next((s for s in self.sites.values() if s.role == "hub"), None)
