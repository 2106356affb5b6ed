-- agent_change. A: [7] agent id, [8] expected version, [9] event,
-- [10] target state, [11] pause reason, [12] pending_logout 0/1, [13] call action
-- ('' | answer | requeue | abandon | finish | callback_retry | callback_fail), [14] the
-- call it concerns, [15] keep the agent's idle_since (1: back to ready without losing the
-- place in line), [16] endpoint ('' = keep), [17..] skill, level pairs (replace the
-- agent's skills; login).
-- Replies: {'conflict', state, version} if the version moved on (nothing changed);
-- {'stale', state, version} if the agent does not hold that call; else
-- {{'ready', version} | {'state', state, version} | reservation, offer reply or {}}.
-- A target of 'ready' is agent_ready: the agent takes the best waiting call if any.
local function agent_change()
local agent = A[7]
local ak = P .. AGENT .. agent
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
  local sk = ak .. SKILLS
  redis.call('DEL', sk)
  local levels = {}
  for i = 17, #A do levels[#levels + 1] = A[i] end
  redis.call('HSET', sk, unpack(levels))
end
local skills = skills_of(agent)
if old == 'ready' then ready_remove(agent, skills) end

local call_skill = ''
if action == 'answer' then
  local ck = P .. CALL .. call_id
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
  call_skill = redis.call('HGET', P .. CALL .. call_id, 'skill')
  redis.call('HINCRBY', P .. CALL .. call_id, 'no_answer', 1)
  metric(call_skill, {'ring_no_answer', 1})
elseif action == 'callback_retry' or action == 'callback_fail' then
  -- the agent answered, the called-back caller did not: out of the queue until the retry
  -- (callback_requeue puts it back at its place), or, after the last attempt, finished
  local ck = P .. CALL .. call_id
  call_skill = redis.call('HGET', ck, 'skill')
  local tries = tostring(redis.call('HINCRBY', ck, 'callback_tries', 1))
  if action == 'callback_fail' then
    redis.call('HSET', ck, 'state', 'finished', 'ended_at', NOWS, 'outcome',
               'callback_failed', 'agent', '')
    redis.call('SREM', P .. LIVE, call_id)
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
