-- agent_get. A[9] = agent id, A[10] = the agent's site ('' = this process's): the agent's
-- whole hash, flat (a read on the decisions' path, batched with them, instead of one
-- pooled connection per concurrent read).
local function agent_get()
  return redis.call('HGETALL', SP(A[10] ~= '' and A[10] or SITE) .. AGENT .. A[9])
end

-- noop: the round-trip floor, the same path doing nothing. Reply 1.
local function noop() return 1 end
