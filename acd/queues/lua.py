"""The ACD's Lua scripts: every decision that must not race runs inside Redis, atomically.

Why Lua: a reservation reads (who is ready, who waits longest) and writes (remove the agent
from the ready sets, the call from its queue, mark both) in one step. Redis runs one script
at a time, so any number of pln123 processes on one site can call these concurrently and
never reserve one agent twice or one call twice. `step()` in acd/agents/state.py decides
*what* an agent event does; the scripts apply it only if the agent's `version` is still the
one the decision was computed from (compare-and-set), and do the matching.

The operations are Lua functions of one script, which runs a batch of them per call
(ScriptRunner sends whatever calls are waiting as one EVALSHA: most of redis-py's cost is
per command, not per operation). The script gets one key, the site's `live` set, for
Cluster routing, and builds the others from the site prefix: all of them carry the site's
hash tag, so they are in that key's slot (see keys.py). Each operation is atomic (so is
the whole batch); a failing operation returns {'error', message} and the others go on.

Arguments: ARGV holds operation name, packed arguments, name, arguments... The packed
arguments are every value joined by the unit separator \x1f (values never contain it),
split into A: [1] key prefix `acd:{site}:`, [2] site, [3] audit stream MAXLEN
(approximate), [4] service level T (s), [5] escalation time (s), [6] now (epoch s, ms
precision, from the injected clock). Script arguments start at A[7].

Replies (nested arrays):
    reservation  {'reserved', call_id, agent_id, agent_version, endpoint, channel,
                  caller_number, skill, callback number ('' for a live caller)}
    queued       {'queued', call_id, position, skill}
"""

from __future__ import annotations

from acd.queues.lua_moves import MOVE_BACK, MOVE_OUT

