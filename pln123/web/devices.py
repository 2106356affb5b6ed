"""Device cookies: a browser that logged in as a supervisor before is known by a cookie.

Login throttling (`pln123.web.ratelimit`) slows guessing down per account; without more,
whoever guesses at an account would slow its supervisor down as much. A successful login
therefore leaves a device cookie in the browser, signed for that supervisor's name; a
login carrying a valid one is throttled on that browser's own failures only.

The cookie is `<name>:<device id>:<expiry>:<signature>`, the signature an HMAC-SHA256
with a key held in the dashboard's memory (a restart makes every cookie unknown again:
the next successful login hands out a new one). It proves nothing on its own: the
password is still checked. It is `HttpOnly`, `SameSite=Strict`, sent to `/api/login`
only, and `Secure` over TLS.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from twisted.internet.interfaces import IReactorTime

from pln123.web.sessions import set_cookie

DEVICE_COOKIE = "pln123_device"
DEVICE_LIFETIME_S = 90 * 86_400


class DeviceCookies:
    def __init__(self, clock: IReactorTime, *, lifetime_s: float = DEVICE_LIFETIME_S,
                 key: bytes | None = None):
        self.clock = clock
        self.lifetime_s = lifetime_s
        self._key = key or secrets.token_bytes(32)

    def issue(self, name: str) -> str:
        """A new cookie value for `name`'s browser."""
        device = secrets.token_urlsafe(12)
        expires = int(self.clock.seconds() + self.lifetime_s)
        body = f"{name}:{device}:{expires}"
        return f"{body}:{self._sign(body)}"

    def trusted(self, value: str | None, name: str) -> str | None:
        """The device id when `value` is a valid, unexpired cookie for `name`; else None."""
        if not value or len(value) > 256:
            return None
        body, _, signature = value.rpartition(":")
        parts = body.split(":")
        if len(parts) != 3 or parts[0] != name or not parts[2].isdigit():
            return None
        if not hmac.compare_digest(signature.encode(), self._sign(body).encode()):
            return None
        if int(parts[2]) <= self.clock.seconds():
            return None
        return parts[1]

    def _sign(self, body: str) -> str:
        digest = hmac.new(self._key, body.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def device_cookie_header(value: str, max_age_s: float, *, secure: bool) -> bytes:
    return set_cookie(DEVICE_COOKIE, value, "/api/login", max_age_s, secure=secure)
