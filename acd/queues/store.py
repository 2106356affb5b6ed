"""One site's queues, ready sets, agents and call records in Redis, behind Deferreds.

The store knows the key layout (acd/store/keys.py) and the script (lua.py) and nothing
about rules: which transition an agent event makes is `acd.agents.state.step`'s business,
carried out here by `change()` only if the agent is still at the version it was computed
from. The decisions (`offer`, `change`) go through the batching ScriptRunner; reads are
plain commands for supervisors, announcements and tests.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from twisted.internet.defer import Deferred, fail

from acd.agents.state import AgentEvent, AgentState, AgentStatus
from acd.intake import QueueRequest
from acd.queues.records import (
    AgentRecord,
    CallRecord,
    Changed,
    Conflict,
    Offer,
    parse_agent,
    parse_call,
    parse_change,
    parse_offer,
)
from acd.queues.scripts import ScriptRunner
from acd.settings import AcdSettings
from acd.store.keys import SiteKeys, checked_id, checked_name, queue_entry
from acd.store.redis import Client, RedisStore, text

SEP = "\x1f"  # the ASCII unit separator: joins an operation's arguments (lua/dispatch.lua)


def packable(value: str, what: str) -> str:
    """A value that can travel in a packed argument: no unit separator in it."""
    if SEP in value:
        raise ValueError(f"{what} contains the control character 0x1f")
    return value


class CallAction:
    """What an agent event does to the call the agent holds (agent_change's A[13])."""

    NONE = ""
    ANSWER = "answer"      # reserved -> connected; counts answered, ASA, SL
    REQUEUE = "requeue"    # ring-no-answer: back to its place in the queue (or another agent)
    ABANDON = "abandon"    # the caller hung up while the agent's phone rang
    FINISH = "finish"      # the talk ended
    CALLBACK_RETRY = "callback_retry"  # called back, no answer: out until the retry
    CALLBACK_FAIL = "callback_fail"    # the last attempt: finished, outcome callback_failed


class QueueStore:
    def __init__(self, store: RedisStore, site: str, settings: AcdSettings, *,
                 max_batch: int = 64):
        self.keys = SiteKeys(site)
        self.site = site
        self.settings = settings
        self.redis = store
        self.runner = ScriptRunner(store, self.keys.live, max_batch=max_batch)
        self._head = SEP.join([self.keys.prefix, site, str(settings.audit_maxlen),
                               repr(settings.service_level_s), repr(settings.escalation_s)])

    def _call(self, operation: str, now: float, args: list[str]) -> Deferred[Any]:
        """Run `operation` with its arguments packed into one (see lua/dispatch.lua)."""
        return self.runner.call(operation, SEP.join([self._head, f"{now:.3f}", *args]))

    # -- decisions (Lua) -----------------------------------------------------------------

    def offer(self, request: QueueRequest, now: float, *, enqueued_at: float | None = None,
              resumed_from: str = "", extra: Mapping[str, str] | None = None
              ) -> Deferred[Offer]:
        """offer_call: reserve the right ready agent with the call, or queue the call.

        `enqueued_at` (default `now`) is where the call stands in line: a caller who hung
        up and redialled within the abandon-resume window gets their first call's time
        back (`resumed_from` names that call, for the audit trail). Fails with ValueError
        (nothing written) on a request for another site or with values that cannot be keys.
        `extra` adds record fields (a call moved in from another site: `moved_from`,
        `visited`, `moves`; offer_call counts it as interflow in).
        """
        try:
            record = self._record(request)
            if resumed_from:
                record += ["resumed_from", packable(checked_id(resumed_from, "call id"),
                                                    "resumed_from")]
            for name, value in (extra or {}).items():
                record += [checked_name(name, "record field"), packable(value, name)]
        except ValueError as error:
            return fail(error)
        if enqueued_at is not None:  # after the script's own enqueued_at: HSET keeps the last
            record += ["enqueued_at", f"{enqueued_at:.3f}"]
        d = self._call("offer_call", now, [request.call_id, *record])
        return d.addCallback(parse_offer)

    def change(self, agent_id: str, version: int, event: AgentEvent, after: AgentState,
               now: float, *, call_action: str = CallAction.NONE, call_id: str = "",
               keep_idle: bool = False, endpoint: str = "",
               skills: Mapping[str, int] | None = None) -> Deferred[Changed | Conflict]:
        """agent_change: apply `after` if the agent is still at `version` (else Conflict).

        A target of READY is agent_ready: the agent takes the longest-waiting
        highest-priority call across its skills if there is one (Changed.reservation).
        `skills` (login) replaces the agent's skill levels; `endpoint` its dial string.
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
        except ValueError as error:
            return fail(error)
        args = [agent_id, str(version), event.value, after.status.value, after.reason,
                "1" if after.pending_logout else "0", call_action, call_id,
                "1" if keep_idle else "0", endpoint, *levels]
        d = self._call("agent_change", now, args)
        return d.addCallback(parse_change)

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

    def move_out(self, call_id: str, target: str, now: float
                 ) -> Deferred[dict[str, str] | None]:
        """Take a queued call out of this site's queue to move it to `target`.

        The call's record (to hand to the target), or None if it was not queued any more
        (an agent took it meanwhile, or the caller left): then nothing changed.
        """
        try:
            args = [checked_id(call_id, "call id"), checked_name(target, "site")]
        except ValueError as error:
            return fail(error)

        def parse(reply: list[Any]) -> dict[str, str] | None:
            if reply[0] != "moved":
                return None
            flat = [text(v) for v in reply[1:]]
            return dict(zip(flat[::2], flat[1::2], strict=True))

        return self._call("move_out", now, args).addCallback(parse)

    def move_back(self, call_id: str, channel: str, now: float) -> Deferred[Offer | None]:
        """The trunk call failed and the caller is back: offered again at its old place.

        None if the call was not being moved (already handled)."""
        try:
            args = [checked_id(call_id, "call id"), packable(channel, "channel")]
        except ValueError as error:
            return fail(error)

        def parse(reply: list[Any]) -> Offer | None:
            return parse_offer(reply) if reply[0] in ("reserved", "queued") else None

        return self._call("move_back", now, args).addCallback(parse)

    def set_channel(self, call_id: str, channel: str) -> Deferred[None]:
        """The caller's channel changed (a callback dialled them anew): a restarted process
        must follow the new one, not the channel that hung up when the callback was taken."""
        key = self.keys.call(checked_id(call_id, "call id"))

        async def write(client: Client) -> None:
            await client.hset(key, "channel", channel)

        return self.redis.run(write)

    def noop(self) -> Deferred[Any]:
        """The round-trip floor: a script doing nothing, on the decisions' path."""
        return self._call("noop", 0.0, [])

    # -- reads ---------------------------------------------------------------------------

    def agent(self, agent_id: str) -> Deferred[AgentRecord]:
        """The agent's record (logged out, version 0, if never seen)."""
        def parse(flat: list[str]) -> AgentRecord:
            return parse_agent(agent_id, dict(zip(flat[::2], flat[1::2], strict=True)))

        d = self._call("agent_get", 0.0, [checked_id(agent_id, "agent id")])
        return d.addCallback(parse)

    def call(self, call_id: str) -> Deferred[CallRecord | None]:
        async def read(client: Client) -> CallRecord | None:
            raw = await client.hgetall(self.keys.call(call_id))
            if not raw:
                return None
            return parse_call(call_id, {text(k): text(v) for k, v in raw.items()})

        return self.redis.run(read)

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

    def _record(self, request: QueueRequest) -> list[str]:
        if request.site != self.site:
            raise ValueError(f"call {request.call_id} is for site {request.site!r}, "
                             f"this queue store serves {self.site!r}")
        if not 1 <= request.priority <= 9:
            raise ValueError(f"call {request.call_id}: priority {request.priority} not in 1..9")
        fields = {
            "call_id": checked_id(request.call_id, "call id"),
            "site": request.site,
            "channel": request.channel,
            "skill": checked_name(request.skill, "skill"),
            "priority": str(request.priority),
            "language": request.language,
            "area_code": request.area_code,
            "region": request.region,
            "caller_number": request.caller_number,
            "idpel": request.idpel or "",
            "entered_at": f"{request.entered_at:.3f}",
        }
        for name, value in fields.items():
            packable(value, name)
        return [item for pair in fields.items() for item in pair]
