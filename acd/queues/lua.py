"""The ACD's Lua script: every decision that must not race runs inside Redis, atomically.

Why Lua: a reservation reads (who is ready, who waits longest) and writes (remove the agent
from the ready sets, the call from its queue, mark both) in one step. Redis runs one script
at a time, so any number of pln123 processes on one site can call it concurrently and
never reserve one agent twice or one call twice. `step()` in acd/agents/state.py decides
*what* an agent event does; the script applies it only if the agent's `version` is still
the one the decision was computed from (compare-and-set), and does the matching.

The operations are Lua functions of one script, which runs a batch of them per call
(ScriptRunner, scripts.py, sends whatever calls are waiting as one EVALSHA: most of
redis-py's cost is per command, not per operation). Each operation is atomic (so is the
whole batch); a failing operation returns {'error', message} and the others go on.

The source is in acd/queues/lua/*.lua, joined in the order of `PARTS`: common.lua (the
shared state and helpers), one file per operation or pair of operations, and dispatch.lua
(the batch loop). The contracts are Lua comments there: the packed arguments every
operation gets and the batch's shape at the top of dispatch.lua, each operation's own
arguments and replies above its function, the reservation reply above `reserve` in
common.lua. acd/queues/store.py packs the arguments and parses the replies.

The key layout (the parts after the site's prefix, such as `queue:`, `tier:`, `m:`) and the
numbers (interval and minute lengths, how long their counters are kept, the score scale)
come from acd/store/keys.py as template values, written into the source once when this
module is imported. Why a template and not script arguments: the values never change
while a process runs, so arguments would only add bytes to every batch and parsing to every
operation; rendered in, they cost nothing per call, and the script's SHA (computed by
ScriptRunner from the rendered text) changes exactly when the layout does, so a process
with another layout never runs a script cached for this one.
"""

from __future__ import annotations

from collections.abc import Mapping

from acd.store import keys
from acd.store.lua import LuaValue, render, source

PARTS = ("common.lua", "offer_call.lua", "agent_change.lua", "remove_call.lua",
         "callbacks.lua", "reads.lua", "pooling.lua", "phones.lua", "audit.lua", "dispatch.lua")

OPERATIONS = ("offer_call", "agent_change", "remove_call", "callback_mark", "callback_requeue",
              "callback_channel",
              "agent_get", "call_get", "live_get", "noop", "reserve_tick", "lend_spare",
              "release_lent", "phone_change", "audit_append")


def layout() -> dict[str, LuaValue]:
    """The template values: the names the .lua files use, keys.py's values."""
    return {
        "CALL": keys.CALL, "LIVE": keys.LIVE, "QUEUE": keys.QUEUE, "READY": keys.READY,
        "TIER": keys.TIER, "AGENT": keys.AGENT, "SKILLS": keys.SKILLS,
        "AGENTS": keys.AGENTS, "AUDIT": keys.AUDIT, "INTERVAL": keys.INTERVAL,
        "MINUTE": keys.MINUTE, "PART": keys.PART,
        "LENDING": keys.LENDING, "LOANS": keys.LOANS, "TAKEN": keys.TAKEN,
        "IDLE_AT": keys.IDLE_AT, "RSL": keys.RSL, "LENT": keys.LENT,
        "BORROWED": keys.BORROWED, "TRUNK": keys.TRUNK, "ALIVE": keys.ALIVE,
        "RINGS": keys.RINGS, "RESUME": keys.RESUME, "PHONES": keys.PHONES,
        "DESKTOP": keys.DESKTOP,
        "INTERVAL_S": keys.INTERVAL_S, "MINUTE_S": keys.MINUTE_S,
        "INTERVAL_KEEP_S": keys.INTERVAL_KEEP_S, "MINUTE_KEEP_S": keys.MINUTE_KEEP_S,
        "LIVE_WINDOW_S": keys.LIVE_WINDOW_S, "NET_KEEP_S": keys.NET_KEEP_S,
        "RINGS_MAXLEN": keys.RINGS_MAXLEN,
        "SCORE_SCALE": keys.SCORE_SCALE, "TOP_LEVEL": keys.TOP_LEVEL, "AUTO": keys.AUTO,
    }


def template() -> str:
    """The script's source as shipped, placeholders and all."""
    return "".join(source("acd.queues", name) + "\n" for name in PARTS)


def render_script(values: Mapping[str, LuaValue] | None = None) -> str:
    """The script Redis runs: the source with `values` (default: keys.py's) written in."""
    return render(template(), layout() if values is None else values)


SCRIPT = render_script()
