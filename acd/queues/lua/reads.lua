-- agent_get. A[9] = agent id, A[10] = the agent's site ('' = this process's): the agent's
-- whole hash, flat (a read on the decisions' path, batched with them, instead of one
-- pooled connection per concurrent read).
local function agent_get()
  return redis.call('HGETALL', SP(A[10] ~= '' and A[10] or SITE) .. AGENT .. A[9])
end

-- call_get. A[9] = call id: the call's whole hash, flat, and its place in its queue (1 =
-- next; 0 unless it is queued), read together so that the place matches the state (what a
-- waiting caller is told at each announcement, in one round trip batched with the
-- decisions). Reply {fields, place}; {{}, 0} for a call not known.
local function call_get()
  local ck = P .. CALL .. A[9]
  local flat = redis.call('HGETALL', ck)
  local place = 0
  local c = redis.call('HMGET', ck, 'state', 'skill')
  if c[1] == 'queued' then
    local rank = redis.call('ZRANK', P .. QUEUE .. c[2], A[9])
    if rank then place = rank + 1 end
  end
  return {flat, place}
end

-- live_get. A[9] = skills, comma-separated; A[10] = for each skill in that order, the
-- starts (epoch s) of the minutes whose counters to read, comma-separated, the lists
-- joined by ';' (a list may be empty: those minutes are closed and known already). The
-- material of the live figures (acd/queues/metrics.py), read at one moment on the
-- decisions' batched path. Reply: per skill {{minute hash, flat, ...} in the order asked,
-- the calls waiting, the oldest waiting call's enqueue time (epoch ms; -1: none)}, then
-- the site's agents' states, flat, then the site's phones that are not available (agent
-- id -> phone state), flat.
local function live_get()
  local lists, reply = {}, {}
  for part in string.gmatch(A[10] .. ';', '([^;]*);') do lists[#lists + 1] = part end
  for i, skill in ipairs(split(A[9], ',')) do
    local minutes = {}
    for _, start in ipairs(split(lists[i], ',')) do
      minutes[#minutes + 1] = redis.call('HGETALL', P .. MINUTE .. skill .. PART .. start)
    end
    local entries = redis.call('ZRANGE', P .. QUEUE .. skill, 0, -1, 'WITHSCORES')
    local oldest = -1
    for j = 2, #entries, 2 do
      local at = tonumber(entries[j]) % SCORE_SCALE
      if oldest < 0 or at < oldest then oldest = at end
    end
    reply[#reply + 1] = {minutes, #entries / 2, string.format('%.0f', oldest)}
  end
  reply[#reply + 1] = redis.call('HGETALL', P .. AGENTS)
  reply[#reply + 1] = redis.call('HGETALL', P .. PHONES)
  return reply
end

-- noop: the round-trip floor, the same path doing nothing. Reply 1.
local function noop() return 1 end
