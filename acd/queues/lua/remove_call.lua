-- remove_call. A[7] = call id, A[8] = why ('' = the caller hung up while queued;
-- 'max_wait' = the queue's maximum wait is over; 'surge' = admission control turned the
-- new caller away, every site being over the national maximum EWT), A[9] = the fallback
-- given (max_wait, surge).
-- Abandoned: removed from the queue and counted as abandoned. max_wait: removed, state
-- finished with outcome max_wait, counted as max_wait (not abandoned: the caller did not
-- hang up), audited as event max_wait. Reply {'removed'} or {state} if the call was not
-- queued (ringing an agent: telephony reports CALLER_GONE; later: ignored).
local function remove_call()
local call_id, why = A[7], A[8] or ''
local ck = P .. CALL .. call_id
local c = redis.call('HMGET', ck, 'state', 'skill', 'enqueued_at', 'callback')
if c[1] ~= 'queued' then return {c[1] or 'unknown'} end
if why == '' and c[4] and c[4] ~= '' then return {'callback'} end  -- hung up on purpose
redis.call('ZREM', P .. QUEUE .. c[2], call_id)
if why == 'max_wait' or why == 'surge' then
  local wait = NOW - tonumber(c[3])
  redis.call('HSET', ck, 'state', 'finished', 'ended_at', NOWS, 'outcome', why)
  redis.call('SREM', P .. LIVE, call_id)
  metric(c[2], {why, 1}, 'longest_wait_ms', dur(wait))
  audit(why, call_id, '', c[2], 'finished',
        {'fallback', A[9] or '', 'waited', fmt(wait)})
else
  end_call(call_id, 'abandoned', 'abandoned', 'abandoned_in_sl')
end
return {'removed'}
end
