"""The time source for everything pln123 writes to Redis.

Timestamps come from the injected `IReactorTime`, never from `time.time()`, so the simulator
can run a day on a virtual `Clock` and tests can state exact times. They are rounded to the
millisecond so a value survives a round trip through Redis (JSON or a hash field) unchanged.
"""

from __future__ import annotations

from twisted.internet.interfaces import IReactorTime


def timestamp(clock: IReactorTime) -> float:
    """Epoch seconds from `clock`, to the millisecond."""
    return round(clock.seconds(), 3)
