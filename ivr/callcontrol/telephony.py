"""The ACD's telephony interface carried out over AMI: agent-first connect, and the rest.

Agent first: the caller stays in AsyncAGI hearing music while pln123 originates a call to
the agent's phone; only when the agent answers are the two bridged (AMI `Bridge`). A ring
timeout, a busy or unreachable phone is NO_ANSWER; a caller who hangs up while the agent's
phone rings cancels that ring (CALLER_GONE) so the agent is free again at once.

Lent agents (national pooling): the caller never leaves this site. Another site's agent is
rung through the trunk, `IAX2/<their site's peer>/agent-<agent id>-<call id>`; that site's
`[pln123-trunk-in]` rings the agent's own phone, and the trunk leg is bridged here exactly
like a local agent's leg. A ring that fails before it reaches the phone is TRUNK_FAILED
(the agent did nothing wrong); see `unanswered` for how OriginateResponse tells which.
The agent's phone shows the caller's region and IDPEL (`Connection.caller_label`) as the
caller id name, here and through the trunk.

Reconnects: events sent while the AMI link was down are lost, so after every login
`resync` asks Asterisk what is true (`CoreStatus` for its start time, `CoreShowChannels`
for its channels) and settles what waited on those events: a caller or leg whose channel
is gone ends as if its Hangup had come, a ring whose agent leg is gone ends as a lost
outcome, a leg answered meanwhile is bridged. Channels are followed by their Uniqueid
whenever it is known (an AGI session's, or the one the ACD recorded): Asterisk restarts
its channel numbering when it restarts, so a name (`Local/...-00000001;2`) can come back
as another caller's, a Uniqueid does not. A watcher that only had a name is ended when
Asterisk's start time changed since it was set.

Originates carry our own ActionID and ChannelId, so their outcome (`OriginateResponse`) and
the agent's channel can be matched and hung up without guessing channel names. An agent's
leg's ChannelId (its Uniqueid) ends in `-call-<call id>`: a ring outlives the process that
started it (Asterisk goes on ringing after a `kill -9`), and `resume_ring` lets the next
process find that leg and follow it to its end, as if it had started it.

Callbacks: `offer_callback` asks over the caller's AGI session (GET DATA, 1 = yes) and
reads the number back; `connect_callback` rings the agent first, as `connect` does, and
only once the agent answered originates to the caller (`callback_dial` with `{number}`,
e.g. `PJSIP/{number}@trunk`) and bridges the two legs; whichever leg hangs up first ends
the other, since neither has a dialplan of its own to go back to.

Recording (`Connection.record`, with a `Recorder`): the caller hears the recording notice
while the agent's phone rings (once per call, however many agents are rung), the bridge
waits for it to end, and MixMonitor starts on the caller's channel as soon as the two are
bridged (ivr/callcontrol/recording.py). A recording that cannot start is logged; the
conversation goes on unrecorded.
"""

from __future__ import annotations

import itertools
import re
import secrets
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from twisted.internet.defer import Deferred, DeferredList, FirstError
from twisted.internet.interfaces import IReactorTime
from twisted.python.failure import Failure

from acd.telephony import Callback, Connection, RingOutcome
from ivr.ami.actions import ACTION_ID_PREFIX
from ivr.ami.agi import AGIError, AGISession
from ivr.ami.errors import AMIActionError, AMIError
from ivr.ami.message import Message
from ivr.ami.protocol import AMIProtocol
from ivr.ami.service import AMIService
from ivr.callcontrol.recording import Recorder, RecordingRefused, mixmonitor_action, recording_file
from ivr.dialplan.errors import DialplanError
from ivr.dialplan.names import PEER, lent_agent_extension
from ivr.engine.hold import HoldMusic
from ivr.prompts.numbers import say_digits, say_number

log = structlog.get_logger("ivr.callcontrol")

