-- The batch: KEYS[1] = a key of the pool (only for Cluster routing: every key the
-- operations touch carries the pool's hash tag, so it is in that key's slot).
-- ARGV[1] = the operations, joined by the record separator \30; each is its name and its
-- packed arguments joined by the unit separator \31 (one argument for the whole batch:
-- redis-py's cost grows with the number of arguments, not with their length).
--
-- Packed arguments: every value joined by the unit separator \31 (values never contain
-- it, nor \30; acd/queues/store.py checks), split into A: [1] the pool's key prefix, [2] the site
-- of the process, [3] audit stream MAXLEN (approximate), [4] service level T (s),
-- [5] escalation time (s), [6] the abandon-resume window (s; 0: off) and how long an
-- ended call's record lives (s), comma-separated, [7] now (epoch s,
-- ms precision, from the injected clock), [8] the pool's rules (parse_pool in
-- common.lua). An operation's own arguments start at A[9] (see the comment above each
-- operation).
--
-- Each operation runs in turn (the whole batch is one atomic script run); an operation
-- that fails returns {'error', message} in its place and does not stop the others. The
-- reply is the list of the operations' replies, in order.
local OPS = {offer_call = offer_call, agent_change = agent_change,
             remove_call = remove_call, callback_mark = callback_mark,
             callback_requeue = callback_requeue, callback_channel = callback_channel,
             agent_get = agent_get, noop = noop,
             call_get = call_get, live_get = live_get,
             reserve_tick = reserve_tick, lend_spare = lend_spare,
             release_lent = release_lent, phone_change = phone_change,
             audit_append = audit_append}
local replies = {}
for operation in string.gmatch(ARGV[1] .. '\30', '([^\30]*)\30') do
  local at = string.find(operation, '\31', 1, true)
  local name = string.sub(operation, 1, at - 1)
  A = {}
  for v in string.gmatch(string.sub(operation, at + 1) .. '\31', '([^\31]*)\31') do
    A[#A + 1] = v
  end
  PP, ORIGIN, MAXLEN = A[1], A[2], A[3]
  SITE, P = ORIGIN, PP .. ORIGIN .. PART
  SL_T, ESC = tonumber(A[4]), tonumber(A[5])
  local windows = split(A[6], ',')
  RESUME_S, ENDED_S = tonumber(windows[1]), tonumber(windows[2])
  NOWS = A[7]
  NOW = tonumber(NOWS)
  parse_pool(A[8])
  local ok, reply = pcall(OPS[name])
  if ok then
    replies[#replies + 1] = reply
  else
    replies[#replies + 1] = {'error', tostring(reply)}
  end
end
return replies
