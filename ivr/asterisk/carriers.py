"""A site's carrier trunks, rendered from `sites.<name>.sip`: the PJSIP transport, one
endpoint/identify/aor per carrier, and the dialplan context each carrier's calls land in.

Two files, both without secrets (carriers are recognised by their source address, as
interconnects are; no password to leak):

- `pjsip_pln123_carriers.conf` (#include from pjsip.conf): the UDP transport the site
  listens on, and per carrier `[<carrier>]` as endpoint (its codecs, DTMF as RFC 4733
  events, media through Asterisk), identify (the `from` addresses) and aor (`contact`, for
  calls out through it such as callbacks: `PJSIP/<number>@<carrier>`).
- `extensions_pln123_carriers.conf` (#include from extensions.conf): `[pln123-carrier-<carrier>]`,
  one extension per number the carrier may send for an area code this site serves, each
  going to the site's own entry for that area (`[pln123-inbound-<site>]` <area code>123, or
  `[pln123-local-<area code>]` 123), so every call reaches the IVR the same way whatever
  format the carrier used (`ivr/sip.py` lists the formats and why). The caller's number is
  normalised first: `+62812...` becomes `0812...`, the form the IVR and callbacks use.

Numbers are extensions spelt out in full, not patterns: nothing the carrier sends is
interpreted, and a number that is not listed is answered 404 by Asterisk itself. The one
value a carrier controls that is read, the area code header of plain 123, is reduced to
digits and compared with this site's area codes one by one.
"""

from __future__ import annotations

import ipaddress
import re

from ivr.asterisk.errors import RenderError
from ivr.dialplan.errors import DialplanError
from ivr.dialplan.names import (
    AREA_CODE,
    LOCAL_NUMBER,
    SITE_NAME,
    checked,
    entry_number,
    inbound_context,
    local_context,
)
from ivr.settings import Site, TelephonyConfig
from ivr.sip import COUNTRY_CODE, DEFAULT_TRANSPORT, CarrierTrunk

CARRIERS_PJSIP_FILE = "pjsip_pln123_carriers.conf"
CARRIERS_DIALPLAN_FILE = "extensions_pln123_carriers.conf"
CALLER_CONTEXT = "pln123-carrier-caller"  # Gosub: the caller's number in national format
AREA_VARIABLE = "PLN123_CARRIER_AREA"  # plain 123: the area code the header gave

_NAME = re.compile(r"[a-z][a-z0-9-]{0,30}")
_TRANSPORT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}")
_CODEC = re.compile(r"[a-z0-9_]{2,20}")
_HEADER = re.compile(r"X-[A-Za-z0-9][A-Za-z0-9-]{0,40}")
_NUMBER = re.compile(r"\+?[0-9]{3,15}")
_PJSIP_LINE = re.compile(r"|;[^\r\n]*|\[[A-Za-z0-9_.-]+\]|[a-z_]+ = [A-Za-z0-9_.:/,\[\]-]+")
_DIALPLAN_LINE = re.compile(
    r"|;[^\r\n]*"
    r"|\[[a-z0-9-]+\]"
    r"|exten => \+?[0-9a-z]+,1,[A-Za-z]+\([^;\r\n]*\)"
    r"| same => n,[A-Za-z]+\([^;\r\n]*\)"
)


def carrier_context(carrier: str) -> str:
    """Where the calls of `carrier` land: `[pln123-carrier-<carrier>]`."""
    return f"pln123-carrier-{checked(carrier, _NAME, 'carrier name')}"


def transport_name(config: TelephonyConfig) -> str:
    """The transport the rendered endpoints use: `asterisk.transport`, else pln123-udp."""
    return checked(config.asterisk.transport or DEFAULT_TRANSPORT, _TRANSPORT,
                   "transport name")


def media_lines(site: Site) -> list[str]:
    """An endpoint's RTP on the SIP address when the site binds one address, not every one."""
    if site.sip is None:
        return []
    address = _address(site.sip.bind, f"site {site.name}: sip.bind")
    if ipaddress.ip_address(address).is_unspecified:
        return []
    return [f"media_address = {address}", "bind_rtp_to_media_address = yes"]


