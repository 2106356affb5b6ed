"""HTTP plumbing shared by the dashboard's resources: JSON replies, bodies, who is asking.

A servlet-style split (Synapse): resources only parse and authorise; `actions` and `views`
decide and read. Every error is a 4xx with `{"error": reason}`; bodies are JSON objects of
at most `MAX_BODY` bytes; a request is from a supervisor's session (cookie), a wallboard's
session, or carries the wallboard token as `Authorization: Bearer <token>` (Prometheus).
"""

from __future__ import annotations

import hmac
import json
from dataclasses import dataclass
from typing import Any

from twisted.web.server import Request

from pln123.web.accounts import WALLBOARD, Role
from pln123.web.sessions import COOKIE, Session, SessionStore

MAX_BODY = 16 * 1024
SECURITY_HEADERS = {
    b"X-Content-Type-Options": b"nosniff",
    b"X-Frame-Options": b"DENY",
    b"Referrer-Policy": b"no-referrer",
    # Scripts and styles from our own files only: caller-provided text can never run.
    b"Content-Security-Policy": b"default-src 'self'; script-src 'self'; style-src 'self'; "
                                b"img-src 'self'; connect-src 'self'; frame-ancestors 'none'; "
                                b"base-uri 'none'; form-action 'self'",
}


class ApiError(Exception):
    """A refused request: HTTP `code` and the reason given back as JSON."""

    def __init__(self, code: int, reason: str, headers: dict[bytes, bytes] | None = None):
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.headers = headers or {}


@dataclass(frozen=True)
class Principal:
    name: str
    role: Role
    session: Session | None   # None: the wallboard token in an Authorization header


class Auth:
    def __init__(self, sessions: SessionStore, wallboard_token: str):
        if len(wallboard_token) < 16:
            raise ValueError("the wallboard token must be at least 16 characters")
        self.sessions = sessions
        self.wallboard_token = wallboard_token

    def token_matches(self, sent: str | None) -> bool:
        return sent is not None and hmac.compare_digest(sent.encode(),
                                                        self.wallboard_token.encode())

    def principal(self, request: Request) -> Principal | None:
        cookie = request.getCookie(COOKIE.encode())
        session = self.sessions.get(cookie.decode("ascii", "replace") if cookie else None)
        if session is not None:
            return Principal(session.name, session.role, session)
        header = (request.getHeader("authorization") or "").strip()
        if header.lower().startswith("bearer ") and self.token_matches(header[7:].strip()):
            return Principal(WALLBOARD, Role(WALLBOARD), None)
        return None


def security_headers(request: Request) -> None:
    for name, value in SECURITY_HEADERS.items():
        request.setHeader(name, value)


def write_json(request: Request, code: int, body: Any,
               headers: dict[bytes, bytes] | None = None) -> None:
    """Finish `request` with a JSON body (unless the client went away meanwhile)."""
    if request.finished or getattr(request, "_disconnected", False):
        return
    request.setResponseCode(code)
    security_headers(request)
    request.setHeader(b"Content-Type", b"application/json; charset=utf-8")
    request.setHeader(b"Cache-Control", b"no-store")
    for name, value in (headers or {}).items():
        request.setHeader(name, value)
    request.write(json.dumps(body, ensure_ascii=False, allow_nan=False).encode())
    request.finish()


def read_json(request: Request) -> dict[str, Any]:
    """The body as a JSON object; an empty body is {}. ApiError 413/415/400 otherwise."""
    length = request.getHeader("content-length")
    if length is not None and (not length.isdigit() or int(length) > MAX_BODY):
        raise ApiError(413, f"the body must be at most {MAX_BODY} bytes")
    raw = request.content.read(MAX_BODY + 1) if request.content is not None else b""
    if len(raw) > MAX_BODY:
        raise ApiError(413, f"the body must be at most {MAX_BODY} bytes")
    if not raw.strip():
        return {}
    kind = (request.getHeader("content-type") or "").split(";")[0].strip().lower()
    if kind != "application/json":
        raise ApiError(415, "the body must be JSON (Content-Type: application/json)")
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise ApiError(400, f"the body is not valid JSON: {error}") from error
    if not isinstance(data, dict):
        raise ApiError(400, "the body must be a JSON object")
    return data


def field(body: dict[str, Any], name: str, kind: type | tuple[type, ...], *,
          required: bool = True, default: Any = None) -> Any:
    """body[name] if it has the right type; ApiError 400 naming the field otherwise."""
    if name not in body or body[name] is None:
        if required:
            raise ApiError(400, f"{name} is required")
        return default
    value = body[name]
    if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
        raise ApiError(400, f"{name} has the wrong type")
    if not isinstance(value, kind):
        raise ApiError(400, f"{name} has the wrong type")
    return value


def client_address(request: Request) -> str:
    peer = request.getClientAddress()
    return str(getattr(peer, "host", "unknown"))
