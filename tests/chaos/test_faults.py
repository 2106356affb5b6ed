"""Faults against a site with callers waiting and talking: Asterisk killed (SIGKILL) and
started, Asterisk restarted cleanly, the AMI link cut while a queued caller hangs up, and
`pln123 serve` killed (SIGKILL) and started. After each, once reconciled: no call record
without a live channel, no agent stuck, every caller still there queued or talking, and
a new caller is served."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import pytest_twisted

from tests.chaos.harness import LinkCutter, Scene, kill9_asterisk, poll_async
from tests.harness.reactor import poll
from tools.sandbox import Instance

pytestmark = pytest.mark.asterisk

AGENTS = ["1001"]


async def talking_and_waiting(scene: Scene, prefix: str) -> tuple[str, str]:
    """1001 talks to caller <prefix>1, caller <prefix>2 waits behind them."""
    scene.agent_cli("login", "1001")
    await scene.agent_is("1001", "ready")
    talking, waiting = f"{prefix}1", f"{prefix}2"
    await scene.call(talking)
    await scene.state_of(talking, "connected", 40)
    await scene.call(waiting)
    await scene.state_of(waiting, "queued", 40)
    await scene.settled(AGENTS, 10)
    return talking, waiting


async def a_new_caller_is_served(scene: Scene, number: str) -> None:
    await scene.agent_is("1001", "ready", seconds=30)
    await scene.call(number)
    await scene.state_of(number, "connected", 40)
    await scene.settled(AGENTS, 10)


async def back_on_ami(scene: Scene, logins: int) -> None:
    await poll(lambda: scene.serve.count("ami_connected") >= logins, 40,
               f"pln123's AMI login {logins}")


def state(scene: Scene, number: str) -> str:
    return scene.calls_by_number(number)[-1].get("state", "")


@pytest_twisted.ensureDeferred
@pytest.mark.parametrize("how", ["sigkill", "clean"])
async def test_an_asterisk_restart_leaves_no_ghost_and_no_frozen_agent(
        how: str, chaos_scene: Callable[..., Scene]) -> None:
    scene = chaos_scene(AGENTS)
    await scene.open()
    try:
        prefix = "08110001" if how == "sigkill" else "08110002"
        talking, waiting = await talking_and_waiting(scene, prefix)
        if how == "sigkill":
            kill9_asterisk(scene.instance)       # no Hangup event reaches anybody
        else:
            scene.instance.stop()
        scene.instance.start()
        await scene.reconnect_admin()
        await back_on_ami(scene, 2)
        await scene.settled(AGENTS, 30)
        assert state(scene, talking) == "finished"      # the talk ended with Asterisk
        assert state(scene, waiting) == "abandoned"     # the caller was gone
        await a_new_caller_is_served(scene, f"{prefix}3")
        if how == "sigkill":
            assert scene.serve.count("asterisk_restarted") == 1
    except BaseException:
        print(scene.serve.log_text()[-8000:])
        raise
    finally:
        await scene.close()


@pytest_twisted.ensureDeferred
async def test_a_caller_who_hangs_up_while_the_ami_link_is_cut_is_abandoned(
        chaos_site: Instance, chaos_scene: Callable[..., Scene]) -> None:
    cutter = LinkCutter(chaos_site.ami_port)
    scene = chaos_scene(AGENTS, ami_port=cutter.port)
    try:
        await scene.open()
        talking, waiting = await talking_and_waiting(scene, "08110003")
        await cutter.cut()
        await poll(lambda: scene.serve.count("ami_disconnected") >= 1, 10,
                   "pln123 losing its AMI link")
        gone = scene.calls_by_number(waiting)[-1]["uniqueid"]
        await scene.hang_up(gone)                        # pln123 never hears of it
        await poll_async(lambda: scene.gone(gone), 10, "the waiting caller gone")
        assert state(scene, waiting) == "queued"         # Redis still has the ghost
        cutter.mend()
        await back_on_ami(scene, 2)
        await scene.settled(AGENTS, 30)
        assert state(scene, waiting) == "abandoned"
        assert state(scene, talking) == "connected"      # the talk went on meanwhile
        await scene.hang_up(scene.calls_by_number(talking)[-1]["uniqueid"])
        await scene.agent_is("1001", "wrap_up", "ready", seconds=15)
        await a_new_caller_is_served(scene, "081100033")
    except BaseException:
        print(scene.serve.log_text()[-8000:])
        raise
    finally:
        await scene.close()
        await cutter.close()


@pytest_twisted.ensureDeferred
async def test_a_killed_pln123_is_followed_by_one_that_ends_the_ghosts(
        chaos_scene: Callable[..., Scene]) -> None:
    scene = chaos_scene(AGENTS)
    await scene.open()
    try:
        talking, waiting = await talking_and_waiting(scene, "08110004")
        scene.serve.kill9()
        await scene.hang_up(scene.calls_by_number(waiting)[-1]["uniqueid"])
        await scene.serve.start_async()                   # systemd's Restart=always
        await back_on_ami(scene, 2)
        await scene.settled(AGENTS, 30)
        assert state(scene, waiting) == "abandoned"
        assert state(scene, talking) == "connected"       # followed by the new process
        await scene.hang_up(scene.calls_by_number(talking)[-1]["uniqueid"])
        await scene.agent_is("1001", "wrap_up", "ready", seconds=15)
        await a_new_caller_is_served(scene, "081100043")
    except BaseException:
        print(scene.serve.log_text()[-8000:])
        raise
    finally:
        await scene.close()
