-- The ACD's batch script, part 1: the state every operation shares and the helpers.
--
-- The key layout and the numbers below come from acd/store/keys.py: acd/queues/lua.py
-- writes them in (as Lua literals) once, when it loads the script, so they are written
-- down in one place only. The pool's key prefix arrives with each operation.
local CALL, LIVE, QUEUE, READY, TIER = ${CALL}, ${LIVE}, ${QUEUE}, ${READY}, ${TIER}
local AGENT, SKILLS, AGENTS, AUDIT = ${AGENT}, ${SKILLS}, ${AGENTS}, ${AUDIT}
local INTERVAL, MINUTE, PART = ${INTERVAL}, ${MINUTE}, ${PART}
local LENDING, LOANS, TAKEN, IDLE_AT, RSL = ${LENDING}, ${LOANS}, ${TAKEN}, ${IDLE_AT}, ${RSL}
local LENT, BORROWED, TRUNK, ALIVE, RINGS = ${LENT}, ${BORROWED}, ${TRUNK}, ${ALIVE}, ${RINGS}
local RESUME, PHONES, DESKTOP = ${RESUME}, ${PHONES}, ${DESKTOP}
local INTERVAL_S, MINUTE_S = ${INTERVAL_S}, ${MINUTE_S}
local INTERVAL_KEEP_S, MINUTE_KEEP_S = ${INTERVAL_KEEP_S}, ${MINUTE_KEEP_S}
local LIVE_WINDOW_S, NET_KEEP_S, RINGS_MAXLEN = ${LIVE_WINDOW_S}, ${NET_KEEP_S}, ${RINGS_MAXLEN}
local SCORE_SCALE, TOP_LEVEL, AUTO = ${SCORE_SCALE}, ${TOP_LEVEL}, ${AUTO}

-- Set for each operation from its packed arguments (see dispatch.lua):
-- A the arguments, PP the pool's key prefix (keys.pool_prefix), ORIGIN the site of the process
-- that runs the operation, SITE the site an operation works for (ORIGIN's, unless it
-- offers another site's call again) and P its key prefix, MAXLEN the audit stream's approximate
-- MAXLEN, SL_T the service level T (s), ESC the escalation time (s), RESUME_S the
-- abandon-resume window (s; 0: off), ENDED_S how long an ended call's record lives (s;
-- the longest window that still reads it, acd.settings.AcdSettings.ended_call_ttl_s), NOWS
-- and NOW the
-- injected clock's now (epoch s, ms precision) as text and as a number, POOL the pool's
-- rules (parse_pool below).
local A, PP, P, ORIGIN, SITE, MAXLEN, SL_T, ESC, RESUME_S, ENDED_S, NOWS, NOW, POOL

local function SP(site) return PP .. site .. PART end
local function ms(t) return string.format('%.0f', math.floor(t * 1000 + 0.5)) end
local function fmt(x) return string.format('%.3f', x) end
local function dur(seconds) return math.floor(seconds * 1000 + 0.5) end

