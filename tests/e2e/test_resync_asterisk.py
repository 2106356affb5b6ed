"""Re-adoption after a restart, against the sandbox: a caller left in AsyncAGI by a process
that died is found with CoreShowChannels and gets an AGI session again."""

from __future__ import annotations

import pytest
import pytest_twisted

from ivr.ami import AGISession, AsyncAGIRouter
from ivr.callcontrol.resync import AsyncAGIResync
from tests.harness.ami import connect, originate_caller
from tests.harness.reactor import clock, poll, within
from tools.sandbox import Instance

pytestmark = pytest.mark.asterisk


@pytest_twisted.ensureDeferred
async def test_a_caller_left_in_async_agi_is_adopted(asterisk_site: Instance) -> None:
    first = await connect(asterisk_site)
    started: list[AGISession] = []
    old_router = AsyncAGIRouter(first, first.dispatcher, clock(), started.append)
    await originate_caller(first, "0711301", variables={"HOLD": "30"})
    await poll(lambda: bool(started), 10, "the caller in AsyncAGI")
    channel = started[0].channel
    old_router.close()
    await first.stopService()  # the "old process" is gone; the caller still waits

    adopted: list[AGISession] = []
    second = await connect(asterisk_site)
    router = AsyncAGIRouter(second, second.dispatcher, clock(), lambda s: None)
    resync = AsyncAGIResync(router, adopted.extend)
    try:
        assert second.protocol is not None
        await within(resync(second.protocol), 5, "the resync")
        # Only the caller this test left behind is ours (others' callers may still hold).
        mine = [s for s in adopted if s.channel == channel]
        assert len(mine) == 1
        session = mine[0]
        assert session.caller_number == "0811223344"
        result = await within(session.stream_file("beep", ""), 10, "a command on it")
        assert result.code == 200
        await second.send_action("Hangup", {"Channel": channel})
        await within(session.when_ended(), 5, "its end")
    finally:
        router.close()
        await second.stopService()
