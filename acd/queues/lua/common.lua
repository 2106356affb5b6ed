-- The ACD's batch script, part 1: the state every operation shares and the helpers.
--
-- The key layout and the numbers below come from acd/store/keys.py: acd/queues/lua.py
-- writes them in (as Lua literals) once, when it loads the script, so they are written
-- down in one place only. The site's key prefix arrives with each operation.
local CALL, LIVE, QUEUE, READY, TIER = ${CALL}, ${LIVE}, ${QUEUE}, ${READY}, ${TIER}
local AGENT, SKILLS, AGENTS, AUDIT = ${AGENT}, ${SKILLS}, ${AGENTS}, ${AUDIT}
local INTERVAL, MINUTE, PART = ${INTERVAL}, ${MINUTE}, ${PART}
local INTERVAL_S, MINUTE_S = ${INTERVAL_S}, ${MINUTE_S}
local INTERVAL_KEEP_S, MINUTE_KEEP_S = ${INTERVAL_KEEP_S}, ${MINUTE_KEEP_S}
local SCORE_SCALE, TOP_LEVEL = ${SCORE_SCALE}, ${TOP_LEVEL}

-- Set for each operation from its packed arguments (see dispatch.lua):
-- A the arguments, P the site's key prefix, SITE its name, MAXLEN the audit stream's
-- approximate MAXLEN, SL_T the service level T (s), ESC the escalation time (s), NOWS and
-- NOW the injected clock's now (epoch s, ms precision) as text and as a number.
local A, P, SITE, MAXLEN, SL_T, ESC, NOWS, NOW

local function ms(t) return string.format('%.0f', math.floor(t * 1000 + 0.5)) end
local function fmt(x) return string.format('%.3f', x) end

local function audit(event, call, agent, skill, state, extra)
  local f = {'event', event, 'site', SITE, 'call', call or '', 'agent', agent or '',
             'skill', skill or '', 'state', state or '', 'at', NOWS}
  if extra then for i = 1, #extra do f[#f + 1] = extra[i] end end
  redis.call('XADD', P .. AUDIT, 'MAXLEN', '~', MAXLEN, '*', unpack(f))
end

-- counters per interval (kept INTERVAL_KEEP_S) and per minute (kept MINUTE_KEEP_S);
-- durations in integer milliseconds (HINCRBY is cheaper than HINCRBYFLOAT)
local function metric(skill, kv, maxname, maxvalue)
  local iv = string.format('%.0f', math.floor(NOW / INTERVAL_S) * INTERVAL_S)
  local mn = string.format('%.0f', math.floor(NOW / MINUTE_S) * MINUTE_S)
  local k1 = P .. INTERVAL .. skill .. PART .. iv
  local k2 = P .. MINUTE .. skill .. PART .. mn
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
  redis.call('EXPIRE', k1, INTERVAL_KEEP_S)
  redis.call('EXPIRE', k2, MINUTE_KEEP_S)
end

local function dur(seconds) return math.floor(seconds * 1000 + 0.5) end

local function skills_of(agent)
  return redis.call('HGETALL', P .. AGENT .. agent .. SKILLS)
end

local function ready_remove(agent, skills)
  for i = 1, #skills, 2 do
    redis.call('ZREM', P .. READY .. skills[i], agent)
    redis.call('ZREM', P .. TIER .. skills[i], agent)
  end
end

-- the ready set's score is the idle time; the tier set's is keys.tier_score
local function ready_add(agent, skills, idle)
  local idle_ms = math.floor(idle * 1000 + 0.5)
  for i = 1, #skills, 2 do
    local level = tonumber(skills[i + 1])
    redis.call('ZADD', P .. READY .. skills[i], string.format('%.0f', idle_ms), agent)
    redis.call('ZADD', P .. TIER .. skills[i],
               string.format('%.0f', (TOP_LEVEL - level) * SCORE_SCALE + idle_ms), agent)
  end
end

