"""Record golden AMI transcripts from the sandbox Asterisk (run by hand, as root).

    .venv/bin/python -m tests.transcripts.record

Starts its own sandbox instance (namespace `transcripts`), drives a fixed scenario through
our own client while keeping every byte Asterisk sent (banner included), and writes
`tests/transcripts/asterisk22_*.raw`. The unit tests replay those bytes, so the parser is
checked against what a real Asterisk 22 really sends, not against our idea of it.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from twisted.internet import asyncioreactor

asyncioreactor.install()

from twisted.internet import reactor  # noqa: E402
from twisted.internet.defer import Deferred  # noqa: E402
from twisted.internet.task import deferLater  # noqa: E402

from ivr.ami import AGISession, AMIService, AsyncAGIRouter  # noqa: E402
from ivr.ami.agi import AGIError  # noqa: E402
from tests.harness.ami import connect, originate_caller  # noqa: E402
from tests.harness.reactor import poll  # noqa: E402
from tools.sandbox import Sandbox  # noqa: E402

HERE = Path(__file__).parent
R: Any = reactor


def tee(service: AMIService, sink: bytearray) -> None:
    protocol: Any = service.protocol
    original = protocol.dataReceived

    def recording(data: bytes) -> None:
        sink.extend(data)
        original(data)

    protocol.dataReceived = recording


async def sleep(seconds: float) -> None:
    await deferLater(R, seconds, lambda: None)


async def next_session(sessions: list[AGISession], extension: str) -> AGISession:
    await poll(lambda: any(s.extension == extension for s in sessions), 10, extension)
    return next(s for s in sessions if s.extension == extension)


async def scenario(site: Any) -> bytes:
    sink = bytearray()
    service = await connect(site)
    # The banner arrived before the tee: put it back as it was on the wire.
    sink.extend((service.protocol.framer.banner or "").encode() + b"\r\n")  # type: ignore[union-attr]
    tee(service, sink)
    sessions: list[AGISession] = []
    router = AsyncAGIRouter(service, service.dispatcher, R, sessions.append)
    await service.send_list_action("CoreShowChannels")
    await originate_caller(service, "0711123", variables={"DTMF": "1234#", "PAUSE": "1.5"})
    session = await next_session(sessions, "0711123")
    await session.stream_file("beep", "")
    await session.get_data("silence/10", 8000, 6)
    for bad in ("NO SUCH COMMAND", "GET DATA"):
        try:
            await session.execute(bad)
        except AGIError:
            pass
    await service.send_list_action("CoreShowChannels")
    await service.send_action("Hangup", {"Channel": session.channel})
    await originate_caller(service, "evil", variables={"HOLD": "3"})
    evil = await next_session(sessions, "evil")
    await evil.answer()
    await originate_caller(service, "0711125", caller_exten="hangup",
                           variables={"HANGUP_AFTER": "1"})
    hung = await next_session(sessions, "0711125")
    try:
        await hung.get_data("silence/10", 20000, 12)
    except AGIError:
        pass
    await sleep(4)
    router.close()
    await service.stopService()
    return bytes(sink)


async def main() -> None:
    sandbox = Sandbox(namespace="transcripts")
    try:
        (site,) = sandbox.up(["palembang"], free_ports=True)
        data = await scenario(site)
        target = HERE / "asterisk22_agi_session.raw"
        target.write_bytes(data)
        print(f"wrote {target} ({len(data)} bytes)")
    finally:
        sandbox.down()


if __name__ == "__main__":
    d = Deferred.fromCoroutine(main())
    d.addErrback(lambda f: (f.printTraceback(), sys.exit(1)))
    d.addBoth(lambda _: R.stop())
    R.run()
