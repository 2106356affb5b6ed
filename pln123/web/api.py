"""`/api/`: every view and action as JSON (described in docs/openapi.yaml).

`ROUTES` is the one table of what exists; the OpenAPI test compares it with the file, both
ways. A route is public (the login), read (any session or the wallboard token) or an
action (a supervisor's session, the CSRF token in `X-CSRF-Token`, a role that may act on
the site). Handlers parse, authorise and call `views` / `actions`; nothing else.
"""

from __future__ import annotations

import asyncio
import math
import re
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any

import structlog
from redis.exceptions import RedisError
from twisted.internet.defer import CancelledError, Deferred
from twisted.python.failure import Failure
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request

from acd.pooling.lending import MAX_RESERVE
from acd.store.redis import StoreNotStarted
from pln123.web.accounts import Supervisor
from pln123.web.actions import AGENT_ACTIONS, Actions
from pln123.web.desktop import AGENT_ROLE
from pln123.web.desktop_api import Desktop, agent_may_use, desktop_stream
from pln123.web.desktop_api import events as desktop_events
from pln123.web.desktop_api import routes as desktop_routes
from pln123.web.devices import DEVICE_COOKIE, DeviceCookies, device_cookie_header
from pln123.web.passwords import Busy, PasswordChecker
from pln123.web.ratelimit import LoginLimiter
from pln123.web.sessions import COOKIE, SessionStore, cookie_header
from pln123.web.sse import Feed, stream
from pln123.web.views import ViewReader, outage_json
from pln123.web.web import (
    ApiError,
    Auth,
    Network,
    Principal,
    client_address,
    field,
    read_json,
    write_json,
)

log = structlog.get_logger("pln123.web.api")

# What Redis being away looks like: 503, try again. Anything else is a bug: 500.
STORE_ERRORS = (RedisError, StoreNotStarted, OSError, TimeoutError, CancelledError,
                asyncio.CancelledError)

PUBLIC, READ, ACT = "public", "read", "act"


@dataclass(frozen=True)
class Call:
    request: Request
    principal: Principal | None
    params: Mapping[str, str]
    body: dict[str, Any]


Handler = Callable[["Api", Call], Coroutine[Any, Any, tuple[int, Any]]]


@dataclass(frozen=True)
class Route:
    method: str
    template: str     # /api/sites/{site}: {name} matches one path segment
    access: str
    handler: Handler

    def match(self, path: str) -> dict[str, str] | None:
        pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(self.template))
        found = re.fullmatch(pattern, path)
        return found.groupdict() if found else None


@dataclass
class Parts:
    """What the API works with; built once by `pln123.web.root.build_dashboard`."""

    views: ViewReader
    actions: Actions
    auth: Auth
    sessions: SessionStore
    limiter: LoginLimiter
    supervisors: Mapping[str, Supervisor]
    feed: Feed
    secure: bool
    checker: PasswordChecker
    devices: DeviceCookies
    trusted_proxies: tuple[Network, ...] = ()
    desktop: Desktop | None = None     # the agents' desktop, when the config has one


