"""The names the rendered dialplan and pln123 share: contexts, AGI arguments, variables.

The IVR engine (which reads the AsyncAGIStart `Env`), the ACD (which originates into the
agent context) and the renderer all import them from here, so renaming a context is one
change and a test, not a silent break between Asterisk and pln123.
"""

from __future__ import annotations

import re

from acd.intake import ARRIVAL_MOVED as ARRIVAL_MOVED  # the ACD's words, in the dialplan
from acd.intake import ARRIVAL_RETURNED as ARRIVAL_RETURNED
from ivr.dialplan.errors import DialplanError

IVR_CONTEXT = "pln123-ivr"
AGENT_CONNECT_CONTEXT = "pln123-agent-connect"
TRUNK_IN_CONTEXT = "pln123-trunk-in"
# Multi-site. pln123 moves a waiting caller by setting CALL_VARIABLE (the call id,
# 12 hex digits) on the channel and redirecting it to OVERFLOW_OUT_CONTEXT, extension = the
# target site's name, priority 1. That context dials the target's trunk with extension
# `ovf-<call id>`; the target's TRUNK_IN_CONTEXT runs
# AGI(agi:async,,<target site>,moved,<call id>). If the trunk call fails, the caller goes
# back into AsyncAGI at home: AGI(agi:async,<area>,<site>,returned,<call id>).
# A site whose pln123 is down (AstDB HEARTBEAT_FAMILY/HEARTBEAT_KEY older than the
# configured staleness) sends new callers to the hub as `ivr-<area code>`; the hub runs its
# own IVR for them.
OVERFLOW_OUT_CONTEXT = "pln123-overflow-out"
CALL_VARIABLE = "PLN123_CALL"
MOVED_PREFIX = "ovf-"
HUB_IVR_PREFIX = "ivr-"
AGI_ARG_ARRIVAL = "agi_arg_3"   # "moved" (arrived from another site) or "returned"
AGI_ARG_CALL = "agi_arg_4"      # the call id of a moved or returned call
HEARTBEAT_FAMILY = "pln123"
HEARTBEAT_KEY = "heartbeat"     # epoch seconds of pln123's last beat, written with DBPut
# Agents' phones: one context of feature codes per site, one shared Gosub that identifies
# the agent and raises the UserEvent (ivr/dialplan/features.py).
AGENT_FEATURE_CONTEXT = "pln123-agent-feature"
LOCAL_NUMBER = "123"  # what a caller dials on the local trunk of their own area

# AGI(agi:async,<area code>,<site>): AsyncAGIStart's Env carries them as agi_arg_N.
AGI_ARG_AREA_CODE = "agi_arg_1"
AGI_ARG_SITE = "agi_arg_2"
# The same two, kept on the channel for later dialplan steps and AMI Getvar.
AREA_CODE_VARIABLE = "PLN123_AREA"
SITE_VARIABLE = "PLN123_SITE"

# What may reach a dialplan line from the config. None of them admits `;` (a comment),
# `,` or `)` (application arguments), `[` (a context), `$` (an expression) or any line
# break, so a config value can never end a line, start a context or run an application.
SITE_NAME = re.compile(r"[a-z][a-z0-9_-]{0,30}")
AREA_CODE = re.compile(r"0[1-9][0-9]{1,3}")
LANGUAGE = re.compile(r"[a-z]{2}")
# Region names only appear in comments, which may hold anything but a line break.
REGION = re.compile(r"[A-Za-z0-9][A-Za-z0-9 .,'()-]{0,59}")


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
