-- callback_mark. A[9] = call id, A[10] = the number to call back (digits). Only a queued
-- call (an agent ringing for it already reaches the live caller): it keeps its place, and
-- its caller's hang-up is no longer an abandon (remove_call refuses it). Reply {'marked'}
-- or {state}.
local function callback_mark()
local call_id = A[9]
local ck = P .. CALL .. call_id
local c = redis.call('HMGET', ck, 'state', 'skill')
if c[1] ~= 'queued' then return {c[1] or 'unknown'} end
redis.call('HSET', ck, 'callback', A[10], 'callback_tries', '0')
metric(P, c[2], {'callback_accepted', 1})
audit(P, SITE, 'callback_accepted', call_id, '', c[2], 'queued', {'callback', A[10]})
return {'marked'}
end

-- callback_requeue. A[9] = call id: a callback waiting for its retry (state called_back)
-- is offered again at its original place (the head, usually). Reply: offer_call's, or
-- {'gone', state} if it is not waiting for a retry (another process retried it first).
local function callback_requeue()
local state = redis.call('HGET', P .. CALL .. A[9], 'state')
if state ~= 'called_back' then return {'gone', state or 'unknown'} end
return offer(A[9])
end

-- callback_channel. A[9] = call id, A[10] = the caller's channel now: a callback dialled
-- them anew, and a restarted process must follow that channel, not the one that hung up
-- when the callback was taken. Only a call still known: a late write must not bring back
-- an expired record, without its TTL. Reply 1 (0: the call is gone).
local function callback_channel()
local ck = P .. CALL .. A[9]
if redis.call('EXISTS', ck) == 0 then return 0 end
redis.call('HSET', ck, 'channel', A[10])
return 1
end
