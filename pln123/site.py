"""One site's whole call path as a service: IVR, ACD, self-service, agent controls.

The composition root for a site (what `pln123 serve` and the demo start per site, and what
the end-to-end tests start against the sandbox): it only builds and connects objects from
the validated config — every rule lives in the pieces.
"""

from __future__ import annotations

from collections.abc import Callable

import structlog
from twisted.application.service import MultiService
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime

from acd.agents.commands import AgentCommandConsumer
from acd.distributor import Distributor
from acd.interflow.monitor import InterflowMonitor, Watchers
from acd.interflow.mover import CallMover
from acd.interflow.moves import MoveDesk
from acd.interflow.publisher import StatusPublisher
from acd.interflow.status import StatusBoard
from acd.queues.metrics import SiteMetrics
from acd.queues.store import QueueStore
from acd.selfservice.outages import RedisOutageBoard
from acd.selfservice.tickets import RedisTicketDesk
from acd.store.redis import RedisStore
from acd.telephony import Telephony
from acd.waiting.resume import ResumeStore
from acd.waiting.room import WaitingRoom
from ivr.ami.agi import AGIError, AGISession
from ivr.ami.message import Message
from ivr.callcontrol.heartbeat import Heartbeat
from ivr.callcontrol.resync import AsyncAGIResync
from ivr.dialplan.features import BadAgentCommand, parse_agent_feature
from ivr.dialplan.names import AGI_ARG_ARRIVAL, AGI_ARG_CALL, ARRIVAL_MOVED, ARRIVAL_RETURNED
from ivr.engine.session import HOLD_MUSIC_CLASS, CallSession, IVRServices
from pln123.config.model import Config
from pln123.siteivr import AMITarget, SiteIVR

log = structlog.get_logger("pln123.site")


