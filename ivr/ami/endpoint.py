"""Where the AMI client connects: plain TCP, or TLS checked against the admin's CA."""

from __future__ import annotations

from twisted.internet.endpoints import SSL4ClientEndpoint, TCP4ClientEndpoint
from twisted.internet.interfaces import IReactorTCP, IReactorTime, IStreamClientEndpoint

from ivr.settings import AmiTLS

CONNECT_TIMEOUT_S = 5


def ami_endpoint(reactor: IReactorTime, host: str, port: int,
                 tls: AmiTLS | None) -> IStreamClientEndpoint:
    """Plain TCP, or TLS checked against the config's CA for `tls.server_name` (AMI 5039)."""
    tcp: IReactorTCP = reactor  # type: ignore[assignment]
    if tls is None:
        return TCP4ClientEndpoint(tcp, host, port, timeout=CONNECT_TIMEOUT_S)
    from twisted.internet.ssl import Certificate, optionsForClientTLS  # needs pyOpenSSL

    authority = Certificate.loadPEM(tls.ca_file.read_bytes())
    options = optionsForClientTLS(tls.server_name, trustRoot=authority)
    return SSL4ClientEndpoint(reactor, host, port, options, timeout=CONNECT_TIMEOUT_S)
