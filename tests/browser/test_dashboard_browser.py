"""The dashboard in headless Chromium (Debian's `chromium` through `chromium-driver`).

Everything but the browser is real and in this process: the dashboard on a real port, the
site's Distributor (fake telephony: no phone rings) and its agent-command consumer, so a
pause clicked on the page travels dashboard -> command stream -> consumer -> Distributor ->
Redis -> event stream -> page; a lending switch clicked on the page lands in the site's
lending hash, where the matching script reads it. Selenium blocks, so its calls run in a
thread while the reactor serves. Screenshots go to $PLN123_SCREENSHOTS (default: the
test's tmp dir).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest_twisted
from twisted.internet.threads import deferToThread

from acd.agents.commands import agent_commands
from acd.distributor import Distributor
from acd.pooling.lending import Lending, LendingBoard
from acd.pooling.status import SiteStatus, StatusBoard
from acd.queues.store import QueueStore
from tests.doubles.telephony import FakeTelephony
from tests.fixtures.redis_server import RedisServer
from tests.harness.dashboard import PASSWORDS, SETTINGS, call, lend, pool_keys, reactor, start

T = TypeVar("T")
XSS = "<img src=x onerror=alert(1)>"


async def blocking(function: Callable[[], T]) -> T:
    result: T = await deferToThread(function)
    return result


def wait_for(driver: Any, condition: Callable[[Any], Any], seconds: float, what: str) -> Any:
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(driver, seconds, poll_frequency=0.05).until(condition)
    except TimeoutException as error:
        raise AssertionError(f"timed out after {seconds}s waiting for {what}") from error


def text_of(driver: Any, selector: str) -> str:
    """The element's rendered text, read in one step (the page re-renders every push)."""
    script = "const e = document.querySelector(arguments[0]); return e ? e.innerText : '';"
    return str(driver.execute_script(script, selector))


async def audit(running: Any, site: str) -> list[dict[str, str]]:
    async def read(client: Any) -> list[dict[str, str]]:
        return [fields for _id, fields in await client.xrange(pool_keys(site).audit)]

    result: list[dict[str, str]] = await running.store.run(read)
    return result


