"""Asterisk dialplans rendered from the admin config: area code + 123 entry points, the one
AsyncAGI hand-off, and the contexts the ACD and multi-site issues fill.

`render_site(config, site)` gives the include file for one site; `names` holds the context
names and AGI argument keys pln123 and the dialplan share.
"""

from ivr.dialplan.errors import DialplanError
from ivr.dialplan.names import (
    AGENT_CONNECT_CONTEXT,
    AGI_ARG_AREA_CODE,
    AGI_ARG_SITE,
    AREA_CODE_VARIABLE,
    IVR_CONTEXT,
    SITE_VARIABLE,
    TRUNK_IN_CONTEXT,
    entry_number,
    inbound_context,
    local_context,
)
from ivr.dialplan.render import render_all, render_site

__all__ = [
    "AGENT_CONNECT_CONTEXT",
    "AGI_ARG_AREA_CODE",
    "AGI_ARG_SITE",
    "AREA_CODE_VARIABLE",
    "IVR_CONTEXT",
    "SITE_VARIABLE",
    "TRUNK_IN_CONTEXT",
    "DialplanError",
    "entry_number",
    "inbound_context",
    "local_context",
    "render_all",
    "render_site",
]
