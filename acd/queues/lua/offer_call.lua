-- offer_call. A[7] = call id, A[8..] = field, value pairs of the record.
-- A call id seen before is not offered again (a retried enqueue after a lost reply): the
-- reply is {'duplicate', call_id, state, agent} or, if it waits, its 'queued' reply.
-- Otherwise offer's reply: a reservation or {'queued', call_id, position, skill}.
local function offer_call()
local call_id = A[7]
local ck = P .. CALL .. call_id
local seen = redis.call('HMGET', ck, 'state', 'skill', 'agent')
if seen[1] then
  if seen[1] == 'queued' then
    local q = P .. QUEUE .. seen[2]
    return {'queued', call_id, tostring(redis.call('ZRANK', q, call_id) + 1), seen[2]}
  end
  return {'duplicate', call_id, seen[1], seen[3] or ''}
end
local record = {}
for i = 8, #A do record[#record + 1] = A[i] end
redis.call('HSET', ck, 'state', 'new', 'enqueued_at', NOWS, 'agent', '', unpack(record))
redis.call('SADD', P .. LIVE, call_id)
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
