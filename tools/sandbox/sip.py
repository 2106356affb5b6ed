"""SIP in the sandbox, on request only (`pln123 sandbox up --sip`, or `Sandbox.up(sip=True)`).

An instance without SIP has no transport, so chan_pjsip opens no port: what most tests
see. An instance with SIP gets the site's real rendered configuration (what
`pln123 asterisk render` writes for a server) moved onto loopback:

- the transport on 127.0.0.1:<its own UDP port> (chosen free per instance), and every
  endpoint's RTP bound to 127.0.0.1 as well (`bind_rtp_to_media_address`);
- the site's carrier trunks (`sites.<name>.sip.carriers`) with their source addresses
  replaced by CARRIER_ADDRESS, 127.0.0.2: a SIPp caller binds it to be "the carrier", and
  phones on 127.0.0.1 are never mistaken for one (PJSIP identifies by source address
  first). A site whose config has no carrier gets SANDBOX_CARRIER, which accepts every
  number format;
- the agents' endpoints from the roster, with the secrets of the config's
  `asterisk.agent_secrets_file` (a softphone registers with them);
- the carriers' dialplan contexts, appended to the site's pln123 dialplan.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from ivr.asterisk.carriers import CARRIERS_DIALPLAN_FILE, CARRIERS_PJSIP_FILE, render_carriers
from ivr.asterisk.errors import RenderError
from ivr.asterisk.pjsip import PJSIP_FILE, read_agent_secrets, render_pjsip
from ivr.sip import NUMBER_FORMATS, CarrierTrunk, SipSettings
from pln123.config import ConfigError, load_config
from tools.sandbox.ports import LOOPBACK

CARRIER_ADDRESS = "127.0.0.2"  # where the sandbox's carriers (SIPp callers) send from
SANDBOX_CARRIER = "sandbox-carrier"
AREA_HEADER = "X-PLN-Area"


@dataclass(frozen=True)
class SandboxSip:
    """What an instance with SIP adds: pjsip.conf lines, dialplan lines, a warning."""

    pjsip: str
    dialplan: str
    warning: str | None = None


def sandbox_carrier(area_code: str) -> CarrierTrunk:
    """The carrier a site without one gets: every number format, the site's first area."""
    return CarrierTrunk(SANDBOX_CARRIER, (CARRIER_ADDRESS,), NUMBER_FORMATS, area_code,
                        AREA_HEADER, ("alaw", "ulaw"))


def site_sip(site: str, sip_port: int, config_file: Path) -> SandboxSip:
    """The SIP configuration of `site` on 127.0.0.1:`sip_port`."""
    transport_only = (f"[pln123-udp]\ntype = transport\nprotocol = udp\n"
                      f"bind = {LOOPBACK}:{int(sip_port)}\n")
    try:
        config = load_config(config_file)
    except ConfigError as error:
        return SandboxSip(transport_only, "", f"{config_file} is invalid "
                          f"({len(error.problems)} problems): site {site} has SIP but no "
                          "carriers or agents")
    if site not in config.sites:
        return SandboxSip(transport_only, "")
    real = config.sites[site]
    carriers = tuple(replace(carrier, sources=(CARRIER_ADDRESS,), contact="")
                     for carrier in (real.sip.carriers if real.sip else ()))
    if not carriers:
        carriers = (sandbox_carrier(real.primary_area.code),)
    on_loopback = replace(real, sip=SipSettings(LOOPBACK, int(sip_port), carriers))
    local = replace(config, sites={**config.sites, site: on_loopback})
    warning = None
    try:
        rendered = render_carriers(local, site)
        agents = ""
        path = local.asterisk.agent_secrets_path(site)
        if path is None:
            warning = f"site {site}: no asterisk.agent_secrets_file, so no agent endpoints"
        else:
            secrets = read_agent_secrets(path)
            agents = render_pjsip(local, site, local.acd.agents, secrets)[PJSIP_FILE]
    except RenderError as error:
        return SandboxSip(transport_only, "", f"site {site} has SIP but no carriers or "
                          f"agents: {error}")
    return SandboxSip(rendered[CARRIERS_PJSIP_FILE] + "\n" + agents,
                      rendered[CARRIERS_DIALPLAN_FILE], warning)