def render_carriers(config: TelephonyConfig, site_name: str) -> dict[str, str]:
    """File name -> text: the transport and carrier trunks of `site_name`; RenderError if
    the site has no `sip:` section."""
    site = config.sites.get(site_name)
    if site is None:
        raise RenderError(f"no site {site_name!r} (sites: {', '.join(config.sites)})")
    if site.sip is None:
        raise RenderError(f"site {site_name} has no sip section in the config (its "
                          "transport and carrier trunks); leave carriers out with --only")
    try:
        files = {CARRIERS_PJSIP_FILE: _pjsip(config, site),
                 CARRIERS_DIALPLAN_FILE: _dialplan(site)}
    except DialplanError as error:
        raise RenderError(str(error)) from error
    _verify(files[CARRIERS_PJSIP_FILE], _PJSIP_LINE, CARRIERS_PJSIP_FILE)
    _verify(files[CARRIERS_DIALPLAN_FILE], _DIALPLAN_LINE, CARRIERS_DIALPLAN_FILE)
    return files


def accepted_numbers(site: Site, carrier: CarrierTrunk) -> list[tuple[str, str]]:
    """(number as the carrier sends it, the area code it stands for), in config order;
    plain 123 (`local`) stands for the trunk's own area code."""
    numbers: list[tuple[str, str]] = []
    for area in site.area_codes:
        code = checked(area.code, AREA_CODE, "area code")
        if "national" in carrier.numbers:
            numbers.append((entry_number(code), code))
        if "e164" in carrier.numbers:
            numbers += [(f"+{COUNTRY_CODE}{code[1:]}{LOCAL_NUMBER}", code),
                        (f"{COUNTRY_CODE}{code[1:]}{LOCAL_NUMBER}", code)]
    if "local" in carrier.numbers:
        numbers.append((LOCAL_NUMBER, checked(carrier.area_code, AREA_CODE, "area code")))
    return numbers


def _pjsip(config: TelephonyConfig, site: Site) -> str:
    assert site.sip is not None
    name = checked(site.name, SITE_NAME, "site name")
    bind = _address(site.sip.bind, f"site {name}: sip.bind")
    port = _port(site.sip.port, f"site {name}: sip.port")
    transport = transport_name(config)
    host = f"[{bind}]" if ":" in bind else bind
    out = [
        f"; pln123: the SIP transport and carrier trunks of site {name}, rendered by",
        "; `pln123 asterisk render` from sites.<site>.sip. #include it from pjsip.conf.",
        "; Carriers are recognised by their source address (identify), not a password.",
        "",
        f"[{transport}]",
        "type = transport",
        "protocol = udp",
        f"bind = {host}:{port}",
    ]
    for carrier in site.sip.carriers:
        trunk = checked(carrier.name, _NAME, "carrier name")
        if not carrier.sources:
            raise RenderError(f"carrier {trunk} of site {name} lists no source address")
        codecs = [checked(codec, _CODEC, f"codec of carrier {trunk}")
                  for codec in carrier.codecs]
        out += [
            "",
            f"; carrier {trunk}: {', '.join(carrier.numbers)} numbers",
            f"[{trunk}]",
            "type = endpoint",
            f"transport = {transport}",
            f"context = {carrier_context(trunk)}",
            "disallow = all",
            f"allow = {','.join(codecs)}",
            "dtmf_mode = rfc4733",
            "direct_media = no",
            "rtp_symmetric = yes",
            "force_rport = yes",
            "allow_subscribe = no",
            f"aors = {trunk}",
            *media_lines(site),
            "",
            f"[{trunk}]",
            "type = identify",
            f"endpoint = {trunk}",
            *(f"match = {_network(source, trunk)}" for source in carrier.sources),
            "",
            f"[{trunk}]",
            "type = aor",
        ]
        if carrier.contact:
            out += [f"contact = sip:{_contact(carrier.contact, trunk)}",
                    "qualify_frequency = 60"]
    return "\n".join(out) + "\n"


