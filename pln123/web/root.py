"""`build_dashboard`: the dashboard's root resource from plain values.

The composition roots (`pln123 serve`, `pln123 dashboard`, the five-site demo) serve what
this returns with `pln123.web.http.WebSite` (bounded bodies, security headers on every
response); nothing here reads a config file or the wall clock. Password checks run on a
pool of threads handing results back through `threads` (the reactor).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorFromThreads, IReactorTime
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request

from acd.selfservice.outbox import TicketOutbox
from acd.settings import AcdSettings
from acd.store.redis import RedisStore
from pln123.web.accounts import Role, Supervisor
from pln123.web.actions import Actions
from pln123.web.api import ROUTES, Api, Parts
from pln123.web.desktop import AGENT_ROLE, DesktopReader
from pln123.web.desktop_actions import DesktopActions
from pln123.web.desktop_api import Desktop
from pln123.web.desktop_page import AgentPage
from pln123.web.desktop_settings import DesktopSettings
from pln123.web.devices import DeviceCookies
from pln123.web.exporter import MetricsResource
from pln123.web.history import HistoryPages
from pln123.web.history_source import HistorySettings, HistorySource
from pln123.web.i18n import Messages
from pln123.web.pages import Login, Page, Static, Wallboard
from pln123.web.passwords import PasswordChecker
from pln123.web.ratelimit import LoginLimiter
from pln123.web.sessions import SessionStore
from pln123.web.sse import Feed
from pln123.web.views import DashboardSite, ViewReader
from pln123.web.web import Auth, trusted_networks, write_json

# Everything /api/ and /metrics serve, as (method, path template): docs/openapi.yaml's list.
API_ROUTES = (*((r.method, r.template) for r in ROUTES), ("GET", "/metrics"))


class Dashboard(Resource):
    """The root: `/`, `/login`, `/wallboard`, `/static/*`, `/api/*`, `/metrics`."""

    def __init__(self, parts: Parts):
        super().__init__()  # type: ignore[no-untyped-call]
        self.parts = parts
        page = Page(parts.auth)
        self.putChild(b"", page)
        self.putChild(b"login", Login())
        self.putChild(b"wallboard", Wallboard(parts.auth, parts.sessions, parts.secure))
        self.putChild(b"static", Static())
        self.putChild(b"api", Api(parts))
        self.putChild(b"metrics", MetricsResource(parts.views, parts.auth))
        self.putChild(b"agent", AgentPage(parts.auth))
        self.putChild(b"i18n", Messages())

    def getChild(self, path: bytes, request: Request) -> Resource:
        return NotFound()


class NotFound(Resource):
    """Anything else: a JSON 404 (twisted.web's own page is HTML that echoes nothing
    useful and is deprecated for not escaping)."""

    isLeaf = True  # noqa: N815 - twisted.web's name

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]

    def render(self, request: Request) -> object:
        write_json(request, 404, {"error": "no such page"})
        return NOT_DONE_YET


def build_dashboard(*, sites: Sequence[DashboardSite], skills: Sequence[str],
                    settings: AcdSettings, supervisors: Sequence[Supervisor],
                    wallboard_token: str, store: RedisStore, clock: IReactorTime,
                    threads: IReactorFromThreads | None = None, secure: bool = False,
                    session_lifetime_s: float = 12 * 3600, sl_target: float = 0.8,
                    utc_offset_s: float = 7 * 3600,
                    trusted_proxies: Sequence[str] = (), apkt: bool = False,
                    desktop: DesktopSettings | None = None,
                    history: HistorySettings | None = None) -> Dashboard:
    """The dashboard for `sites`; `secure` (served over TLS) marks the cookies Secure.

    `utc_offset_s` places "today" (WIB, UTC+7, by default); `sl_target` colours the
    service level (at or above: green; up to 10 points below: amber; else red).
    `threads` is the reactor the password pool hands results to (default: the global
    one); `trusted_proxies` are the addresses or networks whose `X-Forwarded-For` names
    the client. `apkt`: the APKT connector is configured, so the overview and `/metrics`
    show its outbox's backlog. `desktop`: the agents' desktop (`/agent`), whose agents
    log in beside the supervisors. `history`: the call history page (`/history`) over
    that database and recordings folder.
    """
    if threads is None:
        from twisted.internet import reactor

        threads = reactor  # type: ignore[assignment]
    views = ViewReader(store, sites, skills, settings, clock, sl_target=sl_target,
                       utc_offset_s=utc_offset_s,
                       outbox=TicketOutbox(store, "dashboard") if apkt else None)
    sessions = SessionStore(clock, session_lifetime_s)

    desk = None
    if desktop is not None:
        reader = DesktopReader(store, settings, desktop, clock)
        desk = Desktop(reader, DesktopActions(store, reader, clock))
        supervisors = [*supervisors, *(Supervisor(a.agent_id, Role(AGENT_ROLE, a.site),
                                                  a.password_hash) for a in desktop.agents)]

    def compute(view: str) -> Deferred[dict[str, Any]]:
        if view.startswith("agent:") and desk is not None:
            return desk.compute(view)
        return views.overview() if view == "overview" else views.site(view.split(":", 1)[1])

    parts = Parts(
        views=views,
        actions=Actions(store, sites, settings, clock),
        auth=Auth(sessions, wallboard_token),
        sessions=sessions,
        limiter=LoginLimiter(clock),
        supervisors={s.name: s for s in supervisors},
        feed=Feed(clock, compute),
        secure=secure,
        checker=PasswordChecker(threads),  # type: ignore[arg-type]
        devices=DeviceCookies(clock),
        trusted_proxies=trusted_networks(trusted_proxies),
        desktop=desk,
    )
    dashboard = Dashboard(parts)
    if history is not None:
        dashboard.putChild(b"history", HistoryPages(
            HistorySource(history), parts.auth, parts.actions, [s.name for s in sites], clock))
    return dashboard
