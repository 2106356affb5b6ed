-- A slot on one trunk (an ordered pair of sites) for a moved call, counted and taken in
-- one step so that two processes cannot both take the last slot.
-- KEYS[1] = the trunk's sorted set (acd/store/keys.py trunk_key); ARGV: [1] the trunk's
-- limit of concurrent calls, [2] call id, [3] now (epoch s), [4] the stale time: entries
-- older than it were left by a process that died and are dropped first.
-- Reply 1 (the call holds a slot, maybe from an earlier try) or 0 (the trunk is full).
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[4])
if redis.call('ZSCORE', KEYS[1], ARGV[2]) then return 1 end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[2])
return 1
