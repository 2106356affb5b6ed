"""The history page's endpoints over real HTTP, a real Redis (the plays' audit) and a SQLite
history: the chart's JSON per 15 minutes, the CSV of `pln123 report` (the same writer),
scoping (every supervisor reads every site; a recording only at the call's own site),
every play audited, 4xx with the reason for bad input."""

from __future__ import annotations

import csv
import io
import struct
from pathlib import Path
from typing import Any

import pytest_twisted
from sqlalchemy import insert
from twisted.internet.task import Clock

from acd.store.keys import SiteKeys
from pln123.history.database import migrate, open_engine
from pln123.history.reports import CALL_COLUMNS
from pln123.history.schema import calls, events
from pln123.web import Role, Supervisor, build_dashboard, hash_password
from pln123.web.history_source import HistorySettings
from pln123.web.http import WebSite
from tests.fixtures.redis_server import RedisServer
from tests.harness.dashboard import SETTINGS, SITES, SKILLS, T0, TOKEN, Client
from tests.harness.reactor import reactor

DAY = T0 - T0 % 86_400 - 7 * 3600   # local (WIB) midnight of T0's day
PASSWORDS = {"nas": "nasional-pass", "plg": "palembang-pass", "mdn": "medan-pass"}
ROLES = {"nas": "national", "plg": "site:palembang", "mdn": "site:medan"}


def wav(path: Path, seconds: float) -> None:
    data = b"\0\0" * int(8000 * seconds)
    fmt = struct.pack("<HHIIHH", 1, 1, 8000, 16000, 2, 16)
    path.write_bytes(b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVE" + b"fmt " +
                     struct.pack("<I", 16) + fmt + b"data" + struct.pack("<I", len(data)) +
                     data)


def history(tmp: Path) -> str:
    url = f"sqlite:///{tmp / 'history.sqlite3'}"
    engine = open_engine(url)
    migrate(engine)
    at = DAY + 9 * 3600   # 09:00 local
    base = {column.name: column.default for column in calls.columns}
    rows = []
    for call_id, site, recorded in (("c-plg", "palembang", True), ("c-mdn", "medan", True),
                                    ("c-none", "palembang", False)):
        rows.append({**{k: v for k, v in base.items() if v is not None},
                     "call_id": call_id, "site": site, "skill": "general",
                     "caller_number": "<img src=x>", "offered_at": at, "entered_at": at,
                     "answered_at": at + 5, "ended_at": at + 65, "talk_s": 60.0,
                     "outcome": "answered", "agent": "1001", "updated_at": at + 65,
                     "recording_path": f"/rec/{call_id}.wav" if recorded else None})
    entries = []
    for index, (call_id, site) in enumerate((("c-plg", "palembang"), ("c-mdn", "medan"),
                                             ("c-none", "palembang"))):
        for offset, event in ((0, "offered"), (5, "answered")):
            entries.append({"site": site, "entry_id": f"{int(at * 1000) + index}-{offset}",
                            "at": at + offset, "event": event, "subject": "call",
                            "call_id": call_id, "skill": "general", "wait_ms": 5000
                            if event == "answered" else None,
                            "in_sl": True if event == "answered" else None})
    with engine.begin() as connection:
        connection.execute(insert(calls), rows)
        connection.execute(insert(events), entries)
    engine.dispose()
    return url


async def supervisor(base: str, name: str) -> Client:
    client = Client(base)
    reply = await client.login(name, PASSWORDS[name])
    assert reply.code == 200, reply.body
    return client