# The agent's leg waits in this application until it is bridged (or hung up).
AGENT_LEG_APPLICATION = "Wait"
AGENT_LEG_MAX_S = 4 * 3600
ORIGINATE_GRACE_S = 15.0  # beyond the ring timeout, for Asterisk to report the outcome
CALLBACK_DIGIT_MS = 5000   # after the offer prompt, how long to wait for "1"
CALLBACK_CALLER_ID = "PLN123 <123>"
CALLER_NAME = "PLN123"  # the agent's display when the call has no label
LABEL_MAX = 40  # characters of the caller's label on the agent's display
_LABEL_UNSAFE = re.compile(r"[^A-Za-z0-9 .-]+")
AGENT_REASONS = frozenset({"3", "5"})  # OriginateResponse Reasons: rang out, busy
NOT_PLACED = "0"  # the Reason `unanswered` is given for an Originate Asterisk refused
LEG_CALL_MARK = "-call-"  # an agent's leg's ChannelId: <ours>-call-<call id>
LEG_CALL_ID_MAX = 64  # longer call ids are left out (Asterisk caps a Uniqueid at 149)
UP = "6"  # CoreShowChannels' ChannelState of an answered channel
NOTICES_KEPT = 10_000  # calls remembered as told they are recorded (a requeue: not again)


class RingLost(Exception):
    """The agent's leg of a ring is gone and its outcome never reached us (the AMI link
    or Asterisk went down meanwhile)."""


def is_channel_name(handle: str) -> bool:
    """A channel's name (`tech/resource`), not a Uniqueid: names repeat across restarts."""
    return "/" in handle


def caller_id(label: str, number: str) -> str:
    """The agent's display: `"<label>" <number>`, the label cut to what a display and the
    caller id parser take safely (ASCII letters, digits, spaces, `.` and `-`, at most
    LABEL_MAX characters); `PLN123 <number>` without one."""
    name = " ".join(_LABEL_UNSAFE.sub(" ", label).split())[:LABEL_MAX].strip()
    return f'"{name}" <{number}>' if name else f"{CALLER_NAME} <{number}>"


def unanswered(connection: Connection, reason: str | None) -> RingOutcome:
    """What a ring that was not answered means for the ACD.

    `reason` is the OriginateResponse's Reason, NOT_PLACED for an Originate Asterisk
    refused, None when no outcome came at all. A local agent's ring is always NO_ANSWER. A
    lent agent's is NO_ANSWER only when their phone rang out or was busy (Reason 3 or 5),
    and when the outcome was lost (as for a local agent: nothing says the trunk failed);
    anything else failed between the sites: TRUNK_FAILED, and the agent is ready again.

    The Reason is the last ast_control code Asterisk 22 saw on the originated channel
    (main/channel.c, `__ast_request_and_dial`):

        0  nothing seen: the channel request or the call failed (unknown peer, trunk
           down), or the far end hung up before answering. A far site's refusal
           (Hangup(34) before answer: no phone for that agent) shows as 0, since Asterisk
           stops waiting once the channel is hung up
        1  hung up before answer, when Asterisk read the hang-up as a frame
        3  ringing when Originate's Timeout ran out; a timeout counts as ringing even
           when nothing rang
        4  answered (Response: Success)
        5  busy: the far site's [pln123-trunk-in] signals its agent's phone busy,
           declining or unreachable with Busy()
        8  congestion, or an incomplete number
    """
    if not connection.agent_site or reason is None or reason.strip() in AGENT_REASONS:
        return RingOutcome.NO_ANSWER
    return RingOutcome.TRUNK_FAILED


def leg_id(leg: str, call_id: str) -> str:
    """An agent's leg's ChannelId, naming the call it rings for (when the id fits)."""
    if not call_id or len(call_id) > LEG_CALL_ID_MAX or LEG_CALL_MARK in call_id:
        return leg
    return f"{leg}{LEG_CALL_MARK}{call_id}"


def call_of_leg(uniqueid: str) -> str | None:
    """The call id a pln123 agent's leg rings for, from its Uniqueid; None for any other
    channel."""
    if not uniqueid.startswith("pln123-") or LEG_CALL_MARK not in uniqueid:
        return None
    return uniqueid.split(LEG_CALL_MARK, 1)[1] or None


@dataclass(frozen=True)
class _Leg:
    """An originated leg: answered (`channel` is Asterisk's name for it), or why not."""

    leg: str  # our ChannelId
    channel: str | None = None
    reason: str | None = None  # as `unanswered` takes it


