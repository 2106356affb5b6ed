"""One site's call path, built in one function: `build_site`, read top to bottom.

The composition root for a site: what `pln123 serve` runs per site and what the end-to-end
tests start against the sandbox. It only constructs objects from the validated config, in
dependency order, each complete when it is made; every rule lives in the pieces. The order:

1. the AMI link to the site's Asterisk, and the table of AsyncAGI sessions (channel ->
   session) that call control plays to;
2. call control over AMI (`AMITelephony`): what the ACD needs of telephony;
3. the self-service stores and the site's ACD (`acd.site.build_acd`);
4. the IVR's menu engine, handing callers to the ACD;
5. the reception (the menus, or the ACD for a caller it queued before a restart), and the
   AsyncAGI router that hands it every new session; after each login, the heartbeat the
   dialplan checks, this site's agents' phones in AstDB (other sites ring them through the
   trunk), the resync that adopts the sessions Asterisk kept while we were away, and the
   reconciliation that ends the calls and rings whose channels are gone;
6. agents' feature codes from their phones;
7. with an `apkt:` section, the sender of tickets to APKT (pln123/apkt, docs/apkt.md),
   reading the ticket outbox as this site's consumer.

`CallCentre` starts and stops the result in one order (start: link, ACD, heartbeat; stop:
the site stops taking calls, rings finish, then the link closes).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import structlog
from twisted.application.service import Service
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime, IStreamClientEndpoint
from twisted.internet.task import deferLater

from acd.agents.phones import PhoneWatch
from acd.audit import AuditLog
from acd.queues.deflections import RedisDeflections
from acd.selfservice.lookups import RedisTicketLookup
from acd.selfservice.outages import CALLER_READ_REUSE_S, RedisOutageBoard
from acd.selfservice.tickets import RedisTicketDesk
from acd.site import AcdSite, build_acd
from acd.store.keys import SiteKeys
from acd.store.redis import RedisStore
from ivr.ami.agi import AGISession, AsyncAGIRouter
from ivr.ami.endpoint import ami_endpoint
from ivr.ami.service import AMICredentials, AMIService
from ivr.callcontrol.agents import AgentDirectory
from ivr.callcontrol.features import FeatureCodes
from ivr.callcontrol.heartbeat import Heartbeat
from ivr.callcontrol.phones import PhoneMonitor
from ivr.callcontrol.reception import Reception
from ivr.callcontrol.recording import Recorder
from ivr.callcontrol.resync import AsyncAGIResync
from ivr.callcontrol.telephony import AMITelephony
from ivr.engine.engine import DEFAULT_TIMEZONE, IVREngine
from ivr.engine.hold import HoldMusic
from ivr.engine.session import IVRServices
from pln123.apkt import build_sender
from pln123.apkt.sender import ApktSender
from pln123.config.model import Config
from pln123.recordings.audit import RecordingAudit
from pln123.recordings.sweep import RecordingSweep

log = structlog.get_logger("pln123.site")

RING_GRACE_S = 5.0    # beyond the ring timeout, for a ring's outcome to arrive at a stop
STEP_TIMEOUT_S = 5.0  # for each step of a stop that talks to Redis or Asterisk


@dataclass(frozen=True)
class AMITarget:
    """Where and as whom to reach the site's Asterisk (the config's, unless overridden)."""

    host: str
    port: int
    username: str
    secret: str

    @classmethod
    def from_config(cls, config: Config, site_name: str) -> AMITarget:
        ami = config.sites[site_name].ami
        return cls(ami.host, ami.port, ami.user, ami.read_secret())


@dataclass(frozen=True)
class StopReport:
    """How a stop went: calls whose ring outcome never came, steps that failed or hung."""

    rings_left: frozenset[str] = frozenset()
    failed_steps: tuple[str, ...] = field(default=())

    @property
    def clean(self) -> bool:
        return not self.rings_left and not self.failed_steps


class CallCentre(Service):
    """One site's call path, built by `build_site`; the attributes are its pieces."""

    def __init__(self, *, config: Config, site_name: str, clock: IReactorTime,
                 ami: AMIService, router: AsyncAGIRouter, telephony: AMITelephony,
                 acd: AcdSite, engine: IVREngine, reception: Reception,
                 heartbeat: Heartbeat, directory: AgentDirectory, features: FeatureCodes,
                 phones: PhoneMonitor | None = None, apkt: ApktSender | None = None,
                 recordings: RecordingSweep | None = None):
        self.config = config
        self.site_name = site_name
        self.clock = clock
        self.ami = ami
        self.router = router
        self.telephony = telephony
        self.acd = acd
        self.engine = engine
        self.reception = reception
        self.heartbeat = heartbeat
        self.directory = directory
        self.features = features
        self.phones = phones
        self.apkt = apkt   # None: the config has no `apkt:` section
        self.recordings = recordings   # None: the config has no `recording:` section
        self._log = log.bind(site=site_name)

    def startService(self) -> None:
        super().startService()  # type: ignore[no-untyped-call]
        self.ami.startService()
        self.heartbeat.start()
        self.acd.start().addErrback(
            lambda failure: self._log.error("acd_start_failed", error=failure.getErrorMessage()))
        if self.apkt is not None:
            self.apkt.start()
        if self.recordings is not None:
            self.recordings.start()

    def stopService(self) -> Deferred[None]:
        super().stopService()  # type: ignore[no-untyped-call]
        return Deferred.fromCoroutine(self.stop()).addCallback(lambda _: None)

    async def stop(self, *, step_timeout_s: float = STEP_TIMEOUT_S) -> StopReport:
        """Stop taking calls, let the rings in progress end, then close the link.

        Other sites see this one down (its status withdrawn) and Asterisk sends new callers
        to the hub (the heartbeat deleted); waiting callers stay queued in Redis and in
        Asterisk's AsyncAGI for the next process, calls talking go on in Asterisk.
        """
        failed: list[str] = []
        await self._step(self.acd.quiesce(), "status_withdraw", step_timeout_s, failed)
        await self._step(self.heartbeat.stop(), "heartbeat_delete", step_timeout_s, failed)
        distributor = self.acd.distributor
        deadline = self.clock.seconds() + self.config.acd.ring_timeout_s + RING_GRACE_S
        while distributor.ringing and self.clock.seconds() < deadline:
            await deferLater(self.clock, 0.1, lambda: None)
        rings_left = distributor.ringing
        if rings_left:
            self._log.warning("site_stop_rings_left", calls=sorted(rings_left))
        await self._step(self.acd.stop(), "agent_commands_stop", step_timeout_s, failed)
        if self.phones is not None:
            self.phones.stop()
        if self.recordings is not None:
            self.recordings.stop()
        if self.apkt is not None:   # unsent tickets stay pending for the next process
            await self._step(self.apkt.stop(), "apkt_sender_stop", step_timeout_s, failed)
        await self._step(self.ami.stopService(), "ami_close", step_timeout_s, failed)
        return StopReport(rings_left, tuple(failed))

    async def _step(self, work: Deferred[None], name: str, timeout_s: float,
                    failed: list[str]) -> None:
        work.addTimeout(timeout_s, self.clock)
        try:
            await work
        except Exception as error:  # noqa: BLE001 - the stop goes on; the report says
            self._log.warning("site_stop_step_failed", step=name, error=str(error))
            failed.append(name)

    def reload(self, config: Config) -> None:
        """Run on `config` from now on (SIGHUP), without touching a call in progress.

        `config` is what `pln123.serve.reload.plan_reload` returns: validated, still serving
        this site, with the settings only a restart can change kept at their old values.
        New callers get the new menus and areas, waiting callers the new timings at their
        next tick.
        """
        if self.site_name not in config.sites:
            raise ValueError(f"the reloaded config has no site {self.site_name!r}")
        self.config = config
        self.engine.reconfigure(config)
        self.acd.reconfigure(config.acd, config.skills)
        self.telephony.trunks = trunk_peers(config, self.site_name)
        self.directory.publish()  # agents added or removed: the trunk rings the new roster


