"""Logged-in supervisors (and wallboards): sessions held in the dashboard's memory.

Why memory and not Redis: a session is a convenience for one process's web server; losing
them on a restart means logging in again, not losing calls. Each session has its own CSRF
token, which every state-changing request must send back in the `X-CSRF-Token` header:
the session cookie alone (sent by the browser on any request) proves nothing.

Cookies are HttpOnly (no script reads them), SameSite=Strict (no other site's page sends
them) and Secure when the dashboard is served over TLS. Times come from the injected clock.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass

from twisted.internet.interfaces import IReactorTime

from pln123.web.accounts import Role

COOKIE = "pln123_session"


@dataclass(frozen=True)
class Session:
    token: str
    name: str
    role: Role
    csrf: str
    expires_at: float

    def csrf_matches(self, sent: str | None) -> bool:
        return sent is not None and hmac.compare_digest(sent.encode(), self.csrf.encode())


class SessionStore:
    def __init__(self, clock: IReactorTime, lifetime_s: float, *, limit: int = 10_000):
        self.clock = clock
        self.lifetime_s = lifetime_s
        self.limit = limit
        self._sessions: dict[str, Session] = {}

    def create(self, name: str, role: Role, lifetime_s: float | None = None) -> Session:
        now = self.clock.seconds()
        if len(self._sessions) >= self.limit:
            self._sweep(now)
        session = Session(secrets.token_urlsafe(32), name, role, secrets.token_urlsafe(32),
                          now + (lifetime_s if lifetime_s is not None else self.lifetime_s))
        self._sessions[session.token] = session
        return session

    def get(self, token: str | None) -> Session | None:
        """The live session for a cookie value; None if unknown or expired."""
        if not token:
            return None
        session = self._sessions.get(token)
        if session is None:
            return None
        if session.expires_at <= self.clock.seconds():
            del self._sessions[token]
            return None
        return session

    def end(self, token: str) -> None:
        self._sessions.pop(token, None)

    def _sweep(self, now: float) -> None:
        for token in [t for t, s in self._sessions.items() if s.expires_at <= now]:
            del self._sessions[token]
        if len(self._sessions) >= self.limit:  # still full: drop the oldest-expiring
            oldest = min(self._sessions.values(), key=lambda s: s.expires_at)
            del self._sessions[oldest.token]


def cookie_header(token: str, max_age_s: float, *, secure: bool) -> bytes:
    """The Set-Cookie value; an empty token with max age 0 deletes the cookie."""
    parts = [f"{COOKIE}={token}", "Path=/", "HttpOnly", "SameSite=Strict",
             f"Max-Age={int(max_age_s)}"]
    if secure:
        parts.append("Secure")
    return "; ".join(parts).encode()
