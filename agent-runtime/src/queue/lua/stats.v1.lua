--[[
  stats.v1 — one consistent snapshot of an agent's queue, for metrics and the router.

  KEYS[1..8]  ready, leases, delayed, dead, marker, task key prefix, seq, claim record prefix
              (see includes/common.lua)
  (no ARGV)

  Returns {readyP0, readyP1, readyP2, readyP3, inFlight, delayed, dead, oldestEnqueuedAtMs,
           oldestP0Ms, oldestP1Ms, oldestP2Ms, oldestP3Ms}
    oldestPnMs: the enqueue time of band n's head (the band's next task to be claimed), -1 when
    the band has nothing ready.
    oldestEnqueuedAtMs: the earliest of the four (-1 when nothing is ready).
  The per-band times were appended after the first eight, so a caller that reads only those
  eight (an older router) is unaffected.
]]
-- @include common

local reply = {}
local bands = {}
local oldest = -1
for priority = 0, 3 do
  local low = string.format("%.0f", priority * PRIORITY_BAND)
  local high = "(" .. string.format("%.0f", (priority + 1) * PRIORITY_BAND)
  reply[#reply + 1] = redis.call("ZCOUNT", KEYS[1], low, high)
  local at = -1
  if reply[#reply] > 0 then
    local head = redis.call("ZRANGEBYSCORE", KEYS[1], low, high, "LIMIT", 0, 1)
    at = payloadNumber(redis.call("HGET", taskKey(head[1]), "payload"), "enqueuedAt") or -1
    if at >= 0 and (oldest < 0 or at < oldest) then
      oldest = at
    end
  end
  bands[#bands + 1] = at
end
reply[#reply + 1] = redis.call("ZCARD", KEYS[2])
reply[#reply + 1] = redis.call("ZCARD", KEYS[3])
reply[#reply + 1] = redis.call("ZCARD", KEYS[4])
reply[#reply + 1] = oldest
for _, at in ipairs(bands) do
  reply[#reply + 1] = at
end
return reply
