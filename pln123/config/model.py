"""The admin config as immutable values: what the loader produces once it is valid.

Everything downstream reads these types, never the raw YAML, so a typo is caught once,
with its key path, at load time. Each layer owns the values it is configured with: the
Asterisk side's are in `ivr.settings` (and `Config` is a `TelephonyConfig`, so the menu
engine and the renderers take it as it is), the ACD's in `acd.settings`; what only the
application needs (Redis, the dashboard) is here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from acd.settings import AcdSettings, AgentSpec
from ivr.settings import (
    FLOWS,
    Action,
    ActionKind,
    AMISettings,
    AreaCode,
    AsteriskSettings,
    IVRSettings,
    Menu,
    Prompt,
    Site,
    SiteRole,
    TelephonyConfig,
    TrunkAddress,
)
from pln123.config.apkt import ApktSettings
from pln123.config.dashboard import DashboardSettings
from pln123.config.history import HistorySettings
from pln123.config.recording import RecordingSettings
from pln123.web.desktop_settings import DesktopSettings

__all__ = [
    "FLOWS",
    "AMISettings",
    "Action",
    "ActionKind",
    "AreaCode",
    "AsteriskSettings",
    "Config",
    "IVRSettings",
    "Menu",
    "Prompt",
    "RedisSettings",
    "Site",
    "SiteRole",
    "TrunkAddress",
]


@dataclass(frozen=True)
class RedisSettings:
    """Where the shared state lives; the password comes from a file, never the YAML."""

    url: str = "redis://127.0.0.1:6379/0"
    password_file: Path | None = None

    def read_password(self) -> str | None:
        if self.password_file is None:
            return None
        return self.password_file.read_text(encoding="utf-8").strip()


@dataclass(frozen=True, kw_only=True)
class Config(TelephonyConfig):
    path: Path
    redis: RedisSettings = field(default_factory=RedisSettings)
    # The ACD's timings, queues and agent roster (`acd:` and `agents:`), as `acd` takes them.
    acd: AcdSettings = field(default_factory=AcdSettings)
    # The supervisors' dashboard (`dashboard:`); None: the config has no dashboard.
    dashboard: DashboardSettings | None = None
    # The agents' desktop (`desktop:`): pause reasons, dispositions, agents' logins; None:
    # no desktop.
    desktop: DesktopSettings | None = None
    # The connector to APKT, PLN's complaint application (`apkt:`); None: not connected.
    apkt: ApktSettings | None = None
    # Where `pln123 archive` keeps the call history (`history:`; default: a SQLite file).
    history: HistorySettings = field(default_factory=HistorySettings)
    # Where the queues that record (`acd.queues.<skill>.record`) keep their recordings
    # (`recording:`); None: nothing is recorded.
    recording: RecordingSettings | None = None

    def agent(self, agent_id: str) -> AgentSpec | None:
        """The roster entry with this id (ids are unique across all sites)."""
        return next((a for a in self.acd.agents if a.id == agent_id), None)
