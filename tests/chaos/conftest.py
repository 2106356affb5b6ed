"""Fixtures of the fault-injection suite: the palembang sandbox Asterisk, a Redis emptied
for the test, and the site's `pln123 serve` as a real process that a test may kill.

`chaos_scene` is a `Scene` (tests/chaos/harness.py) whose pln123 is not started yet: a
test writes its agents with `chaos_config`, then `await scene.open()`; the teardown stops
pln123 and hangs up every caller and agent leg left. Every test here is marked `chaos`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.fixtures.asterisk_sandbox import SandboxSession, assume_pln123_alive
from tests.fixtures.redis_server import RedisServer
from tools.sandbox import Instance

if TYPE_CHECKING:  # the harness imports the reactor: never before pytest-twisted chose it
    from tests.chaos.harness import Scene


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if Path(str(item.fspath)).parent == here:
            item.add_marker(pytest.mark.chaos)


@pytest.fixture
def chaos_site(asterisk_sandbox: SandboxSession) -> Iterator[Instance]:
    """The running palembang instance (started again if an earlier fault left it down);
    left running and seeded "pln123 alive" for the next test."""
    instance = asterisk_sandbox.site("palembang")
    yield instance
    if not instance.is_running():
        instance.start()
    assume_pln123_alive(instance)


@pytest.fixture
def chaos_config(tmp_path: Path) -> Callable[..., Path]:
    """`chaos_config(["1001"], acd={...}, phone="test-answer")`: the config file for them."""
    def make(agents: list[str], acd: dict[str, Any] | None = None,
             phone: str = "test-answer") -> Path:
        from tests.chaos.harness import write_config
        return write_config(tmp_path, agents, acd, phone)

    return make


@pytest.fixture
def chaos_scene(chaos_site: Instance, fresh_redis: RedisServer, tmp_path: Path,
                chaos_config: Callable[..., Path]) -> Iterator[Callable[..., Scene]]:
    """`chaos_scene(agents, ami_port=None, redis=None, **config)`: a Scene for the site
    (pln123 not started); `ami_port` puts a proxy between pln123 and Asterisk, `redis`
    another server than the session's. Closed (pln123 stopped, channels hung up) at the
    end."""
    made: list[Scene] = []

    def make(agents: list[str], *, ami_port: int | None = None,
             redis: RedisServer | None = None, **config: Any) -> Scene:
        from tests.chaos.harness import Scene, Serve
        server = redis or fresh_redis
        serve = Serve(chaos_config(agents, **config), chaos_site, server.url,
                      tmp_path / "serve.log", ami_port=ami_port)
        scene = Scene(chaos_site, server, serve)
        made.append(scene)
        return scene

    yield make
    for scene in made:
        scene.serve.stop()
    if chaos_site.is_running():
        chaos_site.cli("channel request hangup all")
