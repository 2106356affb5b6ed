"""`/agent`: the agent desktop's page (plain HTML and JavaScript, like the dashboard's).

An agent's session gets the page; without a session the browser goes to `/login`, and a
supervisor to the dashboard (`/`). The page reads `/api/agent` and its event stream.
"""

from __future__ import annotations

from twisted.web.resource import Resource
from twisted.web.server import Request

from pln123.web.desktop import AGENT_ROLE
from pln123.web.pages import _send
from pln123.web.web import Auth


class AgentPage(Resource):
    isLeaf = True  # noqa: N815 - twisted.web's name

    def __init__(self, auth: Auth):
        super().__init__()  # type: ignore[no-untyped-call]
        self.auth = auth

    def render_GET(self, request: Request) -> bytes:
        if request.postpath not in ([], [b""]):
            request.setResponseCode(404)
            return b"not found"
        principal = self.auth.principal(request)
        if principal is None or principal.session is None:
            request.redirect(b"/login")
            return b""
        if principal.role.kind != AGENT_ROLE:
            request.redirect(b"/")
            return b""
        return _send(request, "agent.html")
