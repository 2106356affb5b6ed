"""A site's inter-site IAX2 trunks as an `iax.conf` include, rendered from the admin config.

The dialplan (ivr/dialplan/multisite.py) dials `IAX2/<other site's iax2_peer>/...`; this
file defines those peers and the one user the other sites call in as. It has no
`[general]`: the site's own iax.conf keeps its bind address, codecs and call-token policy
and `#include`s this file.

- `[pln123-trunk]` `type=user`: `context=pln123-trunk-in`, everything denied except the
  other sites' hosts (`sites.<name>.iax2.host`, IP addresses). No secret: the trunk is
  meant for a private inter-site network, and IAX2 call tokens (on by default) stop a
  spoofed source address from setting up a call.
- one `type=peer` per other site, named by its `iax2_peer`, with its host and port and
  `username=pln123-trunk`, which is how the receiving side finds the user above.

Every value is checked (names against a narrow alphabet, hosts with `ipaddress`, ports as
integers) and every finished line must have one of the shapes written here, so a bad value
cannot add a line or a section.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping

from ivr.dialplan.errors import DialplanError
from ivr.dialplan.names import PEER, SITE_NAME, TRUNK_IN_CONTEXT, checked
from ivr.settings import TelephonyConfig

TRUNK_USER = "pln123-trunk"  # the user section; every peer's `username=`
_LINE = re.compile(r"|;[^\r\n]*|\[[A-Za-z0-9_.-]+\]|[a-z]+=[A-Za-z0-9_.:/-]+")


def render_iax(
    config: TelephonyConfig,
    site_name: str,
    *,
    peers_override: Mapping[str, tuple[str, int]] | None = None,
) -> str:
    """The trunk include for `site_name`.

    `peers_override` (site name -> (host, port)) replaces the config's addresses and, when
    given, also chooses the peers: exactly the sites it names (each another site of the
    config). The sandbox uses it for the loopback ports of the instances that exist.
    """
    site = config.sites.get(site_name)
    if site is None:
        raise DialplanError(f"no site {site_name!r} in the config "
                            f"(sites: {', '.join(config.sites)})")
    me = checked(site.name, SITE_NAME, "site name")
    if peers_override is not None:
        unknown = sorted(set(peers_override) - (set(config.sites) - {me}))
        if unknown:
            raise DialplanError(f"peers_override names {', '.join(unknown)}: not another "
                                f"site of the config")
    addresses: dict[str, tuple[str, str, str]] = {}  # site -> (peer, host, port)
    for other in config.sites.values():
        if other.name == me or (peers_override is not None and other.name not in
                                peers_override):
            continue
        if peers_override is not None:
            host, port = peers_override[other.name]
        elif other.iax2 is not None:
            host, port = other.iax2.host, other.iax2.port
        else:
            raise DialplanError(f"site {other.name!r} has no iax2 address in the config")
        peer = checked(other.iax2_peer, PEER, f"IAX2 peer name of site {other.name}")
        if peer == TRUNK_USER:
            raise DialplanError(f"site {other.name}: peer name {peer!r} is the trunk user's")
        addresses[other.name] = (peer, _host(host, other.name), _port(port, other.name))
    lines = [
        f"; pln123 IAX2 trunks for site {me}: GENERATED from the admin config, do not edit.",
        "; #include it from the site's iax.conf, after its general section.",
        ";",
        f"; The other sites call in as user {TRUNK_USER} and land in [{TRUNK_IN_CONTEXT}].",
        f"[{TRUNK_USER}]",
        "type=user",
        f"context={TRUNK_IN_CONTEXT}",
        "deny=0.0.0.0/0.0.0.0",
        "deny=::/0",
    ]
    for host in dict.fromkeys(host for _, host, _ in addresses.values()):
        bits = ipaddress.ip_address(host).max_prefixlen
        lines.append(f"permit={host}/{bits}")
    for name, (peer, peer_host, peer_port) in addresses.items():
        lines += ["", f"; site {name}", f"[{peer}]", "type=peer", f"host={peer_host}",
                  f"port={peer_port}", f"username={TRUNK_USER}"]
    text = "\n".join(lines) + "\n"
    for number, line in enumerate(text.split("\n"), 1):
        if not _LINE.fullmatch(line):
            raise DialplanError(f"rendered iax line {number} has an unexpected shape: {line!r}")
    return text


def _host(host: object, site: str) -> str:
    try:
        address = ipaddress.ip_address(host)  # type: ignore[arg-type]
    except ValueError as error:
        raise DialplanError(f"site {site}: iax2 host {host!r} is not an IP address") from error
    if address.is_unspecified or address.is_multicast:
        raise DialplanError(f"site {site}: iax2 host {host!r} is not the address of one host")
    return str(address)


def _port(port: object, site: str) -> str:
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise DialplanError(f"site {site}: iax2 port {port!r} is not a port (1-65535)")
    return str(port)
