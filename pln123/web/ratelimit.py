"""Login rate limiting: failed attempts per account and per source address, on the clock.

A guessing attack on one supervisor's password (from many addresses) is stopped by the
per-account limit; one address trying many names is stopped by the per-address limit.
Both are sliding windows of failures; a refused attempt is not checked at all (argon2 is
deliberately slow, so checking would let an attacker burn the server's CPU).
"""

from __future__ import annotations

from collections import deque

from twisted.internet.interfaces import IReactorTime


class LoginLimiter:
    def __init__(self, clock: IReactorTime, *, per_account: int = 5, per_address: int = 20,
                 window_s: float = 900.0):
        self.clock = clock
        self.per_account = per_account
        self.per_address = per_address
        self.window_s = window_s
        self._accounts: dict[str, deque[float]] = {}
        self._addresses: dict[str, deque[float]] = {}

    def retry_after(self, name: str, address: str) -> float | None:
        """Seconds until a login for (name, address) may be tried; None: try now."""
        now = self.clock.seconds()
        waits = [self._wait(self._accounts, name, self.per_account, now),
                 self._wait(self._addresses, address, self.per_address, now)]
        worst = max(w for w in waits)
        return worst if worst > 0 else None

    def failed(self, name: str, address: str) -> None:
        now = self.clock.seconds()
        self._accounts.setdefault(name, deque()).append(now)
        self._addresses.setdefault(address, deque()).append(now)

    def succeeded(self, name: str) -> None:
        """A correct password clears the account's failures (not the address's)."""
        self._accounts.pop(name, None)

    def _wait(self, table: dict[str, deque[float]], key: str, limit: int, now: float
              ) -> float:
        times = table.get(key)
        if not times:
            return 0.0
        while times and times[0] <= now - self.window_s:
            times.popleft()
        if not times:
            del table[key]
            return 0.0
        if len(times) < limit:
            return 0.0
        return times[len(times) - limit] + self.window_s - now
