-- reserve_tick. A[9] = this site's skills, comma-separated. The auto reserve's r_sl steps
-- at most once per POOL.auto.every seconds, whichever of the site's processes asks first:
-- up (to POOL.auto.most) while the site's own callers' service level over the live window
-- is under sl_low with at least min_answered answered, down (to 0) while it is at least
-- sl_high or too few were answered to judge. The loans and taken sets are trimmed.
-- Reply {'stepped', r, answered, answered_in_sl} or {'kept', r}.
local function reserve_tick()
local key = P .. RSL
local r = redis.call('HMGET', key, 'r', 'at')
local value = tonumber(r[1] or '0')
if r[2] and NOW - tonumber(r[2]) < POOL.auto.every - 0.5 then
  return {'kept', tostring(value)}
end
local answered, in_sl = 0, 0
local last = math.floor(NOW / MINUTE_S) * MINUTE_S
for _, skill in ipairs(split(A[9], ',')) do
  for i = 0, LIVE_WINDOW_S / MINUTE_S - 1 do
    local start = string.format('%.0f', last - i * MINUTE_S)
    local c = redis.call('HMGET', P .. MINUTE .. skill .. PART .. start, 'answered',
                         'answered_in_sl')
    answered = answered + tonumber(c[1] or '0')
    in_sl = in_sl + tonumber(c[2] or '0')
  end
end
local auto = POOL.auto
if answered >= auto.min_answered and in_sl / answered < auto.sl_low then
  value = math.min(auto.most, value + 1)
elseif answered < auto.min_answered or in_sl / answered >= auto.sl_high then
  value = math.max(0, value - 1)
end
redis.call('HSET', key, 'r', tostring(value), 'at', NOWS)
redis.call('ZREMRANGEBYSCORE', P .. LOANS, '-inf', fmt(NOW - NET_KEEP_S))
redis.call('ZREMRANGEBYSCORE', P .. TAKEN, '-inf', fmt(NOW - NET_KEEP_S))
return {'stepped', tostring(value), tostring(answered), tostring(in_sl)}
end

-- lend_spare. A[9] = this site's skills, comma-separated. This site's ready agents beyond
-- its reserve (it may have just fallen, or lending was switched back on) take the best
-- waiting calls of the pool's other sites, as each would on becoming ready, at most
-- A[10] of them. The reservations are the calls' sites' to ring (ring requests).
-- Reply: the reservations made.
local function lend_spare()
local made, lent, most = {}, 0, tonumber(A[10])
for _, skill in ipairs(split(A[9], ',')) do
  while lent < most and may_lend(SITE, skill, 0) do
    local best, best_score, best_site
    for _, s in ipairs(POOL.members) do
      if s ~= SITE and redis.call('EXISTS', SP(s) .. ALIVE) == 1 and trunk_room(s, SITE) then
        local call, score = takeable(s, skill, SITE)
        if call and (best == nil or score < best_score) then
          best, best_score, best_site = call, score, s
        end
      end
    end
    local agent = redis.call('ZRANGE', P .. READY .. skill, 0, 0)[1]
    if best == nil or agent == nil then break end
    redis.call('ZREM', SP(best_site) .. QUEUE .. skill, best)
    made[#made + 1] = reserve(SITE, agent, best_site, best, skill, true)
    lent = lent + 1
  end
end
return made
end

-- release_lent. A[9] = the lease (s). This site's agents reserved for another site's call
-- longer than the lease, while that site's pln123 is not running (nobody there rings
-- them): the call goes back to its place at its site, the agent back to ready keeping
-- their place in line (they may take a waiting call at once). Reply: the reservations
-- that made.
local function release_lent()
local made = {}
for _, agent in ipairs(redis.call('SMEMBERS', P .. LENT)) do
  local ak = P .. AGENT .. agent
  local a = redis.call('HMGET', ak, 'state', 'call', 'call_site', 'idle_since')
  local csite = a[3] or ''
  if a[1] == 'reserved' and csite ~= '' and csite ~= SITE
     and redis.call('EXISTS', SP(csite) .. ALIVE) == 0 then
    local ck = SP(csite) .. CALL .. a[2]
    local reserved_at = tonumber(redis.call('HGET', ck, 'reserved_at') or '0')
    if NOW - reserved_at > tonumber(A[9]) then
      unlend(SITE, agent, csite, a[2])
      local c = redis.call('HMGET', ck, 'skill', 'priority', 'enqueued_at')
      redis.call('ZADD', SP(csite) .. QUEUE .. c[1], qscore(tonumber(c[2]), tonumber(c[3])),
                 a[2])
      redis.call('HSET', ck, 'state', 'queued', 'agent', '', 'agent_site', '')
      audit(SP(csite), csite, 'lease_expired', a[2], agent, c[1], 'queued',
            {'agent_site', SITE})
      local reply = agent_ready(SITE, agent, skills_of(P, agent),
                                tonumber(a[4] or '') or NOW, 'lease_expired', a[2], c[1])
      if reply[1] == 'reserved' then made[#made + 1] = reply end
    end
  end
end
return made
end
