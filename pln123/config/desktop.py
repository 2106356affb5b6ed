"""The `desktop:` section of the admin config: the agents' desktop in the dashboard.

    desktop:
      pause_reasons:                      # what an agent may pause with; the code is also
        - {code: "1", id: Istirahat, en: Break}        # what the phone's *13<code> sends
        - {code: "2", id: Sholat, en: Prayer}
      dispositions:                       # how a call ended, picked in wrap-up
        - {code: resolved, id: Selesai, en: Resolved}
        - {code: ticket, id: Tiket dibuat, en: Ticket filed}
      disposition_required: true          # no "ready" from the desktop before one is picked
      agents:                             # who may log in to the desktop (`pln123 user add
        - {id: "1001", password_hash: "$argon2id$..."}   # 1001 --role agent`)

An agent logs in with their roster id (`agents:`), so their site is the roster's. The
section is optional: without it the desktop has no accounts and no reasons (None).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from pln123.config.reader import Reader
from pln123.web.accounts import looks_like_hash
from pln123.web.desktop_settings import AgentAccount, DesktopSettings, Label

REASON_CODE = re.compile(r"[0-9]{1,4}\Z")           # as after the phone's *13
DISPOSITION_CODE = re.compile(r"[a-z][a-z0-9_-]{0,31}\Z")
LABEL_MAX = 60
MAX_ENTRIES = 50

__all__ = ["AgentAccount", "DesktopSettings", "Label", "parse_desktop"]


def parse_desktop(top: Reader, roster: Mapping[str, str]) -> DesktopSettings | None:
    """The section, or None when absent; `roster` maps agent id -> site."""
    if top.raw("desktop") is None:
        return None
    reader = top.child("desktop")
    reasons = _labels(reader, "pause_reasons", REASON_CODE, "a reason code of 1 to 4 digits "
                      "(quoted, as the phone's *13<code> sends it)")
    dispositions = _labels(reader, "dispositions", DISPOSITION_CODE,
                           "a disposition code ([a-z][a-z0-9_-]*, max 32)")
    required = reader.typed("disposition_required", bool, False)
    if required and not dispositions:
        reader.error("needs at least one disposition to pick", "disposition_required")
    agents = _agents(reader, roster)
    reader.finish()
    return DesktopSettings(reasons, dispositions, bool(required), agents)


def _labels(reader: Reader, key: str, pattern: re.Pattern[str], what: str
            ) -> tuple[Label, ...]:
    found: list[Label] = []
    for index, item, path in reader.entries(key, required=False):
        entry = Reader(item, path, reader.problems)
        code = entry.raw("code")
        name_id = entry.text("id")
        name_en = entry.text("en", "")
        entry.finish()
        if entry.broken:
            continue
        ok = True
        if not isinstance(code, str) or not pattern.match(code):
            entry.error(f"{code!r} is not {what}", "code")
            ok = False
        elif any(label.code == code for label in found):
            entry.error(f"{code!r} is listed twice", "code")
            ok = False
        for language, name in (("id", name_id), ("en", name_en)):
            if len(name) > LABEL_MAX or any(not char.isprintable() for char in name):
                entry.error(f"at most {LABEL_MAX} printable characters", language)
                ok = False
        if index >= MAX_ENTRIES:
            entry.error(f"at most {MAX_ENTRIES} entries")
            ok = False
        if ok and isinstance(code, str) and name_id:
            found.append(Label(code, name_id.strip(), name_en.strip()))
    return tuple(found)


def _agents(reader: Reader, roster: Mapping[str, str]) -> tuple[AgentAccount, ...]:
    found: list[AgentAccount] = []
    for _index, item, path in reader.entries("agents", required=False):
        entry = Reader(item, path, reader.problems)
        agent_id = entry.raw("id")
        password_hash = entry.text("password_hash")
        entry.finish()
        if entry.broken:
            continue
        if not isinstance(agent_id, str) or agent_id not in roster:
            entry.error(f"{agent_id!r} is not the (quoted) id of an agent in agents:", "id")
            continue
        if any(a.agent_id == agent_id for a in found):
            entry.error(f"{agent_id!r} is listed twice", "id")
            continue
        if password_hash and not looks_like_hash(password_hash):
            entry.error("must be an argon2 hash ($argon2id$...): run `pln123 user add "
                        f"{agent_id} --role agent`", "password_hash")
            continue
        if password_hash:
            found.append(AgentAccount(agent_id, roster[agent_id], password_hash))
    return tuple(found)