def click(driver: Any, selector: str) -> None:
    """A real click; retried when a push replaced the element between finding and clicking."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By

    for _ in range(20):
        try:
            driver.find_element(By.CSS_SELECTOR, selector).click()
            return
        except StaleElementReferenceException:
            continue
    raise AssertionError(f"{selector} kept being replaced")


@pytest_twisted.ensureDeferred
async def test_supervisor_watches_and_pauses_in_a_real_browser(
        fresh_redis: RedisServer, browser: Any, tmp_path: Path) -> None:
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.common.by import By

    shots = Path(os.environ.get("PLN123_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    running = await start(fresh_redis.url, reactor)
    telephony = FakeTelephony()
    acd = Distributor("palembang", SETTINGS, QueueStore(running.store, "palembang", SETTINGS),
                      telephony, reactor)
    consumer = agent_commands(running.store, pool_keys("palembang"), acd)
    consumer.start()
    board = StatusBoard(running.store)
    lending = LendingBoard(running.store, SETTINGS.pooling)
    try:
        for site in ("palembang", "jakarta"):
            await board.publish(SiteStatus(site, reactor.seconds(), True), 120,
                                pool_keys(site).alive)
        # Jakarta's agent 3001 talks to a Palembang caller: lent by one, borrowed by the other.
        await lend(running.store, "jakarta", "palembang", "3001", "p0", now=reactor.seconds())
        await acd.login("1001")
        await acd.login("1002")
        await acd.pause("1002", "5")

        def log_in() -> None:
            browser.get(running.url + "/")
            wait_for(browser, lambda d: "/login" in d.current_url, 5, "the login page")
            # The pages speak Indonesian first; this test reads the English catalogue.
            assert browser.execute_script("return document.documentElement.lang") == "id"
            browser.execute_script("window.localStorage.setItem('pln123.lang', 'en')")
            browser.refresh()
            browser.find_element(By.ID, "name").send_keys("nas")
            browser.find_element(By.ID, "password").send_keys(PASSWORDS["nas"])
            browser.find_element(By.ID, "login-button").click()
            wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR,
                                                        "a.tile[data-site=palembang]"),
                     5, "the overview's palembang tile")

        await blocking(log_in)
        medan = await blocking(lambda: text_of(browser, "a.tile[data-site=medan]"))
        assert "down" in medan.lower()

        def open_site() -> None:
            click(browser, "a.tile[data-site=palembang]")
            wait_for(browser, lambda d: text_of(d, "tr[data-agent='1001'] td.state") == "ready",
                     5, "agent 1001 ready on the site view")
            browser.execute_script("window.__sameDocument = 'yes';")

        await blocking(open_site)

        def pause_from_the_page() -> str:
            reason = browser.find_element(By.ID, "pause-reason")
            reason.clear()
            reason.send_keys("7")
            click(browser, "tr[data-agent='1001'] button.pause")
            wait_for(browser, lambda d: text_of(d, "tr[data-agent='1001'] td.state")
                     == "paused (7)", 5, "agent 1001 paused by the dashboard")
            return text_of(browser, "tr[data-agent='1001'] td.state")

        assert await blocking(pause_from_the_page) == "paused (7)"
        assert (await acd.queues.agent("1001")).state.reason == "7"   # the real ACD did it
        assert consumer.handled == 1

        # Nobody is ready now: the calls wait in line, and the page shows them as they come.
        now = reactor.seconds()
        await acd.enqueue(call("xss-1", number=XSS, at=now))
        await acd.enqueue(call("wait-2", skill="billing", number="0711777123", priority=2,
                               at=now))
        entered = reactor.seconds()

        def call_appears() -> str:
            wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR,
                                                        "tr[data-call='xss-1']"),
                     3, "the queued call on the site view")
            return str(browser.execute_script("return window.__sameDocument || 'reloaded';"))

        assert await blocking(call_appears) == "yes"   # pushed, not reloaded
        assert reactor.seconds() - entered < 3

        def escaped() -> tuple[str, int, int]:
            found = browser.execute_script(
                "const c = document.querySelector(\"tr[data-call='xss-1'] td.caller\");"
                "return [c.innerText, document.querySelectorAll('#site img').length,"
                " c.innerHTML];")
            return str(found[0]), int(found[1]), str(found[2]).count("<img")

        caller, images, raw_tags = await blocking(escaped)
        assert caller == XSS and images == 0 and raw_tags == 0

        def no_alert() -> bool:
            try:
                browser.switch_to.alert.dismiss()
            except NoAlertPresentException:
                return True
            return False

        assert await blocking(no_alert)

        def site_screenshot() -> None:
            wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR,
                                                        "tr[data-call='wait-2']"),
                     3, "the second call")
            browser.save_screenshot(str(shots / "dashboard-site.png"))

        await blocking(site_screenshot)

        def overview() -> str:
            browser.find_element(By.ID, "home").click()
            wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR,
                                                        "a.tile[data-site=palembang]"),
                     5, "the overview again")
            wait_for(browser, lambda d: text_of(d, "a.tile[data-site=palembang]").lower()
                     .startswith("palembang\nup\n2\nwaiting"), 5, "the palembang tile")
            browser.save_screenshot(str(shots / "dashboard-overview.png"))
            return text_of(browser, "a.tile[data-site=palembang]")

        tile = (await blocking(overview)).lower().split("\n")
        assert tile[:4] == ["palembang", "up", "2", "waiting"]
        assert tile[tile.index("paused") - 1] == "2"
        assert tile[tile.index("borrowed now / today") - 1] == "1 / 1"
        assert tile[tile.index("lent now / today") - 1] == "0 / 0"
        jakarta = (await blocking(lambda: text_of(browser, "a.tile[data-site=jakarta]")))
        jakarta_lines = jakarta.lower().split("\n")
        assert jakarta_lines[jakarta_lines.index("lent now / today") - 1] == "1 / 1"
        assert (shots / "dashboard-site.png").stat().st_size > 10_000
        assert (shots / "dashboard-overview.png").stat().st_size > 10_000

        def switch_lending_off() -> str:
            click(browser, "a.tile[data-site=palembang]")
            wait_for(browser, lambda d: text_of(d, "#lending-state") == "on", 5,
                     "the lending card, lending on")
            click(browser, "#lending-switch")
            wait_for(browser, lambda d: text_of(d, "#lending-state") == "off", 5,
                     "lending off on the page")
            return text_of(browser, "#lending-message")

        assert await blocking(switch_lending_off) == "lending switched off"
        assert (await lending.read("palembang")).off is True

        def set_reserve(value: str, skill: str) -> str:
            from selenium.webdriver.support.ui import Select

            Select(browser.find_element(By.ID, "reserve-skill")).select_by_value(skill)
            field = browser.find_element(By.ID, "reserve-value")
            field.clear()
            field.send_keys(value)
            before = text_of(browser, "#lending-message")
            click(browser, "#reserve-set")
            wait_for(browser, lambda d: text_of(d, "#lending-message") not in ("", before), 5,
                     "the reply to the reserve")
            return text_of(browser, "#lending-message")

        refused = await blocking(lambda: set_reserve("lots", "general"))
        assert refused == "reserve must be a whole number of agents from 0 to 100, or null " \
                          "for the config's"
        assert (await lending.read("palembang")).reserve == {}
        assert await blocking(lambda: set_reserve("2", "general")) == (
            "reserve set to 2 for general")
        assert (await lending.read("palembang")).reserve == {"general": 2}

        def reserve_shown() -> str:
            wait_for(browser, lambda d: text_of(d, "tr[data-skill=general] td.reserve")
                     == "2 (set)", 5, "the general row's reserve")
            return text_of(browser, "tr[data-skill=billing] td.reserve")

        assert await blocking(reserve_shown) == "auto"
        assert [(e["event"], e["supervisor"]) for e in await audit(running, "palembang")
                if e["event"] in ("dashboard_lending", "dashboard_reserve")] == [
            ("dashboard_lending", "nas"), ("dashboard_reserve", "nas")]

        def off_on_the_overview() -> str:
            browser.find_element(By.ID, "home").click()
            wait_for(browser, lambda d: "lending off" in text_of(
                d, "a.tile[data-site=palembang]").lower(), 5, "the lending-off badge")
            browser.save_screenshot(str(shots / "dashboard-lending-off.png"))
            return text_of(browser, "a.tile[data-site=medan]").lower()

        assert "lending off" not in await blocking(off_on_the_overview)

        def as_site_supervisor() -> tuple[bool, str]:
            browser.find_element(By.ID, "logout-button").click()
            wait_for(browser, lambda d: "/login" in d.current_url, 5, "the login page")
            browser.find_element(By.ID, "name").send_keys("medan1")
            browser.find_element(By.ID, "password").send_keys(PASSWORDS["medan1"])
            browser.find_element(By.ID, "login-button").click()
            wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR,
                                                        "a.tile[data-site=medan]"),
                     5, "the overview for medan1")
            click(browser, "a.tile[data-site=medan]")
            wait_for(browser, lambda d: text_of(d, "#site-name") == "medan", 5, "medan's view")
            wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "tr[data-agent='2001']"),
                     5, "medan's agents")
            card = browser.find_element(By.ID, "lending-form")
            return card.is_displayed(), text_of(browser, "#site-summary")

        shown, summary = await blocking(as_site_supervisor)
        assert shown is False                    # watching only: no lending card
        assert "lending" in summary.lower()      # the figures are there all the same
        assert await lending.read("medan") == Lending("medan")
    finally:
        await consumer.stop()
        acd.stop()
        await running.stop()
