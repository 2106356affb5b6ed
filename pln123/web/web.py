"""HTTP plumbing shared by the dashboard's resources: JSON replies, bodies, who is asking.

A servlet-style split (Synapse): resources only parse and authorise; `actions` and `views`
decide and read. Every error is a 4xx with `{"error": reason}`; bodies are JSON objects of
at most `MAX_BODY` bytes (`pln123.web.http` enforces it while the body arrives), nested at
most `MAX_JSON_DEPTH` deep, with numbers of at most `MAX_DIGITS` digits (nothing the API
takes is bigger, and a 400 naming the problem beats an overflow further in); a request
is from a supervisor's session (cookie), a wallboard's session, or carries the wallboard
token as `Authorization: Bearer <token>` (Prometheus).

The client's address (for login throttling) is the connection's peer, unless the peer is
one of the configured trusted proxies: then it is the last address in `X-Forwarded-For`
that is not itself a trusted proxy. From anyone else the header is ignored (it is the
client's own say).
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from twisted.web.server import Request

from pln123.web.accounts import WALLBOARD, Role
from pln123.web.sessions import COOKIE, Session, SessionStore

MAX_BODY = 16 * 1024
MAX_JSON_DEPTH = 16
MAX_DIGITS = 15
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
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
        data = json.loads(raw.decode("utf-8"), parse_int=_integer, parse_float=_number,
                          parse_constant=_constant)
    except RecursionError as error:
        raise ApiError(400, "the body is nested too deeply") from error
    except (UnicodeDecodeError, ValueError) as error:
        raise ApiError(400, f"the body is not valid JSON: {error}") from error
    if not isinstance(data, dict):
        raise ApiError(400, "the body must be a JSON object")
    if _depth(data) > MAX_JSON_DEPTH:
        raise ApiError(400, "the body is nested too deeply")
    return data


def _integer(text: str) -> int:
    if len(text.lstrip("-")) > MAX_DIGITS:
        raise ApiError(400, f"a number in the body has more than {MAX_DIGITS} digits")
    return int(text)


def _number(text: str) -> float:
    if len(text) > 64:
        raise ApiError(400, f"a number in the body has more than {MAX_DIGITS} digits")
    value = float(text)
    if not math.isfinite(value):
        raise ApiError(400, "a number in the body is out of range")
    return value


def _constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _depth(data: Any) -> int:
    """How deep lists and objects nest (walked without recursion)."""
    deepest = 0
    stack = [(data, 1)]
    while stack:
        value, level = stack.pop()
        if isinstance(value, dict):
            value = list(value.values())
        if isinstance(value, list):
            deepest = max(deepest, level)
            if level <= MAX_JSON_DEPTH:
                stack.extend((item, level + 1) for item in value)
    return deepest


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


def trusted_networks(entries: Sequence[str]) -> tuple[Network, ...]:
    """Addresses or networks (`10.0.0.0/8`) of trusted proxies; ValueError for a bad one."""
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


def client_address(request: Request, trusted: Sequence[Network] = ()) -> str:
    peer = str(getattr(request.getClientAddress(), "host", "unknown"))
    if not trusted or not _within(peer, trusted):
        return peer
    forwarded = b",".join(request.requestHeaders.getRawHeaders(b"x-forwarded-for") or [])
    hops = [hop.strip() for hop in forwarded.decode("latin-1").split(",") if hop.strip()]
    for hop in reversed(hops):
        try:
            address = ipaddress.ip_address(hop)
        except ValueError:
            return peer   # the proxy's own header is garbled: the proxy is the client
        if not _within(str(address), trusted):
            return str(address)
    return peer


def _within(address: str, networks: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)
