-- audit_append: an entry the process made itself (the IVR's path of a call), appended to
-- the site's audit stream in the batch of the ACD's own changes rather than a round trip
-- of its own. A[9], A[10], ...: its fields and values, in order.
local function audit_append()
  local f = {}
  for i = 9, #A do f[#f + 1] = A[i] end
  redis.call('XADD', P .. AUDIT, 'MAXLEN', '~', MAXLEN, '*', unpack(f))
  return 1
end
