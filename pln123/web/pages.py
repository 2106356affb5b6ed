"""The HTML pages and their static files: plain HTML, CSS and JavaScript, no build step.

Nothing comes from outside (the network is closed): no CDN, no web font. The pages fetch
`/api/` and listen to `/api/events`; every caller-provided string is put into the page with
`textContent`, never as markup, and the Content-Security-Policy allows our own scripts only.

- `/` the national overview and (`#site=<name>`) a site's view, for a logged-in supervisor;
- `/login`;
- `/wallboard?token=<token>` exchanges the wallboard token for a read-only session cookie
  and redirects to `/wallboard`, the same page in large type without any action.
"""

from __future__ import annotations

from pathlib import Path

from twisted.web.resource import Resource
from twisted.web.server import Request

from pln123.web.accounts import WALLBOARD, Role
from pln123.web.sessions import SessionStore, cookie_header
from pln123.web.web import Auth, security_headers

STATIC = Path(__file__).parent / "static"
TYPES = {".html": b"text/html; charset=utf-8", ".js": b"text/javascript; charset=utf-8",
         ".css": b"text/css; charset=utf-8", ".png": b"image/png"}
WALLBOARD_LIFETIME_S = 30 * 86_400   # a TV on the wall is not logged in every shift


def _file(name: str) -> bytes:
    return (STATIC / name).read_bytes()


def _send(request: Request, name: str, code: int = 200) -> bytes:
    request.setResponseCode(code)
    security_headers(request)
    request.setHeader(b"Content-Type", TYPES[Path(name).suffix])
    request.setHeader(b"Cache-Control", b"no-cache")
    return _file(name)


class Static(Resource):
    isLeaf = True  # noqa: N815 - twisted.web's name

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]

    def render_GET(self, request: Request) -> bytes:
        name = "/".join(s.decode("utf-8", "replace") for s in request.postpath or [])
        allowed = {p.name for p in STATIC.iterdir() if p.suffix in TYPES and p.suffix != ".html"}
        if name not in allowed:
            request.setResponseCode(404)
            return b"not found"
        return _send(request, name)


class Page(Resource):
    """/ : the dashboard for a supervisor; without a session, off to /login."""

    isLeaf = True  # noqa: N815 - twisted.web's name

    def __init__(self, auth: Auth):
        super().__init__()  # type: ignore[no-untyped-call]
        self.auth = auth

    def render_GET(self, request: Request) -> bytes:
        principal = self.auth.principal(request)
        if request.postpath not in ([], [b""]):
            request.setResponseCode(404)
            return b"not found"
        if principal is None or principal.session is None:
            request.redirect(b"/login")
            return b""
        if principal.role.read_only:
            request.redirect(b"/wallboard")
            return b""
        if principal.role.kind == "agent":   # an agent's session: their desktop
            request.redirect(b"/agent")
            return b""
        return _send(request, "index.html")


class Login(Resource):
    isLeaf = True  # noqa: N815 - twisted.web's name

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]

    def render_GET(self, request: Request) -> bytes:
        return _send(request, "login.html")


class Wallboard(Resource):
    isLeaf = True  # noqa: N815 - twisted.web's name

    def __init__(self, auth: Auth, sessions: SessionStore, secure: bool):
        super().__init__()  # type: ignore[no-untyped-call]
        self.auth = auth
        self.sessions = sessions
        self.secure = secure

    def render_GET(self, request: Request) -> bytes:
        token = (request.args or {}).get(b"token")
        if token:
            if not self.auth.token_matches(token[0].decode("utf-8", "replace")):
                return _send(request, "wallboard-denied.html", 401)
            session = self.sessions.create(WALLBOARD, Role(WALLBOARD), WALLBOARD_LIFETIME_S)
            request.setHeader(b"Set-Cookie", cookie_header(
                session.token, WALLBOARD_LIFETIME_S, secure=self.secure))
            request.redirect(b"/wallboard")   # the token leaves the address bar
            return b""
        principal = self.auth.principal(request)
        if principal is None or principal.session is None:
            return _send(request, "wallboard-denied.html", 401)
        return _send(request, "index.html")
