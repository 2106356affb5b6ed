"""One timer per agent in wrap-up, on the injected clock.

Only the ending of after-call work is timed here; what it means (the agent is ready again,
if nothing else changed them meanwhile) is the Distributor's `on_over`. Kept in memory:
after a restart `Distributor.resume` re-arms them from the times Redis holds.
"""

from __future__ import annotations

from collections.abc import Callable

from twisted.internet.interfaces import IDelayedCall, IReactorTime


class WrapUpTimers:
    """Agent ids are unique across all sites, so they key the timers; `site` is the agent's
    (a lent agent's wrap-up is timed by the site whose call they took)."""

    def __init__(self, clock: IReactorTime, on_over: Callable[[str, int, str], None]):
        self.clock = clock
        self.on_over = on_over
        self._timers: dict[str, IDelayedCall] = {}

    def arm(self, agent_id: str, version: int, delay_s: float, site: str = "") -> None:
        """`on_over(agent_id, version, site)` after `delay_s`, replacing the agent's earlier
        one."""
        self.cancel(agent_id)
        self._timers[agent_id] = self.clock.callLater(delay_s, self._over, agent_id, version,
                                                      site)

    def cancel(self, agent_id: str) -> None:
        call = self._timers.pop(agent_id, None)
        if call is not None and call.active():
            call.cancel()

    def cancel_all(self) -> None:
        for agent_id in list(self._timers):
            self.cancel(agent_id)

    def _over(self, agent_id: str, version: int, site: str) -> None:
        self._timers.pop(agent_id, None)
        self.on_over(agent_id, version, site)
