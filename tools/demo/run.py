"""`pln123 demo`: PLN's five sites on this machine, with callers, agents and the dashboard.

What runs: five sandbox Asterisks joined by their rendered IAX2 trunks, an embedded
redis-server, one `pln123 serve` per site, `pln123 dashboard` (at 127.0.0.1:8123 by
default). Agents are Local channels (`[demo-agent]`: ring 2-4 s, talk 8-30 s) logged in
through the command stream at start; callers are AMI Originates into each site's rendered
`<area code>123` entry with the sandbox's scripted caller pressing 0 for an agent. After a
minute (or `--surge-after`) Palembang, staffed by two agents, gets a surge: national
pooling lets the ready agents of the other sites answer its callers while its own two are
busy (Medan first, its sibling; then Jakarta, the hub; then Surabaya and Makassar), each
site keeping one ready agent (DEMO_RESERVE) for its own callers. The callers never leave
Palembang's Asterisk: a lent agent's phone rings through the IAX2 trunk. The dashboard
shows it as Palembang borrowing and the others lending.

Ctrl-C or SIGTERM stops everything by PID (pln123 processes, the dashboard, Asterisk via
`sandbox down`, Redis); so does a child that dies (exit status 1).
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import yaml

from pln123.config import Config
from tools.demo.apkt import DemoApkt
from tools.demo.config import SHIPPED_CONFIG, agents_on, merge, write_overlay
from tools.demo.figures import format_figures, site_figures
from tools.demo.processes import ChildError
from tools.demo.stack import Say, Stack, StackError, StackSettings, work_folder
from tools.demo.traffic import Caller, Surge, Traffic
from tools.sandbox import DEFAULT_CACHE_DIR

SITES = ("palembang", "medan", "jakarta", "surabaya", "makassar")
SURGE_SITE = "palembang"
# Agents logged in per site (the first N of the roster) and the mean gap between callers.
LOGGED_IN = {"palembang": 2, "medan": 4, "jakarta": 6, "surabaya": 3, "makassar": 3}
STEADY_EVERY_S = {"palembang": 20.0, "medan": 15.0, "jakarta": 10.0, "surabaya": 15.0,
                  "makassar": 15.0}
DEMO_LOGIN = ("nasional", "demo-nasional-123")  # deploy/config/pln.yaml's demo supervisor
AGENT_CONTEXT = "demo-agent"
# Ready agents each site keeps for its own callers. A fixed 1 rather than the shipped
# `auto`: auto starts at 0 and its service-level part steps once every 5 minutes, so for the
# whole of a demo a site would lend its last ready agent; with 1, the surge visibly spreads
# from Medan to Jakarta to the others as each comes down to its last ready agent, and every
# site still answers its own next caller at once (docs/demo.md).
DEMO_RESERVE = 1


@dataclass
class DemoOptions:
    namespace: str = "demo"
    listen: str = "127.0.0.1:8123"
    redis_url: str | None = None
    surge_after_s: float = 60.0
    surge_lasts_s: float = 180.0
    surge_every_s: float = 3.0
    duration_s: float | None = None      # None: until Ctrl-C / SIGTERM
    seed: int = 123
    cache_dir: Path = DEFAULT_CACHE_DIR
    workdir: Path | None = None          # None: a temporary folder, removed at the end
    report_every_s: float = 15.0


def demo_overrides() -> dict[str, Any]:
    """The demo's changes to the shipped config (the rest of the file is used as it is)."""
    shipped = yaml.safe_load(SHIPPED_CONFIG.read_text(encoding="utf-8"))
    return {
        "agents": agents_on(shipped, AGENT_CONTEXT),
        "acd": {
            "ring_timeout_s": 10,
            "callback_offer_ewt_s": 3600,     # the scripted callers do not answer offers
            "callback_dial": "Local/{number}@test-answer",
            "queues": {skill: {"wrapup_s": 3} for skill in shipped["skills"]},
            "pooling": {"enabled": True, "reserve": DEMO_RESERVE},
        },
    }


class _Stopped(Exception):
    """SIGINT or SIGTERM arrived."""


def _raise_stopped(signum: int, frame: FrameType | None) -> None:
    raise _Stopped(signal.Signals(signum).name)


