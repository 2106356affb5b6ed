"""The agent desktop's API over real HTTP against a real Redis: an agent's screen pop from
the ACD's call record (IDPEL, region, menu path, open tickets) before they answer, their
actions through the site's command stream, wrap-up and tickets; who may see and do what;
4xx with the reason for bad input."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest_twisted
from twisted.internet.task import Clock

from acd.distributor import Distributor
from acd.queues.store import QueueStore
from acd.selfservice.tickets import RedisTicketDesk
from acd.store.keys import TicketKeys
from acd.store.redis import text
from tests.doubles.telephony import FakeTelephony
from tests.fixtures.redis_server import RedisServer
from tests.harness.dashboard import SETTINGS, T0, Client, Running, call, pool_keys, run
from tests.harness.desktop import AGENT_PASSWORDS, DESKTOP, IDPEL, MENU_PATH
from tests.harness.reactor import poll


async def entries(running: Running, key: str) -> list[dict[str, str]]:
    async def read(client: Any) -> list[dict[str, str]]:
        return [fields for _id, fields in await client.xrange(key)]

    return await running.store.run(read)


async def agent_client(running: Running, agent_id: str) -> Client:
    client = Client(running.url)
    reply = await client.login(agent_id, AGENT_PASSWORDS[agent_id])
    assert reply.code == 200, reply.body
    assert reply.json()["role"] == "agent"
    return client


@pytest_twisted.ensureDeferred
async def test_the_agent_sees_the_caller_before_answering_then_wraps_up(
        fresh_redis: RedisServer) -> None:
    async def test(running: Running, supervisor: Client, clock: Clock) -> None:
        desk = RedisTicketDesk(running.store, clock)
        old = await desk.create(IDPEL, "0711", "padam", "0811222333", "palembang", "old-call")
        telephony = FakeTelephony()
        acd = Distributor("palembang", SETTINGS, QueueStore(running.store, "palembang",
                                                            SETTINGS), telephony, clock)
        await acd.login("1001")
        agent = await agent_client(running, "1001")
        page = await agent.get("/")
        assert page.code == 302 and page.header("location") == "/agent"
        assert (await agent.get("/agent")).code == 200
        idle = (await agent.get("/api/agent")).json()
        assert idle["state"] == "ready" and idle["call"] is None
        assert [r["code"] for r in idle["pause_reasons"]] == ["1", "2"]

        request = replace(call("c1", number="0811222333", at=T0), idpel=IDPEL,
                          menu_path=MENU_PATH)
        await acd.enqueue(request)
        await poll(lambda: bool(telephony.rings), 5, "the agent's phone rings")
        ringing = (await agent.get("/api/agent")).json()
        assert ringing["state"] == "reserved"
        shown = ringing["call"]
        assert (shown["call_id"], shown["idpel"], shown["region"], shown["area_code"],
                shown["menu_path"], shown["caller_number"], shown["language"]) == (
            "c1", IDPEL, "Palembang", "0711", MENU_PATH, "0811222333", "id")
        assert [(t["number"], t["status"]) for t in shown["tickets"]] == [
            (old.number, "received")]
        assert shown["from_site"] == "" and shown["answered"] is False

        assert (await agent.post("/api/agent/pause", {"reason": "1"})).json() == {
            "error": "on a call: use \"pause after this call\""}
        clock.advance(4)
        telephony.answer("c1")
        await poll(lambda: bool(telephony.talks), 5, "the answer")
        await acd.settle()
        talking = (await agent.get("/api/agent")).json()
        assert talking["state"] == "on_call" and talking["call"]["waited_s"] == 4.0
        reply = await agent.post("/api/agent/pause-after", {"reason": "2"})
        assert reply.code == 200 and reply.json() == {"pause_after": "2"}

        asked = (await agent.get("/api/agent")).json()
        assert (asked["state"], asked["pause_after"]) == ("on_call", "2")

        clock.advance(30)
        telephony.hang_up("c1")
        await acd.settle()
        # carried out by the ACD as the call ended, before anybody read the desktop
        record = await acd.queues.agent("1001")
        assert (record.state.status, record.state.reason) == ("paused", "2")
        wrapping = (await agent.get("/api/agent")).json()
        assert (wrapping["state"], wrapping["reason"]) == ("paused", "2")
        assert wrapping["call"]["call_id"] == "c1"   # until its disposition is picked
        assert wrapping["pause_after"] == ""
        assert await entries(running, pool_keys("palembang").agent_commands) == []

        refused = await agent.post("/api/agent/ready", {})
        assert (refused.code, refused.json()) == (
            409, {"error": "pick a disposition for the last call first"})
        bad = await agent.post("/api/agent/disposition", {"call": "c1", "disposition": "x"})
        assert (bad.code, bad.json()) == (
            400, {"error": "disposition 'x' is not one of: resolved, ticket"})
        wrong = await agent.post("/api/agent/disposition",
                                 {"call": "other", "disposition": "ticket"})
        assert wrong.code == 409
        done = await agent.post("/api/agent/disposition",
                                {"call": "c1", "disposition": "ticket", "note": "sabar"})
        assert done.code == 200

        created = await agent.post("/api/agent/tickets", {
            "call": "c1", "category": "padam", "description": "tiang miring <b>",
            "address": "Jl. Merdeka 1"})
        assert created.code == 201, created.body
        number = created.json()["ticket"]
        ticket = await desk.find(number)
        assert ticket is not None and (ticket.idpel, ticket.caller_number, ticket.area_code,
                                       ticket.call_id) == (IDPEL, "0811222333", "0711", "c1")
        updated = await agent.post(f"/api/agent/tickets/{old.number}",
                                   {"call": "c1", "address": "Jl. Sudirman 2"})
        assert updated.code == 200
        stored = await entries(running, TicketKeys().stream)
        notes = [(e["number"], e.get("description"), e.get("address"))
                 for e in stored if e["event"] == "updated"]
        assert notes == [(number, "tiang miring <b>", "Jl. Merdeka 1"),
                         (old.number, None, "Jl. Sudirman 2")]
        # paused after the call and its disposition picked: the page moves on from it
        assert (await agent.get("/api/agent")).json()["call"] is None
        wrapup_key = pool_keys("palembang").wrapup("c1")
        after = {text(k): text(v) for k, v in (await running.store.run(
            lambda client: client.hgetall(wrapup_key))).items()}
        assert after["disposition"] == "ticket" and after["note"] == "sabar"
        assert after["tickets"] == f"{number},{old.number}"

        ready = await agent.post("/api/agent/ready", {})
        assert ready.code == 202
        audit = await entries(running, pool_keys("palembang").audit)
        events = [e["event"] for e in audit if e["event"].startswith("desktop_")]
        assert events == ["desktop_pause_after", "desktop_disposition",
                          "desktop_ticket_created", "desktop_ticket_updated", "desktop_ready"]
        acd.stop()

    await run(fresh_redis, test, desktop=DESKTOP)


@pytest_twisted.ensureDeferred
async def test_pause_after_off_a_call_is_a_pause_now_and_reading_changes_nothing(
        fresh_redis: RedisServer) -> None:
    async def test(running: Running, supervisor: Client, clock: Clock) -> None:
        telephony = FakeTelephony()
        acd = Distributor("palembang", SETTINGS, QueueStore(running.store, "palembang",
                                                            SETTINGS), telephony, clock)
        commands = pool_keys("palembang").agent_commands
        agent = await agent_client(running, "1001")
        refused = await agent.post("/api/agent/pause-after", {"reason": "1"})
        assert (refused.code, refused.json()) == (409, {"error": "not logged in"})
        assert (await agent.get("/api/agent")).json()["pause_after"] == ""

        await acd.login("1001")
        await acd.enqueue(call("c1", number="0811222333", at=T0))
        await poll(lambda: bool(telephony.rings), 5, "the agent's phone rings")
        telephony.answer("c1")
        await poll(lambda: bool(telephony.talks), 5, "the answer")
        await acd.settle()
        assert (await agent.post("/api/agent/pause-after", {"reason": "2"})).code == 200
        for _ in range(3):   # the page polls: reading is no action
            shown = (await agent.get("/api/agent")).json()
            assert (shown["state"], shown["pause_after"]) == ("on_call", "2")
        cancelled = await agent.post("/api/agent/pause-after", {"reason": None})
        assert (cancelled.code, cancelled.json()) == (200, {"pause_after": ""})
        telephony.hang_up("c1")
        await acd.settle()
        after = (await agent.get("/api/agent")).json()
        assert (after["state"], after["pause_after"]) == ("wrap_up", "")
        assert await entries(running, commands) == []

        now = await agent.post("/api/agent/pause-after", {"reason": "1"})
        assert (now.code, now.json()) == (200, {"pause_after": "1"})
        queued = await entries(running, commands)
        assert [(c["agent"], c["action"], c["reason"], c["source"]) for c in queued] == [
            ("1001", "pause", "1", "desktop:1001")]
        assert (await agent.get("/api/agent")).json()["pause_after"] == ""
        acd.stop()

    await run(fresh_redis, test, desktop=DESKTOP)


@pytest_twisted.ensureDeferred
async def test_site_supervisors_see_only_their_own_sites_desktops(
        fresh_redis: RedisServer) -> None:
    async def test(running: Running, client: Client, clock: Clock) -> None:
        await client.login("medan1")
        own = await client.get("/api/sites/medan/agents/2001/desktop")
        assert own.code == 200 and own.json()["agent"]["id"] == "2001"
        other = await client.get("/api/sites/palembang/agents/1001/desktop")
        assert (other.code, other.json()) == (
            403, {"error": "role site:medan may not act on site 'palembang'"})
        change = await client.post("/api/sites/palembang/agents/1001/pause", {"reason": "1"})
        assert change.code == 403
        assert (await client.get("/api/sites/medan/agents/1001/desktop")).code == 404
        mine = await client.get("/api/agent")
        assert (mine.code, mine.json()) == (
            403, {"error": "only an agent has a desktop (log in with your agent id)"})
        labels = (await client.get("/api/desktop/labels")).json()
        assert labels["pause_reasons"][0] == {"code": "1", "id": "Istirahat", "en": "Break"}
        national = Client(running.url)
        await national.login("nas")
        assert (await national.get("/api/sites/palembang/agents/1001/desktop")).code == 200
        assert (await national.get("/agent")).code == 302   # a supervisor: the dashboard

    await run(fresh_redis, test, desktop=DESKTOP)


@pytest_twisted.ensureDeferred
async def test_an_agent_cannot_use_supervisors_actions_or_views(
        fresh_redis: RedisServer) -> None:
    async def test(running: Running, client: Client, clock: Clock) -> None:
        agent = await agent_client(running, "1001")
        refusal = {"error": "an agent's session reaches the agent desktop only"}
        for method, path, body in (
                ("GET", "/api/sites", None),
                ("GET", "/api/sites/palembang", None),
                ("GET", "/api/events", None),
                ("GET", "/api/outages", None),
                ("GET", "/api/sites/palembang/agents/1001/desktop", None),
                ("POST", "/api/sites/palembang/agents/1002/pause", {"reason": "1"}),
                ("POST", "/api/sites/palembang/agents/1001/unpause", {}),
                ("POST", "/api/sites/palembang/lending", {"on": False}),
                ("POST", "/api/sites/palembang/reserve", {"reserve": 1}),
                ("POST", "/api/outages", {"area_codes": ["0711"], "message": "x"})):
            reply = await agent.request(method, path, body)
            assert (reply.code, reply.json()) == (403, refusal), path
        assert (await agent.get("/metrics")).code == 403
        assert await entries(running, pool_keys("palembang").agent_commands) == []
        session = (await agent.get("/api/session")).json()
        assert session["may_act_on"] == [] and session["may_change_lending"] is False
        no_csrf = await agent.post("/api/agent/ready", {}, csrf=False)
        assert no_csrf.code == 403
        assert (await Client(running.url).get("/api/agent")).code == 401

    await run(fresh_redis, test, desktop=DESKTOP)


@pytest_twisted.ensureDeferred
async def test_bad_input_is_refused_with_the_reason(fresh_redis: RedisServer) -> None:
    async def test(running: Running, client: Client, clock: Clock) -> None:
        agent = await agent_client(running, "1001")
        cases = [
            ("/api/agent/pause", {}, 400, "reason is required"),
            ("/api/agent/pause", {"reason": 1}, 400, "reason has the wrong type"),
            ("/api/agent/pause", {"reason": "9"}, 400,
             "pause reason '9' is not one of: 1, 2"),
            ("/api/agent/pause-after", {}, 400,
             "reason is required: a pause reason code, or null to cancel"),
            ("/api/agent/pause-after", {"reason": "x"}, 400,
             "pause reason 'x' is not one of: 1, 2"),
            ("/api/agent/disposition", {"call": "c9"}, 400, "disposition is required"),
            ("/api/agent/tickets", {"call": "c9", "category": "padam"}, 400,
             "description is required"),
            ("/api/agent/tickets", {"call": "c9", "category": "padam", "description": "d"},
             409, "call 'c9' is not your current or last call"),
        ]
        for path, body, code, reason in cases:
            reply = await agent.post(path, body)
            assert (reply.code, reply.json()) == (code, {"error": reason}), (path, body)
        messages = await Client(running.url).get("/i18n/en")
        assert messages.code == 200 and messages.json()["messages"]["agent.ready"] == "Ready"
        assert (await Client(running.url).get("/i18n/xx")).code == 404

    await run(fresh_redis, test, desktop=DESKTOP)


@pytest_twisted.ensureDeferred
async def test_without_a_desktop_config_agents_cannot_log_in(
        fresh_redis: RedisServer) -> None:
    async def test(running: Running, client: Client, clock: Clock) -> None:
        reply = await client.login("1001", AGENT_PASSWORDS["1001"])
        assert reply.code == 401
        await client.login("nas")
        assert (await client.get("/api/agent")).json() == {
            "error": "the agent desktop is not configured (desktop: in the config)"}

    await run(fresh_redis, test)
