-- A status APKT reported by its webhook, applied once: never for a replayed request, never
-- twice for one APKT event, never over a newer status APKT reported before.
-- KEYS[1] = the ticket's hash, KEYS[2] = the ticket stream, KEYS[3] = the request's
-- signature key, KEYS[4] = the APKT event's key (acd/store/keys.py TicketKeys).
-- ARGV = status, APKT's time, our time, stream maxlen, number, signature TTL, event TTL.
-- Reply: 'replay', 'duplicate', 'unknown', 'stale' or 'applied'.
if redis.call('SET', KEYS[3], '1', 'NX', 'EX', ARGV[6]) == false then
  return 'replay'
end
if redis.call('EXISTS', KEYS[4]) == 1 then
  return 'duplicate'
end
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 'unknown'
end
local last = redis.call('HGET', KEYS[1], 'apkt_at')
if last and tonumber(ARGV[2]) < tonumber(last) then
  redis.call('SET', KEYS[4], '1', 'EX', ARGV[7])
  return 'stale'
end
redis.call('HSET', KEYS[1], 'status', ARGV[1], 'status_at', ARGV[2], 'apkt_at', ARGV[2],
           'updated_at', ARGV[3])
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[4], '*',
           'event', 'status', 'number', ARGV[5], 'status', ARGV[1], 'at', ARGV[3],
           'source', 'apkt', 'apkt_at', ARGV[2])
redis.call('SET', KEYS[4], '1', 'EX', ARGV[7])
return 'applied'
