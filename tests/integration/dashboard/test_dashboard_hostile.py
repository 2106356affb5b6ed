"""The dashboard against hostile or careless clients, over real HTTP on the real reactor:
a login storm must not hold the reactor up (it also runs a site's calls when mounted in
`pln123 serve`), bodies are bounded while they arrive, lockouts let the right password in,
event streams end at logout and for readers that stop reading, and every response carries
the security headers and no traceback or version."""

from __future__ import annotations

import json
import select
import socket
from typing import Any

import pytest_twisted
from twisted.internet.defer import Deferred, gatherResults, succeed
from twisted.internet.protocol import ClientFactory, Protocol
from twisted.internet.task import Clock, deferLater
from twisted.internet.threads import deferToThread
from twisted.python.failure import Failure
from twisted.web.http_headers import Headers
from twisted.web.resource import Resource
from twisted.web.server import Request

from pln123.web.http import WebSite
from pln123.web.sse import Feed, stream
from pln123.web.web import MAX_BODY, SECURITY_HEADERS
from tests.fixtures.redis_server import RedisServer
from tests.harness.dashboard import TOKEN, Client, EventReader, Running, reactor, run
from tests.harness.reactor import poll, within

# -- a login storm ---------------------------------------------------------------------


class Lateness:
    """A timer on the real reactor every `every_s`: how late each firing came."""

    def __init__(self, every_s: float = 0.02):
        self.every_s = every_s
        self.late: list[float] = []
        self._due = reactor.seconds() + every_s
        self._call = reactor.callLater(every_s, self._fire)

    def _fire(self) -> None:
        now = reactor.seconds()
        self.late.append(now - self._due)
        self._due = now + self.every_s
        self._call = reactor.callLater(self.every_s, self._fire)

    def stop(self) -> float:
        self._call.cancel()
        return max(self.late)


@pytest_twisted.ensureDeferred
async def test_a_login_storm_does_not_hold_up_the_reactor(fresh_redis: RedisServer) -> None:
    """Wrong passwords with rotating names from many connections at once: each argon2 check
    costs a third of a second of CPU, so checked on the reactor they stall every timer on
    it (the AMI link, the heartbeat and the watchdog when the dashboard runs in `serve`)."""
    async def test(running: Running, client: Client, clock: Clock) -> None:
        timer = Lateness()
        clients = [Client(running.url) for _ in range(40)]
        replies = await within(gatherResults([
            Deferred.fromCoroutine(c.login(f"guess{n}", "wrong"))
            for n, c in enumerate(clients)]), 60, "the storm's replies")
        await deferLater(reactor, 0.1, lambda: None)
        worst = timer.stop()
        assert worst < 0.25, f"a reactor timer fired {worst:.3f} s late"
        codes = [reply.code for reply in replies]
        assert set(codes) <= {401, 429, 503}, codes
        assert 401 in codes and 503 in codes          # some checked, the rest turned away
        busy = next(reply for reply in replies if reply.code == 503)
        assert busy.json()["error"].startswith("too many logins being checked")
        assert busy.header("retry-after") == "1"
        # The storm over, a supervisor still gets in.
        assert (await client.login("nas")).code == 200

    await run(fresh_redis, test)


# -- bodies ------------------------------------------------------------------------------


def _exchange(port: int, head: bytes, chunks: int = 0, chunk: bytes = b"") -> tuple[bytes, int]:
    """A raw HTTP client (in a thread): send `head`, then up to `chunks` body chunks while
    watching for a reply; returns (what came back, body bytes sent)."""
    sent = 0
    reply = b""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head)
        try:
            for _ in range(chunks):
                readable, _w, _x = select.select([sock], [], [], 0)
                if readable:
                    break
                sock.sendall(chunk)
                sent += len(chunk)
        except OSError:
            pass                       # the server closed on us: that is the point
        try:
            while True:
                data = sock.recv(65536)
                if not data:
                    break
                reply += data
        except OSError:
            pass
    return reply, sent


