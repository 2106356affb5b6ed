"""Password checks off the reactor: a small pool of threads of their own, bounded.

An argon2 check costs about a third of a second of CPU by design. On the reactor, which
in `pln123 serve` also runs the AMI link, AsyncAGI, the ACD, the heartbeat and the
watchdog, a storm of wrong logins would stall a site's calls for as long as the storm
lasts. argon2-cffi releases the GIL while it hashes, so a worker thread leaves the reactor
free. The pool is small (one worker by default: a site's CPU is for its calls) and so is
the queue in front of it: a check beyond `workers + waiting` is refused at once (`Busy`,
which the API answers with 503 and Retry-After) rather than queued for ever longer.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorFromThreads

from pln123.web.accounts import Supervisor, verify

Verify = Callable[[Supervisor | None, str], bool]


class Busy(Exception):
    """Every worker is busy and the queue in front of them is full: try again shortly."""


class PasswordChecker:
    def __init__(self, threads: IReactorFromThreads, *, workers: int = 1, waiting: int = 4,
                 verify: Verify = verify):
        if workers < 1 or waiting < 0:
            raise ValueError("at least one worker, and no negative queue")
        self.threads = threads
        self.workers = workers
        self.limit = workers + waiting
        self.verify = verify
        self.in_flight = 0          # changed on the reactor thread only
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def check(self, supervisor: Supervisor | None, password: str) -> Deferred[bool]:
        """Whether `password` is `supervisor`'s (None: an unknown name, checked all the
        same so the time taken does not tell). Raises `Busy` when the pool is full."""
        if self.in_flight >= self.limit:
            raise Busy(f"{self.in_flight} password checks in progress")
        self.in_flight += 1
        result: Deferred[bool] = Deferred()

        def settle(ok: bool | None, error: BaseException | None) -> None:
            self.in_flight -= 1
            if error is not None:
                result.errback(error)
            else:
                result.callback(bool(ok))

        def done(future: Future[bool]) -> None:   # on the worker thread (or a closing one)
            if future.cancelled():
                self.threads.callFromThread(settle, None, Busy("the dashboard is stopping"))
                return
            error = future.exception()
            self.threads.callFromThread(settle, None if error else future.result(), error)

        self._executor().submit(self.verify, supervisor, password).add_done_callback(done)
        return result

    def _executor(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.workers,
                                                thread_name_prefix="pln123-password")
            return self._pool

    def close(self) -> None:
        """Let the workers go once the checks under way are done (they are not waited for)."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
