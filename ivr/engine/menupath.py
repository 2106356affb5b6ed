"""The caller's choices as one short line for the agent's screen (`QueueRequest.menu_path`).

An agent answering "PLN 123" wants to know at a glance why the caller asked for them:
`main:2>fault:1>flow:report_fault` says they pressed 2 in the main menu, then 1, and
went through the fault report before asking for an agent. Built from the call's journal
(the same events support reads), so there is one record of what the caller did.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from acd.intake import MENU_PATH, MENU_PATH_MAX

SEPARATOR = ">"


def menu_path(events: Iterable[tuple[str, dict[str, Any]]]) -> str:
    """The keys pressed in menus and the flows entered, oldest first; when the path is
    longer than the ACD takes, its oldest steps are dropped (the latest say the most)."""
    steps: list[str] = []
    for name, fields in events:
        if name == "digit":
            step = f"{fields.get('menu', '')}:{fields.get('key', '')}"
        elif name == "flow_started":
            step = f"flow:{fields.get('flow', '')}"
        else:
            continue
        if MENU_PATH.fullmatch(step) and SEPARATOR not in step:
            steps.append(step)
    while steps and len(SEPARATOR.join(steps)) > MENU_PATH_MAX:
        steps.pop(0)
    return SEPARATOR.join(steps)
