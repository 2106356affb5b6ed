"""The IVR's part of a call's story, appended to the site's audit stream.

The ACD audits every change it makes itself (acd/queues/lua). What happened before a
caller reached it — the greeting, the menus, a self-service flow, a hang-up in the IVR —
only the IVR knows; it tells `ivr_path` once per call, and this appends one `ivr` entry
to the same stream, so the call history (pln123/history) has every call, also those that
never asked for an agent. One entry per call, not one per step: the menus run at the
call's pace, but a surge of callers must not multiply the writes to Redis.
"""

from __future__ import annotations

import structlog
from twisted.python.failure import Failure

from acd.intake import IVRPath
from acd.queues.store import QueueStore
from acd.store.keys import SiteKeys
from acd.store.redis import Client, RedisStore

log = structlog.get_logger("acd.audit")

MAX_STEPS = 64   # a caller looping in the menus: the first steps, then "..."


def ivr_entry(path: IVRPath) -> dict[str, str]:
    """The audit entry of `path` (steps as `<seconds after entering> <step>` with `,`)."""
    steps = [f"{max(0.0, at - path.entered_at):.3f} {name}"
             for at, name in path.steps[:MAX_STEPS]]
    if len(path.steps) > MAX_STEPS:
        steps.append("...")
    return {"event": "ivr", "site": path.site, "call": path.call_id, "agent": "",
            "skill": "", "state": path.outcome, "at": f"{path.left_at:.3f}",
            "entered_at": f"{path.entered_at:.3f}", "caller_number": path.caller_number,
            "area_code": path.area_code, "region": path.region, "ticket": path.ticket,
            "steps": ",".join(steps)}


class AuditLog:
    """`acd.intake.CallLog` on the site's audit stream.

    With the site's QueueStore the entry travels in the ACD's next batch of decisions (the
    caller handed to the queue has just set off the room's first look at the queue, so it
    usually shares that round trip); an entry whose values cannot be packed (a control
    character in a caller's number) is appended on its own, as it is without one.
    """

    def __init__(self, store: RedisStore, keys: SiteKeys, maxlen: int,
                 queues: QueueStore | None = None):
        self.store = store
        self.keys = keys
        self.maxlen = maxlen
        self.queues = queues

    def ivr_path(self, path: IVRPath) -> None:
        entry = ivr_entry(path)

        def failed(failure: Failure) -> None:
            log.warning("ivr_path_not_audited", call_id=path.call_id,
                        error=failure.getErrorMessage())

        if self.queues is not None:
            try:
                self.queues.append_audit(entry, path.left_at).addErrback(failed)
                return
            except ValueError:
                pass

        async def append(client: Client) -> None:
            await client.xadd(self.keys.audit, entry,  # type: ignore[arg-type]
                              maxlen=self.maxlen, approximate=True)

        self.store.run(append).addErrback(failed)