class Api(Resource):
    isLeaf = True  # noqa: N815 - twisted.web's name

    def __init__(self, parts: Parts):
        super().__init__()  # type: ignore[no-untyped-call]
        self.parts = parts

    def render(self, request: Request) -> object:
        path = "/api" + ("/" + "/".join(s.decode("utf-8", "replace") for s in request.postpath)
                         if request.postpath else "")
        path = path.rstrip("/") or "/api"
        method = (request.method or b"").decode("ascii", "replace")
        allowed = [(route, params) for route in ROUTES
                   if (params := route.match(path)) is not None]
        if not allowed:
            write_json(request, 404, {"error": f"no such resource: {path}"})
            return NOT_DONE_YET
        chosen = next(((r, p) for r, p in allowed if r.method == method), None)
        if chosen is None:
            allow = ", ".join(sorted({r.method for r, _ in allowed})).encode()
            write_json(request, 405, {"error": f"{method} is not allowed here"},
                       {b"Allow": allow})
            return NOT_DONE_YET
        route, params = chosen
        try:
            call = self._admit(request, route, params)
        except ApiError as error:
            write_json(request, error.code, {"error": error.reason}, error.headers)
            return NOT_DONE_YET
        if route.handler is _events:
            return self._events(call)
        if route.handler is desktop_events:
            return desktop_stream(self, call)
        d: Deferred[tuple[int, Any]] = Deferred.fromCoroutine(route.handler(self, call))
        d.addCallbacks(lambda result: write_json(request, *result),
                       lambda failure: self._failed(request, failure))
        return NOT_DONE_YET

    def _admit(self, request: Request, route: Route, params: dict[str, str]) -> Call:
        principal = self.parts.auth.principal(request)
        if route.access != PUBLIC and principal is None:
            raise ApiError(401, "log in first (or send the wallboard token)")
        if principal is not None and principal.role.kind == AGENT_ROLE \
                and not agent_may_use(route.template):
            raise ApiError(403, "an agent's session reaches the agent desktop only")
        if route.access == ACT:
            assert principal is not None
            if principal.role.read_only or principal.session is None:
                raise ApiError(403, "the wallboard is read-only")
            if not principal.session.csrf_matches(request.getHeader("x-csrf-token")):
                raise ApiError(403, "missing or wrong CSRF token (X-CSRF-Token)")
        body = read_json(request) if route.method == "POST" else {}
        return Call(request, principal, params, body)

    def _failed(self, request: Request, failure: Failure) -> None:
        error = failure.value
        if isinstance(error, ApiError):
            write_json(request, error.code, {"error": error.reason}, error.headers)
        elif isinstance(error, ValueError):
            write_json(request, 400, {"error": str(error)})
        elif isinstance(error, STORE_ERRORS):
            log.error("dashboard_api_failed", error=repr(error))
            write_json(request, 503, {"error": "the shared store is unavailable; try again"})
        else:   # a bug: the traceback to the log, never to the client
            log.error("dashboard_api_failed", error=repr(error),
                      traceback=failure.getTraceback())
            write_json(request, 500, {"error": "internal error (logged on the server)"})

    def _events(self, call: Call) -> object:
        args = call.request.args or {}
        site = (args.get(b"site") or [b""])[0].decode("utf-8", "replace")
        if site and site not in self.parts.views.sites:
            write_json(call.request, 404, {"error": f"no site {site!r}"})
            return NOT_DONE_YET
        view = f"site:{site}" if site else "overview"
        session = call.principal.session if call.principal is not None else None
        if session is None:      # the wallboard token as a bearer: no session to end
            return stream(call.request, self.parts.feed, view)
        sessions, token = self.parts.sessions, session.token
        return stream(call.request, self.parts.feed, view,
                      alive=lambda: sessions.get(token) is not None,
                      on_end=lambda end: sessions.watch(token, end))

    # -- helpers for handlers --------------------------------------------------------------

    def site(self, call: Call, *, act: bool) -> str:
        name = call.params["site"]
        if name not in self.parts.views.sites:
            raise ApiError(404, f"no site {name!r}")
        assert call.principal is not None
        if act and not call.principal.role.may_act_on(name):
            raise ApiError(403, f"role {call.principal.role} may not act on site {name!r}")
        return name


# -- handlers ----------------------------------------------------------------------------


async def _session(api: Api, call: Call) -> tuple[int, Any]:
    assert call.principal is not None
    session = call.principal.session
    return 200, {"name": call.principal.name, "role": str(call.principal.role),
                 "csrf": session.csrf if session is not None else None,
                 "read_only": call.principal.role.read_only,
                 "sites": list(api.parts.views.sites),
                 "may_act_on": [s for s in api.parts.views.sites
                                if call.principal.role.may_act_on(s)],
                 "may_change_lending": call.principal.role.may_change_lending}