class AMITelephony:
    def __init__(self, ami: AMIService, sessions: Mapping[str, AGISession],
                 clock: IReactorTime, *, callback_dial: str,
                 trunks: Mapping[str, str] | None = None, recorder: Recorder | None = None,
                 hold: HoldMusic | None = None):
        self.ami = ami
        # Prompts then the music (announcements, the recording notice): the site's one
        # HoldMusic, which knows whether Asterisk has the hold subroutine.
        self.hold = hold if hold is not None else HoldMusic()
        self.recorder = recorder
        # The recording notices played or playing, by call id: the bridge waits for its own.
        self._notices: OrderedDict[str, Deferred[None]] = OrderedDict()
        self.callback_dial = callback_dial
        # Site name -> that site's IAX2 peer (the peers ivr/asterisk/iax.py renders): where
        # a lent agent is rung. Read at every ring, so a live mapping may change.
        self.trunks: Mapping[str, str] = trunks if trunks is not None else {}
        self.sessions = sessions  # the AsyncAGI router's: channel -> its AGI session
        self.clock = clock
        self._prefix = f"{ACTION_ID_PREFIX}{secrets.token_hex(3)}"
        self._ids = itertools.count(1)
        self._originations: dict[str, Deferred[Message]] = {}
        # Rings an earlier process started and this one resumed: call id -> their outcome
        # (OriginateResponse reaches every AMI session; its Uniqueid is the leg's id).
        self._resumed: dict[str, Deferred[Message]] = {}
        self._hangup_watchers: dict[str, list[Deferred[None]]] = {}
        # A watcher keyed by a channel's name: the resync it was set after (a name from
        # before an Asterisk restart may belong to another channel now).
        self._named_in: dict[str, int] = {}
        self._resyncs = 0
        # Rings followed now: the agent leg's ChannelId -> its outcome's waiter.
        self._rings: dict[str, Deferred[Message]] = {}
        self.asterisk_started: str | None = None  # CoreStatus' start date and time
        self.restarts = 0  # Asterisk restarts seen by `resync`
        ami.dispatcher.subscribe("OriginateResponse", self._originate_response)
        ami.dispatcher.subscribe("Hangup", self._hangup)

    # -- events ---------------------------------------------------------------------------

    def _originate_response(self, event: Message) -> None:
        waiter = self._originations.pop(event.action_id or "", None)
        if waiter is None:
            call_id = call_of_leg(event.get("Uniqueid") or "")
            waiter = self._resumed.pop(call_id, None) if call_id else None
        if waiter is not None:
            waiter.callback(event)

    def _hangup(self, event: Message) -> None:
        for key in (event.get("Channel") or "", event.get("Uniqueid") or ""):
            self._ended(key)

    def _ended(self, key: str) -> None:
        self._named_in.pop(key, None)
        for waiter in self._hangup_watchers.pop(key, []):
            if not waiter.called:
                waiter.callback(None)

    def _key(self, channel: str) -> str:
        """What a channel is followed by: its AGI session's Uniqueid when there is one."""
        session = self.sessions.get(channel) if is_channel_name(channel) else None
        return session.uniqueid if session is not None and session.uniqueid else channel

    def _watch_hangup(self, channel: str) -> Deferred[None]:
        waiter: Deferred[None] = Deferred()
        key = self._key(channel)
        if is_channel_name(key):
            self._named_in.setdefault(key, self._resyncs)
        self._hangup_watchers.setdefault(key, []).append(waiter)
        return waiter

    def _unwatch(self, channel: str, waiter: Deferred[None]) -> None:
        key = self._key(channel)
        if waiter not in self._hangup_watchers.get(key, []):  # the session ended since
            key = next((k for k, ws in self._hangup_watchers.items() if waiter in ws), key)
        watchers = self._hangup_watchers.get(key, [])
        if waiter in watchers:
            watchers.remove(waiter)
        if not watchers:
            self._hangup_watchers.pop(key, None)
            self._named_in.pop(key, None)

    # -- after every login ----------------------------------------------------------------

    def resync(self, protocol: AMIProtocol) -> Deferred[None]:
        """A resync hook: settle what waited on events the link lost (see the module)."""
        return Deferred.fromCoroutine(self._resync(protocol))

    async def _resync(self, protocol: AMIProtocol) -> None:
        self._resyncs += 1
        now = self._resyncs
        restarted = await self._check_start(protocol)
        listed = await protocol.send_list_action("CoreShowChannels")
        alive = {e.get("Channel") or "" for e in listed.events} | {
            e.get("Uniqueid") or "" for e in listed.events}
        gone = [key for key in self._hangup_watchers
                if key not in alive or (restarted and is_channel_name(key)
                                        and self._named_in.get(key, now) < now)]
        for key in gone:  # callers first: a ring whose caller left is CALLER_GONE
            self._ended(key)
        legs = {e.get("Uniqueid") or "": e for e in listed.events}
        lost = answered = 0
        for agent_leg, waiter in list(self._rings.items()):
            leg = legs.get(agent_leg)
            if waiter.called:
                continue
            if leg is None:
                lost += 1
                waiter.errback(RingLost(f"agent leg {agent_leg} gone"))
            elif leg.get("ChannelState") == UP and not leg.get("BridgeId"):
                answered += 1  # answered while the link was down: bridge it now
                waiter.callback(Message([("Response", "Success"),
                                         ("Channel", leg.get("Channel") or agent_leg),
                                         ("Uniqueid", agent_leg)]))
        log.info("telephony_resync", channels=len(listed.events), ended=len(gone),
                 rings_lost=lost, rings_answered=answered, restarted=restarted)

    async def _check_start(self, protocol: AMIProtocol) -> bool:
        """Whether Asterisk started again since the last login (CoreStatus' start time)."""
        try:
            status = await protocol.send_action("CoreStatus")
        except Exception as error:  # noqa: BLE001 - unknown: Uniqueids still tell
            log.warning("asterisk_start_unknown", error=str(error))
            return False
        started = f"{status.get('CoreStartupDate') or ''} {status.get('CoreStartupTime') or ''}"
        before, self.asterisk_started = self.asterisk_started, started
        if before is None or before == started:
            return False
        self.restarts += 1
        log.warning("asterisk_restarted", before=before, started=started)
        return True

    # -- connect ----------------------------------------------------------------------------

    def connect(self, connection: Connection) -> Deferred[RingOutcome]:
        return Deferred.fromCoroutine(self._connect(connection))

    async def _connect(self, c: Connection) -> RingOutcome:
        bound = log.bind(call_id=c.call_id, agent_id=c.agent_id)
        dial = self._agent_dial(c)
        if dial is None:
            return RingOutcome.TRUNK_FAILED
        number = next(self._ids)
        action_id = f"{self._prefix}-orig-{number}"
        agent_leg = leg_id(f"{self._prefix}-agent-{number}", c.call_id)
        answered: Deferred[Message] = Deferred()
        self._originations[action_id] = answered
        caller_gone = self._watch_hangup(c.caller_channel)
        try:
            await self.ami.send_action("Originate", {
                "Channel": dial,
                "Application": AGENT_LEG_APPLICATION,
                "Data": str(AGENT_LEG_MAX_S),
                "Timeout": str(int(c.ring_timeout_s * 1000)),
                "CallerID": caller_id(c.caller_label, _digits(c.caller_number)),
                "ChannelId": agent_leg,
                "Async": "true",
            }, action_id=action_id)
        except AMIError as error:
            self._originations.pop(action_id, None)
            self._unwatch(c.caller_channel, caller_gone)
            bound.warning("acd_ring_failed", error=str(error), dial=dial)
            return unanswered(c, NOT_PLACED)
        bound.debug("acd_ringing_agent", endpoint=dial, agent_site=c.agent_site or None)
        self._tell_recorded(c)
        return await self._follow_ring(
            c, agent_leg, answered, caller_gone,
            lambda: self._originations.pop(action_id, None))

    async def _follow_ring(self, c: Connection, agent_leg: str, answered: Deferred[Message],
                           caller_gone: Deferred[None],
                           forget: Callable[[], object]) -> RingOutcome:
        """Wait for the ring's outcome (`answered`: its OriginateResponse) or the caller's
        hang-up, whichever comes first; bridge the two on answer. `forget` drops the
        outcome's waiter when it is no longer wanted."""
        bound = log.bind(call_id=c.call_id, agent_id=c.agent_id)
        # Never wait forever: an OriginateResponse lost with the AMI link ends the ring
        # (at once if a resync finds the leg gone: RingLost).
        answered.addTimeout(c.ring_timeout_s + ORIGINATE_GRACE_S, self.clock)
        race: list[Deferred[Any]] = [answered, caller_gone]
        self._rings[agent_leg] = answered
        try:
            await DeferredList(race, fireOnOneCallback=True, fireOnOneErrback=True,
                               consumeErrors=True)
        except FirstError:
            pass  # `answered` timed out or was lost: handled below
        finally:
            if self._rings.get(agent_leg) is answered:
                del self._rings[agent_leg]
        if caller_gone.called:
            await self._cancel_ring(agent_leg, forget, answered)
            return RingOutcome.CALLER_GONE
        self._unwatch(c.caller_channel, caller_gone)
        try:
            response: Message | None = await answered
        except Exception:  # noqa: BLE001 - timed out: no answer we can trust
            response = None
        if not isinstance(response, Message):
            forget()
            bound.warning("acd_ring_outcome_lost", timeout_s=c.ring_timeout_s)
            await self._hang_up(agent_leg)
            return unanswered(c, None)
        if (response.response or "").lower() != "success":
            outcome = unanswered(c, response.get("Reason") or NOT_PLACED)
            bound.info("acd_agent_no_answer", reason=response.get("Reason"),
                       outcome=outcome.value)
            return outcome
        return await self._bridge(c, response.get("Channel") or agent_leg, agent_leg)

    async def _bridge(self, c: Connection, agent_channel: str, agent_leg: str) -> RingOutcome:
        """The caller and the agent's answered leg together: ANSWERED; the caller gone
        meanwhile (the bridge refused): the agent's leg is hung up, CALLER_GONE."""
        bound = log.bind(call_id=c.call_id, agent_id=c.agent_id)
        notice = self._notices.get(c.call_id)
        if notice is not None and not notice.called:
            await notice   # the caller hears the whole notice before the agent
        try:
            await self.ami.send_action("Bridge", {
                "Channel1": c.caller_channel, "Channel2": agent_channel, "Tone": "no"})
        except AMIError as error:
            bound.info("acd_bridge_failed", error=str(error))
            await self._hang_up(agent_leg)
            return RingOutcome.CALLER_GONE
        bound.info("acd_bridged", agent_channel=agent_channel)
        if c.record and self.recorder is not None:
            await self._record(c, self.recorder)
        return RingOutcome.ANSWERED

    def _tell_recorded(self, c: Connection) -> None:
        """Play the recording notice to the caller of a recorded queue (once per call)."""
        if not c.record or self.recorder is None or c.call_id in self._notices:
            return
        session = self.sessions.get(c.caller_channel)
        if session is None:
            return
        notice = Deferred.fromCoroutine(self._play_notice(session, self.recorder.notice))
        self._notices[c.call_id] = notice
        while len(self._notices) > NOTICES_KEPT:
            self._notices.popitem(last=False)

    async def _play_notice(self, session: AGISession, prompt: str) -> None:
        try:
            await self.hold.play(session, [f"pln123/{prompt}"])
        except AGIError:
            pass  # the caller left, or the bridge took the channel: nothing to tell

    async def _record(self, c: Connection, recorder: Recorder) -> None:
        """MixMonitor on the caller's channel into `<directory>/<call id>.wav`."""
        bound = log.bind(call_id=c.call_id, agent_id=c.agent_id)
        try:
            file = recording_file(recorder.directory, c.call_id)
            await self.ami.send_action("MixMonitor", mixmonitor_action(c.caller_channel, file))
        except (RecordingRefused, AMIError) as error:
            bound.warning("acd_recording_failed", error=str(error))
            return
        bound.info("acd_recording", file=file)
        try:
            recorder.started(c.call_id, file)
        except Exception as error:  # noqa: BLE001 - the recording runs; only the note failed
            bound.warning("acd_recording_not_noted", error=str(error))

    def resume_ring(self, connection: Connection) -> Deferred[RingOutcome]:
        return Deferred.fromCoroutine(self._resume_ring(connection))

    async def _resume_ring(self, c: Connection) -> RingOutcome:
        """Follow the ring an earlier process started for `c.call_id` (it died, Asterisk
        did not): its agent's leg is found by its id in `CoreShowChannels`.

        Already answered: bridged with the caller now (the agent who picked up gets them;
        already in a bridge, the old process bridged them before it died). Still ringing:
        its OriginateResponse, which every AMI session receives, decides as for `connect`.
        No leg left: the outcome went with the old process, `unanswered(c, None)`. The
        outcome's waiter is in place before the listing, so an answer arriving while we
        list is not missed.
        """
        bound = log.bind(call_id=c.call_id, agent_id=c.agent_id)
        answered: Deferred[Message] = Deferred()
        self._resumed[c.call_id] = answered
        caller_gone = self._watch_hangup(c.caller_channel)

        def forget() -> None:
            if self._resumed.get(c.call_id) is answered:
                del self._resumed[c.call_id]

        try:
            listed = await self.ami.send_list_action("CoreShowChannels")
        except Exception as error:  # noqa: BLE001 - no link: the outcome is lost
            forget()
            self._unwatch(c.caller_channel, caller_gone)
            bound.warning("acd_ring_resume_failed", error=str(error))
            return unanswered(c, None)
        legs = [e for e in listed.events
                if call_of_leg(e.get("Uniqueid") or "") == c.call_id]
        if not any(c.caller_channel in (e.get("Channel"), e.get("Uniqueid"))
                   for e in listed.events):  # the caller left while nobody followed
            forget()
            self._unwatch(c.caller_channel, caller_gone)
            for extra in legs:
                await self._hang_up(extra.get("Uniqueid") or "")
            bound.info("acd_ring_caller_gone", legs=len(legs))
            return RingOutcome.CALLER_GONE
        for extra in legs[1:]:  # never more than one; if so, the first one is followed
            await self._hang_up(extra.get("Uniqueid") or "")
        if not legs:
            forget()
            self._unwatch(c.caller_channel, caller_gone)
            bound.info("acd_ring_lost")
            return unanswered(c, None)
        leg = legs[0]
        agent_leg, channel = leg.get("Uniqueid") or "", leg.get("Channel") or ""
        bound.info("acd_ring_resumed", agent_channel=channel, state=leg.get("ChannelState"),
                   bridged=bool(leg.get("BridgeId")))
        if leg.get("ChannelState") != UP:
            return await self._follow_ring(c, agent_leg, answered, caller_gone, forget)
        forget()
        self._unwatch(c.caller_channel, caller_gone)
        if leg.get("BridgeId"):
            return RingOutcome.ANSWERED
        return await self._bridge(c, channel or agent_leg, agent_leg)

    def _agent_dial(self, c: Connection) -> str | None:
        """Where the agent's phone rings: their endpoint, or for a lent agent the trunk to
        their site (None, logged, when there is no usable trunk or the ids cannot be sent)."""
        if not c.agent_site:
            return c.agent_endpoint
        peer = self.trunks.get(c.agent_site)
        bound = log.bind(call_id=c.call_id, agent_id=c.agent_id, agent_site=c.agent_site)
        if peer is None or not PEER.fullmatch(peer):
            bound.error("acd_no_trunk", peer=peer)
            return None
        try:
            return f"IAX2/{peer}/{lent_agent_extension(c.agent_id, c.call_id)}"
        except DialplanError as error:
            bound.error("acd_trunk_refused", error=str(error))
            return None

    async def _cancel_ring(self, agent_leg: str, forget: Callable[[], object],
                           answered: Deferred[Message]) -> None:
        await self._hang_up(agent_leg)
        # The originate still reports; forget it so nothing waits on it.
        forget()
        if not answered.called:
            answered.callback(Message([]))

    async def _hang_up(self, channel: str) -> None:
        try:
            await self.ami.send_action("Hangup", {"Channel": channel})
        except AMIError:
            pass  # already gone: that is what we wanted

    # -- the rest of the interface --------------------------------------------------------------

    def when_call_ends(self, call_id: str, caller_channel: str) -> Deferred[None]:
        """`caller_channel`: the name or (better) the Uniqueid; a name with an AGI session
        is followed by the session's Uniqueid."""
        return self._watch_hangup(caller_channel)

    def announce(self, caller_channel: str, position: int, ewt_s: float | None,
                 language: str) -> Deferred[None]:
        return Deferred.fromCoroutine(self._announce(caller_channel, position, ewt_s, language))

    async def _announce(self, caller_channel: str, position: int, ewt_s: float | None,
                        language: str) -> None:
        session = self.sessions.get(caller_channel)
        if session is None:
            return
        prompts = ["queue-position", *say_number(min(position, 999), language)]
        if ewt_s is not None:
            minutes = max(1, -(-int(ewt_s) // 60))  # rounded up: never promise less
            prompts += ["queue-wait", *say_number(min(minutes, 999), language), "queue-minutes"]
        # One Playback of every prompt, not a STREAM FILE each: the caller cannot interrupt
        # either way, and each command is an action, a response and an event, most of what
        # a waiting caller costs pln123. Not the hold subroutine: an agent may answer and
        # the caller be bridged while it plays (ivr/engine/hold.py).
        try:
            await self.hold.play(session, [f"pln123/{prompt}" for prompt in prompts],
                                 may_be_bridged=True)
        except AGIError:
            return  # the caller left meanwhile: nothing to tell

    def farewell(self, caller_channel: str, prompts: Sequence[str], language: str,
                 digits: str = "") -> Deferred[None]:
        return Deferred.fromCoroutine(self._farewell(caller_channel, list(prompts), language,
                                                     digits))

    async def _farewell(self, caller_channel: str, prompts: list[str], language: str,
                        digits: str) -> None:
        """STREAM FILE each prompt on the caller's AGI session, then HANGUP.

        Whatever goes wrong on the way (the caller left, AGI ended, a prompt is missing and
        Asterisk dropped AsyncAGI), the channel is hung up over AMI as well: the ACD has
        already taken the call out of its queue, so nobody else would ever end it.
        """
        session = self.sessions.get(caller_channel)
        if session is not None:
            files = [*prompts, *(say_digits(digits, language) if digits else [])]
            try:
                for prompt in files:
                    await session.stream_file(f"pln123/{prompt}", "")
                await session.hangup()
                return
            except AGIError:
                pass  # the caller left, or AGI broke: make sure below
        await self._hang_up(caller_channel)

    def offer_callback(self, caller_channel: str, language: str) -> Deferred[str | None]:
        return Deferred.fromCoroutine(self._offer_callback(caller_channel, language))

    async def _offer_callback(self, caller_channel: str, language: str) -> str | None:
        """`callback-offer` and one digit; on 1 the number read back and `callback-confirm`.

        The number is the caller id's digits: a withheld number is never offered (there is
        nobody to call back). Once 1 was pressed the answer is yes even if the read-back
        fails (the caller hung up: they asked to be called back).
        """
        session = self.sessions.get(caller_channel)
        number = _digits(session.caller_number) if session is not None else ""
        if session is None or not number:
            return None
        try:
            answer = await session.get_data("pln123/callback-offer", CALLBACK_DIGIT_MS, 1)
            if answer.digits != "1":
                await session.execute("EXEC", "StartMusicOnHold", self.hold.music_class)
                return None
        except AGIError:
            return None
        try:
            for prompt in ["callback-number", *say_digits(number, language),
                           "callback-confirm"]:
                await session.stream_file(f"pln123/{prompt}", "")
        except AGIError:
            pass
        return number

    def connect_callback(self, connection: Connection, number: str) -> Deferred[Callback]:
        return Deferred.fromCoroutine(self._connect_callback(connection, number))

    async def _connect_callback(self, c: Connection, number: str) -> Callback:
        bound = log.bind(call_id=c.call_id, agent_id=c.agent_id)
        if not number.isdigit():
            bound.error("acd_callback_bad_number", number=number)
            return Callback(RingOutcome.CALLER_NO_ANSWER)
        agent_dial = self._agent_dial(c)
        if agent_dial is None:
            return Callback(RingOutcome.TRUNK_FAILED)
        agent = await self._originate_leg(agent_dial, c.ring_timeout_s,
                                          caller_id(c.caller_label, number), "agent")
        if agent.channel is None:
            outcome = unanswered(c, agent.reason)
            bound.info("acd_agent_no_answer", reason=agent.reason, outcome=outcome.value)
            return Callback(outcome)
        agent_leg, agent_channel = agent.leg, agent.channel
        dial = self.callback_dial.format(number=number)
        bound.info("acd_dialling_caller", dial=dial)
        caller = await self._originate_leg(dial, c.ring_timeout_s, CALLBACK_CALLER_ID,
                                           "callback")
        if caller.channel is None:
            bound.info("acd_callback_no_answer")
            await self._hang_up(agent_leg)
            return Callback(RingOutcome.CALLER_NO_ANSWER)
        caller_leg, caller_channel = caller.leg, caller.channel
        try:
            await self.ami.send_action("Bridge", {
                "Channel1": caller_channel, "Channel2": agent_channel, "Tone": "no"})
        except AMIError as error:
            bound.info("acd_bridge_failed", error=str(error))
            await self._hang_up(caller_leg)
            await self._hang_up(agent_leg)
            return Callback(RingOutcome.CALLER_NO_ANSWER)
        for gone, other in ((agent_leg, caller_leg), (caller_leg, agent_leg)):
            self._watch_hangup(gone).addCallback(self._end_other_leg, other)
        bound.info("acd_callback_bridged", caller_channel=caller_channel)
        return Callback(RingOutcome.ANSWERED, caller_leg)

    def _end_other_leg(self, _gone: None, leg: str) -> Deferred[None]:
        return Deferred.fromCoroutine(self._hang_up(leg))

    async def _originate_leg(self, dial: str, timeout_s: float, shown_as: str,
                             role: str) -> _Leg:
        """Originate `dial` into Wait; answered, or the reason it was not."""
        number = next(self._ids)
        action_id = f"{self._prefix}-orig-{number}"
        leg = f"{self._prefix}-{role}-{number}"
        answered: Deferred[Message] = Deferred()
        self._originations[action_id] = answered
        try:
            await self.ami.send_action("Originate", {
                "Channel": dial, "Application": AGENT_LEG_APPLICATION,
                "Data": str(AGENT_LEG_MAX_S), "Timeout": str(int(timeout_s * 1000)),
                "CallerID": shown_as, "ChannelId": leg, "Async": "true",
            }, action_id=action_id)
        except AMIError as error:
            self._originations.pop(action_id, None)
            log.warning("acd_originate_failed", dial=dial, error=str(error))
            return _Leg(leg, reason=NOT_PLACED)
        answered.addTimeout(timeout_s + ORIGINATE_GRACE_S, self.clock)
        try:
            response = await answered
        except Exception as error:  # noqa: BLE001 - timed out: hang the leg up, no answer
            self._originations.pop(action_id, None)
            log.warning("acd_originate_outcome_lost", dial=dial, error=str(error))
            await self._hang_up(leg)
            return _Leg(leg)
        if (response.response or "").lower() != "success":
            return _Leg(leg, reason=response.get("Reason") or NOT_PLACED)
        return _Leg(leg, channel=response.get("Channel") or leg)

    def caller_alive(self, caller_channel: str) -> Deferred[bool]:
        """Asks Asterisk, which finds a channel by name or by Uniqueid (the ACD passes the
        Uniqueid it recorded: a name may be another caller's after an Asterisk restart)."""
        d = self.ami.send_action("Getvar", {"Channel": caller_channel,
                                            "Variable": "CHANNEL(state)"})

        def alive(_response: Any) -> bool:
            return True

        def gone(failure: Failure) -> bool:
            failure.trap(AMIActionError)  # no answer at all (link down) tells nothing
            return False

        return d.addCallbacks(alive, gone)


def _digits(number: str) -> str:
    return "".join(c for c in number if c.isdigit())[:20]
