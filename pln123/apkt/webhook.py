"""`POST /apkt/webhook`: APKT's status changes, on the dashboard's web server.

A machine endpoint, not a browser form: no session and no CSRF token, but every request
must carry APKT's HMAC signature over its timestamp and body (pln123.apkt.contract), and
the timestamp must be within +-300 s of our clock. Anything else is 401 and changes
nothing; so is a request whose signature was seen before (a replay), which Redis
remembers for longer than the window (acd/selfservice/apkt_status.py). The body is only
parsed once the signature holds, and it is bounded by the web server (MAX_BODY).

Replies: 200 {"outcome": "applied" | "duplicate" | "stale"}, 400 for a signed body that
breaks the contract, 401, 404 for a ticket pln123 does not know, 503 while Redis is away.
"""

from __future__ import annotations

import json
from typing import Any

import structlog
from twisted.internet.interfaces import IReactorTime
from twisted.python.failure import Failure
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request

from acd.selfservice.apkt_status import ApktStatusDesk, Outcome
from pln123.apkt.contract import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WINDOW_S,
    SignatureRefused,
    verify,
)
from pln123.web.api import STORE_ERRORS
from pln123.web.web import MAX_BODY, write_json

log = structlog.get_logger("pln123.apkt.webhook")

PATH = b"webhook"   # under /apkt


class ApktWebhook(Resource):
    isLeaf = True  # noqa: N815 - twisted.web's name

    def __init__(self, desk: ApktStatusDesk, secret: bytes, clock: IReactorTime, *,
                 window_s: float = WINDOW_S):
        super().__init__()  # type: ignore[no-untyped-call]
        if len(secret) < 32:
            raise ValueError("the APKT webhook secret must be at least 32 bytes")
        self.desk = desk
        self._secret = secret
        self.clock = clock
        self.window_s = window_s

    def __repr__(self) -> str:
        return "ApktWebhook()"

    def render(self, request: Request) -> object:
        if request.postpath != [PATH]:
            write_json(request, 404, {"error": "no such page"})
        elif request.method != b"POST":
            write_json(request, 405, {"error": "POST only"}, {b"Allow": b"POST"})
        else:
            self._post(request)
        return NOT_DONE_YET

    def _post(self, request: Request) -> None:
        body = request.content.read(MAX_BODY + 1) if request.content is not None else b""
        if len(body) > MAX_BODY:
            write_json(request, 413, {"error": f"the body must be at most {MAX_BODY} bytes"})
            return
        try:
            signature = verify(self._secret, request.getHeader(TIMESTAMP_HEADER),
                               request.getHeader(SIGNATURE_HEADER), body,
                               self.clock.seconds(), self.window_s)
        except SignatureRefused as error:
            log.warning("apkt_webhook_refused", reason=str(error))
            write_json(request, 401, {"error": str(error)})
            return
        try:
            change = _change(body)
        except ValueError as error:
            write_json(request, 400, {"error": str(error)})
            return
        d = self.desk.apply(change["ticket"], change["status"], change["at"],
                            change["event_id"], signature)
        d.addCallbacks(lambda outcome: self._applied(request, outcome),
                       lambda failure: self._failed(request, failure))

    def _applied(self, request: Request, outcome: Outcome) -> None:
        if outcome == "replay":
            log.warning("apkt_webhook_refused", reason="replayed")
            write_json(request, 401, {"error": "this request was seen before (replay)"})
        elif outcome == "unknown":
            write_json(request, 404, {"error": "no such ticket"})
        else:
            write_json(request, 200, {"outcome": outcome})

    def _failed(self, request: Request, failure: Failure) -> None:
        error = failure.value
        if isinstance(error, ValueError):
            write_json(request, 400, {"error": str(error)})
        elif isinstance(error, STORE_ERRORS):
            log.error("apkt_webhook_failed", error=repr(error))
            write_json(request, 503, {"error": "the shared store is unavailable; try again"})
        else:
            log.error("apkt_webhook_failed", error=repr(error),
                      traceback=failure.getTraceback())
            write_json(request, 500, {"error": "internal error (logged on the server)"})


def _change(body: bytes) -> dict[str, Any]:
    """The status change in a signed body; ValueError naming what is wrong."""
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise ValueError(f"the body is not valid JSON: {error}") from error
    if not isinstance(data, dict):
        raise ValueError("the body must be a JSON object")
    for name, kind in (("ticket", str), ("status", str), ("event_id", str),
                       ("at", (int, float))):
        value = data.get(name)
        if value is None or isinstance(value, bool) or not isinstance(value, kind):
            raise ValueError(f"{name} is required ({'a number' if name == 'at' else 'text'})")
    return data