_COMMON = r"""
local A, P, SITE, MAXLEN, SL_T, ESC, NOWS, NOW  -- set for each operation (see the end)

local function ms(t) return string.format('%.0f', math.floor(t * 1000 + 0.5)) end
local function fmt(x) return string.format('%.3f', x) end

local function audit(event, call, agent, skill, state, extra)
  local f = {'event', event, 'site', SITE, 'call', call or '', 'agent', agent or '',
             'skill', skill or '', 'state', state or '', 'at', NOWS}
  if extra then for i = 1, #extra do f[#f + 1] = extra[i] end end
  redis.call('XADD', P .. 'audit', 'MAXLEN', '~', MAXLEN, '*', unpack(f))
end

-- counters per 15-minute interval (kept 31 days) and per minute (kept 17 minutes);
-- durations in integer milliseconds (HINCRBY is cheaper than HINCRBYFLOAT)
local function metric(skill, kv, maxname, maxvalue)
  local iv = string.format('%.0f', math.floor(NOW / 900) * 900)
  local mn = string.format('%.0f', math.floor(NOW / 60) * 60)
  local k1 = P .. 'm:' .. skill .. ':' .. iv
  local k2 = P .. 'm1:' .. skill .. ':' .. mn
  for i = 1, #kv, 2 do
    if kv[i + 1] ~= 0 then
      redis.call('HINCRBY', k1, kv[i], kv[i + 1])
      redis.call('HINCRBY', k2, kv[i], kv[i + 1])
    end
  end
  if maxname then  -- the interval's longest wait (live: the oldest caller still waiting)
    local old = tonumber(redis.call('HGET', k1, maxname) or '-1')
    if maxvalue > old then redis.call('HSET', k1, maxname, maxvalue) end
  end
  redis.call('EXPIRE', k1, 2678400)
  redis.call('EXPIRE', k2, 1020)
end

local function dur(seconds) return math.floor(seconds * 1000 + 0.5) end

local function skills_of(agent)
  return redis.call('HGETALL', P .. 'agent:' .. agent .. ':skills')
end

local function ready_remove(agent, skills)
  for i = 1, #skills, 2 do
    redis.call('ZREM', P .. 'ready:' .. skills[i], agent)
    redis.call('ZREM', P .. 'tier:' .. skills[i], agent)
  end
end

local function ready_add(agent, skills, idle)
  local idle_ms = math.floor(idle * 1000 + 0.5)
  for i = 1, #skills, 2 do
    local level = tonumber(skills[i + 1])
    redis.call('ZADD', P .. 'ready:' .. skills[i], string.format('%.0f', idle_ms), agent)
    redis.call('ZADD', P .. 'tier:' .. skills[i],
               string.format('%.0f', (10 - level) * 1e13 + idle_ms), agent)
  end
end

-- the agent's new state; returns the new version
local function set_agent(agent, state, reason, pending, call, event, call_id, skill)
  local k = P .. 'agent:' .. agent
  redis.call('HSET', k, 'state', state, 'reason', reason, 'pending_logout', pending,
             'call', call, 'since', NOWS)
  local v = redis.call('HINCRBY', k, 'version', 1)
  redis.call('HSET', P .. 'agents', agent, state)
  audit(event, call_id, agent, skill, state, {'reason', reason})
  return v
end

local function reserve(agent, call_id, skill, was_ready)
  local ck = P .. 'call:' .. call_id
  if was_ready then ready_remove(agent, skills_of(agent)) end
  redis.call('HSET', ck, 'state', 'reserved', 'agent', agent, 'reserved_at', NOWS)
  local v = set_agent(agent, 'reserved', '', '0', call_id, 'reserve', call_id, skill)
  local c = redis.call('HMGET', ck, 'channel', 'caller_number', 'callback')
  local endpoint = redis.call('HGET', P .. 'agent:' .. agent, 'endpoint') or ''
  return {'reserved', call_id, agent, tostring(v), endpoint, c[1] or '', c[2] or '', skill,
          c[3] or ''}
end

local function qscore(priority, enqueued)
  return string.format('%.0f', priority * 1e13 + math.floor(enqueued * 1000 + 0.5))
end

-- offer_call's decision: the right ready agent, or a place in the queue
local function offer(call_id)
  local ck = P .. 'call:' .. call_id
  local c = redis.call('HMGET', ck, 'skill', 'priority', 'enqueued_at')
  local skill, priority, enqueued = c[1], tonumber(c[2]), tonumber(c[3])
  local found
  if NOW - enqueued >= ESC then
    found = redis.call('ZRANGE', P .. 'tier:' .. skill, 0, 0)   -- most skilled, then idle
  else
    found = redis.call('ZRANGE', P .. 'ready:' .. skill, 0, 0)  -- longest idle
  end
  if found[1] then return reserve(found[1], call_id, skill, true) end
  local q = P .. 'queue:' .. skill
  redis.call('ZADD', q, qscore(priority, enqueued), call_id)
  redis.call('HSET', ck, 'state', 'queued', 'agent', '')
  audit('queued', call_id, '', skill, 'queued')
  return {'queued', call_id, tostring(redis.call('ZRANK', q, call_id) + 1), skill}
end

-- agent_ready's decision: the best waiting call across the agent's skills, or the ready sets
local function agent_ready(agent, skills, idle, event, call_id, skill)
  local best, best_score, best_skill
  for i = 1, #skills, 2 do
    local head = redis.call('ZRANGE', P .. 'queue:' .. skills[i], 0, 0, 'WITHSCORES')
    if head[1] and (best == nil or tonumber(head[2]) < best_score) then
      best, best_score, best_skill = head[1], tonumber(head[2]), skills[i]
    end
  end
  if best then
    redis.call('ZREM', P .. 'queue:' .. best_skill, best)
    return reserve(agent, best, best_skill, false)
  end
  local v = set_agent(agent, 'ready', '', '0', '', event, call_id, skill)
  redis.call('HSET', P .. 'agent:' .. agent, 'idle_since', fmt(idle))
  ready_add(agent, skills, idle)
  return {'ready', tostring(v)}
end

local function end_call(call_id, state, metric_name, in_sl_name)
  local ck = P .. 'call:' .. call_id
  local c = redis.call('HMGET', ck, 'skill', 'enqueued_at', 'agent')
  redis.call('HSET', ck, 'state', state, 'ended_at', NOWS)
  redis.call('SREM', P .. 'live', call_id)
  if metric_name then
    local wait = NOW - tonumber(c[2])
    metric(c[1], {metric_name, 1, in_sl_name, wait <= SL_T and 1 or 0},
           'longest_wait_ms', dur(wait))
  end
  audit(state, call_id, c[3], c[1], state)
  return c[1]
end
"""

