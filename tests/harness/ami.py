"""An AMI service logged in to a sandbox Asterisk, and scripted callers through it."""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.endpoints import TCP4ClientEndpoint
from twisted.internet.interfaces import IReactorTCP

from ivr.ami import AMICredentials, AMIService, variable_header
from tests.harness.reactor import clock, reactor, within
from tools.sandbox import Instance


async def connect(
    site: Instance,
    user: str = "pln123",
    *,
    md5: bool = False,
    events: str = "call,agi,user,dtmf,system",
) -> AMIService:
    secret = site.pln123_secret if user == "pln123" else site.admin_secret
    tcp: IReactorTCP = reactor
    endpoint = TCP4ClientEndpoint(tcp, "127.0.0.1", site.ami_port, timeout=5)
    service = AMIService(
        endpoint,
        AMICredentials(user, secret, md5=md5, events=events),
        clock(),
        ping_interval=2.0,
        ping_timeout=2.0,
        retry_policy=lambda attempt: min(0.2 * 2**attempt, 1.0),
    )
    service.startService()
    await within(service.when_connected(), 10, f"AMI login as {user}")
    return service


def originate_caller(
    service: AMIService,
    extension: str,
    *,
    caller_context: str = "test-caller",
    caller_exten: str = "s",
    variables: dict[str, str] | None = None,
    caller_id: str = '"Budi" <0811223344>',
) -> Deferred[Any]:
    """A scripted caller: the IVR half runs `extension@pln-inbound`, the caller half the
    sandbox's `test-caller` script (see deploy/sandbox/extensions.conf)."""
    fields = {
        "Channel": f"Local/{extension}@pln-inbound",
        "Context": caller_context,
        "Exten": caller_exten,
        "Priority": "1",
        "CallerID": caller_id,
        "Async": "true",
        "Timeout": "10000",
    }
    if variables:
        fields["Variable"] = variable_header(variables)
    return service.send_action("Originate", fields)
