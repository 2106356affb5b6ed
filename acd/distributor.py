"""The Distributor: one site's ACD, between the IVR's intake, Redis and telephony.

Why it is shaped like this: every decision that two pln123 processes could race on is a Lua
script in Redis (acd/queues), every agent rule is the table in acd/agents/state.py, and
this class only sequences them: it asks the table what an event means, asks the store to
apply it if nobody changed the agent meanwhile (retrying on a conflict), and carries a
reservation through telephony: ring the agent (agent first, the caller keeps hearing
music); answered -> on_call, and when the call ends wrap-up for the queue's `wrapup_s`
then ready (or paused at once, if the agent asked their desktop to pause after this call:
the agent_change script takes that request in the same step); no answer -> the call goes
back to its place and the agent is paused "no answer"; caller gone -> the agent is ready
again, keeping their place in line. A callback (the caller hung up and kept the place) is
the same, agent first, except that telephony then dials the caller; if they do not answer
the agent is ready again at once and the call waits `callback_retry_s` out of line
(acd/callbacks.py), `callback_attempts` times.

Time is the injected `clock` (timestamps and the wrap-up timers); nothing reads the wall
clock. What lives only here (the ringing Deferreds, the wrap-up timers) is re-creatable:
`resume()` re-arms wrap-up ends from Redis after a restart; re-adopting calls that were
ringing or talking is `recover()`'s, with telephony's help, and after every AMI login
`reconcile()` ends what Asterisk no longer has (a crash or a restart of Asterisk, or a
hang-up while the link was down, sends no event): Redis is made to agree with the channels
that really exist, matched by the caller channel's Uniqueid (recorded at enqueue), never by
its name, which Asterisk hands out again after a restart.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from functools import partial
from typing import Any, TypeVar

import structlog
from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.interfaces import IReactorTime
from twisted.python.failure import Failure

from acd.agents.roster import Roster
from acd.agents.state import (
    AgentEvent,
    AgentState,
    AgentStatus,
    IllegalTransition,
    Transition,
    step,
)
from acd.agents.wrapup import WrapUpTimers
from acd.callbacks import CallbackRetries, as_callback
from acd.contracts import ConcurrentChange, QueueWatcher, StaleEvent, UnknownAgent
from acd.gather import gather
from acd.intake import QueuePlacement, QueueRequest
from acd.queues.records import (
    AgentRecord,
    CallRecord,
    CallState,
    Changed,
    Offer,
    Queued,
    Reservation,
)
from acd.queues.store import CallAction, QueueStore
from acd.settings import AcdSettings
from acd.store.clock import timestamp
from acd.telephony import Callback, Connection, PhoneState, RingOutcome, Telephony

log = structlog.get_logger("acd.distributor")

T = TypeVar("T")
# A reservation younger than this is left alone by a reconcile after the first: its ring is
# about to start here (a ring request from another site's agent is on its way).
RESERVATION_GRACE_S = 5.0
Observer = Callable[[str, str, Transition], None]  # (agent's site, agent id, transition)
# What every answered call does to its agent: logged at debug (the call's own lines say it),
# unlike an agent's own commands and a ring that failed.
ROUTINE_EVENTS = frozenset({AgentEvent.RESERVE, AgentEvent.ANSWER, AgentEvent.CALL_END,
                            AgentEvent.WRAPUP_DONE})


class Distributor:
    """`CallIntake` for one site, plus the agent operations the CLI and feature codes use."""

    def __init__(self, site: str, settings: AcdSettings, queues: QueueStore,
                 telephony: Telephony, clock: IReactorTime, *,
                 observer: Observer | None = None, max_retries: int = 8,
                 watcher: QueueWatcher | None = None,
                 hand_over: Callable[[Reservation], None] | None = None):
        if queues.site != site:
            raise ValueError(f"the queue store serves {queues.site!r}, not {site!r}")
        self.site = site
        self.settings = settings
        self.queues = queues
        self.telephony = telephony
        self.clock = clock
        self.roster = Roster(site, settings)
        self._observer = observer
        self._max_retries = max_retries
        self.watcher = watcher
        # Where a reservation for another site's call goes (this site's agent took it):
        # None, the script's ring request reaches that site's processes through Redis.
        self._hand_over = hand_over
        self._wrapups = WrapUpTimers(clock, self._wrapup_over)
        self._busy = 0           # Redis operations started and not yet processed
        self._ringing: set[str] = set()  # call ids whose ring this process awaits
        # Callers whose hang-up this process follows: False once it saw their call answered
        # (their hang-up ends the talk, it is no abandon: nothing to ask Redis).
        self._callers: dict[str, bool] = {}
        self._talking: set[str] = set()  # call ids whose talk's end this process awaits
        self._recovered = False
        self._reconciling: Deferred[None] | None = None
        self.callbacks = CallbackRetries(queues, clock, settings.callback_retry_s,
                                         track=self._db, follow=self._follow_offer)
        self._log = log.bind(site=site)

    def reconfigure(self, settings: AcdSettings) -> None:
        """A reloaded config (SIGHUP): the next ring, wrap-up and callback use `settings`.

        Timers already armed keep their delay. An agent added to the roster can log in at
        once; a changed agent's skills and phone apply from their next login (the login
        writes them to Redis). A removed agent cannot log in again, but can still be paused
        and logged out, and their call in progress is followed to its end.
        """
        self.roster.update(settings)
        self.settings = settings
        self.queues.reconfigure(settings)
        self.callbacks.delay_s = settings.callback_retry_s

    # -- CallIntake ----------------------------------------------------------------------

    def enqueue(self, request: QueueRequest) -> Deferred[QueuePlacement]:
        """Offer the call: an agent reserved at once (position 0, the agent rings) or queued.

        Position 0 means "an agent's phone is ringing for you"; 1 is next in line.
        """
        async def enqueue() -> QueuePlacement:
            offer = await self._db(self.queues.offer(request, self._now()))
            self._follow_offer(offer)
            position = offer.position if isinstance(offer, Queued) else 0
            self._log.debug("call_offered", call_id=request.call_id, skill=request.skill,
                           outcome=type(offer).__name__.lower(), position=position)
            if isinstance(offer, Queued) and self.watcher is not None:
                self.watcher.queued(request, position, placed=offer)
            self._follow_caller(request.call_id, request.uniqueid or request.channel)
            return QueuePlacement(request.call_id, self.site, request.skill, position)

        return Deferred.fromCoroutine(enqueue())

    def queued_channels(self) -> Deferred[dict[str, str]]:
        """channel -> call id of this site's waiting calls (queued or ringing an agent)."""
        return self._db(self.queues.waiting_channels())

    def adopt(self, call_id: str, channel: str) -> None:
        """After a restart, a call this process holds the caller's channel of again: the
        watcher looks after it, and its hang-up while queued is an abandon."""
        if self.watcher is not None:
            self.watcher.adopted(call_id)
        self._follow_caller(call_id, channel)

    def _follow_caller(self, call_id: str, channel: str) -> None:
        """A hang-up while the call is queued is an abandon. Watched on the channel's end,
        which also comes once a talk is over or the watcher sent the caller off (a callback,
        the maximum wait): those are let go at once; otherwise `abandon` finds nothing
        queued and changes nothing (a hang-up while an agent rings is the ring's outcome)."""
        self._callers[call_id] = True

        def ended(_: object) -> None:
            may_abandon = self._callers.pop(call_id, True)
            sent_off = self.watcher is not None and self.watcher.let_go(call_id)
            if may_abandon and not sent_off:
                self.abandon(call_id).addErrback(self._not_abandoned, call_id)
            elif self.watcher is not None:
                self.watcher.left(call_id)

        self.telephony.when_call_ends(call_id, channel).addCallback(ended)

    def _answered(self, call_id: str) -> None:
        """The call is talking: its caller's hang-up is no abandon, and nobody needs to
        announce to it any more."""
        if call_id in self._callers:
            self._callers[call_id] = False
        if self.watcher is not None:
            self.watcher.left(call_id)

    def _not_abandoned(self, failure: Failure, call_id: str) -> None:
        self._log.warning("acd_abandon_failed", call_id=call_id,
                          error=failure.getErrorMessage())

    def abandon(self, call_id: str) -> Deferred[bool]:
        """The caller hung up while queued: out of the queue, counted abandoned (True).

        False if the call was not queued: while an agent's phone rings, telephony's
        CALLER_GONE outcome carries the hang-up (the agent must be released too). An
        abandoned call's place is kept for a redial (abandon-resume), if configured. The
        end of the caller's channel that follows asks nothing more.
        """
        if call_id in self._callers:
            self._callers[call_id] = False

        async def abandon() -> bool:
            removed = await self._db(self.queues.remove_call(call_id, self._now()))
            if self.watcher is not None:
                self.watcher.left(call_id)
            return removed

        return Deferred.fromCoroutine(abandon())

    # -- agent operations ----------------------------------------------------------------

    def login(self, agent_id: str) -> Deferred[AgentState]:
        try:
            spec = self.roster.may_log_in(agent_id)
        except UnknownAgent as error:
            return fail(error)
        return self._operate(agent_id, AgentEvent.LOGIN, skills=spec.skills,
                             endpoint=spec.endpoint)

    def logout(self, agent_id: str) -> Deferred[AgentState]:
        """Logged out now, or (during a call) marked to leave when it ends."""
        return self._operate(agent_id, AgentEvent.LOGOUT)

    def pause(self, agent_id: str, reason: str) -> Deferred[AgentState]:
        return self._operate(agent_id, AgentEvent.PAUSE, reason)

    def ready(self, agent_id: str) -> Deferred[AgentState]:
        """Unpause, or end wrap-up early; the agent may be reserved for a call at once."""
        return self._operate(agent_id, AgentEvent.READY)

    def phone_changed(self, agent_id: str, phone: PhoneState) -> Deferred[None]:
        """The agent's phone is now `phone` (acd/agents/phones.py): a ready agent is out
        of line while it is not available and back at their place when it is; a call
        they take at once then is rung."""
        async def change() -> None:
            changed = await self._db(self.queues.phone_change(agent_id, phone, self._now()))
            self._log.info("agent_phone", agent_id=agent_id, phone=phone.value,
                           after=str(changed.status) if changed is not None else None)
            if changed is not None and changed.reservation is not None:
                self._follow_offer(changed.reservation)

        return Deferred.fromCoroutine(change())

    def _operate(self, agent_id: str, event: AgentEvent, reason: str = "",
                 **extra: Any) -> Deferred[AgentState]:
        try:
            self.roster.spec(agent_id)
        except UnknownAgent as error:
            return fail(error)

        async def operate() -> AgentState:
            changed = await self._change(agent_id, event, reason, **extra)
            if changed.status is not AgentStatus.WRAP_UP:
                self._wrapups.cancel(agent_id)
            return changed.state or AgentState(changed.status)

        return Deferred.fromCoroutine(operate())

    # -- lifecycle -----------------------------------------------------------------------

    def resume(self) -> Deferred[None]:
        """After a (re)start: re-arm the wrap-up ends of this site's agents in wrap-up."""
        async def resume() -> None:
            now = self._now()
            for agent_id in self.roster.known():
                record = await self._db(self.queues.agent(agent_id))
                if record.state.status is AgentStatus.WRAP_UP:
                    wrapup = self.settings.queue(record.last_skill).wrapup_s
                    left = max(0.0, (record.since or now) + wrapup - now)
                    self._wrapups.arm(agent_id, record.version, left)

        return Deferred.fromCoroutine(resume())

    def reconcile(self) -> Deferred[None]:
        """After every AMI login (a resync hook): `recover` on the first, and on every one
        make Redis agree with Asterisk again (see `recover`). One at a time: a login
        while one runs is followed by another run once it is over."""
        first = not self._recovered
        self._recovered = True
        if self._reconciling is not None:
            self._reconciling.addCallback(lambda _: self._run_reconcile(first))
            return succeed(None)
        return self._run_reconcile(first)

    def _run_reconcile(self, first: bool) -> Deferred[None]:
        def done(_: object) -> None:
            if self._reconciling is run:
                self._reconciling = None

        def failed(failure: Failure) -> None:
            self._log.error("acd_reconcile_failed", error=failure.getErrorMessage(),
                            first=first)

        run = Deferred.fromCoroutine(self._recover(first)).addErrback(failed)
        self._reconciling = run
        run.addBoth(done)
        return run

    def recover(self) -> Deferred[None]:
        """After a restart: take over what the old process was following for this site.

        This site rings for its own calls, whoever the agent (a loan included), and follows
        their talks. A call of this site whose agent was ringing: Asterisk went on ringing
        without the old process, so telephony resumes following that ring (an agent who
        answered meanwhile gets the caller); if nothing is left of it, the outcome died
        with the old process and the call goes back to its place with the agent paused, as
        for a ring-no-answer (so too a callback's ring). A call talking: wait for its end
        again (or end it now if the caller's channel is gone), so the agent is not left on
        a call forever. This site's agents lent to another site are that site's to follow.
        Several processes may recover at once: each change is a compare-and-set, the
        second one is stale.

        The same runs again after every later AMI login (`reconcile`), for what this
        process does not follow itself, and whatever the login: a queued call whose
        caller's channel is gone is abandoned (counted as a hang-up in the queue); a ring
        whose caller is gone ends as the caller's hang-up while ringing (the agent ready
        again); a talk whose caller is gone ends (the agent to wrap-up). What this process
        follows itself, telephony's resync ends as the lost Hangup would have. Only this
        site's calls: a lent agent of this site is reconciled by the call's site.
        """
        return Deferred.fromCoroutine(self._recover(True))

    async def _recover(self, first: bool) -> None:
        live: set[str] = await self._db(self.queues.live_calls())
        now = self._now()
        ended = 0
        for call_id in sorted(live):
            call = await self._db(self.queues.call(call_id))
            if call is None:
                continue
            if call.state is CallState.QUEUED:
                ended += await self._abandon_if_gone(call)
                continue
            if not call.agent:
                continue
            agent_site = call.fields.get("agent_site") or self.site
            record = await self._db(self.queues.agent(call.agent, self._other(agent_site)))
            if record.call != call_id:
                continue
            reserved_at = float(call.fields.get("reserved_at") or 0)
            if (record.state.status is AgentStatus.RESERVED and not first
                    and now - reserved_at < RESERVATION_GRACE_S):
                continue  # just reserved: its ring is starting
            if record.state.status is AgentStatus.ON_CALL and call_id not in self._talking:
                self._spawn(self._follow_talk(record, agent_site))
            elif (record.state.status is AgentStatus.RESERVED
                  and call_id not in self._ringing and not call.fields.get("callback")):
                # Asterisk may still ring (or have answered) the old process's leg; the
                # caller gone, telephony ends the leg and the ring as the caller's hang-up.
                endpoint = await self._db(self.queues.agent_endpoint(
                    call.agent, self._other(agent_site)))
                fields = call.fields
                self._spawn(self._ring(Reservation(
                    call_id, call.agent, record.version, endpoint, self._handle(call),
                    fields.get("caller_number", ""), call.skill, "", agent_site, self.site,
                    fields.get("region", ""), fields.get("idpel", "")), resume=True))
            elif (record.state.status is AgentStatus.RESERVED
                  and call_id not in self._ringing):
                try:
                    await self._change(call.agent, AgentEvent.RING_NO_ANSWER,
                                       known=record, call_id=call_id,
                                       action=CallAction.REQUEUE, agent_site=agent_site)
                except StaleEvent:
                    pass  # another process took it over first
        if first:
            await self.callbacks.recover()
        self._log.info("acd_reconciled", calls=len(live), abandoned=ended, first=first)

    async def _abandon_if_gone(self, call: CallRecord) -> int:
        """A queued call whose caller's channel Asterisk no longer has: abandoned, as the
        lost hang-up would have done (1); still there, or ended meanwhile: 0. A caller who
        took a callback hung up on purpose: their call keeps its place."""
        handle = self._handle(call)
        if (call.fields.get("callback") or not handle
                or await self.telephony.caller_alive(handle)):
            return 0
        removed = await self.abandon(call.call_id)
        if removed:
            self._log.info("acd_ghost_abandoned", call_id=call.call_id, channel=handle)
        return int(removed)

    @staticmethod
    def _handle(call: CallRecord) -> str:
        """How telephony finds the call's caller: the Uniqueid recorded at enqueue (a
        channel name repeats after an Asterisk restart), else the channel. A callback's
        caller is on the channel it was dialled on, which `set_channel` recorded."""
        fields = call.fields
        if fields.get("callback"):
            return fields.get("channel", "")
        return fields.get("uniqueid") or fields.get("channel", "")

    async def _follow_talk(self, record: AgentRecord, agent_site: str) -> None:
        self._talking.add(record.call)  # before any wait: a second reconcile leaves it
        try:
            call = await self._db(self.queues.call(record.call))
            channel = self._handle(call) if call is not None else ""
            skill = call.skill if call is not None else record.last_skill
            if channel:
                ends = self.telephony.when_call_ends(record.call, channel)  # watch, then
                if await self.telephony.caller_alive(channel):              # check
                    await ends
        finally:
            self._talking.discard(record.call)
        try:
            ended = await self._change(record.agent_id, AgentEvent.CALL_END, known=record,
                                       call_id=record.call, action=CallAction.FINISH,
                                       agent_site=agent_site)
        except StaleEvent:
            return
        self._wrap_up(record.agent_id, agent_site, ended, skill)

    def stop(self) -> None:
        """Cancel the wrap-up timers (Redis keeps the agents in wrap-up for `resume`)."""
        self._wrapups.cancel_all()
        self.callbacks.stop()

    def settle(self) -> Deferred[None]:
        """Fires once no Redis operation of this distributor is in flight or unprocessed.

        Rings awaiting telephony do not count. For tests, and for a graceful stop.
        """
        async def settle() -> None:
            while self._busy:
                await self.queues.noop()  # one round trip behind everything already sent

        return Deferred.fromCoroutine(settle())

    @property
    def ringing(self) -> frozenset[str]:
        """Calls whose ring outcome this process awaits."""
        return frozenset(self._ringing)

    @property
    def busy(self) -> int:
        """Redis operations of this distributor in flight (0: `settle()` fires at once)."""
        return self._busy

    # -- the core ------------------------------------------------------------------------

    async def _change(self, agent_id: str, event: AgentEvent, reason: str = "", *,
                      known: AgentRecord | None = None, call_id: str = "",
                      action: str = CallAction.NONE, agent_site: str = "",
                      retry: bool = True, **extra: Any) -> Changed:
        """Apply `event` to the agent: the table decides, Redis applies if unchanged since.

        `agent_site`: the agent's site when it is another of the pool (a lent agent's ring
        and talk are followed by the call's site, this one). `retry=False`: an agent no
        longer at `known`'s version is StaleEvent (the event was about that version only),
        not re-read and tried again."""
        other = self._other(agent_site)
        record = (known if known is not None
                  else await self._db(self.queues.agent(agent_id, other)))
        for _attempt in range(self._max_retries):
            if action and record.call != call_id:
                raise StaleEvent(f"agent {agent_id} no longer holds call {call_id}")
            after = step(record.state, event, reason)
            result = await self._db(self.queues.change(
                agent_id, record.version, event, after, self._now(), call_action=action,
                call_id=call_id, agent_site=other, **extra))
            if isinstance(result, Changed):
                if result.state is not None:   # paused as the call ended, on request
                    self._applied(agent_id, agent_site or self.site, record.state, event,
                                  after, result, call_id)
                    return result
                now_in = AgentState(AgentStatus.RESERVED) if result.reservation else after
                result = Changed(result.status, result.version, result.reservation,
                                 result.requeued, now_in)   # not replace(): a hot path
                self._applied(agent_id, agent_site or self.site, record.state, event, after,
                              result, call_id)
                return result
            if result.stale:
                raise StaleEvent(f"agent {agent_id} no longer holds call {call_id}")
            if not retry:
                raise StaleEvent(f"agent {agent_id} moved on from version {record.version}")
            record = await self._db(self.queues.agent(agent_id, other))
        raise ConcurrentChange(f"agent {agent_id}: {self._max_retries} attempts lost to "
                               "concurrent changes")

    def _applied(self, agent_id: str, agent_site: str, before: AgentState,
                 event: AgentEvent, after: AgentState, result: Changed, call_id: str) -> None:
        log_change = self._log.debug if event in ROUTINE_EVENTS else self._log.info
        log_change("agent_changed", agent_id=agent_id, call_id=call_id or None,
                   agent_site=agent_site, agent_event=str(event), before=str(before),
                   after=str(result.status))
        if self._observer is not None:
            self._observer(agent_site, agent_id, Transition(before, event, after))
            if (result.status is AgentStatus.PAUSED and after.status is not AgentStatus.PAUSED
                    and result.state is not None):   # paused as the call ended, on request
                self._observer(agent_site, agent_id,
                               Transition(after, AgentEvent.PAUSE, result.state))
            if result.reservation is not None:
                reserved = step(after, AgentEvent.RESERVE)
                self._observer(agent_site, agent_id,
                               Transition(after, AgentEvent.RESERVE, reserved))
        if result.reservation is not None:
            self._ring_if_ours(result.reservation)
        if result.requeued is not None:
            self._follow_offer(result.requeued)

    def follow(self, offer: Offer) -> None:
        """An offer made outside this Distributor's own operations (the pool keeper's
        loans): ring it if the call is this site's, else hand it to the call's site."""
        self._follow_offer(offer)

    def _follow_offer(self, offer: Offer) -> None:
        if isinstance(offer, Reservation):
            if self._observer is not None:
                self._observer(offer.agent_site or self.site, offer.agent_id, Transition(
                    AgentState(AgentStatus.READY), AgentEvent.RESERVE,
                    AgentState(AgentStatus.RESERVED)))
            self._ring_if_ours(offer)

    def _ring_if_ours(self, res: Reservation) -> None:
        """Ring for a call of this site; another site's call (this site's agent became
        ready and took it) is rung by that site, which holds the caller: handed over."""
        if (res.call_site or self.site) == self.site:
            self._spawn(self._ring(res))
        elif self._hand_over is not None:
            self._hand_over(res)

    def take_over(self, res: Reservation) -> None:
        """Ring a reservation another site's agent made for a call of this site."""
        if res.call_site != self.site:
            raise ValueError(f"call {res.call_id} is {res.call_site}'s, not {self.site}'s")
        self._spawn(self._ring(res))

    def ring_requested(self, call_id: str, agent_id: str, agent_site: str,
                       version: int) -> Deferred[None]:
        """Another site's agent took a call of this site when they became ready: ring them,
        if the reservation still stands (the agent still holds the call at that version).
        Fires once the ring has started, not when it is decided."""
        async def ring() -> None:
            other = self._other(agent_site)
            record, call, endpoint = await self._db(gather(   # one round trip's wait
                self.queues.agent(agent_id, other), self.queues.call(call_id),
                self.queues.agent_endpoint(agent_id, other)))
            if (call is None or record.call != call_id or record.version != version
                    or record.state.status is not AgentStatus.RESERVED
                    or call_id in self._ringing):
                self._log.info("ring_request_stale", call_id=call_id, agent_id=agent_id)
                return
            fields = call.fields
            self.take_over(Reservation(
                call_id, agent_id, version, endpoint, fields.get("channel", ""),
                fields.get("caller_number", ""), call.skill, fields.get("callback", ""),
                agent_site, self.site, fields.get("region", ""), fields.get("idpel", "")))

        return Deferred.fromCoroutine(ring())

    async def _ring(self, res: Reservation, resume: bool = False) -> None:
        """Ring the agent for the call and act on the outcome (`resume`: the ring an
        earlier process started, followed from where it is)."""
        site = res.agent_site or self.site
        label = " ".join(part for part in (res.region, res.idpel) if part)
        connection = Connection(res.call_id, res.channel, res.agent_id, res.endpoint,
                                self.settings.ring_timeout_s, res.caller_number,
                                agent_site=site if site != self.site else "",
                                caller_label=label,
                                record=self.settings.queue(res.skill).record)
        self._ringing.add(res.call_id)
        try:
            if res.callback:
                placed = await self.telephony.connect_callback(connection, res.callback)\
                    .addErrback(self._connect_failed, res).addCallback(as_callback)
            else:
                ring = (self.telephony.resume_ring(connection) if resume
                        else self.telephony.connect(connection))
                placed = Callback(await ring.addErrback(self._connect_failed, res),
                                  res.channel)
        finally:
            self._ringing.discard(res.call_id)
        outcome = placed.outcome
        known = AgentRecord(res.agent_id, AgentState(AgentStatus.RESERVED), res.agent_version,
                            res.call_id, None, None, call_site=self.site)
        change = partial(self._change, res.agent_id, known=known, call_id=res.call_id,
                         agent_site=site)
        if outcome is RingOutcome.CALLER_NO_ANSWER or (res.callback and
                                                       outcome is RingOutcome.CALLER_GONE):
            await self._callback_missed(res, known)
            return
        if outcome is RingOutcome.NO_ANSWER:
            await change(AgentEvent.RING_NO_ANSWER, action=CallAction.REQUEUE)
            return
        if outcome is RingOutcome.TRUNK_FAILED:
            await change(AgentEvent.TRUNK_FAILED, action=CallAction.TRUNK_FAILED,
                         keep_idle=True)
            return
        if outcome is RingOutcome.CALLER_GONE:
            await change(AgentEvent.CALLER_GONE_WHILE_RINGING, action=CallAction.ABANDON,
                         keep_idle=True)
            return
        # Watch for the end first: a hang-up during the writes below must not be missed.
        ends = self.telephony.when_call_ends(res.call_id, placed.caller_channel)
        answering = Deferred.fromCoroutine(change(AgentEvent.ANSWER, action=CallAction.ANSWER))
        if placed.caller_channel != res.channel:  # a callback: the caller's new channel,
            answered, _ = await gather(answering, self._db(  # in the same batch
                self.queues.set_channel(res.call_id, placed.caller_channel)))
        else:
            answered = await answering
        self._answered(res.call_id)
        self._talking.add(res.call_id)
        try:
            await ends
        finally:
            self._talking.discard(res.call_id)
        talking = AgentRecord(res.agent_id, AgentState(AgentStatus.ON_CALL), answered.version,
                              res.call_id, None, None, call_site=self.site)
        ended = await self._change(res.agent_id, AgentEvent.CALL_END, known=talking,
                                   call_id=res.call_id, action=CallAction.FINISH,
                                   agent_site=site)
        self._wrap_up(res.agent_id, site, ended, res.skill)

    def _wrap_up(self, agent_id: str, agent_site: str, ended: Changed, skill: str) -> None:
        if ended.status is AgentStatus.WRAP_UP:
            self._wrapups.arm(agent_id, ended.version, self.settings.queue(skill).wrapup_s,
                              agent_site)

    async def _callback_missed(self, res: Reservation, known: AgentRecord) -> None:
        """The agent answered, the called-back caller did not: the agent is ready again at
        once (keeping their place in line); the call is retried after `callback_retry_s`,
        or after its last attempt recorded as a failed callback (audit, outcome)."""
        call = await self._db(self.queues.call(res.call_id))
        tries = int(call.fields.get("callback_tries") or 0) if call is not None else 0
        last = tries + 1 >= self.settings.callback_attempts
        await self._change(res.agent_id, AgentEvent.CALLER_GONE_WHILE_RINGING, known=known,
                           call_id=res.call_id, keep_idle=True,
                           action=CallAction.CALLBACK_FAIL if last else CallAction.CALLBACK_RETRY,
                           agent_site=res.agent_site or self.site)
        self._log.info("callback_missed", call_id=res.call_id, attempt=tries + 1, last=last)
        if not last:
            self.callbacks.arm(res.call_id)

    def _connect_failed(self, failure: Failure, res: Reservation) -> RingOutcome:
        self._log.error("connect_failed", call_id=res.call_id, agent_id=res.agent_id,
                        error=failure.getErrorMessage())
        return RingOutcome.NO_ANSWER

    def _wrapup_over(self, agent_id: str, version: int, agent_site: str) -> None:
        """The agent's wrap-up, armed at `version`, is over: ready, unless they moved on.

        No read first: every change bumps the version, so an agent still at `version` is
        still in that wrap-up (in which nobody is ever pending a logout), and the script's
        compare-and-set finds out in the same round trip as the change."""
        known = AgentRecord(agent_id, AgentState(AgentStatus.WRAP_UP), version, "", None, None)

        async def done() -> None:
            try:
                await self._change(agent_id, AgentEvent.WRAPUP_DONE, known=known,
                                   agent_site=agent_site, retry=False)
            except StaleEvent:
                return  # the agent moved on (paused, ready, logged out) meanwhile

        self._spawn(done())

    def _other(self, site: str) -> str:
        """`site` if it is another site of the pool, else "" (the store's own)."""
        return site if site and site != self.site else ""

    # -- plumbing ------------------------------------------------------------------------

    def _db(self, d: Deferred[T]) -> Deferred[T]:
        """Count `d` as in flight until its result has been handed on.

        The count drops before the awaiting code resumes, but that code runs in the same
        callback chain, so a follow-up operation is counted before anything else (settle's
        check) can run.
        """
        self._busy += 1

        def handed_on(result: T) -> T:
            self._busy -= 1
            return result

        return d.addBoth(handed_on)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        d = Deferred.fromCoroutine(work)
        d.addErrback(self._background_failed)

    def _background_failed(self, failure: Failure) -> None:
        if failure.check(StaleEvent, IllegalTransition):
            self._log.warning("agent_event_dropped", error=failure.getErrorMessage())
            return
        self._log.error("background_failed", error=failure.getErrorMessage(),
                        kind=failure.type.__name__ if failure.type else "?")

    def _now(self) -> float:
        return timestamp(self.clock)