# offer_call. A[7] = call id, A[8..] = field, value pairs of the record.
# A call id seen before is not offered again (a retried enqueue after a lost reply): the
# reply is {'duplicate', call_id, state, agent} or, if it waits, its 'queued' reply.
OFFER_CALL = r"""
local function offer_call()
local call_id = A[7]
local ck = P .. 'call:' .. call_id
local seen = redis.call('HMGET', ck, 'state', 'skill', 'agent')
if seen[1] then
  if seen[1] == 'queued' then
    local q = P .. 'queue:' .. seen[2]
    return {'queued', call_id, tostring(redis.call('ZRANK', q, call_id) + 1), seen[2]}
  end
  return {'duplicate', call_id, seen[1], seen[3] or ''}
end
local record = {}
for i = 8, #A do record[#record + 1] = A[i] end
redis.call('HSET', ck, 'state', 'new', 'enqueued_at', NOWS, 'agent', '', unpack(record))
redis.call('SADD', P .. 'live', call_id)
local skill, moved_from = unpack(redis.call('HMGET', ck, 'skill', 'moved_from'))
metric(skill, {'offered', 1})
if moved_from and moved_from ~= '' then  -- arrived from another site (acd.interflow)
  metric(skill, {'interflow_in', 1})
  audit('moved_in', call_id, '', skill, 'new', {'from', moved_from})
else
  audit('offered', call_id, '', skill, 'new')
end
return offer(call_id)
end
"""