@pytest_twisted.ensureDeferred
async def test_history_reads_scopes_plays_and_audits(fresh_redis: RedisServer,
                                                     tmp_path: Path) -> None:
    from acd.store.redis import RedisStore

    folder = tmp_path / "recordings"
    folder.mkdir()
    wav(folder / "c-plg.wav", 2.0)
    wav(folder / "c-mdn.wav", 1.0)
    clock = Clock()
    clock.advance(T0)
    store = RedisStore(fresh_redis.url)
    await store.start()
    dashboard = build_dashboard(
        sites=SITES, skills=SKILLS, settings=SETTINGS, wallboard_token=TOKEN, store=store,
        supervisors=[Supervisor(n, Role.parse(ROLES[n]), hash_password(p))
                     for n, p in PASSWORDS.items()],
        clock=clock, threads=reactor,
        history=HistorySettings(history(tmp_path), 7 * 3600, folder))
    port = reactor.listenTCP(0, WebSite(dashboard), interface="127.0.0.1")
    base = f"http://127.0.0.1:{port.getHost().port}"
    day = "from=" + _date(DAY)
    try:
        anonymous = Client(base)
        assert (await anonymous.get(f"/history/interval.json?{day}")).code == 401
        assert (await anonymous.get("/history")).code == 302
        wallboard = Client(base)
        await wallboard.get(f"/wallboard?token={TOKEN}")
        assert (await wallboard.get(f"/history/calls.json?{day}")).code == 403

        plg, mdn = await supervisor(base, "plg"), await supervisor(base, "mdn")
        page = await plg.get("/history")
        assert page.code == 200 and b"history.js" in page.body
        assert page.header("content-security-policy").startswith("default-src 'self'")

        # -- the chart: per 15 minutes, the nation or one site ----------------------------
        chart = (await mdn.get(f"/history/interval.json?{day}")).json()
        (nine,) = chart["intervals"]
        assert nine["start"].endswith("T09:00:00+07:00")
        assert (nine["offered"], nine["answered"], nine["service_level"]) == (3, 3, 1.0)
        one = (await mdn.get(f"/history/interval.json?{day}&site=palembang")).json()
        assert one["site"] == "palembang" and one["total"]["offered"] == 2

        # -- the CSV: pln123 report's header and rows --------------------------------------
        reply = await plg.get(f"/history/calls.csv?{day}")
        assert reply.code == 200 and reply.header("content-type").startswith("text/csv")
        assert "attachment" in reply.header("content-disposition")
        header, *lines = list(csv.reader(io.StringIO(reply.body.decode())))
        assert header == list(CALL_COLUMNS)
        assert sorted(line[0] for line in lines) == ["c-mdn", "c-none", "c-plg"]

        # -- the calls list: every site, the recording only at the call's own -------------
        listed = {c["call_id"]: c for c in (await plg.get(f"/history/calls.json?{day}"))
                  .json()["calls"]}
        assert (listed["c-plg"]["may_play"], listed["c-mdn"]["may_play"],
                listed["c-none"]["recorded"]) == (True, False, False)
        assert listed["c-plg"]["caller_number"] == "<img src=x>"   # data, escaped by the page
        assert "recording_path" not in listed["c-plg"]

        played = await plg.get("/history/recordings/c-plg")
        assert played.code == 200 and played.header("content-type") == "audio/wav"
        assert played.body[:4] == b"RIFF" and len(played.body) == 44 + 32_000
        ranged = await plg.get("/history/recordings/c-plg", headers={"Range": "bytes=100-"})
        assert ranged.code == 206
        download = await plg.get("/history/recordings/c-plg?download=1")
        assert 'filename="c-plg.wav"' in download.header("content-disposition")
        refused = await mdn.get("/history/recordings/c-plg")
        assert refused.code == 403 and "palembang" in refused.json()["error"]
        assert (await plg.get("/history/recordings/c-mdn")).code == 403
        assert (await plg.get("/history/recordings/c-none")).code == 404
        assert (await plg.get("/history/recordings/nope")).code == 404
        assert (await plg.get("/history/recordings/..%2Fetc")).code in (400, 404)

        # every play and download audited at the call's site (a Range past 0 is not a play)
        keys = SiteKeys("palembang", SETTINGS.pooling.pool_of("palembang"))

        async def read(client: Any) -> list[dict[str, str]]:
            return [f for _id, f in await client.xrange(keys.audit)]

        plays = [e for e in await store.run(read) if e["event"] == "dashboard_recording_play"]
        assert [(e["supervisor"], e["call"], e["download"]) for e in plays] == [
            ("plg", "c-plg", "0"), ("plg", "c-plg", "1")]

        # -- bad input: a 400 with the reason ---------------------------------------------
        for query, reason in (("", "from is required"), ("from=yesterday", "not a date"),
                              (f"{day}&to={_date(DAY - 86_400)}", "after from"),
                              (f"{day}&to={_date(DAY + 40 * 86_400)}", "31 days"),
                              (f"{day}&site=atlantis", "no site")):
            bad = await plg.get(f"/history/interval.json?{query}")
            assert bad.code == 400 and reason in bad.json()["error"], (query, bad.body)
        assert (await plg.get(f"/history/nothing.csv?{day}")).code == 404
    finally:
        await port.stopListening()
        await store.close()


def _date(epoch: float) -> str:
    from datetime import UTC, datetime, timedelta

    return (datetime.fromtimestamp(epoch, UTC) + timedelta(hours=7)).date().isoformat()
