"""tests/unit starts no server: no redis-server, no Asterisk, no browser, no pln123 process.

A unit test that takes a server fixture (redis_server, fresh_redis, redis_topology, ...,
asterisk_site, browser) or carries a server marker fails before any fixture is set up, so
`./run check` stays a quick inner loop. Such a test belongs in tests/integration,
tests/e2e or tests/browser.
"""

from __future__ import annotations

import pytest

from tests.fixtures.servers import refuse_servers


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    refuse_servers(item)
