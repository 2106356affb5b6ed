"""The multi-site contexts: the heartbeat check, overflow out, trunk arrivals.

pln123 writes epoch seconds into its Asterisk's AstDB (HEARTBEAT_FAMILY/HEARTBEAT_KEY)
every second or so. The dialplan reads it without pln123's help, so a site whose pln123 is
down (restarting, crashed, its AMI link cut) still answers callers:

- a site's `[pln123-ivr]` sends a new caller to the hub's IVR (`ivr-<area code>`) when the
  beat is missing or older than `asterisk.heartbeat_stale_s`; the hub has no check
  (it is the last resort, and sending its own callers elsewhere would loop);
- `[pln123-trunk-in]` refuses a moved call (`ovf-<call id>`) with cause 34 *before*
  answering when its own beat is stale, so the sender's Dial ends without ANSWER and the
  caller goes back into AsyncAGI at home, in place;
- `[pln123-overflow-out]` dials the target site's trunk and, when that fails, hands the
  caller back to pln123 at home (`returned`).

Only names checked by `names.checked` and numbers formatted here reach a line; what a
caller or a trunk controls (the dialled extension, the call id) passes through FILTER.
"""

from __future__ import annotations

import math
import re

from ivr.dialplan.errors import DialplanError
from ivr.dialplan.names import (
    AREA_CODE_VARIABLE,
    ARRIVAL_MOVED,
    ARRIVAL_RETURNED,
    CALL_VARIABLE,
    HEARTBEAT_FAMILY,
    HEARTBEAT_KEY,
    HUB_IVR_PREFIX,
    IVR_CONTEXT,
    MOVED_PREFIX,
    OVERFLOW_OUT_CONTEXT,
    SITE_NAME,
    SITE_VARIABLE,
    TRUNK_IN_CONTEXT,
    checked,
)
from ivr.settings import Site, TelephonyConfig

HEARTBEAT_CONTEXT = "pln123-heartbeat"  # Gosub: GOSUB_RETVAL = fresh | stale
FRESH, STALE = "fresh", "stale"
# What an IAX2 peer name may be in a Dial string: no `/` (it would end the peer), `,` or `)`.
PEER = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,39}")
_WORD = re.compile(r"[a-z][a-z0-9-]{1,20}")  # a prefix, a family, a key, a variable (lower)
_VARIABLE = re.compile(r"[A-Z][A-Z0-9_]{1,30}")
_SECONDS = re.compile(r"[0-9]{1,6}(\.[0-9]{1,3})?")
CALL_ID = f"${{FILTER(0-9a-f,${{{CALL_VARIABLE}}})}}"  # the id pln123 set: 12 hex digits
NO_ROUTE = 34  # Q.850 "no circuit/channel available": the sender's DIALSTATUS is not ANSWER


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
        prefix = checked(HUB_IVR_PREFIX, re.compile(r"[a-z]{2,10}-"), "extension prefix")
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


def overflow_out_context(config: TelephonyConfig, site: Site) -> list[str]:
    """One extension per other site: dial its trunk; on failure, back to pln123 at home."""
    me = checked(site.name, SITE_NAME, "site name")
    prefix = checked(MOVED_PREFIX, re.compile(r"[a-z]{2,10}-"), "extension prefix")
    returned = checked(ARRIVAL_RETURNED, _WORD, "arrival")
    checked(CALL_VARIABLE, _VARIABLE, "variable")
    area = f"${{FILTER(0-9,${{{checked(AREA_CODE_VARIABLE, _VARIABLE, 'variable')}}})}}"
    lines = [
        f"; pln123 moves a waiting caller: AMI Setvar {CALL_VARIABLE}=<call id>, then Redirect "
        "here,",
        "; extension = the target site. Answered there: done. Not answered: back to pln123",
        f"; here with agi_arg_3 = {returned}, agi_arg_4 = the call id.",
        f"[{OVERFLOW_OUT_CONTEXT}]",
    ]
    for other in config.sites.values():
        if other.name == site.name:
            continue
        target = checked(other.name, SITE_NAME, "site name")
        lines += [
            f"exten => {target},1,Dial(IAX2/{peer_of(other)}/{prefix}{CALL_ID},"
            f"{dial_timeout(config)})",
            ' same => n,GotoIf($["${DIALSTATUS}" = "ANSWER"]?done)',
            f" same => n,AGI(agi:async,{area},{me},{returned},{CALL_ID})",
            " same => n(done),Hangup()",
        ]
    return lines


def trunk_in_context(config: TelephonyConfig, site: Site, language: str) -> list[str]:
    """Moved calls (`ovf-<call id>`) and callers of a site whose pln123 is down (`ivr-<area>`)."""
    me = checked(site.name, SITE_NAME, "site name")
    moved = checked(ARRIVAL_MOVED, _WORD, "arrival")
    ovf = checked(MOVED_PREFIX, re.compile(r"[a-z]{2,10}-"), "extension prefix")
    ivr = checked(HUB_IVR_PREFIX, re.compile(r"[a-z]{2,10}-"), "extension prefix")
    area = checked(AREA_CODE_VARIABLE, _VARIABLE, "variable")
    site_variable = checked(SITE_VARIABLE, _VARIABLE, "variable")
    call = f"${{FILTER(0-9a-f,${{EXTEN:{len(ovf)}}})}}"
    return [
        f"; From the other sites' trunks. {ovf}<call id>: a call pln123 moved here; refused "
        "unanswered",
        f"; (cause {NO_ROUTE}) while this site's pln123 is down, so it returns home. "
        f"{ivr}<area code>:",
        "; a caller whose own site's pln123 is down, served by this site's IVR.",
        f"[{TRUNK_IN_CONTEXT}]",
        f"exten => _{ovf}.,1,Gosub({HEARTBEAT_CONTEXT},s,1)",
        f' same => n,GotoIf($["${{GOSUB_RETVAL}}" = "{FRESH}"]?{FRESH})',
        f" same => n,Hangup({NO_ROUTE})",
        f" same => n({FRESH}),Answer()",
        f" same => n,Set(CHANNEL(language)={language})",
        f" same => n,Set({site_variable}={me})",
        f" same => n,Set({area}=)",
        f" same => n,AGI(agi:async,,{me},{moved},{call})",
        " same => n,Hangup()",
        f"exten => _{ivr}X.,1,Gosub({IVR_CONTEXT},s,1(${{FILTER(0-9,${{EXTEN:{len(ivr)}}})}},"
        f"{me}))",
        " same => n,Hangup()",
    ]
