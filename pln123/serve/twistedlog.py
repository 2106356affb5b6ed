"""Twisted's own log events (an unhandled error in a Deferred, a failed listener) as the
same JSON lines as everything else `pln123 serve` logs, instead of lost or plain text.

Informational chatter ("Starting factory ...") is dropped: it says nothing an operator
acts on, and a busy site would log it for every AMI reconnect.
"""

from __future__ import annotations

from typing import Any

import structlog
from twisted.logger import ILogObserver, LogLevel, formatEvent, globalLogBeginner
from zope.interface import provider

log = structlog.get_logger("twisted")


@provider(ILogObserver)
def observe(event: dict[str, Any]) -> None:
    level = event.get("log_level")
    failure = event.get("log_failure")
    if failure is not None:
        log.error("twisted_error", message=formatEvent(event),
                  error=failure.getErrorMessage(), traceback=failure.getTraceback())
    elif level in (LogLevel.error, LogLevel.critical):
        log.error("twisted_error", message=formatEvent(event))
    elif level == LogLevel.warn:
        log.warning("twisted_warning", message=formatEvent(event))


def route_twisted_logs() -> None:
    """Once per process, after `pln123.logs.configure_logging`."""
    globalLogBeginner.beginLoggingTo([observe], redirectStandardIO=False,
                                     discardBuffer=True)
