"""`sites.<name>.iax2`: where the other sites' Asterisks send IAX2 calls for a site.

Kept apart from the loader so the loader stays one screenful per section. The rendered
trunk file (ivr/asterisk/iax.py) writes the host both as the peer's `host=` at the other
sites and into this site's `permit=` list; Asterisk's ACLs take no host names, hence an IP
address is required.
"""

from __future__ import annotations

import ipaddress

from ivr.settings import IAX2_PORT, TrunkAddress
from pln123.config.reader import Reader


def parse_trunk(reader: Reader) -> TrunkAddress:
    """`{host: <IP address>, port: 4569}`; problems carry the key path."""
    host = reader.text("host")
    if host:
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            reader.error(f"{host!r} is not an IP address (Asterisk's permit lists take no "
                         "host names)", "host")
        else:
            if address.is_unspecified or address.is_multicast:
                reader.error(f"{host!r} is not the address of one host", "host")
    port = reader.integer("port", IAX2_PORT, 1, 65535)
    reader.finish()
    return TrunkAddress(host, port)
