-- Posting an outage notice: a new id and the notice in one step.
-- KEYS[1] = the board's sequence, KEYS[2] = the board (acd/store/keys.py OutageKeys);
-- ARGV[1] = the outage's JSON. Reply: the new id, "o-<n>".
local n = redis.call('INCR', KEYS[1])
local id = 'o-' .. n
redis.call('HSET', KEYS[2], id, ARGV[1])
return id
