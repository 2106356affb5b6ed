"""Render a site's Asterisk include file from the validated admin config.

The output is a pure function of the config: the same config gives the same bytes, which is
what lets `dialplans/<site>.conf` be checked in and a test catch drift. Every value taken
from the config is checked against a narrow character set (`names.py`) before it is
written, and the finished text is checked line by line once more, so neither a loader bug
nor a hand-built `TelephonyConfig` can put a newline, a `;` or an extra application into a dialplan.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from ivr.dialplan.errors import DialplanError
from ivr.dialplan.features import (
    AGENT_VARIABLE,
    FEATURE_CODES,
    FIELDS,
    REASON_DIGITS,
    USER_EVENT,
)
from ivr.dialplan.multisite import (
    FRESH,
    HEARTBEAT_CONTEXT,
    NO_ROUTE,
    STALE,
    dial_timeout,
    heartbeat_context,
    hub_for,
    ivr_context,
    stale_after,
    trunk_in_context,
)
from ivr.dialplan.names import (
    AGENT_FEATURE_CONTEXT,
    AGENTS_FAMILY,
    AGI_ARG_AREA_CODE,
    AGI_ARG_SITE,
    AREA_CODE,
    AREA_CODE_VARIABLE,
    HEARTBEAT_FAMILY,
    HEARTBEAT_KEY,
    HOLD_CONTEXT,
    HUB_IVR_PREFIX,
    IVR_CONTEXT,
    LANGUAGE,
    LENT_AGENT_PREFIX,
    LENT_AGENT_SEPARATOR,
    LOCAL_NUMBER,
    REGION,
    REMOTE_CALL_EVENT,
    REMOTE_CALL_FIELDS,
    SITE_NAME,
    SITE_VARIABLE,
    TRUNK_IN_CONTEXT,
    agent_features_context,
    checked,
    entry_number,
    inbound_context,
    local_context,
)
from ivr.settings import Site, TelephonyConfig

FEATURE_CODE = re.compile(r"\*[0-9]{2}")  # what a feature code may be: *11
ACTION = re.compile(r"[a-z]{2,10}")  # an agent action as the UserEvent carries it
SOUND = re.compile(r"[a-z]{2,20}")  # Asterisk core sounds played as confirmation
CONFIRM_SOUND, REFUSE_SOUND = "beep", "beeperr"

# The only line shapes the renderer produces; anything else means a value slipped through.
_LINE = re.compile(
    r"|;[^\r\n]*"
    r"|\[[a-z0-9-]+\]"
    r"|exten => [0-9A-Za-z_.*\[\]-]+,1,[A-Za-z]+\([^;\r\n]*\)"
    r"| same => n(\([a-z]+\))?,[A-Za-z]+\([^;\r\n]*\)"
)


def render_site(config: TelephonyConfig, site_name: str) -> str:
    """The include file for `site_name`: contexts documented at the top, then the contexts."""
    site = config.sites.get(site_name)
    if site is None:
        raise DialplanError(f"no site {site_name!r} in the config "
                            f"(sites: {', '.join(config.sites)})")
    name = checked(site.name, SITE_NAME, "site name")
    checked(site.role, SITE_NAME, "site role")
    language = checked(config.default_language, LANGUAGE, "language")
    if not site.area_codes:
        raise DialplanError(f"site {name!r} serves no area code")
    areas = [(checked(a.code, AREA_CODE, "area code"), checked(a.region, REGION, "region name"))
             for a in site.area_codes]
    sections = [
        _header(config, site, areas, language),
        _inbound(name, areas),
        *(_local(name, code, region) for code, region in areas),
        ivr_context(config, site, language),
        heartbeat_context(config),
        _hold(),
        _agent_features(name),
        _agent_feature(),
        trunk_in_context(site),
    ]
    text = "\n".join(line for section in sections for line in [*section, ""])
    _verify(text)
    return text


def render_all(config: TelephonyConfig) -> dict[str, str]:
    """Site name -> include file, for every site in the config."""
    return {name: render_site(config, name) for name in config.sites}


def _header(config: TelephonyConfig, site: Site, areas: list[tuple[str, str]],
            language: str) -> list[str]:
    codes = [code for code, _ in areas]
    hub = hub_for(config, site)
    stale = f"older than {stale_after(config)} s"
    if hub is None:
        check = ("No heartbeat check here: this is the hub (or there is none), the last "
                 "resort for the other sites' callers.")
    else:
        check = (f"First Gosub({HEARTBEAT_CONTEXT}): if this site's pln123 is down (heartbeat "
                 f"missing or {stale}), Dial(IAX2/{hub.iax2_peer}/{HUB_IVR_PREFIX}<area code>, "
                 f"{dial_timeout(config)}) sends the caller to the hub's IVR ({hub.name}); "
                 "answered there, it returns; otherwise the AGI below runs anyway.")
    contexts = [
        (inbound_context(site.name),
         "The carrier's calls: one extension per area code this site serves + 123 "
         f"({', '.join(entry_number(code) for code in codes)}). Point the inbound trunk's "
         f"context here. Each goes to [{IVR_CONTEXT}] with its area code and this site."),
        ("pln123-local-<area code>",
         f"One per area code ({', '.join(codes)}): plain {LOCAL_NUMBER} as dialled on that "
         "area's local trunk, the same hand-off with that area code. Point each local "
         f"trunk's context at its own, e.g. [{local_context(codes[0])}]."),
        (IVR_CONTEXT,
         f"The one AsyncAGI hand-off, entered as Gosub({IVR_CONTEXT},s,1(<area code>,<site>)): "
         f"answers, sets the language ({language}), keeps the area code and site in "
         f"{AREA_CODE_VARIABLE} and {SITE_VARIABLE}. {check} Then "
         "AGI(agi:async,<area code>,<site>). pln123 reads them from AsyncAGIStart's Env as "
         f"{AGI_ARG_AREA_CODE} (area code) and {AGI_ARG_SITE} (site). It returns when pln123 "
         "ends the AGI; the caller's context then hangs up."),
        (HEARTBEAT_CONTEXT,
         f"Returns {FRESH} or {STALE} in GOSUB_RETVAL: pln123 writes epoch seconds to AstDB "
         f"{HEARTBEAT_FAMILY}/{HEARTBEAT_KEY} (AMI DBPut) about every second; missing or "
         f"{stale} (asterisk.heartbeat_stale_s) is {STALE}."),
        (HOLD_CONTEXT,
         "What a caller hears when pln123 hands them to the queue (and before a recorded "
         "conversation): Playback of ARG1 (sound files joined by &), then "
         "StartMusicOnHold(ARG2), then back to pln123's AGI. pln123 enters it with the AGI "
         "command GOSUB, one command instead of two, once it has seen this context in "
         "Asterisk's dialplan (ShowDialPlan after each AMI login)."),
        (agent_features_context(site.name),
         "Feature codes for this site's agents' phones: include it in the context their "
         f"endpoints use. {_codes()}. Each runs {AGENT_FEATURE_CONTEXT} with the action and "
         "this site, then hangs up."),
        (AGENT_FEATURE_CONTEXT,
         f"Identifies the agent: channel variable {AGENT_VARIABLE} if set (a set_var on "
         "the phone's endpoint, or an Originate variable), else the caller id number; digits "
         f"only. Raises UserEvent({USER_EVENT}) with the fields {', '.join(FIELDS)} for "
         f"pln123's AMI user (read class user), plays {CONFIRM_SOUND} and returns; without "
         f"an agent id it plays {REFUSE_SOUND} and raises nothing."),
        (TRUNK_IN_CONTEXT,
         "What the other sites' trunks deliver (the IAX2 user's context, see "
         f"ivr/asterisk/iax.py). {LENT_AGENT_PREFIX}<agent id>{LENT_AGENT_SEPARATOR}<call id>: "
         "another site rings one of this site's agents for a caller who stays at that site "
         "(national pooling). Agent id and call id are taken from the extension, digits and "
         "hex digits only; the agent's phone is AstDB "
         f"{AGENTS_FAMILY}/<agent id>, which this site's pln123 writes from its roster (AMI "
         f"DBPut). No id or no phone: Hangup({NO_ROUTE}) before answer, so the other site's "
         f"ring fails at once. Else UserEvent({REMOTE_CALL_EVENT}) with the fields "
         f"{', '.join(REMOTE_CALL_FIELDS)} for this site's pln123, then Dial(<phone>) with "
         "the caller id the other site sent (the caller's region and IDPEL) and no timeout "
         "of its own: the other site's ring timeout hangs up the trunk leg, which ends it. "
         "The phone busy, declining or unreachable: Busy(), which the other site counts as "
         f"the agent not answering. {HUB_IVR_PREFIX}<area code>: a caller whose own site's "
         f"pln123 is down: Gosub({IVR_CONTEXT},s,1(<area code>,{site.name}))."),
    ]
    lines = [
        f"; pln123 dialplan for site {site.name} (role: {site.role})",
        ";",
        *_comment("GENERATED by `pln123 dialplan render` from the admin config: do not edit. "
                  "Change the config and render again (see dialplans/README.md). Include "
                  "this file from the site's extensions.conf with #include; it defines only "
                  "the contexts below.", "; "),
        ";",
        "; Contexts",
    ]
    for context, text in contexts:
        lines += [";", f"; [{context}]", *_comment(text, ";     ")]
    return lines


def _comment(text: str, prefix: str, width: int = 90) -> list[str]:
    """`text` as comment lines of at most `width` characters (longer words stay whole)."""
    lines: list[str] = []
    current = prefix
    for word in text.split(" "):
        if current != prefix and len(current) + 1 + len(word) > width:
            lines.append(current)
            current = prefix
        current = f"{current}{word}" if current == prefix else f"{current} {word}"
    lines.append(current)
    return lines


def _hand_off(number: str, code: str, site: str) -> list[str]:
    return [
        f"exten => {number},1,Gosub({IVR_CONTEXT},s,1({code},{site}))",
        " same => n,Hangup()",
    ]


def _inbound(site: str, areas: Iterable[tuple[str, str]]) -> list[str]:
    lines = [f"[{inbound_context(site)}]"]
    for code, region in areas:
        lines += [f"; {code} {region}", *_hand_off(entry_number(code), code, site)]
    return lines


def _local(site: str, code: str, region: str) -> list[str]:
    return [
        f"; {region}: {LOCAL_NUMBER} on the {code} local trunk",
        f"[{local_context(code)}]",
        *_hand_off(LOCAL_NUMBER, code, site),
    ]


def _codes() -> str:
    words = {"login": "log in", "logout": "log out", "ready": "ready (unpause)"}
    return ", ".join(
        f"{code}<reason> pause (reason: 1 to {REASON_DIGITS} digits)" if action == "pause"
        else f"{code} {words.get(action, action)}"
        for action, code in FEATURE_CODES.items())


def _hold() -> list[str]:
    return [
        "; Prompts, then the hold music: one AsyncAGI GOSUB. ARG1 = sound files joined by &,",
        "; ARG2 = music class.",
        f"[{HOLD_CONTEXT}]",
        "exten => s,1,Playback(${ARG1})",
        " same => n,StartMusicOnHold(${ARG2})",
        " same => n,Return()",
    ]


def _agent_features(site: str) -> list[str]:
    """One extension per code; pause as one pattern per reason length, digits only.

    `_*13X.` would also take `#`, `*` or letters from a SIP phone as a reason, so the
    reason's digits are spelt out as X patterns and anything else is no extension at all.
    """
    lines = [*_comment(f"Agents' phones at {site}: {_codes()}.", "; "),
             f"[{agent_features_context(site)}]"]
    for known, raw_code in FEATURE_CODES.items():
        code = checked(raw_code, FEATURE_CODE, "feature code")
        action = checked(known, ACTION, "agent action")
        if action != "pause":
            lines += [f"exten => {code},1,Gosub({AGENT_FEATURE_CONTEXT},s,1({action},{site}))",
                      " same => n,Hangup()"]
            continue
        for digits in range(1, REASON_DIGITS + 1):
            lines += [f"exten => _{code}{'X' * digits},1,Gosub({AGENT_FEATURE_CONTEXT},s,1("
                      f"{action},{site},${{EXTEN:{len(code)}}}))",
                      " same => n,Hangup()"]
    return lines


def _agent_feature() -> list[str]:
    """The shared Gosub: ARG1 action, ARG2 site, ARG3 reason (digits or empty).

    FILTER keeps only digits of what the phone controls (its caller id) before the value
    reaches ExecIf, GotoIf or UserEvent, so a `,` `?` `:` or line break in a caller id can
    neither add an event field nor change an expression.
    """
    event = checked(USER_EVENT, re.compile(r"[A-Za-z]{2,30}"), "user event name")
    variable = checked(AGENT_VARIABLE, re.compile(r"[A-Z][A-Z0-9_]{1,30}"), "variable")
    confirm = checked(CONFIRM_SOUND, SOUND, "sound")
    refuse = checked(REFUSE_SOUND, SOUND, "sound")
    values = {"action": "${ARG1}", "agent": "${agent}", "site": "${ARG2}", "reason": "${ARG3}"}
    fields = ",".join(f"{name}: {values[name]}" for name in FIELDS)
    return [
        *_comment(f"Agent feature codes: who is calling ({variable}, else the caller id "
                  "number; digits only), then tell pln123. ARG1 = action, ARG2 = site, "
                  "ARG3 = reason.", "; "),
        f"[{AGENT_FEATURE_CONTEXT}]",
        f"exten => s,1,Set(LOCAL(agent)=${{FILTER(0-9,${{{variable}}})}})",
        ' same => n,ExecIf($["${agent}" = ""]?Set(LOCAL(agent)=${FILTER(0-9,${CALLERID(num)})}))',
        " same => n,Answer()",
        ' same => n,GotoIf($["${agent}" = ""]?refused)',
        f" same => n,UserEvent({event},{fields})",
        f" same => n,Playback({confirm})",
        " same => n,Return()",
        f" same => n(refused),Playback({refuse})",
        " same => n,Return()",
    ]


def _verify(text: str) -> None:
    """Last line of defence: every line has one of the shapes this module writes."""
    if not text.isascii():
        raise DialplanError("rendered dialplan has non-ASCII characters")
    for number, line in enumerate(text.split("\n"), 1):
        if not _LINE.fullmatch(line):
            raise DialplanError(f"rendered line {number} has an unexpected shape: {line!r}")