class SiteCallCentre(MultiService):
    def __init__(
        self,
        config: Config,
        site_name: str,
        store: RedisStore,
        reactor: IReactorTime,
        *,
        ami: AMITarget | None = None,
    ):
        super().__init__()  # type: ignore[no-untyped-call]
        self.config = config
        self.site_name = site_name
        self.store = store
        self.queues = QueueStore(store, site_name, config.acd)
        self.outages = RedisOutageBoard(store, reactor)
        self.tickets = RedisTicketDesk(store, reactor)
        self.metrics = SiteMetrics(store, site_name, config.acd)
        self.resume_store = ResumeStore(store, site_name, config.acd.abandon_resume_s)
        self.board = StatusBoard(store)
        self.desk = MoveDesk(store)
        self.distributor: Distributor | None = None
        self.room: WaitingRoom | None = None
        self.mover: CallMover | None = None
        self.interflow: InterflowMonitor | None = None
        self._recovered = False
        self.ivr = SiteIVR(config, site_name, self._services(reactor), reactor, ami=ami)
        self.ivr.setServiceParent(self)  # type: ignore[no-untyped-call]
        self.ivr.engine.on_handed_off = self._watch_queued_caller
        self.ivr.on_arrival = self._arrival
        self.heartbeat = Heartbeat(self.ivr.ami, reactor, config.asterisk.heartbeat_every_s)
        # At once after every login: callers dialling right after a (re)start stay here.
        self.ivr.ami.add_resync_hook(lambda _protocol: self.heartbeat.beat())
        self.status = StatusPublisher(site_name, config.acd, config.skills, self.metrics,
                                      self.board, reactor,
                                      ami_up=lambda: self.ivr.ami.protocol is not None)
        self.ivr.ami.dispatcher.subscribe("UserEvent", self._agent_feature)
        self.ivr.ami.add_resync_hook(AsyncAGIResync(self.ivr.router, self._adopt))
        self.ivr.ami.add_resync_hook(self._recover_once)
        self.commands = AgentCommandConsumer(store, site_name, self.acd)

    def _services(self, reactor: IReactorTime) -> Callable[[Telephony], IVRServices]:
        def build(telephony: Telephony) -> IVRServices:
            self.room = WaitingRoom(self.site_name, self.config.acd, self.queues,
                                    self.metrics, telephony, reactor, tickets=self.tickets)
            self.distributor = Distributor(self.site_name, self.config.acd, self.queues,
                                           telephony, reactor, resume=self.resume_store)
            self.mover = CallMover(self.site_name, self.config.acd, self.queues, self.desk,
                                   telephony, reactor, self.distributor.carry_out)
            self.interflow = InterflowMonitor(
                self.site_name, self.config.acd, self.queues, self.metrics, self.board,
                self.desk, self.mover, reactor, turn_away=self.room.turn_away)
            self.distributor.watcher = Watchers(self.room, self.interflow)
            return IVRServices(self.distributor, self.outages, self.tickets)

        return build

    @property
    def acd(self) -> Distributor:
        assert self.distributor is not None
        return self.distributor

    def startService(self) -> None:
        super().startService()  # type: ignore[no-untyped-call]
        self.commands.start()
        self.heartbeat.start()
        self.status.start()
        self.acd.resume().addErrback(
            lambda failure: log.error("acd_resume_failed", error=failure.getErrorMessage()))

    def _recover_once(self, _protocol: object) -> None:
        """On the first login only: follow the calls an earlier process left in Redis."""
        if self._recovered:
            return
        self._recovered = True
        self.acd.recover().addErrback(
            lambda failure: log.error("acd_recover_failed", error=failure.getErrorMessage()))

    def stopService(self) -> Deferred[None]:
        self.acd.stop()
        if self.room is not None:
            self.room.stop()
        if self.interflow is not None:
            self.interflow.stop()
        return Deferred.fromCoroutine(self._stop())

    async def _stop(self) -> None:
        # Others stop sending calls here, and Asterisk sends new callers to the hub.
        await self.status.stop()
        await self.heartbeat.stop()
        await self.commands.stop()
        await super().stopService()  # type: ignore[no-untyped-call]

    def reload(self, config: Config) -> None:
        """Run on `config` from now on (SIGHUP), without touching a call in progress.

        `config` is what `pln123.serve.reload.plan_reload` returns: validated, still serving
        this site, with the settings only a restart can change kept at their old values.
        Each piece swaps its immutable settings; new callers get the new menus and areas,
        waiting callers the new timings at their next tick.
        """
        if self.site_name not in config.sites:
            raise ValueError(f"the reloaded config has no site {self.site_name!r}")
        interflow_was_on = self.config.acd.interflow.enabled
        self.config = config
        self.ivr.engine.reconfigure(config)
        self.metrics.reconfigure(config.acd)
        self.status.reconfigure(config.acd, config.skills)
        self.acd.reconfigure(config.acd)
        if self.room is not None:
            self.room.reconfigure(config.acd)
        if self.mover is not None:
            self.mover.reconfigure(config.acd)
        if self.interflow is not None:
            self.interflow.reconfigure(config.acd)
            if config.acd.interflow.enabled and not interflow_was_on and self.room:
                for call_id in self.room.watching:  # callers already waiting here
                    self.interflow.watch(call_id, new=False)

    # -- callers ---------------------------------------------------------------------------

    def _watch_queued_caller(self, session: CallSession) -> None:
        """A handed-off caller whose channel hangs up while still queued abandoned.

        Watched on the channel's Hangup, not on the end of AsyncAGI: Asterisk ends AsyncAGI
        both when the caller hangs up and when the caller is bridged to an agent. For a
        call already ringing an agent or talking, `abandon` answers False and changes
        nothing (telephony reports those hang-ups itself).
        """
        self._abandon_on_hangup(session.call_id, session.channel.channel)

    def _abandon_on_hangup(self, call_id: str, channel: str) -> None:
        ended = self.ivr.telephony.when_call_ends(call_id, channel)

        def abandon(_: object) -> None:
            self.acd.abandon(call_id).addErrback(
                lambda f: log.warning("acd_abandon_failed", call_id=call_id,
                                      error=f.getErrorMessage()))

        ended.addCallback(abandon)

    def _arrival(self, session: AGISession, kind: str, call_id: str) -> None:
        """A caller moved here from another site, or back home after a failed move."""
        Deferred.fromCoroutine(self._arrive(session, kind, call_id)).addErrback(
            lambda f: log.error("interflow_arrival_failed", call_id=call_id,
                                error=f.getErrorMessage()))

    async def _arrive(self, session: AGISession, kind: str, call_id: str) -> None:
        assert self.mover is not None
        try:
            await session.execute("EXEC", "StartMusicOnHold", HOLD_MUSIC_CLASS)
        except AGIError:
            return  # gone already: nothing was queued for it here yet
        if kind == ARRIVAL_MOVED:
            await self._speak_their_language(session, call_id)
            placement = await self.mover.arrive(call_id, session.channel)
        else:
            placement = await self.mover.returned(call_id, session.channel)
        if placement is None:  # nothing known about it: a new caller for the menus
            self.ivr.engine.on_session(session)
            return
        log.info("interflow_caller_taken", call_id=call_id, kind=kind,
                 position=placement.position)
        self._abandon_on_hangup(call_id, session.channel)

    async def _speak_their_language(self, session: AGISession, call_id: str) -> None:
        """The trunk channel starts in the site's default language; a caller who chose
        English at home hears this site's announcements in English too."""
        transfer = await self.desk.read_transfer(call_id)
        language = (transfer or {}).get("language", "")
        if language in self.config.languages and language != self.config.default_language:
            try:
                await session.set_variable("CHANNEL(language)", language)
            except AGIError:
                pass  # gone: the arrival below finds out too

    def _adopt(self, sessions: list[AGISession]) -> None:
        """Callers Asterisk still held in AsyncAGI after a restart: back to the menus,
        unless Redis says they were already queued (then the queue keeps their place)."""
        Deferred.fromCoroutine(self._adopt_or_restart(sessions))

    async def _adopt_or_restart(self, sessions: list[AGISession]) -> None:
        queued: dict[str, str] = {}  # channel -> call id, read once for the whole batch
        for call_id in await self.queues.live_calls():
            record = await self.queues.call(call_id)
            if record is not None and record.fields.get("channel"):
                queued[record.fields["channel"]] = call_id
        for session in sessions:
            found = queued.get(session.channel)
            kind = session.env.get(AGI_ARG_ARRIVAL, "")
            if found is None and kind in (ARRIVAL_MOVED, ARRIVAL_RETURNED):
                self._arrival(session, kind, session.env.get(AGI_ARG_CALL, ""))
                continue
            if found is None:
                self.ivr.engine.on_session(session)
                continue
            log.info("acd_caller_readopted", call_id=found, channel=session.channel)
            if self.room is not None:
                await self.room.adopt(found)
            if self.interflow is not None:
                self.interflow.watch(found, new=False)

    # -- agents ----------------------------------------------------------------------------

    def _agent_feature(self, event: Message) -> None:
        try:
            command = parse_agent_feature(event)
        except BadAgentCommand as error:
            log.warning("agent_feature_refused", error=str(error))
            return
        if command is None or command.site != self.site_name:
            return
        spec = self.config.agent(command.agent)
        if spec is None or command.device != spec.endpoint:  # only from the agent's phone
            log.warning("agent_feature_from_another_phone", agent=command.agent,
                        device=command.device)
            return
        operations = {
            "login": lambda: self.acd.login(command.agent),
            "logout": lambda: self.acd.logout(command.agent),
            "pause": lambda: self.acd.pause(command.agent, command.reason or "break"),
            "ready": lambda: self.acd.ready(command.agent),
        }
        operations[command.action]().addErrback(
            lambda f: log.warning("agent_feature_failed", agent=command.agent,
                                  action=command.action, error=f.getErrorMessage()))
