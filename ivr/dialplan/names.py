"""The names the rendered dialplan and pln123 share: contexts, AGI arguments, variables,
AstDB keys, events.

The IVR engine (which reads the AsyncAGIStart `Env`), call control (which originates
through the trunk and writes AstDB) and the renderer all import them from here, so renaming
a context is one change and a test, not a silent break between Asterisk and pln123.
"""

from __future__ import annotations

import re

from ivr.dialplan.errors import DialplanError

# -- contexts --------------------------------------------------------------------------------
IVR_CONTEXT = "pln123-ivr"  # the one AsyncAGI hand-off: Gosub(pln123-ivr,s,1(<area>,<site>))
# Reserved, never rendered: agents' legs go straight into Wait (the sandbox checks it is absent).
AGENT_CONNECT_CONTEXT = "pln123-agent-connect"
TRUNK_IN_CONTEXT = "pln123-trunk-in"  # where the other sites' IAX2 calls land (iax.conf user)
AGENT_FEATURE_CONTEXT = "pln123-agent-feature"  # the Gosub behind every agent feature code
# Prompts, then the hold music, as one AsyncAGI GOSUB: GOSUB pln123-hold s 1 "<files>,<class>"
HOLD_CONTEXT = "pln123-hold"
HOLD_MUSIC_CLASS = "default"  # the music class a queued caller hears (musiconhold.conf)
LOCAL_NUMBER = "123"  # what a caller dials on the local trunk of their own area

# -- AsyncAGI ---------------------------------------------------------------------------------
# AGI(agi:async,<area code>,<site>): AsyncAGIStart's Env carries them as agi_arg_N.
AGI_ARG_AREA_CODE = "agi_arg_1"  # the caller's area code
AGI_ARG_SITE = "agi_arg_2"  # the site whose IVR answered
AREA_CODE_VARIABLE = "PLN123_AREA"  # the area code, kept on the channel (AMI Getvar)
SITE_VARIABLE = "PLN123_SITE"  # the site, kept on the channel (AMI Getvar)

# -- multi-site -------------------------------------------------------------------------------
# A site whose pln123 is down (the heartbeat older than the configured staleness) sends new
# callers to the hub as `ivr-<area code>`; the hub runs its own IVR for them.
HUB_IVR_PREFIX = "ivr-"  # trunk-in extension: ivr-<area code>, a caller of a site that is down
HEARTBEAT_FAMILY = "pln123"  # AstDB family of pln123's heartbeat
HEARTBEAT_KEY = "heartbeat"  # epoch seconds of pln123's last beat, written with DBPut
# National pooling: when an agent of site X takes a caller of site S, S's pln123 originates
# `IAX2/<X's peer>/agent-<agent id>-<call id>`; X's trunk-in looks the agent's phone up in
# its own AstDB (AGENTS_FAMILY/<agent id>, written by X's pln123), raises REMOTE_CALL_EVENT
# and dials the phone. The caller never leaves S: S bridges them with that IAX2 leg.
LENT_AGENT_PREFIX = "agent-"  # trunk-in extension: agent-<agent id>-<call id>
LENT_AGENT_SEPARATOR = "-"  # between the prefix, the agent id and the call id
AGENTS_FAMILY = "pln123-agents"  # AstDB family: key agent id, value their phone's endpoint
REMOTE_CALL_EVENT = "PlnRemoteCall"  # UserEvent: another site rings one of our agents
REMOTE_CALL_FIELDS = ("agent", "call")  # its fields: the agent id, the home site's call id

# Agents' phones: one context of feature codes per site (agent_features_context), one shared
# Gosub that identifies the agent and raises the UserEvent (ivr/dialplan/features.py).

# -- what may be written ----------------------------------------------------------------------
# What may reach a dialplan line from the config. None of them admits `;` (a comment),
# `,` or `)` (application arguments), `[` (a context), `$` (an expression) or any line
# break, so a config value can never end a line, start a context or run an application.
SITE_NAME = re.compile(r"[a-z][a-z0-9_-]{0,30}")  # a site's name
AREA_CODE = re.compile(r"0[1-9][0-9]{1,3}")  # an area code: 0711, 061
LANGUAGE = re.compile(r"[a-z]{2}")  # the default language: id, en
# Region names only appear in comments, which may hold anything but a line break.
REGION = re.compile(r"[A-Za-z0-9][A-Za-z0-9 .,'()-]{0,59}")
# An agent's phone as AgentDirectory writes it into AGENTS_FAMILY, which the trunk-in
# context dials as it is: technology/resource, no `,` `&` `(` `$` quote or space, so the
# value can add neither a Dial option nor a second phone. The config's rule for endpoints.
PHONE = re.compile(r"(PJSIP|IAX2|Local)/[A-Za-z0-9][A-Za-z0-9_.@+:/-]{0,79}")
# An IAX2 peer name (a site's `iax2_peer`) in a Dial string or an Originate channel: no `/`
# (it would end the peer), `,` or `)`.
PEER = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,39}")
# An agent id in a trunk-in extension and an AstDB key (the config's roster ids).
AGENT_ID = re.compile(r"[0-9]{3,8}")
# A call id in a trunk-in extension: pln123's call ids are 12 hex digits.
CALL_ID = re.compile(r"[0-9a-f]{1,32}")


def checked(value: str, pattern: re.Pattern[str], what: str) -> str:
    """`value` if it matches `pattern` in full; DialplanError otherwise."""
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise DialplanError(f"refusing to write {what} {value!r} into a dialplan "
                            f"(allowed: {pattern.pattern})")
    return value


def inbound_context(site: str) -> str:
    """Where the carrier delivers <area code>123 calls for `site`."""
    return f"pln123-inbound-{checked(site, SITE_NAME, 'site name')}"


def agent_features_context(site: str) -> str:
    """What `site`'s agents' phones include: *11 log in, *12 out, *13<reason> pause, *14."""
    return f"pln123-agent-features-{checked(site, SITE_NAME, 'site name')}"


def local_context(area_code: str) -> str:
    """Where plain 123 arrives from the local trunk of `area_code`."""
    return f"pln123-local-{checked(area_code, AREA_CODE, 'area code')}"


def entry_number(area_code: str) -> str:
    """What a caller dials from anywhere: area code + 123 (0711123)."""
    return checked(area_code, AREA_CODE, "area code") + LOCAL_NUMBER


def lent_agent_extension(agent_id: str, call_id: str) -> str:
    """The trunk-in extension that rings `agent_id` at their site for call `call_id`."""
    agent = checked(agent_id, AGENT_ID, "agent id")
    call = checked(call_id, CALL_ID, "call id")
    return f"{LENT_AGENT_PREFIX}{agent}{LENT_AGENT_SEPARATOR}{call}"
