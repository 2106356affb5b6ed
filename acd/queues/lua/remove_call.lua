-- remove_call. A[9] = call id, A[10] = why ('' = the caller hung up while queued;
-- 'max_wait' = the queue's maximum wait is over; 'surge' = admission control turned the
-- new caller away, the pool's expected wait being over the national maximum), A[11] =
-- the fallback given (max_wait, surge).
-- Abandoned: removed from the queue and counted as abandoned. max_wait: removed, state
-- finished with outcome max_wait, counted as max_wait (not abandoned: the caller did not
-- hang up), audited as event max_wait. An abandoned caller's place is kept for the
-- resume window under their number's digits and the skill (offer_call takes it back).
-- Reply {'removed'} or {state} if the call was not queued (ringing an agent: telephony
-- reports CALLER_GONE; later: ignored).
local function remove_call()
local call_id, why = A[9], A[10] or ''
local ck = P .. CALL .. call_id
local c = redis.call('HMGET', ck, 'state', 'skill', 'enqueued_at', 'callback', 'priority',
                     'caller_number')
if c[1] ~= 'queued' then return {c[1] or 'unknown'} end
if why == '' and c[4] and c[4] ~= '' then return {'callback'} end  -- hung up on purpose
redis.call('ZREM', P .. QUEUE .. c[2], call_id)
if why == 'max_wait' or why == 'surge' then
  local wait = NOW - tonumber(c[3])
  redis.call('HSET', ck, 'state', 'finished', 'ended_at', NOWS, 'outcome', why)
  redis.call('SREM', P .. LIVE, call_id)
  retire(ck)
  metric(P, c[2], {why, 1}, 'longest_wait_ms', dur(wait))
  audit(P, SITE, why, call_id, '', c[2], 'finished',
        {'fallback', A[11] or '', 'waited', fmt(wait)})
else
  end_call(P, SITE, call_id, 'abandoned', 'abandoned', 'abandoned_in_sl')
  local key = resume_key(P, c[2], c[6])
  if key then
    redis.call('SET', key, table.concat({c[5], c[3], fmt(NOW + RESUME_S), call_id}, ' '),
               'PX', math.max(1, math.floor(RESUME_S * 1000 + 0.5)))
  end
end
return {'removed'}
end
