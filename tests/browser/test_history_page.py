"""The call history page in headless Chromium, over calls recorded on the sandbox Asterisk.

The site runs as `pln123 serve` wires it (`build_site`) with the `general` queue recording
(`record: true`, the `recording:` folder inside the sandbox instance); two scripted
callers ask for an agent, hear the recording notice while the agent's phone rings, talk a
few seconds and hang up. The archiver puts the calls into a SQLite history. Then
Palembang's supervisor opens /history for today: the chart has bars, the interval CSV
downloads with the header docs/reports.md documents, and a recording plays (its length
within a second of the call's talk time). Medan's supervisor sees the call, but its
recording is Palembang's business: 403.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest_twisted
import redis
from twisted.internet.task import deferLater
from twisted.internet.threads import deferToThread

from acd.store.keys import SiteKeys
from acd.store.redis import RedisStore
from ivr.ami import variable_header
from pln123.config import load_config
from pln123.history.reports import INTERVAL_COLUMNS
from pln123.recordings.files import recording_path, wav_seconds
from pln123.site import AMITarget, build_site
from pln123.web import DashboardSite, Role, Supervisor, build_dashboard, hash_password
from pln123.web.history_source import HistorySettings
from pln123.web.http import WebSite
from tests.doubles.config import shipped_data
from tests.fixtures.redis_server import RedisServer
from tests.harness.history import LocalArchive, recording_config
from tests.harness.reactor import reactor
from tools.sandbox import Instance

T = TypeVar("T")
SITE = "palembang"
AGENTS = ("1101", "1102")
HOLD_S = 16   # the caller hangs up this long after asking for an agent: a few s of talk
DOCS = Path(__file__).parents[2] / "docs" / "reports.md"
SUPERVISORS = {"plg-supervisor": ("site:palembang", "plg-pass-123"),
               "mdn-supervisor": ("site:medan", "mdn-pass-123")}


async def blocking(function: Callable[[], T]) -> T:
    result: T = await deferToThread(function)
    return result


async def until(predicate: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds}s waiting for {what}")
        await deferLater(reactor, 0.2, lambda: None)


def wait_for(driver: Any, condition: Callable[[Any], Any], seconds: float, what: str) -> Any:
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(driver, seconds, poll_frequency=0.1).until(condition)
    except TimeoutException as error:
        raise AssertionError(f"timed out after {seconds}s waiting for {what}") from error


def log_in(driver: Any, base: str, name: str) -> None:
    from selenium.webdriver.common.by import By

    driver.delete_all_cookies()
    driver.get(base + "/login")
    wait_for(driver, lambda d: d.find_elements(By.ID, "login-button"), 5, "the login page")
    driver.find_element(By.ID, "name").send_keys(name)
    driver.find_element(By.ID, "password").send_keys(SUPERVISORS[name][1])
    driver.find_element(By.ID, "login-button").click()
    wait_for(driver, lambda d: d.current_url.rstrip("/") == base, 10, f"{name} logged in")


def fetch(driver: Any, url: str) -> dict[str, Any]:
    """The page's own fetch of `url` (its session cookie): status and content type."""
    script = """
        const done = arguments[arguments.length - 1];
        fetch(arguments[0]).then(async (r) => done({
            status: r.status, type: r.headers.get('content-type') || '',
            size: (await r.arrayBuffer()).byteLength}))
          .catch((e) => done({status: 0, type: String(e), size: 0}));"""
    return dict(driver.execute_async_script(script, url))


