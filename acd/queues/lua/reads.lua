-- agent_get. A[7] = agent id: the agent's whole hash, flat (a read on the decisions' path,
-- batched with them, instead of one pooled connection per concurrent read).
local function agent_get() return redis.call('HGETALL', P .. AGENT .. A[7]) end

-- noop: the round-trip floor, the same path doing nothing. Reply 1.
local function noop() return 1 end