def _dialplan(site: Site) -> str:
    assert site.sip is not None
    name = checked(site.name, SITE_NAME, "site name")
    out = [
        f"; pln123: where the carriers' calls for site {name} land, rendered by `pln123",
        "; asterisk render` from sites.<site>.sip. #include it from extensions.conf beside the",
        "; site's dialplan (pln123 dialplan render), whose entry contexts it goes to.",
        "",
        "; The caller's number as the IVR and callbacks use it: +62... becomes 0...; only",
        "; digits (and the +) of what the carrier sent are kept.",
        f"[{CALLER_CONTEXT}]",
        "exten => s,1,Set(LOCAL(number)=${FILTER(+0-9,${CALLERID(num)})})",
        f' same => n,ExecIf($["${{number:0:{len(COUNTRY_CODE) + 1}}}" = "+{COUNTRY_CODE}"]'
        f"?Set(LOCAL(number)=0${{number:{len(COUNTRY_CODE) + 1}}}))",
        " same => n,Set(CALLERID(num)=${number})",
        " same => n,Return()",
    ]
    for carrier in site.sip.carriers:
        trunk = checked(carrier.name, _NAME, "carrier name")
        out += ["", f"; carrier {trunk}: {', '.join(carrier.numbers)} numbers",
                f"[{carrier_context(trunk)}]"]
        for number, code in accepted_numbers(site, carrier):
            checked(number, _NUMBER, "number")
            out.append(f"exten => {number},1,Gosub({CALLER_CONTEXT},s,1)")
            if number == LOCAL_NUMBER:
                out += _local(site, carrier, code)
            else:
                out.append(f" same => n,Goto({inbound_context(name)},{entry_number(code)},1)")
    return "\n".join(out) + "\n"


def _local(site: Site, carrier: CarrierTrunk, trunk_area: str) -> list[str]:
    """Plain 123: the header's area code if this site serves it, else the trunk's."""
    lines: list[str] = []
    if carrier.area_code_header:
        header = checked(carrier.area_code_header, _HEADER, "header name")
        variable = AREA_VARIABLE
        lines += [
            f" same => n,Set({variable}=${{FILTER(0-9,${{PJSIP_HEADER(read,{header})}})}})",
            # 711 and 0711 both name Palembang; nothing else is compared.
            f' same => n,ExecIf($["${{{variable}:0:1}}" != "0"]?Set({variable}=0${{{variable}}}))',
        ]
        for area in site.area_codes:
            code = checked(area.code, AREA_CODE, "area code")
            lines.append(f' same => n,GotoIf($["${{{variable}}}" = "{code}"]?'
                         f"{local_context(code)},{LOCAL_NUMBER},1)")
    lines.append(f" same => n,Goto({local_context(trunk_area)},{LOCAL_NUMBER},1)")
    return lines


def _address(text: str, what: str) -> str:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise RenderError(f"{what} {text!r} is not an IP address") from None


def _port(port: object, what: str) -> int:
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise RenderError(f"{what} {port!r} is not a port (1-65535)")
    return port


def _network(text: str, trunk: str) -> str:
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise RenderError(f"carrier {trunk}: {text!r} is not an IP address or network"
                          ) from None
    if network.num_addresses == 1:
        return str(network.network_address)
    return str(network)


def _contact(text: str, trunk: str) -> str:
    """`host`, `host:port`, `[v6]` or `[v6]:port`, each part checked."""
    host, port = text, ""
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest.removeprefix(":")
    elif text.count(":") == 1:
        host, port = text.split(":")
    address = _address(host, f"carrier {trunk}: contact")
    shown = f"[{address}]" if ":" in address else address
    if not port:
        return shown
    if not port.isdigit():
        raise RenderError(f"carrier {trunk}: contact port {port!r} is not a number")
    return f"{shown}:{_port(int(port), f'carrier {trunk}: contact port')}"


def _verify(text: str, shape: re.Pattern[str], name: str) -> None:
    """Every line has one of the shapes written here: no value added a line or a section."""
    if not text.isascii():
        raise RenderError(f"{name} has non-ASCII characters")
    for number, line in enumerate(text.split("\n"), 1):
        if not shape.fullmatch(line):
            raise RenderError(f"{name} line {number} has an unexpected shape: {line!r}")
