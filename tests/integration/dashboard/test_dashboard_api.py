"""The dashboard's JSON API over real HTTP against a real Redis: every endpoint, the role
checks, CSRF, login rate limiting, sessions, the wallboard token and bad bodies."""

from __future__ import annotations

import json
from typing import Any

import pytest_twisted
from twisted.internet.task import Clock

from acd.pooling.lending import Lending, LendingBoard
from acd.pooling.status import SiteStatus, SkillStatus, StatusBoard
from acd.queues.store import QueueStore
from acd.selfservice.outages import RedisOutageBoard
from tests.fixtures.redis_server import RedisServer
from tests.harness.dashboard import (
    SETTINGS,
    T0,
    TOKEN,
    Client,
    Running,
    call,
    lend,
    pool_keys,
    run,
)


async def entries(running: Running, key: str) -> list[dict[str, str]]:
    async def read(client: Any) -> list[dict[str, str]]:
        return [fields for _id, fields in await client.xrange(key)]

    return await running.store.run(read)


def commands(site: str) -> str:
    return pool_keys(site).agent_commands


def audit(site: str) -> str:
    return pool_keys(site).audit


async def publish(running: Running, site: str, now: float, **kwargs: Any) -> None:
    status = SiteStatus(site, now, True, **kwargs)
    await StatusBoard(running.store).publish(status, 30, pool_keys(site).alive)


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
    """Failures slow the next try down; the right password is never locked out."""
    async def test(running: Running, client: Client, clock: Clock) -> None:
        for _ in range(5):
            assert (await client.login("nas", "guess")).code == 401
        refused = await client.login("nas")   # even the right password: not checked now
        assert refused.code == 429
        assert refused.json()["error"].startswith("too many failed logins")
        assert int(refused.header("retry-after")) == 1
        assert (await client.login("medan1")).code == 200  # other accounts still work
        clock.advance(1)
        assert (await client.login("nas")).code == 200     # the right password gets in
        clock.advance(901)
        # One address guessing many names: slowed after 20 failures in the window.
        other = Client(running.url)
        for n in range(20):
            assert (await other.login(f"user{n}", "guess")).code == 401
        slowed = await other.login("medan1")
        assert slowed.code == 429 and int(slowed.header("retry-after")) == 1
        clock.advance(1)
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
        await publish(running, "palembang", now, skills={"general": SkillStatus(waiting=1)},
                      pooled_in=2)
        await lend(running.store, "jakarta", "palembang", "3001", "c0", now=now)
        await client.login("medan1")
        overview = (await client.get("/api/sites")).json()
        tiles = {tile["site"]: tile for tile in overview["sites"]}
        assert list(tiles) == ["palembang", "medan", "jakarta"]
        assert tiles["palembang"]["up"] is True and tiles["medan"]["up"] is False
        assert tiles["palembang"]["waiting"] == 2 and tiles["medan"]["waiting"] == 0
        assert tiles["palembang"]["longest_wait_s"] == 30.0
        assert tiles["palembang"]["live"]["offered"] == 2
        assert tiles["palembang"]["today"]["offered"] == 2
        assert tiles["palembang"]["pooling"] == {
            "pool": "national", "members": ["palembang", "medan", "jakarta"],
            "lending_on": True, "lent_now": 0, "borrowed_now": 1, "lent_15m": 0,
            "borrowed_15m": 1, "lent_today": 0, "borrowed_today": 1, "reserve_overrides": {},
            "reserve_config": {"general": "auto", "billing": "auto"}, "reserve_sl": 0}
        assert tiles["jakarta"]["pooling"]["lent_now"] == 1
        assert tiles["medan"]["pooling"]["reserve_config"] == {"general": "auto",
                                                               "billing": "2"}
        assert tiles["palembang"]["agents"] == {"ready": 0, "on_call": 0, "wrap_up": 0,
                                                "paused": 0, "phone_down": 0, "logged_in": 0}
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
        assert general["reserve_config"] == SETTINGS.pooling.reserve_for("palembang",
                                                                         "general") == "auto"
        assert general["reserve_override"] is None
        assert general["live"]["pooled_in"] == general["today"]["pooled_in"] == 1
        assert general["live"]["pooled_out"] == 0
        assert site["pooling"] == tiles["palembang"]["pooling"]
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
        queued = await entries(running, commands("palembang"))
        assert [(c["agent"], c["action"], c["reason"], c["source"]) for c in queued] == [
            ("1001", "pause", "42", "dashboard:nas"), ("1001", "ready", "", "dashboard:nas"),
            ("1002", "logout", "", "dashboard:nas")]
        audited = await entries(running, audit("palembang"))
        assert [(a["event"], a["supervisor"], a["agent"]) for a in audited] == [
            ("dashboard_pause", "nas", "1001"), ("dashboard_unpause", "nas", "1001"),
            ("dashboard_logout", "nas", "1002")]
        unknown = await client.post("/api/sites/palembang/agents/2001/pause", {"reason": "1"})
        assert unknown.code == 404   # 2001 is a medan agent
        bad = await client.post("/api/sites/palembang/agents/1001/pause", {"reason": "coffee"})
        assert bad.code == 400 and "reason" in bad.json()["error"]
        assert (await client.post("/api/sites/palembang/agents/1001/pause", {})).code == 400
        assert len(await entries(running, commands("palembang"))) == 3

    await run(fresh_redis, test)