def run_demo(options: DemoOptions, say: Say = print) -> int:
    """Run until the duration ends (0), a signal (0) or a failure (1)."""
    workdir, temporary = work_folder(options.workdir, "pln123-demo-")
    previous = {sig: signal.signal(sig, _raise_stopped) for sig in (signal.SIGINT,
                                                                     signal.SIGTERM)}
    apkt = DemoApkt(workdir, options.listen)
    config = write_overlay(workdir / "demo.yaml", merge(demo_overrides(), apkt.overrides()))
    stack = Stack(StackSettings(config=workdir / "demo.yaml", pooling=config.acd.pooling,
                                sites=SITES, workdir=workdir,
                                namespace=options.namespace, cache_dir=options.cache_dir,
                                redis_url=options.redis_url, dashboard=options.listen), say)
    status = 0
    try:
        apkt.start()
        stack.start()
        stack.login_agents(_logged_in(config))
        say(f"demo: APKT stand-in on {apkt.url} (pid {apkt.child.pid}): tickets go there, "
            "its field work comes back to the dashboard's webhook")
        _banner(stack, options, workdir, say)
        _drive(stack, _traffic(config, options), options, say)
        say("demo: duration reached, stopping")
    except _Stopped as stop:
        say(f"demo: {stop} received, stopping")
    except (StackError, ChildError) as error:
        say(f"demo: error: {error}")
        status = 1
    finally:
        for sig in previous:  # a second Ctrl-C must not cut the clean-up short
            signal.signal(sig, signal.SIG_IGN)
        stack.stop()
        apkt.stop()
        say("demo: stopped every process (Asterisk, pln123 serve, dashboard, Redis, APKT)")
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if temporary is not None and status == 0:
            temporary.cleanup()
        elif temporary is not None:
            say(f"demo: logs kept in {workdir}")
    return status


def _logged_in(config: Config) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {site: [] for site in SITES}
    for agent in config.acd.agents:
        if agent.site in found and len(found[agent.site]) < LOGGED_IN[agent.site]:
            found[agent.site].append(agent.id)
    return found


def _traffic(config: Config, options: DemoOptions) -> Traffic:
    codes = {site: [a.code for a in config.sites[site].area_codes] for site in SITES}
    surge = Surge(SURGE_SITE, options.surge_after_s, options.surge_lasts_s,
                  options.surge_every_s)
    return Traffic(codes, STEADY_EVERY_S, surge, seed=options.seed)


def _banner(stack: Stack, options: DemoOptions, workdir: Path, say: Say) -> None:
    say("")
    say(f"demo: dashboard  http://{options.listen}/   login {DEMO_LOGIN[0]} / {DEMO_LOGIN[1]}")
    say(f"demo: Palembang surge at +{options.surge_after_s:.0f} s, answered by the other "
        "sites' agents through the national pool; Ctrl-C stops everything")
    for role, pid in sorted(stack.pids().items()):
        say(f"demo: pid {role} {pid}")
    say(f"demo: config and logs in {workdir}")
    say("")


def _drive(stack: Stack, traffic: Traffic, options: DemoOptions, say: Say,
           clock: Callable[[], float] = time.monotonic) -> None:
    started = clock()
    next_report = options.report_every_s
    surge_announced = False
    while True:
        elapsed = clock() - started
        if options.duration_s is not None and elapsed >= options.duration_s:
            return
        stack.check()
        for caller in traffic.due(elapsed):
            if caller.surge and not surge_announced:
                say(f"demo: +{elapsed:.0f} s surge at {caller.site}")
                surge_announced = True
            _dial(stack, caller)
        if elapsed >= next_report:
            rows = [site_figures(stack.client, stack.keys(site)) for site in SITES]
            say(f"demo: +{elapsed:.0f} s, calls so far (lent/borrowed: answered by another "
                "site's agents)")
            for line in format_figures(rows):
                say(f"demo:   {line}")
            next_report += options.report_every_s
        time.sleep(0.2)


def _dial(stack: Stack, caller: Caller) -> None:
    stack.call(caller.site, caller.area_code, caller.number, {
        "DTMF": caller.dtmf, "PAUSE": f"{caller.pause_s:g}", "HOLD": str(caller.patience_s)})
