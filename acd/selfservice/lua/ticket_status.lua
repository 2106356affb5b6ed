-- A ticket's new status, and its event on the stream, only if the ticket exists.
-- KEYS[1] = the ticket's hash, KEYS[2] = the stream (acd/store/keys.py TicketKeys);
-- ARGV = status, time, stream maxlen, number. Reply 1 if the ticket exists, else 0.
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
redis.call('HSET', KEYS[1], 'status', ARGV[1], 'status_at', ARGV[2], 'updated_at', ARGV[2])
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*',
           'event', 'status', 'number', ARGV[4], 'status', ARGV[1], 'at', ARGV[2])
return 1