-- the agent's new state; returns the new version
local function set_agent(agent, state, reason, pending, call, event, call_id, skill)
  local k = P .. AGENT .. agent
  redis.call('HSET', k, 'state', state, 'reason', reason, 'pending_logout', pending,
             'call', call, 'since', NOWS)
  local v = redis.call('HINCRBY', k, 'version', 1)
  redis.call('HSET', P .. AGENTS, agent, state)
  audit(event, call_id, agent, skill, state, {'reason', reason})
  return v
end

-- the reservation reply: {'reserved', call_id, agent_id, agent_version, endpoint, channel,
-- caller_number, skill, callback number ('' for a live caller)}
local function reserve(agent, call_id, skill, was_ready)
  local ck = P .. CALL .. call_id
  if was_ready then ready_remove(agent, skills_of(agent)) end
  redis.call('HSET', ck, 'state', 'reserved', 'agent', agent, 'reserved_at', NOWS)
  local v = set_agent(agent, 'reserved', '', '0', call_id, 'reserve', call_id, skill)
  local c = redis.call('HMGET', ck, 'channel', 'caller_number', 'callback')
  local endpoint = redis.call('HGET', P .. AGENT .. agent, 'endpoint') or ''
  return {'reserved', call_id, agent, tostring(v), endpoint, c[1] or '', c[2] or '', skill,
          c[3] or ''}
end

-- keys.queue_score
local function qscore(priority, enqueued)
  return string.format('%.0f', priority * SCORE_SCALE + math.floor(enqueued * 1000 + 0.5))
end

-- offer_call's decision: the right ready agent, or a place in the queue.
-- Reply: a reservation, or {'queued', call_id, position, skill}.
local function offer(call_id)
  local ck = P .. CALL .. call_id
  local c = redis.call('HMGET', ck, 'skill', 'priority', 'enqueued_at')
  local skill, priority, enqueued = c[1], tonumber(c[2]), tonumber(c[3])
  local found
  if NOW - enqueued >= ESC then
    found = redis.call('ZRANGE', P .. TIER .. skill, 0, 0)   -- most skilled, then idle
  else
    found = redis.call('ZRANGE', P .. READY .. skill, 0, 0)  -- longest idle
  end
  if found[1] then return reserve(found[1], call_id, skill, true) end
  local q = P .. QUEUE .. skill
  redis.call('ZADD', q, qscore(priority, enqueued), call_id)
  redis.call('HSET', ck, 'state', 'queued', 'agent', '')
  audit('queued', call_id, '', skill, 'queued')
  return {'queued', call_id, tostring(redis.call('ZRANK', q, call_id) + 1), skill}
end

-- agent_ready's decision: the best waiting call across the agent's skills, or the ready sets
local function agent_ready(agent, skills, idle, event, call_id, skill)
  local best, best_score, best_skill
  for i = 1, #skills, 2 do
    local head = redis.call('ZRANGE', P .. QUEUE .. skills[i], 0, 0, 'WITHSCORES')
    if head[1] and (best == nil or tonumber(head[2]) < best_score) then
      best, best_score, best_skill = head[1], tonumber(head[2]), skills[i]
    end
  end
  if best then
    redis.call('ZREM', P .. QUEUE .. best_skill, best)
    return reserve(agent, best, best_skill, false)
  end
  local v = set_agent(agent, 'ready', '', '0', '', event, call_id, skill)
  redis.call('HSET', P .. AGENT .. agent, 'idle_since', fmt(idle))
  ready_add(agent, skills, idle)
  return {'ready', tostring(v)}
end

local function end_call(call_id, state, metric_name, in_sl_name)
  local ck = P .. CALL .. call_id
  local c = redis.call('HMGET', ck, 'skill', 'enqueued_at', 'agent')
  redis.call('HSET', ck, 'state', state, 'ended_at', NOWS)
  redis.call('SREM', P .. LIVE, call_id)
  if metric_name then
    local wait = NOW - tonumber(c[2])
    metric(c[1], {metric_name, 1, in_sl_name, wait <= SL_T and 1 or 0},
           'longest_wait_ms', dur(wait))
  end
  audit(state, call_id, c[3], c[1], state)
  return c[1]
end
