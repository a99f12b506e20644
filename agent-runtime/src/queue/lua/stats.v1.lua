--[[
  stats.v1 — one consistent snapshot of an agent's queue, for metrics and the router.

  KEYS[1..8]  ready, leases, delayed, dead, marker, task key prefix, seq, claim record prefix
              (see includes/common.lua)
  (no ARGV)

  Returns {readyP0, readyP1, readyP2, readyP3, inFlight, delayed, dead, oldestEnqueuedAtMs}
    oldestEnqueuedAtMs: the earliest enqueue time among the first ready task of each priority
    band (-1 when nothing is ready).
]]
-- @include common

local reply = {}
local oldest = -1
for priority = 0, 3 do
  local low = string.format("%.0f", priority * PRIORITY_BAND)
  local high = "(" .. string.format("%.0f", (priority + 1) * PRIORITY_BAND)
  reply[#reply + 1] = redis.call("ZCOUNT", KEYS[1], low, high)
  if reply[#reply] > 0 then
    local head = redis.call("ZRANGEBYSCORE", KEYS[1], low, high, "LIMIT", 0, 1)
    local at = payloadNumber(redis.call("HGET", taskKey(head[1]), "payload"), "enqueuedAt")
    if at and (oldest < 0 or at < oldest) then
      oldest = at
    end
  end
end
reply[#reply + 1] = redis.call("ZCARD", KEYS[2])
reply[#reply + 1] = redis.call("ZCARD", KEYS[3])
reply[#reply + 1] = redis.call("ZCARD", KEYS[4])
reply[#reply + 1] = oldest
return reply
