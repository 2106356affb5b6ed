"""One site's `pln123 serve` process: start, readiness, SIGHUP reload, SIGTERM drain, exit.

`CallCentre` (pln123.site) is the site's call path; this wraps it in what an operator
and systemd need (docs/operations.md, "pln123 serve"):

* READY=1 once the AMI login and a Redis PING both succeeded; WATCHDOG=1 while the
  reactor turns and neither link has been down for `UNHEALTHY_AFTER_S`.
* SIGHUP: RELOADING=1, the config file read again and validated; a valid one is applied
  with `CallCentre.reload` (see pln123.serve.reload for what applies live), a broken one
  is refused with its key-path problems logged, and the running config stays. READY=1.
* SIGTERM/SIGINT: STOPPING=1, then the drain: the site's status is withdrawn (other sites
  stop sending calls) and its AstDB heartbeat deleted (Asterisk sends new callers to the
  hub), announcements and the pool keeper stop, rings in progress get up to the ring timeout to
  end, then the AMI link closes. Waiting callers stay queued in Redis and in Asterisk's
  AsyncAGI: the next `serve` adopts them in their order (AsyncAGI resync). Calls talking
  continue in Asterisk; the next process's `recover()` follows them to their end.

Exit statuses are in `ExitCode`.
"""

from __future__ import annotations

import enum
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import structlog
from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IListeningPort, IReactorThreads, IReactorTime
from twisted.internet.task import LoopingCall
from twisted.internet.threads import deferToThreadPool
from twisted.python.failure import Failure

from acd.store.redis import RedisStore
from pln123.config import ConfigError, load_config
from pln123.config.model import Config
from pln123.serve.reload import ReloadPlan, ReloadRefused, plan_reload
from pln123.serve.systemd import SystemdNotifier
from pln123.site import CallCentre

log = structlog.get_logger("pln123.serve")

REDIS_PROBE_S = 5.0          # a PING this often: readiness and the watchdog's health
UNHEALTHY_AFTER_S = 30.0     # AMI or Redis down this long: stop feeding systemd's watchdog
STOP_TIMEOUT_S = 5.0         # for the status withdrawal, the DBDel, the AMI logoff


class ExitCode(enum.IntEnum):
    """What `pln123 serve` exits with (docs/operations.md lists them for admins)."""

    STOPPED = 0        # SIGTERM/SIGINT, drained cleanly
    FAILED = 1         # an unexpected error (a bug: the traceback is in the log)
    BAD_CONFIG = 2     # invalid config or arguments; restarting will not help
    CANNOT_START = 3   # e.g. the dashboard's port is taken, a TLS file is unreadable
    DRAIN_TIMEOUT = 4  # stopped, but the drain did not finish in time (see the log)