async def _login(api: Api, call: Call) -> tuple[int, Any]:
    """Throttled (`LoginLimiter`), then checked on the password pool (`PasswordChecker`):
    429 with Retry-After while throttled, 503 with Retry-After while the pool is full."""
    name = field(call.body, "name", str)
    password = field(call.body, "password", str)
    if len(name) > 64 or len(password) > 1024:
        raise ApiError(400, "name or password too long")
    request = call.request
    address = client_address(request, api.parts.trusted_proxies)
    sent_device = request.getCookie(DEVICE_COOKIE.encode())
    device = api.parts.devices.trusted(
        sent_device.decode("ascii", "replace") if sent_device else None, name)
    refusal = api.parts.limiter.retry_after(name, address, device)
    if refusal is not None:
        seconds = max(1, math.ceil(refusal.seconds))
        raise ApiError(429, f"{refusal.reason}; try again in {seconds} s",
                       {b"Retry-After": str(seconds).encode()})
    supervisor = api.parts.supervisors.get(name)
    try:
        checking = api.parts.checker.check(supervisor, password)
    except Busy as error:   # not logged: a storm must not flood the journal either
        raise ApiError(503, "too many logins being checked; try again in a second",
                       {b"Retry-After": b"1"}) from error
    attempt = api.parts.limiter.attempt(name, address, device)
    try:
        ok = await checking
    except Busy as error:   # the dashboard is stopping
        raise ApiError(503, str(error), {b"Retry-After": b"1"}) from error
    if not ok or supervisor is None:
        log.info("dashboard_login_refused", supervisor=name, address=address,
                 known_device=device is not None)
        raise ApiError(401, "wrong name or password")
    api.parts.limiter.succeeded(attempt)
    session = api.parts.sessions.create(supervisor.name, supervisor.role)
    secure = api.parts.secure
    request.responseHeaders.addRawHeader(b"Set-Cookie", cookie_header(
        session.token, api.parts.sessions.lifetime_s, secure=secure))
    devices = api.parts.devices
    request.responseHeaders.addRawHeader(b"Set-Cookie", device_cookie_header(
        devices.issue(supervisor.name), devices.lifetime_s, secure=secure))
    log.info("dashboard_login", supervisor=name, address=address)
    return 200, {"name": supervisor.name, "role": str(supervisor.role), "csrf": session.csrf}


async def _logout(api: Api, call: Call) -> tuple[int, Any]:
    cookie = call.request.getCookie(COOKIE.encode())
    if cookie:
        api.parts.sessions.end(cookie.decode("ascii", "replace"))
    call.request.setHeader(b"Set-Cookie", cookie_header("", 0, secure=api.parts.secure))
    return 200, {"logged_out": True}


async def _sites(api: Api, call: Call) -> tuple[int, Any]:
    return 200, await api.parts.views.overview()


async def _site(api: Api, call: Call) -> tuple[int, Any]:
    return 200, await api.parts.views.site(api.site(call, act=False))


def _agent_action(verb: str) -> Handler:
    async def handler(api: Api, call: Call) -> tuple[int, Any]:
        site = api.site(call, act=True)
        assert call.principal is not None
        reason = field(call.body, "reason", str, required=verb == "pause", default="")
        try:
            entry = await api.parts.actions.agent(call.principal.name, site,
                                                  call.params["agent"], verb, reason)
        except KeyError as error:
            raise ApiError(404, str(error.args[0])) from error
        return 202, {"queued": entry, "site": site, "agent": call.params["agent"],
                     "action": verb}

    return handler


def _lending_site(api: Api, call: Call) -> str:
    """The site of a lending action: national supervisors only (accounts.Role says why)."""
    site = api.site(call, act=False)
    assert call.principal is not None
    if not call.principal.role.may_change_lending:
        raise ApiError(403, f"role {call.principal.role} may not change lending "
                            f"(national supervisors only)")
    return site


