"""`sites.<name>.sip`: the site's PJSIP transport and its carrier trunks.

    sip:
      bind: 10.123.1.10        # the address Asterisk listens on for SIP (UDP)
      port: 5060
      carriers:
        telkom:                # the PJSIP endpoint's name
          from: [203.0.113.10, 203.0.113.16/28]   # where its calls come from
          numbers: [national, e164]                # the called-number formats it sends
          area_code: "0711"    # the trunk's region, for plain 123 (numbers: local)
          area_code_header: X-PLN-Area             # optional, for plain 123
          codecs: [alaw]
          contact: 203.0.113.10:5060               # optional: calls out (callbacks) go here

Every value here ends up on a line of a rendered pjsip.conf or dialplan, so each is held to
a narrow alphabet (names), parsed (addresses, with `ipaddress`) or chosen from a list
(number formats); `ivr/asterisk/carriers.py` checks them again before writing. The number
formats and why they are the ones accepted: `ivr/sip.py`.
"""

from __future__ import annotations

import ipaddress
import re

from ivr.sip import (
    DEFAULT_NUMBERS,
    NUMBER_FORMATS,
    SIP_PORT,
    CarrierTrunk,
    NumberFormat,
    SipSettings,
)
from pln123.config.asterisk import CODEC
from pln123.config.reader import Reader

CARRIER_NAME = re.compile(r"[a-z][a-z0-9-]{0,30}\Z")
HEADER = re.compile(r"X-[A-Za-z0-9][A-Za-z0-9-]{0,40}\Z")


def parse_sip(reader: Reader, area_codes: tuple[str, ...]) -> SipSettings:
    """The site's `sip:` section; `area_codes` are the ones the site serves."""
    bind = reader.text("bind")
    if bind:
        try:
            ipaddress.ip_address(bind)
        except ValueError:
            reader.error(f"{bind!r} is not an IP address (the address Asterisk listens on)",
                         "bind")
    port = reader.integer("port", SIP_PORT, 1, 65535)
    carriers: list[CarrierTrunk] = []
    owners: dict[ipaddress.IPv4Network | ipaddress.IPv6Network, str] = {}
    if reader.has("carriers"):
        for name, carrier in reader.items("carriers"):
            if not CARRIER_NAME.match(name):
                carrier.error(f"{name!r} is not a carrier name ([a-z][a-z0-9-]*)")
            trunk = _carrier(carrier, name, area_codes, owners)
            if trunk is not None:
                carriers.append(trunk)
    reader.finish()
    return SipSettings(bind, port, tuple(carriers))


def _carrier(reader: Reader, name: str, area_codes: tuple[str, ...],
             owners: dict[ipaddress.IPv4Network | ipaddress.IPv6Network, str]
             ) -> CarrierTrunk | None:
    if reader.broken:
        return None
    sources: list[str] = []
    for index, text in enumerate(reader.strings("from")):
        try:
            network = ipaddress.ip_network(text, strict=False)
        except ValueError:
            reader.error(f"{text!r} is not an IP address or network", f"from[{index}]")
            continue
        if network.num_addresses > 65536:
            reader.error(f"{text!r} is too wide for a carrier's addresses (at most /16)",
                         f"from[{index}]")
            continue
        clash = next((owner for known, owner in owners.items()
                      if known.version == network.version and known.overlaps(network)), None)
        if clash is not None:
            # Asterisk would pick one endpoint for both: calls would take the wrong route.
            reader.error(f"{text} overlaps the addresses of carrier {clash!r}",
                         f"from[{index}]")
            continue
        owners[network] = name
        sources.append(str(network.network_address) if network.num_addresses == 1
                       else str(network))
    if reader.has("from") and not reader.raw("from"):
        reader.error("must list at least one address", "from")
    numbers = _numbers(reader)
    area_code = reader.text("area_code", "") if reader.has("area_code") else ""
    if area_code and area_code not in area_codes:
        reader.error(f"{area_code!r} is not an area code this site serves "
                     f"({', '.join(area_codes)})", "area_code")
    if "local" in numbers and not area_code:
        reader.error("is required when numbers has local (plain 123 needs the trunk's "
                     "region)", "area_code")
    header = reader.text("area_code_header", "") if reader.has("area_code_header") else ""
    if header and not HEADER.match(header):
        reader.error(f"{header!r} is not a private SIP header name (X-..., letters, digits, "
                     "-)", "area_code_header")
    if header and "local" not in numbers:
        reader.error("only plain 123 (numbers: local) reads the area code from a header",
                     "area_code_header")
    codecs = tuple(reader.strings("codecs", required=False)) or ("alaw",)
    for index, codec in enumerate(codecs):
        if not CODEC.match(codec):
            reader.error(f"{codec!r} is not a codec name (alaw, ulaw, g722)",
                         f"codecs[{index}]")
    contact = reader.text("contact", "") if reader.has("contact") else ""
    if contact:
        contact = _contact(reader, contact)
    reader.finish()
    return CarrierTrunk(name, tuple(sources), numbers, area_code, header, codecs, contact)


def _numbers(reader: Reader) -> tuple[NumberFormat, ...]:
    if not reader.has("numbers"):
        return DEFAULT_NUMBERS
    chosen: list[NumberFormat] = []
    for index, text in enumerate(reader.strings("numbers")):
        known = next((f for f in NUMBER_FORMATS if f == text), None)
        if known is None:
            reader.error(f"{text!r} is not a number format ({', '.join(NUMBER_FORMATS)})",
                         f"numbers[{index}]")
        elif known not in chosen:
            chosen.append(known)
    if not chosen and not reader.raw("numbers"):
        reader.error(f"must list at least one of {', '.join(NUMBER_FORMATS)}", "numbers")
    return tuple(chosen)


def _contact(reader: Reader, text: str) -> str:
    """`host` or `host:port` (IPv6: `[::1]:5060`), as an IP address: ACL-like, no DNS."""
    host, port = text, ""
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else rest
    elif text.count(":") == 1:
        host, port = text.split(":")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        reader.error(f"{text!r} is not an IP address with an optional port", "contact")
        return ""
    if port and (not port.isdigit() or not 1 <= int(port) <= 65535):
        reader.error(f"{text!r}: {port!r} is not a port (1-65535)", "contact")
        return ""
    shown = f"[{address}]" if address.version == 6 else str(address)
    return f"{shown}:{port}" if port else shown