@pytest_twisted.ensureDeferred
async def test_a_site_supervisor_cannot_act_on_another_site(fresh_redis: RedisServer) -> None:
    async def test(running: Running, client: Client, clock: Clock) -> None:
        await client.login("medan1")
        refused = await client.post("/api/sites/palembang/agents/1001/pause", {"reason": "1"})
        assert refused.code == 403
        assert refused.json() == {"error": "role site:medan may not act on site 'palembang'"}
        outage = await client.post("/api/outages", {"area_codes": ["061", "0711"],
                                                    "message": "Gangguan"})
        assert outage.code == 403
        assert await entries(running, commands("palembang")) == []
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
        assert await entries(running, commands("palembang")) == []
        assert (await client.post(path, {})).code == 202
        # Lending actions too.
        assert (await client.post("/api/sites/medan/lending", {"on": False},
                                  csrf=False)).code == 403
        assert (await LendingBoard(running.store, SETTINGS.pooling).read("medan")).off is False

    await run(fresh_redis, test)


@pytest_twisted.ensureDeferred
async def test_a_national_supervisor_switches_lending_and_overrides_reserves(
        fresh_redis: RedisServer) -> None:
    async def test(running: Running, client: Client, clock: Clock) -> None:
        await client.login("nas")
        lending = LendingBoard(running.store, SETTINGS.pooling)
        assert (await client.get("/api/session")).json()["may_change_lending"] is True
        off = await client.post("/api/sites/palembang/lending", {"on": False})
        assert off.code == 200 and off.json() == {"site": "palembang", "lending_on": False}
        assert await lending.read("palembang") == Lending("palembang", off=True)
        assert (await lending.read("medan")).off is False
        reserve = await client.post("/api/sites/palembang/reserve",
                                    {"reserve": 3, "skill": "general"})
        assert reserve.code == 200
        assert reserve.json() == {"site": "palembang", "skill": "general", "reserve": 3}
        assert (await client.post("/api/sites/medan/reserve", {"reserve": 0})).code == 200
        assert (await client.post("/api/sites/jakarta/reserve",
                                  {"reserve": 100, "skill": ""})).code == 200
        assert (await lending.read("palembang")).reserve == {"general": 3}
        assert (await lending.read("medan")).reserve == {"": 0}
        assert (await lending.read("jakarta")).reserve == {"": 100}
        # The views show it: the site's switch and overrides, each skill's reserve.
        site = (await client.get("/api/sites/palembang")).json()
        assert site["pooling"]["lending_on"] is False
        assert site["pooling"]["reserve_overrides"] == {"general": 3}
        rows = {s["skill"]: s for s in site["skills"]}
        assert (rows["general"]["reserve_override"], rows["general"]["reserve_config"]) == (
            3, "auto")
        assert rows["billing"]["reserve_override"] is None
        medan = (await client.get("/api/sites/medan")).json()
        assert {s["skill"]: s["reserve_override"] for s in medan["skills"]} == {
            "general": 0, "billing": 0}   # a site-wide override covers every skill
        tiles = {t["site"]: t for t in (await client.get("/api/sites")).json()["sites"]}
        assert [tiles[name]["pooling"]["lending_on"] for name in tiles] == [False, True, True]
        # Back: lending on, the config's reserve (null).
        assert (await client.post("/api/sites/palembang/lending", {"on": True})).code == 200
        back = await client.post("/api/sites/palembang/reserve",
                                 {"reserve": None, "skill": "general"})
        assert back.code == 200 and back.json()["reserve"] is None
        assert await lending.read("palembang") == Lending("palembang")
        audited = await entries(running, audit("palembang"))
        assert [(a["event"], a["supervisor"], a.get("lending"), a.get("skill"),
                 a.get("reserve")) for a in audited] == [
            ("dashboard_lending", "nas", "off", None, None),
            ("dashboard_reserve", "nas", None, "general", "3"),
            ("dashboard_lending", "nas", "on", None, None),
            ("dashboard_reserve", "nas", None, "general", "")]
        assert all(a["site"] == "palembang" for a in audited)
        assert [(a["event"], a["skill"], a["reserve"])
                for a in await entries(running, audit("medan"))] == [
            ("dashboard_reserve", "", "0")]

    await run(fresh_redis, test)