async def _lending(api: Api, call: Call) -> tuple[int, Any]:
    site = _lending_site(api, call)
    assert call.principal is not None
    on = call.body.get("on")
    if not isinstance(on, bool):
        raise ApiError(400, "on is required: true (lend) or false (keep every agent)")
    await api.parts.actions.lending_switch(call.principal.name, site, on)
    return 200, {"site": site, "lending_on": on}


async def _reserve(api: Api, call: Call) -> tuple[int, Any]:
    site = _lending_site(api, call)
    assert call.principal is not None
    if "reserve" not in call.body:
        raise ApiError(400, f"reserve is required: a whole number of agents from 0 to "
                            f"{MAX_RESERVE}, or null for the config's")
    value = call.body["reserve"]
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                              or not 0 <= value <= MAX_RESERVE):
        raise ApiError(400, f"reserve must be a whole number of agents from 0 to "
                            f"{MAX_RESERVE}, or null for the config's")
    skill = field(call.body, "skill", str, required=False, default="")
    if skill and skill not in api.parts.views.skills:
        raise ApiError(400, f"no skill {skill!r}")
    await api.parts.actions.reserve(call.principal.name, site, value, skill)
    return 200, {"site": site, "skill": skill, "reserve": value}


async def _outages(api: Api, call: Call) -> tuple[int, Any]:
    outages = await api.parts.actions.outages.all()
    return 200, {"outages": [outage_json(o) for o in outages]}


async def _post_outage(api: Api, call: Call) -> tuple[int, Any]:
    assert call.principal is not None
    codes = field(call.body, "area_codes", list)
    message = field(call.body, "message", str)
    restore = field(call.body, "restore_at", (int, float), required=False)
    if not all(isinstance(code, str) for code in codes):
        raise ApiError(400, "area_codes must be a list of strings")
    for code in codes:
        site = api.parts.actions.site_of_area(code)
        if site is None:
            raise ApiError(400, f"area code {code!r} is served by no site")
        if not call.principal.role.may_act_on(site):
            raise ApiError(403, f"role {call.principal.role} may not post for {code} ({site})")
    outage = await api.parts.actions.post_outage(call.principal.name, codes, message, restore)
    return 201, outage_json(outage)


async def _clear_outage(api: Api, call: Call) -> tuple[int, Any]:
    assert call.principal is not None
    wanted = call.params["outage"]
    outage = next((o for o in await api.parts.actions.outages.all() if o.id == wanted), None)
    if outage is None:
        raise ApiError(404, f"no outage {wanted!r}")
    for site in api.parts.actions.sites_of(outage.area_codes):
        if not call.principal.role.may_act_on(site):
            raise ApiError(403, f"role {call.principal.role} may not clear outages of {site}")
    removed = await api.parts.actions.clear_outage(call.principal.name, outage)
    return (200, {"cleared": wanted}) if removed else (404, {"error": f"no outage {wanted!r}"})


async def _events(api: Api, call: Call) -> tuple[int, Any]:  # pragma: no cover - streamed
    raise AssertionError("the event stream is served by Api._events")


ROUTES: tuple[Route, ...] = (
    Route("POST", "/api/login", PUBLIC, _login),
    Route("POST", "/api/logout", PUBLIC, _logout),
    Route("GET", "/api/session", READ, _session),
    Route("GET", "/api/sites", READ, _sites),
    Route("GET", "/api/sites/{site}", READ, _site),
    *(Route("POST", f"/api/sites/{{site}}/agents/{{agent}}/{verb}", ACT, _agent_action(verb))
      for verb in AGENT_ACTIONS),
    Route("POST", "/api/sites/{site}/lending", ACT, _lending),
    Route("POST", "/api/sites/{site}/reserve", ACT, _reserve),
    Route("GET", "/api/outages", READ, _outages),
    Route("POST", "/api/outages", ACT, _post_outage),
    Route("POST", "/api/outages/{outage}/clear", ACT, _clear_outage),
    Route("GET", "/api/events", READ, _events),
    *(Route(*route) for route in desktop_routes(READ, ACT)),
)
