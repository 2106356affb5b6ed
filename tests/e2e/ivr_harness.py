"""A site's real IVR against the sandbox Asterisk and a real Redis, and scripted callers
dialling area code + 123 into the site's rendered dialplan.

The IVR is wired as `pln123.site.build_site` wires it (AMI link, menu engine, AsyncAGI
router), with an in-memory intake standing in for the ACD behind the hand-off."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace
from typing import Any

from acd.queues.deflections import RedisDeflections
from acd.selfservice.lookups import RedisTicketLookup
from acd.selfservice.outages import RedisOutageBoard
from acd.selfservice.tickets import RedisTicketDesk
from acd.store.keys import SiteKeys
from acd.store.redis import RedisStore
from ivr.ami import AMICredentials, AMIService, AsyncAGIRouter, variable_header
from ivr.ami.endpoint import ami_endpoint
from ivr.engine.engine import IVREngine
from ivr.engine.session import CallSession, IVRServices
from pln123.config import Config
from tests.doubles.ivr import MemoryIntake  # the ACD side of the hand-off
from tests.harness.reactor import clock, poll, reactor
from tools.sandbox import Instance

_caller_numbers = itertools.count(81100000001)


@dataclass
class SiteIVR:
    """The IVR's pieces of a site: its AMI link, the AsyncAGI router and the menu engine."""

    ami: AMIService
    router: AsyncAGIRouter
    engine: IVREngine

    async def stopService(self) -> None:
        await self.ami.stopService()


@dataclass
class RunningIVR:
    site: Instance
    ivr: SiteIVR
    store: RedisStore
    intake: MemoryIntake
    outages: RedisOutageBoard
    tickets: RedisTicketDesk
    callers: list[str] = field(default_factory=list)

    @staticmethod
    def new_number() -> str:
        """A caller number no caller of this run has used."""
        return str(next(_caller_numbers))

    def session_for(self, caller_number: str) -> CallSession | None:
        engine = self.ivr.engine
        for session in [*engine.active.values(), *engine.finished]:
            if session.channel.env.get("agi_callerid") == caller_number:
                return session
        return None

    def finished(self, caller_number: str) -> CallSession | None:
        return next((s for s in self.ivr.engine.finished
                     if s.channel.env.get("agi_callerid") == caller_number), None)

    async def call(
        self,
        area_code: str,
        dtmf: str = "",
        *,
        pause: float = 1.0,
        hold: float = 30.0,
        hangup_after: float | None = None,
        number: str | None = None,
    ) -> str:
        """Dial `<area_code>123` as a new caller who waits `pause` s, keys `dtmf` (SendDTMF
        syntax, `w` = 0.5 s) and stays `hold` s; returns the caller's number (`number`, or
        a new one)."""
        number = number or self.new_number()
        variables = {"PAUSE": f"{pause:g}", "HOLD": f"{hold:g}"}
        if dtmf:
            variables["DTMF"] = dtmf
        if hangup_after is not None:
            variables["HANGUP_AFTER"] = f"{hangup_after:g}"
        site = self.ivr.engine.site.name
        await self.ivr.ami.send_action("Originate", {
            "Channel": f"Local/{area_code}123@pln123-inbound-{site}",
            "Context": "test-caller", "Exten": "s", "Priority": "1",
            "CallerID": f'"Pelanggan" <{number}>', "Async": "true",
            "Variable": variable_header(variables),
        })
        self.callers.append(number)
        return number

    async def wait_finished(self, number: str, seconds: float) -> CallSession:
        await poll(lambda: self.finished(number) is not None, seconds,
                   f"the IVR to finish with caller {number}")
        session = self.finished(number)
        assert session is not None
        return session

    async def stop(self) -> None:
        for session in list(self.ivr.engine.active.values()):
            channel: Any = session.channel
            if not channel.ended:
                try:
                    await self.ivr.ami.send_action("Hangup", {"Channel": channel.channel})
                except Exception:  # noqa: BLE001 - the caller may be gone already
                    pass
        await self.ivr.stopService()
        self.ivr.router.close()
        await self.store.close()


async def start_ivr(config: Config, site: Instance, redis_url: str, *,
                    repeat_callers: bool = False) -> RunningIVR:
    """`repeat_callers`: with the ticket lookup and the `deflected` counter as
    `build_site` wires them (callers with an open ticket hear its status first)."""
    store = RedisStore(redis_url)
    await store.start()
    intake = MemoryIntake()
    outages = RedisOutageBoard(store, clock())
    tickets = RedisTicketDesk(store, clock())
    link = AMIService(ami_endpoint(clock(), "127.0.0.1", site.ami_port, None),
                      AMICredentials("pln123", site.pln123_secret), clock())
    services = IVRServices(intake, outages, tickets)
    if repeat_callers:
        keys = SiteKeys(site.site, config.acd.pooling.pool_of(site.site))
        services = replace(services, lookup=RedisTicketLookup(store, clock()),
                           deflections=RedisDeflections(store, keys, clock()))
    engine = IVREngine(config, site.site, services, clock())
    ivr = SiteIVR(link, AsyncAGIRouter(link, link.dispatcher, clock(), engine.on_session),
                  engine)
    link.startService()
    await ivr.ami.when_connected()
    return RunningIVR(site, ivr, store, intake, outages, tickets)


async def admin(site: Instance) -> AMIService:
    from tests.harness.ami import connect

    return await connect(site, user="sandbox-admin", events="system")


async def prompts_played(site: Instance) -> tuple[AMIService, dict[str, list[str]]]:
    """A sandbox-admin connection recording, per channel, the file of every STREAM FILE and
    GET DATA Asterisk runs (AGIExecStart is not sent to pln123's own AMI user)."""
    from tests.harness.ami import connect

    observer = await connect(site, user="sandbox-admin", events="agi")
    played: dict[str, list[str]] = {}

    def agi_exec(event: Any) -> None:
        command = event.get("Command") or ""
        if command.startswith(("STREAM FILE", "GET DATA")):
            played.setdefault(event.get("Channel") or "", []).append(
                command.split()[2].strip('"'))

    observer.dispatcher.subscribe("AGIExecStart", agi_exec)
    return observer, played


__all__ = ["RunningIVR", "admin", "prompts_played", "reactor", "start_ivr"]
