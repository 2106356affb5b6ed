"""structlog set-up shared by every pln123 process.

JSON lines on stdout so that journald/Loki can index them; `site`, `call_id` and `agent_id`
are bound by the callers. Secrets never reach here: callers log names, never values.

A busy site writes a dozen lines per call, so the chain is kept cheap: one shared output
logger (structlog's factories build a new one, lock look-up included, for every unbound
`log.info`), a timestamp formatted once per second and a JSON encoder built once (a
`json.dumps` with options builds a new one per line). The lines are the same as
structlog's TimeStamper(fmt="iso", utc=True) and JSONRenderer would write.
"""

from __future__ import annotations

import json as _json
import logging
import sys
import time
from typing import Any

import structlog
from structlog.typing import EventDict, WrappedLogger


class UTCStamper:
    """`timestamp`: ISO 8601 in UTC with microseconds and a `Z`, as
    `datetime.now(timezone.utc).isoformat()` writes it (no fraction when it is zero)."""

    __slots__ = ("_prefix", "_second")

    def __init__(self) -> None:
        self._second = -1
        self._prefix = ""

    def __call__(self, _logger: WrappedLogger, _name: str, event_dict: EventDict) -> EventDict:
        now_us = time.time_ns() // 1000
        second, micro = divmod(now_us, 1_000_000)
        if second != self._second:
            self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._second = second
        event_dict["timestamp"] = (f"{self._prefix}.{micro:06d}Z" if micro
                                   else f"{self._prefix}Z")
        return event_dict


def _fallback(obj: Any) -> Any:
    """What structlog's JSONRenderer does with a value json cannot encode."""
    try:
        return obj.__structlog__()
    except AttributeError:
        return repr(obj)


_ENCODER = _json.JSONEncoder(default=_fallback)


def render_json(_logger: WrappedLogger, _name: str, event_dict: EventDict) -> str:
    return _ENCODER.encode(event_dict)


def configure_logging(level: str = "info", json: bool = True) -> None:
    renderer: Any = render_json if json else structlog.dev.ConsoleRenderer()
    output = structlog.WriteLogger(sys.stdout)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            UTCStamper(),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[level.upper()]
        ),
        logger_factory=lambda *_args: output,
        cache_logger_on_first_use=False,
    )
