"""The `acd:` section and the `agents:` roster of the admin config, as `acd.settings` values.

Kept apart from `loader.py`: the ACD's settings grow with the ACD while the IVR's stay
put. Both sections are optional: a config without them gets the ACD's defaults
and an empty roster, so IVR-only deployments and older files keep loading.

Agent ids are the numbers agents' phones identify themselves by (the feature codes send
them, see `ivr/dialplan/features.py`), so they are digit strings written in quotes: YAML
1.1 reads an unquoted `0100` as the octal number 64, which would silently be another agent.
Endpoints are Asterisk dial strings that pln123 puts into an AMI Originate `Channel:`
header and the dialplan; a narrow character set keeps a comma, `&` (a second phone) or a
line break out of both.
"""

from __future__ import annotations

import re
from typing import Any

from acd.settings import AcdSettings, AgentSpec, QueueSettings
from pln123.config.pooling import parse_pooling
from pln123.config.reader import Problem, Reader, join

AGENT_ID = re.compile(r"[0-9]{3,8}\Z")
# Technology/resource; Local endpoints name a context (`Local/1001@agents`). No `,` `&` `;`
# `$` `(` `)` `"` or whitespace: Dial/Originate would read them as syntax.
ENDPOINT = re.compile(r"(PJSIP|IAX2|Local)/[A-Za-z0-9][A-Za-z0-9_.@+:/-]{0,79}\Z")
MAX_NAME = 60
LEVELS = (1, 10)
FALLBACKS = ("callback", "ticket")

# key -> (default, low, high); the defaults are AcdSettings' own, so the YAML may omit any.
_DEFAULTS = AcdSettings()
_TIMINGS: dict[str, tuple[float, float, float]] = {
    "service_level_s": (_DEFAULTS.service_level_s, 1, 600),
    "escalation_s": (_DEFAULTS.escalation_s, 0, 3600),
    "ring_timeout_s": (_DEFAULTS.ring_timeout_s, 5, 120),
    "announce_every_s": (_DEFAULTS.announce_every_s, 10, 600),
    "callback_offer_ewt_s": (_DEFAULTS.callback_offer_ewt_s, 0, 7200),
    "callback_retry_s": (_DEFAULTS.callback_retry_s, 10, 3600),
    "abandon_resume_s": (_DEFAULTS.abandon_resume_s, 0, 3600),
    "ended_call_keep_s": (_DEFAULTS.ended_call_keep_s, 1, 7 * 24 * 3600),
}
_COUNTS: dict[str, tuple[int, int, int]] = {
    "callback_attempts": (_DEFAULTS.callback_attempts, 1, 10),
    "audit_maxlen": (_DEFAULTS.audit_maxlen, 1_000, 100_000_000),
}
_QUEUE = QueueSettings("-")


def parse_acd(top: Reader, sites: list[str], skills: tuple[str, ...],
              hub: str = "") -> AcdSettings:
    """`acd:` and `agents:` from the top-level reader; problems go to its list."""
    reader = top.child("acd", required=False)
    pooling = parse_pooling(reader, sites, skills, hub)
    timings = {key: reader.number(key, default, low, high)
               for key, (default, low, high) in _TIMINGS.items()}
    counts = {key: reader.integer(key, default, low, high)
              for key, (default, low, high) in _COUNTS.items()}
    callback_dial = _callback_dial(reader)
    queues = _queues(reader, skills)
    reader.finish()
    # `agents:` absent or left empty: no roster yet (an IVR-only site), not an error.
    agents = _agents(top, set(sites), skills) if top.raw("agents") is not None else ()
    return AcdSettings(
        service_level_s=timings["service_level_s"],
        escalation_s=timings["escalation_s"],
        ring_timeout_s=timings["ring_timeout_s"],
        announce_every_s=timings["announce_every_s"],
        callback_offer_ewt_s=timings["callback_offer_ewt_s"],
        callback_retry_s=timings["callback_retry_s"],
        callback_attempts=counts["callback_attempts"],
        callback_dial=callback_dial,
        abandon_resume_s=timings["abandon_resume_s"],
        ended_call_keep_s=timings["ended_call_keep_s"],
        audit_maxlen=counts["audit_maxlen"],
        queues=queues,
        agents=agents,
        pooling=pooling,
    )


def _callback_dial(acd: Reader) -> str:
    """The callback's dial string: `{number}` once, an endpoint once the digits are in.

    The caller's digits are the only part that is not the admin's: checking the pattern
    with a digit string in its place checks every string it can become.
    """
    pattern = acd.text("callback_dial", _DEFAULTS.callback_dial)
    if pattern.count("{number}") != 1 or not ENDPOINT.match(
            pattern.replace("{number}", "0811223344")):
        acd.error(f"{pattern!r} is not a dial string with {{number}} once, such as "
                  "PJSIP/{number}@trunk or Local/{number}@callbacks", "callback_dial")
        return _DEFAULTS.callback_dial
    return pattern


