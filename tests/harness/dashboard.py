"""A running dashboard on loopback against the test Redis, and a small HTTP client.

The dashboard is served by its own twisted.web Site (`pln123.web.http.WebSite`) on a real
port, its password checks in their thread pool on the real reactor; the client is Twisted's
own `Agent`, with a cookie jar of two cookies (the session's, and the device cookie a login
leaves) and the CSRF token from the login reply.
Supervisors' passwords: `medan-pass` for `medan1` (site:medan), `nasional-pass` for `nas`.
The three sites are one pool, `national` (jakarta its hub): their keys share its slot, and
`pool_keys(site)` names them.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from twisted.internet import reactor as _reactor
from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IReactorTime
from twisted.internet.protocol import Protocol
from twisted.internet.task import Clock
from twisted.python.failure import Failure
from twisted.web.client import Agent, readBody
from twisted.web.http_headers import Headers
from twisted.web.iweb import IBodyProducer, IResponse
from zope.interface import implementer

from acd.intake import QueueRequest
from acd.settings import AcdSettings, AgentSpec, PoolingSettings, QueueSettings
from acd.store.keys import INTERVAL_S, MINUTE_S, SiteKeys
from acd.store.redis import RedisStore
from pln123.web import DashboardSite, Role, Supervisor, build_dashboard, hash_password
from pln123.web.devices import DEVICE_COOKIE
from pln123.web.http import WebSite
from pln123.web.root import Dashboard
from tests.fixtures.redis_server import RedisServer

reactor: Any = _reactor
TOKEN = "wallboard-token-0123456789abcdef"
SKILLS = ("general", "billing")
SITES = (
    DashboardSite("palembang", "site", {"0711": "Palembang", "0721": "Lampung"}),
    DashboardSite("medan", "site", {"061": "Medan"}),
    DashboardSite("jakarta", "hub", {"021": "Jakarta"}),
)
PASSWORDS = {"nas": "nasional-pass", "medan1": "medan-pass"}
_HASHES = {name: hash_password(password) for name, password in PASSWORDS.items()}
SUPERVISORS = (
    Supervisor("nas", Role.parse("national"), _HASHES["nas"]),
    Supervisor("medan1", Role.parse("site:medan"), _HASHES["medan1"]),
)


def agent(agent_id: str, site: str, name: str = "") -> AgentSpec:
    return AgentSpec(agent_id, name or f"Agent {agent_id}", site, f"PJSIP/{agent_id}",
                     {"general": 5, "billing": 3})


SETTINGS = AcdSettings(
    queues={skill: QueueSettings(skill) for skill in SKILLS},
    agents=(agent("1001", "palembang", "Sari"), agent("1002", "palembang", "Budi"),
            agent("2001", "medan", "Ucok")),
    audit_maxlen=10_000,
    pooling=PoolingSettings(pools={"national": ("palembang", "medan", "jakarta")},
                            hub="jakarta", reserve={("medan", "billing"): "2"}),
)


def pool_keys(site: str) -> SiteKeys:
    """The keys of `site`'s ACD, in the harness's pool."""
    return SiteKeys(site, SETTINGS.pooling.pool_of(site))


def call(call_id: str, *, site: str = "palembang", skill: str = "general",
         number: str = "0711555000", area: str = "0711", priority: int = 5,
         at: float = 0.0) -> QueueRequest:
    return QueueRequest(call_id=call_id, site=site, channel=f"PJSIP/trunk-{call_id}",
                        skill=skill, priority=priority, language="id", area_code=area,
                        region={"0711": "Palembang", "061": "Medan"}.get(area, area),
                        caller_number=number, idpel=None, entered_at=at)


async def lend(store: RedisStore, lender: str, borrower: str, agent_id: str, call_id: str,
               *, now: float, skill: str = "general", earlier: float | None = None) -> None:
    """A loan as the matching script leaves it: `lender`'s agent talking to `borrower`'s
    caller (the lent and borrowed sets), counted in the minute and interval hashes of both
    sites (`pooled_out` at the lender, `pooled_in` at the borrower) at `now`, and, with
    `earlier`, one more loan counted then (already over)."""
    out, into = pool_keys(lender), pool_keys(borrower)

    async def write(client: Any) -> None:
        await client.sadd(out.lent, agent_id)
        await client.sadd(into.borrowed, call_id)
        for at in (now,) if earlier is None else (now, earlier):
            minute = int(at // MINUTE_S * MINUTE_S)
            interval = int(at // INTERVAL_S * INTERVAL_S)
            await client.hincrby(out.minute(skill, minute), "pooled_out", 1)
            await client.hincrby(out.interval(skill, interval), "pooled_out", 1)
            await client.hincrby(into.minute(skill, minute), "pooled_in", 1)
            await client.hincrby(into.interval(skill, interval), "pooled_in", 1)

    await store.run(write)


@dataclass
class Running:
    store: RedisStore
    dashboard: Dashboard
    port: Any
    clock: IReactorTime

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port.getHost().port}"

    async def stop(self) -> None:
        await self.port.stopListening()
        await self.store.close()


async def start(redis_url: str, clock: IReactorTime, *, secure: bool = False,
                session_lifetime_s: float = 3600.0, **options: Any) -> Running:
    """`options` go to `build_dashboard` as they are (e.g. `trusted_proxies`)."""
    store = RedisStore(redis_url)
    await store.start()
    dashboard = build_dashboard(sites=SITES, skills=SKILLS, settings=SETTINGS,
                                supervisors=SUPERVISORS, wallboard_token=TOKEN, store=store,
                                clock=clock, threads=reactor, secure=secure,
                                session_lifetime_s=session_lifetime_s, **options)
    port = reactor.listenTCP(0, WebSite(dashboard), interface="127.0.0.1")
    return Running(store, dashboard, port, clock)


@implementer(IBodyProducer)
class Body:
    def __init__(self, data: bytes):
        self.data = data
        self.length = len(data)

    def startProducing(self, consumer: Any) -> Deferred[None]:
        consumer.write(self.data)
        return succeed(None)

    def pauseProducing(self) -> None:
        pass

    def stopProducing(self) -> None:
        pass


@dataclass
class Reply:
    code: int
    headers: Headers
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def header(self, name: str) -> str:
        values = self.headers.getRawHeaders(name) or []
        return values[0] if values else ""


@dataclass
class Client:
    base: str
    cookie: str = ""     # the session's, "pln123_session=..."
    csrf: str = ""
    device: str = ""     # "pln123_device=...", from a successful login
    agent: Agent = field(default_factory=lambda: Agent(reactor))

    async def request(self, method: str, path: str, body: Any = None, *, raw: bytes | None = None,
                      headers: dict[str, str] | None = None, csrf: bool = True) -> Reply:
        sent = {"User-Agent": "pln123-test"}
        cookies = "; ".join(c for c in (self.cookie, self.device) if c)
        if cookies:
            sent["Cookie"] = cookies
        if method == "POST" and csrf and self.csrf:
            sent["X-CSRF-Token"] = self.csrf
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
            sent["Content-Type"] = "application/json"
        sent.update(headers or {})
        response: IResponse = await self.agent.request(
            method.encode(), (self.base + path).encode(),
            Headers({k: [v] for k, v in sent.items()}),
            Body(data) if data is not None else None)
        content = await readBody(response)
        for value in response.headers.getRawHeaders("set-cookie") or []:
            pair = value.split(";", 1)[0]
            if pair.startswith(f"{DEVICE_COOKIE}="):
                self.device = "" if pair.endswith("=") else pair
            else:
                self.cookie = "" if pair.endswith("=") else pair
        return Reply(response.code, response.headers, content)

    async def get(self, path: str, **kwargs: Any) -> Reply:
        return await self.request("GET", path, **kwargs)

    async def post(self, path: str, body: Any = None, **kwargs: Any) -> Reply:
        return await self.request("POST", path, body, **kwargs)

    async def login(self, name: str, password: str | None = None, **kwargs: Any) -> Reply:
        reply = await self.post("/api/login", {"name": name,
                                               "password": password or PASSWORDS[name]},
                                **kwargs)
        if reply.code == 200:
            self.csrf = reply.json()["csrf"]
        return reply


class EventReader(Protocol):
    """Collects a Server-Sent Events stream: each `event: view` as parsed JSON."""

    def __init__(self) -> None:
        self.buffer = b""
        self.views: list[dict[str, Any]] = []
        self.closed: Deferred[None] = Deferred()

    def dataReceived(self, data: bytes) -> None:
        self.buffer += data
        while b"\n\n" in self.buffer:
            block, self.buffer = self.buffer.split(b"\n\n", 1)
            lines = block.decode().split("\n")
            if "event: view" in lines:
                payload = "".join(line[6:] for line in lines if line.startswith("data: "))
                self.views.append(json.loads(payload))

    def connectionLost(self, reason: Failure | None = None) -> None:
        if not self.closed.called:
            self.closed.callback(None)


T0 = 1_735_801_200.0  # 2025-01-02 14:00 WIB

DashboardTest = Callable[[Running, Client, Clock], Awaitable[None]]


async def run(server: RedisServer, test: DashboardTest, **kwargs: Any) -> None:
    """`test` against a dashboard started on `server` with a Clock at T0, stopped after."""
    clock = Clock()
    clock.advance(T0)
    running = await start(server.url, clock, **kwargs)
    try:
        await test(running, Client(running.url), clock)
    finally:
        await running.stop()
