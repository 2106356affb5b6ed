"""Asterisk dialplans rendered from the admin config: area code + 123 entry points, the one
AsyncAGI hand-off, agents' feature codes, and the multi-site contexts (heartbeat, trunks).

`render_site(config, site)` gives the include file for one site; `names` holds the context
names and AGI argument keys pln123 and the dialplan share; `features` the feature codes and
the parser of the UserEvent they raise.
"""

from ivr.dialplan.errors import DialplanError
from ivr.dialplan.features import (
    AgentCommand,
    BadAgentCommand,
    parse_agent_feature,
)
from ivr.dialplan.names import (
    AGENT_CONNECT_CONTEXT,
    AGENT_FEATURE_CONTEXT,
    AGI_ARG_AREA_CODE,
    AGI_ARG_SITE,
    AREA_CODE_VARIABLE,
    IVR_CONTEXT,
    SITE_VARIABLE,
    TRUNK_IN_CONTEXT,
    agent_features_context,
    entry_number,
    inbound_context,
    local_context,
)
from ivr.dialplan.render import render_all, render_site

__all__ = [
    "AGENT_CONNECT_CONTEXT",
    "AGENT_FEATURE_CONTEXT",
    "AGI_ARG_AREA_CODE",
    "AGI_ARG_SITE",
    "AREA_CODE_VARIABLE",
    "IVR_CONTEXT",
    "SITE_VARIABLE",
    "TRUNK_IN_CONTEXT",
    "AgentCommand",
    "BadAgentCommand",
    "DialplanError",
    "agent_features_context",
    "entry_number",
    "inbound_context",
    "local_context",
    "parse_agent_feature",
    "render_all",
    "render_site",
]
