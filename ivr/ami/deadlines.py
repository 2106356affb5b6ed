"""One reactor timer for many timeouts.

Every AMI action and every AGI command has a timeout, and nearly every one is answered
long before it: a reactor timer each (set, then cancelled by the answer) cost more than
the rest of sending an AGI command. Here the owner keeps its deadlines, and one timer is
armed for the earliest; when it fires, the owner fails what is due and names the next
deadline. A timer left armed after the last answer just fires once for nothing.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from twisted.internet.interfaces import IDelayedCall, IReactorTime

# Deadlines this close to the clock count as due: a timer re-armed as `deadline - now`
# can land a rounding error short of its deadline.
DUE_SLACK = 1e-9


class DeadlineTimer:
    """Fires `expire(now)` no later than the earliest deadline it was asked to cover.

    `expire` fails everything due at `now` (deadline <= now) and returns the earliest
    deadline still pending, or None.
    """

    def __init__(self, clock: IReactorTime, expire: Callable[[float], float | None]):
        self._clock = clock
        self._expire = expire
        self._call: IDelayedCall | None = None
        self._at = math.inf

    def cover(self, deadline: float, delay: float | None = None) -> None:
        """Make sure the timer fires by `deadline`. `delay` (deadline - now, as the caller
        computed the deadline) schedules it exactly where a timer of its own would be."""
        if deadline >= self._at:
            return
        self.cancel()
        if delay is None:
            now = self._clock.seconds()
            delay = max(0.0, deadline - now)
            while delay > 0 and now + delay > deadline:  # never past the deadline itself
                delay = math.nextafter(delay, 0.0)
        self._call = self._clock.callLater(delay, self._fire)
        self._at = deadline

    def cancel(self) -> None:
        if self._call is not None and self._call.active():
            self._call.cancel()
        self._call, self._at = None, math.inf

    @property
    def armed(self) -> bool:
        return self._call is not None

    def _fire(self) -> None:
        self._call, self._at = None, math.inf
        following = self._expire(self._clock.seconds() + DUE_SLACK)
        if following is not None:
            self.cover(following)
