"""The dashboard's JSON API over real HTTP against a real Redis: every endpoint, the role
checks, CSRF, login rate limiting, sessions, the wallboard token and bad bodies."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest_twisted
from twisted.internet.task import Clock

from acd.agents.commands import commands_key
from acd.interflow.status import SiteStatus, SkillStatus, StatusBoard
from acd.queues.store import QueueStore
from acd.selfservice.outages import RedisOutageBoard
from acd.store.keys import SiteKeys
from tests.dashboard.harness import SETTINGS, TOKEN, Client, Running, call, start
from tests.fixtures.redis_server import RedisServer

T0 = 1_735_801_200.0  # 2025-01-02 14:00 WIB

Test = Callable[[Running, Client, Clock], Awaitable[None]]


async def run(server: RedisServer, test: Test, **kwargs: Any) -> None:
    clock = Clock()
    clock.advance(T0)
    running = await start(server.url, clock, **kwargs)
    try:
        await test(running, Client(running.url), clock)
    finally:
        await running.stop()


async def entries(running: Running, key: str) -> list[dict[str, str]]:
    async def read(client: Any) -> list[dict[str, str]]:
        return [fields for _id, fields in await client.xrange(key)]

    return await running.store.run(read)


# -- access ------------------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_login_sets_a_strict_http_only_cookie_and_gives_a_csrf_token(
        fresh_redis: RedisServer) -> None:
    async def test(running: Running, client: Client, clock: Clock) -> None:
        assert (await client.get("/api/sites")).code == 401
        assert (await client.get("/api/sites")).json() == {
            "error": "log in first (or send the wallboard token)"}
        page = await client.get("/")
        assert page.code == 302 and page.header("location") == "/login"
        wrong = await client.login("nas", "guess")
        assert wrong.code == 401 and wrong.json() == {"error": "wrong name or password"}
        unknown = await client.login("nobody", "guess")
        assert unknown.code == 401 and unknown.json() == wrong.json()
        reply = await client.login("nas")
        assert reply.code == 200
        assert reply.json()["role"] == "national" and reply.json()["csrf"]
        cookie = reply.header("set-cookie")
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
        assert "Secure" not in cookie
        session = (await client.get("/api/session")).json()
        assert session["name"] == "nas" and session["csrf"] == client.csrf
        assert session["may_act_on"] == ["palembang", "medan", "jakarta"]
        page = await client.get("/")
        assert page.code == 200 and b"<html" in page.body
        assert "script-src 'self'" in page.header("content-security-policy")
        # Logging out ends the session on the server, not only in the browser.
        kept = client.cookie
        assert (await client.post("/api/logout", {})).code == 200
        client.cookie = kept
        assert (await client.get("/api/session")).code == 401

    await run(fresh_redis, test)


@pytest_twisted.ensureDeferred
async def test_cookies_are_secure_over_tls_and_sessions_expire(
        fresh_redis: RedisServer) -> None:
    async def test(running: Running, client: Client, clock: Clock) -> None:
        reply = await client.login("medan1")
        assert "Secure" in reply.header("set-cookie")
        assert (await client.get("/api/session")).json()["role"] == "site:medan"
        clock.advance(599)
        assert (await client.get("/api/session")).code == 200
        clock.advance(2)
        assert (await client.get("/api/session")).code == 401

    await run(fresh_redis, test, secure=True, session_lifetime_s=600)


@pytest_twisted.ensureDeferred
async def test_login_is_rate_limited_per_account_and_per_address(
        fresh_redis: RedisServer) -> None:
    async def test(running: Running, client: Client, clock: Clock) -> None:
        for _ in range(5):
            assert (await client.login("nas", "guess")).code == 401
        refused = await client.login("nas")   # even the right password: not checked now
        assert refused.code == 429
        assert refused.json()["error"].startswith("too many failed logins")
        assert int(refused.header("retry-after")) == 900
        assert (await client.login("medan1")).code == 200  # other accounts still work
        clock.advance(901)
        assert (await client.login("nas")).code == 200
        # One address guessing many names: stopped after 20 failures in the window.
        other = Client(running.url)
        for n in range(20):
            assert (await other.login(f"user{n}", "guess")).code == 401
        assert (await other.login("medan1")).code == 429
        clock.advance(901)
        assert (await other.login("medan1")).code == 200

    await run(fresh_redis, test)


@pytest_twisted.ensureDeferred
async def test_wallboard_token_is_read_only(fresh_redis: RedisServer) -> None:
    async def test(running: Running, client: Client, clock: Clock) -> None:
        bearer = {"Authorization": f"Bearer {TOKEN}"}
        assert (await client.get("/api/sites", headers=bearer)).code == 200
        assert (await client.get("/api/sites",
                                 headers={"Authorization": "Bearer nope"})).code == 401
        refused = await client.post("/api/sites/palembang/agents/1001/logout", {},
                                    headers=bearer)
        assert refused.code == 403 and refused.json() == {"error": "the wallboard is read-only"}
        assert (await client.get("/wallboard?token=nope")).code == 401
        assert client.cookie == ""
        exchanged = await client.get(f"/wallboard?token={TOKEN}")
        assert exchanged.code == 302 and exchanged.header("location") == "/wallboard"
        assert client.cookie.startswith("pln123_session=")
        assert (await client.get("/wallboard")).code == 200
        session = (await client.get("/api/session")).json()
        assert session["read_only"] is True and session["may_act_on"] == []
        assert (await client.post("/api/outages", {"area_codes": ["0711"], "message": "x"},
                                  headers={"X-CSRF-Token": "x"})).code == 403

    await run(fresh_redis, test)


# -- views -------------------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_sites_and_site_views(fresh_redis: RedisServer) -> None:
    async def test(running: Running, client: Client, clock: Clock) -> None:
        queues = QueueStore(running.store, "palembang", SETTINGS)
        now = clock.seconds()
        await queues.offer(call("c1", number="<b>07115550001</b>", at=now - 30), now - 30)
        await queues.offer(call("c2", skill="billing", priority=2, at=now - 5), now - 5)
        await StatusBoard(running.store).publish(SiteStatus(
            "palembang", now, True, {"general": SkillStatus(waiting=1)}, interflow_in=2), 30)
        await client.login("medan1")
        overview = (await client.get("/api/sites")).json()
        tiles = {tile["site"]: tile for tile in overview["sites"]}
        assert list(tiles) == ["palembang", "medan", "jakarta"]
        assert tiles["palembang"]["up"] is True and tiles["medan"]["up"] is False
        assert tiles["palembang"]["waiting"] == 2 and tiles["medan"]["waiting"] == 0
        assert tiles["palembang"]["longest_wait_s"] == 30.0
        assert tiles["palembang"]["live"]["offered"] == 2
        assert tiles["palembang"]["today"]["offered"] == 2
        assert tiles["palembang"]["interflow"]["in_now"] == 2
        assert tiles["palembang"]["agents"] == {"ready": 0, "on_call": 0, "wrap_up": 0,
                                                "paused": 0, "logged_in": 0}
        site = (await client.get("/api/sites/palembang")).json()
        assert [(c["call_id"], c["position"], c["priority"]) for c in site["calls"]] == [
            ("c2", 1, 2), ("c1", 1, 5)]
        first = site["calls"][1]
        assert first["caller_number"] == "<b>07115550001</b>"   # as stored: text
        assert first["area_code"] == "0711" and first["region"] == "Palembang"
        assert first["wait_s"] == 30.0 and first["callback"] is False
        assert [a["id"] for a in site["agents"]] == ["1001", "1002"]
        assert site["agents"][0]["state"] == "logged_out"
        general = next(s for s in site["skills"] if s["skill"] == "general")
        assert general["waiting"] == 1 and general["ewt_s"] is None  # nobody staffed
        assert general["threshold_s"] == SETTINGS.interflow.rule("palembang",
                                                                 "general").threshold_s
        missing = await client.get("/api/sites/bandung")
        assert missing.code == 404 and missing.json() == {"error": "no site 'bandung'"}
        assert (await client.get("/api/nothing")).code == 404
        wrong_method = await client.request("DELETE", "/api/sites")
        assert wrong_method.code == 405 and wrong_method.header("allow") == "GET"

    await run(fresh_redis, test)


# -- actions -----------------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_agent_actions_go_to_the_site_command_stream_and_the_audit(
        fresh_redis: RedisServer) -> None:
    async def test(running: Running, client: Client, clock: Clock) -> None:
        await client.login("nas")
        reply = await client.post("/api/sites/palembang/agents/1001/pause", {"reason": "42"})
        assert reply.code == 202 and reply.json()["queued"]
        assert (await client.post("/api/sites/palembang/agents/1001/unpause")).code == 202
        assert (await client.post("/api/sites/palembang/agents/1002/logout", {})).code == 202
        commands = await entries(running, commands_key("palembang"))
        assert [(c["agent"], c["action"], c["reason"], c["source"]) for c in commands] == [
            ("1001", "pause", "42", "dashboard:nas"), ("1001", "ready", "", "dashboard:nas"),
            ("1002", "logout", "", "dashboard:nas")]
        audit = await entries(running, SiteKeys("palembang").audit)
        assert [(a["event"], a["supervisor"], a["agent"]) for a in audit] == [
            ("dashboard_pause", "nas", "1001"), ("dashboard_unpause", "nas", "1001"),
            ("dashboard_logout", "nas", "1002")]
        unknown = await client.post("/api/sites/palembang/agents/2001/pause", {"reason": "1"})
        assert unknown.code == 404   # 2001 is a medan agent
        bad = await client.post("/api/sites/palembang/agents/1001/pause", {"reason": "coffee"})
        assert bad.code == 400 and "reason" in bad.json()["error"]
        assert (await client.post("/api/sites/palembang/agents/1001/pause", {})).code == 400
        assert len(await entries(running, commands_key("palembang"))) == 3

    await run(fresh_redis, test)


@pytest_twisted.ensureDeferred
async def test_a_site_supervisor_cannot_act_on_another_site(fresh_redis: RedisServer) -> None:
    async def test(running: Running, client: Client, clock: Clock) -> None:
        await client.login("medan1")
        refused = await client.post("/api/sites/palembang/agents/1001/pause", {"reason": "1"})
        assert refused.code == 403
        assert refused.json() == {"error": "role site:medan may not act on site 'palembang'"}
        assert (await client.post("/api/sites/palembang/threshold",
                                  {"threshold_s": 10})).code == 403
        outage = await client.post("/api/outages", {"area_codes": ["061", "0711"],
                                                    "message": "Gangguan"})
        assert outage.code == 403
        assert await entries(running, commands_key("palembang")) == []
        assert await RedisOutageBoard(running.store, clock).all() == []
        # Its own site: allowed. Reading the others: allowed.
        assert (await client.post("/api/sites/medan/agents/2001/pause",
                                  {"reason": "7"})).code == 202
        assert (await client.get("/api/sites/palembang")).code == 200
        mine = await client.post("/api/outages", {"area_codes": ["061"], "message": "Gardu"})
        assert mine.code == 201
        nas = Client(running.url)
        await nas.login("nas")
        theirs = await nas.post("/api/outages", {"area_codes": ["0711"], "message": "x"})
        assert (await client.post(f"/api/outages/{theirs.json()['id']}/clear")).code == 403

    await run(fresh_redis, test)


@pytest_twisted.ensureDeferred
async def test_state_changes_need_the_csrf_token(fresh_redis: RedisServer) -> None:
    async def test(running: Running, client: Client, clock: Clock) -> None:
        await client.login("nas")
        path = "/api/sites/palembang/agents/1001/logout"
        missing = await client.post(path, {}, csrf=False)
        assert missing.code == 403
        assert missing.json() == {"error": "missing or wrong CSRF token (X-CSRF-Token)"}
        wrong = await client.post(path, {}, csrf=False, headers={"X-CSRF-Token": "x" * 43})
        assert wrong.code == 403
        other = Client(running.url)
        await other.login("medan1")   # another session's token is no good either
        assert (await client.post(path, {}, csrf=False,
                                  headers={"X-CSRF-Token": other.csrf})).code == 403
        assert await entries(running, commands_key("palembang")) == []
        assert (await client.post(path, {})).code == 202

    await run(fresh_redis, test)


@pytest_twisted.ensureDeferred
async def test_threshold_and_outage_actions(fresh_redis: RedisServer) -> None:
    async def test(running: Running, client: Client, clock: Clock) -> None:
        await client.login("nas")
        board = StatusBoard(running.store)
        assert (await client.post("/api/sites/palembang/threshold",
                                  {"threshold_s": 45, "skill": "general"})).code == 200
        assert (await client.post("/api/sites/medan/threshold",
                                  {"threshold_s": 90.5})).code == 200
        assert await board.thresholds() == {"palembang:general": 45.0, "medan": 90.5}
        site = (await client.get("/api/sites/palembang")).json()
        assert {s["skill"]: s["threshold_s"] for s in site["skills"]}["general"] == 45.0
        assert (await client.post("/api/sites/medan/threshold",
                                  {"threshold_s": None})).code == 200
        assert await board.thresholds() == {"palembang:general": 45.0}
        for body in ({"threshold_s": -1}, {"threshold_s": "fast"}, {},
                     {"threshold_s": 10, "skill": "nope"}, {"threshold_s": True}):
            reply = await client.post("/api/sites/palembang/threshold", body)
            assert reply.code == 400, body
        posted = await client.post("/api/outages", {"area_codes": ["0711", "0721"],
                                                    "message": "Gangguan gardu induk",
                                                    "restore_at": T0 + 3600})
        assert posted.code == 201
        outage = posted.json()
        assert outage["created_by"] == "dashboard:nas"
        # The IVR reads the same board for every caller: the notice applies at once.
        ivr_board = RedisOutageBoard(running.store, clock)
        assert [o.id for o in await ivr_board.outages_for("0721")] == [outage["id"]]
        listed = (await client.get("/api/outages")).json()["outages"]
        assert [o["id"] for o in listed] == [outage["id"]]
        site = (await client.get("/api/sites/palembang")).json()
        assert [o["id"] for o in site["outage_notices"]] == [outage["id"]]
        for body in ({"area_codes": ["9999"], "message": "x"},
                     {"area_codes": "0711", "message": "x"},
                     {"area_codes": ["0711"]}, {"area_codes": [711], "message": "x"},
                     {"area_codes": ["0711"], "message": "x", "restore_at": T0 - 10}):
            assert (await client.post("/api/outages", body)).code == 400, body
        cleared = await client.post(f"/api/outages/{outage['id']}/clear")
        assert cleared.code == 200
        assert await ivr_board.outages_for("0721") == []
        assert (await client.post(f"/api/outages/{outage['id']}/clear")).code == 404
        audit = await entries(running, SiteKeys("palembang").audit)
        assert [(a["event"], a["supervisor"]) for a in audit] == [
            ("dashboard_threshold", "nas"), ("dashboard_outage_post", "nas"),
            ("dashboard_outage_clear", "nas")]

    await run(fresh_redis, test)


@pytest_twisted.ensureDeferred
async def test_bad_bodies_are_refused_with_a_reason(fresh_redis: RedisServer) -> None:
    async def test(running: Running, client: Client, clock: Clock) -> None:
        json_type = {"Content-Type": "application/json"}
        malformed = await client.post("/api/login", raw=b'{"name": "nas",', headers=json_type)
        assert malformed.code == 400
        assert malformed.json()["error"].startswith("the body is not valid JSON")
        array = await client.post("/api/login", raw=b"[1, 2]", headers=json_type)
        assert array.code == 400 and array.json() == {"error": "the body must be a JSON object"}
        form = await client.post("/api/login", raw=b"name=nas&password=x",
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert form.code == 415
        huge = json.dumps({"name": "nas", "password": "x" * 20_000}).encode()
        too_big = await client.post("/api/login", raw=huge, headers=json_type)
        assert too_big.code == 413
        assert too_big.json() == {"error": "the body must be at most 16384 bytes"}
        binary = await client.post("/api/login", raw=b"\xff\xfe{}", headers=json_type)
        assert binary.code == 400
        typed = await client.post("/api/login", {"name": ["nas"], "password": "x"})
        assert typed.code == 400 and typed.json() == {"error": "name has the wrong type"}
        await client.login("nas")
        for path in ("/api/sites/palembang/agents/1001/pause", "/api/outages",
                     "/api/sites/palembang/threshold"):
            reply = await client.post(path, raw=b"{oops", headers=json_type)
            assert reply.code == 400, path
            assert reply.header("content-type").startswith("application/json")

    await run(fresh_redis, test)
