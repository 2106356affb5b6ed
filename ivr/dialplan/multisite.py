"""The multi-site contexts: the heartbeat check, and what the other sites' trunks deliver.

pln123 writes epoch seconds into its Asterisk's AstDB (HEARTBEAT_FAMILY/HEARTBEAT_KEY)
every second or so. The dialplan reads it without pln123's help, so a site whose pln123 is
down (restarting, crashed, its AMI link cut) still answers callers:

- a site's `[pln123-ivr]` sends a new caller to the hub's IVR (`ivr-<area code>`) when the
  beat is missing or older than `asterisk.heartbeat_stale_s`; the hub has no check
  (it is the last resort, and sending its own callers elsewhere would loop).

National pooling: a caller stays at their home site even when another site's agent takes
them. The home site's pln123 rings that agent through the trunk
(`agent-<agent id>-<call id>`); `[pln123-trunk-in]` here looks the agent's phone up in
AstDB (AGENTS_FAMILY, written by this site's pln123), tells this site's pln123 with a
UserEvent and dials the phone. The home site bridges its caller with the trunk leg once the
agent answers; nothing here answers first.

Only names checked by `names.checked` and numbers formatted here reach a line; what a
caller or a trunk controls (the dialled extension) passes through FILTER.
"""

from __future__ import annotations

import math
import re

from ivr.dialplan.errors import DialplanError
from ivr.dialplan.names import (
    AGENTS_FAMILY,
    AREA_CODE_VARIABLE,
    HEARTBEAT_FAMILY,
    HEARTBEAT_KEY,
    HUB_IVR_PREFIX,
    IVR_CONTEXT,
    LENT_AGENT_PREFIX,
    LENT_AGENT_SEPARATOR,
    PEER,
    REMOTE_CALL_EVENT,
    REMOTE_CALL_FIELDS,
    SITE_NAME,
    SITE_VARIABLE,
    TRUNK_IN_CONTEXT,
    checked,
)
from ivr.settings import Site, TelephonyConfig

HEARTBEAT_CONTEXT = "pln123-heartbeat"  # Gosub: GOSUB_RETVAL = fresh | stale
FRESH, STALE = "fresh", "stale"
_WORD = re.compile(r"[a-z][a-z0-9-]{1,20}")  # a prefix, a family, a key, a variable (lower)
_VARIABLE = re.compile(r"[A-Z][A-Z0-9_]{1,30}")
_SECONDS = re.compile(r"[0-9]{1,6}(\.[0-9]{1,3})?")
_PREFIX = re.compile(r"[a-z]{2,10}-")  # an extension prefix: ivr-, agent-
_EVENT = re.compile(r"[A-Za-z]{2,30}")  # a UserEvent's name
_SEPARATOR = re.compile(r"[-_.]")  # between the parts of a lent agent's extension
NO_ROUTE = 34  # Q.850 "no circuit/channel available": refused before answer
BUSY_WAIT_S = 10  # Busy() waits this long at most for the home site to hang up
# A lent agent's ring keeps the ids and the phone in channel variables of the trunk leg
# (LOCAL() exists only inside a Gosub). No `_` prefix: Dial does not copy them to the phone.
LENT_AGENT_VARIABLE = "PLN123_LENT_AGENT"
LENT_CALL_VARIABLE = "PLN123_LENT_CALL"
LENT_PHONE_VARIABLE = "PLN123_LENT_PHONE"


def _seconds(value: object, what: str) -> float:
    """A positive, finite number of seconds below 1e6 (no bool, no text); else refused."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not 0 < value < 1e6:
        raise DialplanError(f"refusing {what} {value!r} s (a number, 0 < s < 1e6)")
    return float(value)


def stale_after(config: TelephonyConfig) -> str:
    """`heartbeat_stale_s` as an expression operand: `3`, `2.5`."""
    value = _seconds(config.asterisk.heartbeat_stale_s, "heartbeat staleness")
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return checked(text, _SECONDS, "heartbeat staleness")


def dial_timeout(config: TelephonyConfig) -> str:
    """`trunk_dial_timeout_s` as Dial's timeout argument: whole seconds, at least 1."""
    value = _seconds(config.asterisk.trunk_dial_timeout_s, "trunk dial timeout")
    return checked(str(max(1, math.ceil(value))), _SECONDS, "trunk dial timeout")