def trunk_peers(config: Config, site_name: str) -> dict[str, str]:
    """Site -> the IAX2 peer a lent agent of that site rings through from here."""
    return {other.name: other.iax2_peer for other in config.sites.values()
            if other.name != site_name}


def build_site(config: Config, site_name: str, store: RedisStore, reactor: IReactorTime, *,
               ami: AMITarget | None = None, endpoint: IStreamClientEndpoint | None = None,
               timezone: str = DEFAULT_TIMEZONE) -> CallCentre:
    """Site `site_name` of `config` on `store`; `ami` and `endpoint` override where the
    site's Asterisk is (the sandbox, tests)."""
    site = config.sites[site_name]
    target = ami or AMITarget.from_config(config, site_name)
    link = AMIService(
        endpoint or ami_endpoint(reactor, target.host, target.port, site.ami.manager.tls),
        AMICredentials(target.username, target.secret, md5=site.ami.md5),
        reactor)
    sessions: dict[str, AGISession] = {}
    site_keys = SiteKeys(site_name, config.acd.pooling.pool_of(site_name))
    recorder = sweep = None
    if config.recording is not None:   # MixMonitor for the queues that record
        recorder = Recorder(config.recording.directory, started=RecordingAudit(
            store, site_keys, config.acd.audit_maxlen, reactor))
        sweep = RecordingSweep(config.recording.host_directory, config.recording.keep_s,
                               reactor)
    hold = HoldMusic()  # prompts then music: one GOSUB once Asterisk showed the subroutine
    telephony = AMITelephony(link, sessions, reactor, callback_dial=config.acd.callback_dial,
                             trunks=trunk_peers(config, site_name), recorder=recorder,
                             hold=hold)

    outages = RedisOutageBoard(store, reactor, reuse_s=CALLER_READ_REUSE_S)
    tickets = RedisTicketDesk(store, reactor)
    acd = build_acd(site_name, config.acd, config.skills, store, telephony, reactor,
                    tickets=tickets, telephony_up=lambda: link.protocol is not None)

    call_log = AuditLog(store, site_keys, config.acd.audit_maxlen, queues=acd.queues)
    engine = IVREngine(config, site_name,
                       IVRServices(acd.distributor, outages, tickets, call_log=call_log,
                                   lookup=RedisTicketLookup(store, reactor),
                                   deflections=RedisDeflections(store, site_keys, reactor),
                                   hold=hold),
                       reactor, timezone)
    reception = Reception(site_name, engine.on_session, acd.distributor)
    router = AsyncAGIRouter(link, link.dispatcher, reactor, reception.take, sessions=sessions)
    heartbeat = Heartbeat(link, reactor, config.asterisk.heartbeat_every_s)
    roster = acd.distributor.roster
    directory = AgentDirectory(link, lambda: {agent: roster.phone(agent) or ""
                                              for agent in roster.known()})
    # After every login: the heartbeat at once (callers dialling right after a restart stay
    # here), whether the dialplan has the hold subroutine, this site's agents' phones for
    # the trunk (other sites ring them through it), then the callers Asterisk kept in
    # AsyncAGI while we were away.
    link.add_resync_hook(lambda _protocol: heartbeat.beat())
    link.add_resync_hook(hold.resync)
    link.add_resync_hook(directory)
    # The agents' phones' states read again (an agent whose phone went while we were away
    # is offered no caller), then followed by their events.
    phones = PhoneMonitor(link.dispatcher, PhoneWatch(
        lambda: {agent: roster.phone(agent) or "" for agent in roster.known()},
        acd.distributor.phone_changed, reactor))
    link.add_resync_hook(phones)
    link.add_resync_hook(AsyncAGIResync(router, reception.retake))
    # What waited on events the link lost (hang-ups, ring outcomes), then Redis made to
    # agree with the channels Asterisk really has (after a crash or restart too).
    link.add_resync_hook(telephony.resync)
    link.add_resync_hook(lambda _protocol: acd.distributor.reconcile())

    features = FeatureCodes(site_name, link.dispatcher, acd.distributor.roster.phone,
                            acd.distributor)
    return CallCentre(config=config, site_name=site_name, clock=reactor, ami=link,
                      router=router, telephony=telephony, acd=acd, engine=engine,
                      reception=reception, heartbeat=heartbeat, directory=directory,
                      features=features, phones=phones, recordings=sweep,
                      apkt=(build_sender(config.apkt, store, reactor, consumer=site_name)
                            if config.apkt is not None else None))
