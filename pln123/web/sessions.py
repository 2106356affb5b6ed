"""Logged-in supervisors (and wallboards): sessions held in the dashboard's memory.

Why memory and not Redis: a session is a convenience for one process's web server; losing
them on a restart means logging in again, not losing calls. Each session has its own CSRF
token, which every state-changing request must send back in the `X-CSRF-Token` header:
the session cookie alone (sent by the browser on any request) proves nothing.

Memory is bounded without anyone pushing anyone else out: each supervisor keeps at most
`per_supervisor` sessions (a new login evicts that supervisor's own oldest), and wallboard
sessions, which anyone holding the read-only token can make in a loop, share a cap of
their own (a new one evicts the oldest wallboard). Whoever watches a session (an event
stream) is told when it ends: logout, eviction or expiry found on use.

Cookies are HttpOnly (no script reads them), SameSite=Strict (no other site's page sends
them) and Secure when the dashboard is served over TLS. Times come from the injected clock.
"""

from __future__ import annotations

import hmac
import secrets
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from twisted.internet.interfaces import IReactorTime

from pln123.web.accounts import WALLBOARD, Role

COOKIE = "pln123_session"
PER_SUPERVISOR = 20      # browsers, phones and a spare: one person logs in this often
WALLBOARDS = 500         # TVs on walls, nationwide


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
    def __init__(self, clock: IReactorTime, lifetime_s: float, *,
                 per_supervisor: int = PER_SUPERVISOR, wallboards: int = WALLBOARDS):
        self.clock = clock
        self.lifetime_s = lifetime_s
        self.per_supervisor = per_supervisor
        self.wallboards = wallboards
        self._sessions: dict[str, Session] = {}
        # Per name (the wallboard's role name for wallboards), oldest first.
        self._by_name: dict[str, OrderedDict[str, None]] = {}
        self._watchers: dict[str, dict[int, Callable[[], None]]] = {}
        self._next_watch = 0

    def create(self, name: str, role: Role, lifetime_s: float | None = None) -> Session:
        now = self.clock.seconds()
        group = WALLBOARD if role.read_only else name
        tokens = self._by_name.setdefault(group, OrderedDict())
        cap = self.wallboards if role.read_only else self.per_supervisor
        for token in [t for t in tokens if self._sessions[t].expires_at <= now]:
            self.end(token)
        while len(tokens) >= cap:
            self.end(next(iter(tokens)))
        session = Session(secrets.token_urlsafe(32), name, role, secrets.token_urlsafe(32),
                          now + (lifetime_s if lifetime_s is not None else self.lifetime_s))
        self._sessions[session.token] = session
        self._by_name.setdefault(group, tokens)[session.token] = None
        return session

    def get(self, token: str | None) -> Session | None:
        """The live session for a cookie value; None if unknown or expired."""
        if not token:
            return None
        session = self._sessions.get(token)
        if session is None:
            return None
        if session.expires_at <= self.clock.seconds():
            self.end(token)
            return None
        return session

    def end(self, token: str) -> None:
        """Log the session out (if it exists) and tell its watchers."""
        session = self._sessions.pop(token, None)
        if session is None:
            return
        group = WALLBOARD if session.role.read_only else session.name
        tokens = self._by_name.get(group)
        if tokens is not None:
            tokens.pop(token, None)
            if not tokens:
                del self._by_name[group]
        for watcher in list(self._watchers.pop(token, {}).values()):
            watcher()

    def watch(self, token: str, on_end: Callable[[], None]) -> Callable[[], None]:
        """Call `on_end` once when the session ends; returns the function that cancels."""
        self._next_watch += 1
        key = self._next_watch
        self._watchers.setdefault(token, {})[key] = on_end

        def cancel() -> None:
            watchers = self._watchers.get(token)
            if watchers is not None:
                watchers.pop(key, None)
                if not watchers:
                    del self._watchers[token]

        return cancel

    def count(self, name: str) -> int:
        """Sessions held by `name` (WALLBOARD: all wallboards), expired ones included."""
        return len(self._by_name.get(name, ()))


def set_cookie(name: str, value: str, path: str, max_age_s: float, *, secure: bool) -> bytes:
    """A Set-Cookie value the way every dashboard cookie is sent: HttpOnly, SameSite=Strict,
    Secure behind TLS; an empty value with max age 0 deletes the cookie."""
    parts = [f"{name}={value}", f"Path={path}", "HttpOnly", "SameSite=Strict",
             f"Max-Age={int(max_age_s)}"]
    if secure:
        parts.append("Secure")
    return "; ".join(parts).encode()


def cookie_header(token: str, max_age_s: float, *, secure: bool) -> bytes:
    """The session cookie's Set-Cookie value."""
    return set_cookie(COOKIE, token, "/", max_age_s, secure=secure)