def _queues(acd: Reader, skills: tuple[str, ...]) -> dict[str, QueueSettings]:
    """Settings for every skill: the YAML's where given, the defaults otherwise.

    Every skill gets an entry, so the ACD (and a dashboard listing queues) sees one value
    per queue instead of guessing which defaults apply.
    """
    given: dict[str, QueueSettings] = {}
    if acd.has("queues"):
        for skill, reader in acd.items("queues"):
            if skills and skill not in skills:
                reader.error(f"{skill!r} is not a skill (skills: {', '.join(skills)})")
            fallback = reader.text("max_wait_fallback", _QUEUE.max_wait_fallback)
            if fallback not in FALLBACKS:
                reader.error(f"must be {' or '.join(FALLBACKS)}, not {fallback!r}",
                             "max_wait_fallback")
            given[skill] = QueueSettings(
                skill,
                wrapup_s=reader.number("wrapup_s", _QUEUE.wrapup_s, 0, 600),
                max_wait_s=reader.number("max_wait_s", _QUEUE.max_wait_s, 30, 7200),
                max_wait_fallback=fallback,
                record=bool(reader.typed("record", bool, False)),
            )
            reader.finish()
    return {skill: given.get(skill) or QueueSettings(skill) for skill in skills}


def _agents(top: Reader, sites: set[str], skills: tuple[str, ...]) -> tuple[AgentSpec, ...]:
    agents: list[AgentSpec] = []
    ids: dict[str, int] = {}
    endpoints: dict[str, str] = {}
    for index, value, path in top.entries("agents"):
        reader = Reader(value, path, top.problems)
        if reader.broken:
            continue
        agent_id = _agent_id(reader)
        if agent_id in ids:
            reader.error(f"{agent_id} is already the id of agents[{ids[agent_id]}]", "id")
        elif agent_id:
            ids[agent_id] = index
        name = reader.text("name")
        if name and (len(name) > MAX_NAME or not name.isprintable() or name != name.strip()):
            reader.error(f"{name!r} is not a display name (at most {MAX_NAME} printable "
                         "characters, no leading or trailing spaces)", "name")
        site = reader.text("site")
        if site and site not in sites:
            reader.error(f"{site!r} is not a site (sites: {', '.join(sorted(sites))})", "site")
        endpoint = reader.text("endpoint")
        if endpoint and not ENDPOINT.match(endpoint):
            reader.error(f"{endpoint!r} is not an Asterisk dial string such as PJSIP/1001 or "
                         "Local/1001@agents (PJSIP, IAX2 or Local; letters, digits, _.@+:/-)",
                         "endpoint")
        elif endpoint in endpoints:
            reader.error(f"{endpoint} is already the endpoint of agent {endpoints[endpoint]}",
                         "endpoint")
        elif endpoint:
            endpoints[endpoint] = agent_id or path
        levels = _skills(reader, skills)
        reader.finish()
        agents.append(AgentSpec(agent_id, name, site, endpoint, levels))
    return tuple(agents)


def _agent_id(reader: Reader) -> str:
    raw: Any = reader.raw("id")
    if raw is None:
        reader.error("is required", "id")
        return ""
    if isinstance(raw, int) and not isinstance(raw, bool):
        reader.error(f"{raw} is a number, not an agent id: quote it (\"1001\"; YAML reads "
                     "0100 as 64)", "id")
        return ""
    if not isinstance(raw, str) or not AGENT_ID.match(raw):
        reader.error(f"{raw!r} is not an agent id (3 to 8 digits)", "id")
        return ""
    return raw


def _skills(agent: Reader, skills: tuple[str, ...]) -> dict[str, int]:
    """skill -> level 1..10, at least one; each skill one the config lists."""
    section = agent.child("skills")
    if section.broken:
        return {}
    if not section.data and agent.has("skills"):
        agent.error("must give at least one skill with its level", "skills")
    levels: dict[str, int] = {}
    for key in list(section.data):
        if not isinstance(key, str) or (skills and key not in skills):
            section.raw(str(key))  # reported here, not again as an unknown key
            section.problems.append(Problem(join(section.path, str(key)),
                                            f"{key!r} is not a skill "
                                            f"(skills: {', '.join(skills)})"))
            continue
        levels[key] = section.integer(key, None, *LEVELS)
    section.finish()
    return levels
