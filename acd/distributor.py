"""The Distributor: one site's ACD, between the IVR's intake, Redis and telephony.

Why it is shaped like this: every decision that two pln123 processes could race on is a Lua
script in Redis (acd/queues), every agent rule is the table in acd/agents/state.py, and
this class only sequences them: it asks the table what an event means, asks the store to
apply it if nobody changed the agent meanwhile (retrying on a conflict), and carries a
reservation through telephony: ring the agent (agent first, the caller keeps hearing
music); answered -> on_call, and when the call ends wrap-up for the queue's `wrapup_s`
then ready; no answer -> the call goes back to its place and the agent is paused "no
answer"; caller gone -> the agent is ready again, keeping their place in line. A callback
(the caller hung up and kept the place) is the same, agent first, except that telephony
then dials the caller; if they do not answer the agent is ready again at once and the
call waits `callback_retry_s` out of line (acd/callbacks.py), `callback_attempts` times.

Time is the injected `clock` (timestamps and the wrap-up timers); nothing reads the wall
clock. What lives only here (the ringing Deferreds, the wrap-up timers) is re-creatable:
`resume()` re-arms wrap-up ends from Redis after a restart; re-adopting calls that were
ringing or talking is `recover()`'s, with telephony's help.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import replace
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
from acd.intake import QueuePlacement, QueueRequest
from acd.queues.records import AgentRecord, Changed, Offer, Queued, Reservation
from acd.queues.store import CallAction, QueueStore
from acd.settings import AcdSettings
from acd.store.clock import timestamp
from acd.telephony import Callback, Connection, RingOutcome, Telephony
from acd.waiting.resume import ResumeStore

log = structlog.get_logger("acd.distributor")

T = TypeVar("T")
Observer = Callable[[str, Transition], None]


class Distributor:
    """`CallIntake` for one site, plus the agent operations the CLI and feature codes use."""

    def __init__(self, site: str, settings: AcdSettings, queues: QueueStore,
                 telephony: Telephony, clock: IReactorTime, *,
                 observer: Observer | None = None, max_retries: int = 8,
                 watcher: QueueWatcher | None = None, resume: ResumeStore | None = None):
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
        self._resume = resume
        self._wrapups = WrapUpTimers(clock, self._wrapup_over)
        self._busy = 0           # Redis operations started and not yet processed
        self._ringing: set[str] = set()  # call ids whose ring this process awaits
        self._recovered = False
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
        self.callbacks.delay_s = settings.callback_retry_s

    # -- CallIntake ----------------------------------------------------------------------

    def enqueue(self, request: QueueRequest) -> Deferred[QueuePlacement]:
        """Offer the call: an agent reserved at once (position 0, the agent rings) or queued.

        Position 0 means "an agent's phone is ringing for you"; 1 is next in line.
        """
        async def enqueue() -> QueuePlacement:
            now = self._now()
            place = None
            if self._resume is not None:
                place = await self._db(self._resume.claim(request.skill,
                                                          request.caller_number, now))
            if place is None:
                offer = await self._db(self.queues.offer(request, now))
            else:  # a redial within the abandon-resume window: the old place in line
                offer = await self._db(self.queues.offer(
                    replace(request, priority=min(request.priority, place.priority)), now,
                    enqueued_at=place.enqueued_at, resumed_from=place.call_id))
            self._follow_offer(offer)
            position = offer.position if isinstance(offer, Queued) else 0
            self._log.info("call_offered", call_id=request.call_id, skill=request.skill,
                           outcome=type(offer).__name__.lower(), position=position,
                           resumed_from=place.call_id if place else None)
            if isinstance(offer, Queued) and self.watcher is not None:
                self.watcher.queued(request, position)
            self._follow_caller(request.call_id, request.channel)
            return QueuePlacement(request.call_id, self.site, request.skill, position)

        return Deferred.fromCoroutine(enqueue())

    def carry_out(self, request: QueueRequest, offer: Offer) -> QueuePlacement:
        """An offer made outside `enqueue` (a call that arrived from another site, or came
        back from a failed move): ring the reserved agent, or let the watcher know."""
        self._follow_offer(offer)
        position = offer.position if isinstance(offer, Queued) else 0
        if isinstance(offer, Queued) and self.watcher is not None:
            self.watcher.queued(request, position)
        self._follow_caller(request.call_id, request.channel)
        return QueuePlacement(request.call_id, self.site, request.skill, position)

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
        which also comes once a talk is over: then `abandon` finds nothing queued and
        changes nothing (a hang-up while an agent rings is the ring's outcome)."""
        def ended(_: object) -> None:
            self.abandon(call_id).addErrback(self._not_abandoned, call_id)

        self.telephony.when_call_ends(call_id, channel).addCallback(ended)

    def _not_abandoned(self, failure: Failure, call_id: str) -> None:
        self._log.warning("acd_abandon_failed", call_id=call_id,
                          error=failure.getErrorMessage())

    def abandon(self, call_id: str) -> Deferred[bool]:
        """The caller hung up while queued: out of the queue, counted abandoned (True).

        False if the call was not queued: while an agent's phone rings, telephony's
        CALLER_GONE outcome carries the hang-up (the agent must be released too). An
        abandoned call's place is kept for a redial (abandon-resume), if configured.
        """
        async def abandon() -> bool:
            now = self._now()
            removed = await self._db(self.queues.remove_call(call_id, now))
            if self.watcher is not None:
                self.watcher.left(call_id)
            if removed and self._resume is not None:
                record = await self._db(self.queues.call(call_id))
                if record is not None:
                    await self._db(self._resume.remember(record, now)).addErrback(
                        self._not_remembered, call_id)
            return removed

        return Deferred.fromCoroutine(abandon())

    def _not_remembered(self, failure: Failure, call_id: str) -> bool:
        self._log.error("resume_not_kept", call_id=call_id, error=failure.getErrorMessage())
        return False

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

    def recover_once(self) -> Deferred[None]:
        """`recover` on this process's first AMI login only (a resync hook)."""
        if self._recovered:
            return succeed(None)
        self._recovered = True
        return self.recover().addErrback(
            lambda failure: self._log.error("acd_recover_failed",
                                            error=failure.getErrorMessage()))

    def recover(self) -> Deferred[None]:
        """After a restart: take over what the old process was following for this site.

        An agent on a call: wait for that call's end again (or end it now if the caller's
        channel is gone), so the agent is not left on a call forever. An agent whose phone
        was ringing: the ring's outcome died with the old process, so the call goes back
        to its place and the agent is paused, as for a ring-no-answer. Several processes
        may recover at once: each change is a compare-and-set, the second one is stale.
        """
        async def recover() -> None:
            for agent_id in self.roster.known():
                record = await self._db(self.queues.agent(agent_id))
                if not record.call:
                    continue
                if record.state.status is AgentStatus.ON_CALL:
                    self._spawn(self._follow_talk(record))
                elif (record.state.status is AgentStatus.RESERVED
                      and record.call not in self._ringing):
                    try:
                        await self._change(agent_id, AgentEvent.RING_NO_ANSWER, known=record,
                                           call_id=record.call, action=CallAction.REQUEUE)
                    except StaleEvent:
                        pass  # another process took it over first
            await self.callbacks.recover()

        return Deferred.fromCoroutine(recover())

    async def _follow_talk(self, record: AgentRecord) -> None:
        call = await self._db(self.queues.call(record.call))
        channel = call.fields.get("channel", "") if call is not None else ""
        skill = call.skill if call is not None else record.last_skill
        if channel:
            ends = self.telephony.when_call_ends(record.call, channel)  # watch, then check
            if await self.telephony.caller_alive(channel):
                await ends
        try:
            ended = await self._change(record.agent_id, AgentEvent.CALL_END, known=record,
                                       call_id=record.call, action=CallAction.FINISH)
        except StaleEvent:
            return
        if ended.status is AgentStatus.WRAP_UP:
            self._wrapups.arm(record.agent_id, ended.version, self.settings.queue(skill).wrapup_s)

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
                      action: str = CallAction.NONE, **extra: Any) -> Changed:
        """Apply `event` to the agent: the table decides, Redis applies if unchanged since."""
        record = known if known is not None else await self._db(self.queues.agent(agent_id))
        for _attempt in range(self._max_retries):
            if action and record.call != call_id:
                raise StaleEvent(f"agent {agent_id} no longer holds call {call_id}")
            after = step(record.state, event, reason)
            result = await self._db(self.queues.change(
                agent_id, record.version, event, after, self._now(), call_action=action,
                call_id=call_id, **extra))
            if isinstance(result, Changed):
                now_in = AgentState(AgentStatus.RESERVED) if result.reservation else after
                result = replace(result, state=now_in)
                self._applied(agent_id, record.state, event, after, result, call_id)
                return result
            if result.stale:
                raise StaleEvent(f"agent {agent_id} no longer holds call {call_id}")
            record = await self._db(self.queues.agent(agent_id))
        raise ConcurrentChange(f"agent {agent_id}: {self._max_retries} attempts lost to "
                               "concurrent changes")

    def _applied(self, agent_id: str, before: AgentState, event: AgentEvent,
                 after: AgentState, result: Changed, call_id: str) -> None:
        self._log.info("agent_changed", agent_id=agent_id, call_id=call_id or None,
                       agent_event=str(event), before=str(before), after=str(result.status))
        if self._observer is not None:
            self._observer(agent_id, Transition(before, event, after))
            if result.reservation is not None:
                reserved = step(after, AgentEvent.RESERVE)
                self._observer(agent_id, Transition(after, AgentEvent.RESERVE, reserved))
        if result.reservation is not None:
            self._spawn(self._ring(result.reservation))
        if result.requeued is not None:
            self._follow_offer(result.requeued)

    def _follow_offer(self, offer: Offer) -> None:
        if isinstance(offer, Reservation):
            if self._observer is not None:
                self._observer(offer.agent_id, Transition(
                    AgentState(AgentStatus.READY), AgentEvent.RESERVE,
                    AgentState(AgentStatus.RESERVED)))
            self._spawn(self._ring(offer))

    async def _ring(self, res: Reservation) -> None:
        """Ring the agent for the call and act on the outcome."""
        connection = Connection(res.call_id, res.channel, res.agent_id, res.endpoint,
                                self.settings.ring_timeout_s, res.caller_number)
        self._ringing.add(res.call_id)
        try:
            if res.callback:
                placed = await self.telephony.connect_callback(connection, res.callback)\
                    .addErrback(self._connect_failed, res).addCallback(as_callback)
            else:
                placed = Callback(await self.telephony.connect(connection).addErrback(
                    self._connect_failed, res), res.channel)
        finally:
            self._ringing.discard(res.call_id)
        outcome = placed.outcome
        known = AgentRecord(res.agent_id, AgentState(AgentStatus.RESERVED), res.agent_version,
                            res.call_id, None, None)
        if outcome is RingOutcome.CALLER_NO_ANSWER or (res.callback and
                                                       outcome is RingOutcome.CALLER_GONE):
            await self._callback_missed(res, known)
            return
        if outcome is RingOutcome.NO_ANSWER:
            await self._change(res.agent_id, AgentEvent.RING_NO_ANSWER, known=known,
                               call_id=res.call_id, action=CallAction.REQUEUE)
            return
        if outcome is RingOutcome.CALLER_GONE:
            await self._change(res.agent_id, AgentEvent.CALLER_GONE_WHILE_RINGING,
                               known=known, call_id=res.call_id, action=CallAction.ABANDON,
                               keep_idle=True)
            return
        # Watch for the end first: a hang-up during the writes below must not be missed.
        ends = self.telephony.when_call_ends(res.call_id, placed.caller_channel)
        answered = await self._change(res.agent_id, AgentEvent.ANSWER, known=known,
                                      call_id=res.call_id, action=CallAction.ANSWER)
        if placed.caller_channel != res.channel:  # a callback: the caller's new channel
            await self._db(self.queues.set_channel(res.call_id, placed.caller_channel))
        await ends
        talking = AgentRecord(res.agent_id, AgentState(AgentStatus.ON_CALL), answered.version,
                              res.call_id, None, None)
        ended = await self._change(res.agent_id, AgentEvent.CALL_END, known=talking,
                                   call_id=res.call_id, action=CallAction.FINISH)
        if ended.status is AgentStatus.WRAP_UP:
            self._wrapups.arm(res.agent_id, ended.version,
                             self.settings.queue(res.skill).wrapup_s)

    async def _callback_missed(self, res: Reservation, known: AgentRecord) -> None:
        """The agent answered, the called-back caller did not: the agent is ready again at
        once (keeping their place in line); the call is retried after `callback_retry_s`,
        or after its last attempt recorded as a failed callback (audit, outcome)."""
        call = await self._db(self.queues.call(res.call_id))
        tries = int(call.fields.get("callback_tries") or 0) if call is not None else 0
        last = tries + 1 >= self.settings.callback_attempts
        await self._change(res.agent_id, AgentEvent.CALLER_GONE_WHILE_RINGING, known=known,
                           call_id=res.call_id, keep_idle=True,
                           action=CallAction.CALLBACK_FAIL if last else CallAction.CALLBACK_RETRY)
        self._log.info("callback_missed", call_id=res.call_id, attempt=tries + 1, last=last)
        if not last:
            self.callbacks.arm(res.call_id)

    def _connect_failed(self, failure: Failure, res: Reservation) -> RingOutcome:
        self._log.error("connect_failed", call_id=res.call_id, agent_id=res.agent_id,
                        error=failure.getErrorMessage())
        return RingOutcome.NO_ANSWER

    def _wrapup_over(self, agent_id: str, version: int) -> None:
        async def done() -> None:
            record = await self._db(self.queues.agent(agent_id))
            if record.version != version or record.state.status is not AgentStatus.WRAP_UP:
                return  # the agent moved on (paused, ready, logged out) meanwhile
            await self._change(agent_id, AgentEvent.WRAPUP_DONE, known=record)

        self._spawn(done())

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

