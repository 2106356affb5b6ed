"""A recording started: one `recording` entry in the call's site's audit stream.

The call history (pln123/history) reads it into the call's `recording_path`, the same way
it reads every other step of a call; the entry is written by the site's pln123, which
started the recording, right after Asterisk accepted MixMonitor.
"""

from __future__ import annotations

import structlog
from twisted.internet.interfaces import IReactorTime
from twisted.python.failure import Failure

from acd.store.keys import SiteKeys
from acd.store.redis import Client, RedisStore

log = structlog.get_logger("pln123.recordings")


def recording_entry(site: str, call_id: str, file: str, at: float) -> dict[str, str]:
    return {"event": "recording", "site": site, "call": call_id, "agent": "", "skill": "",
            "state": "", "at": f"{at:.3f}", "recording": file}


class RecordingAudit:
    """`Recorder.started` for one site: appends the entry, never holding the call up."""

    def __init__(self, store: RedisStore, keys: SiteKeys, maxlen: int, clock: IReactorTime):
        self.store = store
        self.keys = keys
        self.maxlen = maxlen
        self.clock = clock

    def __call__(self, call_id: str, file: str) -> None:
        entry = recording_entry(self.keys.site, call_id, file, self.clock.seconds())

        async def append(client: Client) -> None:
            await client.xadd(self.keys.audit, entry,  # type: ignore[arg-type]
                              maxlen=self.maxlen, approximate=True)

        def failed(failure: Failure) -> None:
            log.warning("recording_not_audited", call_id=call_id,
                        error=failure.getErrorMessage())

        self.store.run(append).addErrback(failed)