@pytest_twisted.ensureDeferred
async def test_a_supervisor_reads_the_history_and_plays_their_own_sites_recording(
        asterisk_site: Instance, fresh_redis: RedisServer, browser: Any,
        tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    downloads = tmp_path / "downloads"
    downloads.mkdir()
    pooling = {**shipped_data()["acd"]["pooling"], "enabled": False}
    config_path = recording_config(
        tmp_path, asterisk_site,
        [{"id": a, "name": f"Agent {a}", "site": SITE, "endpoint": f"Local/{a}@test-agent-talking",
          "skills": {"general": 5}} for a in AGENTS],
        {"ring_timeout_s": 10, "queues": {"general": {"wrapup_s": 1, "record": True}},
         "pooling": pooling})
    config = load_config(config_path)   # the loader's checks: a notice, a folder
    assert config.recording is not None and config.acd.queues["general"].record
    keys = SiteKeys(SITE, config.acd.pooling.pool_of(SITE))
    store = RedisStore(fresh_redis.url)
    await store.start()
    client = redis.Redis(unix_socket_path=str(fresh_redis.unix_socket), decode_responses=True)
    centre = build_site(config, SITE, store, reactor, ami=AMITarget(
        "127.0.0.1", asterisk_site.ami_port, "pln123", asterisk_site.pln123_secret))
    archive = LocalArchive(config, store, reactor, tmp_path / "history.db", [SITE])
    dashboard = build_dashboard(
        sites=[DashboardSite(s.name, s.role, {a.code: a.region for a in s.area_codes})
               for s in config.sites.values()],
        skills=config.skills, settings=config.acd, store=store, clock=reactor,
        threads=reactor, wallboard_token="wallboard-token-0123456789abcdef",
        supervisors=[Supervisor(name, Role.parse(role), hash_password(password))
                     for name, (role, password) in SUPERVISORS.items()],
        history=HistorySettings(archive.url, config.history.utc_offset_s,
                                config.recording.host_directory))
    port = reactor.listenTCP(0, WebSite(dashboard), interface="127.0.0.1")
    base = f"http://127.0.0.1:{port.getHost().port}"
    centre.startService()
    archive.start()
    try:
        await centre.ami.when_connected()
        for agent in AGENTS:
            await centre.acd.distributor.login(agent)
        for index in range(2):
            await centre.ami.send_action("Originate", {
                "Channel": f"Local/0711123@pln123-inbound-{SITE}",
                "Context": "test-caller", "Exten": "s", "Priority": "1",
                "CallerID": f'"Pelanggan" <0811000501{index}>', "Async": "true",
                "Variable": variable_header({"DTMF": "0", "PAUSE": f"{1 + index}",
                                             "HOLD": str(HOLD_S)}),
            })

        def recorded_and_archived() -> bool:
            rows = archive.rows()
            return len(rows) == 2 and all(
                r["outcome"] == "answered" and r["talk_s"] is not None
                and r["recording_path"] for r in rows.values())

        await until(recorded_and_archived, 60, "two recorded calls in the history")
        rows = archive.rows()
        for call_id, row in rows.items():
            wav = recording_path(config.recording.host_directory, call_id)
            assert row["recording_path"] == f"{config.recording.directory}/{call_id}.wav"
            assert row["talk_s"] > 2, (call_id, row["talk_s"])
            seconds = wav_seconds(wav)
            assert abs(seconds - row["talk_s"]) <= 1.0, (call_id, seconds, row["talk_s"])
        call_id = sorted(rows)[0]
        recording = f"{base}/history/recordings/{call_id}"

        def palembang() -> dict[str, Any]:
            browser.execute_cdp_cmd("Browser.setDownloadBehavior", {
                "behavior": "allow", "downloadPath": str(downloads)})
            log_in(browser, base, "plg-supervisor")
            browser.get(base + "/history")
            wait_for(browser, lambda d: d.execute_script(
                "return document.body.dataset.loaded") == "1", 15, "the history loaded")
            bars = len(browser.find_elements(By.CSS_SELECTOR, "#chart svg rect"))
            browser.find_element(By.ID, "csv-interval").click()
            csv_file = downloads / "pln123-interval.csv"
            wait_for(browser, lambda _d: csv_file.is_file() and csv_file.stat().st_size, 15,
                     "the interval CSV downloaded")
            row = f"#calls tr[data-call='{call_id}'] button.play"
            browser.find_element(By.CSS_SELECTOR, row).click()
            duration = wait_for(browser, lambda d: d.execute_script(
                "const p = document.getElementById('player');"
                "return p.readyState >= 1 && p.duration > 0 ? p.duration : 0;"), 15,
                "the recording playing")
            return {"bars": bars, "csv": csv_file.read_text(encoding="utf-8"),
                    "duration": float(duration), "fetched": fetch(browser, recording)}

        seen = await blocking(palembang)
        assert seen["bars"] > 0
        header = next(csv.reader(io.StringIO(seen["csv"])))
        assert header == list(INTERVAL_COLUMNS)
        assert ",".join(header) in DOCS.read_text(encoding="utf-8").splitlines()
        assert abs(seen["duration"] - rows[call_id]["talk_s"]) <= 1.0, seen["duration"]
        assert (seen["fetched"]["status"], seen["fetched"]["type"]) == (200, "audio/wav")
        assert seen["fetched"]["size"] > 44

        def medan() -> tuple[dict[str, Any], str]:
            log_in(browser, base, "mdn-supervisor")
            browser.get(base + "/history")
            wait_for(browser, lambda d: d.execute_script(
                "return document.body.dataset.loaded") == "1", 15, "the history loaded")
            cell = browser.find_element(By.CSS_SELECTOR,
                                        f"#calls tr[data-call='{call_id}'] td:last-child")
            return fetch(browser, recording), cell.text

        refused, cell = await blocking(medan)
        assert refused["status"] == 403
        assert cell == "recorded"   # seen, not playable
        plays = [e for _, e in client.xrange(keys.audit)
                 if e["event"] == "dashboard_recording_play"]
        assert plays and {e.get("call") for e in plays} == {call_id}, plays
    finally:
        await port.stopListening()
        await archive.stop()
        await centre.stopService()
        await store.close()
        client.close()
