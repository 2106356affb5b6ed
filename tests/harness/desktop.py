"""The agent desktop's settings and accounts for the dashboard harness: agents 1001
(palembang, password `agent-1001-pass`) and 2001 (medan, `agent-2001-pass`), two pause
reasons and two dispositions, a disposition required before "ready"."""

from __future__ import annotations

from pln123.web import hash_password
from pln123.web.desktop_settings import AgentAccount, DesktopSettings, Label

AGENT_PASSWORDS = {"1001": "agent-1001-pass", "2001": "agent-2001-pass"}
_SITES = {"1001": "palembang", "2001": "medan"}
DESKTOP = DesktopSettings(
    pause_reasons=(Label("1", "Istirahat", "Break"), Label("2", "Sholat", "Prayer")),
    dispositions=(Label("resolved", "Selesai", "Resolved"),
                  Label("ticket", "Tiket dibuat", "Ticket filed")),
    disposition_required=True,
    agents=tuple(AgentAccount(agent_id, _SITES[agent_id], hash_password(password))
                 for agent_id, password in AGENT_PASSWORDS.items()),
)
IDPEL = "512345678901"
MENU_PATH = "main:1>fault:2>flow:report_fault"
