-- Moving a call between sites (acd/interflow). A move is two-step, because the two sites'
-- keys are in different Cluster slots: the home site takes the call out of its queue here
-- (move_out, atomic with the counters and the audit trail), pln123 writes the call's
-- context where the receiving site can read it (acd/interflow/moves.py), and the receiving
-- site offers it into its own queue (offer_call with `moved_from`). If the trunk call
-- fails the caller comes back: move_back puts the call at its old place at home (the
-- place its enqueue time and priority give it).

-- move_out. A[7] = call id, A[8] = target site. Only a queued call moves (an agent ringing
-- for it wins). Reply {'moved', field, value, ...} (the call's whole record) or {state}.
local function move_out()
local call_id, target = A[7], A[8]
local ck = P .. CALL .. call_id
local c = redis.call('HMGET', ck, 'state', 'skill')
if c[1] ~= 'queued' then return {c[1] or 'unknown'} end
redis.call('ZREM', P .. QUEUE .. c[2], call_id)
redis.call('HSET', ck, 'state', 'moved', 'moved_to', target, 'moved_at', NOWS)
redis.call('SREM', P .. LIVE, call_id)
metric(c[2], {'interflow_out', 1})
audit('moved_out', call_id, '', c[2], 'moved', {'to', target})
local reply = {'moved'}
local record = redis.call('HGETALL', ck)
for i = 1, #record do reply[#reply + 1] = record[i] end
return reply
end

-- move_back. A[7] = call id, A[8] = the caller's channel now. The trunk call to the target
-- failed and the caller is back: the target is remembered as refused (not tried again for
-- this call), the move is uncounted, and the call is offered again at its place.
-- Reply: offer_call's, or {state} if the call was not moving.
local function move_back()
local call_id = A[7]
local ck = P .. CALL .. call_id
local c = redis.call('HMGET', ck, 'state', 'skill', 'moved_to', 'refused')
if c[1] ~= 'moved' then return {c[1] or 'unknown'} end
local refused = c[4] or ''
if refused ~= '' then refused = refused .. ',' end
redis.call('HSET', ck, 'moved_to', '', 'refused', refused .. (c[3] or ''),
           'channel', A[8])
redis.call('SADD', P .. LIVE, call_id)
metric(c[2], {'interflow_out', -1, 'interflow_failed', 1})
audit('move_failed', call_id, '', c[2], 'queued', {'to', c[3] or ''})
return offer(call_id)
end
