"""Login throttling: failures slow the next try down; nobody is locked out.

A hard lock (five failures, fifteen minutes, the right password refused too) hands the
attacker a way to lock supervisors out, and locking a source address locks out a whole
office behind one NAT or a reverse proxy. Instead each key has a few free failures in a
sliding window, then a delay before the next try that doubles with each further failure,
capped at `max_delay_s`: guessing is held to one try a minute, while the right password
still gets in after at most that.

The keys, each with its own free failures:
- the account (a guessing attack on one supervisor, from any number of addresses);
- the source address (one address trying many names; behind a trusted proxy, the
  address it forwards for);
- the device: a browser that logged in before carries a signed device cookie
  (`pln123.web.devices`) and is throttled on its own failures only, so an attack on an
  account cannot keep its supervisor out;
- and the whole dashboard: at most `global_failures` failed logins in `global_window_s`
  from browsers without a device cookie, which bounds the argon2 work a storm from many
  addresses with rotating names can cause.

An attempt is counted as a failure when it starts (guesses sent at once cannot all slip
past the check before one has failed) and taken back if the password was right. A
refused attempt is not checked at all. Times come from the injected clock.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from twisted.internet.interfaces import IReactorTime


@dataclass(frozen=True)
class LoginPolicy:
    free_per_account: int = 5
    free_per_address: int = 20
    free_per_device: int = 5
    window_s: float = 900.0          # failures older than this are forgotten
    first_delay_s: float = 1.0       # after the free failures; doubling from here
    max_delay_s: float = 60.0
    global_failures: int = 30        # failed logins without a device cookie ...
    global_window_s: float = 60.0    # ... in this long, on the whole dashboard


@dataclass(frozen=True)
class Refusal:
    seconds: float
    reason: str


@dataclass(frozen=True)
class Attempt:
    """What one login attempt counted, so that a success can take it back."""

    at: float
    keys: tuple[tuple[str, str], ...]   # (table, key)
    device: str | None = None


class LoginLimiter:
    def __init__(self, clock: IReactorTime, policy: LoginPolicy | None = None):
        self.clock = clock
        self.policy = policy or LoginPolicy()
        self._tables: dict[str, dict[str, deque[float]]] = {
            "account": {}, "address": {}, "device": {}, "global": {}}
        self._swept_at = 0.0

    def _now(self) -> float:
        return self.clock.seconds()

    def retry_after(self, name: str, address: str, device: str | None) -> Refusal | None:
        """How long until a login as `name` from `address` (with the device cookie's
        `device`, when valid for `name`) may be tried; None: now."""
        now = self._now()
        p = self.policy
        if device is not None:
            return self._delay("device", device, p.free_per_device, now,
                               "too many failed logins from this browser")
        refusals = [
            self._delay("account", name, p.free_per_account, now,
                        "too many failed logins for this account"),
            self._delay("address", address, p.free_per_address, now,
                        "too many failed logins from this address"),
            self._budget(now),
        ]
        found = [r for r in refusals if r is not None]
        return max(found, key=lambda r: r.seconds) if found else None

    def attempt(self, name: str, address: str, device: str | None) -> Attempt:
        """Count a login about to be checked as failed (until `succeeded` says not)."""
        now = self._now()
        self._sweep(now)
        if device is not None:
            keys: tuple[tuple[str, str], ...] = (("device", device),)
        else:
            keys = (("account", name), ("address", address), ("global", ""))
        for table, key in keys:
            self._tables[table].setdefault(key, deque()).append(now)
        return Attempt(now, keys, device)

    def succeeded(self, attempt: Attempt) -> None:
        """The password was right: the attempt was no failure; a browser's own failures
        are forgiven (another's failures on the account are not: they may be an attack)."""
        for table, key in attempt.keys:
            times = self._tables[table].get(key)
            if times is None:
                continue
            if table == "device":
                times.clear()
            elif attempt.at in times:
                times.remove(attempt.at)
            if not times:
                del self._tables[table][key]

    def tracked(self) -> int:
        """How many keys have failures remembered (memory use, for the tests)."""
        return sum(len(table) for table in self._tables.values())

    def _delay(self, table: str, key: str, free: int, now: float,
               reason: str) -> Refusal | None:
        times = self._live(table, key, now, self.policy.window_s)
        if times is None or len(times) < free:
            return None
        excess = len(times) - free
        delay = min(self.policy.max_delay_s, self.policy.first_delay_s * 2.0 ** min(excess, 32))
        wait = times[-1] + delay - now
        return Refusal(wait, reason) if wait > 0 else None

    def _budget(self, now: float) -> Refusal | None:
        times = self._live("global", "", now, self.policy.global_window_s)
        if times is None or len(times) < self.policy.global_failures:
            return None
        wait = times[len(times) - self.policy.global_failures] + self.policy.global_window_s - now
        if wait <= 0:
            return None
        return Refusal(wait, "too many failed logins on this dashboard")

    def _live(self, table: str, key: str, now: float, window_s: float) -> deque[float] | None:
        times = self._tables[table].get(key)
        if times is None:
            return None
        while times and times[0] <= now - window_s:
            times.popleft()
        if not times:
            del self._tables[table][key]
            return None
        return times

    def _sweep(self, now: float) -> None:
        """Forget expired failures of every key, at most once a minute: rotating names
        and addresses must not grow the tables without end."""
        if now - self._swept_at < 60.0:
            return
        self._swept_at = now
        for table, entries in self._tables.items():
            window = self.policy.global_window_s if table == "global" else self.policy.window_s
            for key in list(entries):
                self._live(table, key, now, window)
