"""`pln123 loadtest`: N concurrent callers against the real stack, and what it cost.

The stack is tools.demo.stack's: sandbox Asterisk per site, a real redis-server, one real
`pln123 serve` process per site. Agents are Local channels (`[loadtest-agent]`: ring 1 s,
talk 5-15 s) logged in through the command stream. Callers are Originates into the site's
rendered `<area code>123` entry; the scripted caller presses 0 (an agent) one second after
the IVR answers and is patient (30 minutes), so a caller that is not answered was lost by
the system, not by impatience.

Pooling is the shipped config's (one national pool of every site): with several sites,
a site's callers are answered by another site's ready agents through the IAX2 trunk when
its own are busy, as in production; with one site there is nobody to borrow from (the
pool's other sites are not running: they have no ready agents).

Phases: ramp (the first N callers spread over `ramp_s`), hold (for `duration_s`, every
finished call is replaced so N stay live), drain (no new callers; wait until every caller
has hung up, at most `drain_s`). CPU is read from /proc/<pid>/stat of each serve process
(user + system) at the start of the ramp and the end of the drain; AMI events and the
decision latency come from tools.loadtest.observer; outcomes from tools.loadtest.outcomes.

With `sip=True` the callers are SIPp processes over each site's carrier trunk instead
(tools.loadtest.sip_callers): the same key after the same pause, voice as RTP for the
whole call, the same phases; the agents stay the Local agents above. A call SIPp did not
end as scripted is lost too.

With `baseline="app_queue"` the same callers then go, on the same sandbox, through an
Asterisk-only stack (a dialplan IVR and app_queue, tools.loadtest.baseline) with the same
phases, and the report puts Asterisk's CPU per call of both stacks side by side.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from pln123.config import Config
from tools.demo.config import write_overlay
from tools.demo.processes import cpu_seconds
from tools.demo.stack import Say, Stack, StackError, StackSettings, work_folder
from tools.loadtest import baseline
from tools.loadtest.baseline import BaselineReport, QueueObserver
from tools.loadtest.observer import Observer, is_local_caller, is_sip_caller
from tools.loadtest.outcomes import (
    NOT_LOST,
    classify,
    lost,
    outcome,
    pooled,
    records_by_number,
)
from tools.loadtest.report import LoadReport
from tools.loadtest.sip_callers import SipPlan, SippLoad, SipStats
from tools.loadtest.sipp import keys
from tools.sandbox import DEFAULT_CACHE_DIR

AGENT_CONTEXT = "loadtest-agent"
PATIENCE_S = 1800


@dataclass
class LoadOptions:
    calls: int = 200
    sites: tuple[str, ...] = ("palembang",)
    agents: int = 60                 # per site
    duration_s: float = 60.0
    ramp_s: float = 10.0
    drain_s: float = 300.0
    namespace: str = "loadtest"
    redis_url: str | None = None
    cache_dir: Path = DEFAULT_CACHE_DIR
    workdir: Path | None = None
    baseline: str | None = None      # "app_queue": then the Asterisk-only stack's pass
    sip: bool = False                # SIPp callers over the carrier trunk, not Local ones


class Interrupted(Exception):
    pass


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise Interrupted(signal.Signals(signum).name)


def agent_ids(site_index: int, count: int) -> list[str]:
    """Synthetic roster ids: 9 <site index> <3 digits>, e.g. 90001 (5 digits, valid ids)."""
    return [f"9{site_index}{n:03d}" for n in range(1, count + 1)]


def load_overrides(options: LoadOptions, all_sites: list[str]) -> dict[str, Any]:
    roster = []
    for site in options.sites:
        for agent_id in agent_ids(all_sites.index(site), options.agents):
            roster.append({"id": agent_id, "name": f"Load {agent_id}", "site": site,
                           "endpoint": f"Local/{agent_id}@{AGENT_CONTEXT}",
                           "skills": {"general": 5}})
    # the outcomes are read from the call records once the drain is over: the first
    # call's record must still be there (an ended call's record expires)
    keep_s = max(3600, int(options.ramp_s + options.duration_s + options.drain_s) + 600)
    return {"agents": roster, "acd": {
        "ended_call_keep_s": min(keep_s, 7 * 24 * 3600),
        "ring_timeout_s": 10, "callback_offer_ewt_s": 3600,
        "callback_dial": "Local/{number}@test-answer",
        "queues": {"general": {"wrapup_s": 2, "max_wait_s": PATIENCE_S}}}}


def run_loadtest(options: LoadOptions, say: Say = print) -> LoadReport:
    """Run the test; StackError if the stack fails, Interrupted on SIGINT/SIGTERM."""
    import yaml

    from tools.demo.config import SHIPPED_CONFIG

    shipped_sites = list(yaml.safe_load(SHIPPED_CONFIG.read_text(encoding="utf-8"))["sites"])
    unknown = [s for s in options.sites if s not in shipped_sites]
    if unknown:
        raise StackError(f"no site {', '.join(unknown)} in {SHIPPED_CONFIG}")
    workdir, temporary = work_folder(options.workdir, "pln123-loadtest-")
    config = write_overlay(workdir / "loadtest.yaml", load_overrides(options, shipped_sites))
    stack = Stack(StackSettings(config=workdir / "loadtest.yaml", pooling=config.acd.pooling,
                                sites=options.sites, workdir=workdir,
                                namespace=options.namespace,
                                cache_dir=options.cache_dir, redis_url=options.redis_url,
                                sip=options.sip),
                  say)
    if options.baseline is not None and options.baseline not in baseline.STACKS:
        raise StackError(f"no baseline {options.baseline!r}: {', '.join(baseline.STACKS)}")
    if options.baseline is not None and options.sip:
        raise StackError("the app_queue baseline has Local callers only: no --sip with it")
    previous = {sig: signal.signal(sig, _interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
    observers: dict[str, Observer] = {}
    queue_observers: dict[str, QueueObserver] = {}
    try:
        stack.start()
        roster = {site: [a.id for a in config.acd.agents if a.site == site]
                  for site in options.sites}
        stack.login_agents(roster)
        _wait_ready(stack, roster, say)
        observers = {site: Observer(stack.instances[site], AGENT_CONTEXT,
                                    is_sip_caller if options.sip else is_local_caller)
                     for site in options.sites}
        if options.sip:
            report = _drive_sip(stack, config, options, observers,
                                sip_plans(options, shipped_sites), workdir, say)
        else:
            report = _drive(stack, config, options, observers, say)
        if options.baseline is not None:
            for observer in observers.values():
                observer.stop()
            observers = {}
            for child in stack.serves.values():
                child.stop()   # Asterisk alone now: nothing of pln123 may cost it anything
            for site, ids in roster.items():
                baseline.add_members(stack.ami(site), ids, AGENT_CONTEXT)
            queue_observers = {site: QueueObserver(stack.instances[site])
                               for site in options.sites}
            report.baseline = _drive_baseline(stack, config, options, queue_observers, say)
        return report
    finally:
        for sig in previous:
            signal.signal(sig, signal.SIG_IGN)
        for observer in observers.values():
            observer.stop()
        for queue_observer in queue_observers.values():
            queue_observer.stop()
        stack.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if temporary is not None:
            temporary.cleanup()


def _wait_ready(stack: Stack, roster: dict[str, list[str]], say: Say,
                timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stack.check()
        if all(sum(1 for s in stack.agent_states(site).values() if s == "ready") == len(ids)
               for site, ids in roster.items()):
            say(f"loadtest: {sum(map(len, roster.values()))} agents ready")
            return
        time.sleep(0.2)
    raise StackError("the agents were not all ready within 60 s")


# The scripted caller's part: 0 (an agent) one second after the answer, then patience.
CALLER = {"DTMF": "0", "PAUSE": "1", "HOLD": str(PATIENCE_S)}
Dial = Callable[[str, str, str, Mapping[str, str]], None]   # (site, area code, number, vars)


def _callers(options: LoadOptions, areas: Mapping[str, str], prefix: str, dial_one: Dial,
             live: Callable[[], int], check: Callable[[], None],
             say: Say) -> tuple[list[str], float]:
    """Ramp, hold and drain (the module's docstring) with `dial_one` placing each caller,
    numbered `<prefix><8 digits>`; the numbers dialled and the seconds it took."""
    sites = list(options.sites)
    numbers: list[str] = []
    dialled_at: list[float] = []

    def dial(count: int) -> None:
        for _ in range(count):
            site = sites[len(numbers) % len(sites)]
            number = f"{prefix}{len(numbers) + 1:08d}"
            dial_one(site, areas[site], number, CALLER)
            numbers.append(number)
            dialled_at.append(time.monotonic())

    def in_flight() -> int:
        """Callers dialled in the last 2 s: maybe not seen by the observer yet."""
        recent = time.monotonic() - 2.0
        return sum(1 for at in dialled_at[-options.calls:] if at > recent)

    started = time.monotonic()
    say(f"loadtest: ramp: {options.calls} callers over {options.ramp_s:.0f} s")
    while len(numbers) < options.calls:
        due = int(options.calls * min(1.0, (time.monotonic() - started) / options.ramp_s))
        dial(max(0, min(due, options.calls) - len(numbers)))
        check()
        time.sleep(0.05)
    hold_until = started + options.ramp_s + options.duration_s
    say(f"loadtest: hold: {options.calls} live callers for {options.duration_s:.0f} s")
    next_say = time.monotonic() + 10
    while time.monotonic() < hold_until:
        dial(max(0, min(20, options.calls - live() - in_flight())))
        check()
        if time.monotonic() >= next_say:
            say(f"loadtest: +{time.monotonic() - started:.0f} s, {live()} live, "
                f"{len(numbers)} offered")
            next_say += 10
        time.sleep(0.25)
    say(f"loadtest: drain: waiting for {live()} live callers (at most {options.drain_s:.0f} s)")
    drain_until = time.monotonic() + options.drain_s
    while (live() > 0 or in_flight() > 0) and time.monotonic() < drain_until:
        check()
        time.sleep(0.5)
    return numbers, time.monotonic() - started


class CpuMeter:
    """CPU seconds (user + system, /proc/<pid>/stat) each site's serve process and its
    Asterisk spent since the meter was made."""

    def __init__(self, stack: Stack, sites: list[str]):
        self.serves = {site: stack.serves[site].pid for site in sites}
        self.asterisks = {site: stack.instances[site].pid or 0 for site in sites}
        self._serve0 = {site: cpu_seconds(pid) for site, pid in self.serves.items()}
        self._asterisk0 = {site: cpu_seconds(pid) for site, pid in self.asterisks.items()}

    def spent(self) -> tuple[dict[str, float], dict[str, float]]:
        """(serve processes, Asterisks) by site."""
        return ({site: cpu_seconds(pid) - self._serve0[site]
                 for site, pid in self.serves.items()},
                {site: cpu_seconds(pid) - self._asterisk0[site]
                 for site, pid in self.asterisks.items()})


def _drive(stack: Stack, config: Config, options: LoadOptions,
           observers: dict[str, Observer], say: Say) -> LoadReport:
    sites = list(options.sites)
    areas = {site: config.sites[site].primary_area.code for site in sites}
    meter = CpuMeter(stack, sites)
    for observer in observers.values():
        observer.reset_count()
    numbers, seconds = _callers(
        options, areas, "0813", stack.call,
        lambda: sum(observer.live() for observer in observers.values()),
        lambda: _check(stack, observers), say)
    cpu, ast = meter.spent()
    seen = [observer.snapshot() for observer in observers.values()]
    ivr_took = set().union(*(s.agi_started for s in seen))
    records = records_by_number(stack.client, [stack.keys(site) for site in sites])
    counts = classify(numbers, records, ivr_took)
    return LoadReport(
        concurrent_target=options.calls, sites=sites, agents_per_site=options.agents,
        seconds=seconds, offered=len(numbers),
        peak_concurrent=sum(s.peak_live for s in seen), outcomes=dict(counts),
        lost=lost(counts), pooled=pooled(numbers, records), pln123_cpu_s=cpu,
        asterisk_cpu_s=ast,
        ami_events=sum(s.events for s in seen),
        latencies_ms=[1000 * x for s in seen for x in s.latencies])


def sip_plans(options: LoadOptions, all_sites: list[str]) -> dict[str, SipPlan]:
    """Each site's SIPp: the callers split over the sites (the first ones take the rest),
    each call's audio as long as a call can last (a caller is patient)."""
    share, rest = divmod(options.calls, len(options.sites))
    longest = min(float(PATIENCE_S), options.ramp_s + options.duration_s + options.drain_s)
    return {site: SipPlan(site_index=all_sites.index(site),
                          concurrent=share + (1 if index < rest else 0),
                          ramp_s=options.ramp_s,
                          placing_s=options.ramp_s + options.duration_s,
                          call_bound_s=longest)
            for index, site in enumerate(options.sites) if share or index < rest}


def _drive_sip(stack: Stack, config: Config, options: LoadOptions,
               observers: dict[str, Observer], plans: Mapping[str, SipPlan], workdir: Path,
               say: Say) -> LoadReport:
    """The same phases with SIPp callers (tools.loadtest.sip_callers)."""
    sites = list(options.sites)
    meter = CpuMeter(stack, sites)
    for observer in observers.values():
        observer.reset_count()

    def live() -> int:
        return sum(observer.live() for observer in observers.values())

    loads: dict[str, SippLoad] = {}
    try:
        started = time.monotonic()
        for site, plan in plans.items():
            instance = stack.instances[site]
            if instance.sip_port is None:
                raise StackError(f"the sandbox gave {site} no SIP port")
            area = config.sites[site].primary_area.code
            loads[site] = SippLoad.start(
                site, plan, workdir / f"sipp-{site}", sip_port=instance.sip_port,
                dialled=f"{area}123", caller_keys=keys(CALLER["DTMF"]),
                first_key_after_s=float(CALLER["PAUSE"]))
            say(f"loadtest: SIPp for {site} (pid {loads[site].pid}): {plan.concurrent} "
                f"callers at {plan.rate_per_s:.1f}/s, then each ended call replaced")

        def check() -> None:
            _check(stack, observers)
            for load in loads.values():
                failure = load.failure()
                if failure is not None:
                    raise StackError(failure)

        def offered() -> int:
            return sum(len(load.journal()[0]) for load in loads.values())

        say(f"loadtest: ramp: {options.calls} SIP callers over {options.ramp_s:.0f} s")
        ramp_until = started + 2 * options.ramp_s + 30
        while offered() < options.calls:
            check()
            stopped = not any(load.running() for load in loads.values())
            if stopped or time.monotonic() > ramp_until:
                raise StackError(f"SIPp placed {offered()} of {options.calls} callers in "
                                 f"{time.monotonic() - started:.0f} s")
            time.sleep(0.25)
        hold_until = started + options.ramp_s + options.duration_s
        say(f"loadtest: hold: {options.calls} live callers for {options.duration_s:.0f} s")
        next_say = time.monotonic() + 10
        while time.monotonic() < hold_until:
            check()
            if time.monotonic() >= next_say:
                say(f"loadtest: +{time.monotonic() - started:.0f} s, {live()} live, "
                    f"{offered()} offered")
                next_say += 10
            time.sleep(0.25)
        for load in loads.values():
            load.end_hold()
        say(f"loadtest: drain: waiting for {live()} live callers (at most "
            f"{options.drain_s:.0f} s)")
        drain_until = time.monotonic() + options.drain_s
        while (any(load.running() for load in loads.values())
               and time.monotonic() < drain_until):
            check()
            time.sleep(0.5)
        seconds = time.monotonic() - started
    finally:
        for load in loads.values():
            load.stop()
    cpu, ast = meter.spent()
    return _sip_report(stack, options, observers, list(loads.values()), seconds, cpu, ast)


def _sip_report(stack: Stack, options: LoadOptions, observers: dict[str, Observer],
                loads: list[SippLoad], seconds: float, cpu: dict[str, float],
                ast: dict[str, float]) -> LoadReport:
    """Lost: a caller the ACD did not answer (or call back), or whose call SIPp did not
    end as scripted; each once."""
    sites = list(options.sites)
    numbers: list[str] = []
    completed: set[str] = set()
    for load in loads:
        dialled, done = load.journal()
        numbers += dialled
        completed |= done
    stats = [load.stats() for load in loads]
    seen = [observer.snapshot() for observer in observers.values()]
    ivr_took = set().union(*(s.agi_started for s in seen))
    records = records_by_number(stack.client, [stack.keys(site) for site in sites])
    counts = classify(numbers, records, ivr_took)
    lost_numbers = {number for number in numbers
                    if number not in completed
                    or outcome(records.get(number, []), number in ivr_took) not in NOT_LOST}
    return LoadReport(
        concurrent_target=options.calls, sites=sites, agents_per_site=options.agents,
        seconds=seconds, offered=len(numbers),
        peak_concurrent=sum(s.peak_live for s in seen), outcomes=dict(counts),
        lost=len(lost_numbers), pooled=pooled(numbers, records), pln123_cpu_s=cpu,
        asterisk_cpu_s=ast, ami_events=sum(s.events for s in seen),
        latencies_ms=[1000 * x for s in seen for x in s.latencies], transport="sip",
        sip=SipStats(sum(s.dialled for s in stats), sum(s.completed for s in stats),
                     sum(s.successful for s in stats), sum(s.failed for s in stats),
                     [ms for s in stats for ms in s.answer_ms],
                     sum(s.call_length_s * s.successful for s in stats)
                     / max(1, sum(s.successful for s in stats))))


def _drive_baseline(stack: Stack, config: Config, options: LoadOptions,
                    observers: dict[str, QueueObserver], say: Say) -> BaselineReport:
    """The same callers through the Asterisk-only stack (tools.loadtest.baseline)."""
    sites = list(options.sites)
    areas = {site: config.sites[site].primary_area.code for site in sites}
    asterisk_pids = {site: stack.instances[site].pid or 0 for site in sites}
    say(f"loadtest: the same callers through the Asterisk-only stack ({options.baseline})")

    def dial_one(site: str, area: str, number: str, variables: Mapping[str, str]) -> None:
        baseline.originate(stack.ami(site), area, number, variables)

    def check() -> None:
        for site, instance in stack.instances.items():
            if not instance.is_running():
                raise StackError(f"Asterisk of {site} is no longer running:\n"
                                 f"{instance.log_tail(10)}")
        for observer in observers.values():
            if observer.error is not None:
                raise StackError(observer.error)

    ast0 = {site: cpu_seconds(pid) for site, pid in asterisk_pids.items()}
    numbers, seconds = _callers(
        options, areas, "0814", dial_one,
        lambda: sum(observer.live() for observer in observers.values()), check, say)
    ast = {site: cpu_seconds(pid) - ast0[site] for site, pid in asterisk_pids.items()}
    seen = [observer.snapshot() for observer in observers.values()]
    answered = set().union(*(s.answered for s in seen)) & set(numbers)
    abandoned = (set().union(*(s.abandoned for s in seen)) & set(numbers)) - answered
    return BaselineReport(
        stack=options.baseline or "", seconds=seconds, offered=len(numbers),
        peak_concurrent=sum(s.peak_live for s in seen), answered=len(answered),
        abandoned=len(abandoned), lost=len(numbers) - len(answered), asterisk_cpu_s=ast)


def _check(stack: Stack, observers: dict[str, Observer]) -> None:
    stack.check()
    for observer in observers.values():
        if observer.error is not None:
            raise StackError(observer.error)