@pytest_twisted.ensureDeferred
async def test_lending_overrides_survive_a_dashboard_restart(fresh_redis: RedisServer) -> None:
    async def test(running: Running, client: Client, clock: Clock) -> None:
        await client.login("nas")
        assert (await client.post("/api/sites/medan/lending", {"on": False})).code == 200
        assert (await client.post("/api/sites/medan/reserve",
                                  {"reserve": 4, "skill": "billing"})).code == 200

    async def after(running: Running, client: Client, clock: Clock) -> None:
        await client.login("medan1")
        pooling = (await client.get("/api/sites/medan")).json()["pooling"]
        assert pooling["lending_on"] is False
        assert pooling["reserve_overrides"] == {"billing": 4}

    await run(fresh_redis, test)
    await run(fresh_redis, after)   # a new dashboard process: nothing kept in memory


@pytest_twisted.ensureDeferred
async def test_lending_actions_refuse_bad_input_with_a_reason(fresh_redis: RedisServer) -> None:
    async def test(running: Running, client: Client, clock: Clock) -> None:
        await client.login("nas")
        body: dict[str, Any]
        for body in ({}, {"on": None}, {"on": "no"}, {"on": 0}, {"on": [False]}):
            reply = await client.post("/api/sites/palembang/lending", body)
            assert reply.code == 400, body
            assert reply.json() == {"error": "on is required: true (lend) or false "
                                             "(keep every agent)"}
        for body in ({}, {"skill": "general"}):
            reply = await client.post("/api/sites/palembang/reserve", body)
            assert reply.code == 400, body
            assert reply.json()["error"].startswith("reserve is required")
        for body in ({"reserve": -1}, {"reserve": 101}, {"reserve": 2.5}, {"reserve": 2.0},
                     {"reserve": "3"}, {"reserve": True}, {"reserve": [1]}):
            reply = await client.post("/api/sites/palembang/reserve", body)
            assert reply.code == 400, body
            assert reply.json()["error"] == ("reserve must be a whole number of agents from "
                                             "0 to 100, or null for the config's"), body
        unknown = await client.post("/api/sites/palembang/reserve",
                                    {"reserve": 1, "skill": "nope"})
        assert unknown.code == 400 and unknown.json() == {"error": "no skill 'nope'"}
        typed = await client.post("/api/sites/palembang/reserve", {"reserve": 1, "skill": 5})
        assert typed.code == 400 and typed.json() == {"error": "skill has the wrong type"}
        for path in ("/api/sites/bandung/lending", "/api/sites/bandung/reserve"):
            missing = await client.post(path, {"on": False, "reserve": 1})
            assert missing.code == 404 and missing.json() == {"error": "no site 'bandung'"}
        assert (await client.get("/api/sites/palembang/lending")).code == 405
        # Nothing was written, nothing audited.
        lending = LendingBoard(running.store, SETTINGS.pooling)
        assert await lending.read("palembang") == Lending("palembang")
        assert await entries(running, audit("palembang")) == []

    await run(fresh_redis, test)