@pytest_twisted.ensureDeferred
async def test_a_declared_length_over_the_limit_is_refused_before_the_body(
        fresh_redis: RedisServer) -> None:
    async def test(running: Running, client: Client, clock: Clock) -> None:
        port = running.port.getHost().port
        for expect in (b"", b"Expect: 100-continue\r\n"):
            head = (b"POST /api/login HTTP/1.1\r\nHost: x\r\n"
                    b"Content-Type: application/json\r\n" + expect +
                    b"Content-Length: 1073741824\r\n\r\n")
            reply, _ = await within(deferToThread(_exchange, port, head), 15, "the 413")
            status, _, rest = reply.partition(b"\r\n")
            assert status.startswith(b"HTTP/1.1 413"), reply[:200]
            assert json.loads(rest.split(b"\r\n\r\n", 1)[1]) == {
                "error": f"the body must be at most {MAX_BODY} bytes"}
            assert b"x-content-type-options: nosniff" in rest.lower()
            assert b"100 Continue" not in reply

    await run(fresh_redis, test)


@pytest_twisted.ensureDeferred
async def test_a_chunked_body_is_cut_off_once_past_the_limit(fresh_redis: RedisServer) -> None:
    async def test(running: Running, client: Client, clock: Clock) -> None:
        port = running.port.getHost().port
        head = (b"POST /api/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n")
        data = b"x" * 65536
        chunk = b"%x\r\n" % len(data) + data + b"\r\n"
        reply, sent = await within(deferToThread(_exchange, port, head, 1024, chunk), 60,
                                   "the cut")
        assert sent < 16 * 1024 * 1024, f"the server took {sent} bytes"   # not 64 MiB
        assert reply == b"" or reply.startswith(b"HTTP/1.1 413"), reply[:200]

    await run(fresh_redis, test)


# -- bodies the API cannot use -----------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_deep_json_and_huge_numbers_are_a_400_with_a_reason(
        fresh_redis: RedisServer) -> None:
    async def test(running: Running, client: Client, clock: Clock) -> None:
        json_type = {"Content-Type": "application/json"}
        nested = b'{"name": ' + b"[" * 5000 + b"]" * 5000 + b', "password": "x"}'
        deep = await client.post("/api/login", raw=nested, headers=json_type)
        assert deep.code == 400 and deep.json() == {"error": "the body is nested too deeply"}
        await client.login("nas")
        huge = await client.post("/api/outages", raw=json.dumps(
            {"area_codes": ["0711"], "message": "x", "restore_at": 10 ** 400}).encode(),
            headers=json_type)
        assert huge.code == 400
        assert huge.json() == {"error": "a number in the body has more than 15 digits"}
        infinite = await client.post("/api/outages", raw=b'{"area_codes": ["0711"], '
                                     b'"message": "x", "restore_at": 1e999}',
                                     headers=json_type)
        assert infinite.code == 400
        assert infinite.json() == {"error": "a number in the body is out of range"}
        nan = await client.post("/api/outages", raw=b'{"area_codes": ["0711"], '
                                b'"message": "x", "restore_at": NaN}', headers=json_type)
        assert nan.code == 400 and "not valid JSON" in nan.json()["error"]

    await run(fresh_redis, test)


# -- headers on every response ----------------------------------------------------------


def _security_headers_of(headers: Headers) -> dict[str, str]:
    return {name.decode().lower(): (headers.getRawHeaders(name.decode()) or [""])[0]
            for name in SECURITY_HEADERS}


def _expected() -> dict[str, str]:
    return {name.decode().lower(): value.decode() for name, value in SECURITY_HEADERS.items()}


class Boom(Resource):
    isLeaf = True  # noqa: N815 - twisted.web's name

    def render_GET(self, request: Request) -> bytes:
        raise RuntimeError("secret internals /opt/pln123/secret.py")


