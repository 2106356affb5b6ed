"""Agents' feature codes: what the rendered dialplan sends pln123, and how pln123 reads it.

An agent dials a code on their phone; the site's dialplan (`[pln123-agent-features-<site>]`,
rendered by `render.py`) identifies the agent, raises an AMI `UserEvent` and beeps:

    *11           log in                UserEvent(PlnAgent,action: login,...)
    *12           log out               UserEvent(PlnAgent,action: logout,...)
    *13<reason>   pause, reason 1-4 digits (*131, *1342)
    *14           ready (unpause)

The event, as pln123's AMI user (read class `user`) receives it, carries the channel's
snapshot (`Channel`, `CallerIDNum`, ...) and four fields of ours:

    Event: UserEvent
    UserEvent: PlnAgent
    Channel: PJSIP/1001-0000002a
    action: pause
    agent: 1001
    site: palembang
    reason: 13

`parse_agent_feature` turns that into an `AgentCommand` (pure: no I/O, no clock), so the
call-control code that receives AMI events only forwards the result to the ACD. The same
checks (`agent_command`) guard `pln123 agent ...` on the command line.

The agent is the channel variable `PLN123_AGENT` when set (a `set_var` on the phone's PJSIP
endpoint, which the phone cannot change; or an Originate variable in tests with Local
channels), else the caller id number, which Asterisk takes from the endpoint's `callerid`
when one is configured. Either way the dialplan keeps only its digits, so nothing a phone
sends can add a field to the event. `AgentCommand.device` names the phone the event came
from, so the receiver can also insist that it is the agent's own endpoint.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from acd.agents.operations import ACTIONS as ACTIONS  # the ACD's verbs
from acd.agents.operations import AgentAction as AgentAction
from ivr.dialplan.names import AGENT_ID, SITE_NAME

FEATURE_CODES: dict[AgentAction, str] = {
    "login": "*11",
    "logout": "*12",
    "pause": "*13",  # followed by the reason code
    "ready": "*14",
}
USER_EVENT = "PlnAgent"
AGENT_VARIABLE = "PLN123_AGENT"
# Reason codes: 1 to 4 digits. The dialplan matches them with patterns of X only, so a `#`,
# `*` or letter never becomes a reason; a supervisor's dashboard maps codes to words.
REASON_DIGITS = 4
REASON = re.compile(rf"[0-9]{{1,{REASON_DIGITS}}}")
FIELDS = ("action", "agent", "site", "reason")
# A channel name is its device plus a unique suffix: PJSIP/1001-0000002a, IAX2/peer-1234.
_CHANNEL_SUFFIX = re.compile(r"-[0-9a-f]+(;[12])?\Z")


class Fields(Protocol):
    """What an AMI event offers: its headers as (key, value) pairs, repeats included.

    Both a plain dict and `ivr.ami.Message` have it.
    """

    def items(self) -> Iterable[tuple[str, str]]: ...


class BadAgentCommand(ValueError):
    """An agent command that must not reach the ACD; the message says why."""


@dataclass(frozen=True)
class AgentCommand:
    """One agent operation, from a phone or the command line."""

    action: AgentAction
    agent: str
    reason: str | None = None  # pause only
    site: str | None = None  # the site whose dialplan raised it (phone commands)
    channel: str | None = None  # the phone's channel (phone commands)

    @property
    def device(self) -> str | None:
        """The channel without its unique suffix: `PJSIP/1001-0000002a` -> `PJSIP/1001`.

        Compare it with the agent's configured endpoint to accept a command only from the
        agent's own phone. Local channels (`Local/...;2`) are pln123's or the dialplan's own
        and name no phone.
        """
        if not self.channel:
            return None
        return _CHANNEL_SUFFIX.sub("", self.channel)


def agent_command(action: str, agent: str, reason: str | None = None, *,
                  site: str | None = None, channel: str | None = None) -> AgentCommand:
    """A checked `AgentCommand`; BadAgentCommand names the first wrong value."""
    if action not in ACTIONS:
        raise BadAgentCommand(f"{action!r} is not an agent action ({', '.join(ACTIONS)})")
    if not AGENT_ID.fullmatch(agent):
        raise BadAgentCommand(f"{agent!r} is not an agent id (3 to 8 digits)")
    reason = reason or None
    if action == "pause":
        if reason is None:
            raise BadAgentCommand("pause needs a reason code (1 to 4 digits)")
        if not REASON.fullmatch(reason):
            raise BadAgentCommand(f"{reason!r} is not a reason code (1 to 4 digits)")
    elif reason is not None:
        raise BadAgentCommand(f"only pause takes a reason code, not {action}")
    return AgentCommand(_action(action), agent, reason, site, channel)


def parse_agent_feature(fields: Fields) -> AgentCommand | None:
    """The command in a `UserEvent: PlnAgent` event; None for any other event.

    Keys are matched case-insensitively, as AMI does. A PlnAgent event that is malformed
    (unknown action, agent id not 3-8 digits, bad or missing reason, a field given twice)
    raises BadAgentCommand: the receiver logs it rather than guessing, and the agent hears
    the same beep either way, so the log is where a misconfigured phone shows up.
    """
    seen: dict[str, list[str]] = {}
    for key, value in fields.items():
        seen.setdefault(key.strip().lower(), []).append(value.strip())
    if ((_one(seen, "event") or "").lower() != "userevent"
            or (_one(seen, "userevent") or "").lower() != USER_EVENT.lower()):
        return None
    for name in FIELDS:
        if len(seen.get(name, [])) > 1:
            raise BadAgentCommand(f"{USER_EVENT} event has {name!r} more than once")
    action, agent = _one(seen, "action"), _one(seen, "agent")
    if action is None or agent is None:
        raise BadAgentCommand(f"{USER_EVENT} event without action or agent")
    site = _one(seen, "site") or None
    if site is not None and not SITE_NAME.fullmatch(site):
        raise BadAgentCommand(f"{site!r} is not a site name")
    return agent_command(action, agent, _one(seen, "reason"), site=site,
                         channel=_one(seen, "channel") or None)


def _one(seen: dict[str, list[str]], key: str) -> str | None:
    values = seen.get(key)
    return values[0] if values else None


def _action(action: str) -> AgentAction:
    for known in ACTIONS:
        if known == action:
            return known
    raise BadAgentCommand(f"{action!r} is not an agent action")  # pragma: no cover