class ServeRuntime:
    def __init__(self, centre: CallCentre, store: RedisStore, reactor: Any,
                 config_path: Path, notifier: SystemdNotifier, *,
                 listeners: list[IListeningPort] | None = None,
                 load: Callable[[Path], Config] = load_config):
        self.centre = centre
        self.store = store
        self.reactor = reactor
        self.clock: IReactorTime = reactor
        self.config_path = config_path
        self.notifier = notifier
        self.listeners = listeners or []
        self.load = load
        self.exit_code = ExitCode.STOPPED
        self.draining = False
        self.ready = False
        self._reloading = False
        self._started_at = self.clock.seconds()
        self._ami_seen = self._started_at      # last time the AMI link was seen up
        self._redis_ok_at: float | None = None  # last PING answered
        self._probe = LoopingCall(self._probe_redis)
        self._probe.clock = self.clock
        self._log = log.bind(site=centre.site_name)

    # -- start -----------------------------------------------------------------------------

    def start(self) -> None:
        """On the running reactor: signals, Redis, the site's services, the watchdog."""
        self._install_signals()
        Deferred.fromCoroutine(self._start()).addErrback(self._start_failed)

    async def _start(self) -> None:
        try:
            await self.store.start()
            self._redis_ok_at = self.clock.seconds()
        except Exception as error:  # noqa: BLE001 - Redis may come later: it reconnects
            self._log.error("redis_unreachable_at_start", redis=self.store.where,
                            error=str(error))
        if self.draining:
            return
        self.centre.ami.add_resync_hook(self._ami_logged_in)
        self.centre.startService()
        self._probe.start(REDIS_PROBE_S, now=False)
        self.notifier.start_watchdog(healthy=self.healthy)
        self._log.info("serve_started", config=str(self.config_path),
                       systemd=self.notifier.enabled)
        self._maybe_ready()

    def _start_failed(self, failure: Failure) -> None:
        self._log.error("serve_start_failed", error=failure.getErrorMessage(),
                        traceback=failure.getTraceback())
        self.exit_code = ExitCode.CANNOT_START
        if self.reactor.running:
            self.reactor.stop()

    def _install_signals(self) -> None:
        import asyncio

        loop = asyncio.get_event_loop()
        loop.add_signal_handler(signal.SIGTERM, self.terminate, "SIGTERM")
        loop.add_signal_handler(signal.SIGINT, self.terminate, "SIGINT")
        loop.add_signal_handler(signal.SIGHUP, self.hangup)

    def _ami_logged_in(self, _protocol: object) -> None:
        self._ami_seen = self.clock.seconds()
        self._maybe_ready()

    def _probe_redis(self) -> Deferred[None]:
        async def ping(client: Any) -> None:
            await client.ping()

        async def probe() -> None:
            try:
                if not self.store.started:
                    await self.store.start()
                else:
                    await self.store.run(ping)
            except Exception as error:  # noqa: BLE001 - a probe reports, never raises
                if self._redis_ok_at is not None:
                    self._log.warning("redis_probe_failed", error=str(error))
                return
            self._redis_ok_at = self.clock.seconds()
            self._maybe_ready()

        return Deferred.fromCoroutine(probe())

    def _maybe_ready(self) -> None:
        if self.ready or self.draining:
            return
        if self.centre.ami.protocol is None or self._redis_ok_at is None:
            return
        self.ready = True
        self.notifier.ready(f"site {self.centre.site_name}: serving")
        self._log.info("serve_ready")

    def healthy(self) -> bool:
        """For the watchdog: the reactor runs (or we would not be asked), and neither AMI
        nor Redis has been unreachable for longer than UNHEALTHY_AFTER_S."""
        now = self.clock.seconds()
        if self.centre.ami.protocol is not None:
            self._ami_seen = now
        redis_seen = self._started_at if self._redis_ok_at is None else self._redis_ok_at
        return (now - self._ami_seen <= UNHEALTHY_AFTER_S
                and now - redis_seen <= UNHEALTHY_AFTER_S)

    # -- SIGHUP ----------------------------------------------------------------------------

    def hangup(self) -> None:
        """SIGHUP: the file is read and checked on a thread of the reactor's pool (a big
        or hostile file must not hold up calls and the watchdog), then applied here."""
        if self.draining or self._reloading:
            self._log.warning("config_reload_ignored",
                              reason="draining" if self.draining else "a reload is running")
            return
        self._reloading = True
        self.notifier.reloading()

        def done(plan: ReloadPlan | None) -> None:
            if plan is not None:
                self._apply(plan)

        def finished(result: object) -> None:
            self._reloading = False
            self.notifier.ready(f"site {self.centre.site_name}: serving")

        if IReactorThreads.providedBy(self.reactor):
            read: Deferred[ReloadPlan | None] = deferToThreadPool(
                self.reactor, self.reactor.getThreadPool(), self._read)
        else:
            read = succeed(self._read())
        read.addCallback(done).addErrback(self._reload_failed).addBoth(finished)

    def reload(self) -> bool:
        """Read and apply the config file again; False (old config kept) when refused."""
        plan = self._read()
        return plan is not None and self._apply(plan)

    def _read(self) -> ReloadPlan | None:
        """The validated new config and what it changes; None (logged) when refused, for
        whatever reason: no failure of reading may stop the site or half-apply a file."""
        site = self.centre.site_name
        try:
            new = self.load(self.config_path)
            return plan_reload(self.centre.config, new, site)
        except ConfigError as error:
            problems = [{"key": p.path or "<top>", "error": p.message}
                        for p in error.problems]
            for problem in problems:
                self._log.error("config_problem", config=str(self.config_path), **problem)
            self._log.error("config_reload_refused", config=str(self.config_path),
                            problems=problems, kept="the running config")
        except ReloadRefused as error:
            self._refused("sites", str(error))
        except OSError as error:
            self._refused("<file>", str(error))
        except Exception as error:  # noqa: BLE001 - MemoryError, RecursionError, a bug
            self._refused("<file>", f"{type(error).__name__}: {error}")
        return None

    def _apply(self, plan: ReloadPlan) -> bool:
        old = self.centre.config
        try:
            self.centre.reload(plan.effective)
        except Exception as error:  # noqa: BLE001 - a piece refused: put the old one back
            self._log.error("config_reload_failed", error=f"{type(error).__name__}: {error}",
                            traceback=Failure().getTraceback())
            self.centre.reload(old)
            self._refused("<apply>", f"{type(error).__name__}: {error}")
            return False
        self._log.info("config_reloaded", config=str(self.config_path),
                       applied=list(plan.applied), needs_restart=list(plan.needs_restart))
        if plan.needs_restart:
            self._log.warning("config_reload_needs_restart", keys=list(plan.needs_restart),
                              kept="the running values until pln123 serve restarts")
        if plan.asterisk_side:
            self._log.warning("config_reload_render_asterisk", keys=list(plan.asterisk_side),
                              hint="pln123 asterisk render / pln123 dialplan render, then "
                                   "reload Asterisk")
        return True

    def _refused(self, key: str, error: str) -> None:
        self._log.error("config_reload_refused", config=str(self.config_path),
                        problems=[{"key": key, "error": error}], kept="the running config")

    def _reload_failed(self, failure: Failure) -> None:
        self._refused("<file>", failure.getErrorMessage())

    # -- SIGTERM ---------------------------------------------------------------------------

    def terminate(self, why: str = "SIGTERM") -> None:
        if self.draining:
            self._log.info("serve_already_draining", signal=why)
            return
        self.draining = True
        Deferred.fromCoroutine(self.drain(why)).addBoth(self._stopped)

    async def drain(self, why: str) -> None:
        self.notifier.stopping()
        self.notifier.status(f"site {self.centre.site_name}: draining")
        self._log.info("serve_draining", signal=why)
        report = await self.centre.stop(step_timeout_s=STOP_TIMEOUT_S)
        if not report.clean:
            self.exit_code = ExitCode.DRAIN_TIMEOUT
        for port in self.listeners:
            await self._bounded(port.stopListening(), "dashboard_stop")
        if self._probe.running:
            self._probe.stop()
        self.notifier.close()
        await self._bounded(self.store.close(), "redis_close")
        self._log.info("serve_stopped", exit_code=int(self.exit_code))

    async def _bounded(self, work: Deferred[Any] | None, what: str) -> None:
        if work is None:
            return
        work.addTimeout(STOP_TIMEOUT_S, self.clock)
        try:
            await work
        except Exception as error:  # noqa: BLE001 - the drain goes on, the exit code says
            self._log.warning("serve_drain_step_failed", step=what, error=str(error))
            self.exit_code = ExitCode.DRAIN_TIMEOUT

    def _stopped(self, result: object) -> None:
        if isinstance(result, Failure):
            self._log.error("serve_drain_failed", error=result.getErrorMessage(),
                            traceback=result.getTraceback())
            self.exit_code = ExitCode.FAILED
        if self.reactor.running:
            self.reactor.stop()
