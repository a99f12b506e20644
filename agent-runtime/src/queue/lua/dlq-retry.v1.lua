--[[
  dlq-retry.v1 — move dead-lettered tasks back to ready with a fresh delivery count, at the back
  of their priority band.

  KEYS[1..8]  ready, leases, delayed, dead, marker, task key prefix, seq, claim record prefix
              (see includes/common.lua)
  ARGV[1]     limit: with no ids, the oldest `limit` dead tasks
  ARGV[2..]   ids (optional)

  Returns n: how many tasks went back to ready (ids not in the dead set are skipped).
]]
-- @include common

local ids = deadTargets()
local retried = 0
for _, id in ipairs(ids) do
  if redis.call("ZREM", KEYS[4], id) == 1 then
    redis.call("HSET", taskKey(id), "status", "queued", "deliveries", 0)
    toReady(id, nil)
    retried = retried + 1
  end
end
if retried > 0 then
  wake()
end
return retried