# agent_change. A: [7] agent id, [8] expected version, [9] event,
# [10] target state, [11] pause reason, [12] pending_logout 0/1, [13] call action
# ('' | answer | requeue | abandon | finish | callback_retry | callback_fail), [14] the
# call it concerns, [15] keep the agent's idle_since (1: back to ready without losing the
# place in line), [16] endpoint ('' = keep), [17..] skill, level pairs (replace the
# agent's skills; login).
# Replies: {'conflict', state, version} if the version moved on (nothing changed);
# {'stale', state, version} if the agent does not hold that call; else
# {{'ready', version} | {'state', state, version} | reservation, offer reply or {}}.
# A target of 'ready' is agent_ready: the agent takes the best waiting call if any.
AGENT_CHANGE = r"""
local function agent_change()
local agent = A[7]
local ak = P .. 'agent:' .. agent
local a = redis.call('HMGET', ak, 'version', 'state', 'call', 'idle_since', 'answered_at',
                     'last_skill')
local version = a[1] or '0'
local old = a[2] or 'logged_out'
if version ~= A[8] then return {'conflict', old, version} end
local event, target, reason, pending = A[9], A[10], A[11], A[12]
local action, call_id = A[13], A[14]
if action ~= '' and a[3] ~= call_id then return {'stale', old, version} end
if A[16] ~= '' then redis.call('HSET', ak, 'endpoint', A[16]) end
if #A >= 17 then
  local sk = ak .. ':skills'
  redis.call('DEL', sk)
  local levels = {}
  for i = 17, #A do levels[#levels + 1] = A[i] end
  redis.call('HSET', sk, unpack(levels))
end
local skills = skills_of(agent)
if old == 'ready' then ready_remove(agent, skills) end

local call_skill = ''
if action == 'answer' then
  local ck = P .. 'call:' .. call_id
  local c = redis.call('HMGET', ck, 'skill', 'enqueued_at')
  local wait = NOW - tonumber(c[2])
  call_skill = c[1]
  redis.call('HSET', ck, 'state', 'connected', 'answered_at', NOWS)
  redis.call('HSET', ak, 'last_call', call_id, 'last_skill', c[1], 'answered_at', NOWS)
  metric(c[1], {'answered', 1, 'answer_wait_ms', dur(wait), 'answered_in_sl',
                wait <= SL_T and 1 or 0}, 'longest_wait_ms', dur(wait))
  audit('answered', call_id, agent, c[1], 'connected')
elseif action == 'finish' then
  call_skill = end_call(call_id, 'finished')
elseif action == 'abandon' then
  call_skill = end_call(call_id, 'abandoned', 'abandoned', 'abandoned_in_sl')
elseif action == 'requeue' then
  call_skill = redis.call('HGET', P .. 'call:' .. call_id, 'skill')
  redis.call('HINCRBY', P .. 'call:' .. call_id, 'no_answer', 1)
  metric(call_skill, {'ring_no_answer', 1})
elseif action == 'callback_retry' or action == 'callback_fail' then
  -- the agent answered, the called-back caller did not: out of the queue until the retry
  -- (callback_requeue puts it back at its place), or, after the last attempt, finished
  local ck = P .. 'call:' .. call_id
  call_skill = redis.call('HGET', ck, 'skill')
  local tries = tostring(redis.call('HINCRBY', ck, 'callback_tries', 1))
  if action == 'callback_fail' then
    redis.call('HSET', ck, 'state', 'finished', 'ended_at', NOWS, 'outcome',
               'callback_failed', 'agent', '')
    redis.call('SREM', P .. 'live', call_id)
    metric(call_skill, {'callback_failed', 1})
    audit('callback_failed', call_id, agent, call_skill, 'finished', {'tries', tries})
  else
    redis.call('HSET', ck, 'state', 'called_back', 'agent', '')
    audit('callback_retry', call_id, agent, call_skill, 'called_back', {'tries', tries})
  end
end

-- handle time (talk + wrap-up) is counted when the after-call work ends
if (old == 'wrap_up' or (old == 'on_call' and target ~= 'wrap_up' and target ~= 'on_call'))
   and a[5] and a[5] ~= '' then
  metric(a[6], {'handled', 1, 'handle_ms', dur(NOW - tonumber(a[5]))})
  redis.call('HSET', ak, 'answered_at', '')
end

local result
if target == 'ready' then
  local idle = NOW
  if A[15] == '1' then idle = tonumber(a[4] or '') or NOW end
  result = agent_ready(agent, skills, idle, event, call_id, call_skill)
else
  local holds = ''
  if target == 'on_call' or target == 'reserved' then holds = a[3] or '' end
  local v = set_agent(agent, target, reason, pending, holds, event, call_id, call_skill)
  result = {'state', target, tostring(v)}
end
local offered = {}
if action == 'requeue' then offered = offer(call_id) end
return {result, offered}
end
"""

# remove_call. A[7] = call id, A[8] = why ('' = the caller hung up while queued;
# 'max_wait' = the queue's maximum wait is over; 'surge' = admission control turned the
# new caller away, every site being over the national maximum EWT), A[9] = the fallback
# given (max_wait, surge).
# Abandoned: removed from the queue and counted as abandoned. max_wait: removed, state
# finished with outcome max_wait, counted as max_wait (not abandoned: the caller did not
# hang up), audited as event max_wait. Reply {'removed'} or {state} if the call was not
# queued (ringing an agent: telephony reports CALLER_GONE; later: ignored).
REMOVE_CALL = r"""
local function remove_call()
local call_id, why = A[7], A[8] or ''
local ck = P .. 'call:' .. call_id
local c = redis.call('HMGET', ck, 'state', 'skill', 'enqueued_at', 'callback')
if c[1] ~= 'queued' then return {c[1] or 'unknown'} end
if why == '' and c[4] and c[4] ~= '' then return {'callback'} end  -- hung up on purpose
redis.call('ZREM', P .. 'queue:' .. c[2], call_id)
if why == 'max_wait' or why == 'surge' then
  local wait = NOW - tonumber(c[3])
  redis.call('HSET', ck, 'state', 'finished', 'ended_at', NOWS, 'outcome', why)
  redis.call('SREM', P .. 'live', call_id)
  metric(c[2], {why, 1}, 'longest_wait_ms', dur(wait))
  audit(why, call_id, '', c[2], 'finished',
        {'fallback', A[9] or '', 'waited', fmt(wait)})
else
  end_call(call_id, 'abandoned', 'abandoned', 'abandoned_in_sl')
end
return {'removed'}
end
"""

