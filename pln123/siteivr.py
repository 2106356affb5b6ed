"""One site's IVR as a Twisted service: AMI link, AsyncAGI router and menu engine, wired.

This is the piece `pln123 serve` and the demo start per site; tests start it against the
sandbox Asterisk with the same code. Nothing here decides anything: it only connects
objects built from the validated config.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from twisted.application.service import MultiService
from twisted.internet.endpoints import SSL4ClientEndpoint, TCP4ClientEndpoint
from twisted.internet.interfaces import IReactorTCP, IReactorTime, IStreamClientEndpoint

from acd.telephony import Telephony
from ivr.ami.agi import AGISession, AsyncAGIRouter
from ivr.ami.service import AMICredentials, AMIService
from ivr.callcontrol.telephony import AMITelephony
from ivr.dialplan.names import AGI_ARG_ARRIVAL, AGI_ARG_CALL, ARRIVAL_MOVED, ARRIVAL_RETURNED
from ivr.engine.engine import DEFAULT_TIMEZONE, IVREngine
from ivr.engine.session import IVRServices
from ivr.settings import AmiTLS
from pln123.config.model import Config


@dataclass(frozen=True)
class AMITarget:
    """Where and as whom to reach the site's Asterisk (the config's, unless overridden)."""

    host: str
    port: int
    username: str
    secret: str

    @classmethod
    def from_config(cls, config: Config, site_name: str) -> AMITarget:
        ami = config.sites[site_name].ami
        return cls(ami.host, ami.port, ami.user, ami.read_secret())


def ami_endpoint(reactor: IReactorTime, host: str, port: int,
                 tls: AmiTLS | None) -> IStreamClientEndpoint:
    """Plain TCP, or TLS checked against the config's CA for `tls.server_name` (AMI 5039)."""
    tcp: IReactorTCP = reactor  # type: ignore[assignment]
    if tls is None:
        return TCP4ClientEndpoint(tcp, host, port, timeout=5)
    from twisted.internet.ssl import Certificate, optionsForClientTLS  # needs pyOpenSSL

    authority = Certificate.loadPEM(tls.ca_file.read_bytes())
    options = optionsForClientTLS(tls.server_name, trustRoot=authority)
    return SSL4ClientEndpoint(reactor, host, port, options, timeout=5)


class SiteIVR(MultiService):
    """`services(telephony)` builds what the IVR hands callers to (the ACD's intake) and the
    self-service stores, given this site's AMI telephony."""

    def __init__(
        self,
        config: Config,
        site_name: str,
        services: Callable[[Telephony], IVRServices],
        reactor: IReactorTime,
        *,
        ami: AMITarget | None = None,
        endpoint: IStreamClientEndpoint | None = None,
        timezone: str = DEFAULT_TIMEZONE,
    ):
        super().__init__()  # type: ignore[no-untyped-call]
        target = ami or AMITarget.from_config(config, site_name)
        if endpoint is None:
            endpoint = ami_endpoint(reactor, target.host, target.port,
                                    config.sites[site_name].ami.manager.tls)
        self.ami = AMIService(
            endpoint,
            AMICredentials(target.username, target.secret,
                           md5=config.sites[site_name].ami.md5),
            reactor,
        )
        self.ami.setServiceParent(self)  # type: ignore[no-untyped-call]
        self.router = AsyncAGIRouter(self.ami, self.ami.dispatcher, reactor, self._serve)
        self.telephony = AMITelephony(self.ami, self.router, reactor,
                                      callback_dial=config.acd.callback_dial)
        # The ACD behind the intake needs this site's telephony: built from it, here.
        self.call_services = services(self.telephony)
        self.engine = IVREngine(config, site_name, self.call_services, reactor, timezone)
        # A caller moved here from another site, or back after a failed move (issue 5):
        # AGI(agi:async,...,moved|returned,<call id>). Set by the ACD's composition root;
        # without it such a caller goes through the menus like any other.
        self.on_arrival: Callable[[AGISession, str, str], None] | None = None

    def _serve(self, session: AGISession) -> None:
        kind = session.env.get(AGI_ARG_ARRIVAL, "")
        call_id = session.env.get(AGI_ARG_CALL, "")
        if self.on_arrival is not None and kind in (ARRIVAL_MOVED, ARRIVAL_RETURNED) \
                and call_id:
            self.on_arrival(session, kind, call_id)
            return
        self.engine.on_session(session)
