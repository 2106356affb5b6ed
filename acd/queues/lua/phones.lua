-- phone_change. A[9] = agent id (of this site), A[10] = the state of the agent's phone as
-- telephony sees it now: available | busy | unregistered.
-- Kept with the agent (field `phone`, whatever their state, so a login finds it) and,
-- while it is not available, in the site's phones hash (the figures and the dashboard).
-- A ready agent whose phone stops being available leaves the ready and tier sets: no
-- caller is offered to them and no reserve or figure counts them ready, yet they stay
-- ready (agent_ready keeps them out of the sets while the phone is down). When the phone
-- is available again they are back in line at the place they had (idle_since) and take
-- a waiting call at once if there is one, as agent_ready does. An agent in any other
-- state (their own ACD call makes the phone busy) only has the field updated.
-- Reply {'same'} (nothing changed), {'phone', state}, or for a ready agent whose phone
-- came back agent_ready's reply ({'ready', version} or a reservation).
local function phone_change()
local agent, phone = A[9], A[10]
local ak = P .. AGENT .. agent
local a = redis.call('HMGET', ak, 'phone', 'state', 'idle_since')
local old = a[1] or 'available'
if old == phone then return {'same'} end
redis.call('HSET', ak, 'phone', phone)
if phone == 'available' then
  redis.call('HDEL', P .. PHONES, agent)
else
  redis.call('HSET', P .. PHONES, agent, phone)
end
audit(P, SITE, 'phone', '', agent, '', a[2] or 'logged_out', {'phone', phone, 'was', old})
if a[2] ~= 'ready' then return {'phone', phone} end
if phone ~= 'available' then
  if old == 'available' then ready_remove(P, agent, skills_of(P, agent)) end
  return {'phone', phone}
end
return agent_ready(SITE, agent, skills_of(P, agent), tonumber(a[3] or '') or NOW, 'phone',
                   '', '')
end