@pytest_twisted.ensureDeferred
async def test_site_supervisors_watch_lending_but_may_not_change_it(
        fresh_redis: RedisServer) -> None:
    async def test(running: Running, client: Client, clock: Clock) -> None:
        await client.login("medan1")
        assert (await client.get("/api/session")).json()["may_change_lending"] is False
        for site in ("medan", "palembang"):   # not even its own site
            for path, body in (("lending", {"on": False}), ("reserve", {"reserve": 5})):
                refused = await client.post(f"/api/sites/{site}/{path}", body)
                assert refused.code == 403, (site, path)
                assert refused.json() == {"error": "role site:medan may not change lending "
                                                   "(national supervisors only)"}
        # Refused before the body is even read for its values.
        assert (await client.post("/api/sites/medan/reserve", {"reserve": -5})).code == 403
        lending = LendingBoard(running.store, SETTINGS.pooling)
        assert await lending.read("medan") == Lending("medan")
        assert await entries(running, audit("medan")) == []
        # Watching is allowed: the site view carries the lending figures.
        assert (await client.get("/api/sites/palembang")).json()["pooling"]["lending_on"]
        wallboard = await client.post("/api/sites/medan/lending", {"on": False},
                                      headers={"Authorization": f"Bearer {TOKEN}",
                                               "Cookie": ""})
        assert wallboard.code == 403

    await run(fresh_redis, test)


@pytest_twisted.ensureDeferred
async def test_lent_and_borrowed_now_in_the_last_15_minutes_and_today(
        fresh_redis: RedisServer) -> None:
    async def test(running: Running, client: Client, clock: Clock) -> None:
        now = clock.seconds()
        # Medan lends 2001 to a palembang caller now; a loan earlier today (10:00 WIB) is
        # counted today, not in the last 15 minutes.
        await lend(running.store, "medan", "palembang", "2001", "p1", now=now,
                   earlier=now - 4 * 3600)
        # One from jakarta to medan, over already and counted yesterday: in neither window.
        await lend(running.store, "jakarta", "medan", "3001", "m1", now=now - 15 * 3600)

        async def forget_now(redis: Any) -> None:
            await redis.srem(pool_keys("jakarta").lent, "3001")
            await redis.srem(pool_keys("medan").borrowed, "m1")

        await running.store.run(forget_now)
        await client.login("medan1")
        overview = (await client.get("/api/sites")).json()
        tiles = {t["site"]: t["pooling"] for t in overview["sites"]}
        figures = {site: (p["lent_now"], p["lent_15m"], p["lent_today"], p["borrowed_now"],
                          p["borrowed_15m"], p["borrowed_today"]) for site, p in tiles.items()}
        assert figures == {"palembang": (0, 0, 0, 1, 1, 2), "medan": (1, 1, 2, 0, 0, 0),
                           "jakarta": (0, 0, 0, 0, 0, 0)}
        medan = (await client.get("/api/sites/medan")).json()
        general = {s["skill"]: s for s in medan["skills"]}["general"]
        assert (general["live"]["pooled_out"], general["today"]["pooled_out"]) == (1, 2)

        async def ended(redis: Any) -> None:   # the loan ends: now 0, the counts stay
            await redis.srem(pool_keys("medan").lent, "2001")
            await redis.srem(pool_keys("palembang").borrowed, "p1")

        await running.store.run(ended)
        pooling = (await client.get("/api/sites/palembang")).json()["pooling"]
        assert (pooling["borrowed_now"], pooling["borrowed_15m"],
                pooling["borrowed_today"]) == (0, 1, 2)

    await run(fresh_redis, test)


@pytest_twisted.ensureDeferred
async def test_outage_actions(fresh_redis: RedisServer) -> None:
    async def test(running: Running, client: Client, clock: Clock) -> None:
        await client.login("nas")
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
        audited = await entries(running, audit("palembang"))
        assert [(a["event"], a["supervisor"]) for a in audited] == [
            ("dashboard_outage_post", "nas"), ("dashboard_outage_clear", "nas")]

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
                     "/api/sites/palembang/lending", "/api/sites/palembang/reserve"):
            reply = await client.post(path, raw=b"{oops", headers=json_type)
            assert reply.code == 400, path
            assert reply.header("content-type").startswith("application/json")

    await run(fresh_redis, test)