# callback_mark. A[7] = call id, A[8] = the number to call back (digits). Only a queued
# call (an agent ringing for it already reaches the live caller): it keeps its place, and
# its caller's hang-up is no longer an abandon (remove_call refuses it). Reply {'marked'}
# or {state}.
CALLBACK_MARK = r"""
local function callback_mark()
local call_id = A[7]
local ck = P .. 'call:' .. call_id
local c = redis.call('HMGET', ck, 'state', 'skill')
if c[1] ~= 'queued' then return {c[1] or 'unknown'} end
redis.call('HSET', ck, 'callback', A[8], 'callback_tries', '0')
metric(c[2], {'callback_accepted', 1})
audit('callback_accepted', call_id, '', c[2], 'queued')
return {'marked'}
end
"""

# callback_requeue. A[7] = call id: a callback waiting for its retry (state called_back)
# is offered again at its original place (the head, usually). Reply: offer_call's, or
# {'gone', state} if it is not waiting for a retry (another process retried it first).
CALLBACK_REQUEUE = r"""
local function callback_requeue()
local state = redis.call('HGET', P .. 'call:' .. A[7], 'state')
if state ~= 'called_back' then return {'gone', state or 'unknown'} end
return offer(A[7])
end
"""

# A[7] = agent id: the agent's whole hash, flat (a read on the decisions' path, batched
# with them, instead of one pooled connection per concurrent read).
AGENT_GET = r"""
local function agent_get() return redis.call('HGETALL', P .. 'agent:' .. A[7]) end
"""

# The round-trip floor: the same path doing nothing.
NOOP = r"""
local function noop() return 1 end
"""

# The batch: ARGV = operation name, packed arguments, operation name, packed arguments...
# Each operation runs in turn (the whole batch is one atomic script run); an operation
# that fails returns {'error', message} in its place and does not stop the others.
_DISPATCH = r"""
local OPS = {offer_call = offer_call, agent_change = agent_change,
             remove_call = remove_call, callback_mark = callback_mark,
             callback_requeue = callback_requeue, agent_get = agent_get, noop = noop,
             move_out = move_out, move_back = move_back}
local replies = {}
for i = 1, #ARGV, 2 do
  A = {}
  for v in string.gmatch(ARGV[i + 1] .. '\31', '([^\31]*)\31') do A[#A + 1] = v end
  P, SITE, MAXLEN = A[1], A[2], A[3]
  SL_T, ESC = tonumber(A[4]), tonumber(A[5])
  NOWS = A[6]
  NOW = tonumber(NOWS)
  local ok, reply = pcall(OPS[ARGV[i]])
  if ok then
    replies[#replies + 1] = reply
  else
    replies[#replies + 1] = {'error', tostring(reply)}
  end
end
return replies
"""

OPERATIONS = ("offer_call", "agent_change", "remove_call", "callback_mark", "callback_requeue",
              "agent_get", "noop", "move_out", "move_back")
SCRIPT = (_COMMON + OFFER_CALL + AGENT_CHANGE + REMOVE_CALL + CALLBACK_MARK + CALLBACK_REQUEUE
          + AGENT_GET + NOOP + MOVE_OUT + MOVE_BACK + _DISPATCH)
