"""One site's queues, ready sets, agents and call records in Redis, behind Deferreds.

The store knows the key layout (acd/store/keys.py) and the script (lua.py) and nothing
about rules: which transition an agent event makes is `acd.agents.state.step`'s business,
carried out here by `change()` only if the agent is still at the version it was computed
from. The decisions (`offer`, `change`) go through the batching ScriptRunner; reads are
plain commands for supervisors, announcements and tests.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from twisted.internet.defer import Deferred, fail

from acd.agents.state import AgentEvent, AgentState, AgentStatus
from acd.intake import QueueRequest, checked_menu_path
from acd.queues.records import (
    AgentRecord,
    CallRecord,
    Changed,
    Conflict,
    Offer,
    Queued,
    Reservation,
    parse_agent,
    parse_call,
    parse_change,
    parse_offer,
)
from acd.queues.scripts import RECORD, UNIT, ScriptRunner
from acd.settings import AcdSettings, PoolingSettings
from acd.store.keys import SiteKeys, checked_id, checked_name, queue_entry
from acd.store.redis import Client, RedisStore, text
from acd.telephony import PhoneState

SEP = UNIT  # joins an operation's arguments (lua/dispatch.lua)


def packable(value: str, what: str) -> str:
    """A value that can travel in a packed argument: no unit or record separator in it."""
    for separator in (UNIT, RECORD):
        if separator in value:
            raise ValueError(f"{what} contains the control character 0x{ord(separator):x}")
    return value


def pool_rules(pooling: PoolingSettings, site: str) -> str:
    """The rules of `site`'s pool as the script reads them (lua/common.lua, parse_pool):
    each member's candidates in order, the reserves, the trunk limits, the auto reserve's
    parameters, whether ring requests go through the stream. The same text for every site
    of a pool."""
    members = pooling.members(site)
    cands = ";".join(f"{m}={'|'.join(pooling.candidates(m))}" for m in members)
    reserves = [pooling.default_reserve] + [
        f"{s}:{skill}={value}" for (s, skill), value in sorted(pooling.reserve.items())
        if s in members]
    trunks = [str(pooling.trunk_limit)] + [
        f"{home}>{lender}={limit}" for (home, lender), limit in sorted(pooling.trunk_limits.items())
        if home in members and lender in members]
    auto = pooling.auto
    params = ",".join(repr(float(v)) for v in (auto.every_s, auto.sl_low, auto.sl_high,
                                               auto.min_answered, auto.most, auto.net_window_s))
    text = "#".join([cands, ";".join(reserves), ";".join(trunks), params,
                     "1" if pooling.ring_stream else "0"])
    return packable(text, "pool rules")


@dataclass(frozen=True)
class SkillNow:
    """A skill's live material as one read found it (QueueStore.live_figures)."""

    minutes: Mapping[int, Mapping[str, str]]   # minute start (epoch s) -> its counters hash
    waiting: int
    oldest_enqueued_at: float | None            # the longest-waiting call's, epoch s


def _reservations(replies: list[Any]) -> list[Reservation]:
    return [offer for offer in map(parse_offer, replies) if isinstance(offer, Reservation)]


def _phone_reply(reply: list[Any]) -> Changed | None:
    if reply[0] == "reserved":
        reservation = parse_offer(reply)
        assert isinstance(reservation, Reservation)
        return Changed(AgentStatus.RESERVED, reservation.agent_version, reservation)
    if reply[0] == "ready":
        return Changed(AgentStatus.READY, int(reply[1]))
    return None


class CallAction:
    """What an agent event does to the call the agent holds (agent_change's A[15])."""

    NONE = ""
    ANSWER = "answer"      # reserved -> connected; counts answered, ASA, SL
    REQUEUE = "requeue"    # ring-no-answer: back to its place in the queue (or another agent)
    TRUNK_FAILED = "trunk_failed"  # a lent agent's trunk call failed: call back, agent ready
    ABANDON = "abandon"    # the caller hung up while the agent's phone rang
    FINISH = "finish"      # the talk ended
    CALLBACK_RETRY = "callback_retry"  # called back, no answer: out until the retry
    CALLBACK_FAIL = "callback_fail"    # the last attempt: finished, outcome callback_failed


