"""The headless browser for the dashboard's browser tests: Debian's chromium, driven by
Debian's chromium-driver through Selenium. A test that takes `browser` is marked `browser`
(tests/conftest.py); where no chromium is installed it is skipped, or fails under CI=true."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from tests.fixtures.availability import skip_or_fail

CHROMIUM = ("/usr/bin/chromium", "/usr/bin/chromedriver")


@pytest.fixture
def browser() -> Iterator[Any]:
    missing = [path for path in CHROMIUM if not shutil.which(path)]
    if missing:
        skip_or_fail(f"headless browser tests need Debian's chromium and chromium-driver "
                     f"(missing {', '.join(missing)}; apt-get install chromium chromium-driver)")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError as error:
        skip_or_fail(f"selenium is not installed: {error}")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM[0]
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-dev-shm-usage", "--window-size=1440,1000",
                     "--no-first-run", "--disable-extensions"):
        options.add_argument(argument)
    # The driver is given: Selenium Manager never looks for (or downloads) a browser.
    driver = webdriver.Chrome(service=Service(executable_path=CHROMIUM[1]), options=options)
    try:
        yield driver
    finally:
        driver.quit()
