-- offer_call. A[9] = call id, A[10..] = field, value pairs of the record.
-- A call id seen before is not offered again (a retried enqueue after a lost reply): the
-- reply is {'duplicate', call_id, state, agent} or, if it waits, its 'queued' reply.
-- A caller who abandoned this skill's queue within the resume window and redials from the
-- same number takes their place back (the kept place is consumed, so two redials racing
-- cannot both have it): the old enqueue time, the better of the two priorities, and
-- `resumed_from` naming the abandoned call. The resumed call is a new call, offered and
-- counted again; the abandoned one stays counted abandoned.
-- Otherwise offer's reply: a reservation or {'queued', call_id, position, skill}.
local function offer_call()
local call_id = A[9]
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
for i = 9 + 1, #A do record[#record + 1] = A[i] end  -- the pairs after A[9]
redis.call('HSET', ck, 'state', 'new', 'enqueued_at', NOWS, 'agent', '', unpack(record))
redis.call('SADD', P .. LIVE, call_id)
local c = redis.call('HMGET', ck, 'skill', 'caller_number', 'priority')
local skill, resumed = c[1], ''
local key = resume_key(P, skill, c[2])
if key then
  local kept = redis.call('GETDEL', key)
  if kept then
    local priority, enqueued, until_s, from = unpack(split(kept, ' '))
    if from and NOW <= tonumber(until_s) then
      resumed = from
      redis.call('HSET', ck, 'enqueued_at', enqueued, 'resumed_from', from, 'priority',
                 tostring(math.min(tonumber(priority), tonumber(c[3]))))
    end
  end
end
metric(P, skill, {'offered', 1})
-- the caller as the call history keeps them (the call hash itself expires)
local d = redis.call('HMGET', ck, 'enqueued_at', 'entered_at', 'priority', 'region',
                     'area_code', 'language', 'uniqueid', 'idpel')
audit(P, SITE, 'offered', call_id, '', skill, 'new',
      {'resumed_from', resumed, 'caller_number', c[2] or '', 'enqueued_at', d[1] or '',
       'entered_at', d[2] or '', 'priority', d[3] or '', 'region', d[4] or '',
       'area_code', d[5] or '', 'language', d[6] or '', 'uniqueid', d[7] or '',
       'idpel', d[8] or ''})
return offer(call_id)
end
