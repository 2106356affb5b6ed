"""The dashboard's HTTP server: twisted.web's Site and Request with the limits it lacks.

- **Bodies are bounded while they arrive.** twisted.web spools any request body, of any
  size and before any resource sees it, to a temporary file (a 1 GiB chunked POST to
  `/api/login` grew one to 1 GiB, on the disk Redis's AOF shares). Here a declared
  `Content-Length` over `MAX_BODY` is answered 413 at once, before a byte of the body is
  read, and a chunked body is cut off with a 413 as soon as it passes the bound; either
  way the connection is closed (the rest of the body is never read). What is accepted is
  held in memory.
- **Every response carries the security headers** (`SECURITY_HEADERS`), whoever wrote it:
  the API, the pages, the event stream, twisted.web's own 404 pages, a 500.
- **No version and no traceback leave the server**: `Server: pln123`, and an unexpected
  error is logged with its traceback and answered with a plain JSON 500.
- **No access log**: the wallboard's first request carries its token in the query string.
"""

from __future__ import annotations

import io
import json
from typing import Any

import structlog
from twisted.python.failure import Failure
from twisted.web.http import Request as HTTPRequest
from twisted.web.server import Request, Site

from pln123.web.web import MAX_BODY, SECURITY_HEADERS

log = structlog.get_logger("pln123.web.http")

SERVER = b"pln123"
INTERNAL_ERROR = {"error": "internal error (logged on the server)"}


class BoundedRequest(Request):
    """A twisted.web Request that refuses big bodies, and sends our headers always."""

    max_body = MAX_BODY
    _refused = False
    _body_bytes = 0

    def gotLength(self, length: int | None) -> None:
        self.content = io.BytesIO()
        if length is not None and length > self.max_body:
            self.requestHeaders.removeHeader(b"Expect")   # no "100 Continue" after the 413
            self._refuse()

    def handleContentChunk(self, data: bytes) -> None:
        if self._refused:
            return
        self._body_bytes += len(data)
        if self._body_bytes > self.max_body:
            self._refuse()
            return
        content: Any = self.content
        content.write(data)

    def requestReceived(self, command: bytes, path: bytes, version: bytes) -> None:
        if self._refused:
            return   # answered already; the connection is closing
        super().requestReceived(command, path, version)  # type: ignore[no-untyped-call]

    def _refuse(self) -> None:
        """Answer 413 on the connection directly and close it: the request line and
        headers are all there is (a Request writes its reply only once it is complete)."""
        self._refused = True
        self.content = io.BytesIO()
        body = json.dumps({"error": f"the body must be at most {self.max_body} bytes"}).encode()
        head = [b"HTTP/1.1 413 Content Too Large", b"Server: " + SERVER,
                b"Content-Type: application/json; charset=utf-8",
                b"Content-Length: %d" % len(body), b"Cache-Control: no-store",
                b"Connection: close",
                *(name + b": " + value for name, value in SECURITY_HEADERS.items())]
        channel: Any = self.channel
        if channel is None or channel.transport is None:
            return
        channel.transport.write(b"\r\n".join(head) + b"\r\n\r\n" + body)
        channel.loseConnection()

    def write(self, data: bytes) -> None:
        if not self.startedWriting:
            headers = self.responseHeaders
            headers.setRawHeaders(b"Server", [SERVER])
            for name, value in SECURITY_HEADERS.items():
                if not headers.hasHeader(name):
                    headers.setRawHeaders(name, [value])
        super().write(data)  # type: ignore[no-untyped-call]

    def processingFailed(self, reason: Failure) -> Failure:
        """An unexpected error: the traceback to the log, a plain 500 to the client."""
        log.error("dashboard_request_failed", path=(self.uri or b"").decode("utf-8", "replace")
                  .split("?", 1)[0], error=reason.getErrorMessage(),
                  traceback=reason.getTraceback())
        if self.finished or self._disconnected:
            return reason
        if self.startedWriting:   # the reply is half sent: nothing honest to add
            self.loseConnection()  # type: ignore[no-untyped-call]
            return reason
        body = json.dumps(INTERNAL_ERROR).encode()
        self.setResponseCode(500)
        headers = self.responseHeaders
        headers.setRawHeaders(b"Content-Type", [b"application/json; charset=utf-8"])
        headers.setRawHeaders(b"Content-Length", [b"%d" % len(body)])
        headers.setRawHeaders(b"Cache-Control", [b"no-store"])
        self.write(body)
        self.finish()  # type: ignore[no-untyped-call]
        return reason


class WebSite(Site):
    """The Site every composition root serves the dashboard with."""

    requestFactory = BoundedRequest  # noqa: N815 - twisted.web's name
    displayTracebacks = False  # noqa: N815 - twisted.web's name

    def log(self, request: HTTPRequest) -> None:
        return None   # no access log: a wallboard URL's token must not be written down
