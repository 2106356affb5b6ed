"""The agent desktop in headless Chromium, with a real caller on the sandbox Asterisk.

The site runs as `pln123 serve` wires it (`build_site`: AMI, IVR, ACD, the agent-command
consumer) against the sandbox and a real Redis, the dashboard on a real port. A scripted
caller (a Local channel keying DTMF) reports a fault, enters and confirms their IDPEL (the
IVR files a ticket) and asks for an agent; the agent's phone (`Local/1001@test-agent-slow`)
rings 6 s before it answers, and in those seconds the agent's page must show the IDPEL,
the region, the menu path and the open ticket. The agent answers, the caller hangs up, the
agent picks a disposition, files a ticket and pauses with a named reason, which the site
supervisor then sees on the site view. Selenium blocks, so its calls run in a thread.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import pytest_twisted
from twisted.internet.threads import deferToThread

from acd.settings import AgentSpec, QueueSettings
from acd.store.redis import RedisStore
from ivr.ami import variable_header
from pln123.config import load_config
from pln123.site import AMITarget, build_site
from pln123.web import DashboardSite, Role, Supervisor, build_dashboard, hash_password
from pln123.web.desktop_settings import AgentAccount, DesktopSettings, Label
from pln123.web.http import WebSite
from tests.doubles.config import SHIPPED as CONFIG
from tests.fixtures.redis_server import RedisServer
from tests.harness.reactor import reactor
from tools.sandbox import Instance

T = TypeVar("T")
IDPEL = "512345678901"
CALLER = "081299887766"
PASSWORD = "agent-1001-pass"
SUPERVISOR = "plg-supervisor"
# report a fault (2), no power (1), the IDPEL, confirm (1); then 0 (an agent) during the
# ticket's read-back, and once more in case the first fell between two prompts.
DTMF = f"2www1www{IDPEL}wwww1wwwwwwww0wwwwwwwwwwww0"


async def blocking(function: Callable[[], T]) -> T:
    result: T = await deferToThread(function)
    return result


def wait_for(driver: Any, condition: Callable[[Any], Any], seconds: float, what: str) -> Any:
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(driver, seconds, poll_frequency=0.1).until(condition)
    except TimeoutException as error:
        raise AssertionError(f"timed out after {seconds}s waiting for {what}") from error


def text_of(driver: Any, selector: str) -> str:
    script = "const e = document.querySelector(arguments[0]); return e ? e.innerText : '';"
    return str(driver.execute_script(script, selector))


def state_of(driver: Any) -> str:
    return str(driver.execute_script("return document.body.dataset.state || '';"))


def log_in(driver: Any, base: str, name: str, password: str, landing: str) -> None:
    from selenium.webdriver.common.by import By

    driver.get(base + "/login")
    wait_for(driver, lambda d: d.find_elements(By.ID, "login-button"), 5, "the login page")
    driver.find_element(By.ID, "name").send_keys(name)
    driver.find_element(By.ID, "password").send_keys(password)
    driver.find_element(By.ID, "login-button").click()
    wait_for(driver, lambda d: d.current_url.endswith(landing), 10, f"{landing} after login")


@pytest_twisted.ensureDeferred
async def test_an_agent_sees_the_ivr_caller_before_answering(
        asterisk_site: Instance, fresh_redis: RedisServer, browser: Any,
        tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    shots = Path(os.environ.get("PLN123_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    loaded = load_config(CONFIG)
    agents = (AgentSpec("1001", "Ahmad Fauzi", "palembang", "Local/1001@test-agent-slow",
                        {skill: 5 for skill in loaded.skills}),)
    queues = {skill: QueueSettings(skill, wrapup_s=120.0) for skill in loaded.skills}
    config = replace(loaded, acd=replace(loaded.acd, agents=agents, ring_timeout_s=15.0,
                                         queues=queues, pooling=replace(loaded.acd.pooling,
                                                                        enabled=False)))
    desktop = DesktopSettings(
        pause_reasons=(Label("1", "Istirahat", "Break"), Label("2", "Sholat", "Prayer")),
        dispositions=(Label("resolved", "Selesai", "Resolved"),),
        disposition_required=True,
        agents=(AgentAccount("1001", "palembang", hash_password(PASSWORD)),))
    store = RedisStore(fresh_redis.url)
    await store.start()
    centre = build_site(config, "palembang", store, reactor, ami=AMITarget(
        "127.0.0.1", asterisk_site.ami_port, "pln123", asterisk_site.pln123_secret))
    centre.startService()
    dashboard = build_dashboard(
        sites=[DashboardSite(s.name, s.role, {a.code: a.region for a in s.area_codes})
               for s in config.sites.values()],
        skills=config.skills, settings=config.acd, store=store, clock=reactor,
        threads=reactor, wallboard_token="wallboard-token-0123456789abcdef",
        supervisors=[Supervisor(SUPERVISOR, Role.parse("site:palembang"),
                                hash_password("plg-pass-123"))],
        desktop=desktop)
    port = reactor.listenTCP(0, WebSite(dashboard), interface="127.0.0.1")
    base = f"http://127.0.0.1:{port.getHost().port}"
    try:
        await centre.ami.when_connected()

        def agent_ready() -> None:
            log_in(browser, base, "1001", PASSWORD, "/agent")
            wait_for(browser, lambda d: state_of(d) == "logged_out", 10, "the desktop")
            browser.find_element(By.ID, "ready-button").click()
            wait_for(browser, lambda d: state_of(d) == "ready", 10, "the agent ready")

        await blocking(agent_ready)
        await centre.ami.send_action("Originate", {
            "Channel": "Local/0711123@pln123-inbound-palembang",
            "Context": "test-caller", "Exten": "s", "Priority": "1",
            "CallerID": f'"Pelanggan" <{CALLER}>', "Async": "true",
            "Variable": variable_header({"DTMF": DTMF, "PAUSE": "1.5", "HOLD": "90"}),
        })

        def screen_pop() -> dict[str, str]:
            wait_for(browser, lambda d: state_of(d) == "reserved", 60, "the phone ringing")
            wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR,
                                                        "#call-tickets tr[data-ticket]"),
                     3, "the caller's open ticket")
            shown = {name: text_of(browser, f"#call-{name}")
                     for name in ("idpel", "area", "menu", "number", "tickets")}
            shown["state"] = state_of(browser)   # still ringing: read before the answer
            browser.save_screenshot(str(shots / "desktop-ringing.png"))
            return shown

        shown = await blocking(screen_pop)
        assert shown["state"] == "reserved"
        assert shown["idpel"] == IDPEL and shown["number"] == CALLER
        assert shown["area"] == "0711 · Palembang"
        assert shown["menu"].split(" \N{SINGLE RIGHT-POINTING ANGLE QUOTATION MARK} ")[:3] == [
            "main:2", "report:1", "flow:report_fault"]
        assert "diterima" in shown["tickets"] and "padam" in shown["tickets"]

        await blocking(lambda: wait_for(browser, lambda d: state_of(d) == "on_call", 15,
                                        "the agent answering"))
        session = next(s for s in [*centre.engine.active.values(), *centre.engine.finished]
                       if s.channel.env.get("agi_callerid") == CALLER)
        await centre.ami.send_action("Hangup", {"Channel": session.channel.channel})

        def wrap_up() -> None:
            wait_for(browser, lambda d: state_of(d) == "wrap_up", 15, "wrap-up")
            Select(browser.find_element(By.ID, "disposition")).select_by_value("resolved")
            browser.find_element(By.ID, "disposition-save").click()
            wait_for(browser, lambda d: "Selesai" in text_of(d, "#wrapup-done"), 5,
                     "the disposition recorded")
            browser.find_element(By.ID, "ticket-description").send_keys("kabel <b>putus</b>")
            browser.find_element(By.ID, "ticket-save").click()
            wait_for(browser, lambda d: "dibuat" in text_of(d, "#ticket-message"), 5,
                     "the ticket filed")
            Select(browser.find_element(By.ID, "pause-reason")).select_by_value("2")
            browser.find_element(By.ID, "pause-button").click()
            wait_for(browser, lambda d: state_of(d) == "paused", 10, "the agent paused")
            assert text_of(browser, "#state-reason") == "(Sholat)"
            browser.save_screenshot(str(shots / "desktop-paused.png"))

        await blocking(wrap_up)

        def supervisor_sees() -> str:
            browser.find_element(By.ID, "signout-button").click()
            wait_for(browser, lambda d: d.current_url.endswith("/login"), 5, "signed out")
            log_in(browser, base, SUPERVISOR, "plg-pass-123", "/")
            browser.get(base + "/#site=palembang")
            selector = "tr[data-agent='1001'] td.state"
            wait_for(browser, lambda d: "Sholat" in text_of(d, selector), 10,
                     "the named pause reason on the site view")
            browser.save_screenshot(str(shots / "desktop-supervisor.png"))
            return text_of(browser, selector)

        assert "Sholat" in await blocking(supervisor_sees)
    finally:
        await port.stopListening()
        await centre.stopService()
        await store.close()