@pytest_twisted.ensureDeferred
async def test_every_response_has_the_security_headers_and_no_version(
        fresh_redis: RedisServer) -> None:
    async def test(running: Running, client: Client, clock: Clock) -> None:
        for path in ("/nope", "/static/nope.js", "/api/nope", "/login", "/api/sites"):
            reply = await client.get(path)
            assert _security_headers_of(reply.headers) == _expected(), path
            server = reply.header("server")
            assert server == "pln123", (path, server)
        # The event stream: its headers, then we hang up.
        reader = EventReader()
        response = await client.agent.request(
            b"GET", f"{running.url}/api/events".encode(),
            Headers({"Authorization": [f"Bearer {TOKEN}"]}))
        assert response.code == 200
        assert _security_headers_of(response.headers) == _expected()
        assert response.headers.getRawHeaders("server") == ["pln123"]
        response.deliverBody(reader)
        response._transport.stopProducing()  # type: ignore[attr-defined]

        # An unexpected error: a 500 with the headers, no traceback, no internals.
        boom = reactor.listenTCP(0, WebSite(Boom()), interface="127.0.0.1")
        try:
            failed = await Client(f"http://127.0.0.1:{boom.getHost().port}").get("/")
        finally:
            await boom.stopListening()
        assert failed.code == 500
        assert failed.json() == {"error": "internal error (logged on the server)"}
        assert b"Traceback" not in failed.body and b"secret" not in failed.body
        assert _security_headers_of(failed.headers) == _expected()
        assert failed.header("server") == "pln123"

    await run(fresh_redis, test)


# -- lockout -----------------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_a_known_browser_gets_in_while_its_account_is_under_attack(
        fresh_redis: RedisServer) -> None:
    async def test(running: Running, client: Client, clock: Clock) -> None:
        assert (await client.login("nas")).code == 200     # an earlier shift: the device cookie
        assert client.device.startswith("pln123_device=")
        await client.post("/api/logout")
        attacker = Client(running.url)
        for _ in range(5):
            assert (await attacker.login("nas", "guess")).code == 401
        for _ in range(7):
            waited = await attacker.login("nas", "guess")   # at once: slowed, not checked
            assert waited.code == 429
            clock.advance(int(waited.header("retry-after")))
            assert (await attacker.login("nas", "guess")).code == 401
        slowed = await attacker.login("nas")                # doubling, capped at a minute
        assert slowed.code == 429 and slowed.header("retry-after") == "60"
        # The supervisor's own browser is not held up by the attack.
        assert (await client.login("nas")).code == 200
        # A device cookie someone made up is worth nothing.
        forged = Client(running.url, device=client.device + "x")
        assert (await forged.login("nas")).code == 429

    await run(fresh_redis, test)


@pytest_twisted.ensureDeferred
async def test_forwarded_for_counts_only_from_a_trusted_proxy(fresh_redis: RedisServer) -> None:
    async def guessing(running: Running, forwarded: str) -> None:
        guesser = Client(running.url)
        for n in range(20):
            reply = await guesser.login(f"user{n}", "guess",
                                        headers={"X-Forwarded-For": forwarded})
            assert reply.code == 401

    async def behind_proxy(running: Running, client: Client, clock: Clock) -> None:
        await guessing(running, "198.51.100.7, 203.0.113.5")   # the left one is the client's say
        office = await client.login("medan1", headers={"X-Forwarded-For": "203.0.113.6"})
        assert office.code == 200                              # another address behind the proxy
        again = await Client(running.url).login("medan1",
                                                headers={"X-Forwarded-For": "203.0.113.5"})
        assert again.code == 429                               # the guessing one

    async def untrusted(running: Running, client: Client, clock: Clock) -> None:
        await guessing(running, "203.0.113.5")
        spoofed = await client.login("medan1", headers={"X-Forwarded-For": "203.0.113.6"})
        assert spoofed.code == 429          # the header is ignored: all of it is 127.0.0.1

    await run(fresh_redis, behind_proxy, trusted_proxies=("127.0.0.1",))
    await run(fresh_redis, untrusted)


