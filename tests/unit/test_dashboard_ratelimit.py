"""Login throttling: failures slow the next try down (progressive delay) instead of locking
anybody out, a browser that logged in before is throttled on its own failures only, and a
dashboard-wide budget caps how many passwords a storm from many addresses gets checked."""

from __future__ import annotations

from twisted.internet.task import Clock

from pln123.web.devices import DeviceCookies
from pln123.web.ratelimit import LoginLimiter, LoginPolicy


def fail(limiter: LoginLimiter, name: str, address: str, device: str | None = None) -> None:
    assert limiter.retry_after(name, address, device) is None, (name, address, device)
    limiter.attempt(name, address, device)   # stays counted: the password was wrong


def wait(limiter: LoginLimiter, name: str, address: str, device: str | None = None) -> float:
    refusal = limiter.retry_after(name, address, device)
    return 0.0 if refusal is None else refusal.seconds


def test_the_right_password_gets_in_after_a_short_delay() -> None:
    clock = Clock()
    limiter = LoginLimiter(clock)
    for n in range(5):
        fail(limiter, "nas", f"203.0.113.{n}")
    # Not a 15-minute lock: the next try, from anywhere, waits a second.
    assert wait(limiter, "nas", "198.51.100.7") == 1.0
    assert wait(limiter, "medan1", "198.51.100.7") == 0.0   # other accounts untouched
    clock.advance(1)
    assert wait(limiter, "nas", "198.51.100.7") == 0.0
    delays = []
    for n in range(10):
        fail(limiter, "nas", f"203.0.113.{10 + n}")
        delays.append(wait(limiter, "nas", "198.51.100.7"))
        clock.advance(delays[-1])
    assert delays == [2, 4, 8, 16, 32, 60, 60, 60, 60, 60]   # doubling, capped at a minute
    clock.advance(LoginPolicy().window_s)                    # failures fade out of the window
    assert wait(limiter, "nas", "198.51.100.7") == 0.0


def test_an_office_behind_one_address_is_slowed_not_locked_out() -> None:
    clock = Clock()
    limiter = LoginLimiter(clock)
    for n in range(20):                     # typos from twenty people behind one NAT
        clock.advance(3)                    # (under the dashboard-wide budget)
        fail(limiter, f"user{n}", "192.0.2.1")
    refusal = limiter.retry_after("medan1", "192.0.2.1", None)
    assert refusal is not None and refusal.seconds == 1.0
    assert "address" in refusal.reason
    clock.advance(1)
    assert wait(limiter, "medan1", "192.0.2.1") == 0.0
    assert wait(limiter, "medan1", "192.0.2.2") == 0.0   # the next address is not involved


def test_a_known_browser_is_not_held_up_by_an_attack_on_its_account() -> None:
    clock = Clock()
    limiter = LoginLimiter(clock)
    for n in range(12):
        clock.advance(wait(limiter, "nas", "203.0.113.99"))
        fail(limiter, "nas", f"203.0.113.{n}")
    assert wait(limiter, "nas", "203.0.113.99") == 60.0
    # The supervisor's own browser (a device cookie it got at an earlier login) gets in.
    assert wait(limiter, "nas", "203.0.113.99", "device-1") == 0.0
    # ... and is throttled on its own failures only.
    for _ in range(5):
        fail(limiter, "nas", "198.51.100.1", "device-1")
    assert wait(limiter, "nas", "198.51.100.1", "device-1") == 1.0
    assert wait(limiter, "nas", "198.51.100.1", "device-2") == 0.0


def test_a_success_clears_the_failures_it_answers_for() -> None:
    clock = Clock()
    limiter = LoginLimiter(clock)
    for _ in range(4):
        fail(limiter, "nas", "198.51.100.1", "device-1")
    attempt = limiter.attempt("nas", "198.51.100.1", "device-1")
    limiter.succeeded(attempt)
    for _ in range(5):
        fail(limiter, "nas", "198.51.100.1", "device-1")   # five fresh tries again


def test_logins_in_flight_count_until_they_succeed() -> None:
    """Five guesses sent at once cannot all slip past the check before one has failed."""
    clock = Clock()
    limiter = LoginLimiter(clock)
    attempts = []
    for n in range(5):
        assert limiter.retry_after("nas", f"203.0.113.{n}", None) is None
        attempts.append(limiter.attempt("nas", f"203.0.113.{n}", None))
    assert wait(limiter, "nas", "203.0.113.9") == 1.0
    limiter.succeeded(attempts[0])
    assert wait(limiter, "nas", "203.0.113.9") == 0.0


def test_the_dashboard_wide_budget_stops_a_storm_from_many_addresses() -> None:
    clock = Clock()
    policy = LoginPolicy()
    limiter = LoginLimiter(clock, policy)
    for n in range(policy.global_failures):     # rotating names, rotating addresses
        fail(limiter, f"guess{n}", f"10.1.{n // 250}.{n % 250}")
    refusal = limiter.retry_after("nobody", "10.9.9.9", None)
    assert refusal is not None and 0 < refusal.seconds <= policy.global_window_s
    assert "dashboard" in refusal.reason
    assert wait(limiter, "nas", "10.9.9.9", "device-1") == 0.0   # known browsers still in
    clock.advance(policy.global_window_s)
    assert wait(limiter, "nobody", "10.9.9.9") == 0.0


def test_forgotten_failures_free_their_memory() -> None:
    clock = Clock()
    limiter = LoginLimiter(clock)
    for n in range(25):
        fail(limiter, f"guess{n}", f"10.0.0.{n}")
        clock.advance(3)
    assert limiter.tracked() > 0
    clock.advance(LoginPolicy().window_s + 1)
    fail(limiter, "late", "10.0.1.1")
    assert limiter.tracked() == 3          # the last attempt's account, address, budget


def test_a_device_cookie_is_good_for_its_supervisor_until_it_expires() -> None:
    clock = Clock()
    cookies = DeviceCookies(clock, lifetime_s=100)
    value = cookies.issue("nas")
    device = cookies.trusted(value, "nas")
    assert device is not None and device in value
    assert cookies.trusted(value, "medan1") is None                   # another account
    assert cookies.trusted(value.replace("nas", "medan1", 1), "medan1") is None  # renamed
    assert cookies.trusted(value[:-1] + ("A" if value[-1] != "A" else "B"), "nas") is None
    assert cookies.trusted("", "nas") is None and cookies.trusted(None, "nas") is None
    assert DeviceCookies(clock).trusted(value, "nas") is None         # another process's key
    clock.advance(100)
    assert cookies.trusted(value, "nas") is None
