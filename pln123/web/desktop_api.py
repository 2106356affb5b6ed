"""`/api/agent/...`: the agent desktop's JSON API and event stream (docs/desktop.md).

An agent's session (role `agent`, bound to their roster id and site) reaches only these
routes, the login, the logout and `/api/session`; everything a supervisor reads or does
answers them 403 (api.Api._admit). The agent acts on themself only: no route takes an
agent id from the agent. Supervisors read an agent's desktop through
`GET /api/sites/{site}/agents/{agent}/desktop`, for the sites they may act on only.
The actions take the session's CSRF token like every dashboard action.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from twisted.internet.defer import Deferred, fail
from twisted.web.server import NOT_DONE_YET

from pln123.web.desktop import AGENT_ROLE, AgentRef, DesktopReader, labels_json
from pln123.web.desktop_actions import DesktopActions, Refused
from pln123.web.sse import stream
from pln123.web.web import ApiError, field, write_json

if TYPE_CHECKING:
    from pln123.web.api import Api, Call

Handler = Callable[["Api", "Call"], Coroutine[Any, Any, tuple[int, Any]]]
AGENT_PREFIX = "/api/agent"


@dataclass(frozen=True)
class Desktop:
    """The desktop's reader and actions, built once per dashboard."""

    reader: DesktopReader
    actions: DesktopActions

    def view_name(self, ref: AgentRef) -> str:
        return f"agent:{ref.site}:{ref.agent_id}"

    def compute(self, view: str) -> Deferred[dict[str, Any]]:
        """The Feed's computation of an `agent:<site>:<id>` view."""
        _, site, agent_id = view.split(":", 2)
        ref = self.reader.agent(site, agent_id)
        if ref is None:
            return fail(KeyError(view))
        return Deferred.fromCoroutine(self.reader.view(ref))


def desktop_of(api: Api) -> Desktop:
    desktop = api.parts.desktop
    if desktop is None:
        raise ApiError(404, "the agent desktop is not configured (desktop: in the config)")
    return desktop


def me(api: Api, call: Call) -> tuple[Desktop, AgentRef]:
    """The agent whose session this is; 403 for anybody else."""
    desktop = desktop_of(api)
    principal = call.principal
    if principal is None or principal.role.kind != AGENT_ROLE:
        raise ApiError(403, "only an agent has a desktop (log in with your agent id)")
    ref = desktop.reader.agent(principal.role.site, principal.name)
    if ref is None:
        raise ApiError(404, f"agent {principal.name!r} is not in the roster of "
                            f"{principal.role.site!r}")
    return desktop, ref


async def _view(api: Api, call: Call) -> tuple[int, Any]:
    desktop, ref = me(api, call)
    return 200, await desktop.reader.view(ref)


async def _supervised(api: Api, call: Call) -> tuple[int, Any]:
    desktop = desktop_of(api)
    site = api.site(call, act=True)   # a site supervisor: their own site's agents only
    ref = desktop.reader.agent(site, call.params["agent"])
    if ref is None:
        raise ApiError(404, f"no agent {call.params['agent']!r} at site {site!r}")
    return 200, await desktop.reader.view(ref)


async def _reasons(api: Api, call: Call) -> tuple[int, Any]:
    """The names of the pause reasons and dispositions (the supervisors' pages show them)."""
    desktop = api.parts.desktop
    if desktop is None:
        return 200, {"pause_reasons": [], "dispositions": []}
    view = desktop.reader.desktop
    return 200, {"pause_reasons": labels_json(view.pause_reasons),
                 "dispositions": labels_json(view.dispositions)}


def _command(verb: str) -> Handler:
    async def handler(api: Api, call: Call) -> tuple[int, Any]:
        desktop, ref = me(api, call)
        reason = field(call.body, "reason", str, required=verb == "pause", default="")
        entry = await _refusing(desktop.actions.command(ref, verb, reason))
        return 202, {"queued": entry, "action": verb, "agent": ref.agent_id}

    return handler


async def _pause_after(api: Api, call: Call) -> tuple[int, Any]:
    desktop, ref = me(api, call)
    if "reason" not in call.body:
        raise ApiError(400, "reason is required: a pause reason code, or null to cancel")
    reason = field(call.body, "reason", str, required=False)
    done = await _refusing(desktop.actions.pause_after(ref, reason))
    return 200, {"pause_after": done}


async def _disposition(api: Api, call: Call) -> tuple[int, Any]:
    desktop, ref = me(api, call)
    call_id = field(call.body, "call", str)
    code = field(call.body, "disposition", str)
    note = field(call.body, "note", str, required=False, default="")
    return 200, await _refusing(desktop.actions.disposition(ref, call_id, code, note))


async def _create_ticket(api: Api, call: Call) -> tuple[int, Any]:
    desktop, ref = me(api, call)
    call_id = field(call.body, "call", str)
    for name in ("category", "description"):
        field(call.body, name, str)
    for name in ("address", "idpel"):
        field(call.body, name, str, required=False)
    return 201, await _refusing(desktop.actions.create_ticket(ref, call_id, call.body))


async def _update_ticket(api: Api, call: Call) -> tuple[int, Any]:
    desktop, ref = me(api, call)
    call_id = field(call.body, "call", str)
    for name in ("description", "address"):
        field(call.body, name, str, required=False)
    return 200, await _refusing(desktop.actions.update_ticket(
        ref, call_id, call.params["ticket"], call.body))


async def _refusing(action: Awaitable[Any]) -> Any:
    try:
        return await action
    except Refused as error:
        raise ApiError(409, str(error)) from error
    except LookupError as error:
        raise ApiError(404, str(error.args[0]) if error.args else "not found") from error


async def events(api: Api, call: Call) -> tuple[int, Any]:  # pragma: no cover - streamed
    raise AssertionError("the desktop's event stream is served by desktop_stream")


def desktop_stream(api: Api, call: Call) -> object:
    """The agent's own view as Server-Sent Events (the dashboard's Feed and stream)."""
    try:
        desktop, ref = me(api, call)
    except ApiError as error:
        write_json(call.request, error.code, {"error": error.reason})
        return NOT_DONE_YET
    session = call.principal.session if call.principal is not None else None
    assert session is not None   # an agent always has a session
    sessions, token = api.parts.sessions, session.token
    return stream(call.request, api.parts.feed, desktop.view_name(ref),
                  alive=lambda: sessions.get(token) is not None,
                  on_end=lambda end: sessions.watch(token, end))


def routes(read: str, act: str) -> tuple[tuple[str, str, str, Handler], ...]:
    """(method, template, access, handler) of the desktop's routes, for api.ROUTES."""
    return (
        ("GET", AGENT_PREFIX, read, _view),
        ("GET", AGENT_PREFIX + "/events", read, events),
        *(("POST", f"{AGENT_PREFIX}/{verb}", act, _command(verb))
          for verb in ("ready", "pause", "logout")),
        ("POST", AGENT_PREFIX + "/pause-after", act, _pause_after),
        ("POST", AGENT_PREFIX + "/disposition", act, _disposition),
        ("POST", AGENT_PREFIX + "/tickets", act, _create_ticket),
        ("POST", AGENT_PREFIX + "/tickets/{ticket}", act, _update_ticket),
        ("GET", "/api/sites/{site}/agents/{agent}/desktop", read, _supervised),
        ("GET", "/api/desktop/labels", read, _reasons),
    )


def agent_may_use(template: str) -> bool:
    """The routes an agent's session may reach (api.Api._admit refuses the rest)."""
    return template.startswith(AGENT_PREFIX) or template in (
        "/api/login", "/api/logout", "/api/session", "/api/desktop/labels")