local function split(text, sep)
  local out = {}
  if text == nil or text == '' then return out end
  for part in string.gmatch(text, '([^' .. sep .. ']+)') do out[#out + 1] = part end
  return out
end

-- The pool's rules, the same text from every process of the pool (acd/queues/store.py):
--   <site>=<candidate>|<candidate>...;...   whose ready agents a caller of <site> is offered
--   # <default reserve>;<site>:<skill>=<reserve>;<site>:=<reserve>;...   (auto or a number)
--   # <default trunk limit>;<home>><lender>=<limit>;...
--   # <every_s>,<sl_low>,<sl_high>,<min_answered>,<most>,<net_window_s>   (the auto reserve)
--   # 1 or 0: ring requests go through the call's site's stream (0: one process runs every
--             site and hands reservations over itself, as the simulator does)
-- Parsed once per batch and pool (a batch may carry several pools' operations).
-- `name=value` as name, value (the value may hold `=`)
local function pair(text)
  local at = string.find(text, '=', 1, true)
  return string.sub(text, 1, at - 1), string.sub(text, at + 1)
end

local PARSED = {}  -- rules text -> parsed, for this batch (it may mix pools)
local function parse_pool(text)
  local known = PARSED[text]
  if known then
    POOL = known
    return
  end
  local parts = split(text, '#')
  local pool = {cands = {}, members = {}, reserve = {}, trunk = {}}
  for _, entry in ipairs(split(parts[1], ';')) do
    local site, list = pair(entry)
    pool.cands[site] = split(list, '|')
    pool.members[#pool.members + 1] = site
  end
  local reserves = split(parts[2], ';')
  pool.default = reserves[1] or AUTO
  for i = 2, #reserves do
    local name, value = pair(reserves[i])
    pool.reserve[name] = value
  end
  local trunks = split(parts[3], ';')
  pool.trunk_default = tonumber(trunks[1] or '0')
  for i = 2, #trunks do
    local pairs_of, value = pair(trunks[i])
    pool.trunk[pairs_of] = tonumber(value)
  end
  local auto = split(parts[4], ',')
  pool.auto = {every = tonumber(auto[1]), sl_low = tonumber(auto[2]),
               sl_high = tonumber(auto[3]), min_answered = tonumber(auto[4]),
               most = tonumber(auto[5]), window = tonumber(auto[6])}
  pool.rings = parts[5] ~= '0'
  PARSED[text] = pool
  POOL = pool
end

local function audit(sp, site, event, call, agent, skill, state, extra)
  local f = {'event', event, 'site', site, 'call', call or '', 'agent', agent or '',
             'skill', skill or '', 'state', state or '', 'at', NOWS}
  if extra then for i = 1, #extra do f[#f + 1] = extra[i] end end
  redis.call('XADD', sp .. AUDIT, 'MAXLEN', '~', MAXLEN, '*', unpack(f))
end

-- counters of site prefix `sp` per interval (kept INTERVAL_KEEP_S) and per minute (kept
-- MINUTE_KEEP_S); durations in integer milliseconds (HINCRBY is cheaper than HINCRBYFLOAT)
local function metric(sp, skill, kv, maxname, maxvalue)
  local iv = string.format('%.0f', math.floor(NOW / INTERVAL_S) * INTERVAL_S)
  local mn = string.format('%.0f', math.floor(NOW / MINUTE_S) * MINUTE_S)
  local k1 = sp .. INTERVAL .. skill .. PART .. iv
  local k2 = sp .. MINUTE .. skill .. PART .. mn
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

local function skills_of(ap, agent)
  return redis.call('HGETALL', ap .. AGENT .. agent .. SKILLS)
end

local function ready_remove(ap, agent, skills)
  for i = 1, #skills, 2 do
    redis.call('ZREM', ap .. READY .. skills[i], agent)
    redis.call('ZREM', ap .. TIER .. skills[i], agent)
  end
end

-- the ready set's score is the idle time; the tier set's is keys.tier_score
local function ready_add(ap, agent, skills, idle)
  local idle_ms = math.floor(idle * 1000 + 0.5)
  for i = 1, #skills, 2 do
    local level = tonumber(skills[i + 1])
    redis.call('ZADD', ap .. READY .. skills[i], string.format('%.0f', idle_ms), agent)
    redis.call('ZADD', ap .. TIER .. skills[i],
               string.format('%.0f', (TOP_LEVEL - level) * SCORE_SCALE + idle_ms), agent)
  end
end

-- the agent's new state (agent of site `asite`, holding call `call` of site `call_site`);
-- returns the new version
local function set_agent(asite, agent, state, reason, pending, call, call_site, event,
                         call_id, skill)
  local ap = SP(asite)
  local k = ap .. AGENT .. agent
  redis.call('HSET', k, 'state', state, 'reason', reason, 'pending_logout', pending,
             'call', call, 'call_site', call_site, 'since', NOWS)
  local v = redis.call('HINCRBY', k, 'version', 1)
  redis.call('HSET', ap .. AGENTS, agent, state)
  audit(ap, asite, event, call_id, agent, skill, state, {'reason', reason, 'subject', 'agent'})
  return v
end

-- The reservation of agent `agent` of site `asite` for call `call_id` of site `csite`.
-- Reply: {'reserved', call_id, agent_id, agent_version, endpoint, channel, caller_number,
-- skill, callback number ('' for a live caller), agent's site, call's site, region, idpel}.
-- Only the call's site holds the caller, so only its processes ring: a reservation made
-- by another site's process (its agent became ready) is also added to the call's site's
-- ring requests, and the process that made it leaves it to them.
local function reserve(asite, agent, csite, call_id, skill, was_ready)
  local ap, cp = SP(asite), SP(csite)
  local ck = cp .. CALL .. call_id
  if was_ready then ready_remove(ap, agent, skills_of(ap, agent)) end
  redis.call('HSET', ck, 'state', 'reserved', 'agent', agent, 'agent_site', asite,
             'reserved_at', NOWS)
  local v = set_agent(asite, agent, 'reserved', '', '0', call_id, csite, 'reserve', call_id,
                      skill)
  if asite ~= csite then
    redis.call('SADD', ap .. LENT, agent)
    redis.call('SADD', cp .. BORROWED, call_id)
    redis.call('ZADD', cp .. TRUNK .. asite, NOW, call_id)
    audit(cp, csite, 'pooled', call_id, agent, skill, 'reserved', {'agent_site', asite})
  end
  local c = redis.call('HMGET', ck, 'channel', 'caller_number', 'callback', 'region', 'idpel')
  local endpoint = redis.call('HGET', ap .. AGENT .. agent, 'endpoint') or ''
  local reply = {'reserved', call_id, agent, tostring(v), endpoint, c[1] or '', c[2] or '',
                 skill, c[3] or '', asite, csite, c[4] or '', c[5] or ''}
  if csite ~= ORIGIN and POOL.rings then
    redis.call('XADD', cp .. RINGS, 'MAXLEN', '~', RINGS_MAXLEN, '*', 'call', call_id,
               'agent', agent, 'agent_site', asite, 'version', tostring(v))
  end
  return reply
end

-- The caller number's digits (at most 32): what an abandoned place is kept under, so
-- "+62 711-555" and "62711555" are one caller; "" for a withheld number (never kept).
local function digits_of(number)
  local digits = string.gsub(number or '', '%D', '')
  return string.sub(digits, 1, 32)
end

local function resume_key(sp, skill, number)
  local digits = digits_of(number)
  if digits == '' or RESUME_S <= 0 then return nil end
  return sp .. RESUME .. skill .. PART .. digits
end

-- keys.queue_score
local function qscore(priority, enqueued)
  return string.format('%.0f', priority * SCORE_SCALE + math.floor(enqueued * 1000 + 0.5))
end

-- The ready agents site `x` keeps for its own callers of `skill`; nil: it lends nobody.
-- The dashboard's overrides first (lending off, a fixed reserve), then the config's: a
-- number, or auto = min(r_net, r_sl) (acd.settings.AutoReserve says why).
local function reserve_of(x, skill)
  local xp = SP(x)
  local lending = redis.call('HMGET', xp .. LENDING, 'off', 'reserve' .. PART .. skill,
                             'reserve')
  if lending[1] == '1' then return nil end
  local fixed = lending[2] or lending[3]
  if fixed then return tonumber(fixed) end
  local spec = POOL.reserve[x .. PART .. skill] or POOL.reserve[x .. PART] or POOL.default
  if spec ~= AUTO then return tonumber(spec) end
  local since = math.max(NOW - POOL.auto.window,
                         tonumber(redis.call('GET', xp .. IDLE_AT) or '0'))
  local loans = redis.call('ZCOUNT', xp .. LOANS, fmt(since), '+inf')
  local taken = redis.call('ZCOUNT', xp .. TAKEN, fmt(since), '+inf')
  local r_net = math.floor(math.max(0, loans - taken) / 2)
  local r_sl = tonumber(redis.call('HGET', xp .. RSL, 'r') or '0')
  return math.min(r_net, r_sl)
end

-- May site `x` lend a ready agent for `skill` now? Its ready agents for the skill, with
-- `extra` more (an agent becoming ready is not in the set yet), must exceed its reserve.
local function may_lend(x, skill, extra)
  local r = reserve_of(x, skill)
  if r == nil then return false end
  return redis.call('ZCARD', SP(x) .. READY .. skill) + extra > r
end

-- Room on the trunk from `home` (the caller's site) to `lender` (the agent's)?
local function trunk_room(home, lender)
  local limit = POOL.trunk[home .. '>' .. lender] or POOL.trunk_default
  return redis.call('ZCARD', SP(home) .. TRUNK .. lender) < limit
end

local function refused_by(call_fields_refused, site)
  return string.find(',' .. (call_fields_refused or '') .. ',', ',' .. site .. ',', 1,
                     true) ~= nil
end

-- The first of the next few waiting calls of `skill` at site `s` that `lender` may take (a
-- call whose trunk call to `lender` failed is not offered there again): id, score.
local LOOK_AHEAD = 5
local function takeable(s, skill, lender)
  local sp = SP(s)
  local head = redis.call('ZRANGE', sp .. QUEUE .. skill, 0, LOOK_AHEAD - 1, 'WITHSCORES')
  for i = 1, #head, 2 do
    if not refused_by(redis.call('HGET', sp .. CALL .. head[i], 'refused'), lender) then
      return head[i], tonumber(head[i + 1])
    end
  end
  return nil, nil
end

-- The decision for a call of this site (SITE) that needs an agent: a ready agent of this
-- site with the skill (longest idle; the most skilled first once the caller has waited
-- ESC), else a ready agent of the pool's other sites in this site's order whose site may
-- lend (longest idle), else a place in the queue.
-- Reply: a reservation, or {'queued', call_id, position, skill, enqueued_at}.
local function offer(call_id)
  local ck = P .. CALL .. call_id
  local c = redis.call('HMGET', ck, 'skill', 'priority', 'enqueued_at', 'refused')
  local skill, priority, enqueued = c[1], tonumber(c[2]), tonumber(c[3])
  local found
  if NOW - enqueued >= ESC then
    found = redis.call('ZRANGE', P .. TIER .. skill, 0, 0)   -- most skilled, then idle
  else
    found = redis.call('ZRANGE', P .. READY .. skill, 0, 0)  -- longest idle
  end
  if found[1] then return reserve(SITE, found[1], SITE, call_id, skill, true) end
  for _, x in ipairs(POOL.cands[SITE] or {}) do
    if not refused_by(c[4], x) and trunk_room(SITE, x) and may_lend(x, skill, 0) then
      local lent = redis.call('ZRANGE', SP(x) .. READY .. skill, 0, 0)
      if lent[1] then return reserve(x, lent[1], SITE, call_id, skill, true) end
    end
  end
  local q = P .. QUEUE .. skill
  redis.call('ZADD', q, qscore(priority, enqueued), call_id)
  redis.call('HSET', ck, 'state', 'queued', 'agent', '', 'agent_site', '')
  audit(P, SITE, 'queued', call_id, '', skill, 'queued')
  return {'queued', call_id, tostring(redis.call('ZRANK', q, call_id) + 1), skill, c[3]}
end

-- An agent of site `asite` becomes free: the best waiting call of the agent's own site
-- across the agent's skills (priority, then the longest wait); if none, the best waiting
-- call of the pool's other sites (priority, then the longest wait) whose site's pln123
-- runs and whose trunk has room, if `asite` may lend for that skill; else the ready sets.
-- A free agent who finds nobody waiting anywhere notes the moment (the auto reserve's
-- net-loans window starts there).
local function agent_ready(asite, agent, skills, idle, event, call_id, skill)
  local ap = SP(asite)
  local phone = redis.call('HGET', ap .. AGENT .. agent, 'phone')
  if phone and phone ~= 'available' then
    -- ready, but their phone cannot take a call (unregistered, or busy with another):
    -- out of the ready sets until it can (phone_change puts them back in their place)
    local v = set_agent(asite, agent, 'ready', '', '0', '', '', event, call_id, skill)
    redis.call('HSET', ap .. AGENT .. agent, 'idle_since', fmt(idle))
    return {'ready', tostring(v)}
  end
  local best, best_score, best_skill
  for i = 1, #skills, 2 do
    local head = redis.call('ZRANGE', ap .. QUEUE .. skills[i], 0, 0, 'WITHSCORES')
    if head[1] and (best == nil or tonumber(head[2]) < best_score) then
      best, best_score, best_skill = head[1], tonumber(head[2]), skills[i]
    end
  end
  if best then
    redis.call('ZREM', ap .. QUEUE .. best_skill, best)
    return reserve(asite, agent, asite, best, best_skill, false)
  end
  local waiting, best_site = false, nil
  for _, s in ipairs(POOL.members) do
    if s ~= asite then
      local sp = SP(s)
      local open = redis.call('EXISTS', sp .. ALIVE) == 1 and trunk_room(s, asite)
      for i = 1, #skills, 2 do
        if redis.call('ZCARD', sp .. QUEUE .. skills[i]) > 0 then
          waiting = true
          if open then
            local call, score = takeable(s, skills[i], asite)
            if call and (best == nil or score < best_score)
               and may_lend(asite, skills[i], 1) then
              best, best_score, best_skill, best_site = call, score, skills[i], s
            end
          end
        end
      end
    end
  end
  if best then
    redis.call('ZREM', SP(best_site) .. QUEUE .. best_skill, best)
    return reserve(asite, agent, best_site, best, best_skill, false)
  end
  if not waiting then redis.call('SET', ap .. IDLE_AT, NOWS) end
  local v = set_agent(asite, agent, 'ready', '', '0', '', '', event, call_id, skill)
  redis.call('HSET', ap .. AGENT .. agent, 'idle_since', fmt(idle))
  ready_add(ap, agent, skills, idle)
  return {'ready', tostring(v)}
end

-- A call that was lent (its site `csite`, the agent's `asite`) is no longer with the agent.
local function unlend(asite, agent, csite, call_id)
  if asite ~= '' and asite ~= csite then
    redis.call('SREM', SP(asite) .. LENT, agent)
    redis.call('SREM', SP(csite) .. BORROWED, call_id)
    redis.call('ZREM', SP(csite) .. TRUNK .. asite, call_id)
  end
end

-- An ended call (out of `live`, its queue and the pooling sets) is never written again:
-- its record expires after ENDED_S, in the script that ends it. Every path that ends a
-- call calls this (end_call, remove_call's max_wait and surge, agent_change's
-- callback_fail).
local function retire(ck)
  redis.call('PEXPIRE', ck, math.max(1000, math.floor(ENDED_S * 1000 + 0.5)))
end

local function end_call(cp, csite, call_id, state, metric_name, in_sl_name)
  local ck = cp .. CALL .. call_id
  local c = redis.call('HMGET', ck, 'skill', 'enqueued_at', 'agent', 'agent_site')
  redis.call('HSET', ck, 'state', state, 'ended_at', NOWS)
  redis.call('SREM', cp .. LIVE, call_id)
  retire(ck)
  unlend(c[4] or '', c[3] or '', csite, call_id)
  local extra = {'agent_site', c[4] or ''}
  if metric_name then
    local wait = NOW - tonumber(c[2])
    metric(cp, c[1], {metric_name, 1, in_sl_name, wait <= SL_T and 1 or 0},
           'longest_wait_ms', dur(wait))
    -- what the counters were given, so the call history adds up to the same figures
    extra = {'agent_site', c[4] or '', 'wait_ms', string.format('%.0f', dur(wait)),
             'in_sl', wait <= SL_T and '1' or '0'}
  end
  audit(cp, csite, state, call_id, c[3], c[1], state, extra)
  return c[1]
end