def peer_of(site: Site) -> str:
    return checked(site.iax2_peer, PEER, f"IAX2 peer name of site {site.name}")


def hub_for(config: TelephonyConfig, site: Site) -> Site | None:
    """The hub a caller of `site` goes to when `site`'s pln123 is down; None for the hub."""
    hub = config.hub
    return None if hub is None or hub.name == site.name else hub


def heartbeat_context(config: TelephonyConfig) -> list[str]:
    """Gosub(pln123-heartbeat,s,1): GOSUB_RETVAL `fresh` or `stale` (missing counts as stale).

    Only the integer part of the value counts, digits only: a beat written as `1712.5`
    works, and whatever else is in AstDB can neither break nor steer the expression.
    """
    family = checked(HEARTBEAT_FAMILY, _WORD, "AstDB family")
    key = checked(HEARTBEAT_KEY, _WORD, "AstDB key")
    return [
        f"; Is this site's pln123 alive? Its heartbeat ({family}/{key}, epoch seconds) is at",
        f"; most {stale_after(config)} s old: Return({FRESH}); missing or older: Return({STALE}).",
        f"[{HEARTBEAT_CONTEXT}]",
        f"exten => s,1,Set(LOCAL(beat)=${{DB({family}/{key})}})",
        " same => n,Set(LOCAL(beat)=${FILTER(0-9,${CUT(beat,.,1)})})",
        f' same => n,GotoIf($["${{beat}}" = ""]?{STALE})',
        f" same => n,GotoIf($[${{EPOCH}} - ${{beat}} > {stale_after(config)}]?{STALE})",
        f" same => n,Return({FRESH})",
        f" same => n({STALE}),Return({STALE})",
    ]


def ivr_context(config: TelephonyConfig, site: Site, language: str) -> list[str]:
    """The AsyncAGI hand-off; at a site with a hub, the heartbeat check comes first."""
    area = checked(AREA_CODE_VARIABLE, _VARIABLE, "variable")
    site_variable = checked(SITE_VARIABLE, _VARIABLE, "variable")
    hub = hub_for(config, site)
    lines = [
        "; The AsyncAGI hand-off; any check before AGI belongs here, and only here.",
        "; ARG1 = area code, ARG2 = site: pln123 sees them as agi_arg_1 and agi_arg_2.",
    ]
    if hub is not None:
        lines += [f"; pln123 down (stale heartbeat): the caller goes to the hub's IVR "
                  f"({hub.name}); if the",
                  "; trunk fails, AsyncAGI here anyway (pln123 may be back)."]
    lines += [
        f"[{IVR_CONTEXT}]",
        "exten => s,1,Answer()",
        f" same => n,Set(CHANNEL(language)={language})",
        f" same => n,Set({area}=${{ARG1}})",
        f" same => n,Set({site_variable}=${{ARG2}})",
    ]
    if hub is not None:
        prefix = checked(HUB_IVR_PREFIX, _PREFIX, "extension prefix")
        lines += [
            f" same => n,Gosub({HEARTBEAT_CONTEXT},s,1)",
            f' same => n,GotoIf($["${{GOSUB_RETVAL}}" = "{FRESH}"]?agi)',
            f" same => n,Dial(IAX2/{peer_of(hub)}/{prefix}${{ARG1}},{dial_timeout(config)})",
            ' same => n,GotoIf($["${DIALSTATUS}" = "ANSWER"]?done)',
            " same => n(agi),AGI(agi:async,${ARG1},${ARG2})",
            " same => n(done),Return()",
        ]
    else:
        lines += [" same => n,AGI(agi:async,${ARG1},${ARG2})", " same => n,Return()"]
    return lines


