"""Password checks run in a small pool of their own threads, never on the reactor's, and a
check beyond the pool's bound is refused at once (the API answers 503) instead of queued."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any

import pytest
from twisted.internet.interfaces import IReactorFromThreads
from zope.interface import implementer

from pln123.web.accounts import Role, Supervisor, hash_password, verify
from pln123.web.passwords import Busy, PasswordChecker

NAS = Supervisor("nas", Role.parse("national"), hash_password("right"))


@implementer(IReactorFromThreads)
class Hands:
    """What the reactor would run for the pool's threads, run here when the test says."""

    def __init__(self) -> None:
        self.calls: queue.Queue[tuple[Callable[..., Any], tuple[Any, ...]]] = queue.Queue()

    def callFromThread(self, f: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        self.calls.put((f, args))

    def run_one(self) -> None:
        f, args = self.calls.get(timeout=10)
        f(*args)


class Gate:
    """A verify function that waits until released and says which thread ran it."""

    def __init__(self) -> None:
        self.threads: list[int] = []
        self.entered = threading.Semaphore(0)
        self.release = threading.Event()

    def __call__(self, supervisor: Supervisor | None, password: str) -> bool:
        self.threads.append(threading.get_ident())
        self.entered.release()
        self.release.wait(10)
        return verify(supervisor, password)


def test_the_hash_is_checked_on_a_pool_thread_not_the_callers() -> None:
    hands, gate = Hands(), Gate()
    checker = PasswordChecker(hands, verify=gate)
    results: list[bool] = []
    checker.check(NAS, "right").addCallback(results.append)
    assert gate.entered.acquire(timeout=10)
    assert results == [] and gate.threads != [threading.get_ident()]
    gate.release.set()
    hands.run_one()
    assert results == [True]
    checker.check(NAS, "wrong").addCallback(results.append)
    hands.run_one()
    assert results == [True, False]
    assert checker.in_flight == 0
    checker.close()


def test_beyond_the_bound_a_check_is_refused_at_once() -> None:
    hands, gate = Hands(), Gate()
    checker = PasswordChecker(hands, workers=1, waiting=2, verify=gate)
    results: list[bool] = []
    for _ in range(3):
        checker.check(NAS, "wrong").addCallback(results.append)
    with pytest.raises(Busy):
        checker.check(NAS, "right")
    assert checker.in_flight == 3
    gate.release.set()
    for _ in range(3):
        hands.run_one()
    assert results == [False, False, False]
    checker.check(NAS, "right").addCallback(results.append)
    hands.run_one()
    assert results[-1] is True
    checker.close()


def test_an_unknown_name_costs_a_check_too() -> None:
    hands, gate = Hands(), Gate()
    gate.release.set()
    checker = PasswordChecker(hands, verify=gate)
    results: list[bool] = []
    checker.check(None, "right").addCallback(results.append)
    hands.run_one()
    assert results == [False] and len(gate.threads) == 1
    checker.close()