# -- event streams ----------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_logging_out_ends_the_sessions_event_streams(fresh_redis: RedisServer) -> None:
    async def test(running: Running, client: Client, clock: Clock) -> None:
        await client.login("nas")
        reader = EventReader()
        response = await client.agent.request(
            b"GET", f"{running.url}/api/events".encode(), Headers({"Cookie": [client.cookie]}))
        response.deliverBody(reader)
        await poll(lambda: len(reader.views) >= 1, 5, "the first snapshot")
        other = Client(running.url)
        await other.login("medan1")
        watching = EventReader()
        response2 = await other.agent.request(
            b"GET", f"{running.url}/api/events".encode(), Headers({"Cookie": [other.cookie]}))
        response2.deliverBody(watching)
        await poll(lambda: len(watching.views) >= 1, 5, "the other's first snapshot")
        assert (await client.post("/api/logout")).code == 200
        await within(reader.closed, 5, "the logged-out stream to end")
        assert not watching.closed.called            # someone else's stream goes on
        clock.advance(3601)                          # medan1's session expires
        await within(watching.closed, 5, "the expired session's stream to end")

    await run(fresh_redis, test)


class Stalled(Protocol):
    """Asks for the event stream, then never reads a byte of it."""

    def __init__(self) -> None:
        self.lost: Deferred[None] = Deferred()

    def connectionMade(self) -> None:
        assert self.transport is not None
        self.transport.write(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
        self.transport.pauseProducing()  # type: ignore[attr-defined]

    def connectionLost(self, reason: Failure | None = None) -> None:
        self.lost.callback(None)


class Events(Resource):
    isLeaf = True  # noqa: N815 - twisted.web's name

    def __init__(self, feed: Feed):
        super().__init__()  # type: ignore[no-untyped-call]
        self.feed = feed
        self.requests: list[Request] = []

    def render_GET(self, request: Request) -> object:
        self.requests.append(request)
        return stream(request, self.feed, "big")


def unsent(request: Request) -> int:
    """What the server's TCP transport holds that the kernel has not taken."""
    transport: Any = request.channel.transport if request.channel else None
    if transport is None:
        return 0
    return len(transport.dataBuffer) - transport.offset + transport._tempDataLen


@pytest_twisted.ensureDeferred
async def test_a_reader_that_stops_reading_is_dropped_with_little_buffered() -> None:
    clock = Clock()
    ticks = iter(range(10**6))

    def compute(view: str) -> Deferred[dict[str, Any]]:
        return succeed({"tick": next(ticks), "pad": "x" * 65536})

    feed = Feed(clock, compute)
    events = Events(feed)
    port = reactor.listenTCP(0, WebSite(events), interface="127.0.0.1")
    stalled = Stalled()
    factory = ClientFactory.forProtocol(lambda: stalled)
    connector = reactor.connectTCP("127.0.0.1", port.getHost().port, factory)
    try:
        await poll(lambda: bool(events.requests), 5, "the stream to start")
        request = events.requests[0]
        worst = 0
        for _ in range(200):               # 200 views of 64 KiB: 12.8 MiB if never dropped
            clock.advance(1)
            await deferLater(reactor, 0.002, lambda: None)
            worst = max(worst, unsent(request))
        assert worst < 1024 * 1024, f"{worst} bytes waiting for a reader who stopped"
        await poll(lambda: request._disconnected, 5, "the stalled reader to be dropped")
        assert feed.watched == []
        assert stalled.transport is not None
        stalled.transport.resumeProducing()  # type: ignore[attr-defined]
        await within(stalled.lost, 5, "the client to see the connection gone")
    finally:
        connector.disconnect()
        await port.stopListening()