def literal_pattern(prefix: str) -> str:
    """`prefix` as the literal start of an extension pattern: `agent-` -> `age[n]t-`.

    In a pattern (`_...`) Asterisk reads N, X and Z in either case as digit classes, so
    `_agent-X.` would want a digit where the `n` is and never match `agent-1001-...`.
    """
    return "".join(f"[{c}]" if c in "nxzNXZ" else c for c in prefix)


def trunk_in_context(site: Site) -> list[str]:
    """Lent agents' rings (`agent-<agent id>-<call id>`) and callers of a site whose
    pln123 is down (`ivr-<area code>`).

    The agent's ring is refused with cause 34 before any answer when the agent id or call
    id is missing or the agent has no phone in AstDB, so the home site's Originate fails at
    once (a trunk failure, not the agent's). A phone that cannot be rung (busy, declined,
    unreachable) is signalled back as busy, which the home site counts as the agent's no
    answer, as for its own agents. There is no Dial timeout here: the home site's ring
    timeout ends the trunk leg, and with it this Dial.
    """
    me = checked(site.name, SITE_NAME, "site name")
    agent_prefix = checked(LENT_AGENT_PREFIX, _PREFIX, "extension prefix")
    separator = checked(LENT_AGENT_SEPARATOR, _SEPARATOR, "extension separator")
    ivr = checked(HUB_IVR_PREFIX, _PREFIX, "extension prefix")
    family = checked(AGENTS_FAMILY, _WORD, "AstDB family")
    event = checked(REMOTE_CALL_EVENT, _EVENT, "user event name")
    agent_field, call_field = (checked(name, _WORD, "user event field")
                               for name in REMOTE_CALL_FIELDS)
    # Which `separator`-delimited fields of the extension hold the agent id and the call id.
    agent_part = agent_prefix.count(separator) + 1
    call_part = agent_part + 1
    agent, call, phone = (checked(name, _VARIABLE, "variable") for name in (
        LENT_AGENT_VARIABLE, LENT_CALL_VARIABLE, LENT_PHONE_VARIABLE))
    return [
        f"; From the other sites' trunks. {agent_prefix}<agent id>{separator}<call id>: another "
        "site rings one",
        f"; of this site's agents for its caller. The phone is AstDB {family}/<agent id>;",
        f"; none, or no id: Hangup({NO_ROUTE}) before answer. {ivr}<area code>: a caller whose "
        "own site's",
        "; pln123 is down, served by this site's IVR.",
        f"[{TRUNK_IN_CONTEXT}]",
        f"exten => _{literal_pattern(agent_prefix)}X.,1,"
        f"Set({agent}=${{FILTER(0-9,${{CUT(EXTEN,{separator},{agent_part})}})}})",
        f" same => n,Set({call}=${{FILTER(0-9a-f,${{CUT(EXTEN,{separator},{call_part})}})}})",
        f' same => n,GotoIf($["${{{agent}}}" = "" | "${{{call}}}" = ""]?refused)',
        f" same => n,Set({phone}=${{DB({family}/${{{agent}}})}})",
        f' same => n,GotoIf($["${{{phone}}}" = ""]?refused)',
        f" same => n,UserEvent({event},{agent_field}: ${{{agent}}},{call_field}: ${{{call}}})",
        f" same => n,Dial(${{{phone}}})",
        ' same => n,GotoIf($["${DIALSTATUS}" = "ANSWER"]?done)',
        f" same => n,Busy({BUSY_WAIT_S})",
        " same => n(done),Hangup()",
        f" same => n(refused),Hangup({NO_ROUTE})",
        f"exten => _{literal_pattern(ivr)}X.,1,"
        f"Gosub({IVR_CONTEXT},s,1(${{FILTER(0-9,${{EXTEN:{len(ivr)}}})}},{me}))",
        " same => n,Hangup()",
    ]