class QueueStore:
    def __init__(self, store: RedisStore, site: str, settings: AcdSettings, *,
                 max_batch: int = 64, runner: ScriptRunner | None = None):
        """`runner`: the script runner to share with other sites' stores of this process
        (their operations then travel in the same batches); by default one of its own."""
        self.keys = SiteKeys(site, settings.pooling.pool_of(site))
        self.site = site
        self.settings = settings
        self.redis = store
        self.runner = runner or ScriptRunner(store, self.keys.live, max_batch=max_batch)
        self._head = SEP.join([self.keys.pool_prefix, site, str(settings.audit_maxlen),
                               repr(settings.service_level_s), repr(settings.escalation_s),
                               f"{settings.abandon_resume_s!r},"
                               f"{settings.ended_call_ttl_s()!r}"])
        self._rules = pool_rules(settings.pooling, site)

    def reconfigure(self, settings: AcdSettings) -> None:
        """A reloaded config (SIGHUP): the next decision uses its pool rules (order,
        reserves, trunk limits). The pool itself and the script's arguments in the head
        (service level T, escalation, audit bound, the abandon-resume window and an
        ended call's TTL) stay until a restart."""
        self.settings = settings
        self._rules = pool_rules(settings.pooling, self.site)

    def keys_of(self, site: str) -> SiteKeys:
        """The keys of another site of this site's pool (a lent agent, a borrowed call)."""
        return SiteKeys(site, self.keys.pool)

    def _call(self, operation: str, now: float, args: list[str]) -> Deferred[Any]:
        """Run `operation` with its arguments packed into one (see lua/dispatch.lua)."""
        return self.runner.call(operation, SEP.join([self._head, f"{now:.3f}", self._rules,
                                                     *args]))

    # -- decisions (Lua) -----------------------------------------------------------------

    def offer(self, request: QueueRequest, now: float) -> Deferred[Offer]:
        """offer_call: reserve the right ready agent with the call, or queue the call.

        A caller who abandoned within the abandon-resume window and redials from the same
        number takes their old place back (the script keeps and hands out places). With
        no ready agent here, a ready agent of another site of the pool may be reserved
        (`Reservation.agent_site`), if that site may lend. Fails with ValueError (nothing
        written) on a request for another site or with values that cannot be keys.
        """
        try:
            record = self._record(request)
        except ValueError as error:
            return fail(error)
        d = self._call("offer_call", now, [request.call_id, *record])
        return d.addCallback(parse_offer)

    def change(self, agent_id: str, version: int, event: AgentEvent, after: AgentState,
               now: float, *, call_action: str = CallAction.NONE, call_id: str = "",
               keep_idle: bool = False, endpoint: str = "",
               skills: Mapping[str, int] | None = None,
               agent_site: str = "") -> Deferred[Changed | Conflict]:
        """agent_change: apply `after` if the agent is still at `version` (else Conflict).

        A target of READY is agent_ready: the agent takes the longest-waiting
        highest-priority call across its skills if there is one (Changed.reservation),
        at their own site first, then at the pool's other sites if their site may lend.
        `skills` (login) replaces the agent's skill levels; `endpoint` its dial string.
        `agent_site`: the agent's site when it is not this store's (a lent agent's ring
        outcome, reported by the site that rang them).
        """
        levels: list[str] = []
        try:
            for skill, level in (skills or {}).items():
                if not 1 <= level <= 10:
                    raise ValueError(f"agent {agent_id}: skill level {level} not in 1..10")
                levels += [checked_name(skill, "skill"), str(level)]
            checked_id(agent_id, "agent id")
            packable(after.reason, "pause reason")
            packable(endpoint, "endpoint")
            if agent_site:
                checked_name(agent_site, "site")
        except ValueError as error:
            return fail(error)
        args = [agent_id, agent_site, str(version), event.value, after.status.value, after.reason,
                "1" if after.pending_logout else "0", call_action, call_id,
                "1" if keep_idle else "0", endpoint, *levels]
        d = self._call("agent_change", now, args)
        return d.addCallback(parse_change)

    def append_audit(self, entry: Mapping[str, str], now: float) -> Deferred[Any]:
        """audit_append: `entry` onto the site's audit stream, in the next batch of
        decisions (one round trip shared with them). ValueError, before anything is sent,
        for a field or value that cannot be packed."""
        fields = [packable(part, "audit entry")
                  for name, value in entry.items() for part in (name, value)]
        return self._call("audit_append", now, fields)

    def remove_call(self, call_id: str, now: float, *, max_wait_fallback: str = "",
                    why: str = "max_wait") -> Deferred[bool]:
        """Take a queued call out of its queue (True); False if it was not queued.

        By default the caller hung up: counted abandoned. With `max_wait_fallback` (what
        the caller gets instead, e.g. "ticket") the queue's maximum wait is over: the call
        is finished with outcome max_wait, counted `max_wait`, audited as event max_wait.
        Either way no agent can be reserved for it afterwards (one atomic script).
        `why="surge"`: the same for a new caller turned away by admission control.
        """
        if why not in ("max_wait", "surge"):
            return fail(ValueError(f"remove_call: unknown reason {why!r}"))
        try:
            checked_id(call_id, "call id")
            args = [call_id]
            if max_wait_fallback:
                args += [why, packable(max_wait_fallback, "fallback")]
        except ValueError as error:
            return fail(error)
        d = self._call("remove_call", now, args)
        return d.addCallback(lambda reply: reply[0] == "removed")

    def mark_callback(self, call_id: str, number: str, now: float) -> Deferred[bool]:
        """The caller accepted a callback to `number` (digits): True if the call was queued.

        The call keeps its place; its caller's hang-up is no longer an abandon. False (nothing
        changed) if it was not queued any more, e.g. an agent is ringing for it already.
        """
        if not number.isdigit() or len(number) > 20:
            return fail(ValueError(f"callback number {number!r}: 1 to 20 digits only"))
        try:
            checked_id(call_id, "call id")
        except ValueError as error:
            return fail(error)
        d = self._call("callback_mark", now, [call_id, number])
        return d.addCallback(lambda reply: reply[0] == "marked")

    def requeue_callback(self, call_id: str, now: float) -> Deferred[Offer | None]:
        """A callback's retry is due: offered again at its place; None if not waiting."""
        try:
            checked_id(call_id, "call id")
        except ValueError as error:
            return fail(error)
        d = self._call("callback_requeue", now, [call_id])
        return d.addCallback(lambda reply: None if reply[0] == "gone" else parse_offer(reply))

    def reserve_tick(self, skills: list[str], now: float) -> Deferred[int]:
        """The auto reserve's service-level step for this site, if it is due (one process
        of the site steps it per period); the reserve's r_sl now."""
        args = [",".join(checked_name(s, "skill") for s in skills)]
        return self._call("reserve_tick", now, args).addCallback(lambda reply: int(reply[1]))

    def lend_spare(self, skills: list[str], now: float,
                   most: int = 50) -> Deferred[list[Reservation]]:
        """This site's ready agents beyond its reserve take waiting calls of the pool's other
        sites (their sites ring them); the reservations made."""
        args = [",".join(checked_name(s, "skill") for s in skills), str(most)]
        return self._call("lend_spare", now, args).addCallback(_reservations)

    def release_lent(self, lease_s: float, now: float) -> Deferred[list[Reservation]]:
        """Agents of this site reserved longer than `lease_s` for a call of a site whose
        pln123 is not running: the call back at its place, the agent back to ready (and
        maybe at once reserved again: those reservations)."""
        return self._call("release_lent", now, [repr(lease_s)]).addCallback(_reservations)

    def phone_change(self, agent_id: str, phone: PhoneState,
                     now: float) -> Deferred[Changed | None]:
        """The agent's phone is now `phone` (lua/phones.lua): a ready agent whose phone is
        not available leaves the ready sets (still ready), and is back in line at their
        place when it is available again. Changed if that made the agent ready again (with
        the waiting call they took, if any); None if nothing else changed."""
        try:
            checked_id(agent_id, "agent id")
        except ValueError as error:
            return fail(error)
        d = self._call("phone_change", now, [agent_id, phone.value])
        return d.addCallback(_phone_reply)

    def set_channel(self, call_id: str, channel: str) -> Deferred[None]:
        """The caller's channel changed (a callback dialled them anew): a restarted process
        must follow the new one, not the channel that hung up when the callback was taken."""
        try:
            checked_id(call_id, "call id")
            packable(channel, "channel")
        except ValueError as error:
            return fail(error)
        d = self._call("callback_channel", 0.0, [call_id, channel])
        return d.addCallback(lambda _: None)

    def noop(self) -> Deferred[Any]:
        """The round-trip floor: a script doing nothing, on the decisions' path."""
        return self._call("noop", 0.0, [])

    # -- reads ---------------------------------------------------------------------------

    def agent(self, agent_id: str, site: str = "") -> Deferred[AgentRecord]:
        """The agent's record (logged out, version 0, if never seen); `site`: the agent's,
        when not this store's."""
        def parse(flat: list[str]) -> AgentRecord:
            return parse_agent(agent_id, dict(zip(flat[::2], flat[1::2], strict=True)))

        d = self._call("agent_get", 0.0, [checked_id(agent_id, "agent id"),
                                          checked_name(site, "site") if site else ""])
        return d.addCallback(parse)

    def agent_endpoint(self, agent_id: str, site: str = "") -> Deferred[str]:
        """The dial string of the agent's phone (as written at their login)."""
        key = (self.keys_of(site) if site else self.keys).agent(checked_id(agent_id, "agent"))

        async def read(client: Client) -> str:
            return text(await client.hget(key, "endpoint") or b"")

        return self.redis.run(read)

    def call(self, call_id: str) -> Deferred[CallRecord | None]:
        async def read(client: Client) -> CallRecord | None:
            raw = await client.hgetall(self.keys.call(call_id))
            if not raw:
                return None
            return parse_call(call_id, {text(k): text(v) for k, v in raw.items()})

        return self.redis.run(read)

    def call_and_position(self, call_id: str) -> Deferred[tuple[CallRecord | None, int | None]]:
        """The call's record (None if unknown) and, if it is queued, its position (1 =
        next), read at one moment on the decisions' batched path: what a waiting caller's
        tick needs, in one round trip shared with whatever else is being decided."""
        def parse(reply: list[Any]) -> tuple[CallRecord | None, int | None]:
            flat, place = reply
            if not flat:
                return None, None
            record = parse_call(call_id, dict(zip(flat[::2], flat[1::2], strict=True)))
            return record, int(place) or None

        try:
            checked_id(call_id, "call id")
        except ValueError as error:
            return fail(error)
        return self._call("call_get", 0.0, [call_id]).addCallback(parse)

    def live_figures(self, minutes: Mapping[str, Sequence[int]]
                     ) -> Deferred[tuple[dict[str, SkillNow], dict[str, str], dict[str, str]]]:
        """For each skill of `minutes`: the counters of those minutes (by start, epoch s),
        how many calls wait and the oldest one's enqueue time (None: nobody waits); every
        agent of the site with their status; and the agents whose phone is not available,
        with its state. Read at one moment, on the decisions' batched path: what
        SiteMetrics makes the live figures of."""
        skills = [checked_name(skill, "skill") for skill in minutes]

        def parse(reply: list[Any]
                  ) -> tuple[dict[str, SkillNow], dict[str, str], dict[str, str]]:
            figures: dict[str, SkillNow] = {}
            for skill, (hashes, waiting, oldest) in zip(skills, reply[:-2], strict=True):
                counted = {start: dict(zip(flat[::2], flat[1::2], strict=True))
                           for start, flat in zip(minutes[skill], hashes, strict=True)}
                figures[skill] = SkillNow(counted, int(waiting),
                                          None if int(oldest) < 0 else int(oldest) / 1000)
            agents, phones = reply[-2], reply[-1]
            return (figures, dict(zip(agents[::2], agents[1::2], strict=True)),
                    dict(zip(phones[::2], phones[1::2], strict=True)))

        lists = ";".join(",".join(str(start) for start in minutes[skill]) for skill in skills)
        return self._call("live_get", 0.0, [",".join(skills), lists]).addCallback(parse)

    def position(self, call_id: str) -> Deferred[int | None]:
        """1 = next to be served; None unless the call is queued."""
        async def read(client: Client) -> int | None:
            state, skill = await client.hmget(self.keys.call(call_id), ["state", "skill"])
            if state != "queued" or skill is None:
                return None
            rank: Any = await client.zrank(self.keys.queue(text(skill)), call_id)
            return None if rank is None else int(rank) + 1

        return self.redis.run(read)

    def waiting(self, skills: list[str]) -> Deferred[dict[str, int]]:
        """How many calls wait per skill."""
        async def read(client: Client) -> dict[str, int]:
            async with client.pipeline(transaction=False) as pipe:
                for skill in skills:
                    pipe.zcard(self.keys.queue(skill))
                counts = await pipe.execute()
            return {skill: int(n) for skill, n in zip(skills, counts, strict=True)}

        return self.redis.run(read)

    def queue(self, skill: str) -> Deferred[list[tuple[str, int, float]]]:
        """The waiting calls of a skill in service order: (call id, priority, enqueued_at)."""
        async def read(client: Client) -> list[tuple[str, int, float]]:
            entries: list[Any] = await client.zrange(self.keys.queue(skill), 0, -1,
                                                     withscores=True)
            return [(text(member), *queue_entry(score)) for member, score in entries]

        return self.redis.run(read)

    def agent_states(self) -> Deferred[dict[str, AgentStatus]]:
        """Every agent who ever logged in at the site, by id: their current status."""
        async def read(client: Client) -> dict[str, AgentStatus]:
            raw = await client.hgetall(self.keys.agents)
            return {text(k): AgentStatus(text(v)) for k, v in raw.items()}

        return self.redis.run(read)

    def live_calls(self) -> Deferred[set[str]]:
        """Calls not yet abandoned or finished: what a restarted pln123 must re-adopt."""
        async def read(client: Client) -> set[str]:
            return {text(m) for m in await client.smembers(self.keys.live)}

        return self.redis.run(read)

    def waiting_channels(self) -> Deferred[dict[str, str]]:
        """channel -> call id of the live calls still waiting (queued, or an agent rings)."""
        async def read(client: Client) -> dict[str, str]:
            call_ids = sorted(text(m) for m in await client.smembers(self.keys.live))
            async with client.pipeline(transaction=False) as pipe:
                for call_id in call_ids:
                    pipe.hmget(self.keys.call(call_id), ["state", "channel"])
                rows = await pipe.execute()
            return {text(channel): call_id for call_id, (state, channel) in zip(
                call_ids, rows, strict=True)
                if channel and state is not None and text(state) in ("queued", "reserved")}

        return self.redis.run(read)

    # -- helpers -------------------------------------------------------------------------

    def queued_record(self, request: QueueRequest, placed: Queued) -> CallRecord:
        """The record of a call `offer` just queued, from its request and the offer's reply,
        without reading it back (the waiting room's first look at a new caller). The
        priority is the request's (a resumed call may have kept a better one)."""
        fields = self._fields(request)
        fields.update(state="queued", agent="",
                      enqueued_at=f"{placed.enqueued_at or request.entered_at:.3f}")
        return parse_call(request.call_id, fields)

    def _record(self, request: QueueRequest) -> list[str]:
        return [item for pair in self._fields(request).items() for item in pair]

    def _fields(self, request: QueueRequest) -> dict[str, str]:
        if request.site != self.site:
            raise ValueError(f"call {request.call_id} is for site {request.site!r}, "
                             f"this queue store serves {self.site!r}")
        if not 1 <= request.priority <= 9:
            raise ValueError(f"call {request.call_id}: priority {request.priority} not in 1..9")
        fields = {
            "call_id": checked_id(request.call_id, "call id"),
            "site": request.site,
            "channel": request.channel,
            "uniqueid": request.uniqueid,  # what a reconnect matches the caller by
            "skill": checked_name(request.skill, "skill"),
            "priority": str(request.priority),
            "language": request.language,
            "area_code": request.area_code,
            "region": request.region,
            "caller_number": request.caller_number,
            "idpel": request.idpel or "",
            "entered_at": f"{request.entered_at:.3f}",
            "menu_path": checked_menu_path(request.menu_path),
        }
        for name, value in fields.items():
            packable(value, name)
        return fields
