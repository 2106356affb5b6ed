"""The agent desktop's settings, as `pln123/config/desktop.py` reads them from `desktop:`.

Pause reasons and dispositions are codes with a name per language (Indonesian first, the
English one optional); agents' accounts bind a roster id to its site and password hash.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Label:
    """A code and what it is called in each language (`id` first, `en` optional)."""

    code: str
    id: str
    en: str

    def name(self, language: str) -> str:
        return self.en if language == "en" and self.en else self.id


@dataclass(frozen=True)
class AgentAccount:
    agent_id: str
    site: str
    password_hash: str

    def __repr__(self) -> str:  # the hash stays out of logs and tracebacks
        return f"AgentAccount({self.agent_id!r}, {self.site!r})"


@dataclass(frozen=True)
class DesktopSettings:
    pause_reasons: tuple[Label, ...] = ()
    dispositions: tuple[Label, ...] = ()
    disposition_required: bool = False
    agents: tuple[AgentAccount, ...] = ()

    def pause_reason(self, code: str) -> Label | None:
        return next((r for r in self.pause_reasons if r.code == code), None)

    def disposition(self, code: str) -> Label | None:
        return next((d for d in self.dispositions if d.code == code), None)
