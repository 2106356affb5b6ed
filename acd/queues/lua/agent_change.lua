-- agent_change. A: [9] agent id, [10] the agent's site ('' = this process's), [11] expected
-- version, [12] event, [13] target state, [14] pause reason, [15] pending_logout 0/1,
-- [16] call action ('' | answer | requeue | trunk_failed | abandon | finish |
-- callback_retry | callback_fail), [17] the call it concerns, [18] keep the agent's
-- idle_since (1: back to ready without losing the place in line), [19] endpoint ('' =
-- keep), [20..] skill, level pairs (replace the agent's skills; login).
-- The call is the agent's site's own or, for a lent agent, another site's of the pool (the
-- agent's record says which): the call's counters and story are its own site's, the
-- agent's handle time and state their site's.
-- Replies: {'conflict', state, version} if the version moved on (nothing changed);
-- {'stale', state, version} if the agent does not hold that call; else
-- {{'ready', version} | {'state', state, version[, reason if paused after the call on
-- the desktop's request]} | reservation, offer reply or {}}.
-- A target of 'ready' is agent_ready: the agent takes the best waiting call if any.
-- requeue (the agent did not answer) and trunk_failed (the remote agent's trunk call
-- failed: the agent goes back to ready keeping their place, the call is not offered to
-- that site again) put the call back at its place and offer it again.
local function agent_change()
local agent = A[9]
local asite = A[10] ~= '' and A[10] or SITE
local ap = SP(asite)
local ak = ap .. AGENT .. agent
local a = redis.call('HMGET', ak, 'version', 'state', 'call', 'idle_since', 'answered_at',
                     'last_skill', 'call_site')
local version = a[1] or '0'
local old = a[2] or 'logged_out'
if version ~= A[11] then return {'conflict', old, version} end
local event, target, reason, pending = A[12], A[13], A[14], A[15]
local action, call_id = A[16], A[17]
if action ~= '' and a[3] ~= call_id then return {'stale', old, version} end
-- "pause after this call", asked from the agent's desktop (its key at the agent's site):
-- carried out here, as the call (or its ring) lets the agent go, so no call can reach them
-- first, whichever process follows the call; the request is taken in any case
local asked = ''
if event == 'call_end' or event == 'caller_gone_while_ringing' or event == 'trunk_failed'
   or event == 'ring_no_answer' then
  local dk = ap .. DESKTOP .. agent
  local wanted = redis.call('HGET', dk, 'pause_after')
  if wanted then
    redis.call('HDEL', dk, 'pause_after', 'at')
    if target == 'wrap_up' or target == 'ready' then
      target, reason, asked = 'paused', wanted, wanted
    end
  end
end
local csite = (a[7] and a[7] ~= '') and a[7] or asite
local cp = SP(csite)
if A[19] ~= '' then redis.call('HSET', ak, 'endpoint', A[19]) end
if #A >= 20 then
  local sk = ak .. SKILLS
  redis.call('DEL', sk)
  local levels = {}
  for i = 20, #A do levels[#levels + 1] = A[i] end
  redis.call('HSET', sk, unpack(levels))
end
local skills = skills_of(ap, agent)
if old == 'ready' then ready_remove(ap, agent, skills) end

local call_skill = ''
if action == 'answer' then
  local ck = cp .. CALL .. call_id
  local c = redis.call('HMGET', ck, 'skill', 'enqueued_at')
  local wait = NOW - tonumber(c[2])
  call_skill = c[1]
  redis.call('HSET', ck, 'state', 'connected', 'answered_at', NOWS)
  redis.call('HSET', ak, 'last_call', call_id, 'last_skill', c[1], 'answered_at', NOWS)
  metric(cp, c[1], {'answered', 1, 'answer_wait_ms', dur(wait), 'answered_in_sl',
                    wait <= SL_T and 1 or 0}, 'longest_wait_ms', dur(wait))
  if asite ~= csite then  -- a loan: counted at both ends, and for the auto reserve
    metric(cp, c[1], {'pooled_in', 1})
    metric(ap, c[1], {'pooled_out', 1})
    redis.call('ZADD', ap .. LOANS, NOW, call_id)
    redis.call('ZADD', cp .. TAKEN, NOW, call_id)
    redis.call('ZREMRANGEBYSCORE', ap .. LOANS, '-inf', fmt(NOW - NET_KEEP_S))
    redis.call('ZREMRANGEBYSCORE', cp .. TAKEN, '-inf', fmt(NOW - NET_KEEP_S))
    -- nothing older counts: a site that stops lending loses the sets with their members
    redis.call('EXPIRE', ap .. LOANS, NET_KEEP_S)
    redis.call('EXPIRE', cp .. TAKEN, NET_KEEP_S)
  end
  audit(cp, csite, 'answered', call_id, agent, c[1], 'connected',
        {'agent_site', asite, 'wait_ms', string.format('%.0f', dur(wait)),
         'in_sl', wait <= SL_T and '1' or '0'})
elseif action == 'finish' then
  call_skill = end_call(cp, csite, call_id, 'finished')
elseif action == 'abandon' then
  call_skill = end_call(cp, csite, call_id, 'abandoned', 'abandoned', 'abandoned_in_sl')
elseif action == 'requeue' or action == 'trunk_failed' then
  local ck = cp .. CALL .. call_id
  call_skill = redis.call('HGET', ck, 'skill')
  unlend(asite, agent, csite, call_id)
  if action == 'requeue' then
    redis.call('HINCRBY', ck, 'no_answer', 1)
    metric(cp, call_skill, {'ring_no_answer', 1})
  else
    local refused = redis.call('HGET', ck, 'refused') or ''
    redis.call('HSET', ck, 'refused', refused == '' and asite or refused .. ',' .. asite)
    metric(cp, call_skill, {'pool_trunk_failed', 1})
    audit(cp, csite, 'trunk_failed', call_id, agent, call_skill, 'queued',
          {'agent_site', asite})
  end
elseif action == 'callback_retry' or action == 'callback_fail' then
  -- the agent answered, the called-back caller did not: out of the queue until the retry
  -- (callback_requeue puts it back at its place), or, after the last attempt, finished
  local ck = cp .. CALL .. call_id
  call_skill = redis.call('HGET', ck, 'skill')
  unlend(asite, agent, csite, call_id)
  local tries = tostring(redis.call('HINCRBY', ck, 'callback_tries', 1))
  if action == 'callback_fail' then
    redis.call('HSET', ck, 'state', 'finished', 'ended_at', NOWS, 'outcome',
               'callback_failed', 'agent', '', 'agent_site', '')
    redis.call('SREM', cp .. LIVE, call_id)
    retire(ck)
    metric(cp, call_skill, {'callback_failed', 1})
    audit(cp, csite, 'callback_failed', call_id, agent, call_skill, 'finished',
          {'tries', tries})
  else
    redis.call('HSET', ck, 'state', 'called_back', 'agent', '', 'agent_site', '')
    audit(cp, csite, 'callback_retry', call_id, agent, call_skill, 'called_back',
          {'tries', tries})
  end
end

-- handle time (talk + wrap-up) is counted when the after-call work ends
if (old == 'wrap_up' or (old == 'on_call' and target ~= 'wrap_up' and target ~= 'on_call'))
   and a[5] and a[5] ~= '' then
  metric(ap, a[6], {'handled', 1, 'handle_ms', dur(NOW - tonumber(a[5]))})
  redis.call('HSET', ak, 'answered_at', '')
end

-- the requeued call goes back first, so that it is waiting again before this agent (or
-- anybody) looks for a call; the agent's own event follows
local offered = {}
if action == 'requeue' or action == 'trunk_failed' then
  local site, prefix = SITE, P
  SITE, P = csite, cp
  redis.call('HSET', cp .. CALL .. call_id, 'state', 'new', 'agent', '', 'agent_site', '')
  offered = offer(call_id)
  SITE, P = site, prefix
end
local result
if target == 'ready' then
  local idle = NOW
  if A[18] == '1' then idle = tonumber(a[4] or '') or NOW end
  result = agent_ready(asite, agent, skills, idle, event, call_id, call_skill)
else
  local holds, holds_site = '', ''
  if target == 'on_call' or target == 'reserved' then holds, holds_site = a[3] or '', csite end
  local v = set_agent(asite, agent, target, reason, pending, holds, holds_site, event,
                      call_id, call_skill)
  result = {'state', target, tostring(v)}
  if asked ~= '' then result[4] = asked end  -- paused on request: the reason
end
return {result, offered}
end
